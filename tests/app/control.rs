//! The development IdP's control surface over HTTP (scripts such as bench/ use it), and its
//! absence from the app's own routes.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

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
        .send()
        .await
        .unwrap();

    let counts: Value = client
        .get(control("/_dev/counts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fail = client
        .post(control("/_dev/token-failure"))
        .json(&json!({"status": 503}))
        .send()
        .await
        .unwrap();
    let token = client
        .post(control("/oauth2/token"))
        .form(&[("grant_type", "refresh_token")])
        .send()
        .await
        .unwrap();
    let clear = client
        .delete(control("/_dev/token-failure"))
        .send()
        .await
        .unwrap();
    let revoked: Value = client
        .post(control("/_dev/revoke-user"))
        .json(&json!({"username": "demo"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rotation = client
        .post(control("/_dev/refresh-rotation"))
        .json(&json!({"on": true}))
        .send()
        .await
        .unwrap();
    let forge = client
        .post(control("/_dev/forge-next-id-token"))
        .json(&json!({"forgery": "wrong_nonce"}))
        .send()
        .await
        .unwrap();
    let rotate = client
        .post(control("/_dev/rotate-keys"))
        .send()
        .await
        .unwrap();
    let on_the_app = client.get(app.url("/_dev/counts")).send().await.unwrap();

    assert_eq!(
        without_header.status(),
        404,
        "a web page cannot drive the control surface"
    );
    assert_eq!(counts["token:authorization_code"], 1);
    assert_eq!(
        (fail.status(), token.status(), clear.status()),
        (
            204.try_into().unwrap(),
            503.try_into().unwrap(),
            204.try_into().unwrap()
        )
    );
    assert_eq!(revoked, json!({"revoked": 1}));
    assert_eq!(rotation.status(), 204);
    assert_eq!(forge.status(), 204);
    assert_eq!(rotate.status(), 204);
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
