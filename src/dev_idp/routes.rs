//! The development IdP's endpoints, following Cognito's managed login: `/oauth2/authorize`,
//! `/login`, `/oauth2/token`, `/oauth2/userInfo`, `/oauth2/revoke`, `/logout`, `/error`, the
//! issuer's discovery and JWKS documents, and the `/_dev/` control surface.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, guard, web};
use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, Validation};
use ring::digest::{SHA256, digest};
use serde::Deserialize;
use url::Url;

use super::tokens::{self, Mint, REFRESH_TOKEN_TTL_SECONDS, RefreshGrant};
use super::users::{self, DemoUser};
use super::{
    CODE_TTL_SECONDS, CodeGrant, Forgery, IdpState, LOGIN_TTL_SECONDS, POOL_ID, TokenFailure,
};
use crate::clock::now;
use crate::secrets::{constant_time_eq, random_token};

type State = web::Data<IdpState>;
type Params = HashMap<String, String>;

/// Scopes this user pool knows; the app client may use all of them.
const SUPPORTED_SCOPES: [&str; 5] = [
    "openid",
    "email",
    "phone",
    "profile",
    "aws.cognito.signin.user.admin",
];

/// The header every `/_dev/` request must carry. A plain web page cannot send it cross-origin
/// without a CORS preflight, which the IdP never grants, so no page a developer visits can
/// drive the control surface.
pub const CONTROL_HEADER: (&str, &str) = ("x-dev-idp-control", "yes");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/_dev")
            .guard(guard::Header(CONTROL_HEADER.0, CONTROL_HEADER.1))
            .route("/counts", web::get().to(control_counts))
            .route("/token-failure", web::post().to(control_token_failure))
            .route(
                "/token-failure",
                web::delete().to(control_clear_token_failure),
            )
            .route("/revoke-user", web::post().to(control_revoke_user))
            .route("/rotate-keys", web::post().to(control_rotate_keys))
            .route(
                "/refresh-rotation",
                web::post().to(control_refresh_rotation),
            )
            .route("/forge-next-id-token", web::post().to(control_forge)),
    );
    cfg.route("/oauth2/authorize", web::get().to(authorize))
        .route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login_submit))
        .route("/oauth2/token", web::post().to(token))
        .route("/oauth2/token", web::route().to(method_not_allowed))
        .route("/oauth2/userInfo", web::get().to(user_info))
        .route("/oauth2/revoke", web::post().to(revoke))
        .route("/logout", web::get().to(logout))
        .route("/error", web::get().to(error_page))
        .route(
            &format!("/{POOL_ID}/.well-known/openid-configuration"),
            web::get().to(discovery),
        )
        .route(
            &format!("/{POOL_ID}/.well-known/jwks.json"),
            web::get().to(jwks),
        );
}

// ---- authorize and login -------------------------------------------------------------------

/// A validated authorize request: where errors and codes go back to.
struct AuthorizeParams {
    redirect_uri: String,
    state: Option<String>,
    scope: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    prompt: Option<String>,
}

/// Checks the authorize parameters. `Err` is where to redirect instead: Cognito's error page when
/// the client or `redirect_uri` is not registered, else back to the app with `?error=`.
fn check_authorize(state: &IdpState, params: &Params) -> Result<AuthorizeParams, String> {
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
        code_challenge: challenge.cloned(),
        prompt: params.get("prompt").cloned(),
    })
}

/// GET /oauth2/authorize
async fn authorize(req: HttpRequest, state: State, params: web::Query<Params>) -> HttpResponse {
    state.count("authorize");
    let checked = match check_authorize(&state, &params) {
        Ok(checked) => checked,
        Err(location) => return found(&location),
    };
    let prompt = checked.prompt.as_deref().unwrap_or_default();
    if !prompt.split(' ').any(|p| p == "login")
        && let Some(user) = signed_in_user(&req, &state)
    {
        return issue_code(&state, &checked, user);
    }
    if prompt.split(' ').any(|p| p == "none") {
        let state_value = checked.state.clone().unwrap_or_default();
        return found(&with_query(
            &checked.redirect_uri,
            &[("error", "login_required"), ("state", &state_value)],
        ));
    }
    found(&format!("/login?{}", req.query_string()))
}

