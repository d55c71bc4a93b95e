//! Settings of the identity provider: a Cognito user pool and its app client (`COGNITO_*`), or the
//! built-in development IdP (`DEV_IDP_*`).

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use super::{ConfigError, error, parse_http_url, parse_socket_addr};
use crate::secrets::Secret;

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
    /// Whether every refresh returns a new refresh token, as a Cognito app client with
    /// refresh-token rotation does.
    pub refresh_rotation: bool,
    /// How long a rotated-out refresh token still works after its first use (0 to 60 seconds).
    pub rotation_grace: Duration,
    /// The app client's secret; random at every start unless set, so that other instances can
    /// be pointed at this IdP as if it were Cognito (`COGNITO_CLIENT_SECRET`).
    pub client_secret: Option<Secret<String>>,
}

const DOMAIN_EXAMPLE: &str = "https://myapp.auth.eu-west-1.amazoncognito.com";
const ISSUER_EXAMPLE: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123";
const CLIENT_ID_EXAMPLE: &str = "1example23456789";

/// Cognito when any of `COGNITO_DOMAIN`, `COGNITO_ISSUER`, `COGNITO_CLIENT_ID` is set (then all
/// three must be), else the development IdP.
pub(super) fn parse_idp(get: &impl Fn(&str) -> Option<String>) -> Result<IdpConfig, ConfigError> {
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
        return parse_dev_idp(get).map(IdpConfig::Development);
    }

    let missing = |name: &'static str, example: &'static str| {
        error(
            name,
            "is missing; COGNITO_DOMAIN, COGNITO_ISSUER and COGNITO_CLIENT_ID go together".into(),
            example,
        )
    };
    let domain = domain.ok_or_else(|| missing("COGNITO_DOMAIN", DOMAIN_EXAMPLE))?;
    let issuer = issuer.ok_or_else(|| missing("COGNITO_ISSUER", ISSUER_EXAMPLE))?;
    let client_id = client_id.ok_or_else(|| missing("COGNITO_CLIENT_ID", CLIENT_ID_EXAMPLE))?;
    Ok(IdpConfig::Cognito(CognitoConfig {
        domain: parse_domain(&domain)?,
        issuer: parse_issuer(&issuer)?,
        client_id: parse_client_id(client_id)?,
        client_secret: get("COGNITO_CLIENT_SECRET").map(Secret::new),
    }))
}

fn parse_dev_idp(get: &impl Fn(&str) -> Option<String>) -> Result<DevIdpConfig, ConfigError> {
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
    Ok(DevIdpConfig {
        listen,
        access_token_ttl,
        refresh_rotation: parse_refresh_rotation(get("DEV_IDP_REFRESH_ROTATION"))?,
        rotation_grace: parse_rotation_grace(get("DEV_IDP_ROTATION_GRACE_SECONDS"))?,
        client_secret: parse_dev_client_secret(get("DEV_IDP_CLIENT_SECRET"))?,
    })
}

/// `DEV_IDP_CLIENT_SECRET`: 16 to 128 characters of letters, digits, `-` and `_`.
fn parse_dev_client_secret(value: Option<String>) -> Result<Option<Secret<String>>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if (16..=128).contains(&value.len()) && value.chars().all(allowed) {
        return Ok(Some(Secret::new(value)));
    }
    // The value is a secret: the error describes it without showing it.
    Err(error(
        "DEV_IDP_CLIENT_SECRET",
        format!(
            "is {} characters long; it must be 16 to 128 letters, digits, '-' or '_'",
            value.chars().count()
        ),
        "local-dev-client-secret-1",
    ))
}

/// `DEV_IDP_REFRESH_ROTATION`: `on` or `off` (the default, as Cognito's), in any case.
fn parse_refresh_rotation(value: Option<String>) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("off") => Ok(false),
        Some("on") => Ok(true),
        Some(other) => Err(error(
            "DEV_IDP_REFRESH_ROTATION",
            format!("{other:?} is not one of on, off"),
            "on",
        )),
    }
}

/// `DEV_IDP_ROTATION_GRACE_SECONDS`: 0 (the default) to 60, the range of Cognito's
/// `RetryGracePeriodSeconds`.
fn parse_rotation_grace(value: Option<String>) -> Result<Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(Duration::ZERO);
    };
    match value.parse::<u64>() {
        Ok(seconds @ 0..=60) => Ok(Duration::from_secs(seconds)),
        _ => Err(error(
            "DEV_IDP_ROTATION_GRACE_SECONDS",
            format!("{value:?} is not a whole number of seconds from 0 to 60"),
            "30",
        )),
    }
}

/// `COGNITO_DOMAIN`: a bare origin.
fn parse_domain(value: &str) -> Result<Url, ConfigError> {
    let domain = parse_http_url("COGNITO_DOMAIN", value, DOMAIN_EXAMPLE)?;
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
    Ok(domain)
}

