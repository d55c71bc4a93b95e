//! `return_to` is honoured only as a path on this app.

use crate::helpers::{assert_redirect_to, spawn_app};

#[tokio::test]
async fn foreign_return_to_values_end_on_this_app() {
    let app = spawn_app().await;

    for hostile in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "javascript:alert(1)",
    ] {
        let callback = app.sign_in_returning_to("demo", Some(hostile)).await;

        assert_redirect_to(&callback, "/account");
        assert_eq!(
            callback.location().origin(),
            app.app_url.origin(),
            "{hostile}"
        );
    }
}
