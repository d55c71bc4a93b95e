//! A configuration checked against the IdP it names: the issuer's discovery document and keys,
//! the scopes, the endpoints' host, and what the authorize and token endpoints say about this app
//! client and its `redirect_uri`. `cognito-web --check` prints the results; start-up runs the
//! same checks and stops only on a definite misconfiguration.
//!
//! `issuer` checks what lives under `COGNITO_ISSUER` (discovery, keys); `client` asks
//! `COGNITO_DOMAIN`'s authorize and token endpoints about this app client.

mod client;
mod issuer;

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use url::Url;

use crate::auth::http;
use crate::config::{CognitoConfig, Config, IdpConfig};

/// What one check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Worth knowing, but sign-in may well work.
    Warning,
    /// A definite misconfiguration: sign-in cannot work until the setting changes.
    Failed,
    /// The IdP did not answer (or answered 5xx): an outage, or a host that is wrong.
    Unanswered,
}

/// One check: what was checked, what it found, and the setting to change when it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub outcome: Outcome,
    /// What was checked, e.g. `discovery`, `redirect_uri`.
    pub subject: &'static str,
    pub message: String,
    /// The setting (or settings) that fix a failure, e.g. `COGNITO_ISSUER`.
    pub setting: Option<&'static str>,
}

impl Check {
    fn ok(subject: &'static str, message: String) -> Self {
        Self::new(Outcome::Ok, subject, message, None)
    }

    fn warning(subject: &'static str, message: String) -> Self {
        Self::new(Outcome::Warning, subject, message, None)
    }

    fn failed(subject: &'static str, message: String, setting: &'static str) -> Self {
        Self::new(Outcome::Failed, subject, message, Some(setting))
    }

    fn unanswered(subject: &'static str, message: String, setting: &'static str) -> Self {
        Self::new(Outcome::Unanswered, subject, message, Some(setting))
    }

    fn new(
        outcome: Outcome,
        subject: &'static str,
        message: String,
        setting: Option<&'static str>,
    ) -> Self {
        Self {
            outcome,
            subject,
            message,
            setting,
        }
    }

    /// Whether `--check` counts it as a failure: it could not confirm that sign-in works.
    pub fn fails(&self) -> bool {
        matches!(self.outcome, Outcome::Failed | Outcome::Unanswered)
    }
}

/// The line `--check` prints: `ok   …`, `warn …`, or `FAIL …: the problem; set SETTING`.
impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.outcome {
            Outcome::Ok => "ok  ",
            Outcome::Warning => "warn",
            Outcome::Failed | Outcome::Unanswered => "FAIL",
        };
        write!(f, "{tag} {}: {}", self.subject, self.message)?;
        match self.setting {
            Some(setting) if self.fails() => write!(f, "; set {setting}"),
            _ => Ok(()),
        }
    }
}

/// Runs every check `config` allows: with Cognito configured, against the user pool; with the
/// development IdP, the settings only (they have been read by then).
pub async fn run(config: &Config) -> Vec<Check> {
    let IdpConfig::Cognito(cognito) = &config.idp else {
        return vec![Check::ok(
            "settings",
            "read; no COGNITO_* setting is set, so the development IdP is used and there is no \
             identity provider to check"
                .into(),
        )];
    };
    let settings = Check::ok(
        "settings",
        format!(
            "read; the user pool at {} with app client {}",
            cognito.issuer, cognito.client_id
        ),
    );
    let http = match http::client() {
        Ok(http) => http,
        Err(error) => {
            return vec![
                settings,
                Check::failed(
                    "http",
                    format!("no HTTP client could be built ({error})"),
                    "nothing (a system problem)",
                ),
            ];
        }
    };
    let target = Target::new(config, cognito);
    // Independent requests, so an IdP that does not answer costs one timeout, not four.
    let (discovery, keys, authorize, client) = tokio::join!(
        issuer::check_discovery(&http, &target),
        issuer::check_keys(&http, &target),
        client::check_authorize(&http, &target),
        client::check_client(&http, &target),
    );
    std::iter::once(settings)
        .chain(discovery)
        .chain([keys, authorize, client])
        .collect()
}

