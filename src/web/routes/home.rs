use actix_web::{HttpResponse, web};
use askama::Template;

use crate::web::pages::{Layout, page, render};
use crate::web::{AppError, AppState, MaybeSignedIn};

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    layout: Layout,
    name: Option<String>,
}

page!(HomePage);

/// GET /: the landing page; says whether you are signed in.
pub async fn home(
    MaybeSignedIn(session): MaybeSignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let layout = Layout::new(&state, session.as_ref());
    let name = layout.user.as_ref().map(|user| user.name.clone());
    render(&HomePage { layout, name })
}
