use actix_web::{HttpResponse, web};
use askama::Template;

use crate::auth::profile;
use crate::web::pages::{Layout, list, page, render, timestamp};
use crate::web::{AppError, AppState, Fresh};

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    layout: Layout,
    username: String,
    email: String,
    sub: String,
    groups: String,
    profile: Vec<(String, String)>,
    signed_in_at: String,
    access_expires_at: String,
    last_refresh_at: String,
    refresh_count: i64,
}

page!(AccountPage);

/// GET /account: the user's profile (ID token and userInfo) and the session's details.
pub async fn account(
    Fresh(session): Fresh,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let profile = profile::user_info(&state.idp, &state.sessions, &session).await?;
    let user = &session.user;
    render(&AccountPage {
        layout: Layout::new(&state, Some(&session)),
        username: user.username.clone(),
        email: user.email.clone().unwrap_or_else(|| "(none)".into()),
        sub: user.sub.clone(),
        groups: list(&user.groups),
        profile: profile
            .iter()
            .map(|(key, value)| (key.clone(), display(value)))
            .collect(),
        signed_in_at: timestamp(session.signed_in_at),
        access_expires_at: timestamp(session.access_expires_at),
        last_refresh_at: session
            .last_refresh_at
            .map(timestamp)
            .unwrap_or_else(|| "never".into()),
        refresh_count: session.refresh_count,
    })
}

fn display(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
