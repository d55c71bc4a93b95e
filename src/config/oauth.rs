//! The OAuth parameters the app sends to the IdP: the scopes, the identity providers offered at
//! sign-in, a fixed login hint, and where the IdP's logout sends the browser back.

use url::Url;

use super::{ConfigError, error, parse_http_url};

/// `COGNITO_SCOPES`: space-separated, `openid` among them.
pub(super) fn parse_scopes(value: Option<String>) -> Result<Vec<String>, ConfigError> {
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

/// `COGNITO_LOGOUT_URI`: an http(s) URL, `base_url` when unset.
pub(super) fn parse_logout_uri(value: Option<String>, base_url: &Url) -> Result<Url, ConfigError> {
    match value {
        Some(value) => parse_http_url("COGNITO_LOGOUT_URI", &value, "https://app.example.com/"),
        None => Ok(base_url.clone()),
    }
}

/// `COGNITO_IDENTITY_PROVIDERS`: comma-separated provider names, each at most once; unset: none.
pub(super) fn parse_identity_providers(value: Option<String>) -> Result<Vec<String>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = Vec::new();
    for name in value.split(',').map(str::trim) {
        check_provider_name(name, &value)?;
        if names.iter().any(|listed| listed == name) {
            return Err(provider_error(format!("{name:?} is listed twice")));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// One provider name as an app client lists it.
fn check_provider_name(name: &str, list: &str) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(provider_error(format!("{list:?} has an empty name")));
    }
    // Cognito allows up to 32 letters, marks, numbers, punctuation, symbols and spaces (API
    // reference, ProviderName). Beyond letters and digits only ASCII punctuation and the plain
    // space pass here, so no invisible character reaches a page or a URL.
    if name.chars().count() > 32 {
        return Err(provider_error(format!(
            "{name:?} is longer than 32 characters"
        )));
    }
    let allowed = |c: char| c.is_alphanumeric() || c.is_ascii_punctuation() || c == ' ';
    if !name.chars().all(allowed) {
        return Err(provider_error(format!(
            "{name:?} is not a provider name (letters, digits, spaces and ASCII punctuation)"
        )));
    }
    Ok(())
}

fn provider_error(problem: String) -> ConfigError {
    error(
        "COGNITO_IDENTITY_PROVIDERS",
        problem,
        "Google,CorporateSAML",
    )
}

/// `COGNITO_LOGIN_HINT`: printable, at most 256 characters; unset: none.
pub(super) fn parse_login_hint(value: Option<String>) -> Result<Option<String>, ConfigError> {
    const EXAMPLE: &str = "user@example.com";
    let Some(value) = value else {
        return Ok(None);
    };
    let hint = value.trim();
    if hint.chars().any(char::is_control) {
        return Err(error(
            "COGNITO_LOGIN_HINT",
            format!("{hint:?} has a control character"),
            EXAMPLE,
        ));
    }
    let length = hint.chars().count();
    if length > 256 {
        // Not echoed: the line would be longer than the problem deserves.
        return Err(error(
            "COGNITO_LOGIN_HINT",
            format!("is {length} characters long; at most 256 are allowed"),
            EXAMPLE,
        ));
    }
    Ok(Some(hint.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_each_refused, parse};

    #[test]
    fn every_bad_oauth_value_names_its_setting_and_gives_an_example() {
        assert_each_refused(vec![
            ("COGNITO_SCOPES", vec![("COGNITO_SCOPES", "email profile")]),
            (
                "COGNITO_SCOPES",
                vec![("COGNITO_SCOPES", "openid \"email\"")],
            ),
            (
                "COGNITO_LOGOUT_URI",
                vec![("COGNITO_LOGOUT_URI", "/signed-out")],
            ),
            (
                "COGNITO_IDENTITY_PROVIDERS",
                vec![("COGNITO_IDENTITY_PROVIDERS", "Google,,CorporateSAML")],
            ),
            (
                "COGNITO_IDENTITY_PROVIDERS",
                vec![("COGNITO_IDENTITY_PROVIDERS", "Google,")],
            ),
            (
                "COGNITO_IDENTITY_PROVIDERS",
                vec![("COGNITO_IDENTITY_PROVIDERS", "Google, Google")],
            ),
            (
                "COGNITO_IDENTITY_PROVIDERS",
                vec![(
                    "COGNITO_IDENTITY_PROVIDERS",
                    "ThisProviderNameIsLongerThan32Chr",
                )],
            ),
            (
                "COGNITO_IDENTITY_PROVIDERS",
                vec![("COGNITO_IDENTITY_PROVIDERS", "Google\tSAML")],
            ),
            (
                "COGNITO_IDENTITY_PROVIDERS",
                vec![("COGNITO_IDENTITY_PROVIDERS", "Zero\u{200b}Width")],
            ),
            (
                "COGNITO_LOGIN_HINT",
                vec![("COGNITO_LOGIN_HINT", "user\n@example.com")],
            ),
            (
                "COGNITO_LOGIN_HINT",
                vec![("COGNITO_LOGIN_HINT", "a\u{7}b")],
            ),
            (
                "COGNITO_LOGIN_HINT",
                vec![("COGNITO_LOGIN_HINT", LONG_HINT)],
            ),
        ]);
    }

    /// 257 characters, one too many for a login hint.
    const LONG_HINT: &str = concat!(
        "0123456789012345678901234567890123456789012345678901234567890123",
        "0123456789012345678901234567890123456789012345678901234567890123",
        "0123456789012345678901234567890123456789012345678901234567890123",
        "0123456789012345678901234567890123456789012345678901234567890123",
        "x"
    );

    #[test]
    fn identity_providers_are_a_list_of_names_cognito_allows() {
        let cases: [(&str, &[&str]); 5] = [
            ("Google", &["Google"]),
            ("Google,CorporateSAML", &["Google", "CorporateSAML"]),
            (
                " COGNITO , Login With Amazon ",
                &["COGNITO", "Login With Amazon"],
            ),
            ("Azure-AD.prod_2", &["Azure-AD.prod_2"]),
            (
                "ThisProviderNameIsExactly32Chars,Entra ID (Ünïcode)",
                &["ThisProviderNameIsExactly32Chars", "Entra ID (Ünïcode)"],
            ),
        ];

        for (value, expected) in cases {
            let config = parse(&[("COGNITO_IDENTITY_PROVIDERS", value)]).unwrap();

            assert_eq!(config.identity_providers, expected, "{value:?}");
        }
    }

    #[test]
    fn a_login_hint_is_kept_as_given_up_to_256_characters() {
        let longest = &LONG_HINT[..256];
        let cases = [
            ("user@example.com", "user@example.com"),
            (" Jörg Müller ", "Jörg Müller"),
            (longest, longest),
        ];

        for (value, expected) in cases {
            let config = parse(&[("COGNITO_LOGIN_HINT", value)]).unwrap();

            assert_eq!(config.login_hint.as_deref(), Some(expected), "{value:?}");
        }
    }
}
