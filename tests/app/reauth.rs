//! Signing in again, and the ways in: `/admin` under `ADMIN_MAX_AUTH_AGE` (a fresh sign-in with
//! `prompt=login`), "Sign in as someone else" through the IdP's logout, identity providers
//! (`COGNITO_IDENTITY_PROVIDERS`) and `COGNITO_LOGIN_HINT`.

use std::collections::HashMap;

use crate::helpers::{TestApp, assert_redirect_to, password_of, spawn_app, spawn_app_with};

/// The query of `reply`'s redirect, as a map.
fn query_of(url: &url::Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

/// The `auth_time` of the one session in `app`'s database.
async fn stored_auth_time(app: &TestApp) -> i64 {
    crate::database::integer(&app.database_url(), "select auth_time from sessions").await
}

#[tokio::test]
async fn an_admin_whose_sign_in_is_too_old_signs_in_afresh_and_comes_back_to_admin() {
    let app = spawn_app_with(&[("ADMIN_MAX_AUTH_AGE", "600")]).await;
    app.sign_in_as("admin").await;
    let recent = app.get("/admin").await;
    app.change_database("update sessions set auth_time = auth_time - 3600")
        .await;

    let too_old = app.get("/admin").await;
    let sign_in = app.get(too_old.location().as_str()).await;
    let authorize = app.get(sign_in.location().as_str()).await;
    let login = app.get(authorize.location().as_str()).await;
    let callback = app
        .submit_login(&login, "admin", password_of("admin"))
        .await;
    let back = app.get(callback.location().as_str()).await;
    let admin = app.get("/admin").await;

    assert_eq!(recent.status, 200, "a recent sign-in opens /admin");
    assert_redirect_to(&too_old, "/auth/sign-in?return_to=%2Fadmin");
    let asked = query_of(&sign_in.location());
    assert_eq!(
        asked.get("prompt").map(String::as_str),
        Some("login"),
        "{asked:?}"
    );
    assert_eq!(
        authorize.location().path(),
        "/login",
        "prompt=login: the IdP asks for the password despite its session"
    );
    assert_redirect_to(&back, "/admin");
    assert_eq!(admin.status, 200, "{}", admin.body);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(now - stored_auth_time(&app).await < 60, "auth_time moved");
}

#[tokio::test]
async fn a_member_outside_admins_is_refused_without_being_asked_to_sign_in_again() {
    let app = spawn_app_with(&[("ADMIN_MAX_AUTH_AGE", "600")]).await;
    app.sign_in_as("demo").await;
    app.change_database("update sessions set auth_time = auth_time - 3600")
        .await;

    let admin = app.get("/admin").await;

    assert_eq!(admin.status, 403);
}

#[tokio::test]
async fn without_a_limit_an_old_sign_in_still_opens_admin_and_other_pages_ignore_the_limit() {
    let unlimited = spawn_app().await;
    let limited = spawn_app_with(&[("ADMIN_MAX_AUTH_AGE", "600")]).await;
    for app in [&unlimited, &limited] {
        app.sign_in_as("admin").await;
        app.change_database("update sessions set auth_time = auth_time - 3600")
            .await;
    }

    let admin = unlimited.get("/admin").await;
    let account = limited.get("/account").await;
    let sign_in = limited.get("/auth/sign-in?return_to=/account").await;

    assert_eq!(admin.status, 200, "{}", admin.body);
    assert_eq!(account.status, 200, "{}", account.body);
    assert!(!query_of(&sign_in.location()).contains_key("prompt"));
}

#[tokio::test]
async fn a_refresh_is_not_a_new_sign_in() {
    let app = spawn_app_with(&[("ADMIN_MAX_AUTH_AGE", "600")]).await;
    app.sign_in_as("admin").await;
    let signed_in_at = stored_auth_time(&app).await;
    app.expire_access_tokens().await;

    let admin = app.get("/admin").await;

    assert_eq!(admin.status, 200, "{}", admin.body);
    assert_eq!(app.idp.count("token:refresh_token"), 1, "refreshed");
    assert_eq!(stored_auth_time(&app).await, signed_in_at);
}

#[tokio::test]
async fn a_sign_in_asks_for_prompt_login_only_when_told_and_refuses_other_prompts() {
    let app = spawn_app().await;

    let plain = app.get("/auth/sign-in").await;
    let fresh = app.get("/auth/sign-in?prompt=login").await;
    let none = app.get("/auth/sign-in?prompt=none").await;

    assert!(!query_of(&plain.location()).contains_key("prompt"));
    assert_eq!(query_of(&fresh.location())["prompt"], "login");
    assert_eq!(none.status, 400);
    assert!(none.body.contains("prompt=login only"), "{}", none.body);
    assert!(none.set_cookies().is_empty(), "nothing was started");
}

#[tokio::test]
async fn sign_in_as_someone_else_signs_out_here_and_at_the_idp_then_signs_in_another_user() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    let csrf = app.csrf_token().await;

    let again = app
        .post_form(
            "/auth/sign-out",
            &[("csrf_token", &csrf), ("then", "sign-in")],
        )
        .await;
    let signed_out = app.get("/account").await;
    let logout = app.get(again.location().as_str()).await;
    let login = app.get(logout.location().as_str()).await;
    let callback = app
        .submit_login(&login, "admin", password_of("admin"))
        .await;
    let back = app.get(callback.location().as_str()).await;
    let account = app.get("/account").await;

    assert_eq!(again.status, 303);
    let idp_logout = again.location();
    assert_eq!(idp_logout.path(), "/logout");
    let query = query_of(&idp_logout);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["redirect_uri"], app.url("/auth/callback").as_str());
    for name in ["client_id", "state", "scope", "code_challenge", "nonce"] {
        assert!(query.contains_key(name), "{name} in {query:?}");
    }
    assert!(!query.contains_key("logout_uri"), "{query:?}");
    assert_eq!(app.idp.count("revoke"), 1, "the refresh token was revoked");
    assert_eq!(
        again.set_cookie("session").max_age(),
        Some(actix_web::cookie::time::Duration::ZERO)
    );
    assert_eq!(
        again.set_cookie("sign_in").value(),
        query["state"],
        "the new attempt is this browser's"
    );
    assert_eq!(signed_out.status, 303, "signed out here");
    assert_eq!(
        logout.location().path(),
        "/login",
        "the IdP's session ended: it asks for an account"
    );
    assert_redirect_to(&back, "/account");
    assert!(
        account.body.contains("admin@example.com"),
        "{}",
        account.body
    );
}

