use actix_web::{HttpResponse, web};
use askama::Template;

use crate::web::pages::{Layout, page, render};
use crate::web::{Admin, AppError, AppState};

#[derive(Template)]
#[template(path = "admin.html")]
pub struct AdminPage {
    layout: Layout,
    username: String,
}

page!(AdminPage);

/// GET /admin: only for members of the Cognito group `admins`.
pub async fn admin(admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let mut layout = Layout::new(&state, Some(&admin.session));
    if let Some(notice) = admin.notice {
        layout = layout.with_notice(notice);
    }
    render(&AdminPage {
        layout,
        username: admin.session.user.username.clone(),
    })
}
