//! Sign-out on the server: revoke the refresh token at the IdP, then delete the session.

use crate::auth::idp::IdpClient;
use crate::auth::sessions::{Session, SessionStore};

/// Ends `session`. Revocation is attempted first; if the IdP cannot be reached the session is
/// still deleted here (the user asked to leave), and the failure is logged.
pub async fn sign_out(
    idp: &IdpClient,
    sessions: &SessionStore,
    session: &Session,
) -> anyhow::Result<()> {
    // The cached copy may predate a rotation by another process: revoke what the database holds.
    let current = sessions.reload(session).await?;
    let session = current.as_ref().unwrap_or(session);
    match sessions.refresh_token(session) {
        Ok(refresh_token) => {
            if let Err(error) = idp.revoke(&refresh_token).await {
                tracing::warn!(user = %session.user.sub, error = format!("{:#}", anyhow::Error::from(error)), "refresh token not revoked at sign-out");
            }
        }
        Err(error) => tracing::warn!(error = %error, "refresh token unreadable at sign-out"),
    }
    sessions.end(session).await?;
    tracing::info!(user = %session.user.sub, "signed out");
    Ok(())
}

/// Ends the sessions whose cookies carry `ids`, after a new sign-in in the same browser replaced
/// them. The new session is already committed: a failure here is logged and changes nothing else.
pub async fn sign_out_earlier(idp: &IdpClient, sessions: &SessionStore, ids: &[String]) {
    for id in ids {
        let ended = match sessions.find(id).await {
            Ok(Some(session)) => sign_out(idp, sessions, &session).await,
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        };
        if let Err(error) = ended {
            tracing::warn!(
                error = format!("{error:#}"),
                "an earlier session was not ended at sign-in"
            );
        }
    }
}
