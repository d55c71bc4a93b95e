//! Server-side refresh: once per session under concurrency, clean ends, kept sessions on failure.

use std::sync::Arc;

use cognito_web::dev_idp::TokenFailure;
use tokio::task::JoinSet;

use crate::helpers::{
    Reply, TestApp, assert_redirect_to, free_port, spawn_app, spawn_app_in, spawn_app_with,
};

async fn concurrent_gets(app: &Arc<TestApp>, path: &'static str, count: usize) -> Vec<Reply> {
    let mut requests = JoinSet::new();
    for _ in 0..count {
        let app = app.clone();
        requests.spawn(async move { app.get(path).await });
    }
    requests.join_all().await
}

fn refresh_count(page: &Reply) -> String {
    let marker = r#"<dd id="refresh-count">"#;
    let start = page
        .body
        .find(marker)
        .expect("the account page shows the refresh count")
        + marker.len();
    page.body[start..start + page.body[start..].find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn fifty_concurrent_requests_after_expiry_make_one_refresh_grant() {
    let app = Arc::new(spawn_app().await);
    app.sign_in_as("demo").await;
    app.expire_access_tokens().await;

    let replies = concurrent_gets(&app, "/account", 50).await;

    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(
            reply.set_cookies().is_empty(),
            "a refresh writes no cookie: the session id stays"
        );
    }
    assert_eq!(app.idp.count("token:refresh_token"), 1);
    assert_eq!(refresh_count(&app.get("/account").await), "1");
}

#[tokio::test]
async fn a_fresh_access_token_is_not_refreshed() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;

    app.get("/account").await;
    app.get("/admin").await;

    assert_eq!(app.idp.count("token:refresh_token"), 0);
}

#[tokio::test]
async fn two_app_processes_on_one_database_make_one_refresh_grant() {
    let app = Arc::new(spawn_app().await);
    let other = crate::process::spawn_second_process(&app).await;
    app.sign_in_as("demo").await;
    app.expire_access_tokens().await;
    let other_account = other.url("/account");

    let mut requests = JoinSet::new();
    for i in 0..50 {
        let app = app.clone();
        let url = if i % 2 == 0 {
            other_account.to_string()
        } else {
            app.url("/account").to_string()
        };
        requests.spawn(async move { app.get(&url).await });
    }
    let replies = requests.join_all().await;

    for reply in &replies {
        assert_eq!(reply.status, 200, "{} answered {}", reply.url, reply.body);
    }
    assert_eq!(app.idp.count("token:refresh_token"), 1);
}

#[tokio::test]
async fn invalid_grant_ends_the_session_cleanly_and_a_new_sign_in_works_at_once() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    app.idp.revoke_user("demo");
    app.expire_access_tokens().await;

    let account = app.get("/account").await;

    assert_redirect_to(&account, "/auth/sign-in?return_to=%2Faccount");
    assert!(
        !app.app_cookies().contains_key("session"),
        "no authentication cookie is left"
    );
    // Follow the redirects like a browser: sign-in, the IdP (which still knows the browser), back.
    let mut next = account.location();
    let mut hops = 0;
    let last = loop {
        let reply = app.get(next.as_str()).await;
        if !matches!(reply.status, 302 | 303) {
            break reply;
        }
        next = reply.location();
        hops += 1;
        assert!(hops < 6, "redirect loop through {next}");
    };
    assert_eq!(last.status, 200, "{}", last.body);
    assert!(last.body.contains("demo@example.com"));
    assert_eq!(app.idp.count("token:refresh_token"), 1);
}

async fn failing_refresh_keeps_the_session(failure: TokenFailure) {
    let app = spawn_app().await;
    app.sign_in_as("admin").await;
    app.idp.fail_token_endpoint(failure.clone());
    app.expire_access_tokens().await;

    let account = app.get("/account").await;
    let admin = app.get("/admin").await;

    assert_eq!(account.status, 503, "{failure:?}: {}", account.body);
    assert!(account.body.contains("could not be reached"), "{failure:?}");
    assert!(
        account.set_cookies().is_empty(),
        "{failure:?}: nothing is expired"
    );
    assert_eq!(
        admin.status, 200,
        "{failure:?}: a page that can render without fresh tokens does"
    );
    assert!(
        admin.body.contains("could not be reached"),
        "{failure:?}: with a notice"
    );
    app.idp.clear_token_failure();
    let recovered = app.get("/account").await;
    assert_eq!(
        recovered.status, 200,
        "{failure:?}: recovery needs no new sign-in"
    );
    assert_eq!(refresh_count(&recovered), "1");
}

