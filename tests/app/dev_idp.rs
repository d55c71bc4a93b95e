//! The development IdP answers as Cognito does (docs/cognito-protocol.md): the app
//! is tested against it, so its fidelity is tested too.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cognito_web::app::Application;
use cognito_web::config::Config;
use cognito_web::dev_idp::users::DEMO_USERS;
use cognito_web::dev_idp::{CLIENT_ID, DiscoveryFault, Forgery};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::helpers::{Fetch, Reply, TestApp, password_of, shared_keys, spawn_app, spawn_app_with};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn idp(app: &TestApp, path: &str) -> String {
    app.idp_url.join(path).unwrap().to_string()
}

fn idp_with<K: AsRef<str>, V: AsRef<str>>(app: &TestApp, path: &str, params: &[(K, V)]) -> String {
    url::Url::parse_with_params(
        &idp(app, path),
        params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
    )
    .unwrap()
    .to_string()
}

/// A fresh code from the real login form, with the PKCE verifier the app stored for it.
async fn code_and_verifier(app: &TestApp) -> (String, String) {
    let callback = app.callback_url("demo", None).await;
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let verifier = crate::database::text(
        &app.database_url(),
        "select pkce_verifier from sign_in_attempts",
    )
    .await;
    (code, verifier)
}

/// A request to the IdP's token endpoint as the app's client: the status and the JSON body.
pub async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let response = client()
        .post(idp(app, "/oauth2/token"))
        .basic_auth(CLIENT_ID, Some(&app.client_secret))
        .form(form)
        .fetch()
        .await;
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/json;charset=UTF-8"
    );
    (status, response.json().await.unwrap())
}

/// The app's registered callback URL: the only place the IdP sends codes to.
fn callback(app: &TestApp) -> String {
    app.url("/auth/callback").to_string()
}

/// An authorize URL for the app's client with `extra` parameters. No PKCE: these tests exchange
/// the codes themselves, as a client without a challenge may.
pub fn authorize_url(app: &TestApp, extra: &[(&str, &str)]) -> String {
    let callback = callback(app);
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", callback.as_str()),
        ("scope", "openid email profile"),
        ("state", "s1"),
    ];
    query.extend_from_slice(extra);
    idp_with(app, "/oauth2/authorize", &query)
}

/// The `code` of the IdP's redirect back to the app's callback.
pub fn code_of(reply: &Reply) -> String {
    let location = reply.location();
    assert_eq!(
        location.path(),
        "/auth/callback",
        "{}: {location}",
        reply.url
    );
    location
        .query_pairs()
        .find(|(key, _)| key == "code")
        .unwrap_or_else(|| panic!("no code in {location}"))
        .1
        .into_owned()
}

/// The tokens for a code from [`authorize_url`].
pub async fn exchange(app: &TestApp, code: &str) -> Value {
    let callback = callback(app);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &callback),
    ];
    let (status, tokens) = token_request(app, &form).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// New tokens for the refresh token of `tokens`.
async fn refresh(app: &TestApp, tokens: &Value) -> Value {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    let (status, refreshed) = token_request(app, &form).await;
    assert_eq!(status, 200, "{refreshed}");
    refreshed
}

/// Follows [`authorize_url`] to the IdP's login form, in the test's browser (which keeps the
/// IdP's cookies); panics when the IdP answers without the form.
async fn login_form(app: &TestApp, extra: &[(&str, &str)]) -> Reply {
    let authorize = app.get(&authorize_url(app, extra)).await;
    assert_eq!(authorize.status, 302, "authorize: {}", authorize.body);
    assert_eq!(authorize.location().path(), "/login", "{}", authorize.url);
    let login = app.get(authorize.location().as_str()).await;
    assert_eq!(login.status, 200, "login page: {}", login.body);
    login
}

/// Signs `username` in at the IdP's form: the tokens of that sign-in.
pub async fn sign_in_at_idp(app: &TestApp, username: &str, extra: &[(&str, &str)]) -> Value {
    let login = login_form(app, extra).await;
    let back = app
        .submit_login(&login, username, password_of(username))
        .await;
    exchange(app, &code_of(&back)).await
}

