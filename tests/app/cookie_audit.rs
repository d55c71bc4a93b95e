//! The header audit: every route in every state, under several cookie policies, and every
//! Set-Cookie the app writes compared attribute by attribute with the policy.

use std::collections::BTreeSet;

use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};

use cognito_web::dev_idp::TokenFailure;

use crate::helpers::{JarCookie, Reply, TestApp, assert_redirect_to, spawn_app_with};

/// What the policy says, as the test expects it.
struct Expected {
    domain: Option<&'static str>,
    path: &'static str,
    same_site: SameSite,
    secure: bool,
    max_age: i64,
}

/// Asks for `path` and checks the answer's status, so a step that breaks fails the walk.
async fn visit(app: &TestApp, path: &str, status: u16) {
    let reply = app.get(path).await;
    assert_eq!(reply.status, status, "{path}: {}", reply.body);
}

/// Walks every route in every state: anonymous, signed in, signed in with an expired access
/// token, an IdP failure, after invalid_grant, each error page, sign-out.
async fn walk(app: &TestApp, username: &str) {
    for (path, status) in [
        ("/", 200),
        ("/account", 303),
        ("/account/sessions", 303),
        ("/admin", 303),
        ("/diagnostics/cookies", 200),
        ("/healthz", 200),
        ("/static/app.js", 200),
        ("/nope", 404),
        ("/auth/callback?code=x&state=y", 400),
    ] {
        visit(app, path, status).await;
    }
    app.get_sign_in(Some("/admin")).await;
    visit(app, "/auth/callback?error=access_denied", 400).await;
    visit(app, &format!("/?q={}", "a".repeat(5000)), 414).await;
    assert_eq!(app.post_sign_out("no-session").await.status, 303);

    let callback = app.sign_in_as(username).await;
    assert!(matches!(callback.status, 200 | 303), "{}", callback.body);
    for (path, status) in [
        ("/", 200),
        ("/account", 200),
        ("/account/sessions", 200),
        ("/admin", 403),
        ("/diagnostics/cookies", 200),
        ("/nope", 404),
    ] {
        visit(app, path, status).await;
    }
    assert_eq!(app.post_sign_out("wrong-token").await.status, 403);
    assert_eq!(
        app.post_sign_out_other_sessions("wrong-token").await.status,
        403
    );
    app.expire_access_tokens().await;
    visit(app, "/account", 200).await;
    app.idp.fail_token_endpoint(TokenFailure {
        status: Some(503),
        body: String::new(),
        delay_ms: 0,
    });
    app.expire_access_tokens().await;
    visit(app, "/account", 503).await;
    app.idp.clear_token_failure();
    app.idp.revoke_user(username);
    app.expire_access_tokens().await;
    visit(app, "/account", 303).await;

    app.sign_in_as(username).await;
    let csrf = app.csrf_token().await;
    assert_eq!(app.post_sign_out(&csrf).await.status, 303);
    visit(app, "/account", 303).await;
}

fn check(cookie: &Cookie<'_>, url: &url::Url, expected: &Expected) {
    let at = format!("{cookie} (from {url})");
    assert!(
        ["session", "sign_in", "theme"].contains(&cookie.name()),
        "an unknown cookie: {at}"
    );
    assert_eq!(cookie.domain(), expected.domain, "Domain: {at}");
    assert_eq!(cookie.path(), Some(expected.path), "Path: {at}");
    let same_site = match (cookie.name(), expected.same_site) {
        // The documented exception: the sign-in attempt cookie survives the cross-site return.
        ("sign_in", SameSite::Strict) => SameSite::Lax,
        (_, same_site) => same_site,
    };
    assert_eq!(cookie.same_site(), Some(same_site), "SameSite: {at}");
    assert_eq!(
        cookie.secure().unwrap_or(false),
        expected.secure,
        "Secure: {at}"
    );
    assert_eq!(
        cookie.http_only().unwrap_or(false),
        cookie.name() != "theme",
        "HttpOnly: {at}"
    );
    let max_age = cookie.max_age();
    if cookie.value().is_empty() {
        assert_eq!(max_age, Some(Duration::ZERO), "a deletion: {at}");
    } else if cookie.name() == "session" {
        assert_eq!(
            max_age,
            Some(Duration::seconds(expected.max_age)),
            "Max-Age: {at}"
        );
    } else {
        assert_eq!(
            max_age, None,
            "the sign-in attempt cookie lives for the browser session: {at}"
        );
    }
}

