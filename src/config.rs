//! Every setting of SPEC.md, read once from the environment and parsed into the type the code uses.
//! Nothing downstream re-parses strings; a bad value is a `ConfigError` naming the setting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use actix_web::cookie::SameSite;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tracing_subscriber::EnvFilter;
use url::Url;

use crate::cookies::{CookieScope, CookieSettings, domain_covers, path_covers};
use crate::secrets::{MIN_SECRET_BYTES, Secret};

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
    /// SQLite database URL; its folder is the data folder (dev secret, dev IdP keys).
    pub database_url: String,
    /// Key material for encrypting tokens at rest. `None` in development: generated into the
    /// data folder at start-up.
    pub app_secret: Option<Secret<Vec<u8>>>,
    /// Which identity provider to use: real Cognito, or the built-in development IdP.
    pub idp: IdpConfig,
    /// OAuth scopes asked for at sign-in.
    pub scopes: Vec<String>,
    /// Where Cognito's logout endpoint sends the browser back to.
    pub logout_uri: Url,
    /// The attributes every cookie gets.
    pub cookies: CookieSettings,
    /// The `tracing` filter (`RUST_LOG`).
    pub log_filter: String,
}

/// The identity provider the app talks to.
#[derive(Debug, Clone)]
pub enum IdpConfig {
    /// A Cognito user pool (or anything that behaves like one).
    Cognito(CognitoConfig),
    /// The built-in development IdP, started in-process.
    Development(DevIdpConfig),
}

/// A Cognito user pool's endpoints and the app client.
#[derive(Debug, Clone)]
pub struct CognitoConfig {
    /// Base URL of the managed-login domain (`/oauth2/*`, `/logout`).
    pub domain: Url,
    /// Issuer (`iss`); JWKS lives at `{issuer}/.well-known/jwks.json`.
    pub issuer: Url,
    /// App client id.
    pub client_id: String,
    /// App client secret, for a confidential client.
    pub client_secret: Option<Secret<String>>,
}

