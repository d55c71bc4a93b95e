//! The whole flow: sign in through the development IdP, protected pages, sign out.

use crate::helpers::{assert_redirect_to, spawn_app};

#[tokio::test]
async fn the_demo_user_signs_in_and_sees_their_email_on_the_account_page() {
    let app = spawn_app().await;

    let callback = app.sign_in_as("demo").await;
    let account = app.get("/account").await;

    assert_redirect_to(&callback, "/account");
    assert_eq!(account.status, 200, "{}", account.body);
    assert!(account.body.contains("demo@example.com"));
    // The userInfo endpoint was called with the access token, and its answer is shown.
    assert_eq!(app.idp.count("userInfo"), 1);
    assert!(account.body.contains("Dana Demo"), "{}", account.body);
    assert_eq!(account.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn the_admin_page_is_forbidden_to_the_demo_user_and_open_to_the_admin() {
    let demo = spawn_app().await;
    let admin = spawn_app().await;
    demo.sign_in_as("demo").await;
    admin.sign_in_as("admin").await;

    let forbidden = demo.get("/admin").await;
    let allowed = admin.get("/admin").await;

    assert_eq!(forbidden.status, 403);
    assert!(
        forbidden.body.contains("admins group"),
        "{}",
        forbidden.body
    );
    assert!(
        forbidden
            .body
            .contains(r#"<script id="app-config" type="application/json">"#)
    );
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert!(allowed.body.contains("Welcome, admin"));
}

#[tokio::test]
async fn a_protected_page_sends_an_anonymous_visitor_to_sign_in_and_back() {
    let app = spawn_app().await;

    let account = app.get("/account").await;
    let admin = app.get("/admin?tab=users").await;

    assert_redirect_to(&account, "/auth/sign-in?return_to=%2Faccount");
    assert_redirect_to(&admin, "/auth/sign-in?return_to=%2Fadmin%3Ftab%3Dusers");
    let callback = app
        .sign_in_returning_to("admin", Some("/admin?tab=users"))
        .await;
    assert_redirect_to(&callback, "/admin?tab=users");
}

#[tokio::test]
async fn sign_in_sends_every_parameter_cognito_expects() {
    let app = spawn_app().await;

    let sign_in = app.get("/auth/sign-in").await;

    let location = sign_in.location();
    assert_eq!(location.path(), "/oauth2/authorize");
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], cognito_web::dev_idp::CLIENT_ID);
    assert_eq!(query["redirect_uri"], app.url("/auth/callback").as_str());
    assert_eq!(query["scope"], "openid email profile");
    assert_eq!(query["code_challenge_method"], "S256");
    for name in ["state", "nonce", "code_challenge"] {
        assert!(
            query[name].len() >= 43,
            "{name} is too short to be unguessable"
        );
    }
    assert_eq!(sign_in.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn the_landing_page_says_whether_you_are_signed_in() {
    let app = spawn_app().await;

    let before = app.get("/").await;
    app.sign_in_as("demo").await;
    let after = app.get("/").await;

    assert!(before.body.contains("You are not signed in."));
    assert!(
        after
            .body
            .contains("You are signed in as <strong>demo@example.com</strong>")
    );
}

#[tokio::test]
async fn sign_out_revokes_the_token_expires_the_cookies_and_goes_to_cognito_logout() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    let csrf = app.csrf_token().await;

    let sign_out = app.post_sign_out(&csrf).await;

    assert_eq!(sign_out.status, 303);
    let logout = sign_out.location();
    assert_eq!(logout.origin(), app.idp_url.origin());
    assert_eq!(logout.path(), "/logout");
    let query: std::collections::HashMap<_, _> = logout.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], cognito_web::dev_idp::CLIENT_ID);
    assert_eq!(query["logout_uri"], app.url("/").as_str());
    assert_eq!(app.idp.count("revoke"), 1, "the IdP saw the revoke");
    assert!(
        app.app_cookies().is_empty(),
        "cookies left: {:?}",
        app.app_cookies()
    );
    let back = app.get(logout.as_str()).await;
    assert_redirect_to(&back, "/");
    assert_redirect_to(
        &app.get("/account").await,
        "/auth/sign-in?return_to=%2Faccount",
    );
}

#[tokio::test]
async fn after_sign_out_the_idp_asks_for_credentials_again() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    let sign_out = app.post_sign_out(&app.csrf_token().await).await;
    app.get(sign_out.location().as_str()).await;

    let login = app.start_sign_in(None).await;

    assert!(login.body.contains("name=\"password\""));
}

#[tokio::test]
async fn a_revoked_session_cannot_be_used_with_the_old_cookie() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    let old_session = app.app_cookies()["session"].clone();
    app.post_sign_out(&app.csrf_token().await).await;

    app.plant_cookie("session", &old_session);
    let account = app.get("/account").await;

    assert_redirect_to(&account, "/auth/sign-in?return_to=%2Faccount");
    let expired = account.set_cookie("session");
    assert_eq!(
        expired.max_age(),
        Some(actix_web::cookie::time::Duration::ZERO)
    );
}

