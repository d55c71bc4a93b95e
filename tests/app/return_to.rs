//! `return_to` is honoured only as a path on this app.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::helpers::{Reply, TestApp, assert_redirect_to, spawn_app, spawn_app_with};

#[tokio::test]
async fn foreign_return_to_values_end_on_this_app() {
    let app = spawn_app().await;
    let hostile = [
        "https://evil.example/",
        "HTTPS://EVIL.EXAMPLE/",
        "//evil.example",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "/%2f/evil.example",
        "/%5Cevil.example",
        "%2F%2Fevil.example",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
    ];

    for value in hostile {
        let callback = app.sign_in_returning_to("demo", Some(value)).await;

        assert_redirect_to(&callback, "/account");
        assert_eq!(
            callback.location().origin(),
            app.app_url.origin(),
            "{value}"
        );
    }
}

#[tokio::test]
async fn a_local_return_to_is_honoured() {
    let app = spawn_app().await;

    let callback = app
        .sign_in_returning_to("demo", Some("/diagnostics/cookies?x=1"))
        .await;

    assert_redirect_to(&callback, "/diagnostics/cookies?x=1");
}

#[tokio::test]
async fn a_return_to_that_is_not_ascii_comes_back_percent_encoded_in_an_ascii_location() {
    let app = spawn_app().await;

    let callback = app
        .sign_in_returning_to("demo", Some("/café?q=naïve"))
        .await;

    assert_eq!(callback.status, 303, "{}", callback.body);
    assert_eq!(callback.raw_location(), "/caf%C3%A9?q=na%C3%AFve");
}

/// How hostile values begin: a slash, and what a browser or a decoding proxy could read as a
/// second one or as a step out of the base path.
const STARTS: &[&str] = &[
    "/",
    "//",
    "///",
    "/\\",
    "/%2F",
    "/%2f/",
    "/%5C",
    "/%5c%5c",
    "/./",
    "/.//",
    "/../",
    "/%2e%2e/",
    "/%252F",
    "/\t/",
    "/app",
    "/app/",
    "/app/..",
    "/app/%2e%2e/",
    "/app//",
    "/app/\\",
    "/%61pp/",
    "/app%2F..%2F",
];

/// What may follow: slashes and backslashes, raw and encoded, dot segments, authority and scheme
/// markers, whitespace and controls that browsers drop, and plain path text.
const PIECES: &[&str] = &[
    "/",
    "//",
    "\\",
    "%2F",
    "%2f",
    "%5C",
    "%252F",
    ".",
    "..",
    "/./",
    "/../",
    "%2E",
    "%2e%2e",
    "evil.example",
    "@evil.example",
    ":",
    "https:",
    "javascript:",
    "?",
    "#",
    "&",
    "=",
    "%09",
    "\t",
    "\n",
    "%0A",
    "%0d",
    "%00",
    " ",
    "%20",
    "account",
    "admin",
    "app",
    "a",
    "~",
    "%",
    "%zz",
    "é",
    ";",
    "\u{0}",
];

/// `return_to` values that start with a slash, as an attacker's would.
pub fn slash_led_return_to() -> impl Strategy<Value = String> {
    (
        prop::sample::select(STARTS),
        prop::collection::vec(prop::sample::select(PIECES), 0..6),
    )
        .prop_map(|(start, rest)| format!("{start}{}", rest.concat()))
}

/// Signs in `cases` times with `return_to` values from `values`, on an app with `settings`, and
/// checks each callback with `check`.
fn sign_in_with_generated_return_to(
    settings: &[(&str, &str)],
    values: impl Strategy<Value = String>,
    cases: u32,
    check: impl Fn(&TestApp, &str, &Reply) -> Result<(), TestCaseError>,
) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(spawn_app_with(settings));
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });

    runner
        .run(&values, |value| {
            let callback = runtime.block_on(app.sign_in_returning_to("demo", Some(&value)));
            check(&app, &value, &callback)
        })
        .unwrap();
}

