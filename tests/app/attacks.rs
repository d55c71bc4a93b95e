//! What a reviewer would try: each gets a clear 4xx (or a redirect that goes nowhere harmful)
//! and changes nothing.

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_sign_in_attempt_older_than_ten_minutes_is_refused() {
    let app = spawn_app().await;
    let callback = app.callback_url("demo", None).await;
    app.change_database("update sign_in_attempts set created_at = created_at - 601")
        .await;

    let reply = app.get(callback.as_str()).await;

    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("took longer than 10 minutes"));
    assert!(!app.app_cookies().contains_key("session"));
}

#[tokio::test]
async fn oversized_cookies_headers_and_query_strings_get_a_4xx_page() {
    let app = spawn_app().await;
    let url = app.url("/");
    let client = reqwest::Client::new();

    let cookie = client
        .get(url.clone())
        .header("Cookie", format!("session={}", "a".repeat(9000)))
        .send()
        .await
        .unwrap();
    let headers = client
        .get(url.clone())
        .header("X-Padding", "a".repeat(17_000))
        .send()
        .await
        .unwrap();
    let query = app
        .get(&format!("/auth/sign-in?return_to=/{}", "a".repeat(5000)))
        .await;
    let many = (0..120)
        .fold(client.get(url.clone()), |r, i| {
            r.header(format!("x-h{i}"), "1")
        })
        .send()
        .await
        .unwrap();

    assert_eq!(cookie.status(), 431);
    assert!(
        cookie
            .text()
            .await
            .unwrap()
            .contains("more cookies than this app ever sets")
    );
    assert_eq!(headers.status(), 431);
    assert_eq!(query.status, 414);
    assert!(query.body.contains("too long"));
    assert_eq!(many.status(), 431);
}

#[tokio::test]
async fn garbage_and_non_utf8_in_every_parameter_gets_a_clean_answer_and_changes_nothing() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    let csrf = app.csrf_token().await;
    let garbage = [
        "%FF%FE",
        "%00",
        "%",
        "%zz",
        "<script>alert(1)</script>",
        "'\"",
        "a%0D%0ASet-Cookie:%20x=y",
    ];

    for value in garbage {
        for path in [
            format!("/auth/sign-in?return_to={value}"),
            format!("/auth/callback?code={value}&state={value}"),
            format!("/auth/callback?error={value}&state={value}"),
            format!("/account?{value}"),
            format!("/?{value}={value}"),
        ] {
            let reply = app.get(&path).await;

            assert!(
                matches!(reply.status, 200 | 303 | 400),
                "{path}: {} {}",
                reply.status,
                reply.body
            );
            assert!(
                !reply.body.contains("<script>alert"),
                "{path} reflected markup"
            );
            assert!(
                reply
                    .headers
                    .get_all("set-cookie")
                    .iter()
                    .all(|c| !c.to_str().unwrap().starts_with("x=")),
                "{path}"
            );
        }
        let sign_out = app
            .post_form("/auth/sign-out", &[("csrf_token", value)])
            .await;
        assert_eq!(sign_out.status, 403, "{value}");
    }
    // A browser with nothing but an odd cookie: a stale session, no error.
    let odd = reqwest::header::HeaderValue::from_bytes(b"session=\xff\xfe; theme=\"\"").unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let odd_cookie = no_redirects
        .get(app.url("/account"))
        .header("Cookie", odd)
        .send()
        .await
        .unwrap();
    assert_eq!(odd_cookie.status(), 303);
    assert_eq!(
        odd_cookie.headers()["location"],
        "/auth/sign-in?return_to=%2Faccount"
    );

    assert_eq!(
        app.get("/account").await.status,
        200,
        "still signed in after all that"
    );
    assert_eq!(app.get(&format!("/?csrf={csrf}")).await.status, 200);
}

#[tokio::test]
async fn a_posted_body_over_the_limit_is_refused() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;

    let reply = app
        .post_form("/auth/sign-out", &[("csrf_token", &"a".repeat(20_000))])
        .await;

    assert_eq!(reply.status, 413);
    assert_eq!(app.get("/account").await.status, 200);
}

#[tokio::test]
async fn an_internal_failure_shows_a_page_without_internals() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    app.change_database("drop table sessions").await;

    let reply = app.get("/account").await;

    assert_eq!(reply.status, 500);
    assert!(reply.body.contains("Something went wrong"));
    for internal in [
        "sessions",
        "sqlite",
        "SQLITE",
        "no such table",
        "error returned",
        "panicked",
    ] {
        assert!(
            !reply.body.contains(internal),
            "the page shows {internal:?}"
        );
    }
}
