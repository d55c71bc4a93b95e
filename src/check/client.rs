//! What `COGNITO_DOMAIN`'s endpoints say about this app client: authorize, asked for its
//! `redirect_uri` (no redirect followed), and the token endpoint, offered a code that cannot
//! exist.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde::Deserialize;
use url::Url;

use super::{Check, Target, answered_nothing, describe, printable, without_query};

/// Asks the authorize endpoint for this client and `redirect_uri`, following no redirect, and
/// reads where it sends the browser: to the pool's `/login` (or back to `redirect_uri`) when it
/// accepts them, to its `/error` page when it does not.
pub(super) async fn check_authorize(http: &reqwest::Client, target: &Target<'_>) -> Check {
    const SUBJECT: &str = "redirect_uri";
    if target.port_unknown {
        return Check::warning(
            SUBJECT,
            "not checked: APP_BASE_URL has port 0, so the callback URL is known only once the \
             app has bound its port"
                .into(),
        );
    }
    let mut url = target.endpoint("/oauth2/authorize");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &target.cognito.client_id)
        .append_pair("redirect_uri", target.redirect_uri.as_str())
        .append_pair("scope", &target.scopes.join(" "))
        .append_pair("state", "check");
    let response = match http.get(url.clone()).send().await {
        Ok(response) => response,
        Err(error) => {
            return Check::unanswered(
                SUBJECT,
                format!(
                    "{} could not be reached ({})",
                    without_query(&url),
                    describe(&error)
                ),
                "COGNITO_DOMAIN",
            );
        }
    };
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| url.join(value).ok());
    match (status, location) {
        (status, Some(location)) if status.is_redirection() => authorize_verdict(target, &location),
        (status, _) if answered_nothing(status) => Check::unanswered(
            SUBJECT,
            format!("{} answered {status}", without_query(&url)),
            "COGNITO_DOMAIN",
        ),
        (StatusCode::NOT_FOUND, _) => Check::failed(
            SUBJECT,
            format!(
                "{} answered 404: COGNITO_DOMAIN is not the user pool's domain",
                without_query(&url)
            ),
            "COGNITO_DOMAIN",
        ),
        (status, _) => Check::warning(
            SUBJECT,
            format!(
                "{} answered {status} instead of a redirect; sign-in may not work",
                without_query(&url)
            ),
        ),
    }
}

/// What the authorize endpoint's redirect to `location` says about the client and callback.
fn authorize_verdict(target: &Target<'_>, location: &Url) -> Check {
    const SUBJECT: &str = "redirect_uri";
    let client_id = &target.cognito.client_id;
    let redirect_uri = target.redirect_uri.as_str();
    let error = location
        .query_pairs()
        .find(|(name, _)| name == "error")
        .map(|(_, value)| printable(&value));
    let on_domain = location.origin() == target.cognito.domain.origin();
    let back_to_app = location.origin() == target.redirect_uri.origin()
        && location.path() == target.redirect_uri.path();
    match (on_domain, back_to_app, location.path(), error.as_deref()) {
        (_, true, _, None) => Check::ok(
            SUBJECT,
            format!("app client {client_id} accepts {redirect_uri}"),
        ),
        (_, true, _, Some("invalid_scope")) => Check::failed(
            SUBJECT,
            format!(
                "app client {client_id} does not allow the scopes {} (invalid_scope)",
                target.scopes.join(" ")
            ),
            "COGNITO_SCOPES",
        ),
        (_, true, _, Some("unauthorized_client")) => Check::failed(
            SUBJECT,
            format!(
                "app client {client_id} may not use the authorization code grant \
                 (unauthorized_client): allow it on the app client"
            ),
            "COGNITO_CLIENT_ID",
        ),
        (_, true, _, Some(other)) => Check::failed(
            SUBJECT,
            format!("the authorize endpoint refused app client {client_id} ({other})"),
            "COGNITO_CLIENT_ID",
        ),
        (true, false, "/login", _) => Check::ok(
            SUBJECT,
            format!("app client {client_id} accepts {redirect_uri}"),
        ),
        (true, false, "/error", Some("redirect_mismatch")) => Check::failed(
            SUBJECT,
            format!(
                "Cognito refused {redirect_uri} for app client {client_id} (redirect_mismatch): \
                 the client must exist and list exactly this callback URL"
            ),
            "APP_BASE_URL or COGNITO_CLIENT_ID",
        ),
        (true, false, "/error", other) => Check::failed(
            SUBJECT,
            format!(
                "Cognito refused app client {client_id} ({})",
                other.unwrap_or("no reason given")
            ),
            "COGNITO_CLIENT_ID",
        ),
        _ => Check::warning(
            SUBJECT,
            format!(
                "the authorize endpoint sent the browser to {}, neither the pool's /login nor \
                 redirect_uri",
                without_query(location)
            ),
        ),
    }
}

