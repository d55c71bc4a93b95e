//! What lives under `COGNITO_ISSUER`: the discovery document (the issuer it names, the scopes
//! it supports, where its endpoints are) and the keys ID tokens are verified with.

use reqwest::StatusCode;
use serde::Deserialize;
use url::Url;

use super::{Check, Target, answered_nothing, describe};

/// The fields of the discovery document the checks read.
#[derive(Deserialize)]
struct Discovery {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    scopes_supported: Option<Vec<String>>,
}

/// `{issuer}/.well-known/openid-configuration`: it exists, names this issuer, supports the
/// scopes asked for, and has its endpoints on `COGNITO_DOMAIN`'s host.
pub(super) async fn check_discovery(http: &reqwest::Client, target: &Target<'_>) -> Vec<Check> {
    const SUBJECT: &str = "discovery";
    let url = format!("{}/.well-known/openid-configuration", target.issuer());
    let document: Discovery = match get_json(http, &url).await {
        Ok(document) => document,
        Err(problem) => return vec![problem.check(SUBJECT, &url, "COGNITO_ISSUER")],
    };
    let mut checks = vec![Check::ok(SUBJECT, format!("{url} answers"))];
    checks.push(match &document.issuer {
        Some(issuer) if issuer == target.issuer() => Check::ok(
            "issuer",
            "the discovery document names COGNITO_ISSUER as its issuer".into(),
        ),
        Some(issuer) => Check::failed(
            "issuer",
            format!(
                "the discovery document names the issuer {issuer:?}, not {:?}; every token would be refused",
                target.issuer()
            ),
            "COGNITO_ISSUER",
        ),
        None => Check::failed(
            "issuer",
            "the discovery document names no issuer".into(),
            "COGNITO_ISSUER",
        ),
    });
    checks.push(check_scopes(
        target.scopes,
        document.scopes_supported.as_deref(),
    ));
    checks.push(check_endpoints(target, &document));
    checks
}

/// The scopes asked for are among `scopes_supported`. A resource server's scope (`api/read`)
/// and `aws.cognito.signin.user.admin` are never listed there, so they are only a warning.
fn check_scopes(asked: &[String], supported: Option<&[String]>) -> Check {
    const SUBJECT: &str = "scopes";
    let Some(supported) = supported else {
        return Check::warning(
            SUBJECT,
            "the discovery document lists no scopes_supported".into(),
        );
    };
    let missing: Vec<&str> = asked
        .iter()
        .map(String::as_str)
        .filter(|scope| !supported.iter().any(|s| s == scope))
        .collect();
    let (custom, unknown): (Vec<&str>, Vec<&str>) = missing
        .iter()
        .partition(|scope| scope.contains('/') || **scope == "aws.cognito.signin.user.admin");
    if !unknown.is_empty() {
        return Check::failed(
            SUBJECT,
            format!(
                "{} not supported by the user pool (it supports {})",
                unknown.join(", "),
                supported.join(", ")
            ),
            "COGNITO_SCOPES",
        );
    }
    if !custom.is_empty() {
        return Check::warning(
            SUBJECT,
            format!(
                "{} not listed in scopes_supported (custom scopes never are; the authorize check \
                 below tells whether the app client allows them)",
                custom.join(", ")
            ),
        );
    }
    Check::ok(SUBJECT, format!("{} supported", asked.join(", ")))
}

/// The authorization and token endpoints are on `COGNITO_DOMAIN`'s host. Another host is only a
/// warning: a pool can have a prefix domain and a custom domain, and both work.
fn check_endpoints(target: &Target<'_>, document: &Discovery) -> Check {
    const SUBJECT: &str = "endpoints";
    let domain = target.cognito.domain.origin();
    let mut elsewhere = Vec::new();
    for (name, endpoint) in [
        ("authorization", &document.authorization_endpoint),
        ("token", &document.token_endpoint),
    ] {
        match endpoint.as_deref().map(Url::parse) {
            Some(Ok(url)) if url.origin() == domain => {}
            Some(Ok(url)) => elsewhere.push(format!(
                "the {name} endpoint is on {}",
                url.origin().ascii_serialization()
            )),
            _ => elsewhere.push(format!("the {name} endpoint is missing or not a URL")),
        }
    }
    if elsewhere.is_empty() {
        return Check::ok(
            SUBJECT,
            "the authorization and token endpoints are on COGNITO_DOMAIN".into(),
        );
    }
    Check::warning(
        SUBJECT,
        format!(
            "{}, not COGNITO_DOMAIN {}: fine when that is another domain of the same pool (a \
             prefix and a custom domain), else set COGNITO_DOMAIN",
            elsewhere.join(" and "),
            domain.ascii_serialization()
        ),
    )
}