#[tokio::test]
async fn sign_out_without_a_session_still_leaves_a_clean_jar() {
    let app = spawn_app().await;
    app.plant_cookie("theme", "dark");

    let sign_out = app.post_sign_out("anything").await;

    assert_redirect_to(&sign_out, "/");
    assert!(app.app_cookies().is_empty());
}

#[tokio::test]
async fn every_page_carries_the_cookie_policy_as_json() {
    let app = spawn_app().await;
    app.sign_in_as("admin").await;
    let block = r#"<script id="app-config" type="application/json">{"cookies":{"domain":null,"path":"/","sameSite":"lax","secure":false,"maxAge":2592000}}</script>"#;

    for path in [
        "/",
        "/account",
        "/account/sessions",
        "/admin",
        "/diagnostics/cookies",
        "/no-such-page",
    ] {
        let page = app.get(path).await;

        assert!(
            page.body.contains(block),
            "{path} lacks the app-config block"
        );
    }
}

#[tokio::test]
async fn health_and_static_files_answer() {
    let app = spawn_app().await;

    let health = app.get("/healthz").await;
    let js = app.get("/static/app.js").await;
    let css = app.get("/static/app.css").await;

    assert_eq!(health.status, 200);
    assert_eq!(js.status, 200);
    assert!(
        js.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.body.contains("app-config"));
    assert_eq!(css.status, 200);
}

#[tokio::test]
async fn an_unknown_page_is_a_friendly_404() {
    let app = spawn_app().await;

    let page = app.get("/no-such-page").await;

    assert_eq!(page.status, 404);
    assert!(page.body.contains("Page not found"));
}

#[tokio::test]
async fn sign_out_with_a_wrong_csrf_token_or_from_another_origin_changes_nothing() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    let csrf = app.csrf_token().await;

    let wrong_token = app.post_sign_out("wrong").await;
    let other_origin = app
        .post_form_with_origin(
            "/auth/sign-out",
            &[("csrf_token", &csrf)],
            "https://evil.example",
        )
        .await;
    let no_token = app.post_form("/auth/sign-out", &[]).await;

    for reply in [&wrong_token, &other_origin, &no_token] {
        assert!(
            (400..500).contains(&reply.status),
            "{}: {}",
            reply.status,
            reply.body
        );
        assert!(reply.set_cookies().is_empty());
    }
    assert_eq!(app.idp.count("revoke"), 0);
    assert_eq!(app.get("/account").await.status, 200, "still signed in");
}

#[tokio::test]
async fn under_a_strict_policy_the_callback_moves_on_with_a_page_of_its_own() {
    let app = crate::helpers::spawn_app_with(&[("COOKIE_SAME_SITE", "strict")]).await;

    let callback = app.sign_in_returning_to("demo", Some("/account")).await;

    // A redirect would continue the navigation that began at the IdP, a cross-site one, and
    // the browser would withhold the Strict session cookie from /account.
    assert_eq!(callback.status, 200, "{}", callback.body);
    assert!(
        callback
            .body
            .contains(r#"<meta http-equiv="refresh" content="0;url=/account">"#)
    );
    assert_eq!(
        callback.set_cookie("session").same_site(),
        Some(actix_web::cookie::SameSite::Strict)
    );
    assert_eq!(callback.headers["cache-control"], "no-store");
    assert_eq!(app.get("/account").await.status, 200);
}

#[tokio::test]
async fn the_app_works_under_a_base_path_with_cookies_scoped_to_it() {
    let app = crate::helpers::spawn_app_with(&[
        ("APP_BASE_URL", "http://localhost:0/app"),
        ("COOKIE_PATH", "/app"),
    ])
    .await;

    let anonymous = app.get("/account").await;
    let callback = app.sign_in_as("demo").await;
    let account = app.get("/account").await;
    let outside = app
        .get(&format!(
            "http://localhost:{}/account",
            app.app_url.port().unwrap()
        ))
        .await;
    let sign_out = app.post_sign_out(&app.csrf_token().await).await;

    assert_redirect_to(&anonymous, "/app/auth/sign-in?return_to=%2Fapp%2Faccount");
    assert_redirect_to(&callback, "/app/account");
    assert_eq!(callback.set_cookie("session").path(), Some("/app"));
    assert_eq!(account.status, 200, "{}", account.body);
    for link in [
        r#"href="/app/static/app.css""#,
        r#"action="/app/auth/sign-out""#,
        r#"href="/app/diagnostics/cookies""#,
    ] {
        assert!(account.body.contains(link), "{link}");
    }
    assert_eq!(outside.status, 404);
    let logout: std::collections::HashMap<_, _> =
        sign_out.location().query_pairs().into_owned().collect();
    assert_eq!(logout["logout_uri"], app.url("/").as_str());
    assert!(logout["logout_uri"].ends_with("/app/"));
}