/// The claims of the ID token in a token response.
fn id_claims(tokens: &Value) -> Value {
    jwt_part(tokens["id_token"].as_str().unwrap(), 1)
}

/// The `value` of the login form's username field.
fn username_field(login: &Reply) -> String {
    let start = login
        .body
        .find(r#"id="username""#)
        .expect("a username field");
    let tag = &login.body[start..start + login.body[start..].find('>').unwrap()];
    let value = tag.find(r#"value=""#).expect("a value attribute") + r#"value=""#.len();
    tag[value..value + tag[value..].find('"').unwrap()].to_owned()
}

/// Waits until the wall clock has passed `seconds` (Unix time), so a new `auth_time` must differ.
async fn wait_for_the_clock_to_pass(seconds: i64) {
    while cognito_web::clock::now() <= seconds {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn authorize_never_redirects_to_an_unregistered_uri() {
    let app = spawn_app().await;

    let reply = client()
        .get(idp_with(
            &app,
            "/oauth2/authorize",
            &[
                ("response_type", "code"),
                ("client_id", CLIENT_ID),
                ("redirect_uri", "https://evil.example/cb"),
            ],
        ))
        .fetch()
        .await;

    assert_eq!(reply.status(), 302);
    let location = reply.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/error?error=redirect_mismatch&client_id={CLIENT_ID}")
    );
    assert_eq!(
        client().get(idp(&app, &location)).fetch().await.status(),
        400
    );
}

#[tokio::test]
async fn authorize_sends_errors_back_to_a_registered_uri() {
    let app = spawn_app().await;
    let callback = app.url("/auth/callback").to_string();
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("response_type", "token")], "unauthorized_client"),
        (
            &[("response_type", "code"), ("code_challenge", "abc")],
            "invalid_request",
        ),
        (
            &[("response_type", "code"), ("scope", "email")],
            "invalid_scope",
        ),
        (
            &[("response_type", "code"), ("prompt", "none")],
            "login_required",
        ),
    ];

    for (params, error) in cases {
        let mut query = vec![
            ("client_id", CLIENT_ID),
            ("redirect_uri", callback.as_str()),
            ("state", "s1"),
        ];
        query.extend_from_slice(params);

        let reply = client()
            .get(idp_with(&app, "/oauth2/authorize", &query))
            .fetch()
            .await;

        let location = url::Url::parse(reply.headers()["location"].to_str().unwrap()).unwrap();
        let pairs: HashMap<_, _> = location.query_pairs().into_owned().collect();
        assert_eq!(pairs["error"], error, "{params:?}");
        assert_eq!(pairs["state"], "s1", "{params:?}");
    }
}

#[tokio::test]
async fn the_token_endpoint_refuses_like_cognito() {
    let app = spawn_app().await;
    let url = idp(&app, "/oauth2/token");

    let json_body = client()
        .post(&url)
        .json(&serde_json::json!({"grant_type": "refresh_token"}))
        .fetch()
        .await;
    let get = client().get(&url).fetch().await;
    let no_client = client()
        .post(&url)
        .form(&[("grant_type", "refresh_token")])
        .fetch()
        .await;
    let wrong_secret = client()
        .post(&url)
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .fetch()
        .await;

    assert_eq!(json_body.status(), 405);
    assert!(json_body.text().await.unwrap().is_empty());
    assert_eq!(get.status(), 405);
    assert_eq!(no_client.status(), 400);
    assert_eq!(
        no_client.json::<Value>().await.unwrap(),
        serde_json::json!({"error": "invalid_client"})
    );
    assert_eq!(wrong_secret.status(), 400);
    for (form, error) in [
        (vec![("grant_type", "password")], "unsupported_grant_type"),
        (vec![], "invalid_request"),
        (vec![("grant_type", "refresh_token")], "invalid_request"),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "not-a-token"),
            ],
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("redirect_uri", "x"),
            ],
            "invalid_grant",
        ),
    ] {
        assert_eq!(
            token_request(&app, &form).await,
            (400, serde_json::json!({ "error": error })),
            "{form:?}"
        );
    }
}

