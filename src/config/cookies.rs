//! The cookie settings (`COOKIE_*`), checked against `APP_BASE_URL` so that browsers keep and send
//! every cookie the policy writes. The policy itself lives in `crate::cookies`.

use std::time::Duration;

use actix_web::cookie::SameSite;
use url::{Host, Url};

use super::{ConfigError, error};
use crate::cookies::{CookieScope, CookieSettings, domain_covers, path_covers};

const LEGACY_SCOPES_EXAMPLE: &str = "\".example.com|/,|/app\"";

/// Every `COOKIE_*` setting, as one `CookieSettings`.
pub(super) fn parse_cookies(
    get: &impl Fn(&str) -> Option<String>,
    base_url: &Url,
) -> Result<CookieSettings, ConfigError> {
    let domain = parse_domain(get("COOKIE_DOMAIN"), base_url)?;
    let path = parse_path(get("COOKIE_PATH"), base_url)?;
    let same_site = parse_same_site(get("COOKIE_SAME_SITE"))?;
    let secure = parse_secure(get("COOKIE_SECURE"), base_url)?;
    if same_site == SameSite::None && !secure {
        return Err(error(
            "COOKIE_SAME_SITE",
            "none requires Secure cookies, but COOKIE_SECURE resolves to false".into(),
            "lax",
        ));
    }
    let max_age = parse_max_age(get("COOKIE_MAX_AGE"))?;
    let current = CookieScope {
        domain: domain.clone(),
        path: path.clone(),
    };
    let legacy_scopes = parse_legacy_scopes(get("COOKIE_LEGACY_SCOPES"), &current)?;
    Ok(CookieSettings {
        domain,
        path,
        same_site,
        secure,
        max_age,
        legacy_scopes,
    })
}

/// `COOKIE_DOMAIN`: unset for host-only cookies, else a domain covering the app's host.
fn parse_domain(value: Option<String>, base_url: &Url) -> Result<Option<String>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let domain = parse_cookie_domain("COOKIE_DOMAIN", &value, "example.com")?;
    let host = base_url.host_str().unwrap_or_default();
    if !domain_covers(&domain, host) {
        return Err(error(
            "COOKIE_DOMAIN",
            format!(
                "{domain:?} does not cover the host of APP_BASE_URL ({host:?}), so browsers would refuse the cookies"
            ),
            "example.com",
        ));
    }
    Ok(Some(domain))
}

/// `COOKIE_PATH`: `/` when unset, else a path covering every page of the app.
fn parse_path(value: Option<String>, base_url: &Url) -> Result<String, ConfigError> {
    let path = match value {
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
    Ok(path)
}

/// `COOKIE_SAME_SITE`: `lax` (the default), `strict` or `none`, in any case.
fn parse_same_site(value: Option<String>) -> Result<SameSite, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("lax") => Ok(SameSite::Lax),
        Some("strict") => Ok(SameSite::Strict),
        Some("none") => Ok(SameSite::None),
        Some(other) => Err(error(
            "COOKIE_SAME_SITE",
            format!("{other:?} is not one of lax, strict, none"),
            "lax",
        )),
    }
}

/// `COOKIE_SECURE`: `auto` (the default: Secure exactly when `APP_BASE_URL` is https), `true`
/// or `false`, in any case; `true` only where browsers keep Secure cookies.
fn parse_secure(value: Option<String>, base_url: &Url) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("auto") => Ok(base_url.scheme() == "https"),
        // The browser would drop the session cookie, and every sign-in would start over.
        Some("true") if !keeps_secure_cookies(base_url) => Err(error(
            "COOKIE_SECURE",
            format!(
                "true, but APP_BASE_URL {:?} is plain http: browsers drop Secure cookies there, so every sign-in would loop",
                base_url.as_str()
            ),
            "auto",
        )),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(error(
            "COOKIE_SECURE",
            format!("{other:?} is not one of auto, true, false"),
            "auto",
        )),
    }
}

