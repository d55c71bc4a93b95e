//! The sign-in flow: starting an attempt (PKCE, `state`, `nonce`, `return_to` kept server-side)
//! and completing it at the callback (state check, code exchange, ID-token verification).

use serde::Deserialize;

use crate::auth::id_token::IdTokenError;
use crate::auth::idp::{AuthorizeRequest, TokenError};
use crate::auth::return_to::{self, DEFAULT_RETURN_TO};
use crate::clock;
use crate::db::{sign_in_attempts, sign_in_attempts::SignInAttempt};
use crate::error::AppError;
use crate::secrets::{constant_time_eq, hash};
use crate::startup::AppState;

/// Why a sign-in could not be completed. The text is shown to the user as is.
#[derive(Debug, thiserror::Error)]
pub enum SignInFailure {
    #[error("The sign-in was cancelled at the identity provider.")]
    Cancelled,
    #[error("The identity provider reported an error ({0}).")]
    IdpError(String),
    #[error("The identity provider's answer did not carry the sign-in's state.")]
    MissingState,
    #[error(
        "This browser has no sign-in in progress (was it started in another browser, or are cookies blocked?)."
    )]
    NoAttempt,
    #[error("The answer belongs to another sign-in attempt than this browser's.")]
    StateMismatch,
    #[error("This sign-in attempt was already completed, or has expired.")]
    AttemptUnknown,
    #[error("This sign-in attempt took longer than 10 minutes.")]
    AttemptExpired,
    #[error("The identity provider's answer carried no authorization code.")]
    MissingCode,
    #[error(
        "The authorization code was refused: it was already used, has expired, or does not match this sign-in."
    )]
    CodeRejected,
    #[error("The identity provider refused to exchange the code ({0}).")]
    ExchangeRefused(String),
    #[error("The identity token could not be trusted: {0}.")]
    IdToken(IdTokenError),
}

/// The query Cognito sends the browser back with.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// Starts a sign-in attempt and returns where to send the browser.
pub async fn begin(state: &AppState, return_to: Option<&str>) -> anyhow::Result<AuthorizeRequest> {
    let return_to = return_to
        .and_then(|value| return_to::validate(value, &state.base_url))
        .unwrap_or_else(|| state.path(DEFAULT_RETURN_TO));
    let request = state.idp.authorize();
    let attempt = SignInAttempt {
        pkce_verifier: request.pkce_verifier.clone(),
        nonce: request.nonce.clone(),
        return_to,
        created_at: clock::now(),
    };
    sign_in_attempts::insert(&state.pool, &hash(&request.state), &attempt).await?;
    Ok(request)
}

/// A completed sign-in: the new session's id and where to go next.
pub struct SignedInNow {
    pub session_id: String,
    pub return_to: String,
}

/// Completes the attempt this browser started (`browser_state` is from its sign-in cookie).
pub async fn complete(
    state: &AppState,
    browser_state: Option<&str>,
    query: &CallbackQuery,
) -> Result<SignedInNow, AppError> {
    let attempt = take_attempt(state, browser_state, query).await;
    if let Some(error) = &query.error {
        return Err(match error.as_str() {
            "access_denied" => SignInFailure::Cancelled,
            other => SignInFailure::IdpError(printable(other)),
        }
        .into());
    }
    let attempt = attempt?;
    let code = query
        .code
        .as_deref()
        .filter(|code| !code.is_empty())
        .ok_or(SignInFailure::MissingCode)?;

    let tokens = state
        .idp
        .exchange_code(code, &attempt.pkce_verifier)
        .await
        .map_err(|error| match error {
            TokenError::InvalidGrant => SignInFailure::CodeRejected.into(),
            TokenError::Refused(code) => SignInFailure::ExchangeRefused(code).into(),
            TokenError::Unreachable(cause) => AppError::SignInUnavailable(cause),
        })?;
    let claims = state
        .idp
        .id_tokens
        .verify(tokens.id_token.expose(), Some(&attempt.nonce))
        .await
        .map_err(|error| match error {
            IdTokenError::JwksUnavailable(cause) => AppError::SignInUnavailable(cause),
            other => SignInFailure::IdToken(other).into(),
        })?;
    let session_id = state.sessions.start(&claims, &tokens).await?;
    tracing::info!(user = %claims.sub, "signed in");
    Ok(SignedInNow {
        session_id,
        return_to: attempt.return_to,
    })
}

/// Checks the returned `state` against this browser's and takes the attempt (once only).
async fn take_attempt(
    state: &AppState,
    browser_state: Option<&str>,
    query: &CallbackQuery,
) -> Result<SignInAttempt, AppError> {
    let returned = query
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(SignInFailure::MissingState)?;
    let expected = browser_state
        .filter(|s| !s.is_empty())
        .ok_or(SignInFailure::NoAttempt)?;
    if !constant_time_eq(returned, expected) {
        return Err(SignInFailure::StateMismatch.into());
    }
    let attempt = sign_in_attempts::take(&state.pool, &hash(returned))
        .await?
        .ok_or(SignInFailure::AttemptUnknown)?;
    if attempt.created_at + sign_in_attempts::ATTEMPT_TTL_SECONDS < clock::now() {
        return Err(SignInFailure::AttemptExpired.into());
    }
    Ok(attempt)
}

/// An IdP error code, shortened and stripped to characters OAuth error codes use.
fn printable(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}
