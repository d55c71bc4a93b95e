//! What an app does with a user's tokens and managed-login session after sign-in:
//! `GET /oauth2/userInfo`, `POST /oauth2/revoke` and `GET /logout`.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::authorize::check_authorize;
use super::http::{
    Params, State, found, idp_cookie, is_form, json_response, oauth_error, set_cookie, urlencode,
};
use super::state::IdpState;
use super::token::authenticate_client;
use super::tokens;
use super::users::{self, DemoUser};

/// GET /oauth2/userInfo
pub async fn user_info(req: HttpRequest, state: State) -> HttpResponse {
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
pub async fn revoke(req: HttpRequest, state: State, body: web::Bytes) -> HttpResponse {
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

/// GET /logout: clears the managed-login session, then back to a registered sign-out URL, or,
/// in the `redirect_uri` form ("sign out and sign in again"), on to the login page with the
/// authorize parameters it was given, checked as authorize checks them.
pub async fn logout(req: HttpRequest, state: State, params: web::Query<Params>) -> HttpResponse {
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
        if let Err(location) = check_authorize(&state, &params) {
            return found(&location);
        }
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
