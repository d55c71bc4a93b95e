//! Every setting, read once from the environment and parsed into the type the code uses: the app
//! itself (`app`), the identity provider (`idp`), what the app asks of it (`oauth`) and the cookie
//! policy (`cookies`). Nothing downstream re-parses strings; a bad value is a `ConfigError` naming
//! the setting.

mod app;
mod cookies;
mod idp;
mod oauth;
mod service;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::cookies::CookieSettings;
use crate::secrets::Secret;

pub use idp::{CognitoConfig, DevIdpConfig, IdpConfig};
pub use service::LogFormat;

/// A setting with a bad value: which one, what is wrong, and an example of a good one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{setting}: {problem} (e.g. {setting}={example})")]
pub struct ConfigError {
    pub setting: &'static str,
    pub problem: String,
    pub example: &'static str,
}

/// The application's settings, typed.
#[derive(Debug, Clone)]
pub struct Config {
    /// Public URL of the app: an origin, or an origin and a path prefix the app is served under
    /// (always ending in `/`); `redirect_uri` is `{base_url}auth/callback`.
    pub base_url: Url,
    /// Socket address the app binds.
    pub listen: SocketAddr,
    /// SQLite or PostgreSQL database URL; a PostgreSQL one may carry a password, so it is kept
    /// out of `Debug`.
    pub database_url: Secret<String>,
    /// Where development keys and secrets are kept (the dev secret, the dev IdP's keys): the
    /// SQLite file's folder, or `data` in the working folder with PostgreSQL.
    pub data_dir: PathBuf,
    /// Key material for encrypting tokens at rest. `None` in development: generated into the
    /// data folder at start-up.
    pub app_secret: Option<Secret<Vec<u8>>>,
    /// Which identity provider to use: real Cognito, or the built-in development IdP.
    pub idp: IdpConfig,
    /// OAuth scopes asked for at sign-in.
    pub scopes: Vec<String>,
    /// Where Cognito's logout endpoint sends the browser back to.
    pub logout_uri: Url,
    /// Identity providers configured on the app client (`Google`, `CorporateSAML`; Cognito's own
    /// pool is `COGNITO`), one sign-in button each. Empty when unset.
    pub identity_providers: Vec<String>,
    /// A fixed `login_hint` passed to the authorize endpoint. `None` when unset.
    pub login_hint: Option<String>,
    /// The attributes every cookie gets.
    pub cookies: CookieSettings,
    /// How old a sign-in may be for `/admin`; an older one must sign in again. `None`: no limit.
    pub admin_max_auth_age: Option<Duration>,
    /// The `tracing` filter (`RUST_LOG`).
    pub log_filter: String,
    /// How log lines are written: text for people, or one JSON object a line.
    pub log_format: LogFormat,
    /// Where Prometheus metrics are served (`GET /metrics`), never on the app's own port.
    /// `None`: no metrics listener, and nothing is recorded.
    pub metrics_listen: Option<SocketAddr>,
    /// How long a shutdown (SIGTERM, Ctrl-C) may take to finish the requests and refreshes in
    /// flight before the app stops anyway.
    pub shutdown_grace: Duration,
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests can pass a map instead of the environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let base_url = app::parse_base_url(get("APP_BASE_URL"))?;
        let listen = app::parse_listen(get("APP_LISTEN"))?;
        let database_url = app::parse_database_url(get("DATABASE_URL"))?;
        let data_dir = app::data_dir(&database_url);
        let idp = idp::parse_idp(&get)?;
        let app_secret = app::parse_app_secret(get("APP_SECRET"), &idp)?;
        let scopes = oauth::parse_scopes(get("COGNITO_SCOPES"))?;
        let logout_uri = oauth::parse_logout_uri(get("COGNITO_LOGOUT_URI"), &base_url)?;
        let identity_providers =
            oauth::parse_identity_providers(get("COGNITO_IDENTITY_PROVIDERS"))?;
        let login_hint = oauth::parse_login_hint(get("COGNITO_LOGIN_HINT"))?;
        let cookies = cookies::parse_cookies(&get, &base_url)?;
        let admin_max_auth_age = app::parse_admin_max_auth_age(get("ADMIN_MAX_AUTH_AGE"))?;
        let log_filter = app::parse_log_filter(get("RUST_LOG"))?;
        let log_format = service::parse_log_format(get("LOG_FORMAT"))?;
        let metrics_listen = service::parse_metrics_listen(get("METRICS_LISTEN"))?;
        let shutdown_grace = service::parse_shutdown_grace(get("SHUTDOWN_GRACE_SECONDS"))?;

