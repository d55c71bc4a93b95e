//! The user's attributes from Cognito's userInfo endpoint, fetched once per access token: a page
//! view that needs them costs an IdP call only after sign-in and after each refresh.

use std::sync::Arc;

use crate::auth::Session;
use crate::auth::cache::Profile;
use crate::auth::idp::UserInfoError;
use crate::error::AppError;
use crate::startup::AppState;

/// userInfo for `session`, whose access token must be fresh (see `auth::refresh::fresh`).
pub async fn user_info(state: &AppState, session: &Session) -> Result<Arc<Profile>, AppError> {
    if let Some(profile) = state.sessions.cached_profile(session) {
        return Ok(profile);
    }
    let Ok(access_token) = state.sessions.access_token(session) else {
        // Sealed under another APP_SECRET, or damaged: the session cannot be used again.
        tracing::warn!(user = %session.user.sub, "stored access token does not decrypt; session ended");
        state.sessions.end(session).await?;
        return Err(AppError::SessionEnded);
    };
    match state.idp.user_info(&access_token).await {
        Ok(profile) => {
            let profile = Arc::new(profile);
            state.sessions.keep_profile(session, &profile);
            Ok(profile)
        }
        // A fresh token refused: revoked, or the user was signed out globally.
        Err(UserInfoError::TokenRejected) => {
            state.sessions.end(session).await?;
            Err(AppError::SessionEnded)
        }
        Err(UserInfoError::Unreachable(cause)) => Err(AppError::IdpUnavailable(cause)),
    }
}
