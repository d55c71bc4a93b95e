//! The development IdP's control surface over HTTP (scripts such as bench/ use it), and its
//! absence from the app's own routes.

use serde_json::json;

use crate::helpers::{Fetch, spawn_app};

#[tokio::test]
async fn the_control_surface_answers_on_the_idp_port_only() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    let mut headers = reqwest::header::HeaderMap::new();
    let (name, value) = cognito_web::dev_idp::CONTROL_HEADER;
    headers.insert(name, value.parse().unwrap());
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
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
