//! Several instances on one database: three app processes of the real binary (with the first
//! app, in this test binary, hosting the IdP), on loopback, sharing the test's database. On
//! PostgreSQL this is the deployment the README's "Running more than one instance" describes;
//! on SQLite the same guarantees hold between processes on one machine, with the cache's
//! one-second re-read as the bound on seeing a sign-out.

use std::time::Duration;

use cognito_web::auth::cache::REVALIDATE_AFTER;
use cognito_web::dev_idp::TokenFailure;
use reqwest::header::COOKIE;
use tokio::task::JoinSet;

use crate::database::{self, on_postgres};
use crate::helpers::{TestApp, Visitor, spawn_app};
use crate::process::{SecondProcess, spawn_second_process};

/// How long after a sign-out on one instance the others may still serve the session: the
/// notification's delivery on PostgreSQL, the cache's re-read on SQLite.
fn sign_out_bound() -> Duration {
    if on_postgres() {
        Duration::from_millis(100)
    } else {
        REVALIDATE_AFTER + Duration::from_millis(100)
    }
}

async fn three_instances(app: &TestApp) -> [SecondProcess; 3] {
    let (a, b, c) = tokio::join!(
        spawn_second_process(app),
        spawn_second_process(app),
        spawn_second_process(app)
    );
    [a, b, c]
}

/// A browser signed in as `username` through `app` (its session cookie's value).
async fn signed_in(app: &TestApp, username: &str) -> String {
    let visitor = Visitor::new(app.app_url.clone());
    let reply = visitor.sign_in_as(username).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    visitor.app_cookies()["session"].clone()
}

/// The status of GET `path` on `instance` with the session cookie `session`.
async fn status_of(
    client: &reqwest::Client,
    instance: &SecondProcess,
    path: &str,
    session: &str,
) -> u16 {
    client
        .get(instance.url(path))
        .header(COOKIE, format!("session={session}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn two_hundred_requests_over_three_instances_make_one_token_call_per_session() {
    let app = spawn_app().await;
    let mut sessions = Vec::new();
    // Five browsers of the admins group: `/admin` needs fresh tokens and nothing else of the IdP.
    for _ in 0..5 {
        sessions.push(signed_in(&app, "admin").await);
    }
    let instances = std::sync::Arc::new(three_instances(&app).await);
    app.expire_access_tokens().await;
    // Each token answer takes a moment, so that every request arrives while the refreshes of
    // its session are under way somewhere.
    app.idp.fail_token_endpoint(TokenFailure {
        status: None,
        body: String::new(),
        delay_ms: 300,
    });

    let mut requests = JoinSet::new();
    for n in 0..200 {
        let (instances, session, client) = (
            instances.clone(),
            sessions[n % sessions.len()].clone(),
            client(),
        );
        requests
            .spawn(async move { status_of(&client, &instances[n % 3], "/admin", &session).await });
    }
    let mut statuses = Vec::new();
    while let Some(status) = requests.join_next().await {
        statuses.push(status.unwrap());
    }

    assert!(statuses.iter().all(|&status| status == 200), "{statuses:?}");
    assert_eq!(
        app.idp.count("token:refresh_token"),
        sessions.len() as u64,
        "one token call per session, across the three instances"
    );
    let counts =
        database::integers(&app.database_url(), "select refresh_count from sessions").await;
    assert_eq!(
        counts,
        vec![1; sessions.len()],
        "each session refreshed once"
    );
    app.idp.clear_token_failure();
}

#[tokio::test]
async fn a_sign_out_on_one_instance_is_refused_by_the_other_two_within_the_bound() {
    let app = spawn_app().await;
    let session = signed_in(&app, "demo").await;
    let [first, second, third] = three_instances(&app).await;
    let client = client();
    let at_first = Visitor::new(first.base_url.clone());
    at_first.plant_cookie("session", &session);
    let csrf = at_first.csrf_token().await;
    // Past the cache's trust in anything read so far, the other two read the session afresh: from
    // now on their copies would be served for a whole REVALIDATE_AFTER unless told otherwise.
    tokio::time::sleep(REVALIDATE_AFTER).await;
    let read_afresh = std::time::Instant::now();
    for instance in [&second, &third] {
        assert_eq!(
            status_of(&client, instance, "/account", &session).await,
            200
        );
    }

    let signed_out = at_first.post_sign_out(&csrf).await;
    let out_at = std::time::Instant::now();
    let mut after = [0, 0];
    while out_at.elapsed() <= sign_out_bound() {
        after = [
            status_of(&client, &second, "/account", &session).await,
            status_of(&client, &third, "/account", &session).await,
        ];
        if after == [303, 303] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let refused_after = out_at.elapsed();

    assert_eq!(signed_out.status, 303, "{}", signed_out.body);
    assert_eq!(
        after,
        [303, 303],
        "both send the browser to sign in within {:?}",
        sign_out_bound()
    );
    if on_postgres() {
        // Refused while their own copies were still young enough to serve: the notification,
        // not the re-read, did it.
        assert!(
            read_afresh.elapsed() < REVALIDATE_AFTER,
            "inconclusive: the copies read at the start had aged past REVALIDATE_AFTER"
        );
    }
    eprintln!("refused by both {refused_after:?} after the sign-out");
    let left = database::integer(&app.database_url(), "select count(*) from sessions").await;
    assert_eq!(left, 0);
}

#[tokio::test]
async fn the_instance_holding_the_refresh_lease_is_killed_and_another_serves_the_session() {
    let app = spawn_app().await;
    let session = signed_in(&app, "demo").await;
    let [holder, second, third] = three_instances(&app).await;
    app.expire_access_tokens().await;
    // The IdP holds the token answer: the first instance takes the lease and waits on it.
    app.idp.fail_token_endpoint(TokenFailure {
        status: None,
        body: String::new(),
        delay_ms: 120_000,
    });
    let pending = tokio::spawn({
        let (client, url, session) = (client(), holder.url("/account"), session.clone());
        async move {
            client
                .get(url)
                .header(COOKIE, format!("session={session}"))
                .send()
                .await
        }
    });
    // Killed only once its token call has reached the IdP: it holds the lease, mid-refresh.
    let mut waited_for_call = 0;
    while app.idp.count("token:refresh_token") == 0 && waited_for_call < 1_000 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited_for_call += 1;
    }
    let lease = "select refresh_lease_until from sessions";
    let leased = database::integer(&app.database_url(), lease).await > 0;

    holder.kill().await;
    let killed_at = std::time::Instant::now();
    app.idp.clear_token_failure();
    let client = client();
    let (on_second, on_third) = tokio::join!(
        status_of(&client, &second, "/account", &session),
        status_of(&client, &third, "/account", &session)
    );
    let waited = killed_at.elapsed();

    assert!(leased, "the first instance took the refresh lease");
    assert!(
        pending.await.unwrap().is_err(),
        "the killed instance never answered"
    );
    assert_eq!((on_second, on_third), (200, 200));
    let bound = Duration::from_secs(cognito_web::auth::refresh::LEASE_SECONDS as u64 + 5);
    assert!(
        waited < bound,
        "served {waited:?} after the kill; the lease lasts {bound:?} at most"
    );
    assert_eq!(
        app.idp.count("token:refresh_token"),
        2,
        "the held call, then one for both instances"
    );
}