#[tokio::test]
async fn codes_are_bound_to_the_redirect_uri_and_the_pkce_challenge() {
    let app = spawn_app().await;
    let callback = app.url("/auth/callback").to_string();

    let (code, _) = code_and_verifier(&app).await;
    let wrong_redirect = token_request(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost/other"),
            ("code_verifier", "v"),
        ],
    )
    .await;
    let (code, _) = code_and_verifier(&app).await;
    let wrong_verifier = token_request(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &callback),
            ("code_verifier", "not-it"),
        ],
    )
    .await;

    assert_eq!(
        wrong_redirect,
        (
            400,
            serde_json::json!({"error": "unauthorized_client", "error_description": "invalid_redirect"})
        )
    );
    assert_eq!(
        wrong_verifier,
        (400, serde_json::json!({"error": "invalid_grant"}))
    );
}

#[tokio::test]
async fn tokens_userinfo_and_revocation_have_cognitos_shape() {
    let app = spawn_app().await;
    let (code, verifier) = code_and_verifier(&app).await;
    let callback = app.url("/auth/callback").to_string();

    let (status, tokens) = token_request(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &callback),
            ("code_verifier", &verifier),
        ],
    )
    .await;

    assert_eq!(status, 200);
    let keys: Vec<&str> = tokens
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "expires_in",
            "id_token",
            "refresh_token",
            "token_type"
        ]
    );
    assert_eq!(
        (tokens["token_type"].as_str(), tokens["expires_in"].as_i64()),
        (Some("Bearer"), Some(3600))
    );
    let (id_token, access_token) = (
        tokens["id_token"].as_str().unwrap(),
        tokens["access_token"].as_str().unwrap(),
    );
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let (id_header, access_header) = (jwt_part(id_token, 0), jwt_part(access_token, 0));
    assert_eq!(
        id_header.as_object().unwrap().len(),
        2,
        "only kid and alg: {id_header}"
    );
    assert_eq!(id_header["alg"], "RS256");
    assert_ne!(
        id_header["kid"], access_header["kid"],
        "ID and access tokens have their own keys"
    );
    let id = jwt_part(id_token, 1);
    assert_eq!(
        (id["aud"].as_str(), id["token_use"].as_str()),
        (Some(CLIENT_ID), Some("id"))
    );
    assert_eq!(
        (
            id["cognito:username"].as_str(),
            id["email_verified"].as_bool()
        ),
        (Some("demo"), Some(true))
    );
    assert!(id["nonce"].is_string() && id["at_hash"].is_string() && id["origin_jti"].is_string());
    assert!(
        id.get("cognito:groups").is_none(),
        "absent, not empty, without groups"
    );
    let access = jwt_part(access_token, 1);
    assert!(access.get("aud").is_none());
    assert_eq!(
        (access["client_id"].as_str(), access["token_use"].as_str()),
        (Some(CLIENT_ID), Some("access"))
    );
    assert_eq!(
        (access["username"].as_str(), access["version"].as_i64()),
        (Some("demo"), Some(2))
    );
    assert_eq!(access["scope"], "openid email profile");
    assert_eq!(refresh_token.split('.').count(), 5);
    assert!(
        refresh_token
            .starts_with("eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIiwiYWxnIjoiUlNBLU9BRVAifQ.")
    );

    let user_info = client()
        .get(idp(&app, "/oauth2/userInfo"))
        .bearer_auth(access_token)
        .fetch()
        .await;
    assert_eq!(user_info.status(), 200);
    let profile: Value = user_info.json().await.unwrap();
    assert_eq!(
        (
            profile["email_verified"].as_str(),
            profile["username"].as_str()
        ),
        (Some("true"), Some("demo"))
    );
    let anonymous = client().get(idp(&app, "/oauth2/userInfo")).fetch().await;
    assert_eq!(anonymous.status(), 400);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_request")
    );

    let revoke = |token: String| {
        let app_secret = app.client_secret.clone();
        let url = idp(&app, "/oauth2/revoke");
        async move {
            client()
                .post(url)
                .basic_auth(CLIENT_ID, Some(app_secret))
                .form(&[("token", token)])
                .fetch()
                .await
        }
    };
    assert_eq!(
        revoke(access_token.to_owned()).await.status(),
        400,
        "access tokens are not revocable"
    );
    assert_eq!(
        revoke("garbage".to_owned()).await.status(),
        200,
        "unknown tokens: 200 all the same"
    );
    assert_eq!(revoke(refresh_token.to_owned()).await.status(), 200);
    let after = client()
        .get(idp(&app, "/oauth2/userInfo"))
        .bearer_auth(access_token)
        .fetch()
        .await;
    assert_eq!(
        after.status(),
        401,
        "revocation kills the tokens minted from it"
    );
    assert!(
        after.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let refresh = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await;
    assert_eq!(
        refresh,
        (400, serde_json::json!({"error": "invalid_grant"}))
    );
}

