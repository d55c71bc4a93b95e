//! The development IdP's control surface over HTTP (scripts such as bench/ use it), and its
//! absence from the app's own routes.

use serde_json::{Value, json};

use crate::dev_idp::authorize_url;
use crate::helpers::{Fetch, spawn_app};

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