async fn audit(settings: &[(&str, &str)], expected: Expected) {
    let app = spawn_app_with(settings).await;

    walk(&app, "demo").await;

    let log = app.set_cookie_log();
    for (url, cookie) in &log {
        check(cookie, url, &expected);
    }
    let kinds: BTreeSet<String> = log
        .iter()
        .map(|(_, c)| {
            format!(
                "{}:{}",
                c.name(),
                if c.value().is_empty() {
                    "expire"
                } else {
                    "set"
                }
            )
        })
        .collect();
    let all: BTreeSet<String> = [
        "session:set",
        "session:expire",
        "sign_in:set",
        "sign_in:expire",
        "theme:expire",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(kinds, all, "the walk saw every kind of Set-Cookie");
}

/// The default policy; tests change what their settings change.
const DEFAULT: Expected = Expected {
    domain: None,
    path: "/",
    same_site: SameSite::Lax,
    secure: false,
    max_age: 2_592_000,
};

#[tokio::test]
async fn every_set_cookie_follows_the_default_policy() {
    audit(&[], DEFAULT).await;
}

#[tokio::test]
async fn every_set_cookie_follows_a_policy_with_a_non_root_path() {
    let settings = [
        ("APP_BASE_URL", "http://localhost:0/app"),
        ("COOKIE_PATH", "/app"),
        ("COOKIE_MAX_AGE", "3600"),
    ];
    audit(
        &settings,
        Expected {
            path: "/app",
            max_age: 3600,
            ..DEFAULT
        },
    )
    .await;
}

#[tokio::test]
async fn every_set_cookie_follows_a_strict_policy() {
    let settings = [("COOKIE_SAME_SITE", "strict")];
    audit(
        &settings,
        Expected {
            same_site: SameSite::Strict,
            ..DEFAULT
        },
    )
    .await;
}

#[tokio::test]
async fn every_set_cookie_follows_a_same_site_none_policy() {
    let settings = [("COOKIE_SAME_SITE", "none"), ("COOKIE_SECURE", "true")];
    audit(
        &settings,
        Expected {
            same_site: SameSite::None,
            secure: true,
            ..DEFAULT
        },
    )
    .await;
}

#[tokio::test]
async fn every_set_cookie_follows_a_secure_policy() {
    let settings = [("COOKIE_SECURE", "true")];
    audit(
        &settings,
        Expected {
            secure: true,
            ..DEFAULT
        },
    )
    .await;
}

#[tokio::test]
async fn every_set_cookie_follows_a_policy_with_a_domain() {
    let settings = [
        ("APP_BASE_URL", "http://app.localhost:0"),
        ("COOKIE_DOMAIN", "app.localhost"),
    ];
    audit(
        &settings,
        Expected {
            domain: Some("app.localhost"),
            ..DEFAULT
        },
    )
    .await;
}

#[tokio::test]
async fn duplicate_cookies_are_expired_under_every_legacy_scope_and_the_live_session_wins() {
    let app = spawn_app_with(&[("COOKIE_LEGACY_SCOPES", "|/old,localhost|/")]).await;
    app.sign_in_as("demo").await;
    let live = app.app_cookies()["session"].clone();
    let url = app.url("/account");

    // A stale session cookie from an earlier deployment, sent first, beside the live one.
    let reply = app
        .send(
            reqwest::Client::new()
                .get(url.clone())
                .header("Cookie", format!("session=stale; session={live}")),
            url,
        )
        .await;

    assert_eq!(reply.status, 200, "the user is not stuck: {}", reply.body);
    let cookies = reply.set_cookies();
    let scopes: Vec<(Option<&str>, Option<&str>)> =
        cookies.iter().map(|c| (c.domain(), c.path())).collect();
    assert_eq!(
        scopes,
        [(None, Some("/old")), (Some("localhost"), Some("/"))]
    );
    assert!(
        cookies
            .iter()
            .all(|c| c.name() == "session" && c.max_age() == Some(Duration::ZERO))
    );
}

#[tokio::test]
async fn sign_out_expires_every_cookie_under_every_legacy_scope() {
    let app = spawn_app_with(&[("COOKIE_LEGACY_SCOPES", "|/old,localhost|/")]).await;
    app.sign_in_as("demo").await;

    let sign_out = app.post_sign_out(&app.csrf_token().await).await;

    let mut scopes: Vec<String> = sign_out
        .set_cookies()
        .iter()
        .map(|c| {
            format!(
                "{}@{}{}",
                c.name(),
                c.domain().unwrap_or("host"),
                c.path().unwrap_or("")
            )
        })
        .collect();
    scopes.sort();
    assert_eq!(
        scopes,
        [
            "session@host/",
            "session@host/old",
            "session@localhost/",
            "sign_in@host/",
            "sign_in@host/old",
            "sign_in@localhost/",
            "theme@host/",
            "theme@host/old",
            "theme@localhost/",
        ]
    );
}

/// The app's cookies.
const OWNED: [&str; 3] = ["session", "sign_in", "theme"];

/// Writes the theme cookie as `static/app.js` does: under the scope the page's policy states.
fn write_theme_as_the_browser_code_does(app: &TestApp, page: &Reply) {
    let policy = page.page_policy();
    let path = policy["path"].as_str().expect("the policy has a path");
    app.plant_cookie_in("theme", "dark", policy["domain"].as_str(), path);
}

/// The app's cookies in the jar, under every scope that reaches the app's host.
fn owned_cookies(app: &TestApp) -> Vec<JarCookie> {
    app.app_cookie_scopes()
        .into_iter()
        .filter(|c| OWNED.contains(&c.name.as_str()))
        .collect()
}

/// Every app cookie in the jar lies in the policy's scope, once per name.
fn assert_jar_in_scope(app: &TestApp, expected: &Expected, step: &str) {
    let host = app.app_url.host_str().unwrap();
    let cookies = owned_cookies(app);
    for cookie in &cookies {
        let in_scope = match expected.domain {
            Some(domain) => !cookie.host_only && cookie.domain == domain,
            None => cookie.host_only && cookie.domain == host,
        };
        assert!(
            in_scope && cookie.path == expected.path,
            "{step}: {} lies outside the policy's scope",
            cookie.scope()
        );
    }
    let names: BTreeSet<&str> = cookies.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), cookies.len(), "{step}: a name twice");
}

