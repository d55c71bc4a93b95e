//! `/account/sessions`: one user signed in from several browsers (several `Visitor`s) sees each
//! session once, "this one" marked, and ends the others, one or all; forms without the CSRF
//! token, from another origin, or naming a session that is not the user's change nothing.

use reqwest::header::USER_AGENT;

use crate::helpers::{Reply, TestApp, Visitor, assert_redirect_to, spawn_app};

const FIREFOX_ON_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const SAFARI_ON_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) \
     AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/// Signs `visitor` in as `username` from a browser that says `user_agent` (at the callback,
/// where the session starts).
async fn sign_in_from(visitor: &Visitor, username: &str, user_agent: &str) {
    let callback = visitor.callback_url(username, None).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let request = client.get(callback.clone()).header(USER_AGENT, user_agent);

    let reply = visitor.send(request, callback).await;

    assert_redirect_to(&reply, "/account");
}

/// `demo` signed in twice: in the app's own visitor (a laptop) and in a phone.
async fn signed_in_twice() -> (TestApp, Visitor) {
    let app = spawn_app().await;
    let phone = Visitor::new(app.app_url.clone());
    sign_in_from(&app, "demo", FIREFOX_ON_LINUX).await;
    sign_in_from(&phone, "demo", SAFARI_ON_IPHONE).await;
    (app, phone)
}

/// A session as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    public_id: String,
    this_one: bool,
    browser: String,
}

