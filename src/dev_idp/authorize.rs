//! `GET /oauth2/authorize` and Cognito's `/error` dead end: checks the client, the redirect URI,
//! the OAuth parameters and `identity_provider`, reuses a live managed-login session (unless
//! `prompt=login`) or sends the browser on to the login form (`login`), and hands out codes.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::http::{Params, State, found, urlencode, with_query};
use super::state::{CODE_TTL_SECONDS, CodeGrant, IdpState};
use super::tokens;
use super::users::{self, DemoUser};
use crate::clock::now;
use crate::secrets::Secret;

/// Scopes this user pool knows; the app client may use all of them.
const SUPPORTED_SCOPES: [&str; 5] = [
    "openid",
    "email",
    "phone",
    "profile",
    "aws.cognito.signin.user.admin",
];

/// A validated authorize request: where errors and codes go back to.
pub struct AuthorizeParams {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scope: String,
    pub nonce: Option<String>,
    /// PKCE: bound into the code's grant, never shown by `Debug`.
    pub code_challenge: Option<Secret<String>>,
    pub prompt: Option<String>,
    /// `identity_provider`, already known to name a sign-in option of the pool.
    pub identity_provider: Option<String>,
    /// `login_hint`: the username the login form starts with.
    pub login_hint: Option<String>,
}

impl AuthorizeParams {
    /// Whether `prompt` (space-separated, as OIDC allows) holds `value`.
    fn prompts(&self, value: &str) -> bool {
        self.prompt
            .as_deref()
            .is_some_and(|prompt| prompt.split(' ').any(|p| p == value))
    }
}

