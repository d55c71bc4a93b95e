//! The development IdP's control surface over HTTP (scripts such as bench/ use it), and its
//! absence from the app's own routes.

use serde_json::{Value, json};

use crate::dev_idp::{authorize_url, sign_in_at_idp, token_request};
use crate::helpers::{Fetch, assert_redirect_to, spawn_app};

/// A client that sends [`cognito_web::dev_idp::CONTROL_HEADER`] on every request.
fn control_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let (name, value) = cognito_web::dev_idp::CONTROL_HEADER;
    headers.insert(name, value.parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_control_surface_answers_on_the_idp_port_only() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    let client = control_client();
    let control = |path: &str| app.idp_url.join(path).unwrap();

    let without_header = reqwest::Client::new()
        .post(control("/_dev/rotate-keys"))
        .fetch()
        .await;
    let counts = client.get(control("/_dev/counts")).fetch_json().await;
    let fail = client
        .post(control("/_dev/token-failure"))
        .json(&json!({"status": 503}))
        .fetch()
        .await;
    let token = client
        .post(control("/oauth2/token"))
        .form(&[("grant_type", "refresh_token")])
        .fetch()
        .await;
    let clear = client.delete(control("/_dev/token-failure")).fetch().await;
    let revoked = client
        .post(control("/_dev/revoke-user"))
        .json(&json!({"username": "demo"}))
        .fetch_json()
        .await;
    let rotation = client
        .post(control("/_dev/refresh-rotation"))
        .json(&json!({"on": true}))
        .fetch()
        .await;
    let forge = client
        .post(control("/_dev/forge-next-id-token"))
        .json(&json!({"forgery": "wrong_nonce"}))
        .fetch()
        .await;
    let rotate = client.post(control("/_dev/rotate-keys")).fetch().await;
    let on_the_app = client.get(app.url("/_dev/counts")).fetch().await;

    assert_eq!(
        without_header.status(),
        404,
        "a web page cannot drive the control surface"
    );
    assert_eq!(counts["token:authorization_code"], 1);
    let statuses = [
        fail.status(),
        token.status(),
        clear.status(),
        rotation.status(),
        forge.status(),
        rotate.status(),
    ];
    assert_eq!(statuses.map(|s| s.as_u16()), [204, 503, 204, 204, 204, 204]);
    assert_eq!(revoked, json!({"revoked": 1}));
    assert_eq!(
        on_the_app.status(),
        404,
        "the control surface never exists on the app's port"
    );
    assert_eq!(
        app.sign_in_as("demo").await.status,
        400,
        "the forged next ID token was refused"
    );
}

#[tokio::test]
async fn changed_groups_open_the_admin_page_at_the_next_refresh() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    let control = app.idp_url.join("/_dev/set-groups").unwrap();

    let before = app.get("/admin").await;
    let set = control_client()
        .post(control.clone())
        .json(&json!({"username": "demo", "groups": ["admins"]}))
        .fetch()
        .await;
    let unknown = control_client()
        .post(control)
        .json(&json!({"username": "nobody", "groups": []}))
        .fetch()
        .await;
    app.expire_access_tokens().await;
    let after = app.get("/admin").await;

    assert_eq!(before.status, 403);
    assert_eq!(set.status(), 204);
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        after.status, 200,
        "the refreshed ID token carries the new groups: {}",
        after.body
    );
}

