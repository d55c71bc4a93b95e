//! Refresh and sign-in under faults: a database error mid-refresh, a request dropped while its
//! refresh runs, a process killed while it holds the refresh lease, answers that are not this
//! browser's, several sign-ins in flight in one browser.

use std::time::{Duration, Instant};

use cognito_web::dev_idp::{Forgery, TokenFailure};
use reqwest::header::COOKIE;

use crate::database::dialect;
use crate::helpers::{TestApp, assert_redirect_to, spawn_app};
use crate::process::spawn_second_process;

/// One number from the app's database, read behind its back.
async fn query_i64(app: &TestApp, sql: &'static str) -> i64 {
    crate::database::integer(&app.database_url(), sql).await
}

/// Waits (up to `limit`) until `sql` reads `expected`, and says whether it did.
async fn wait_for(
    app: &TestApp,
    sql: &'static str,
    expected: impl Fn(i64) -> bool,
    limit: Duration,
) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if expected(query_i64(app, sql).await) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

fn hold_token_answers(app: &TestApp, delay: Duration) {
    app.idp.fail_token_endpoint(TokenFailure {
        status: None,
        body: String::new(),
        delay_ms: delay.as_millis() as u64,
    });
}

/// A GET of `url` with the browser's session cookie, by a client that gives up after `timeout`.
fn get_giving_up_after(
    app: &TestApp,
    url: url::Url,
    timeout: Duration,
) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static {
    let session = app.app_cookies()["session"].clone();
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap()
        .get(url)
        .header(COOKIE, format!("session={session}"))
        .send()
}

#[tokio::test]
async fn a_database_error_in_the_middle_of_a_refresh_gives_the_lease_back_at_once() {
    let app = spawn_app().await;
    app.idp.set_refresh_rotation(true);
    app.sign_in_as("demo").await;
    // Storing the new tokens fails; storing the rotated refresh token alone still works.
    app.change_database(dialect(
        "create trigger fail_token_store before update of access_token on sessions \
         begin select raise(fail, 'injected database failure'); end",
        "create function fail_token_store() returns trigger language plpgsql as \
         $$ begin raise exception 'injected database failure'; end $$; \
         create trigger fail_token_store before update of access_token on sessions \
         for each row execute function fail_token_store()",
    ))
    .await;
    app.expire_access_tokens().await;

    let failed = app.get("/account").await;
    let lease = query_i64(&app, "select refresh_lease_until from sessions").await;
    app.change_database(dialect(
        "drop trigger fail_token_store",
        "drop trigger fail_token_store on sessions",
    ))
    .await;
    let recovered = app.get("/account").await;

    assert_eq!(failed.status, 500, "{}", failed.body);
    assert_eq!(lease, 0, "the lease is free again at once");
    // The refresh token rotated by the failed refresh was kept: the retired one would now get
    // invalid_grant and a redirect to sign in.
    assert_eq!(recovered.status, 200, "{}", recovered.body);
    assert_eq!(app.idp.count("token:refresh_token"), 2);
}

// actix-web goes on running a handler whose HTTP/1 client has gone, so the drop is made here
// directly, as an HTTP/2 reset, a shutdown or a timeout around the call would make it.
#[tokio::test]
async fn a_refresh_whose_request_is_dropped_still_runs_to_its_end_and_stores_the_tokens() {
    let app = spawn_app().await;
    app.idp.set_refresh_rotation(true);
    app.sign_in_as("demo").await;
    app.expire_access_tokens().await;
    let sessions = &app.state().sessions;
    let session = sessions
        .find(&app.app_cookies()["session"])
        .await
        .unwrap()
        .unwrap();
    hold_token_answers(&app, Duration::from_millis(1500));

    let dropped = tokio::time::timeout(
        Duration::from_millis(300),
        app.state().refresher.fresh(session),
    )
    .await;
    let stored = wait_for(
        &app,
        "select refresh_count from sessions",
        |count| count == 1,
        Duration::from_secs(20),
    )
    .await;
    app.idp.clear_token_failure();
    let next = app.get("/account").await;

    assert!(dropped.is_err(), "the request was dropped mid-refresh");
    assert!(
        stored,
        "the refresh ran to its end and stored the new tokens"
    );
    assert_eq!(next.status, 200, "{}", next.body);
    assert_eq!(
        app.idp.count("token:refresh_token"),
        1,
        "the next request uses the stored tokens, the rotated refresh token among them"
    );
    assert_eq!(
        query_i64(&app, "select refresh_lease_until from sessions").await,
        0
    );
}

