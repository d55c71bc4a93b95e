//! The issuer's documents: `{issuer}/.well-known/openid-configuration` with the fields Cognito
//! publishes, and `{issuer}/.well-known/jwks.json` with every key, old ones included. A test can
//! make them answer wrongly ([`DiscoveryFault`]), to exercise a configuration checker.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::http::{State, json_response};

/// An issuer that is not this IdP's, for [`DiscoveryFault::WrongIssuer`].
const FOREIGN_ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Elsewhere";

/// How the issuer's documents should be wrong, for tests of a configuration checker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryFault {
    /// Both documents are right.
    #[default]
    None,
    /// `openid-configuration` answers 404, as for a pool that does not exist.
    NotFound,
    /// `openid-configuration` names another issuer than the one it is published under.
    WrongIssuer,
    /// `jwks.json` publishes its keys as RS512 only, so no key verifies an RS256 token.
    NoRs256Keys,
}

/// GET {issuer}/.well-known/openid-configuration, with the fields Cognito publishes.
pub async fn discovery(req: HttpRequest, state: State) -> HttpResponse {
    let fault = state.discovery_fault();
    if fault == DiscoveryFault::NotFound {
        return HttpResponse::NotFound().finish();
    }
    let issuer = match fault {
        DiscoveryFault::WrongIssuer => FOREIGN_ISSUER,
        _ => state.issuer.as_str(),
    };
    let conn = req.connection_info();
    let domain = format!("{}://{}", conn.scheme(), conn.host());
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "authorization_endpoint": format!("{domain}/oauth2/authorize"),
            "end_session_endpoint": format!("{domain}/logout"),
            "id_token_signing_alg_values_supported": ["RS256"],
            "issuer": issuer,
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
    let mut jwks = state.keys().jwks();
    if state.discovery_fault() == DiscoveryFault::NoRs256Keys
        && let Some(keys) = jwks["keys"].as_array_mut()
    {
        keys.iter_mut().for_each(|key| key["alg"] = "RS512".into());
    }
    json_response(StatusCode::OK, &jwks)
}