/// Every flow that writes or expires a cookie: the landing page (where the browser code writes
/// the theme), diagnostics, sign-in, the protected pages, a refresh, sign-out. With `expected`,
/// the jar is checked against the policy after every step.
async fn walk_every_flow(app: &TestApp, expected: Option<&Expected>) {
    let step = |name: &str| {
        if let Some(expected) = expected {
            assert_jar_in_scope(app, expected, name);
        }
    };
    let landing = app.get("/").await;
    assert_eq!(landing.status, 200, "{}", landing.body);
    write_theme_as_the_browser_code_does(app, &landing);
    step("theme written on the landing page");
    visit(app, "/diagnostics/cookies", 200).await;
    step("diagnostics");

    let callback = app.sign_in_as("demo").await;
    assert_redirect_to(&callback, app.url("/account").path());
    step("signed in");
    for (path, status) in [
        ("/account", 200),
        ("/admin", 403),
        ("/diagnostics/cookies", 200),
    ] {
        visit(app, path, status).await;
        step(path);
    }
    let diagnostics = app.get("/diagnostics/cookies").await;
    write_theme_as_the_browser_code_does(app, &diagnostics);
    step("theme written on a deeper page");
    app.expire_access_tokens().await;
    visit(app, "/account", 200).await;
    assert_eq!(app.idp.count("token:refresh_token"), 1, "a refresh");
    step("refreshed");

    let csrf = app.csrf_token().await;
    let sign_out = app.post_sign_out(&csrf).await;
    assert_eq!(sign_out.status, 303, "{}", sign_out.body);
    step("signed out");
}

