//! Refresh-token rotation as Cognito does it (docs/cognito-protocol.md §6): the app keeps every
//! session through bursts of concurrent requests and a restart when a rotated-out token dies at
//! once, and the development IdP honours a retry grace period, then refuses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::dev_idp::{authorize_url, code_of, exchange, sign_in_at_idp, token_request};
use crate::helpers::{Reply, TestApp, Visitor, free_port, spawn_app_in, spawn_app_with};

/// Browsers signed in at once, each with a session of its own (two per demo user).
const USERS: [&str; 4] = ["demo", "admin", "demo", "admin"];
const REQUESTS_PER_ROUND: usize = 200;
const ROUNDS: i64 = 4;
/// The app restarts on the same data folder after this round.
const RESTART_AFTER: i64 = 2;

/// Session 0 is the `TestApp`'s own browser (its cookies go through the restart); the others are
/// browsers of their own.
fn browser<'a>(app: &'a TestApp, others: &'a [Arc<Visitor>], session: usize) -> &'a Visitor {
    match session {
        0 => app,
        n => &others[n - 1],
    }
}

/// `REQUESTS_PER_ROUND` concurrent `GET /account`, spread over the sessions in turn; each reply
/// with the index of the session that sent it.
async fn burst(app: &Arc<TestApp>, others: &[Arc<Visitor>]) -> Vec<(usize, Reply)> {
    let mut requests = JoinSet::new();
    for request in 0..REQUESTS_PER_ROUND {
        let session = request % USERS.len();
        let (app, others) = (app.clone(), others.to_vec());
        requests.spawn(async move {
            let reply = browser(&app, &others, session).get("/account").await;
            (session, reply)
        });
    }
    requests.join_all().await
}

/// Every session's `refresh_count`, read from the app's database behind its back.
async fn refresh_counts(app: &TestApp) -> Vec<i64> {
    crate::database::integers(&app.database_url(), "select refresh_count from sessions").await
}

#[tokio::test]
async fn with_rotation_and_no_grace_every_burst_refreshes_each_session_once_and_signs_nobody_out_across_a_restart()
 {
    // The same addresses after the restart, as a deployment has (the IdP's issuer names its port).
    let app_listen = format!("127.0.0.1:{}", free_port());
    let idp_listen = format!("127.0.0.1:{}", free_port());
    let settings = [
        ("APP_LISTEN", app_listen.as_str()),
        ("DEV_IDP_LISTEN", idp_listen.as_str()),
        ("DEV_IDP_REFRESH_ROTATION", "on"),
        ("DEV_IDP_ROTATION_GRACE_SECONDS", "0"),
    ];
    let app = spawn_app_with(&settings).await;
    let others: Vec<Arc<Visitor>> = USERS[1..]
        .iter()
        .map(|_| Arc::new(Visitor::new(app.app_url.clone())))
        .collect();
    for (session, user) in USERS.iter().enumerate() {
        let signed_in = browser(&app, &others, session).sign_in_as(user).await;
        assert_eq!(signed_in.status, 303, "{user}: {}", signed_in.body);
    }
    let mut app = Arc::new(app);

    for round in 1..=ROUNDS {
        app.expire_access_tokens().await;
        let calls_before = app.idp.count("token:refresh_token");

        let replies = burst(&app, &others).await;

        for (session, reply) in &replies {
            assert_eq!(
                reply.status, 200,
                "round {round}, session {session} ({}): no sign-in redirect, so no invalid_grant: {}",
                USERS[*session], reply.body
            );
        }
        assert_eq!(
            app.idp.count("token:refresh_token") - calls_before,
            USERS.len() as u64,
            "round {round}: one token call per session"
        );
        assert_eq!(
            refresh_counts(&app).await,
            vec![round; USERS.len()],
            "round {round}: each session refreshed once per round"
        );

        if round == RESTART_AFTER {
            let running = Arc::try_unwrap(app).ok().expect("no request holds the app");
            let (dir, cookies) = running.stop().await;
            let restarted = spawn_app_in(dir, &settings).await;
            restarted.restore_cookies(cookies);
            app = Arc::new(restarted);
        }
    }
}

/// A refresh with `refresh_token`: the status and the JSON body.
async fn refresh_with(app: &TestApp, refresh_token: &str) -> (u16, Value) {
    token_request(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

fn refresh_token_of(body: &Value) -> String {
    body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("a rotated refresh token in {body}"))
        .to_owned()
}

#[tokio::test]
async fn within_a_five_second_grace_a_used_refresh_token_works_again_and_then_is_refused() {
    let app = spawn_app_with(&[
        ("DEV_IDP_REFRESH_ROTATION", "on"),
        ("DEV_IDP_ROTATION_GRACE_SECONDS", "5"),
    ])
    .await;
    let original = refresh_token_of(&sign_in_at_idp(&app, "demo", &[]).await);
    let grace = Duration::from_secs(5);

    let first_use = Instant::now();
    let (first_status, first) = refresh_with(&app, &original).await;
    let (retry_status, retry) = refresh_with(&app, &original).await;
    let (rotated_status, _) = refresh_with(&app, &refresh_token_of(&first)).await;
    // Polling with the original until it is refused: each attempt within the grace is a retry.
    let (refused_status, refused) = loop {
        let (status, body) = refresh_with(&app, &original).await;
        if status != 200 || first_use.elapsed() > grace * 2 {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let refused_after = first_use.elapsed();

    assert_eq!((first_status, retry_status), (200, 200), "{first} {retry}");
    assert_ne!(
        refresh_token_of(&first),
        refresh_token_of(&retry),
        "a retry within the grace gets a new refresh token too"
    );
    assert_ne!(refresh_token_of(&first), original);
    assert_eq!(rotated_status, 200, "the rotated token works");
    assert_eq!(
        (refused_status, refused),
        (400, json!({"error": "invalid_grant"}))
    );
    assert!(
        refused_after >= grace - Duration::from_millis(100) && refused_after < grace * 2,
        "refused {refused_after:?} after the first use, for a grace of {grace:?}"
    );
}

#[tokio::test]
async fn the_grace_in_force_at_each_use_decides_set_through_the_control_handle() {
    let app = spawn_app_with(&[("DEV_IDP_REFRESH_ROTATION", "on")]).await;
    let kept = refresh_token_of(&sign_in_at_idp(&app, "demo", &[]).await);
    // The browser has a managed-login session now: authorize answers with a code at once.
    let again = app.get(&authorize_url(&app, &[])).await;
    let dropped = refresh_token_of(&exchange(&app, &code_of(&again)).await);

    app.idp.set_rotation_grace(Duration::from_secs(60));
    let (kept_first, _) = refresh_with(&app, &kept).await;
    let (kept_retry, _) = refresh_with(&app, &kept).await;
    app.idp.set_rotation_grace(Duration::ZERO);
    let (kept_late, _) = refresh_with(&app, &kept).await;
    let (dropped_first, _) = refresh_with(&app, &dropped).await;
    let (dropped_retry, _) = refresh_with(&app, &dropped).await;

    assert_eq!([kept_first, kept_retry, kept_late], [200, 200, 400]);
    assert_eq!([dropped_first, dropped_retry], [200, 400]);
}