/// Checks the authorize parameters. `Err` is where to redirect instead: Cognito's error page when
/// the client or `redirect_uri` is not registered or `identity_provider` names no sign-in option
/// of the pool, else back to the app with `?error=`.
pub fn check_authorize(state: &IdpState, params: &Params) -> Result<AuthorizeParams, String> {
    let client_id = params
        .get("client_id")
        .map(String::as_str)
        .unwrap_or_default();
    let redirect_uri = params.get("redirect_uri").cloned().unwrap_or_default();
    if client_id != state.client.client_id || !state.client.callback_urls.contains(&redirect_uri) {
        let location = format!(
            "/error?error=redirect_mismatch&client_id={}",
            urlencode(client_id)
        );
        return Err(location);
    }
    let back = |error: &str| {
        Err(with_query(
            &redirect_uri,
            &[
                ("error", error),
                (
                    "state",
                    params.get("state").map(String::as_str).unwrap_or(""),
                ),
            ],
        ))
    };
    match params.get("response_type").map(String::as_str) {
        Some("code") => {}
        Some("token") => return back("unauthorized_client"),
        _ => return back("invalid_request"),
    }
    let challenge = params.get("code_challenge").filter(|c| !c.is_empty());
    match (
        params.get("code_challenge_method").map(String::as_str),
        challenge,
    ) {
        (None, None) | (Some("S256"), Some(_)) => {}
        _ => return back("invalid_request"),
    }
    let requested: Vec<&str> = params
        .get("scope")
        .map(|s| s.split(' ').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if requested
        .iter()
        .any(|scope| !SUPPORTED_SCOPES.contains(scope))
        || (requested
            .iter()
            .any(|s| matches!(*s, "email" | "profile" | "phone"))
            && !requested.contains(&"openid"))
    {
        return back("invalid_scope");
    }
    // Cognito shows its own "Login option is not available" page for a provider the pool has
    // not, rather than telling the app: so the IdP's error page here, never the redirect URI.
    let identity_provider = params
        .get("identity_provider")
        .filter(|name| !name.is_empty());
    if let Some(name) = identity_provider
        && !state.knows_identity_provider(name)
    {
        return Err(format!(
            "/error?error=unknown_identity_provider&client_id={}",
            urlencode(client_id)
        ));
    }
    // No scope asked for: every scope the client may use.
    let scope = if requested.is_empty() {
        SUPPORTED_SCOPES.join(" ")
    } else {
        requested.join(" ")
    };
    Ok(AuthorizeParams {
        redirect_uri,
        state: params.get("state").cloned(),
        scope,
        nonce: params.get("nonce").cloned(),
        code_challenge: challenge.cloned().map(Secret::new),
        prompt: params.get("prompt").cloned(),
        identity_provider: identity_provider.cloned(),
        login_hint: params.get("login_hint").cloned(),
    })
}

/// GET /oauth2/authorize
pub async fn authorize(req: HttpRequest, state: State, params: web::Query<Params>) -> HttpResponse {
    state.count("authorize");
    let checked = match check_authorize(&state, &params) {
        Ok(checked) => checked,
        Err(location) => return found(&location),
    };
    // `prompt=login` asks for the password again even when the browser has a live session.
    if !checked.prompts("login")
        && let Some((user, auth_time)) = signed_in_user(&req, &state)
    {
        return issue_code(&state, &checked, user, auth_time);
    }
    if checked.prompts("none") {
        let state_value = checked.state.clone().unwrap_or_default();
        return found(&with_query(
            &checked.redirect_uri,
            &[("error", "login_required"), ("state", &state_value)],
        ));
    }
    found(&format!("/login?{}", req.query_string()))
}

/// The user of a live managed-login session cookie, if the browser has one, and when that user
/// typed the password.
fn signed_in_user(req: &HttpRequest, state: &IdpState) -> Option<(&'static DemoUser, i64)> {
    let cookie = req.cookie("cognito")?;
    let grants = state.grants.lock().expect("grants lock");
    let login = grants.logins.get(cookie.value())?;
    if login.expires_at <= now() {
        return None;
    }
    Some((users::by_sub(&login.sub)?, login.auth_time))
}

/// Redirects back to the app with a new single-use code. `auth_time` is when the user typed the
/// password, which the ID token reports (and keeps across refreshes).
pub fn issue_code(
    state: &IdpState,
    checked: &AuthorizeParams,
    user: &DemoUser,
    auth_time: i64,
) -> HttpResponse {
    let code = tokens::uuid();
    let grant = CodeGrant {
        client_id: state.client.client_id.clone(),
        redirect_uri: checked.redirect_uri.clone(),
        code_challenge: checked.code_challenge.clone(),
        nonce: checked.nonce.clone(),
        scope: checked.scope.clone(),
        sub: user.sub.to_owned(),
        auth_time,
        expires_at: now() + CODE_TTL_SECONDS,
    };
    let mut grants = state.grants.lock().expect("grants lock");
    grants.codes.retain(|_, grant| grant.expires_at > now());
    grants.codes.insert(code.clone(), grant);
    let mut pairs = vec![("code", code.as_str())];
    // `state` is echoed verbatim, and left out when it was not sent.
    if let Some(state_value) = &checked.state {
        pairs.push(("state", state_value));
    }
    found(&with_query(&checked.redirect_uri, &pairs))
}

#[derive(Template)]
#[template(path = "dev_idp/error.html")]
struct ErrorPage {
    error: String,
    message: &'static str,
}

/// What went wrong, in words, for the errors this IdP sends to its `/error` page.
fn error_message(error: &str) -> &'static str {
    match error {
        "redirect_mismatch" => {
            "The app client or its redirect URI is not registered with this user pool."
        }
        "unknown_identity_provider" => {
            "Login option is not available: this user pool has no identity provider of that name."
        }
        "invalid_request" => "The request names no app client of this user pool.",
        _ => "The request could not be completed.",
    }
}

/// GET /error: Cognito's dead end for an unregistered client or redirect URI, or an identity
/// provider the pool has not.
pub async fn error_page(params: web::Query<Params>) -> HttpResponse {
    let error: String = params
        .get("error")
        .map(String::as_str)
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let html = ErrorPage {
        message: error_message(&error),
        error,
    }
    .render()
    .unwrap_or_default();
    HttpResponse::BadRequest()
        .content_type("text/html; charset=utf-8")
        .body(html)
}