/// The sessions a page of sessions lists, in its order.
fn listed(page: &Reply) -> Vec<Listed> {
    assert_eq!(page.status, 200, "{}: {}", page.url, page.body);
    let between = |text: &str, start: &str, end: &str| {
        let from = text.find(start).unwrap_or_else(|| panic!("no {start}")) + start.len();
        text[from..from + text[from..].find(end).unwrap()].to_owned()
    };
    page.body
        .split(r#"<tr class="session" "#)
        .skip(1)
        .map(|row| Listed {
            public_id: between(row, r#"data-session=""#, "\""),
            this_one: between(row, r#"data-this-one=""#, "\"") == "true",
            browser: between(row, r#"<td class="browser">"#, "</td>"),
        })
        .collect()
}

/// The public id of the session of `visitor` (the one its own page marks).
async fn own_public_id(visitor: &Visitor) -> String {
    let sessions = listed(&visitor.get_account_sessions().await);
    sessions
        .into_iter()
        .find(|session| session.this_one)
        .expect("this one is listed")
        .public_id
}

async fn csrf_of(visitor: &Visitor) -> String {
    visitor
        .get_account_sessions()
        .await
        .input_value("csrf_token")
}

#[tokio::test]
async fn the_page_lists_each_session_of_the_user_once_with_this_one_marked() {
    let (app, phone) = signed_in_twice().await;
    let admin = Visitor::new(app.app_url.clone());
    admin.sign_in_as("admin").await;

    let on_the_laptop = listed(&app.get_account_sessions().await);
    let on_the_phone = listed(&phone.get_account_sessions().await);

    let browsers = |sessions: &[Listed]| -> Vec<(String, bool)> {
        sessions
            .iter()
            .map(|s| (s.browser.clone(), s.this_one))
            .collect()
    };
    assert_eq!(
        browsers(&on_the_laptop),
        [
            ("Firefox on Linux".to_owned(), true),
            ("Safari on iPhone".to_owned(), false)
        ],
        "this one first; the admin's session is not listed"
    );
    assert_eq!(
        browsers(&on_the_phone),
        [
            ("Safari on iPhone".to_owned(), true),
            ("Firefox on Linux".to_owned(), false)
        ]
    );
    assert_eq!(on_the_laptop[0].public_id, on_the_phone[1].public_id);
    assert_eq!(on_the_laptop[1].public_id, on_the_phone[0].public_id);
    assert!(
        app.get("/account")
            .await
            .body
            .contains(r#"href="/account/sessions""#),
        "/account links to the page"
    );
}

#[tokio::test]
async fn a_public_id_is_neither_the_session_cookie_nor_its_hash() {
    let (app, _phone) = signed_in_twice().await;
    let cookie = app.app_cookies()["session"].clone();

    let public_id = own_public_id(&app).await;

    assert_ne!(public_id, cookie);
    assert_ne!(public_id, cognito_web::secrets::hash(&cookie));
    let page = app.get_account_sessions().await;
    assert!(!page.body.contains(&cookie));
    assert!(!page.body.contains(&cognito_web::secrets::hash(&cookie)));
}

#[tokio::test]
async fn ending_another_session_signs_it_out_at_once_and_revokes_its_refresh_token() {
    let (app, phone) = signed_in_twice().await;
    assert_eq!(phone.get("/account").await.status, 200, "cached here now");
    let phone_id = own_public_id(&phone).await;

    let ended = app
        .post_session_sign_out(&phone_id, &csrf_of(&app).await)
        .await;

    assert_redirect_to(&ended, "/account/sessions");
    assert_eq!(app.idp.count("revoke"), 1);
    assert_redirect_to(
        &phone.get("/account").await,
        "/auth/sign-in?return_to=%2Faccount",
    );
    let left = listed(&app.get_account_sessions().await);
    assert_eq!(left.len(), 1);
    assert!(left[0].this_one);
    assert_eq!(app.get("/account").await.status, 200, "this one goes on");
}

#[tokio::test]
async fn signing_out_all_other_sessions_keeps_this_one_and_other_users_sessions() {
    let (app, phone) = signed_in_twice().await;
    let tablet = Visitor::new(app.app_url.clone());
    tablet.sign_in_as("demo").await;
    let admin = Visitor::new(app.app_url.clone());
    admin.sign_in_as("admin").await;

    let ended = app.post_sign_out_other_sessions(&csrf_of(&app).await).await;

    assert_redirect_to(&ended, "/account/sessions");
    assert_eq!(app.idp.count("revoke"), 2);
    for other in [&phone, &tablet] {
        assert_redirect_to(
            &other.get("/account").await,
            "/auth/sign-in?return_to=%2Faccount",
        );
    }
    let page = app.get_account_sessions().await;
    assert_eq!(listed(&page).len(), 1);
    assert!(page.body.contains(r#"id="no-other-sessions""#));
    assert_eq!(admin.get("/account").await.status, 200);
}

#[tokio::test]
async fn another_users_session_an_unknown_id_or_this_sessions_own_answer_404_and_change_nothing() {
    let (app, phone) = signed_in_twice().await;
    let admin = Visitor::new(app.app_url.clone());
    admin.sign_in_as("admin").await;
    let admin_cookie = admin.app_cookies()["session"].clone();
    let csrf = csrf_of(&app).await;
    let ids = [
        own_public_id(&admin).await,
        "no-such-session".to_owned(),
        cognito_web::secrets::hash(&admin_cookie),
        own_public_id(&app).await,
    ];

    for id in &ids {
        let reply = app.post_session_sign_out(id, &csrf).await;

        assert_eq!(reply.status, 404, "{id}: {}", reply.body);
    }

    assert_eq!(app.idp.count("revoke"), 0);
    assert_eq!(admin.get("/account").await.status, 200);
    assert_eq!(listed(&admin.get_account_sessions().await).len(), 1);
    assert_eq!(listed(&app.get_account_sessions().await).len(), 2);
    assert_eq!(phone.get("/account").await.status, 200);
}

#[tokio::test]
async fn a_missing_or_wrong_csrf_token_or_another_origin_is_403_and_changes_nothing() {
    let (app, phone) = signed_in_twice().await;
    let phone_id = own_public_id(&phone).await;
    let csrf = csrf_of(&app).await;
    let one = format!("/account/sessions/{phone_id}/sign-out");
    let all = "/account/sessions/sign-out-others";

    for path in [one.as_str(), all] {
        let wrong = app.post_form(path, &[("csrf_token", "wrong")]).await;
        let missing = app.post_form(path, &[]).await;
        let foreign = app
            .post_form_with_origin(path, &[("csrf_token", &csrf)], "https://evil.example")
            .await;

        for (case, reply) in [("wrong", wrong), ("missing", missing), ("foreign", foreign)] {
            assert_eq!(reply.status, 403, "{path}, {case} token: {}", reply.body);
        }
    }

    assert_eq!(app.idp.count("revoke"), 0);
    assert_eq!(phone.get("/account").await.status, 200);
    assert_eq!(listed(&app.get_account_sessions().await).len(), 2);
}

#[tokio::test]
async fn the_page_and_its_forms_need_a_signed_in_browser() {
    let (app, phone) = signed_in_twice().await;
    let phone_id = own_public_id(&phone).await;
    let stranger = Visitor::new(app.app_url.clone());

    let page = stranger.get_account_sessions().await;
    let one = stranger.post_session_sign_out(&phone_id, "csrf").await;
    let all = stranger.post_sign_out_other_sessions("csrf").await;

    assert_redirect_to(&page, "/auth/sign-in?return_to=%2Faccount%2Fsessions");
    for reply in [&one, &all] {
        assert_redirect_to(reply, "/auth/sign-in?return_to=%2F");
    }
    assert_eq!(app.idp.count("revoke"), 0);
    assert_eq!(phone.get("/account").await.status, 200);
}

#[tokio::test]
async fn a_session_ended_here_stops_working_in_another_instance_within_the_cache_bound() {
    let (app, phone) = signed_in_twice().await;
    let other = crate::process::spawn_second_process(&app).await;
    let elsewhere = other.url("/account").to_string();
    assert_eq!(
        phone.get(&elsewhere).await.status,
        200,
        "the other instance has it cached now"
    );
    let phone_id = own_public_id(&phone).await;

    app.post_session_sign_out(&phone_id, &csrf_of(&app).await)
        .await;

    // Wait for the condition, with room for a slow machine; the bound itself is documented.
    let bound = cognito_web::auth::cache::REVALIDATE_AFTER;
    let started = std::time::Instant::now();
    loop {
        let reply = phone.get(&elsewhere).await;
        if reply.status == 303 {
            break;
        }
        assert_eq!(reply.status, 200);
        assert!(
            started.elapsed() < bound + std::time::Duration::from_secs(30),
            "still served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