#[tokio::test]
async fn a_process_killed_while_it_holds_the_refresh_lease_locks_the_session_out_for_seconds_only()
{
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    let second = spawn_second_process(&app).await;
    app.expire_access_tokens().await;
    // The IdP holds the token answer; the second process takes the lease and waits on it.
    hold_token_answers(&app, Duration::from_secs(120));
    let pending = tokio::spawn(get_giving_up_after(
        &app,
        second.url("/account"),
        Duration::from_secs(120),
    ));
    let leased = wait_for(
        &app,
        "select refresh_lease_until from sessions",
        |until| until > 0,
        Duration::from_secs(20),
    )
    .await;
    // Killed only once its token call has reached the IdP: taking the lease comes first.
    let started = Instant::now();
    while app.idp.count("token:refresh_token") == 0 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    second.kill().await;
    let killed_at = Instant::now();
    app.idp.clear_token_failure();
    let page = app.get("/account").await;
    let waited = killed_at.elapsed();

    assert!(leased, "the second process took the refresh lease");
    assert!(
        pending.await.unwrap().is_err(),
        "the killed process never answered"
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        app.idp.count("token:refresh_token"),
        2,
        "the held call, then this one"
    );
    // A figure for the reader, not an assertion: the bound is the lease's length.
    eprintln!("served {waited:?} after the lease holder was killed");
}

#[tokio::test]
async fn a_refreshed_id_token_that_fails_verification_ends_the_session_after_one_token_call() {
    // A bad signature, and a correctly signed token for another user.
    for forgery in [Forgery::UnpublishedKey, Forgery::OtherSubject] {
        let app = spawn_app().await;
        app.idp.set_refresh_rotation(true);
        app.sign_in_as("demo").await;
        app.idp.forge_next_id_token(forgery);
        app.expire_access_tokens().await;

        let refused = app.get("/account").await;
        let after = app.get("/account").await;

        assert_redirect_to(&refused, "/auth/sign-in?return_to=%2Faccount");
        assert_eq!(refused.set_cookie("session").value(), "", "{forgery:?}");
        assert_redirect_to(&after, "/auth/sign-in?return_to=%2Faccount");
        assert_eq!(
            app.idp.count("token:refresh_token"),
            1,
            "{forgery:?}: no request loops on the token endpoint"
        );
    }
}

#[tokio::test]
async fn during_an_outage_admin_relies_on_the_last_verified_groups_for_a_bounded_time_only() {
    let app = spawn_app().await;
    app.sign_in_as("admin").await;
    app.idp.fail_token_endpoint(TokenFailure {
        status: Some(503),
        body: String::new(),
        delay_ms: 0,
    });
    app.expire_access_tokens().await;

    let within_grace = app.get("/admin").await;
    // The last verified token expired longer ago than the grace.
    app.change_database("update sessions set access_expires_at = unixepoch() - 301")
        .await;
    let past_grace = app.get("/admin").await;

    assert_eq!(within_grace.status, 200, "{}", within_grace.body);
    assert!(within_grace.body.contains("could not be reached"));
    assert_eq!(past_grace.status, 503, "{}", past_grace.body);
    assert!(past_grace.body.contains("still signed in"));
}

#[tokio::test]
async fn a_cross_site_callback_error_without_this_browsers_state_leaves_its_sign_in_intact() {
    let app = spawn_app().await;
    let callback = app.callback_url("demo", None).await;

    let no_state = app.get("/auth/callback?error=access_denied").await;
    let forged = app
        .get("/auth/callback?error=access_denied&state=forged")
        .await;
    let completed = app.get(callback.as_str()).await;

    for refused in [&no_state, &forged] {
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(!refused.body.contains("cancelled"), "{}", refused.body);
        assert!(refused.set_cookies().iter().all(|c| c.name() != "sign_in"));
    }
    assert_redirect_to(&completed, "/account");
    assert!(app.app_cookies().contains_key("session"));
}

#[tokio::test]
async fn two_sign_ins_started_in_one_browser_both_complete_on_the_page_each_asked_for() {
    let app = spawn_app().await;
    let first = app.callback_url("demo", Some("/diagnostics/cookies")).await;
    let second = app.callback_url("demo", Some("/")).await;

    let second_done = app.get(second.as_str()).await;
    let first_done = app.get(first.as_str()).await;
    let account = app.get("/account").await;

    assert_redirect_to(&second_done, "/");
    assert_redirect_to(&first_done, "/diagnostics/cookies");
    assert_eq!(account.status, 200, "{}", account.body);
    assert_eq!(app.set_cookie_log().last().unwrap().1.name(), "sign_in");
    assert!(
        !app.app_cookies().contains_key("sign_in"),
        "no attempt is left in flight"
    );
}

#[tokio::test]
async fn abandoned_sign_ins_do_not_pile_up_the_oldest_is_dropped() {
    let app = spawn_app().await;
    let oldest = app.callback_url("demo", None).await;
    for _ in 0..3 {
        app.get_sign_in(None).await;
    }

    let in_flight = app.app_cookies()["sign_in"].clone();
    let reply = app.get(oldest.as_str()).await;

    assert_eq!(in_flight.split('.').count(), 3);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("belongs to another sign-in attempt"));
}
