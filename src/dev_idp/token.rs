//! `POST /oauth2/token`: the authorization-code and refresh-token grants, client authentication
//! (Basic or form body, shared with `/oauth2/revoke`), and the token failure switch tests set.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::digest::{SHA256, digest};

use super::control::TokenFailure;
use super::http::{Params, State, is_form, json_response, oauth_error};
use super::state::IdpState;
use super::tokens::{self, Mint, REFRESH_TOKEN_TTL_SECONDS, RefreshGrant};
use super::users;
use crate::clock::now;
use crate::secrets::constant_time_eq;

/// POST /oauth2/token
pub async fn token(req: HttpRequest, state: State, body: web::Bytes) -> HttpResponse {
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
        if verifier.is_empty() || !constant_time_eq(&computed, challenge.expose()) {
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
    let groups = state.groups_of(user);
    let mint = Mint {
        issuer: &state.issuer,
        client_id,
        user,
        groups: &groups,
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
    let groups = state.groups_of(user);
    let mint = Mint {
        issuer: &state.issuer,
        client_id,
        user,
        groups: &groups,
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
pub fn authenticate_client(
    req: &HttpRequest,
    state: &IdpState,
    params: &Params,
) -> Result<String, ()> {
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