#[derive(Template)]
#[template(path = "dev_idp/login.html")]
struct LoginPage {
    action: String,
    csrf: String,
    error: Option<&'static str>,
    username: String,
    demo_users: Vec<(&'static str, &'static str, String)>,
}

fn render_login(req: &HttpRequest, error: Option<&'static str>, username: String) -> HttpResponse {
    let csrf = random_token(24);
    let page = LoginPage {
        action: format!("/login?{}", req.query_string()),
        csrf: csrf.clone(),
        error,
        username,
        demo_users: users::DEMO_USERS
            .iter()
            .map(|user| {
                (
                    user.username,
                    user.password,
                    if user.groups.is_empty() {
                        String::new()
                    } else {
                        user.groups.join(", ")
                    },
                )
            })
            .collect(),
    };
    match page.render() {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((
                header::CACHE_CONTROL,
                "no-cache, no-store, max-age=0, must-revalidate",
            ))
            .cookie(idp_cookie("XSRF-TOKEN", csrf, None))
            .body(html),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// GET /login: the managed-login form.
async fn login_page(req: HttpRequest, state: State, params: web::Query<Params>) -> HttpResponse {
    state.count("login");
    if let Err(location) = check_authorize(&state, &params) {
        return found(&location);
    }
    render_login(&req, None, String::new())
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// POST /login: checks the credentials, starts a managed-login session, returns a code.
async fn login_submit(
    req: HttpRequest,
    state: State,
    params: web::Query<Params>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    state.count("login:submit");
    let checked = match check_authorize(&state, &params) {
        Ok(checked) => checked,
        Err(location) => return found(&location),
    };
    let expected_csrf = req
        .cookie("XSRF-TOKEN")
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected_csrf.is_empty() || !constant_time_eq(&expected_csrf, &form.csrf) {
        return render_login(
            &req,
            Some("Your session has expired. Please try again."),
            form.username.clone(),
        );
    }
    let Some(user) =
        users::find(&form.username).filter(|user| constant_time_eq(user.password, &form.password))
    else {
        return render_login(
            &req,
            Some("Incorrect username or password."),
            form.username.clone(),
        );
    };
    let login = random_token(32);
    state.grants.lock().expect("grants lock").logins.insert(
        login.clone(),
        (user.sub.to_owned(), now() + LOGIN_TTL_SECONDS),
    );
    let mut response = issue_code(&state, &checked, user);
    set_cookie(
        &mut response,
        idp_cookie("cognito", login, Some(LOGIN_TTL_SECONDS)),
    );
    response
}

/// The user of a live managed-login session cookie, if the browser has one.
fn signed_in_user(req: &HttpRequest, state: &IdpState) -> Option<&'static DemoUser> {
    let cookie = req.cookie("cognito")?;
    let grants = state.grants.lock().expect("grants lock");
    let (sub, expires_at) = grants.logins.get(cookie.value())?;
    (*expires_at > now()).then(|| users::by_sub(sub)).flatten()
}

/// Redirects back to the app with a new single-use code.
fn issue_code(state: &IdpState, checked: &AuthorizeParams, user: &DemoUser) -> HttpResponse {
    let code = tokens::uuid();
    let grant = CodeGrant {
        client_id: state.client.client_id.clone(),
        redirect_uri: checked.redirect_uri.clone(),
        code_challenge: checked.code_challenge.clone(),
        nonce: checked.nonce.clone(),
        scope: checked.scope.clone(),
        sub: user.sub.to_owned(),
        auth_time: now(),
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

// ---- token endpoint ------------------------------------------------------------------------

/// POST /oauth2/token
async fn token(req: HttpRequest, state: State, body: web::Bytes) -> HttpResponse {
    if !is_form(&req) {
        // Cognito answers a token request that is not form-encoded with an empty 405.
        return HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, "POST"))
            .finish();
    }
    let params: Params = url::form_urlencoded::parse(&body).into_owned().collect();
    let grant_type = params.get("grant_type").cloned().unwrap_or_default();
    state.count(&format!("token:{grant_type}"));
    let failure = state.token_failure.lock().expect("failure lock").clone();
    if let Some(TokenFailure {
        status,
        body,
        delay_ms,
    }) = failure
    {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        if let Some(status) = status {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return HttpResponse::build(status)
                .content_type("application/json;charset=UTF-8")
                .body(body);
        }
    }
    let client_id = match authenticate_client(&req, &state, &params) {
        Ok(client_id) => client_id,
        Err(()) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", None),
    };
    match grant_type.as_str() {
        "authorization_code" => code_grant(&state, &client_id, &params),
        "refresh_token" => refresh_grant(&state, &client_id, &params),
        "" => oauth_error(StatusCode::BAD_REQUEST, "invalid_request", None),
        // Seen from Cognito for a user-facing client asking client_credentials.
        "client_credentials" => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", None),
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", None),
    }
}

fn code_grant(state: &IdpState, client_id: &str, params: &Params) -> HttpResponse {
    let (Some(code), Some(redirect_uri)) = (params.get("code"), params.get("redirect_uri")) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", None);
    };
    // Removed on first use, whatever happens next: a code works once.
    let Some(grant) = state.grants.lock().expect("grants lock").codes.remove(code) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", None);
    };
    if grant.expires_at <= now() || grant.client_id != client_id {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", None);
    }
    if &grant.redirect_uri != redirect_uri {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            Some("invalid_redirect"),
        );
    }
    if let Some(challenge) = &grant.code_challenge {
        let verifier = params
            .get("code_verifier")
            .map(String::as_str)
            .unwrap_or_default();
        let computed = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
        if verifier.is_empty() || !constant_time_eq(&computed, challenge) {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", None);
        }
    }
    let Some(user) = users::by_sub(&grant.sub) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", None);
    };
    let origin_jti = tokens::uuid();
    let refresh = RefreshGrant {
        jti: tokens::uuid(),
        origin_jti: origin_jti.clone(),
        sub: user.sub.to_owned(),
        client_id: client_id.to_owned(),
        scope: grant.scope.clone(),
        auth_time: grant.auth_time,
        exp: now() + REFRESH_TOKEN_TTL_SECONDS,
    };
    state
        .grants
        .lock()
        .expect("grants lock")
        .issued
        .entry(user.sub.to_owned())
        .or_default()
        .push(origin_jti.clone());
    let mint = Mint {
        issuer: &state.issuer,
        client_id,
        user,
        scope: &grant.scope,
        nonce: grant.nonce.as_deref(),
        auth_time: grant.auth_time,
        origin_jti: &origin_jti,
        now: now(),
        ttl_seconds: state.access_ttl_seconds,
        forgery: state.take_forgery(),
    };
    token_response(state, &mint, Some(&refresh))
}

