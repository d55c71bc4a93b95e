//! The development IdP's control surface over HTTP (scripts such as bench/ use it), and its
//! absence from the app's own routes.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    request.send().await.unwrap()
}

async fn send_json(request: reqwest::RequestBuilder) -> Value {
    send(request).await.json().await.unwrap()
}

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

    let without_header = send(reqwest::Client::new().post(control("/_dev/rotate-keys"))).await;
    let counts = send_json(client.get(control("/_dev/counts"))).await;
    let fail = send(
        client
            .post(control("/_dev/token-failure"))
            .json(&json!({"status": 503})),
    )
    .await;
    let token = send(
        client
            .post(control("/oauth2/token"))
            .form(&[("grant_type", "refresh_token")]),
    )
    .await;
    let clear = send(client.delete(control("/_dev/token-failure"))).await;
    let revoked = send_json(
        client
            .post(control("/_dev/revoke-user"))
            .json(&json!({"username": "demo"})),
    )
    .await;
    let rotation = send(
        client
            .post(control("/_dev/refresh-rotation"))
            .json(&json!({"on": true})),
    )
    .await;
    let forge = send(
        client
            .post(control("/_dev/forge-next-id-token"))
            .json(&json!({"forgery": "wrong_nonce"})),
    )
    .await;
    let rotate = send(client.post(control("/_dev/rotate-keys"))).await;
    let on_the_app = send(client.get(app.url("/_dev/counts"))).await;

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