#[tokio::test]
async fn sign_in_as_someone_else_needs_the_sessions_csrf_token() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;

    let refused = app
        .post_form(
            "/auth/sign-out",
            &[("csrf_token", "wrong"), ("then", "sign-in")],
        )
        .await;
    let account = app.get("/account").await;

    assert_eq!(refused.status, 403);
    assert_eq!(account.status, 200, "still signed in");
    assert_eq!(app.idp.count("revoke"), 0);
}

#[tokio::test]
async fn identity_providers_get_one_button_each_and_their_name_goes_to_the_idp() {
    let app = spawn_app_with(&[("COGNITO_IDENTITY_PROVIDERS", "COGNITO,CorporateSAML")]).await;
    app.idp.set_identity_providers(&["CorporateSAML"]);

    let chooser = app.get("/auth/sign-in?return_to=/admin").await;
    let chosen = app
        .get("/auth/sign-in?identity_provider=CorporateSAML&return_to=/admin")
        .await;
    let authorize = app.get(chosen.location().as_str()).await;
    let login = app.get(authorize.location().as_str()).await;
    let callback = app
        .submit_login(&login, "admin", password_of("admin"))
        .await;
    let back = app.get(callback.location().as_str()).await;

    assert_eq!(chooser.status, 200, "{}", chooser.body);
    assert!(chooser.set_cookies().is_empty(), "choosing starts nothing");
    let marker = r#"href="/auth/sign-in?identity_provider=CorporateSAML"#;
    let at = chooser
        .body
        .find(marker)
        .expect("a button for CorporateSAML");
    let href = &chooser.body[at..][..chooser.body[at..].find("\">").unwrap()];
    assert!(href.ends_with("return_to=%2Fadmin"), "{href}");
    assert!(
        chooser
            .body
            .contains("Sign in with a username and password"),
        "{}",
        chooser.body
    );
    assert!(chooser.body.contains("Sign in with CorporateSAML"));
    assert_eq!(
        query_of(&chosen.location())["identity_provider"],
        "CorporateSAML"
    );
    assert!(
        login.body.contains("Signing in with CorporateSAML"),
        "{}",
        login.body
    );
    assert_redirect_to(&back, "/admin");
}

#[tokio::test]
async fn a_provider_that_is_not_configured_is_refused_and_starts_nothing() {
    let with = spawn_app_with(&[("COGNITO_IDENTITY_PROVIDERS", "Google")]).await;
    let without = spawn_app().await;

    let unknown = with.get("/auth/sign-in?identity_provider=Facebook").await;
    let unset = without.get("/auth/sign-in?identity_provider=Google").await;
    let plain = without.get("/auth/sign-in").await;

    for refused in [&unknown, &unset] {
        assert_eq!(refused.status, 400, "{}", refused.url);
        assert!(refused.body.contains("no sign-in with"), "{}", refused.body);
        assert!(refused.set_cookies().is_empty(), "nothing was started");
    }
    assert!(unknown.body.contains("Facebook"), "{}", unknown.body);
    assert_eq!(plain.status, 303, "unset: straight to the IdP");
    assert!(!query_of(&plain.location()).contains_key("identity_provider"));
}

#[tokio::test]
async fn a_login_hint_reaches_the_idps_form_but_not_sign_in_as_someone_else() {
    let app = spawn_app_with(&[("COGNITO_LOGIN_HINT", "admin")]).await;

    let sign_in = app.get("/auth/sign-in").await;
    let authorize = app.get(sign_in.location().as_str()).await;
    let login = app.get(authorize.location().as_str()).await;
    let callback = app
        .submit_login(&login, "admin", password_of("admin"))
        .await;
    app.get(callback.location().as_str()).await;
    let csrf = app.csrf_token().await;
    let again = app
        .post_form(
            "/auth/sign-out",
            &[("csrf_token", &csrf), ("then", "sign-in")],
        )
        .await;

    assert_eq!(query_of(&sign_in.location())["login_hint"], "admin");
    assert!(
        login.body.contains(r#"value="admin" required"#),
        "{}",
        login.body
    );
    assert!(!query_of(&again.location()).contains_key("login_hint"));
}
