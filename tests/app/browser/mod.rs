//! Real-browser tests: headless Chromium signs in through the development IdP's form, toggles
//! the theme, reloads, lives through a refresh and signs out, and after every step its whole
//! cookie jar is compared with the policy the page itself carries.
//!
//! They need Chromium and ChromeDriver (Debian packages `chromium`, `chromium-driver`). Without
//! them the build marks these tests ignored (`build.rs`), except under CI, where they fail.
//! Screenshots go to `target/tmp/screenshots/`; to refresh the README's copies instead:
//!
//! ```sh
//! UPDATE_SCREENSHOTS=1 cargo test --test app browser
//! ```

mod sessions;
mod webdriver;

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::helpers::{TestApp, password_of, spawn_app_with};
use webdriver::{Browser, BrowserCookie};

const OWNED: [&str; 3] = ["session", "sign_in", "theme"];

/// Where a screenshot goes: under the build's target folder, so that `cargo test` leaves the
/// working tree as it found it; into `docs/screenshots/` only when `UPDATE_SCREENSHOTS` is set.
fn screenshot_path(name: &str) -> PathBuf {
    let update = std::env::var_os("UPDATE_SCREENSHOTS").is_some_and(|v| !v.is_empty() && v != "0");
    let folder = if update {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    };
    folder.join(name)
}

/// The app's cookies in the jar (the IdP's, on its own host, are its business).
fn app_cookies(jar: &[BrowserCookie], app: &TestApp) -> Vec<BrowserCookie> {
    let host = app.app_url.host_str().unwrap();
    jar.iter()
        .filter(|c| c.domain.trim_start_matches('.') == host || host.ends_with(&c.domain))
        .cloned()
        .collect()
}

/// Every app cookie in the jar has exactly the attributes the page's policy states.
fn check_jar(jar: &[BrowserCookie], policy: &Value, app: &TestApp, step: &str) {
    let host = app.app_url.host_str().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for cookie in app_cookies(jar, app) {
        let at = format!("{step}: {cookie:?}");
        assert!(OWNED.contains(&cookie.name.as_str()), "unknown cookie {at}");
        let domain = match policy["domain"].as_str() {
            None => host.to_owned(),
            Some(domain) => format!(".{domain}"),
        };
        assert_eq!(cookie.domain, domain, "Domain {at}");
        assert_eq!(cookie.path, policy["path"], "Path {at}");
        let policy_same_site = policy["sameSite"].as_str().unwrap();
        let expected = if cookie.name == "sign_in" && policy_same_site == "strict" {
            "lax"
        } else {
            policy_same_site
        };
        assert_eq!(
            cookie
                .same_site
                .as_deref()
                .map(str::to_lowercase)
                .as_deref(),
            Some(expected),
            "SameSite {at}"
        );
        assert_eq!(cookie.secure, policy["secure"], "Secure {at}");
        assert_eq!(cookie.http_only, cookie.name != "theme", "HttpOnly {at}");
        if cookie.name == "sign_in" {
            assert!(
                cookie.session,
                "the sign-in attempt cookie is not persistent {at}"
            );
        } else {
            let max_age = policy["maxAge"].as_f64().unwrap();
            assert!(
                !cookie.session && (cookie.expires - now - max_age).abs() < 600.0,
                "Max-Age {at}"
            );
        }
    }
}

async fn check_step(browser: &Browser, app: &TestApp, step: &str) {
    let policy = browser.page_policy().await;
    check_jar(&browser.all_cookies().await, &policy, app, step);
}

async fn sign_in_with_the_form(browser: &Browser, app: &TestApp, username: &str, screenshot: bool) {
    browser.click("#sign-in").await;
    browser.wait_for("#username").await;
    if screenshot {
        browser.screenshot(&screenshot_path("idp-login.png")).await;
    }
    browser.type_into("#username", username).await;
    browser.type_into("#password", password_of(username)).await;
    browser.click("#sign-in-submit").await;
    browser.wait_for_path(app.url("/account").path()).await;
    browser.wait_for("#email").await;
}

