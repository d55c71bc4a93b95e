//! The callback refuses whatever it cannot trust, with a page that offers to sign in again.

use crate::helpers::{TestApp, spawn_app};

async fn callback_url(app: &TestApp, username: &str) -> url::Url {
    app.callback_url(username, None).await
}

fn with_param(url: &url::Url, name: &str, value: Option<&str>) -> url::Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != name)
        .collect();
    let mut url = url.clone();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    if let Some(value) = value {
        url.query_pairs_mut().append_pair(name, value);
    }
    url
}

fn assert_sign_in_failed(reply: &crate::helpers::Reply, words: &str) {
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.body.contains(words),
        "expected {words:?} in {}",
        reply.body
    );
    assert!(reply.body.contains("Sign in again"));
    assert!(
        reply.set_cookies().iter().all(|c| c.name() != "session"),
        "no session may start"
    );
}

#[tokio::test]
async fn a_callback_without_state_is_refused() {
    let app = spawn_app().await;
    let url = callback_url(&app, "demo").await;

    let reply = app.get(with_param(&url, "state", None).as_str()).await;

    assert_sign_in_failed(&reply, "did not carry the sign-in&#39;s state");
}

#[tokio::test]
async fn a_callback_with_a_tampered_state_is_refused() {
    let app = spawn_app().await;
    let url = callback_url(&app, "demo").await;

    let reply = app
        .get(with_param(&url, "state", Some("tampered")).as_str())
        .await;

    assert_sign_in_failed(&reply, "belongs to another sign-in attempt");
    // This browser's own attempt (perhaps in another tab) may still complete.
    assert!(reply.set_cookies().iter().all(|c| c.name() != "sign_in"));
    assert_eq!(app.get(url.as_str()).await.status, 303);
}

#[tokio::test]
async fn a_replayed_code_is_refused() {
    let app = spawn_app().await;
    let first = callback_url(&app, "demo").await;
    app.get(first.as_str()).await;
    let code = first
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    // A fresh attempt, so only the code is stale.
    let second = callback_url(&app, "demo").await;

    let reply = app
        .get(with_param(&second, "code", Some(&code)).as_str())
        .await;

    assert_sign_in_failed(&reply, "authorization code was refused");
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let app = spawn_app().await;
    let url = callback_url(&app, "demo").await;
    let first = app.get(url.as_str()).await;
    app.plant_cookie(
        "sign_in",
        url.query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .as_ref(),
    );

    let again = app.get(url.as_str()).await;

    assert_eq!(first.status, 303);
    assert_sign_in_failed(&again, "already completed, or has expired");
}

#[tokio::test]
async fn a_cancelled_sign_in_gets_a_friendly_page() {
    let app = spawn_app().await;
    let login = app.start_sign_in(None).await;
    let state = login
        .url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();

    let reply = app
        .get(&format!("/auth/callback?error=access_denied&state={state}"))
        .await;

    assert_sign_in_failed(&reply, "cancelled");
}

#[tokio::test]
async fn a_callback_without_a_sign_in_attempt_is_refused() {
    let app = spawn_app().await;

    let reply = app.get("/auth/callback?code=abc&state=def").await;

    assert_sign_in_failed(&reply, "no sign-in in progress");
}

#[tokio::test]
async fn a_new_sign_in_never_keeps_the_session_id_the_browser_had() {
    let app = spawn_app().await;
    app.plant_cookie("session", "chosen-by-an-attacker");

    app.sign_in_as("demo").await;

    let session = app.app_cookies()["session"].clone();
    assert_ne!(session, "chosen-by-an-attacker");
    assert!(session.len() >= 43);
}

#[tokio::test]
async fn an_idp_that_fails_during_the_callback_gets_a_page_that_offers_to_sign_in_again() {
    let app = spawn_app().await;
    let url = callback_url(&app, "demo").await;
    app.idp
        .fail_token_endpoint(cognito_web::dev_idp::TokenFailure {
            status: Some(503),
            body: String::new(),
            delay_ms: 0,
        });

    let reply = app.get(url.as_str()).await;

    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.body.contains("Sign-in could not be completed"));
    assert!(reply.body.contains("Sign in again"));
    assert!(!reply.body.contains("still signed in"));
    assert_eq!(reply.set_cookie("sign_in").value(), "");
    assert!(!app.app_cookies().contains_key("session"));
    app.idp.clear_token_failure();
    assert_eq!(
        app.sign_in_as("demo").await.status,
        303,
        "a new attempt works at once"
    );
}