/// Offers the token endpoint a code that cannot exist, authenticated as the app: `invalid_grant`
/// means the client's credentials passed, `invalid_client` that they did not.
pub(super) async fn check_client(http: &reqwest::Client, target: &Target<'_>) -> Check {
    const SUBJECT: &str = "client";
    let url = target.endpoint("/oauth2/token");
    let cognito = target.cognito;
    let verifier = crate::secrets::random_token(32);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", "cognito-web-check"),
        ("redirect_uri", target.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let mut request = http.post(url.clone());
    match &cognito.client_secret {
        Some(secret) => request = request.basic_auth(&cognito.client_id, Some(secret.expose())),
        None => form.push(("client_id", &cognito.client_id)),
    }
    let response = match request.form(&form).send().await {
        Ok(response) => response,
        Err(error) => {
            return Check::unanswered(
                SUBJECT,
                format!("{url} could not be reached ({})", describe(&error)),
                "COGNITO_DOMAIN",
            );
        }
    };
    let status = response.status();
    if answered_nothing(status) {
        return Check::unanswered(
            SUBJECT,
            format!("{url} answered {status}"),
            "COGNITO_DOMAIN",
        );
    }
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
    }
    let error = response.json::<ErrorBody>().await.map(|body| body.error);
    match (status, error.as_deref()) {
        (_, Ok("invalid_grant")) => Check::ok(
            SUBJECT,
            "the token endpoint accepts the app client's credentials".into(),
        ),
        (_, Ok("invalid_client")) if cognito.client_secret.is_some() => Check::failed(
            SUBJECT,
            format!(
                "the token endpoint refused app client {} with its secret (invalid_client)",
                cognito.client_id
            ),
            "COGNITO_CLIENT_ID or COGNITO_CLIENT_SECRET",
        ),
        (_, Ok("invalid_client")) => Check::failed(
            SUBJECT,
            format!(
                "the token endpoint refused app client {} without a secret (invalid_client); a \
                 client with a secret needs it",
                cognito.client_id
            ),
            "COGNITO_CLIENT_ID or COGNITO_CLIENT_SECRET",
        ),
        (StatusCode::NOT_FOUND, _) => Check::failed(
            SUBJECT,
            format!("{url} answered 404: COGNITO_DOMAIN is not the user pool's domain"),
            "COGNITO_DOMAIN",
        ),
        (status, Ok(other)) => Check::warning(
            SUBJECT,
            format!(
                "the token endpoint answered {status} {}, not invalid_grant, to a made-up code",
                printable(other)
            ),
        ),
        (status, Err(_)) => Check::warning(
            SUBJECT,
            format!("the token endpoint answered {status} without an OAuth error"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Outcome;
    use super::super::tests::config;
    use super::*;
    use crate::config::IdpConfig;

    fn verdict(location: &str) -> Check {
        let config = config();
        let IdpConfig::Cognito(cognito) = &config.idp else {
            unreachable!()
        };
        authorize_verdict(
            &Target::new(&config, cognito),
            &Url::parse(location).unwrap(),
        )
    }

    #[test]
    fn the_authorize_endpoints_redirect_tells_which_setting_is_wrong() {
        let domain = "https://myapp.auth.eu-west-1.amazoncognito.com";
        let callback = "https://app.example.com/auth/callback";
        let cases = [
            (
                format!("{domain}/login?client_id=1example23456789"),
                Outcome::Ok,
                None,
            ),
            (
                format!("{callback}?code=abc&state=check"),
                Outcome::Ok,
                None,
            ),
            (
                format!("{domain}/error?error=redirect_mismatch&client_id=x"),
                Outcome::Failed,
                Some("APP_BASE_URL or COGNITO_CLIENT_ID"),
            ),
            (
                format!("{domain}/error?error=invalid_request"),
                Outcome::Failed,
                Some("COGNITO_CLIENT_ID"),
            ),
            (
                format!("{callback}?error=invalid_scope&state=check"),
                Outcome::Failed,
                Some("COGNITO_SCOPES"),
            ),
            (
                format!("{callback}?error=unauthorized_client&state=check"),
                Outcome::Failed,
                Some("COGNITO_CLIENT_ID"),
            ),
            (
                "https://accounts.google.com/o/oauth2/auth?x=1".to_owned(),
                Outcome::Warning,
                None,
            ),
        ];

        for (location, outcome, setting) in cases {
            let check = verdict(&location);

            assert_eq!(
                (check.outcome, check.setting),
                (outcome, setting),
                "{location}: {check}"
            );
        }
    }
}