fn refresh_grant(state: &IdpState, client_id: &str, params: &Params) -> HttpResponse {
    let Some(token) = params.get("refresh_token") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", None);
    };
    let keys = state.keys();
    let grant = tokens::open_refresh_token(&keys, token).filter(|grant| {
        grant.client_id == client_id && grant.exp > now() && !state.is_revoked(grant)
    });
    let Some(grant) = grant else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", None);
    };
    let Some(user) = users::by_sub(&grant.sub) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", None);
    };
    // Rotation: a new refresh token for the remaining lifetime; the submitted one is retired.
    let rotated = state
        .refresh_rotation
        .load(std::sync::atomic::Ordering::SeqCst)
        .then(|| {
            state.revoke(&grant.jti);
            RefreshGrant {
                jti: tokens::uuid(),
                ..grant.clone()
            }
        });
    let mint = Mint {
        issuer: &state.issuer,
        client_id,
        user,
        scope: &grant.scope,
        nonce: None,
        auth_time: grant.auth_time,
        origin_jti: &grant.origin_jti,
        now: now(),
        ttl_seconds: state.access_ttl_seconds,
        forgery: state.take_forgery(),
    };
    token_response(state, &mint, rotated.as_ref())
}

fn token_response(
    state: &IdpState,
    mint: &Mint<'_>,
    refresh: Option<&RefreshGrant>,
) -> HttpResponse {
    let keys = state.keys();
    let (access_token, id_token) = tokens::mint(&keys, mint);
    let mut body = serde_json::json!({
        "access_token": access_token,
        "expires_in": state.access_ttl_seconds,
        "token_type": "Bearer",
    });
    if let Some(id_token) = id_token {
        body["id_token"] = id_token.into();
    }
    if let Some(refresh) = refresh {
        body["refresh_token"] = tokens::seal_refresh_token(&keys, refresh).into();
    }
    json_response(StatusCode::OK, &body)
}

