//! The user's attributes from Cognito's userInfo endpoint, fetched once per access token: a page
//! view that needs them costs an IdP call only after sign-in and after each refresh.

use std::sync::Arc;

use crate::auth::SessionError;
use crate::auth::cache::Profile;
use crate::auth::idp::{IdpClient, UserInfoError};
use crate::auth::sessions::{Session, SessionStore};

/// userInfo for `session`, whose access token must be fresh (see `auth::refresh::fresh`).
pub async fn user_info(
    idp: &IdpClient,
    sessions: &SessionStore,
    session: &Session,
) -> Result<Arc<Profile>, SessionError> {
    if let Some(profile) = sessions.cached_profile(session) {
        return Ok(profile);
    }
    let Ok(access_token) = sessions.access_token(session) else {
        // Sealed under another APP_SECRET, or damaged: the session cannot be used again.
        tracing::warn!(user = %session.user.sub, "stored access token does not decrypt; session ended");
        sessions.end(session).await?;
        return Err(SessionError::Ended);
    };
    match idp.user_info(&access_token).await {
        Ok(profile) => {
            let profile = Arc::new(profile);
            sessions.keep_profile(session, &profile);
            Ok(profile)
        }
        // A fresh token refused: revoked, or the user was signed out globally.
        Err(UserInfoError::TokenRejected) => {
            sessions.end(session).await?;
            tracing::info!(user = %session.user.sub, "access token refused by userInfo; session ended");
            Err(SessionError::Ended)
        }
        Err(UserInfoError::Unreachable(cause)) => Err(SessionError::IdpUnreachable(cause)),
    }
}
