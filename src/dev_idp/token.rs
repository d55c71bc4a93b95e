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
use super::rotation::Admission;
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
    let grant = tokens::open_refresh_token(&keys, token)
        .filter(|grant| grant.client_id == client_id && grant.exp > now());
    let Some(grant) = grant else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", None);
    };
    let Some(user) = users::by_sub(&grant.sub) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", None);
    };
    // The rotated token keeps the original's `exp`: Cognito's rotation never lengthens a session.
    let rotated = match state.admit_refresh(&grant) {
        Admission::Refused => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", None),
        Admission::Keep => None,
        Admission::Rotate => Some(RefreshGrant {
            jti: tokens::uuid(),
            ..grant.clone()
        }),
    };
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

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::Duration;

    use super::*;
    use crate::dev_idp::keys::KeySet;
    use crate::dev_idp::{CLIENT_ID, DevClient, DevIdpOptions, users::DEMO_USERS};

    /// RSA keys take a moment to generate: once for these tests.
    fn keys() -> KeySet {
        static KEYS: OnceLock<KeySet> = OnceLock::new();
        KEYS.get_or_init(KeySet::generate).clone()
    }

    fn state(dir: &std::path::Path, rotation: bool) -> IdpState {
        let options = DevIdpOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            access_token_ttl: Duration::from_secs(3600),
            data_dir: dir.to_owned(),
            client: DevClient {
                client_id: CLIENT_ID.to_owned(),
                client_secret: None,
                callback_urls: vec![],
                logout_urls: vec![],
            },
            refresh_rotation: rotation,
            rotation_grace: Duration::ZERO,
            identity_providers: vec![],
        };
        IdpState::new("http://127.0.0.1/pool".into(), &options, keys()).unwrap()
    }

    /// A refresh token of the first demo user that expires at `exp`.
    fn refresh_token(state: &IdpState, exp: i64) -> (RefreshGrant, String) {
        let grant = RefreshGrant {
            jti: tokens::uuid(),
            origin_jti: tokens::uuid(),
            sub: DEMO_USERS[0].sub.to_owned(),
            client_id: CLIENT_ID.to_owned(),
            scope: "openid".to_owned(),
            auth_time: now(),
            exp,
        };
        let token = tokens::seal_refresh_token(&state.keys(), &grant);
        (grant, token)
    }

    async fn refresh(state: &IdpState, token: &str) -> (StatusCode, serde_json::Value) {
        let params = Params::from([
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), token.to_owned()),
        ]);
        let response = refresh_grant(state, CLIENT_ID, &params);
        let status = response.status();
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_rotated_refresh_token_expires_when_the_original_would_have() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path(), true);
        let exp = now() + 1234;
        let (original, token) = refresh_token(&state, exp);

        let (status, body) = refresh(&state, &token).await;
        let (again, refused) = refresh(&state, &token).await;

        assert_eq!(status, StatusCode::OK, "{body}");
        let rotated = body["refresh_token"].as_str().expect("a rotated token");
        let rotated = tokens::open_refresh_token(&state.keys(), rotated).unwrap();
        assert_eq!(
            rotated.exp, exp,
            "the original's expiry, not a new lifetime"
        );
        assert_ne!(rotated.jti, original.jti);
        assert_eq!(
            RefreshGrant {
                jti: original.jti.clone(),
                ..rotated
            },
            original,
            "everything else carries over"
        );
        assert_eq!(
            (again, refused),
            (
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": "invalid_grant"})
            )
        );
    }

    #[tokio::test]
    async fn a_refresh_token_past_its_expiry_is_refused_with_or_without_rotation() {
        let dir = tempfile::tempdir().unwrap();

        for rotation in [false, true] {
            let state = state(dir.path(), rotation);
            let (_, token) = refresh_token(&state, now() - 1);

            let (status, body) = refresh(&state, &token).await;

            assert_eq!(
                (status, body),
                (
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": "invalid_grant"})
                ),
                "rotation {rotation}"
            );
        }
    }
}