#[tokio::test]
async fn discovery_and_jwks_are_published_under_the_issuer() {
    let app = spawn_app().await;

    let discovery: Value = client()
        .get(format!("{}/.well-known/openid-configuration", app.issuer))
        .fetch_json()
        .await;
    let jwks = client()
        .get(format!("{}/.well-known/jwks.json", app.issuer))
        .fetch_json()
        .await;

    assert_eq!(discovery["issuer"], app.issuer.as_str());
    assert_eq!(
        discovery["userinfo_endpoint"],
        idp(&app, "/oauth2/userInfo")
    );
    assert_eq!(discovery["end_session_endpoint"], idp(&app, "/logout"));
    assert_eq!(
        discovery["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for key in keys {
        assert_eq!(
            (
                key["alg"].as_str(),
                key["kty"].as_str(),
                key["use"].as_str()
            ),
            (Some("RS256"), Some("RSA"), Some("sig"))
        );
        assert_eq!(key["kid"].as_str().unwrap().len(), 44, "Cognito-style kid");
    }
}

#[tokio::test]
async fn logout_goes_only_to_a_registered_sign_out_url() {
    let app = spawn_app().await;
    let logout = |params: Vec<(&'static str, String)>| {
        let url = idp_with(&app, "/logout", &params);
        async move { client().get(url).fetch().await }
    };

    let registered = logout(vec![
        ("client_id", CLIENT_ID.into()),
        ("logout_uri", app.url("/").to_string()),
    ])
    .await;
    let foreign = logout(vec![
        ("client_id", CLIENT_ID.into()),
        ("logout_uri", "https://evil.example/".into()),
    ])
    .await;
    let neither = logout(vec![("client_id", CLIENT_ID.into())]).await;

    assert_eq!(registered.status(), 302);
    assert_eq!(registered.headers()["location"], app.url("/").as_str());
    assert!(
        registered.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("cognito=;")
    );
    assert_eq!(foreign.status(), 302);
    assert!(
        foreign.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/error?error=redirect_mismatch")
    );
    assert_eq!(neither.status(), 400);
}

#[tokio::test]
async fn authorize_for_an_unknown_client_goes_to_the_error_page() {
    let app = spawn_app().await;

    let reply = client()
        .get(idp_with(
            &app,
            "/oauth2/authorize",
            &[
                ("response_type", "code"),
                ("client_id", "someotherclient0000000000"),
                ("redirect_uri", &callback(&app)),
            ],
        ))
        .fetch()
        .await;

    assert_eq!(reply.status(), 302);
    let location = reply.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location, "/error?error=redirect_mismatch&client_id=someotherclient0000000000",
        "never back to the redirect URI for a client the pool has not"
    );
    assert_eq!(
        client().get(idp(&app, &location)).fetch().await.status(),
        400
    );
}