#[tokio::test]
async fn discovery_faults_and_identity_providers_switch_over_http() {
    let app = spawn_app().await;
    let client = control_client();
    let control = |path: &str| app.idp_url.join(path).unwrap();
    let discovery = format!("{}/.well-known/openid-configuration", app.issuer);
    let fault = |name: &'static str| {
        client
            .post(control("/_dev/discovery-fault"))
            .json(&json!({ "fault": name }))
            .fetch()
    };

    let wrong_issuer = fault("wrong_issuer").await;
    let seen_wrong: Value = reqwest::get(&discovery)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let not_found = fault("not_found").await;
    let seen_missing = reqwest::get(&discovery).await.unwrap();
    let cleared = fault("none").await;
    let seen_right: Value = reqwest::get(&discovery)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let unknown_fault = fault("sideways").await;
    let refused_google = client
        .get(authorize_url(&app, &[("identity_provider", "Google")]))
        .fetch()
        .await;
    let providers = client
        .post(control("/_dev/identity-providers"))
        .json(&json!({"identity_providers": ["Google"]}))
        .fetch()
        .await;
    let google = client
        .get(authorize_url(&app, &[("identity_provider", "Google")]))
        .fetch()
        .await;

    let statuses = [wrong_issuer.status(), not_found.status(), cleared.status()];
    assert_eq!(statuses.map(|s| s.as_u16()), [204, 204, 204]);
    assert_ne!(seen_wrong["issuer"], app.issuer.as_str());
    assert_eq!(seen_missing.status(), 404);
    assert_eq!(seen_right["issuer"], app.issuer.as_str());
    assert_eq!(unknown_fault.status(), 400, "not a fault the IdP knows");
    assert!(
        refused_google.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/error?error=unknown_identity_provider")
    );
    assert_eq!(providers.status(), 204);
    assert!(
        google.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?"),
        "a provider of the pool goes on to the login page"
    );
}

#[tokio::test]
async fn refresh_rotation_switches_over_http_with_an_optional_grace() {
    let app = spawn_app().await;
    let client = control_client();
    let rotation = |body: Value| {
        client
            .post(app.idp_url.join("/_dev/refresh-rotation").unwrap())
            .json(&body)
            .fetch()
    };
    let refresh = |token: String| {
        let app = &app;
        async move {
            token_request(
                app,
                &[("grant_type", "refresh_token"), ("refresh_token", &token)],
            )
            .await
        }
    };
    let original = sign_in_at_idp(&app, "demo", &[]).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let too_long = rotation(json!({"on": true, "grace_seconds": 61})).await;
    let (still_off, unrotated) = refresh(original.clone()).await;
    let with_grace = rotation(json!({"on": true, "grace_seconds": 60})).await;
    let (first, rotated) = refresh(original.clone()).await;
    let (retry, _) = refresh(original.clone()).await;
    let without_grace = rotation(json!({"on": true, "grace_seconds": 0})).await;
    let (late, refused) = refresh(original.clone()).await;
    let grace_kept = rotation(json!({"on": true})).await;
    let newer = rotated["refresh_token"].as_str().unwrap().to_owned();
    let (newer_first, _) = refresh(newer.clone()).await;
    let (newer_again, _) = refresh(newer).await;

    assert_eq!(too_long.status(), 400, "Cognito's grace is 0 to 60 seconds");
    assert_eq!(still_off, 200);
    assert!(
        unrotated.get("refresh_token").is_none(),
        "a refused switch changes nothing: {unrotated}"
    );
    let switched = [
        with_grace.status(),
        without_grace.status(),
        grace_kept.status(),
    ];
    assert_eq!(switched.map(|s| s.as_u16()), [204, 204, 204]);
    assert_eq!((first, retry), (200, 200), "within the 60 s grace");
    assert_eq!((late, refused), (400, json!({"error": "invalid_grant"})));
    assert_eq!(
        (newer_first, newer_again),
        (200, 400),
        "without grace_seconds the grace stays 0"
    );
}

#[tokio::test]
async fn an_other_subject_id_token_at_refresh_ends_the_session() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;

    let forge = control_client()
        .post(app.idp_url.join("/_dev/forge-next-id-token").unwrap())
        .json(&json!({"forgery": "other_subject"}))
        .fetch()
        .await;
    app.expire_access_tokens().await;
    let refreshed = app.get("/account").await;
    let after = app.get("/account").await;

    assert_eq!(forge.status(), 204);
    assert_redirect_to(&refreshed, "/auth/sign-in?return_to=%2Faccount");
    assert_eq!(
        refreshed.set_cookie("session").value(),
        "",
        "the session ends, it does not become the other user's"
    );
    assert_redirect_to(&after, "/auth/sign-in?return_to=%2Faccount");
    assert_eq!(app.idp.count("token:refresh_token"), 1);
}