/// Whether browsers keep Secure cookies set by `url`: https, or plain http on a loopback host,
/// which browsers count as a secure context (`localhost` and its subdomains, 127.0.0.0/8, `[::1]`).
fn keeps_secure_cookies(url: &Url) -> bool {
    url.scheme() == "https"
        || match url.host() {
            Some(Host::Domain(name)) => name == "localhost" || name.ends_with(".localhost"),
            Some(Host::Ipv4(address)) => address.is_loopback(),
            Some(Host::Ipv6(address)) => address.is_loopback(),
            None => false,
        }
}

/// `COOKIE_MAX_AGE`: whole seconds, 30 days when unset.
fn parse_max_age(value: Option<String>) -> Result<Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(Duration::from_secs(2_592_000));
    };
    match value.parse::<u64>() {
        // Browsers cap Max-Age at 400 days; a larger value would mislead the reader.
        Ok(seconds @ 60..=34_560_000) => Ok(Duration::from_secs(seconds)),
        _ => Err(error(
            "COOKIE_MAX_AGE",
            format!("{value:?} is not a whole number of seconds from 60 to 34560000 (400 days)"),
            "2592000",
        )),
    }
}

/// `COOKIE_LEGACY_SCOPES`: comma-separated `domain|path` pairs, none of them `current`.
fn parse_legacy_scopes(
    value: Option<String>,
    current: &CookieScope,
) -> Result<Vec<CookieScope>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let scopes = value
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(parse_legacy_scope)
        .collect::<Result<Vec<_>, _>>()?;
    if scopes.contains(current) {
        return Err(error(
            "COOKIE_LEGACY_SCOPES",
            "lists the current scope (COOKIE_DOMAIN|COOKIE_PATH); cookies there are the live ones"
                .into(),
            LEGACY_SCOPES_EXAMPLE,
        ));
    }
    Ok(scopes)
}

fn parse_legacy_scope(pair: &str) -> Result<CookieScope, ConfigError> {
    const SETTING: &str = "COOKIE_LEGACY_SCOPES";
    let Some((domain, path)) = pair.split_once('|') else {
        return Err(error(
            SETTING,
            format!("{pair:?} is not a domain|path pair (leave the domain empty for host-only)"),
            LEGACY_SCOPES_EXAMPLE,
        ));
    };
    let domain = match domain.trim() {
        "" => None,
        domain => Some(parse_cookie_domain(SETTING, domain, LEGACY_SCOPES_EXAMPLE)?),
    };
    let path = parse_cookie_path(SETTING, path, LEGACY_SCOPES_EXAMPLE)?;
    Ok(CookieScope { domain, path })
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

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_each_refused, parse};
    use super::*;

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
    fn cookie_secure_true_is_kept_on_https_and_loopback_hosts() {
        let base_urls = [
            "https://app.example.com",
            "http://localhost:8080",
            "http://app.localhost:8080",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
        ];

        for base_url in base_urls {
            let config = parse(&[("APP_BASE_URL", base_url), ("COOKIE_SECURE", "true")]).unwrap();

            assert!(config.cookies.secure, "{base_url}");
        }
    }

    #[test]
    fn cookie_secure_true_on_plain_http_says_why_it_is_refused() {
        let error = parse(&[
            ("APP_BASE_URL", "http://app.example.com"),
            ("COOKIE_SECURE", "true"),
        ])
        .unwrap_err();

        assert_eq!(
            error.to_string(),
            "COOKIE_SECURE: true, but APP_BASE_URL \"http://app.example.com/\" is plain http: browsers drop Secure cookies there, so every sign-in would loop (e.g. COOKIE_SECURE=auto)"
        );
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
    fn every_bad_cookie_value_names_its_setting_and_gives_an_example() {
        assert_each_refused(vec![
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
            (
                "COOKIE_SECURE",
                vec![
                    ("APP_BASE_URL", "http://app.example.com"),
                    ("COOKIE_SECURE", "TRUE"),
                ],
            ),
            (
                "COOKIE_SECURE",
                vec![
                    ("APP_BASE_URL", "http://10.0.0.7:8080"),
                    ("COOKIE_SECURE", "true"),
                ],
            ),
            (
                "COOKIE_SECURE",
                vec![
                    ("APP_BASE_URL", "http://localhost.example.com"),
                    ("COOKIE_SECURE", "true"),
                ],
            ),
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
        ]);
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
