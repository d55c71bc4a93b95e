use std::borrow::Cow;

use actix_web::{HttpResponse, web};
use askama::Template;

use crate::auth::profile;
use crate::web::pages::{Layout, list, page, render, timestamp};
use crate::web::{AppError, AppState, Fresh};

/// Borrows from the session and the cached profile: this page is viewed often, and copying each
/// field for one render was a good part of its cost (see BENCHMARKS.md).
#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    layout: Layout,
    username: &'a str,
    email: &'a str,
    sub: &'a str,
    groups: String,
    profile: Vec<(&'a str, Cow<'a, str>)>,
    signed_in_at: String,
    access_expires_at: String,
    last_refresh_at: String,
    refresh_count: i64,
}

page!(AccountPage<'_>);

/// GET /account: the user's profile (ID token and userInfo) and the session's details.
pub async fn account(
    Fresh(session): Fresh,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let profile = profile::user_info(&state.idp, &state.sessions, &session).await?;
    let user = &session.user;
    render(&AccountPage {
        layout: Layout::new(&state, Some(&session)),
        username: &user.username,
        email: user.email.as_deref().unwrap_or("(none)"),
        sub: &user.sub,
        groups: list(&user.groups),
        profile: profile
            .iter()
            .map(|(key, value)| (key.as_str(), display(value)))
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

fn display(value: &serde_json::Value) -> Cow<'_, str> {
    match value {
        serde_json::Value::String(text) => Cow::Borrowed(text),
        other => Cow::Owned(other.to_string()),
    }
}