/// `COGNITO_ISSUER`: a URL exactly as Cognito writes it in `iss`.
fn parse_issuer(value: &str) -> Result<Url, ConfigError> {
    let issuer = parse_http_url("COGNITO_ISSUER", value, ISSUER_EXAMPLE)?;
    // Cognito's `iss` has no trailing slash, and tokens are compared with it byte for byte.
    if value.ends_with('/') || issuer.query().is_some() {
        return Err(error(
            "COGNITO_ISSUER",
            format!("{value:?} must not end with a slash or carry a query"),
            ISSUER_EXAMPLE,
        ));
    }
    Ok(issuer)
}

/// `COGNITO_CLIENT_ID`: letters and digits.
fn parse_client_id(value: String) -> Result<String, ConfigError> {
    if !value.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(error(
            "COGNITO_CLIENT_ID",
            format!("{value:?} is not an app client id (letters and digits)"),
            CLIENT_ID_EXAMPLE,
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{COGNITO, assert_each_refused, cognito_without, parse};
    use super::*;

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
    fn every_bad_idp_value_names_its_setting_and_gives_an_example() {
        assert_each_refused(vec![
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
            ("DEV_IDP_LISTEN", vec![("DEV_IDP_LISTEN", "9090")]),
            (
                "DEV_IDP_CLIENT_SECRET",
                vec![("DEV_IDP_CLIENT_SECRET", "short")],
            ),
            (
                "DEV_IDP_CLIENT_SECRET",
                vec![("DEV_IDP_CLIENT_SECRET", "has spaces in it, sixteen+")],
            ),
            (
                "DEV_IDP_ACCESS_TOKEN_TTL",
                vec![("DEV_IDP_ACCESS_TOKEN_TTL", "0")],
            ),
            (
                "DEV_IDP_ACCESS_TOKEN_TTL",
                vec![("DEV_IDP_ACCESS_TOKEN_TTL", "1h")],
            ),
            (
                "DEV_IDP_REFRESH_ROTATION",
                vec![("DEV_IDP_REFRESH_ROTATION", "yes")],
            ),
            (
                "DEV_IDP_REFRESH_ROTATION",
                vec![("DEV_IDP_REFRESH_ROTATION", "enabled")],
            ),
            (
                "DEV_IDP_ROTATION_GRACE_SECONDS",
                vec![("DEV_IDP_ROTATION_GRACE_SECONDS", "61")],
            ),
            (
                "DEV_IDP_ROTATION_GRACE_SECONDS",
                vec![("DEV_IDP_ROTATION_GRACE_SECONDS", "-1")],
            ),
            (
                "DEV_IDP_ROTATION_GRACE_SECONDS",
                vec![("DEV_IDP_ROTATION_GRACE_SECONDS", "30s")],
            ),
        ]);
    }

    /// The development IdP's settings, which must be the development IdP's.
    fn dev_idp(vars: &[(&str, &str)]) -> DevIdpConfig {
        match parse(vars).unwrap().idp {
            IdpConfig::Development(dev) => dev,
            IdpConfig::Cognito(_) => panic!("expected the development IdP"),
        }
    }

    #[test]
    fn refresh_rotation_is_off_with_no_grace_unless_set() {
        let dev = dev_idp(&[]);

        assert!(!dev.refresh_rotation);
        assert_eq!(dev.rotation_grace, Duration::ZERO);
    }

    #[test]
    fn refresh_rotation_takes_on_or_off_in_any_case_and_a_grace_of_0_to_60_seconds() {
        let cases = [
            (("on", "0"), (true, 0)),
            (("ON", "60"), (true, 60)),
            (("Off", "30"), (false, 30)),
        ];

        for ((rotation, grace), expected) in cases {
            let dev = dev_idp(&[
                ("DEV_IDP_REFRESH_ROTATION", rotation),
                ("DEV_IDP_ROTATION_GRACE_SECONDS", grace),
            ]);

            assert_eq!(
                (dev.refresh_rotation, dev.rotation_grace),
                (expected.0, Duration::from_secs(expected.1)),
                "DEV_IDP_REFRESH_ROTATION={rotation} DEV_IDP_ROTATION_GRACE_SECONDS={grace}"
            );
        }
    }

    #[test]
    fn a_bad_rotation_setting_is_one_line_with_an_example() {
        let rotation = parse(&[("DEV_IDP_REFRESH_ROTATION", "yes")]).unwrap_err();
        let grace = parse(&[("DEV_IDP_ROTATION_GRACE_SECONDS", "90")]).unwrap_err();

        assert_eq!(
            rotation.to_string(),
            r#"DEV_IDP_REFRESH_ROTATION: "yes" is not one of on, off (e.g. DEV_IDP_REFRESH_ROTATION=on)"#
        );
        assert_eq!(
            grace.to_string(),
            r#"DEV_IDP_ROTATION_GRACE_SECONDS: "90" is not a whole number of seconds from 0 to 60 (e.g. DEV_IDP_ROTATION_GRACE_SECONDS=30)"#
        );
    }
}
