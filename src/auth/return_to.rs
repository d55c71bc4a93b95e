//! `return_to`: where to go after sign-in. Only a path on this app is honoured, so the sign-in
//! flow cannot be turned into an open redirect.

use url::Url;

/// Where sign-in ends when `return_to` is missing or refused (under the base path).
pub const DEFAULT_RETURN_TO: &str = "/account";
const MAX_LEN: usize = 2048;

/// `value` (its characters outside ASCII percent-encoded) if it is a path on the app at `base`
/// (an origin, perhaps with a path prefix ending in `/`), else `None`.
pub fn validate(value: &str, base: &Url) -> Option<String> {
    if value.len() > MAX_LEN || !looks_local(value) {
        return None;
    }
    // Percent-encoded slashes and backslashes must not smuggle an authority in either.
    let decoded = percent_decode(value)?;
    if !looks_local(&decoded) {
        return None;
    }
    let resolved = base.join(value).ok()?;
    let inside =
        resolved.path().starts_with(base.path()) || format!("{}/", resolved.path()) == base.path();
    (resolved.origin() == base.origin() && inside).then(|| ascii(value))
}

/// `value` as given, but for its characters outside ASCII, percent-encoded (UTF-8), so that the
/// `Location` header it goes into is ASCII: a `/café` from a decoded query string is
/// `/caf%C3%A9` there, which a browser reads back as the same path.
fn ascii(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut bytes = [0; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

/// Where a sign-in asked to come back to `value` ends: `value` when [`validate`] accepts it,
/// else [`DEFAULT_RETURN_TO`] under the base path.
pub fn or_default(value: Option<&str>, base: &Url) -> String {
    value
        .and_then(|value| validate(value, base))
        .unwrap_or_else(|| format!("{}{DEFAULT_RETURN_TO}", base.path().trim_end_matches('/')))
}

/// A path: one leading slash, then no second slash, and no backslash, whitespace or control
/// character anywhere (browsers treat `\` as `/` and drop tabs and newlines).
fn looks_local(value: &str) -> bool {
    let mut chars = value.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/'))
        && !value
            .chars()
            .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn whatever_the_input_an_accepted_value_is_a_path_on_this_app(value in any::<String>()) {
            let base = Url::parse("http://localhost:8080").unwrap();

            if let Some(accepted) = validate(&value, &base) {
                prop_assert_eq!(base.join(&accepted).unwrap(), base.join(&value).unwrap());
                prop_assert!(accepted.is_ascii(), "{}", accepted);
                prop_assert!(accepted.starts_with('/') && !accepted.starts_with("//"));
                prop_assert_eq!(base.join(&accepted).unwrap().origin(), base.origin());
            }
        }

        #[test]
        fn prefixing_a_slash_to_anything_never_leaves_the_app(value in any::<String>()) {
            let base = Url::parse("http://localhost:8080").unwrap();

            if let Some(accepted) = validate(&format!("/{value}"), &base) {
                prop_assert_eq!(base.join(&accepted).unwrap().origin(), base.origin());
            }
        }
    }

    #[test]
    fn local_paths_are_kept() {
        let base = Url::parse("http://localhost:8080").unwrap();

        for value in [
            "/",
            "/account",
            "/admin?tab=users",
            "/a/b#frag",
            "/caf%C3%A9",
        ] {
            assert_eq!(validate(value, &base).as_deref(), Some(value), "{value}");
        }
    }

    #[test]
    fn a_path_that_is_not_ascii_comes_back_percent_encoded() {
        let base = Url::parse("http://localhost:8080").unwrap();

        assert_eq!(
            validate("/café?q=naïve", &base).as_deref(),
            Some("/caf%C3%A9?q=na%C3%AFve")
        );
    }

    #[test]
    fn under_a_base_path_only_paths_below_it_are_kept() {
        let base = Url::parse("https://example.com/app/").unwrap();

        assert_eq!(
            validate("/app/account", &base).as_deref(),
            Some("/app/account")
        );
        assert_eq!(validate("/app", &base).as_deref(), Some("/app"));
        assert_eq!(validate("/application", &base), None);
        assert_eq!(validate("/account", &base), None);
        assert_eq!(validate("/app/../admin", &base), None);
    }

    #[test]
    fn anything_that_could_leave_the_app_is_refused() {
        let base = Url::parse("http://localhost:8080").unwrap();
        let hostile = [
            "",
            "account",
            "https://evil.example/",
            "HTTPS://EVIL.EXAMPLE/",
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "%2F%2Fevil.example",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "/\t/evil.example",
            "/\n/evil.example",
            "/%",
            "/%zz",
            "/%FF",
        ];

        for value in hostile {
            assert_eq!(validate(value, &base), None, "{value:?} must be refused");
        }
        assert_eq!(validate(&format!("/{}", "a".repeat(MAX_LEN)), &base), None);
    }
}