#[tokio::test]
async fn identity_provider_cognito_or_a_pools_provider_goes_on_to_the_login_page() {
    let app = spawn_app().await;
    app.idp.set_identity_providers(&["Google"]);

    let cognito = login_form(&app, &[("identity_provider", "COGNITO")]).await;
    let google = login_form(&app, &[("identity_provider", "Google")]).await;
    let back = app.submit_login(&google, "demo", password_of("demo")).await;

    assert!(
        !cognito.body.contains("Signing in with"),
        "{}",
        cognito.body
    );
    assert!(
        google.body.contains("Signing in with Google"),
        "{}",
        google.body
    );
    let tokens = exchange(&app, &code_of(&back)).await;
    assert_eq!(
        id_claims(&tokens)["cognito:username"],
        "demo",
        "the demo accounts sign in for every provider"
    );
}

#[tokio::test]
async fn an_identity_provider_the_pool_has_not_is_refused_on_the_idp_error_page() {
    let app = spawn_app().await;
    app.idp.set_identity_providers(&["Google"]);

    let authorize = client()
        .get(authorize_url(&app, &[("identity_provider", "Facebook")]))
        .fetch()
        .await;
    let login = client()
        .get(idp_with(
            &app,
            "/login",
            &[
                ("response_type", "code"),
                ("client_id", CLIENT_ID),
                ("redirect_uri", &callback(&app)),
                ("identity_provider", "google"),
            ],
        ))
        .fetch()
        .await;

    assert_eq!(authorize.status(), 302);
    let location = authorize.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/error?error=unknown_identity_provider&client_id={CLIENT_ID}"),
        "Cognito shows its own page, it does not tell the app"
    );
    let page = client().get(idp(&app, &location)).fetch().await;
    assert_eq!(page.status(), 400);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Login option is not available")
    );
    assert_eq!(login.status(), 302, "names are compared exactly");
    assert!(
        login.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/error?error=unknown_identity_provider")
    );
}

