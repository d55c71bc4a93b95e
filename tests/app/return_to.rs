//! `return_to` is honoured only as a path on this app.

use crate::helpers::{assert_redirect_to, spawn_app};

#[tokio::test]
async fn foreign_return_to_values_end_on_this_app() {
    let app = spawn_app().await;
    let hostile = [
        "https://evil.example/",
        "HTTPS://EVIL.EXAMPLE/",
        "//evil.example",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "/%2f/evil.example",
        "/%5Cevil.example",
        "%2F%2Fevil.example",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
    ];

    for value in hostile {
        let callback = app.sign_in_returning_to("demo", Some(value)).await;

        assert_redirect_to(&callback, "/account");
        assert_eq!(
            callback.location().origin(),
            app.app_url.origin(),
            "{value}"
        );
    }
}

#[tokio::test]
async fn a_local_return_to_is_honoured() {
    let app = spawn_app().await;

    let callback = app
        .sign_in_returning_to("demo", Some("/diagnostics/cookies?x=1"))
        .await;

    assert_redirect_to(&callback, "/diagnostics/cookies?x=1");
}
