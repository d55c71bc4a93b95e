//! Property tests over the callback's and sign-in's parameters, against the running app: whatever
//! arrives, the answer is a clean 3xx or 4xx, never a failure, and the signed-in user stays so.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::helpers::spawn_app;
use crate::return_to::slash_led_return_to;

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[test]
fn any_callback_or_sign_in_parameters_get_a_clean_answer() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(async {
        let app = spawn_app().await;
        app.sign_in_as("demo").await;
        app
    });
    let parameters = (
        proptest::option::of(any::<String>()),
        proptest::option::of(any::<String>()),
        proptest::option::of(any::<String>()),
        // Random text rarely starts with a slash; an attacker's `return_to` always does.
        prop_oneof![any::<String>(), slash_led_return_to()],
    );
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });

    runner
        .run(&parameters, |(code, state, error, return_to)| {
            let mut query = Vec::new();
            for (name, value) in [("code", &code), ("state", &state), ("error", &error)] {
                if let Some(value) = value {
                    query.push(format!("{name}={}", encode(value)));
                }
            }
            let (callback, sign_in) = runtime.block_on(async {
                let callback = app
                    .get(&format!("/auth/callback?{}", query.join("&")))
                    .await;
                let sign_in = app
                    .get(&format!("/auth/sign-in?return_to={}", encode(&return_to)))
                    .await;
                (callback, sign_in)
            });

            prop_assert!(
                matches!(callback.status, 400 | 414),
                "{} {}",
                callback.status,
                callback.url
            );
            prop_assert!(
                matches!(sign_in.status, 303 | 414),
                "{} {}",
                sign_in.status,
                sign_in.url
            );
            if sign_in.status == 303 {
                prop_assert_eq!(sign_in.location().origin(), app.idp_url.origin());
            }
            Ok(())
        })
        .unwrap();

    let account = runtime.block_on(app.get("/account"));
    assert_eq!(account.status, 200, "still signed in");
}