/// Walks every flow under a policy, then checks every Set-Cookie the app wrote against it and
/// that sign-out left none of the app's cookies in the jar, under any scope.
async fn audit_scopes(case: &str, settings: &[(&str, &str)], expected: Expected) {
    let app = spawn_app_with(settings).await;

    walk_every_flow(&app, Some(&expected)).await;

    let log = app.set_cookie_log();
    for (url, cookie) in &log {
        check(cookie, url, &expected);
    }
    for kind in ["session", "sign_in"] {
        assert!(
            log.iter()
                .any(|(_, c)| c.name() == kind && !c.value().is_empty()),
            "{case}: the walk wrote {kind}"
        );
    }
    for kind in OWNED {
        assert!(
            log.iter()
                .any(|(_, c)| c.name() == kind && c.value().is_empty()),
            "{case}: the walk expired {kind}"
        );
    }
    let left: Vec<String> = owned_cookies(&app).iter().map(JarCookie::scope).collect();
    assert!(left.is_empty(), "{case}: left after sign-out: {left:?}");
}

#[tokio::test]
async fn no_flow_writes_a_cookie_outside_a_domain_policy_and_sign_out_leaves_none() {
    audit_scopes(
        "Domain=localhost",
        &[("COOKIE_DOMAIN", "localhost")],
        Expected {
            domain: Some("localhost"),
            ..DEFAULT
        },
    )
    .await;
    audit_scopes(
        "Domain=localhost, Path=/app",
        &[
            ("APP_BASE_URL", "http://localhost:0/app"),
            ("COOKIE_PATH", "/app"),
            ("COOKIE_DOMAIN", "localhost"),
        ],
        Expected {
            domain: Some("localhost"),
            path: "/app",
            ..DEFAULT
        },
    )
    .await;
}

#[tokio::test]
async fn no_flow_writes_a_cookie_outside_a_host_only_policy_and_sign_out_leaves_none() {
    audit_scopes("host-only", &[], DEFAULT).await;
    audit_scopes(
        "host-only, Path=/app",
        &[
            ("APP_BASE_URL", "http://localhost:0/app"),
            ("COOKIE_PATH", "/app"),
        ],
        Expected {
            path: "/app",
            ..DEFAULT
        },
    )
    .await;
}

/// What the audit above guards against: a cookie written outside the policy's scope (here a
/// host-only theme under a Domain policy) is a cookie of its own, which sign-out's expiry under
/// the policy's Domain does not touch. A jar that kept one cookie per (host, name, path) would
/// have let the Domain expiry delete it, and hidden the leftover.
#[tokio::test]
async fn a_host_only_cookie_beside_a_domain_policy_survives_sign_out_and_the_audit_sees_it() {
    let app = spawn_app_with(&[("COOKIE_DOMAIN", "localhost")]).await;
    app.plant_cookie("theme", "stray");

    walk_every_flow(&app, None).await;

    let left: Vec<String> = owned_cookies(&app).iter().map(JarCookie::scope).collect();
    assert_eq!(left, ["theme@host-only:localhost/"]);
}
