//! The sign-in flow: starting an attempt (PKCE, `state`, `nonce`, `return_to` kept server-side;
//! the identity provider chosen, a fresh sign-in asked for) and completing it at the callback
//! (state check, code exchange, ID-token verification). Also how recent a sign-in `/admin` needs.

use std::time::Duration;

use serde::Deserialize;

use crate::auth::attempts::AttemptStore;
use crate::auth::id_token::IdTokenError;
use crate::auth::idp::{AuthorizeOptions, AuthorizeRequest, IdpClient, TokenError};
use crate::auth::sessions::{Session, SessionStore};
use crate::clock;
use crate::db::sign_in_attempts::{ATTEMPT_TTL_SECONDS, SignInAttempt};
use crate::secrets::{Secret, constant_time_eq};

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
    #[error("This app offers no sign-in with \"{0}\"; choose one of the sign-in options offered.")]
    UnknownIdentityProvider(String),
    #[error("A sign-in can ask for prompt=login only, not \"{0}\".")]
    UnknownPrompt(String),
}

/// Why `complete` failed: the user's sign-in was refused, or the IdP could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Failed(#[from] SignInFailure),
    /// The IdP could not be reached to complete the sign-in (the code exchange or its keys).
    #[error("the identity provider could not be reached to complete the sign-in")]
    IdpUnreachable(#[source] anyhow::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The query Cognito sends the browser back with.
#[derive(Deserialize)]
pub struct CallbackQuery {
    pub code: Option<Secret<String>>,
    pub state: Option<String>,
    pub error: Option<String>,
}

impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The code is a one-time credential and the state binds it to the browser.
        f.debug_struct("CallbackQuery")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// A sign-in the browser asked for.
#[derive(Debug, Clone)]
pub struct SignInRequest {
    /// Where to go afterwards, already validated.
    pub return_to: String,
    /// The identity provider chosen; must be one of those configured.
    pub identity_provider: Option<String>,
    /// `prompt` as the browser sent it: only `login` (sign in again even with a live IdP
    /// session) is accepted.
    pub prompt: Option<String>,
    /// Whether the page asked for wants a more recent sign-in than the browser's session has:
    /// then the IdP is asked for a fresh one (`prompt=login`) as well.
    pub needs_fresh_sign_in: bool,
}

/// What the browser does next to sign in.
pub enum Begun {
    /// Choose one of the identity providers first: sign-in starts again with one of them.
    ChooseProvider,
    /// Go to the IdP.
    Redirect(AuthorizeRequest),
}

/// Starts the sign-in `request` asks for, or says that the user must choose a provider first.
/// A provider or `prompt` this app does not offer is refused, and nothing is started.
pub async fn begin(
    idp: &IdpClient,
    attempts: &AttemptStore,
    request: SignInRequest,
) -> Result<Begun, SignInError> {
    let prompt_login = match request.prompt.as_deref() {
        None => request.needs_fresh_sign_in,
        Some("login") => true,
        Some(other) => return Err(SignInFailure::UnknownPrompt(printable_name(other)).into()),
    };
    let offered = idp.identity_providers();
    let identity_provider = match request.identity_provider.as_deref() {
        None if offered.is_empty() => None,
        None => return Ok(Begun::ChooseProvider),
        Some(name) if offered.iter().any(|offer| offer == name) => Some(name),
        Some(name) => {
            return Err(SignInFailure::UnknownIdentityProvider(printable_name(name)).into());
        }
    };
    let options = AuthorizeOptions {
        identity_provider,
        prompt_login,
        without_login_hint: false,
    };
    let authorize = idp.authorize(options);
    remember(attempts, &authorize, request.return_to).await?;
    Ok(Begun::Redirect(authorize))
}

/// "Sign in as someone else": a new attempt that goes through the IdP's logout first, so its
/// managed-login session ends and its sign-in page asks for an account. No `login_hint`: the
/// point is another account.
pub async fn begin_as_someone_else(
    idp: &IdpClient,
    attempts: &AttemptStore,
    return_to: String,
) -> anyhow::Result<AuthorizeRequest> {
    let options = AuthorizeOptions {
        without_login_hint: true,
        ..AuthorizeOptions::default()
    };
    let authorize = idp.through_logout(idp.authorize(options))?;
    remember(attempts, &authorize, return_to).await?;
    Ok(authorize)
}

/// Keeps what the callback of `request` must check, under the hash of its `state`.
async fn remember(
    attempts: &AttemptStore,
    request: &AuthorizeRequest,
    return_to: String,
) -> anyhow::Result<()> {
    let attempt = SignInAttempt {
        pkce_verifier: request.pkce_verifier.expose().clone(),
        nonce: request.nonce.clone(),
        return_to,
        created_at: clock::now(),
    };
    attempts.put(request.state.expose(), &attempt).await
}

/// How recent a sign-in `/admin` requires (`ADMIN_MAX_AUTH_AGE`); `None`: any sign-in will do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaxAuthAge(pub Option<Duration>);

impl MaxAuthAge {
    /// Whether `session`'s sign-in is recent enough at `now`.
    pub fn allows(&self, session: &Session, now: i64) -> bool {
        self.0
            .is_none_or(|max_age| session.authenticated_within(max_age, now))
    }
}

/// A completed sign-in: the new session's id and where to go next.
pub struct SignedInNow {
    pub session_id: Secret<String>,
    pub return_to: String,
}

/// Completes one of the attempts this browser started (`browser_states`, from its sign-in
/// cookie). The answer's `state` must be one of them, even when it reports an error: an answer
/// that is not this browser's changes nothing of its sign-ins in flight. The new session keeps
/// the browser's `user_agent`, for the page of sessions.
pub async fn complete(
    idp: &IdpClient,
    attempts: &AttemptStore,
    sessions: &SessionStore,
    browser_states: &[String],
    query: &CallbackQuery,
    user_agent: &str,
) -> Result<SignedInNow, SignInError> {
    let attempt = take_attempt(attempts, browser_states, query).await?;
    if let Some(error) = &query.error {
        return Err(match error.as_str() {
            "access_denied" => SignInFailure::Cancelled,
            other => SignInFailure::IdpError(printable(other)),
        }
        .into());
    }
    let code = query
        .code
        .as_ref()
        .filter(|code| !code.expose().is_empty())
        .ok_or(SignInFailure::MissingCode)?;

    let pkce_verifier = Secret::new(attempt.pkce_verifier.clone());
    let tokens = idp
        .exchange_code(code.expose(), &pkce_verifier)
        .await
        .map_err(|error| match error {
            TokenError::InvalidGrant => SignInFailure::CodeRejected.into(),
            TokenError::Refused(code) => SignInFailure::ExchangeRefused(code).into(),
            TokenError::Unreachable(cause) => SignInError::IdpUnreachable(cause),
        })?;
    let claims = idp
        .id_tokens
        .verify(tokens.id_token.expose(), Some(&attempt.nonce))
        .await
        .map_err(|error| match error {
            IdTokenError::JwksUnavailable(cause) => SignInError::IdpUnreachable(cause),
            other => SignInFailure::IdToken(other).into(),
        })?;
    let session_id = sessions
        .start(
            &claims,
            &tokens,
            tokens.expires_at(clock::now()),
            user_agent,
        )
        .await?;
    tracing::info!(user = %claims.sub, "signed in");
    Ok(SignedInNow {
        session_id: Secret::new(session_id),
        return_to: attempt.return_to,
    })
}

/// Whether the answer's `state` is one of this browser's sign-ins in flight: then its attempt
/// is taken (used up) whatever else the answer says.
pub fn is_for_this_browser(query: &CallbackQuery, browser_states: &[String]) -> bool {
    query.state.as_deref().is_some_and(|returned| {
        browser_states.iter().fold(false, |found, state| {
            found | constant_time_eq(returned, state)
        })
    })
}

/// Checks the returned `state` against this browser's and takes the attempt (once only).
async fn take_attempt(
    attempts: &AttemptStore,
    browser_states: &[String],
    query: &CallbackQuery,
) -> Result<SignInAttempt, SignInError> {
    let returned = query
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(SignInFailure::MissingState)?;
    if browser_states.is_empty() {
        return Err(SignInFailure::NoAttempt.into());
    }
    if !is_for_this_browser(query, browser_states) {
        return Err(SignInFailure::StateMismatch.into());
    }
    let attempt = attempts
        .take(returned)
        .await?
        .ok_or(SignInFailure::AttemptUnknown)?;
    if attempt.created_at + ATTEMPT_TTL_SECONDS < clock::now() {
        return Err(SignInFailure::AttemptExpired.into());
    }
    Ok(attempt)
}

/// A name from the browser, shortened and stripped of control characters, to be shown back.
fn printable_name(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// An IdP error code, shortened and stripped to characters OAuth error codes use.
fn printable(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}
