//! PostgreSQL restarted under load: while it is down, pages say "briefly unavailable" (503, with
//! Retry-After) and `/healthz` says 503; nothing panics or shows a 500; when it is back, the app
//! recovers by itself and the browser is still signed in. The server is a throwaway cluster of
//! this test's own (`scripts/postgres.sh`), so stopping it disturbs no other test.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cognito_web::auth::cache::REVALIDATE_AFTER;

use crate::helpers::{TestApp, spawn_app_with};
use crate::postgres_cluster::Cluster;

/// Requests `/account` and `/healthz` without pause until told to stop; every status seen.
fn load(app: &TestApp, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<u16>> {
    let session = app.app_cookies()["session"].clone();
    let (account, health) = (app.url("/account"), app.url("/healthz"));
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut seen = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            for url in [&account, &health] {
                let reply = client
                    .get(url.clone())
                    .header(reqwest::header::COOKIE, format!("session={session}"))
                    .send()
                    .await
                    .expect("the app answers while the database is down");
                seen.push(reply.status().as_u16());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        seen
    })
}

// Two threads: stopping and starting the server blocks this one, and the load must go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    no_postgres,
    ignore = "needs PostgreSQL: set TEST_DATABASE_URL (scripts/postgres.sh)"
)]
async fn postgresql_restarted_under_load_gives_unavailable_pages_then_recovers_with_no_session_lost()
 {
    let cluster = Cluster::start_new();
    let app = spawn_app_with(&[("DATABASE_URL", &cluster.url)]).await;
    app.sign_in_as("demo").await;
    assert_eq!(app.get("/account").await.status, 200);
    let stop = Arc::new(AtomicBool::new(false));
    let before = load(&app, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;

    cluster.stop();
    // Past the cache's trust in its copy, every page needs the database.
    tokio::time::sleep(REVALIDATE_AFTER + Duration::from_millis(200)).await;
    let page = app.get("/account").await;
    let health = app.get("/healthz").await;
    cluster.start();
    let back_at = Instant::now();
    let mut recovered = None;
    while back_at.elapsed() < Duration::from_secs(30) {
        if app.get("/account").await.status == 200 && app.get("/healthz").await.status == 200 {
            recovered = Some(back_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let seen = before.await.unwrap();

    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("briefly unavailable"), "{}", page.body);
    assert!(page.headers.contains_key("retry-after"));
    assert_eq!(health.status, 503, "{}", health.body);
    let recovered = recovered.expect("the app recovers by itself once the database is back");
    assert!(
        seen.iter().all(|status| [200, 503].contains(status)),
        "only pages or 'try again', never a 500: {seen:?}"
    );
    assert!(seen.contains(&503) && seen.contains(&200), "{seen:?}");
    // The same browser, signed in as before: no session was lost.
    let account = app.get("/account").await;
    assert_eq!(account.status, 200);
    assert!(
        account.body.contains("demo@example.com"),
        "{}",
        account.body
    );
    eprintln!("recovered {recovered:?} after the database came back");
}