        Ok(Self {
            base_url,
            listen,
            database_url: Secret::new(database_url),
            data_dir,
            app_secret,
            idp,
            scopes,
            logout_uri,
            identity_providers,
            login_hint,
            cookies,
            admin_max_auth_age,
            log_filter,
            log_format,
            metrics_listen,
            shutdown_grace,
        })
    }

    /// The OAuth `redirect_uri`: `{APP_BASE_URL}/auth/callback`.
    pub fn redirect_uri(&self) -> Url {
        self.base_url
            .join("auth/callback")
            .expect("a base URL joins a path")
    }

    /// The path prefix the app is served under: `""` at the root, else e.g. `"/app"`.
    pub fn base_path(&self) -> &str {
        self.base_url.path().trim_end_matches('/')
    }
}

fn error(setting: &'static str, problem: String, example: &'static str) -> ConfigError {
    ConfigError {
        setting,
        problem,
        example,
    }
}

/// An absolute http or https URL with a host and no credentials.
fn parse_http_url(
    setting: &'static str,
    value: &str,
    example: &'static str,
) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|problem| {
        error(
            setting,
            format!("{value:?} is not a URL: {problem}"),
            example,
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(error(
            setting,
            format!("{value:?} is not an http or https URL"),
            example,
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(error(
            setting,
            format!("{value:?} must not carry credentials"),
            example,
        ));
    }
    Ok(url)
}

/// An IP address and port; `default` when unset, and the example when not.
fn parse_socket_addr(
    setting: &'static str,
    value: Option<String>,
    default: &'static str,
) -> Result<SocketAddr, ConfigError> {
    let value = value.unwrap_or_else(|| default.into());
    value.parse().map_err(|_| {
        error(
            setting,
            format!("{value:?} is not an IP address and port"),
            default,
        )
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use actix_web::cookie::SameSite;
    use proptest::prelude::*;

    use super::*;

    /// Every setting the app reads.
    const SETTINGS: [&str; 28] = [
        "APP_BASE_URL",
        "APP_LISTEN",
        "DATABASE_URL",
        "APP_SECRET",
        "COGNITO_DOMAIN",
        "COGNITO_ISSUER",
        "COGNITO_CLIENT_ID",
        "COGNITO_CLIENT_SECRET",
        "COGNITO_SCOPES",
        "COGNITO_LOGOUT_URI",
        "COGNITO_IDENTITY_PROVIDERS",
        "COGNITO_LOGIN_HINT",
        "COOKIE_DOMAIN",
        "COOKIE_PATH",
        "COOKIE_SAME_SITE",
        "COOKIE_SECURE",
        "COOKIE_MAX_AGE",
        "COOKIE_LEGACY_SCOPES",
        "DEV_IDP_LISTEN",
        "DEV_IDP_ACCESS_TOKEN_TTL",
        "DEV_IDP_REFRESH_ROTATION",
        "DEV_IDP_ROTATION_GRACE_SECONDS",
        "DEV_IDP_CLIENT_SECRET",
        "ADMIN_MAX_AUTH_AGE",
        "RUST_LOG",
        "LOG_FORMAT",
        "METRICS_LISTEN",
        "SHUTDOWN_GRACE_SECONDS",
    ];

    proptest! {
        #[test]
        fn any_values_give_a_config_or_one_line_naming_a_setting(
            values in proptest::collection::vec(proptest::option::of(any::<String>()), SETTINGS.len())
        ) {
            let vars: HashMap<&str, String> =
                SETTINGS.iter().zip(values).filter_map(|(name, value)| Some((*name, value?))).collect();

            if let Err(error) = Config::from_lookup(|name| vars.get(name).cloned()) {
                let line = error.to_string();
                prop_assert!(SETTINGS.contains(&error.setting), "{}", line);
                prop_assert!(line.starts_with(error.setting));
                prop_assert!(!line.contains('\n') && !line.contains('\r'), "{:?}", line);
            }
        }
    }

    /// Parses `vars` as the only settings there are.
    pub(super) fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    /// Checks that every case is refused with one line naming its setting and giving an example.
    pub(super) fn assert_each_refused(cases: Vec<(&str, Vec<(&str, &str)>)>) {
        for (setting, vars) in cases {
            let result = parse(&vars);

            let Err(error) = result else {
                panic!("{vars:?} should be refused for {setting}")
            };
            let line = error.to_string();
            assert_eq!(error.setting, setting, "{vars:?} gave {line}");
            assert!(line.starts_with(&format!("{setting}: ")), "{line}");
            assert!(line.contains(&format!("(e.g. {setting}=")), "{line}");
            assert!(!line.contains('\n'), "one line: {line}");
        }
    }

    pub(super) const SECRET: &str =
        "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMw==";
    pub(super) const COGNITO: [(&str, &str); 4] = [
        (
            "COGNITO_DOMAIN",
            "https://myapp.auth.eu-west-1.amazoncognito.com",
        ),
        (
            "COGNITO_ISSUER",
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
        ),
        ("COGNITO_CLIENT_ID", "1example23456789"),
        ("APP_SECRET", SECRET),
    ];

    /// The Cognito settings above without `name`.
    pub(super) fn cognito_without(name: &str) -> Vec<(&'static str, &'static str)> {
        COGNITO
            .iter()
            .copied()
            .filter(|(k, _)| *k != name)
            .collect()
    }

    #[test]
    fn a_postgres_url_is_taken_and_keeps_development_files_in_data() {
        let url = "postgres://app:hunter2secret@db.internal:5432/app?sslmode=require";

        let config = parse(&[("DATABASE_URL", url)]);

        if cfg!(feature = "postgres") {
            let config = config.unwrap();
            assert_eq!(config.database_url.expose(), url);
            assert_eq!(config.data_dir, PathBuf::from("data"));
            let socket = "postgres:///app?host=/run/postgresql";
            assert!(
                parse(&[("DATABASE_URL", socket)]).is_ok(),
                "a host from ?host="
            );
        } else {
            let error = config.unwrap_err().to_string();
            assert!(error.contains("postgres feature"), "{error}");
            assert!(
                !error.contains("hunter2"),
                "the password is not shown: {error}"
            );
        }
    }

    #[test]
    fn no_settings_at_all_gives_the_documented_defaults() {
        let config = parse(&[]).unwrap();

        assert_eq!(config.base_url.as_str(), "http://localhost:8080/");
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.database_url.expose(), "sqlite://data/app.db");
        assert_eq!(config.data_dir, PathBuf::from("data"));
        assert!(config.app_secret.is_none());
        assert_eq!(config.scopes, ["openid", "email", "profile"]);
        assert_eq!(config.logout_uri.as_str(), "http://localhost:8080/");
        assert!(config.identity_providers.is_empty());
        assert_eq!(config.login_hint, None);
        assert_eq!(config.admin_max_auth_age, None);
        assert_eq!(
            config.redirect_uri().as_str(),
            "http://localhost:8080/auth/callback"
        );
        assert_eq!(config.log_filter, "info");
        let IdpConfig::Development(dev) = &config.idp else {
            panic!("expected the development IdP")
        };
        assert_eq!(dev.listen, "127.0.0.1:9090".parse().unwrap());
        assert_eq!(dev.access_token_ttl, Duration::from_secs(3600));
        assert!(!dev.refresh_rotation);
        assert_eq!(dev.rotation_grace, Duration::ZERO);
        assert_eq!(
            config.cookies,
            CookieSettings {
                domain: None,
                path: "/".into(),
                same_site: SameSite::Lax,
                secure: false,
                max_age: Duration::from_secs(2_592_000),
                legacy_scopes: vec![],
            }
        );
    }
}