/// The client the request authenticates as: Basic, or `client_id` (+ `client_secret`) in the body.
fn authenticate_client(req: &HttpRequest, state: &IdpState, params: &Params) -> Result<String, ()> {
    let (client_id, secret) = match basic_credentials(req) {
        Some((id, secret)) => (id, Some(secret)),
        None => (
            params.get("client_id").cloned().unwrap_or_default(),
            params.get("client_secret").cloned(),
        ),
    };
    if client_id != state.client.client_id {
        return Err(());
    }
    match (&state.client.client_secret, secret) {
        (None, _) => Ok(client_id),
        (Some(expected), Some(given)) if constant_time_eq(expected, &given) => Ok(client_id),
        _ => Err(()),
    }
}

/// `Authorization: Basic base64(id:secret)`, raw or form-encoded before base64 (RFC 6749 §2.3.1).
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

// ---- userInfo, revoke, logout ---------------------------------------------------------------

/// GET /oauth2/userInfo
async fn user_info(req: HttpRequest, state: State) -> HttpResponse {
    state.count("userInfo");
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|token| !token.is_empty());
    let Some(token) = bearer else {
        return HttpResponse::BadRequest()
            .insert_header((header::WWW_AUTHENTICATE, r#"error="invalid_request", error_description="Bad OAuth2 request at UserInfo Endpoint""#))
            .finish();
    };
    let Some((user, scope)) = verify_access_token(&state, token) else {
        return HttpResponse::Unauthorized()
            .insert_header((
                header::WWW_AUTHENTICATE,
                r#"error="invalid_token", error_description="Access token is expired, disabled, or deleted, or the user has globally signed out.""#,
            ))
            .finish();
    };
    let scopes: Vec<&str> = scope.split(' ').collect();
    let mut body = serde_json::json!({ "sub": user.sub, "username": user.username });
    // `openid` alone returns every attribute the client may read.
    let all = scopes == ["openid"];
    if all || scopes.contains(&"email") {
        body["email"] = user.email.into();
        body["email_verified"] = "true".into();
    }
    if all || scopes.contains(&"profile") {
        body["name"] = user.name().into();
        body["given_name"] = user.given_name.into();
        body["family_name"] = user.family_name.into();
    }
    json_response(StatusCode::OK, &body)
}

/// The user and scope of a live access token this IdP issued.
fn verify_access_token(state: &IdpState, token: &str) -> Option<(&'static DemoUser, String)> {
    #[derive(Deserialize)]
    struct Claims {
        sub: String,
        token_use: String,
        scope: String,
        origin_jti: String,
        client_id: String,
    }
    let header = jsonwebtoken::decode_header(token).ok()?;
    let keys = state.keys();
    let key = keys
        .access_keys
        .iter()
        .find(|key| Some(&key.kid) == header.kid.as_ref())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&state.issuer]);
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding_key(), &validation)
        .ok()?
        .claims;
    let revoked = state
        .grants
        .lock()
        .expect("grants lock")
        .revoked
        .contains(&claims.origin_jti);
    if claims.token_use != "access" || claims.client_id != state.client.client_id || revoked {
        return None;
    }
    Some((users::by_sub(&claims.sub)?, claims.scope))
}