#[tokio::test]
async fn login_hint_pre_fills_the_username_field() {
    let app = spawn_app().await;

    let hinted = login_form(&app, &[("login_hint", "admin")]).await;
    let plain = login_form(&app, &[]).await;
    let hostile = login_form(&app, &[("login_hint", r#"x"><b>"#)]).await;

    assert_eq!(username_field(&hinted), "admin");
    assert_eq!(username_field(&plain), "");
    assert!(
        !hostile.body.contains(r#"x"><b>"#),
        "the hint is escaped, never markup"
    );
}

#[tokio::test]
async fn prompt_login_asks_for_the_password_again_and_moves_auth_time() {
    let app = spawn_app().await;
    let before = cognito_web::clock::now();
    let first_login = login_form(&app, &[]).await;
    let first_back = app
        .submit_login(&first_login, "demo", password_of("demo"))
        .await;
    let first = exchange(&app, &code_of(&first_back)).await;
    let first_auth_time = id_claims(&first)["auth_time"].as_i64().unwrap();
    wait_for_the_clock_to_pass(first_auth_time).await;

    let silent = app.get(&authorize_url(&app, &[])).await;
    let silent_tokens = exchange(&app, &code_of(&silent)).await;
    let login = login_form(&app, &[("prompt", "login")]).await;
    let back = app.submit_login(&login, "demo", password_of("demo")).await;
    let again = exchange(&app, &code_of(&back)).await;
    let refreshed_first = refresh(&app, &first).await;

    assert!(
        first_auth_time >= before,
        "auth_time is when the password was typed"
    );
    assert_eq!(
        id_claims(&silent_tokens)["auth_time"].as_i64(),
        Some(first_auth_time),
        "a sign-in through the session cookie keeps the time of the password"
    );
    let new_auth_time = id_claims(&again)["auth_time"].as_i64().unwrap();
    assert!(
        new_auth_time > first_auth_time,
        "prompt=login: auth_time is the new sign-in's ({new_auth_time} vs {first_auth_time})"
    );
    assert_ne!(
        back.set_cookie("cognito").value(),
        first_back.set_cookie("cognito").value(),
        "a new managed-login session"
    );
    assert_eq!(
        id_claims(&refreshed_first)["auth_time"].as_i64(),
        Some(first_auth_time),
        "a refresh keeps the auth_time of its sign-in"
    );
    assert_eq!(
        jwt_part(refreshed_first["access_token"].as_str().unwrap(), 1)["auth_time"].as_i64(),
        Some(first_auth_time)
    );
}

#[tokio::test]
async fn changed_groups_reach_the_next_refreshed_tokens() {
    let app = spawn_app().await;
    let tokens = sign_in_at_idp(&app, "demo", &[]).await;

    let changed = app.idp.set_groups("demo", &["admins", "editors"]);
    let with_groups = refresh(&app, &tokens).await;
    app.idp.set_groups::<&str>("demo", &[]);
    let without = refresh(&app, &tokens).await;

    assert!(changed);
    assert!(id_claims(&tokens).get("cognito:groups").is_none());
    assert_eq!(
        id_claims(&with_groups)["cognito:groups"],
        json!(["admins", "editors"])
    );
    assert_eq!(
        jwt_part(with_groups["access_token"].as_str().unwrap(), 1)["cognito:groups"],
        json!(["admins", "editors"])
    );
    assert!(
        id_claims(&without).get("cognito:groups").is_none(),
        "no groups: the claim is absent, not empty"
    );
    assert!(
        !app.idp.set_groups("nobody", &["admins"]),
        "not a demo user"
    );
}

#[tokio::test]
async fn discovery_faults_make_the_issuer_documents_answer_wrongly() {
    let app = spawn_app().await;
    let discovery_url = format!("{}/.well-known/openid-configuration", app.issuer);
    let jwks_url = format!("{}/.well-known/jwks.json", app.issuer);
    let rs256_keys = |jwks: &Value| {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|key| key["alg"] == "RS256")
            .count()
    };

    app.idp.set_discovery_fault(DiscoveryFault::NotFound);
    let not_found = client().get(&discovery_url).fetch().await;
    app.idp.set_discovery_fault(DiscoveryFault::WrongIssuer);
    let wrong_issuer = client().get(&discovery_url).fetch_json().await;
    app.idp.set_discovery_fault(DiscoveryFault::NoRs256Keys);
    let no_rs256 = client().get(&jwks_url).fetch_json().await;
    let discovery_meanwhile = client().get(&discovery_url).fetch_json().await;
    app.idp.set_discovery_fault(DiscoveryFault::None);
    let healed_discovery = client().get(&discovery_url).fetch_json().await;
    let healed_jwks = client().get(&jwks_url).fetch_json().await;

    assert_eq!(not_found.status(), 404);
    assert_ne!(wrong_issuer["issuer"], app.issuer.as_str());
    assert!(
        wrong_issuer["issuer"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert_eq!(rs256_keys(&no_rs256), 0, "{no_rs256}");
    assert_eq!(no_rs256["keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        discovery_meanwhile["issuer"],
        app.issuer.as_str(),
        "one fault at a time"
    );
    assert_eq!(healed_discovery["issuer"], app.issuer.as_str());
    assert_eq!(rs256_keys(&healed_jwks), 2);
}

#[tokio::test]
async fn without_rotation_a_refresh_returns_no_refresh_token_and_the_original_keeps_working() {
    let app = spawn_app().await;
    let tokens = sign_in_at_idp(&app, "demo", &[]).await;

    let first = refresh(&app, &tokens).await;
    let second = refresh(&app, &tokens).await;

    assert!(first.get("refresh_token").is_none(), "{first}");
    assert!(second.get("refresh_token").is_none(), "{second}");
}

#[tokio::test]
async fn the_identity_providers_setting_makes_the_dev_pool_know_them_at_start() {
    let app = spawn_app_with(&[("COGNITO_IDENTITY_PROVIDERS", "Google,CorporateSAML")]).await;

    let google = login_form(&app, &[("identity_provider", "Google")]).await;
    let saml = client()
        .get(authorize_url(
            &app,
            &[("identity_provider", "CorporateSAML")],
        ))
        .fetch()
        .await;
    let unknown = client()
        .get(authorize_url(&app, &[("identity_provider", "Facebook")]))
        .fetch()
        .await;

    assert!(
        google.body.contains("Signing in with Google"),
        "{}",
        google.body
    );
    let location =
        |response: &reqwest::Response| response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location(&saml).starts_with("/login?"),
        "{}",
        location(&saml)
    );
    assert!(
        location(&unknown).starts_with("/error?error=unknown_identity_provider"),
        "only the providers named: {}",
        location(&unknown)
    );
}

#[tokio::test]
async fn an_other_subject_forgery_names_another_demo_user_in_a_correctly_signed_id_token() {
    let app = spawn_app().await;
    let jwks = client()
        .get(format!("{}/.well-known/jwks.json", app.issuer))
        .fetch_json()
        .await;

    app.idp.forge_next_id_token(Forgery::OtherSubject);
    let forged = sign_in_at_idp(&app, "demo", &[]).await;
    let honest = refresh(&app, &forged).await;

    let id_token = forged["id_token"].as_str().unwrap();
    let kid = jwt_part(id_token, 0)["kid"].clone();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == kid)
        .expect("signed by a published key");
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&[&app.issuer]);
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .expect("the forged token verifies")
        .claims;
    let (demo, admin) = (DEMO_USERS[0].sub, DEMO_USERS[1].sub);
    assert_eq!(claims["sub"], admin, "another demo user's sub");
    assert_eq!(claims["cognito:username"], "demo", "only the sub is forged");
    assert_eq!(
        jwt_part(forged["access_token"].as_str().unwrap(), 1)["sub"],
        demo,
        "the access token is honest"
    );
    assert_eq!(id_claims(&honest)["sub"], demo, "only the next ID token");
}

/// The settings `spawn_app` uses, on `dir`, without starting anything.
fn config_in(dir: &std::path::Path) -> Config {
    let database_url = format!("sqlite://{}", dir.join("app.db").display());
    let vars = HashMap::from([
        ("APP_LISTEN", "127.0.0.1:0".to_owned()),
        ("APP_BASE_URL", "http://localhost:0".to_owned()),
        ("DEV_IDP_LISTEN", "127.0.0.1:0".to_owned()),
        ("DATABASE_URL", database_url),
    ]);
    Config::from_lookup(|name| vars.get(name).cloned()).unwrap()
}

#[tokio::test]
async fn a_damaged_file_of_the_idp_stops_start_up_with_one_line_naming_it_and_is_left_alone() {
    cognito_web::auth::http::install_crypto_provider();
    let cases = [
        ("dev-idp-keys.json", r#"{"id_keys": ["#),
        (
            "dev-idp-keys.json",
            r#"{"id_keys":[],"access_keys":[],"refresh_key":""}"#,
        ),
        ("dev-idp-revoked.txt", "not a token id\n"),
        (
            "dev-idp-rotated.txt",
            "0b7c6a3e-2f1d-4e5a-9b8c-7d6e5f4a3b2c yesterday\n",
        ),
    ];

    for (file, contents) in cases {
        let dir = tempfile::tempdir().unwrap();
        if file != "dev-idp-keys.json" {
            shared_keys().save(dir.path()).unwrap();
        }
        let path = dir.path().join(file);
        std::fs::write(&path, contents).unwrap();

        let built = Application::build(config_in(dir.path())).await;

        let line = format!("{:#}", built.err().expect("start-up stops"));
        assert!(
            line.starts_with(&format!("{}: ", path.display())),
            "{file} {contents:?}: {line}"
        );
        assert!(line.contains("fix or delete it"), "{file}: {line}");
        assert!(!line.contains('\n'), "{file}: one line: {line}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            contents,
            "{file}: left as it was"
        );
    }
}

#[tokio::test]
async fn a_missing_keys_file_is_created_and_kept_for_the_next_start() {
    cognito_web::auth::http::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev-idp-keys.json");

    let first = Application::build(config_in(dir.path())).await.unwrap();
    let created = std::fs::read_to_string(&path).unwrap();
    drop(first);
    let second = Application::build(config_in(dir.path())).await.unwrap();

    assert!(created.contains("refresh_key"), "{created}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        created,
        "the second start reads the keys, it does not replace them"
    );
    drop(second);
}