#[tokio::test]
async fn a_5xx_from_the_token_endpoint_keeps_the_session() {
    failing_refresh_keeps_the_session(TokenFailure {
        status: Some(503),
        body: String::new(),
        delay_ms: 0,
    })
    .await;
}

#[tokio::test]
async fn an_unreadable_token_response_keeps_the_session() {
    failing_refresh_keeps_the_session(TokenFailure {
        status: Some(200),
        body: "<html>oops</html>".into(),
        delay_ms: 0,
    })
    .await;
}

#[tokio::test]
async fn a_token_endpoint_that_hangs_past_the_timeout_keeps_the_session() {
    let timeout_ms = cognito_web::auth::http::REQUEST_TIMEOUT.as_millis() as u64;
    failing_refresh_keeps_the_session(TokenFailure {
        status: Some(200),
        body: String::new(),
        delay_ms: timeout_ms + 1000,
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_idp_keeps_the_session_and_the_next_request_recovers() {
    let app = Arc::new(spawn_app().await);
    let unreachable = crate::process::spawn_second_process_with_dead_idp(&app).await;
    app.sign_in_as("demo").await;
    app.expire_access_tokens().await;

    let down = app.get(unreachable.url("/account").as_str()).await;
    let up = app.get("/account").await;

    assert_eq!(down.status, 503, "{}", down.body);
    assert!(down.body.contains("could not be reached"));
    assert!(down.set_cookies().is_empty());
    assert_eq!(up.status, 200, "{}", up.body);
    assert_eq!(refresh_count(&up), "1");
}

#[tokio::test]
async fn a_rotated_refresh_token_replaces_the_stored_one() {
    let app = spawn_app().await;
    app.idp.set_refresh_rotation(true);
    app.sign_in_as("demo").await;

    app.expire_access_tokens().await;
    let first = app.get("/account").await;
    app.expire_access_tokens().await;
    let second = app.get("/account").await;

    assert_eq!(refresh_count(&first), "1");
    // The second refresh used the rotated token: the first one was retired by the IdP.
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(refresh_count(&second), "2");
    assert_eq!(app.idp.count("token:refresh_token"), 2);
}

#[tokio::test]
async fn a_restart_keeps_every_session_and_refresh_still_works() {
    // The same addresses after the restart, as a deployment has (the IdP's issuer names its port).
    let app_listen = format!("127.0.0.1:{}", free_port());
    let idp_listen = format!("127.0.0.1:{}", free_port());
    let settings = [
        ("APP_LISTEN", app_listen.as_str()),
        ("DEV_IDP_LISTEN", idp_listen.as_str()),
    ];
    let app = spawn_app_with(&settings).await;
    app.sign_in_as("demo").await;
    let (dir, cookies) = app.stop().await;

    let restarted = spawn_app_in(dir, &settings).await;
    restarted.restore_cookies(cookies);
    let account = restarted.get("/account").await;
    restarted.expire_access_tokens().await;
    let refreshed = restarted.get("/account").await;

    assert_eq!(account.status, 200, "{}", account.body);
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(refresh_count(&refreshed), "1");
}

#[tokio::test]
async fn jwks_is_fetched_once_and_again_after_the_idp_rotates_its_keys() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    app.sign_in_as("demo").await;
    let fetched_before_rotation = app.idp.count("jwks");

    app.idp.rotate_keys().unwrap();
    let after_rotation = app.sign_in_as("demo").await;

    assert_eq!(fetched_before_rotation, 1);
    assert_redirect_to(&after_rotation, "/account");
    assert_eq!(app.idp.count("jwks"), 2);
}

/// Set-Cookie attributes written at sign-in and on the invalid_grant path, compared one by one
/// with the policy.
async fn cookies_follow_the_policy(
    settings: &[(&str, &str)],
    path: &str,
    same_site: &str,
    max_age: i64,
) {
    use actix_web::cookie::time::Duration;
    let app = spawn_app_with(settings).await;
    let callback = app.sign_in_as("demo").await;
    app.idp.revoke_user("demo");
    app.expire_access_tokens().await;

    let ended = app.get("/account").await;

    let session = callback.set_cookie("session");
    assert_eq!(session.max_age(), Some(Duration::seconds(max_age)));
    assert_eq!(session.http_only(), Some(true));
    let cookies = ended.set_cookies();
    let names: Vec<&str> = cookies.iter().map(|c| c.name()).collect();
    assert_eq!(names, ["session", "sign_in", "theme"]);
    for cookie in cookies.iter().chain([&session]) {
        // The sign-in attempt cookie is the one documented exception: Lax under a Strict policy.
        let expected = if cookie.name() == "sign_in" && same_site == "strict" {
            "lax"
        } else {
            same_site
        };
        assert_eq!(cookie.path(), Some(path), "{cookie}");
        assert_eq!(cookie.domain(), None, "{cookie}");
        assert_eq!(
            cookie
                .same_site()
                .map(|s| s.to_string().to_lowercase())
                .as_deref(),
            Some(expected),
            "{cookie}"
        );
        assert!(!cookie.secure().unwrap_or(false), "{cookie}");
        assert_eq!(
            cookie.http_only().unwrap_or(false),
            cookie.name() != "theme",
            "{cookie}"
        );
    }
    for cookie in &cookies {
        assert_eq!(cookie.max_age(), Some(Duration::ZERO), "{cookie}");
    }
}

#[tokio::test]
async fn cookies_on_the_invalid_grant_path_follow_the_default_policy() {
    cookies_follow_the_policy(&[], "/", "lax", 2_592_000).await;
}

#[tokio::test]
async fn cookies_on_the_invalid_grant_path_follow_a_non_default_policy() {
    cookies_follow_the_policy(
        &[
            ("APP_BASE_URL", "http://localhost:0/app"),
            ("COOKIE_PATH", "/app"),
            ("COOKIE_SAME_SITE", "strict"),
            ("COOKIE_MAX_AGE", "3600"),
        ],
        "/app",
        "strict",
        3600,
    )
    .await;
}

#[tokio::test]
async fn user_info_is_fetched_once_per_access_token() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;

    for _ in 0..3 {
        assert_eq!(app.get("/account").await.status, 200);
    }
    let before_refresh = app.idp.count("userInfo");
    app.expire_access_tokens().await;
    let after_refresh = app.get("/account").await;

    assert_eq!(before_refresh, 1);
    assert!(after_refresh.body.contains("Dana Demo"));
    assert_eq!(
        app.idp.count("userInfo"),
        2,
        "a new access token, a new userInfo call"
    );
}

#[tokio::test]
async fn a_session_signed_out_by_another_process_stops_working_there_within_the_bound() {
    let app = Arc::new(spawn_app().await);
    let other = crate::process::spawn_second_process(&app).await;
    app.sign_in_as("demo").await;
    let session = app.app_cookies()["session"].clone();
    let elsewhere = other.url("/account").to_string();
    assert_eq!(
        app.get(&elsewhere).await.status,
        200,
        "the other process has it cached now"
    );

    app.post_sign_out(&app.csrf_token().await).await;
    app.plant_cookie("session", &session);

    // Wait for the condition, with room for a slow machine; the bound itself is documented.
    let bound = cognito_web::auth::cache::REVALIDATE_AFTER;
    let started = std::time::Instant::now();
    loop {
        let reply = app.get(&elsewhere).await;
        if reply.status == 303 {
            break;
        }
        assert_eq!(reply.status, 200);
        assert!(
            started.elapsed() < bound + std::time::Duration::from_secs(30),
            "still served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.get("/account").await.status,
        303,
        "and at once in the process that signed out"
    );
}

#[tokio::test]
async fn a_short_token_lifetime_makes_refreshes_happen_on_their_own() {
    let app = spawn_app_with(&[("DEV_IDP_ACCESS_TOKEN_TTL", "2")]).await;
    app.sign_in_as("demo").await;

    // Wait for the condition: a page view after the token's refresh point refreshes it.
    let started = std::time::Instant::now();
    let page = loop {
        let page = app.get("/account").await;
        assert_eq!(page.status, 200, "{}", page.body);
        if refresh_count(&page) != "0" {
            break page;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no refresh happened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };

    assert!(app.idp.count("token:refresh_token") >= 1);
    assert!(page.body.contains("Last refresh at"));
}