/// POST /oauth2/revoke
async fn revoke(req: HttpRequest, state: State, body: web::Bytes) -> HttpResponse {
    state.count("revoke");
    if !is_form(&req) {
        return HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, "POST"))
            .finish();
    }
    let params: Params = url::form_urlencoded::parse(&body).into_owned().collect();
    let Ok(client_id) = authenticate_client(&req, &state, &params) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", None);
    };
    let Some(token) = params.get("token").filter(|token| !token.is_empty()) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", None);
    };
    if token.split('.').count() == 3 {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_token_type", None);
    }
    // Unknown, foreign and already-revoked tokens all get the same empty 200.
    if let Some(grant) = tokens::open_refresh_token(&state.keys(), token)
        .filter(|grant| grant.client_id == client_id)
    {
        state.revoke(&grant.origin_jti);
    }
    HttpResponse::Ok()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .finish()
}

/// GET /logout: clears the managed-login session, then back to a registered sign-out URL (or on
/// to the login page, in the `redirect_uri` form).
async fn logout(req: HttpRequest, state: State, params: web::Query<Params>) -> HttpResponse {
    state.count("logout");
    if params.get("client_id") != Some(&state.client.client_id) {
        return found(&format!(
            "/error?error=invalid_request&client_id={}",
            urlencode(params.get("client_id").map(String::as_str).unwrap_or(""))
        ));
    }
    let mut response = if let Some(logout_uri) = params.get("logout_uri") {
        if !state.client.logout_urls.contains(logout_uri) {
            return found(&format!(
                "/error?error=redirect_mismatch&client_id={}",
                urlencode(&state.client.client_id)
            ));
        }
        found(logout_uri)
    } else if params.contains_key("redirect_uri") && params.contains_key("response_type") {
        found(&format!("/login?{}", req.query_string()))
    } else {
        return HttpResponse::BadRequest()
            .content_type("text/plain")
            .body("Required String parameter 'redirect_uri' is not present");
    };
    if let Some(cookie) = req.cookie("cognito") {
        state
            .grants
            .lock()
            .expect("grants lock")
            .logins
            .remove(cookie.value());
    }
    let mut removal = idp_cookie("cognito", String::new(), None);
    removal.make_removal();
    set_cookie(&mut response, removal);
    response
}

#[derive(Template)]
#[template(path = "dev_idp/error.html")]
struct ErrorPage {
    error: String,
}

/// GET /error: Cognito's dead end for an unregistered client or redirect URI.
async fn error_page(params: web::Query<Params>) -> HttpResponse {
    let error = params.get("error").cloned().unwrap_or_default();
    let html = ErrorPage {
        error: error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect(),
    }
    .render()
    .unwrap_or_default();
    HttpResponse::BadRequest()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

// ---- discovery -----------------------------------------------------------------------------

/// GET {issuer}/.well-known/openid-configuration, with the fields Cognito publishes.
async fn discovery(req: HttpRequest, state: State) -> HttpResponse {
    let conn = req.connection_info();
    let domain = format!("{}://{}", conn.scheme(), conn.host());
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "authorization_endpoint": format!("{domain}/oauth2/authorize"),
            "end_session_endpoint": format!("{domain}/logout"),
            "id_token_signing_alg_values_supported": ["RS256"],
            "issuer": state.issuer,
            "jwks_uri": format!("{}/.well-known/jwks.json", state.issuer),
            "response_types_supported": ["code", "token"],
            "revocation_endpoint": format!("{domain}/oauth2/revoke"),
            "scopes_supported": ["openid", "email", "phone", "profile"],
            "subject_types_supported": ["public"],
            "token_endpoint": format!("{domain}/oauth2/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "userinfo_endpoint": format!("{domain}/oauth2/userInfo"),
        }),
    )
}