/// `{issuer}/.well-known/jwks.json`, where the app takes its keys from, has RS256 keys.
pub(super) async fn check_keys(http: &reqwest::Client, target: &Target<'_>) -> Check {
    const SUBJECT: &str = "keys";
    #[derive(Deserialize)]
    struct Jwks {
        keys: Vec<Jwk>,
    }
    #[derive(Deserialize)]
    struct Jwk {
        kty: Option<String>,
        alg: Option<String>,
        kid: Option<String>,
    }
    let url = format!("{}/.well-known/jwks.json", target.issuer());
    let jwks: Jwks = match get_json(http, &url).await {
        Ok(jwks) => jwks,
        Err(problem) => return problem.check(SUBJECT, &url, "COGNITO_ISSUER"),
    };
    let rs256 = jwks
        .keys
        .iter()
        .filter(|key| {
            key.kty.as_deref() == Some("RSA")
                && key.alg.as_deref() == Some("RS256")
                && key.kid.is_some()
        })
        .count();
    if rs256 == 0 {
        let found: Vec<&str> = jwks
            .keys
            .iter()
            .map(|key| key.alg.as_deref().unwrap_or("no alg"))
            .collect();
        return Check::failed(
            SUBJECT,
            format!(
                "{url} has no RS256 key (found: {}); Cognito signs ID tokens with RS256",
                if found.is_empty() {
                    "none".to_owned()
                } else {
                    found.join(", ")
                }
            ),
            "COGNITO_ISSUER",
        );
    }
    Check::ok(SUBJECT, format!("{url} has {rs256} RS256 keys"))
}

/// Why a document could not be had.
enum Problem {
    Status(StatusCode),
    Unanswered(String),
    Unreadable(String),
}

impl Problem {
    fn check(&self, subject: &'static str, url: &str, setting: &'static str) -> Check {
        match self {
            Self::Status(status) if answered_nothing(*status) => {
                Check::unanswered(subject, format!("{url} answered {status}"), setting)
            }
            Self::Status(status) => Check::failed(
                subject,
                format!("{url} answered {status}: no user pool has this issuer"),
                setting,
            ),
            Self::Unanswered(why) => Check::unanswered(
                subject,
                format!("{url} could not be reached ({why})"),
                setting,
            ),
            Self::Unreadable(why) => Check::failed(
                subject,
                format!("{url} did not answer with the expected JSON ({why})"),
                setting,
            ),
        }
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, Problem> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|error| Problem::Unanswered(describe(&error)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(Problem::Status(status));
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| Problem::Unanswered(describe(&error)))?;
    serde_json::from_slice(&body).map_err(|error| Problem::Unreadable(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::Outcome;
    use super::*;

    #[test]
    fn scopes_outside_scopes_supported_fail_unless_they_are_custom_ones() {
        let supported: Vec<String> = ["openid", "email", "phone", "profile"]
            .map(String::from)
            .into();
        let asked = |scopes: &[&str]| scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>();

        let fine = check_scopes(&asked(&["openid", "email"]), Some(&supported));
        let custom = check_scopes(&asked(&["openid", "api/read"]), Some(&supported));
        let unknown = check_scopes(&asked(&["openid", "emial"]), Some(&supported));
        let unlisted = check_scopes(&asked(&["openid"]), None);

        assert_eq!(fine.outcome, Outcome::Ok);
        assert_eq!(custom.outcome, Outcome::Warning);
        assert_eq!(
            (unknown.outcome, unknown.setting),
            (Outcome::Failed, Some("COGNITO_SCOPES"))
        );
        assert!(
            unknown.message.starts_with("emial not supported"),
            "{unknown}"
        );
        assert_eq!(unlisted.outcome, Outcome::Warning);
    }
}