/// A whole visit under one policy, checking the jar after every step.
async fn visit(settings: &[(&str, &str)], screenshots: bool) {
    let browser = Browser::start().await;
    let app = spawn_app_with(settings).await;

    browser.goto(app.url("/").as_str()).await;
    browser.wait_for("#status").await;
    if screenshots {
        browser.screenshot(&screenshot_path("landing.png")).await;
    }
    check_step(&browser, &app, "landing").await;

    sign_in_with_the_form(&browser, &app, "demo", screenshots).await;
    assert_eq!(browser.text("#email").await, "demo@example.com");
    if screenshots {
        browser.screenshot(&screenshot_path("account.png")).await;
    }
    check_step(&browser, &app, "signed in").await;

    browser.click("#theme-toggle").await;
    let jar = browser.all_cookies().await;
    let theme = app_cookies(&jar, &app)
        .into_iter()
        .find(|c| c.name == "theme")
        .expect("the browser code wrote the theme cookie");
    assert_eq!(theme.value, "dark");
    check_step(&browser, &app, "theme toggled").await;

    browser.reload().await;
    browser.wait_for("#email").await;
    assert_eq!(
        browser
            .execute("return document.documentElement.dataset.theme;")
            .await,
        "dark"
    );
    check_step(&browser, &app, "reloaded").await;

    app.expire_access_tokens().await;
    browser.reload().await;
    assert_eq!(
        browser.text("#refresh-count").await,
        "1",
        "the reload refreshed the tokens on the server"
    );
    assert_eq!(app.idp.count("token:refresh_token"), 1);
    check_step(&browser, &app, "refreshed").await;

    browser.goto(app.url("/admin").as_str()).await;
    browser.wait_for("#error-message").await;
    if screenshots {
        browser.screenshot(&screenshot_path("admin-403.png")).await;
    }
    browser.goto(app.url("/diagnostics/cookies").as_str()).await;
    browser.wait_for("#browser-check[data-done]").await;
    if screenshots {
        browser
            .screenshot(&screenshot_path("diagnostics.png"))
            .await;
    }
    let failed_checks = browser
        .execute("return document.querySelectorAll('#browser-check .bad').length;")
        .await;
    assert_eq!(
        failed_checks, 0,
        "the diagnostics page's browser-side check passes"
    );
    check_step(&browser, &app, "diagnostics").await;
    // Written from a page below /diagnostics: a cookie without the policy's Path would land there.
    browser.click("#theme-toggle").await;
    check_step(&browser, &app, "theme toggled on a deeper page").await;

    browser.click("#sign-out").await;
    browser.wait_for_path(app.url("/").path()).await;
    browser.wait_for("#status").await;
    assert!(browser.text("#status").await.contains("not signed in"));
    let left = app_cookies(&browser.all_cookies().await, &app);
    assert!(
        left.iter()
            .all(|c| c.name != "session" && c.name != "sign_in"),
        "authentication cookies left: {left:?}"
    );
    assert!(
        left.is_empty(),
        "every cookie the app owns is gone: {left:?}"
    );
    assert_eq!(app.idp.count("revoke"), 1);

    browser.quit().await;
}

#[tokio::test]
#[cfg_attr(
    no_browser,
    ignore = "needs chromium and chromedriver (Debian packages chromium, chromium-driver)"
)]
async fn a_whole_visit_keeps_the_jar_to_the_default_policy() {
    visit(&[], true).await;
}

#[tokio::test]
#[cfg_attr(
    no_browser,
    ignore = "needs chromium and chromedriver (Debian packages chromium, chromium-driver)"
)]
async fn a_whole_visit_works_and_keeps_the_jar_to_a_strict_policy() {
    visit(&[("COOKIE_SAME_SITE", "strict")], false).await;
}

#[tokio::test]
#[cfg_attr(
    no_browser,
    ignore = "needs chromium and chromedriver (Debian packages chromium, chromium-driver)"
)]
async fn a_whole_visit_keeps_the_jar_to_a_policy_with_a_non_root_path() {
    visit(
        &[
            ("APP_BASE_URL", "http://localhost:0/app"),
            ("COOKIE_PATH", "/app"),
        ],
        false,
    )
    .await;
}

#[tokio::test]
#[cfg_attr(
    no_browser,
    ignore = "needs chromium and chromedriver (Debian packages chromium, chromium-driver)"
)]
async fn a_whole_visit_keeps_the_jar_to_a_domain_policy_with_same_site_none() {
    visit(
        &[
            ("APP_BASE_URL", "http://app.localhost:0"),
            ("COOKIE_DOMAIN", "app.localhost"),
            ("COOKIE_SAME_SITE", "none"),
            ("COOKIE_SECURE", "true"),
        ],
        false,
    )
    .await;
}

const LEGACY: [(&str, &str); 2] = [
    ("APP_BASE_URL", "http://app.localhost:0"),
    ("COOKIE_LEGACY_SCOPES", "app.localhost|/,|/old"),
];

/// Cookies an earlier deployment left: one under the parent Domain, one under another Path.
async fn plant_legacy_cookies(browser: &Browser, app: &TestApp) {
    let host = app.app_url.host_str().unwrap();
    let port = app.app_url.port().unwrap();
    browser.plant_cookie(json!({ "name": "session", "value": "legacy-domain", "domain": format!(".{host}"), "path": "/" })).await;
    browser
        .plant_cookie(json!({ "name": "session", "value": "legacy-path", "url": format!("http://{host}:{port}/old"), "path": "/old" }))
        .await;
}

/// A browser signed in to an app whose earlier deployments left session cookies behind.
async fn signed_in_beside_legacy_cookies() -> (Browser, TestApp) {
    let browser = Browser::start().await;
    let app = spawn_app_with(&LEGACY).await;
    browser.goto(app.url("/").as_str()).await;
    sign_in_with_the_form(&browser, &app, "demo", false).await;
    plant_legacy_cookies(&browser, &app).await;
    (browser, app)
}

