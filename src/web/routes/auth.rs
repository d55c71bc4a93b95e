use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use url::form_urlencoded;

use crate::auth::idp::AuthorizeRequest;
use crate::auth::sign_in::{
    self, Begun, CallbackQuery, MaxAuthAge, SignInError, SignInFailure, SignInRequest,
};
use crate::auth::{Session, return_to, sign_out as sign_out_flow};
use crate::clock;
use crate::cookies::{self, SESSION_COOKIE, SIGN_IN_COOKIE};
use crate::metrics;
use crate::secrets::{Secret, constant_time_eq};
use crate::web::extract::{MAX_SESSION_COOKIES, max_auth_age};
use crate::web::pages::{Layout, add_cookies, page, render, see_other};
use crate::web::{AppError, AppState, MaybeSignedIn};

#[derive(Deserialize)]
pub struct SignInQuery {
    return_to: Option<String>,
    /// One of `COGNITO_IDENTITY_PROVIDERS`; without it, and with providers configured, the
    /// chooser page.
    identity_provider: Option<String>,
    /// `login`: ask the IdP for a fresh sign-in.
    prompt: Option<String>,
}

/// GET /auth/sign-in: starts a sign-in attempt and sends the browser to the IdP, or, when
/// `COGNITO_IDENTITY_PROVIDERS` lists providers and none was chosen, shows one button for each.
/// Attempts already in flight in this browser (other tabs) stay valid beside it.
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    MaybeSignedIn(session): MaybeSignedIn,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, AppError> {
    let return_to = return_to::or_default(query.return_to.as_deref(), &state.base_url);
    let request = SignInRequest {
        needs_fresh_sign_in: needs_fresh_sign_in(&req, &state, session.as_ref(), &return_to),
        return_to,
        identity_provider: query.identity_provider.clone(),
        prompt: query.prompt.clone(),
    };
    match sign_in::begin(&state.idp, &state.attempts, request.clone()).await? {
        Begun::ChooseProvider => render(&SignInPage::new(&state, session.as_ref(), &request)),
        Begun::Redirect(authorize) => Ok(redirect_to_idp(&req, &state, &authorize)),
    }
}

/// The redirect to the IdP for `authorize`, with this browser's sign-ins in flight plus it.
fn redirect_to_idp(
    req: &HttpRequest,
    state: &AppState,
    authorize: &AuthorizeRequest,
) -> HttpResponse {
    let mut in_flight = cookies::sign_in_states(req.headers());
    in_flight.push(authorize.state.expose().clone());
    let mut response = see_other(authorize.url.as_str());
    add_cookies(&mut response, [state.policy.sign_in_attempts(&in_flight)]);
    response
}

/// Whether a sign-in that comes back to `return_to` must be a fresh one: the browser is signed
/// in, but too long ago for `/admin`, where it is going. (That is how `/admin` sends such a
/// browser here: as if it were not signed in, coming back to `/admin`.)
fn needs_fresh_sign_in(
    req: &HttpRequest,
    state: &AppState,
    session: Option<&Session>,
    return_to: &str,
) -> bool {
    let admin = state.path("/admin");
    let to_admin = return_to
        .strip_prefix(&admin)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['?', '#']));
    let max_age: MaxAuthAge = max_auth_age(req);
    to_admin && session.is_some_and(|session| !max_age.allows(session, clock::now()))
}

/// `templates/sign_in.html`: one button per identity provider of `COGNITO_IDENTITY_PROVIDERS`.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    layout: Layout,
    /// Each provider's button: its label and the sign-in it starts.
    providers: Vec<(String, String)>,
}

page!(SignInPage);

impl SignInPage {
    fn new(state: &AppState, session: Option<&Session>, request: &SignInRequest) -> Self {
        let providers = state
            .idp
            .identity_providers()
            .iter()
            .map(|name| {
                let mut query = form_urlencoded::Serializer::new(String::new());
                query
                    .append_pair("identity_provider", name)
                    .append_pair("return_to", &request.return_to);
                if let Some(prompt) = &request.prompt {
                    query.append_pair("prompt", prompt);
                }
                let href = format!("{}?{}", state.path("/auth/sign-in"), query.finish());
                (provider_label(name), href)
            })
            .collect();
        Self {
            layout: Layout::new(state, session),
            providers,
        }
    }
}

/// The button text for a provider; `COGNITO` is the user pool's own accounts.
fn provider_label(name: &str) -> String {
    match name {
        "COGNITO" => "Sign in with a username and password".to_owned(),
        other => format!("Sign in with {other}"),
    }
}