/// The checks start-up runs, with Cognito configured: a definite misconfiguration is an error
/// naming the setting; an IdP that does not answer, and every warning, is logged and start-up
/// goes on (an outage must not become a crash loop).
pub async fn before_start_up(config: &Config) -> anyhow::Result<()> {
    if !matches!(config.idp, IdpConfig::Cognito(_)) {
        return Ok(());
    }
    let checks = run(config).await;
    if let Some(failed) = checks.iter().find(|c| c.outcome == Outcome::Failed) {
        let line = failed.to_string();
        anyhow::bail!("{}", line.trim_start_matches("FAIL "));
    }
    for check in &checks {
        match check.outcome {
            Outcome::Ok | Outcome::Failed => {}
            Outcome::Warning => tracing::warn!(check = check.subject, "{}", check.message),
            Outcome::Unanswered => tracing::warn!(
                check = check.subject,
                "{}; starting anyway, sign-in needs it to answer",
                check.message
            ),
        }
    }
    Ok(())
}

/// What the checks compare the IdP's answers with.
struct Target<'a> {
    cognito: &'a CognitoConfig,
    redirect_uri: Url,
    scopes: &'a [String],
    /// `APP_BASE_URL` with port 0 (tests): the real callback URL is known only once bound.
    port_unknown: bool,
}

impl<'a> Target<'a> {
    fn new(config: &'a Config, cognito: &'a CognitoConfig) -> Self {
        Self {
            cognito,
            redirect_uri: config.redirect_uri(),
            scopes: &config.scopes,
            port_unknown: config.base_url.port() == Some(0),
        }
    }

    fn issuer(&self) -> &str {
        self.cognito.issuer.as_str()
    }

    fn endpoint(&self, path: &str) -> Url {
        let mut url = self.cognito.domain.clone();
        url.set_path(path);
        url
    }
}

/// A status that says nothing about the configuration: the IdP failed, or is busy.
fn answered_nothing(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

/// A request error in a few words: no answer in time, or why no connection was made.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        let seconds = Duration::as_secs(&http::REQUEST_TIMEOUT);
        return format!("no answer within {seconds} s");
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// `url` without its query, which may be long and is ours anyway.
fn without_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

/// An error code from the IdP, cut to the characters OAuth error codes use.
fn printable(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Cognito settings as a forker writes them, for the tests of each check.
    pub fn config() -> Config {
        let vars = [
            ("APP_BASE_URL", "https://app.example.com"),
            (
                "COGNITO_DOMAIN",
                "https://myapp.auth.eu-west-1.amazoncognito.com",
            ),
            (
                "COGNITO_ISSUER",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
            ),
            ("COGNITO_CLIENT_ID", "1example23456789"),
            (
                "APP_SECRET",
                "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMw==",
            ),
        ];
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
        .unwrap()
    }

    #[test]
    fn a_check_prints_as_one_line_that_names_the_setting_when_it_fails() {
        let ok = Check::ok("keys", "3 RS256 keys".into());
        let failed = Check::failed("issuer", "another issuer".into(), "COGNITO_ISSUER");
        let unanswered = Check::unanswered("keys", "no answer".into(), "COGNITO_ISSUER");
        let warning = Check::warning("endpoints", "elsewhere".into());

        assert_eq!(ok.to_string(), "ok   keys: 3 RS256 keys");
        assert_eq!(
            failed.to_string(),
            "FAIL issuer: another issuer; set COGNITO_ISSUER"
        );
        assert_eq!(
            unanswered.to_string(),
            "FAIL keys: no answer; set COGNITO_ISSUER"
        );
        assert_eq!(warning.to_string(), "warn endpoints: elsewhere");
        assert!(!ok.fails() && !warning.fails() && failed.fails() && unanswered.fails());
    }
}