fn session_cookies(jar: &[BrowserCookie], app: &TestApp) -> Vec<BrowserCookie> {
    app_cookies(jar, app)
        .into_iter()
        .filter(|c| c.name == "session")
        .collect()
}

#[tokio::test]
#[cfg_attr(
    no_browser,
    ignore = "needs chromium and chromedriver (Debian packages chromium, chromium-driver)"
)]
async fn sign_out_leaves_no_cookie_under_any_legacy_scope() {
    let (browser, app) = signed_in_beside_legacy_cookies().await;
    assert_eq!(session_cookies(&browser.all_cookies().await, &app).len(), 3);

    browser.click("#sign-out").await;
    browser.wait_for_path(app.url("/").path()).await;
    browser.wait_for("#status").await;

    let left = app_cookies(&browser.all_cookies().await, &app);
    assert!(left.is_empty(), "cookies left after sign-out: {left:?}");
    browser.quit().await;
}

#[tokio::test]
#[cfg_attr(
    no_browser,
    ignore = "needs chromium and chromedriver (Debian packages chromium, chromium-driver)"
)]
async fn a_duplicate_session_cookie_is_cleaned_up_and_the_user_is_not_stuck() {
    let (browser, app) = signed_in_beside_legacy_cookies().await;

    browser.goto(app.url("/account").as_str()).await;

    browser.wait_for("#email").await;
    let sessions = session_cookies(&browser.all_cookies().await, &app);
    assert_eq!(
        sessions.len(),
        1,
        "only the live session cookie is left: {sessions:?}"
    );
    assert_eq!(sessions[0].domain, app.app_url.host_str().unwrap());
    assert_eq!(sessions[0].path, "/");
    browser.quit().await;
}

#[tokio::test]
#[cfg_attr(
    no_browser,
    ignore = "needs chromium and chromedriver (Debian packages chromium, chromium-driver)"
)]
async fn signing_out_in_one_tab_signs_out_the_other() {
    let browser = Browser::start().await;
    let app = spawn_app_with(&[]).await;
    browser.goto(app.url("/").as_str()).await;
    sign_in_with_the_form(&browser, &app, "demo", false).await;
    let first = browser.current_tab().await;
    let second = browser.new_tab().await;
    browser.goto(app.url("/account").as_str()).await;
    browser.wait_for("#email").await;

    browser.switch_to(&first).await;
    browser.click("#sign-out").await;
    browser.wait_for_path(app.url("/").path()).await;
    browser.wait_for("#status").await;

    browser.switch_to(&second).await;
    browser.wait_for_path(app.url("/").path()).await;
    browser.wait_for("main[data-signed-in=false]").await;
    assert!(browser.text("#status").await.contains("not signed in"));
    browser.quit().await;
}

#[tokio::test]
#[cfg_attr(
    no_browser,
    ignore = "needs chromium and chromedriver (Debian packages chromium, chromium-driver)"
)]
async fn sign_ins_started_in_two_tabs_both_complete_on_the_page_each_asked_for() {
    let browser = Browser::start().await;
    let app = spawn_app_with(&[]).await;
    let first = browser.current_tab().await;
    browser
        .goto(
            app.url("/auth/sign-in?return_to=/diagnostics/cookies")
                .as_str(),
        )
        .await;
    browser.wait_for("#username").await;
    let second = browser.new_tab().await;
    browser
        .goto(app.url("/auth/sign-in?return_to=/account").as_str())
        .await;
    browser.wait_for("#username").await;

    browser.type_into("#username", "demo").await;
    browser.type_into("#password", password_of("demo")).await;
    browser.click("#sign-in-submit").await;
    browser.wait_for_path(app.url("/account").path()).await;
    browser.wait_for("#email").await;
    browser.switch_to(&first).await;
    // The IdP's form carries an XSRF cookie that the other tab's form replaced (one cookie per
    // site, as Cognito's): the IdP asks this tab to try again, and then it goes through.
    browser.type_into("#username", "demo").await;
    browser.type_into("#password", password_of("demo")).await;
    browser.click("#sign-in-submit").await;
    browser.wait_for("#login-error").await;
    browser.type_into("#password", password_of("demo")).await;
    browser.click("#sign-in-submit").await;
    browser
        .wait_for_path(app.url("/diagnostics/cookies").path())
        .await;

    browser.wait_for("main[data-signed-in=true]").await;
    check_step(&browser, &app, "after the second sign-in").await;
    browser.switch_to(&second).await;
    browser.reload().await;
    browser.wait_for("#email").await;
    assert!(
        !browser
            .all_cookies()
            .await
            .iter()
            .any(|cookie| cookie.name == "sign_in"),
        "no sign-in is left in flight"
    );
    browser.quit().await;
}
