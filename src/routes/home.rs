use actix_web::{HttpResponse, web};
use askama::Template;

use crate::auth::MaybeSignedIn;
use crate::error::AppError;
use crate::pages::{Layout, render};
use crate::startup::AppState;

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    layout: Layout,
    name: Option<String>,
}

/// GET /: the landing page; says whether you are signed in.
pub async fn home(
    MaybeSignedIn(session): MaybeSignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let layout = Layout::new(&state, session.as_ref());
    let name = layout.user.as_ref().map(|user| user.name.clone());
    render(&HomePage { layout, name }, session.is_some())
}
