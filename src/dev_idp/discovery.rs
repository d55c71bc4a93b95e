//! The issuer's documents: `{issuer}/.well-known/openid-configuration` with the fields Cognito
//! publishes, and `{issuer}/.well-known/jwks.json` with every key, old ones included.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::http::{State, json_response};

/// GET {issuer}/.well-known/openid-configuration, with the fields Cognito publishes.
pub async fn discovery(req: HttpRequest, state: State) -> HttpResponse {
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
pub async fn jwks(state: State) -> HttpResponse {
    state.count("jwks");
    json_response(StatusCode::OK, &state.keys().jwks())
}