/// GET /auth/callback: the IdP sends the browser back here with a code (or an error).
pub async fn callback(
    req: HttpRequest,
    // Looked up for the error page's header; the sessions replaced are read below.
    _: MaybeSignedIn,
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let in_flight = cookies::sign_in_states(req.headers());
    // The attempt answered is used up, whatever the outcome; the others stay in flight. An
    // answer for no attempt of this browser's changes nothing.
    let sign_in_cookie = sign_in::is_for_this_browser(&query, &in_flight).then(|| {
        let others: Vec<String> = in_flight
            .iter()
            .filter(|state| query.state.as_ref() != Some(*state))
            .cloned()
            .collect();
        state.policy.sign_in_attempts(&others)
    });
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let signed_in = sign_in::complete(
        &state.idp,
        &state.attempts,
        &state.sessions,
        &in_flight,
        &query,
        user_agent,
    )
    .await
    .inspect_err(|error| metrics::sign_in(sign_in_outcome(error)))
    .map_err(|error| AppError::from(error).with_cookies(sign_in_cookie.clone()))?;
    metrics::sign_in("ok");
    // A session the browser had before is over: the new sign-in replaces it. (Under a Strict
    // policy the browser does not send it on this cross-site request; that session then lives
    // on unused until it expires.)
    let earlier = cookies::read_all(req.headers(), SESSION_COOKIE);
    let earlier = &earlier[..earlier.len().min(MAX_SESSION_COOKIES)];
    sign_out_flow::sign_out_earlier(&state.idp, &state.sessions, earlier).await;
    let mut response = if state.policy.same_site() == SameSite::Strict {
        // This request is the end of a navigation that started at the IdP, another site; a
        // redirect would continue it, and the browser would withhold the new Strict session
        // cookie from the next page. A page of our own that moves on starts a same-site one.
        render(&ContinuePage {
            layout: Layout::new(&state, None).private(),
            return_to: signed_in.return_to.clone(),
        })?
    } else {
        see_other(&signed_in.return_to)
    };
    add_cookies(
        &mut response,
        std::iter::once(state.policy.session(signed_in.session_id.expose())).chain(sign_in_cookie),
    );
    Ok(response)
}

/// The `outcome` label of a sign-in that did not complete.
fn sign_in_outcome(error: &SignInError) -> &'static str {
    match error {
        SignInError::Failed(SignInFailure::Cancelled) => "cancelled",
        SignInError::Failed(_) => "refused",
        SignInError::IdpUnreachable(_) => "idp_unreachable",
        SignInError::Internal(_) => "error",
    }
}

/// `templates/continue.html`: moves the browser on to `return_to` (SameSite=Strict only).
#[derive(Template)]
#[template(path = "continue.html")]
pub struct ContinuePage {
    layout: Layout,
    return_to: String,
}

page!(ContinuePage);

#[derive(Deserialize)]
pub struct SignOutForm {
    csrf_token: Secret<String>,
    /// `sign-in`: "Sign in as someone else", a new sign-in once signed out here and at the IdP.
    then: Option<AfterSignOut>,
}

#[derive(Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum AfterSignOut {
    SignIn,
}

/// POST /auth/sign-out: revokes, deletes the session, expires every cookie, then Cognito's
/// logout. With `then=sign-in`, Cognito's logout goes on to its sign-in page for a new attempt
/// of ours ("Sign in as someone else").
pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    MaybeSignedIn(session): MaybeSignedIn,
    form: web::Form<SignOutForm>,
) -> Result<HttpResponse, AppError> {
    if !same_origin(&req, &state) {
        return Err(AppError::CsrfRejected);
    }
    match &session {
        Some(session)
            if constant_time_eq(form.csrf_token.expose(), session.csrf_token.expose()) =>
        {
            sign_out_flow::sign_out(&state.idp, &state.sessions, session).await?;
        }
        Some(_) => return Err(AppError::CsrfRejected),
        // Already signed out (another tab, or an expired session): still leave a clean jar.
        None => {}
    }
    if form.then == Some(AfterSignOut::SignIn) {
        let return_to = return_to::or_default(None, &state.base_url);
        let authorize =
            sign_in::begin_as_someone_else(&state.idp, &state.attempts, return_to).await?;
        return Ok(signed_out_to_sign_in(&state, &authorize));
    }
    let home = state.path("/");
    let location = match session {
        Some(_) => state.idp.logout_url().as_str(),
        None => home.as_str(),
    };
    let mut response = see_other(location);
    add_cookies(&mut response, state.policy.expire_everywhere());
    Ok(response)
}

/// Every cookie expired but the sign-in cookie of the policy's own scope, which now holds
/// `authorize`'s `state` alone; then on to the IdP.
fn signed_out_to_sign_in(state: &AppState, authorize: &AuthorizeRequest) -> HttpResponse {
    let scope = state.policy.scope();
    let rewritten = |cookie: &Cookie<'_>| {
        cookie.name() == SIGN_IN_COOKIE
            && cookie.domain() == scope.domain.as_deref()
            && cookie.path() == Some(scope.path.as_str())
    };
    let expired = state
        .policy
        .expire_everywhere()
        .into_iter()
        .filter(|cookie| !rewritten(cookie));
    let sign_in = state
        .policy
        .sign_in_attempts(std::slice::from_ref(authorize.state.expose()));
    let mut response = see_other(authorize.url.as_str());
    add_cookies(&mut response, expired.chain([sign_in]));
    response
}

/// The request's `Origin`, when the browser sent one, is the app's own.
pub(super) fn same_origin(req: &HttpRequest, state: &AppState) -> bool {
    match req.headers().get(header::ORIGIN) {
        None => true,
        Some(origin) => origin
            .to_str()
            .is_ok_and(|origin| origin == state.base_url.origin().ascii_serialization()),
    }
}