/// GET {issuer}/.well-known/jwks.json
async fn jwks(state: State) -> HttpResponse {
    state.count("jwks");
    json_response(StatusCode::OK, &state.keys().jwks())
}

// ---- control surface -----------------------------------------------------------------------

async fn control_counts(state: State) -> HttpResponse {
    HttpResponse::Ok().json(state.counts.lock().expect("counts lock").clone())
}

async fn control_token_failure(state: State, failure: web::Json<TokenFailure>) -> HttpResponse {
    *state.token_failure.lock().expect("failure lock") = Some(failure.into_inner());
    HttpResponse::NoContent().finish()
}

async fn control_clear_token_failure(state: State) -> HttpResponse {
    *state.token_failure.lock().expect("failure lock") = None;
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct RevokeUser {
    username: String,
}

async fn control_revoke_user(state: State, body: web::Json<RevokeUser>) -> HttpResponse {
    let revoked = super::DevIdpControl(state.into_inner()).revoke_user(&body.username);
    HttpResponse::Ok().json(serde_json::json!({ "revoked": revoked }))
}

async fn control_rotate_keys(state: State) -> HttpResponse {
    // Generating RSA keys takes a while: off the async worker.
    let control = super::DevIdpControl(state.into_inner());
    match web::block(move || control.rotate_keys()).await {
        Ok(Ok(())) => HttpResponse::NoContent().finish(),
        Ok(Err(error)) => HttpResponse::InternalServerError().body(error.to_string()),
        Err(error) => HttpResponse::InternalServerError().body(error.to_string()),
    }
}

#[derive(Deserialize)]
struct Rotation {
    on: bool,
}

async fn control_refresh_rotation(state: State, body: web::Json<Rotation>) -> HttpResponse {
    super::DevIdpControl(state.into_inner()).set_refresh_rotation(body.on);
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct Forge {
    forgery: Forgery,
}

async fn control_forge(state: State, body: web::Json<Forge>) -> HttpResponse {
    super::DevIdpControl(state.into_inner()).forge_next_id_token(body.forgery);
    HttpResponse::NoContent().finish()
}

// ---- helpers -------------------------------------------------------------------------------

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST"))
        .finish()
}

fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// Cognito's OAuth error: HTTP 400 (401 for revoke's invalid_client) with `{"error":…}`.
fn oauth_error(status: StatusCode, error: &str, description: Option<&str>) -> HttpResponse {
    let mut body = serde_json::json!({ "error": error });
    if let Some(description) = description {
        body["error_description"] = description.into();
    }
    json_response(status, &body)
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "application/json;charset=UTF-8"))
        .insert_header((
            header::CACHE_CONTROL,
            "no-cache, no-store, max-age=0, must-revalidate",
        ))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(body.to_string())
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    match Url::parse(base) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .extend_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()));
            url.to_string()
        }
        Err(_) => base.to_owned(),
    }
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A cookie of the IdP's own site: Path=/, HttpOnly, SameSite=Lax, as managed login's.
fn idp_cookie(name: &'static str, value: String, max_age: Option<i64>) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish();
    if let Some(seconds) = max_age {
        cookie.set_max_age(actix_web::cookie::time::Duration::seconds(seconds));
    }
    cookie
}

fn set_cookie(response: &mut HttpResponse, cookie: Cookie<'static>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