/// Settings of the development IdP.
#[derive(Debug, Clone)]
pub struct DevIdpConfig {
    /// Where it binds.
    pub listen: SocketAddr,
    /// Lifetime of the access and ID tokens it issues.
    pub access_token_ttl: Duration,
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests can pass a map instead of the environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());

        let base_url = parse_base_url(get("APP_BASE_URL"))?;
        let listen = parse_socket_addr("APP_LISTEN", get("APP_LISTEN"), "127.0.0.1:8080")?;
        let database_url = parse_database_url(get("DATABASE_URL"))?;
        let idp = parse_idp(&get)?;
        let app_secret = match get("APP_SECRET") {
            Some(value) => Some(parse_app_secret(&value)?),
            None if matches!(idp, IdpConfig::Cognito(_)) => {
                return Err(error(
                    "APP_SECRET",
                    "is required when COGNITO_* is set".into(),
                    EXAMPLE_SECRET,
                ));
            }
            None => None,
        };
        let scopes = parse_scopes(get("COGNITO_SCOPES"))?;
        let logout_uri = match get("COGNITO_LOGOUT_URI") {
            Some(value) => {
                parse_http_url("COGNITO_LOGOUT_URI", &value, "https://app.example.com/")?
            }
            None => base_url.clone(),
        };
        let cookies = parse_cookies(&get, &base_url)?;
        let log_filter = get("RUST_LOG").unwrap_or_else(|| "info".into());
        if let Err(problem) = EnvFilter::try_new(&log_filter) {
            return Err(error(
                "RUST_LOG",
                format!("{log_filter:?} is not a filter: {problem}"),
                "info",
            ));
        }

        Ok(Self {
            base_url,
            listen,
            database_url,
            app_secret,
            idp,
            scopes,
            logout_uri,
            cookies,
            log_filter,
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

    /// The folder holding the SQLite file; development keys and secrets are kept beside it.
    pub fn data_dir(&self) -> PathBuf {
        sqlite_file(&self.database_url)
            .and_then(|file| file.parent().map(Path::to_path_buf))
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

const EXAMPLE_SECRET: &str = "$(openssl rand -base64 64)";

fn error(setting: &'static str, problem: String, example: &'static str) -> ConfigError {
    ConfigError {
        setting,
        problem,
        example,
    }
}

fn parse_base_url(value: Option<String>) -> Result<Url, ConfigError> {
    const EXAMPLE: &str = "http://localhost:8080";
    let Some(value) = value else {
        return Ok(Url::parse(EXAMPLE).expect("the default base URL parses"));
    };
    let url = parse_http_url("APP_BASE_URL", &value, EXAMPLE)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(error(
            "APP_BASE_URL",
            format!("{value:?} must be an origin and perhaps a path, without a query or fragment"),
            EXAMPLE,
        ));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    let valid_segment = |segment: &str| {
        !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
    };
    if !path.is_empty() && !path[1..].split('/').all(valid_segment) {
        return Err(error(
            "APP_BASE_URL",
            format!("{value:?} has a path that is not plain segments of letters, digits and -._~"),
            "https://example.com/app",
        ));
    }
    let mut url = url;
    // The app's own paths are joined onto this one, so it ends in a slash.
    url.set_path(&format!("{path}/"));
    Ok(url)
}

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

fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

fn parse_database_url(value: Option<String>) -> Result<String, ConfigError> {
    const EXAMPLE: &str = "sqlite://data/app.db";
    let value = value.unwrap_or_else(|| EXAMPLE.into());
    if sqlite_file(&value).is_none() {
        return Err(error(
            "DATABASE_URL",
            format!("{value:?} is not a sqlite:// URL naming a file"),
            EXAMPLE,
        ));
    }
    Ok(value)
}

fn parse_app_secret(value: &str) -> Result<Secret<Vec<u8>>, ConfigError> {
    // The value itself is never echoed: it is a secret even when it is malformed.
    let bytes = STANDARD
        .decode(value.trim())
        .map_err(|_| error("APP_SECRET", "is not valid base64".into(), EXAMPLE_SECRET))?;
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(error(
            "APP_SECRET",
            format!(
                "decodes to {} bytes; at least {MIN_SECRET_BYTES} are needed",
                bytes.len()
            ),
            EXAMPLE_SECRET,
        ));
    }
    Ok(Secret::new(bytes))
}

fn parse_idp(get: &impl Fn(&str) -> Option<String>) -> Result<IdpConfig, ConfigError> {
    const NAMES: [&str; 3] = ["COGNITO_DOMAIN", "COGNITO_ISSUER", "COGNITO_CLIENT_ID"];
    let [domain, issuer, client_id] = NAMES.map(get);
    if domain.is_none() && issuer.is_none() && client_id.is_none() {
        if get("COGNITO_CLIENT_SECRET").is_some() {
            return Err(error(
                "COGNITO_CLIENT_SECRET",
                "is set but COGNITO_DOMAIN, COGNITO_ISSUER and COGNITO_CLIENT_ID are not".into(),
                "<the app client's secret, with the three others set>",
            ));
        }
        let listen = parse_socket_addr("DEV_IDP_LISTEN", get("DEV_IDP_LISTEN"), "127.0.0.1:9090")?;
        let access_token_ttl = match get("DEV_IDP_ACCESS_TOKEN_TTL") {
            None => Duration::from_secs(3600),
            Some(value) => match value.parse::<u64>() {
                Ok(seconds @ 1..=86_400) => Duration::from_secs(seconds),
                _ => {
                    return Err(error(
                        "DEV_IDP_ACCESS_TOKEN_TTL",
                        format!("{value:?} is not a whole number of seconds from 1 to 86400"),
                        "3600",
                    ));
                }
            },
        };
        return Ok(IdpConfig::Development(DevIdpConfig {
            listen,
            access_token_ttl,
        }));
    }

    let missing = |name: &'static str, example: &'static str| {
        error(
            name,
            "is missing; COGNITO_DOMAIN, COGNITO_ISSUER and COGNITO_CLIENT_ID go together".into(),
            example,
        )
    };
    const DOMAIN_EXAMPLE: &str = "https://myapp.auth.eu-west-1.amazoncognito.com";
    const ISSUER_EXAMPLE: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123";
    let domain = domain.ok_or_else(|| missing("COGNITO_DOMAIN", DOMAIN_EXAMPLE))?;
    let issuer = issuer.ok_or_else(|| missing("COGNITO_ISSUER", ISSUER_EXAMPLE))?;
    let client_id = client_id.ok_or_else(|| missing("COGNITO_CLIENT_ID", "1example23456789"))?;

    let domain = parse_http_url("COGNITO_DOMAIN", &domain, DOMAIN_EXAMPLE)?;
    if domain.path() != "/" || domain.query().is_some() {
        return Err(error(
            "COGNITO_DOMAIN",
            format!(
                "{:?} must be a bare origin, without a path",
                domain.as_str()
            ),
            DOMAIN_EXAMPLE,
        ));
    }
    let issuer_text = issuer.clone();
    let issuer = parse_http_url("COGNITO_ISSUER", &issuer, ISSUER_EXAMPLE)?;
    // Cognito's `iss` has no trailing slash, and tokens are compared with it byte for byte.
    if issuer_text.ends_with('/') || issuer.query().is_some() {
        return Err(error(
            "COGNITO_ISSUER",
            format!("{issuer_text:?} must not end with a slash or carry a query"),
            ISSUER_EXAMPLE,
        ));
    }
    if !client_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(error(
            "COGNITO_CLIENT_ID",
            format!("{client_id:?} is not an app client id (letters and digits)"),
            "1example23456789",
        ));
    }
    let client_secret = get("COGNITO_CLIENT_SECRET").map(Secret::new);
    Ok(IdpConfig::Cognito(CognitoConfig {
        domain,
        issuer,
        client_id,
        client_secret,
    }))
}

fn parse_scopes(value: Option<String>) -> Result<Vec<String>, ConfigError> {
    const EXAMPLE: &str = "\"openid email profile\"";
    let value = value.unwrap_or_else(|| "openid email profile".into());
    let scopes: Vec<String> = value.split_whitespace().map(str::to_owned).collect();
    // Cognito issues an ID token only when `openid` is granted, and userInfo needs it too.
    if !scopes.iter().any(|scope| scope == "openid") {
        return Err(error(
            "COGNITO_SCOPES",
            format!("{value:?} does not include openid"),
            EXAMPLE,
        ));
    }
    let valid = |scope: &String| {
        scope
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
    };
    if let Some(bad) = scopes.iter().find(|scope| !valid(scope)) {
        return Err(error(
            "COGNITO_SCOPES",
            format!("{bad:?} is not a valid scope"),
            EXAMPLE,
        ));
    }
    Ok(scopes)
}

fn parse_cookies(
    get: &impl Fn(&str) -> Option<String>,
    base_url: &Url,
) -> Result<CookieSettings, ConfigError> {
    let domain = get("COOKIE_DOMAIN")
        .map(|value| parse_cookie_domain("COOKIE_DOMAIN", &value, "example.com"))
        .transpose()?;
    if let Some(domain) = &domain {
        let host = base_url.host_str().unwrap_or_default();
        if !domain_covers(domain, host) {
            return Err(error(
                "COOKIE_DOMAIN",
                format!(
                    "{domain:?} does not cover the host of APP_BASE_URL ({host:?}), so browsers would refuse the cookies"
                ),
                "example.com",
            ));
        }
    }
    let path = match get("COOKIE_PATH") {
        Some(value) => parse_cookie_path("COOKIE_PATH", &value, "/")?,
        None => "/".into(),
    };
    // Browsers send a cookie only below its Path; every page of the app must be below it.
    if !path_covers(&path, base_url.path()) {
        return Err(error(
            "COOKIE_PATH",
            format!(
                "{path:?} does not cover the app's pages under {:?} (APP_BASE_URL), so browsers would not send the cookies there",
                base_url.path()
            ),
            "/",
        ));
    }
    let same_site = match get("COOKIE_SAME_SITE")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("lax") => SameSite::Lax,
        Some("strict") => SameSite::Strict,
        Some("none") => SameSite::None,
        Some(other) => {
            return Err(error(
                "COOKIE_SAME_SITE",
                format!("{other:?} is not one of lax, strict, none"),
                "lax",
            ));
        }
    };
    let https = base_url.scheme() == "https";
    let secure = match get("COOKIE_SECURE")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("auto") => https,
        Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(error(
                "COOKIE_SECURE",
                format!("{other:?} is not one of auto, true, false"),
                "auto",
            ));
        }
    };
    if same_site == SameSite::None && !secure {
        return Err(error(
            "COOKIE_SAME_SITE",
            "none requires Secure cookies, but COOKIE_SECURE resolves to false".into(),
            "lax",
        ));
    }
    let max_age = match get("COOKIE_MAX_AGE") {
        None => Duration::from_secs(2_592_000),
        Some(value) => match value.parse::<u64>() {
            // Browsers cap Max-Age at 400 days; a larger value would mislead the reader.
            Ok(seconds @ 60..=34_560_000) => Duration::from_secs(seconds),
            _ => {
                return Err(error(
                    "COOKIE_MAX_AGE",
                    format!(
                        "{value:?} is not a whole number of seconds from 60 to 34560000 (400 days)"
                    ),
                    "2592000",
                ));
            }
        },
    };
    let legacy_scopes = match get("COOKIE_LEGACY_SCOPES") {
        None => Vec::new(),
        Some(value) => parse_legacy_scopes(&value)?,
    };
    let current = CookieScope {
        domain: domain.clone(),
        path: path.clone(),
    };
    if legacy_scopes.contains(&current) {
        return Err(error(
            "COOKIE_LEGACY_SCOPES",
            "lists the current scope (COOKIE_DOMAIN|COOKIE_PATH); cookies there are the live ones"
                .into(),
            "\".example.com|/,|/app\"",
        ));
    }
    Ok(CookieSettings {
        domain,
        path,
        same_site,
        secure,
        max_age,
        legacy_scopes,
    })
}

