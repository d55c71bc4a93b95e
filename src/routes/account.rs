use actix_web::{HttpResponse, web};
use askama::Template;

use crate::auth::{SignedIn, profile, refresh};
use crate::error::AppError;
use crate::pages::{Layout, render};
use crate::startup::AppState;

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

/// GET /account: the user's profile (ID token and userInfo) and the session's details.
pub async fn account(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let session = refresh::fresh(&state, session).await?;
    let profile = profile::user_info(&state, &session).await?;
    let user = &session.user;
    let page = AccountPage {
        layout: Layout::new(&state, Some(&session)),
        username: user.username.clone(),
        email: user.email.clone().unwrap_or_else(|| "(none)".into()),
        sub: user.sub.clone(),
        groups: if user.groups.is_empty() {
            "(none)".into()
        } else {
            user.groups.join(", ")
        },
        profile: profile
            .iter()
            .map(|(key, value)| (key.clone(), display(value)))
            .collect(),
        signed_in_at: crate::pages::timestamp(session.signed_in_at),
        access_expires_at: crate::pages::timestamp(session.access_expires_at),
        last_refresh_at: session
            .last_refresh_at
            .map(crate::pages::timestamp)
            .unwrap_or_else(|| "never".into()),
        refresh_count: session.refresh_count,
    };
    render(&page, true)
}

fn display(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
