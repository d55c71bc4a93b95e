//! Sign-out on the server: revoke the refresh token at the IdP, then delete the session.

use crate::auth::Session;
use crate::startup::AppState;

/// Ends `session`. Revocation is attempted first; if the IdP cannot be reached the session is
/// still deleted here (the user asked to leave), and the failure is logged.
pub async fn sign_out(state: &AppState, session: &Session) -> anyhow::Result<()> {
    // The cached copy may predate a rotation by another process: revoke what the database holds.
    let current = state.sessions.reload(session).await?;
    let session = current.as_ref().unwrap_or(session);
    match state.sessions.refresh_token(session) {
        Ok(refresh_token) => {
            if let Err(error) = state.idp.revoke(&refresh_token).await {
                tracing::warn!(user = %session.user.sub, error = %error, "refresh token not revoked at sign-out");
            }
        }
        Err(error) => tracing::warn!(error = %error, "refresh token unreadable at sign-out"),
    }
    state.sessions.end(session).await?;
    tracing::info!(user = %session.user.sub, "signed out");
    Ok(())
}
