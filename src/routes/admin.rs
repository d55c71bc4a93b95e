use actix_web::{HttpResponse, web};
use askama::Template;

use crate::auth::SignedIn;
use crate::auth::refresh::{self, RefreshError};
use crate::error::AppError;
use crate::pages::{Layout, render};
use crate::startup::AppState;

#[derive(Template)]
#[template(path = "admin.html")]
pub struct AdminPage {
    layout: Layout,
    username: String,
}

/// GET /admin: only for members of the Cognito group `admins`.
pub async fn admin(
    SignedIn(session): SignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    // Group membership comes from the ID token; refresh it when stale. If the IdP is down, the
    // groups from the last good token still decide, and the page says so.
    let (session, notice) = match refresh::fresh(&state, session.clone()).await {
        Ok(fresh) => (fresh, None),
        Err(RefreshError::Unreachable(_)) => (session, Some(IDP_NOTICE)),
        Err(other) => return Err(other.into()),
    };
    if !session.user.is_admin() {
        return Err(AppError::Forbidden);
    }
    let mut layout = Layout::new(&state, Some(&session));
    if let Some(notice) = notice {
        layout = layout.with_notice(notice);
    }
    render(
        &AdminPage {
            layout,
            username: session.user.username.clone(),
        },
        true,
    )
}

const IDP_NOTICE: &str = "The identity provider could not be reached, so this page uses your groups as of your last sign-in or refresh.";