fn parse_cookie_domain(
    setting: &'static str,
    value: &str,
    example: &'static str,
) -> Result<String, ConfigError> {
    // A leading dot is ignored by browsers (RFC 6265 §5.2.3); keep the canonical form.
    let domain = value.trim().trim_start_matches('.').to_ascii_lowercase();
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if domain.is_empty() || domain.len() > 253 || !domain.split('.').all(label_ok) {
        return Err(error(
            setting,
            format!("{value:?} is not a domain name"),
            example,
        ));
    }
    Ok(domain)
}

fn parse_cookie_path(
    setting: &'static str,
    value: &str,
    example: &'static str,
) -> Result<String, ConfigError> {
    let value = value.trim();
    if !value.starts_with('/')
        || value
            .chars()
            .any(|c| c.is_control() || c == ';' || c == ',' || c == ' ')
    {
        return Err(error(
            setting,
            format!("{value:?} is not a path starting with /"),
            example,
        ));
    }
    Ok(value.to_owned())
}

fn parse_legacy_scopes(value: &str) -> Result<Vec<CookieScope>, ConfigError> {
    const SETTING: &str = "COOKIE_LEGACY_SCOPES";
    const EXAMPLE: &str = "\".example.com|/,|/app\"";
    value
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let Some((domain, path)) = pair.split_once('|') else {
                return Err(error(
                    SETTING,
                    format!(
                        "{pair:?} is not a domain|path pair (leave the domain empty for host-only)"
                    ),
                    EXAMPLE,
                ));
            };
            let domain = match domain.trim() {
                "" => None,
                domain => Some(parse_cookie_domain(SETTING, domain, EXAMPLE)?),
            };
            let path = parse_cookie_path(SETTING, path, EXAMPLE)?;
            Ok(CookieScope { domain, path })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    /// Every setting of SPEC.md.
    const SETTINGS: [&str; 19] = [
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
        "COOKIE_DOMAIN",
        "COOKIE_PATH",
        "COOKIE_SAME_SITE",
        "COOKIE_SECURE",
        "COOKIE_MAX_AGE",
        "COOKIE_LEGACY_SCOPES",
        "DEV_IDP_LISTEN",
        "DEV_IDP_ACCESS_TOKEN_TTL",
        "RUST_LOG",
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

    fn parse(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    const SECRET: &str =
        "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMw==";
    const COGNITO: [(&str, &str); 4] = [
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

    #[test]
    fn no_settings_at_all_gives_the_spec_defaults() {
        let config = parse(&[]).unwrap();

        assert_eq!(config.base_url.as_str(), "http://localhost:8080/");
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.database_url, "sqlite://data/app.db");
        assert_eq!(config.data_dir(), PathBuf::from("data"));
        assert!(config.app_secret.is_none());
        assert_eq!(config.scopes, ["openid", "email", "profile"]);
        assert_eq!(config.logout_uri.as_str(), "http://localhost:8080/");
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

    #[test]
    fn cognito_settings_select_cognito_and_keep_the_secret() {
        let mut vars = COGNITO.to_vec();
        vars.push(("COGNITO_CLIENT_SECRET", "s3cr3t"));

        let config = parse(&vars).unwrap();

        let IdpConfig::Cognito(cognito) = &config.idp else {
            panic!("expected Cognito")
        };
        assert_eq!(cognito.client_id, "1example23456789");
        assert_eq!(
            cognito.issuer.as_str(),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
        );
        assert_eq!(
            cognito.client_secret.as_ref().map(|s| s.expose().as_str()),
            Some("s3cr3t")
        );
        assert_eq!(
            config.app_secret.as_ref().map(|s| s.expose().len()),
            Some(64)
        );
    }

    #[test]
    fn https_base_url_makes_auto_secure_true_and_allows_same_site_none() {
        let config = parse(&[
            ("APP_BASE_URL", "https://app.example.com"),
            ("COOKIE_SAME_SITE", "None"),
        ])
        .unwrap();

        assert!(config.cookies.secure);
        assert_eq!(config.cookies.same_site, SameSite::None);
    }

    #[test]
    fn legacy_scopes_parse_into_domain_and_path_pairs() {
        let config = parse(&[
            ("APP_BASE_URL", "https://app.example.com"),
            ("COOKIE_LEGACY_SCOPES", ".example.com|/, |/old"),
        ])
        .unwrap();

        assert_eq!(
            config.cookies.legacy_scopes,
            vec![
                CookieScope {
                    domain: Some("example.com".into()),
                    path: "/".into()
                },
                CookieScope {
                    domain: None,
                    path: "/old".into()
                },
            ]
        );
    }

    #[test]
    fn every_bad_value_names_its_setting_and_gives_an_example() {
        let cognito_without = |name: &str| -> Vec<(&'static str, &'static str)> {
            COGNITO
                .iter()
                .copied()
                .filter(|(k, _)| *k != name)
                .collect()
        };
        let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("APP_BASE_URL", vec![("APP_BASE_URL", "localhost:8080")]),
            ("APP_BASE_URL", vec![("APP_BASE_URL", "ftp://localhost")]),
            (
                "APP_BASE_URL",
                vec![("APP_BASE_URL", "http://localhost/a?b")],
            ),
            (
                "APP_BASE_URL",
                vec![("APP_BASE_URL", "http://localhost/a//b")],
            ),
            (
                "APP_BASE_URL",
                vec![("APP_BASE_URL", "http://localhost/a%20b")],
            ),
            ("APP_LISTEN", vec![("APP_LISTEN", "localhost:8080")]),
            ("APP_LISTEN", vec![("APP_LISTEN", "127.0.0.1")]),
            (
                "DATABASE_URL",
                vec![("DATABASE_URL", "postgres://localhost/app")],
            ),
            ("DATABASE_URL", vec![("DATABASE_URL", "sqlite::memory:")]),
            ("APP_SECRET", vec![("APP_SECRET", "not base64!")]),
            ("APP_SECRET", vec![("APP_SECRET", "c2hvcnQ=")]),
            ("APP_SECRET", cognito_without("APP_SECRET")),
            ("COGNITO_DOMAIN", cognito_without("COGNITO_DOMAIN")),
            ("COGNITO_ISSUER", cognito_without("COGNITO_ISSUER")),
            ("COGNITO_CLIENT_ID", cognito_without("COGNITO_CLIENT_ID")),
            (
                "COGNITO_DOMAIN",
                [
                    cognito_without("COGNITO_DOMAIN"),
                    vec![("COGNITO_DOMAIN", "myapp.auth")],
                ]
                .concat(),
            ),
            (
                "COGNITO_DOMAIN",
                [
                    cognito_without("COGNITO_DOMAIN"),
                    vec![("COGNITO_DOMAIN", "https://a.example/login")],
                ]
                .concat(),
            ),
            (
                "COGNITO_ISSUER",
                [
                    cognito_without("COGNITO_ISSUER"),
                    vec![("COGNITO_ISSUER", "https://cognito-idp.example/pool/")],
                ]
                .concat(),
            ),
            (
                "COGNITO_CLIENT_ID",
                [
                    cognito_without("COGNITO_CLIENT_ID"),
                    vec![("COGNITO_CLIENT_ID", "bad id")],
                ]
                .concat(),
            ),
            (
                "COGNITO_CLIENT_SECRET",
                vec![("COGNITO_CLIENT_SECRET", "s3cr3t")],
            ),
            ("COGNITO_SCOPES", vec![("COGNITO_SCOPES", "email profile")]),
            (
                "COGNITO_SCOPES",
                vec![("COGNITO_SCOPES", "openid \"email\"")],
            ),
            (
                "COGNITO_LOGOUT_URI",
                vec![("COGNITO_LOGOUT_URI", "/signed-out")],
            ),
            ("COOKIE_DOMAIN", vec![("COOKIE_DOMAIN", "exa mple.com")]),
            ("COOKIE_DOMAIN", vec![("COOKIE_DOMAIN", "example.com")]),
            ("COOKIE_PATH", vec![("COOKIE_PATH", "app")]),
            ("COOKIE_PATH", vec![("COOKIE_PATH", "/a;b")]),
            ("COOKIE_PATH", vec![("COOKIE_PATH", "/app")]),
            (
                "COOKIE_PATH",
                vec![
                    ("APP_BASE_URL", "http://localhost/application"),
                    ("COOKIE_PATH", "/app"),
                ],
            ),
            ("COOKIE_SAME_SITE", vec![("COOKIE_SAME_SITE", "lex")]),
            ("COOKIE_SAME_SITE", vec![("COOKIE_SAME_SITE", "none")]),
            ("COOKIE_SECURE", vec![("COOKIE_SECURE", "yes")]),
            ("COOKIE_MAX_AGE", vec![("COOKIE_MAX_AGE", "-1")]),
            ("COOKIE_MAX_AGE", vec![("COOKIE_MAX_AGE", "30d")]),
            ("COOKIE_MAX_AGE", vec![("COOKIE_MAX_AGE", "99999999999")]),
            (
                "COOKIE_LEGACY_SCOPES",
                vec![("COOKIE_LEGACY_SCOPES", "example.com")],
            ),
            (
                "COOKIE_LEGACY_SCOPES",
                vec![("COOKIE_LEGACY_SCOPES", "|old")],
            ),
            ("COOKIE_LEGACY_SCOPES", vec![("COOKIE_LEGACY_SCOPES", "|/")]),
            ("DEV_IDP_LISTEN", vec![("DEV_IDP_LISTEN", "9090")]),
            (
                "DEV_IDP_ACCESS_TOKEN_TTL",
                vec![("DEV_IDP_ACCESS_TOKEN_TTL", "0")],
            ),
            (
                "DEV_IDP_ACCESS_TOKEN_TTL",
                vec![("DEV_IDP_ACCESS_TOKEN_TTL", "1h")],
            ),
            ("RUST_LOG", vec![("RUST_LOG", "info,[[")]),
        ];

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

    #[test]
    fn a_bad_app_secret_is_never_echoed() {
        let error = parse(&[("APP_SECRET", "hunter2-is-my-secret")]).unwrap_err();

        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn a_base_url_may_carry_a_path_that_the_cookie_path_must_cover() {
        let config = parse(&[
            ("APP_BASE_URL", "https://example.com/app"),
            ("COOKIE_PATH", "/app"),
        ])
        .unwrap();

        assert_eq!(config.base_url.as_str(), "https://example.com/app/");
        assert_eq!(config.base_path(), "/app");
        assert_eq!(
            config.redirect_uri().as_str(),
            "https://example.com/app/auth/callback"
        );
        assert_eq!(config.logout_uri.as_str(), "https://example.com/app/");
        assert!(path_covers("/", "/app/"));
        assert!(path_covers("/app", "/app/account"));
        assert!(path_covers("/app/", "/app/account"));
        assert!(!path_covers("/app", "/application/"));
        assert!(!path_covers("/app/", "/app"));
    }

    #[test]
    fn cookie_domain_must_cover_the_app_host() {
        assert!(domain_covers("example.com", "app.example.com"));
        assert!(domain_covers("app.localhost", "app.localhost"));
        assert!(!domain_covers("example.com", "badexample.com"));
        assert!(
            parse(&[
                ("APP_BASE_URL", "http://app.localhost:8080"),
                ("COOKIE_DOMAIN", ".app.localhost")
            ])
            .is_ok()
        );
    }
}