/// `value` with every `%XX` decoded once, as a proxy in front of the app might.
fn percent_decoded(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = value.get(i + 1..i + 3).filter(|_| bytes[i] == b'%');
        match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 3986 §5.2.4 for a path that starts with `/`, reading `%2e` as `.` as browsers do.
fn remove_dot_segments(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match segment.to_ascii_lowercase().replace("%2e", ".").as_str() {
            "." => {}
            ".." => {
                out.pop();
            }
            _ => {
                out.push(segment);
                continue;
            }
        }
        if last {
            out.push("");
        }
    }
    format!("/{}", out.join("/"))
}

/// The rule, stated without the app's code: the redirect after sign-in is a path that no browser
/// can read as another host and that, its dot segments removed, lies under the base path; and
/// resolved as a browser resolves it (the WHATWG URL rules, which the `url` crate implements)
/// it lands on this app's origin, under the base path.
fn lands_on_this_app(app: &TestApp, value: &str, callback: &Reply) -> Result<(), TestCaseError> {
    prop_assert_eq!(callback.status, 303, "{:?}: {}", value, callback.body);
    let raw = callback.raw_location();
    let raw = raw.as_str();
    let base = app.app_url.path();
    let under_base = |path: &str| path.starts_with(base) || path == base.trim_end_matches('/');
    let raw_path = raw.split(['?', '#']).next().unwrap_or_default();
    prop_assert!(raw_path.starts_with('/'), "{:?} → {:?}", value, raw);
    prop_assert!(
        under_base(&remove_dot_segments(raw_path)),
        "{:?} → {:?}",
        value,
        raw
    );
    let decoded = percent_decoded(raw);
    for seen in [raw, decoded.as_str()] {
        prop_assert!(
            !seen.starts_with("//") && !seen.starts_with("/\\"),
            "{:?} → {:?} starts an authority",
            value,
            raw
        );
        prop_assert!(
            !seen
                .chars()
                .any(|c| c == '\\' || c.is_whitespace() || c.is_control()),
            "{:?} → {:?} has what browsers rewrite",
            value,
            raw
        );
    }
    let landed = callback.location();
    prop_assert_eq!(landed.origin(), app.app_url.origin(), "{:?}", value);
    prop_assert!(under_base(landed.path()), "{:?} → {}", value, landed);
    // Honoured as given (its characters outside ASCII percent-encoded), or replaced by the
    // default: never rewritten into something else.
    prop_assert!(
        raw == value
            || !value.is_ascii()
                && raw.is_ascii()
                && percent_decoded(raw) == percent_decoded(value)
            || raw == app.url("/account").path(),
        "{:?} → {:?}",
        value,
        raw
    );
    Ok(())
}

#[test]
fn any_slash_led_return_to_ends_sign_in_on_this_app() {
    sign_in_with_generated_return_to(&[], slash_led_return_to(), 48, lands_on_this_app);
}

#[test]
fn any_slash_led_return_to_ends_sign_in_under_the_base_path() {
    let settings = [
        ("APP_BASE_URL", "http://localhost:0/app"),
        ("COOKIE_PATH", "/app"),
    ];
    sign_in_with_generated_return_to(&settings, slash_led_return_to(), 48, lands_on_this_app);
}

#[test]
fn a_plain_path_under_the_base_path_is_honoured_as_given() {
    let settings = [
        ("APP_BASE_URL", "http://localhost:0/app"),
        ("COOKIE_PATH", "/app"),
    ];
    let values = (
        prop::collection::vec("[a-z0-9-]{1,8}", 1..4),
        proptest::option::of("[a-z]{1,5}=[a-z0-9]{0,5}"),
    )
        .prop_map(|(segments, query)| {
            let query = query.map(|q| format!("?{q}")).unwrap_or_default();
            format!("/app/{}{query}", segments.join("/"))
        });

    sign_in_with_generated_return_to(&settings, values, 16, |app, value, callback| {
        lands_on_this_app(app, value, callback)?;
        prop_assert_eq!(callback.raw_location(), value);
        Ok(())
    });
}
