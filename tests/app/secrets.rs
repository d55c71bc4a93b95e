//! Secrets stay secret: tokens are encrypted at rest, and nothing secret reaches a log line.

use crate::helpers::{captured_logs, spawn_app};

#[tokio::test]
async fn tokens_are_encrypted_at_rest() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    app.expire_access_tokens().await;
    assert_eq!(app.get("/account").await.status, 200);

    let mut stored = Vec::new();
    for file in ["app.db", "app.db-wal"] {
        stored.extend(std::fs::read(app.dir.path().join(file)).unwrap_or_default());
    }

    assert!(stored.len() > 10_000, "the database was read");
    // Every JWT (ID, access) and every Cognito refresh token (a JWE) starts with "eyJ".
    assert!(
        !stored.windows(3).any(|w| w == b"eyJ"),
        "a token is stored in the clear"
    );
}

#[tokio::test]
async fn no_token_code_or_secret_reaches_a_log_line() {
    let app = spawn_app().await;
    let callback_url = app.callback_url("demo", None).await;
    let code = callback_url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let state = callback_url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    app.get(callback_url.as_str()).await;
    let session = app.app_cookies()["session"].clone();
    let csrf = app.csrf_token().await;
    app.get("/account").await;
    app.expire_access_tokens().await;
    app.get("/account").await;
    app.post_sign_out("wrong").await;
    app.post_sign_out(&csrf).await;
    let app_secret = std::fs::read_to_string(app.dir.path().join("app-secret")).unwrap();

    let logs = captured_logs();

    assert!(
        logs.contains("signed in") && logs.contains("access token refreshed"),
        "the flow was logged"
    );
    for (what, secret) in [
        ("authorization code", code.as_str()),
        ("state", state.as_str()),
        ("session id", session.as_str()),
        ("CSRF token", csrf.as_str()),
        ("client secret", app.client_secret.as_str()),
        ("APP_SECRET", app_secret.trim()),
    ] {
        assert!(!logs.contains(secret), "the {what} reached the logs");
    }
    assert!(!logs.contains("eyJ"), "a token reached the logs");
}
