//! ID tokens that must not be trusted: each ends the sign-in with a 4xx page, and no session.

use cognito_web::dev_idp::Forgery;

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_forged_or_invalid_id_token_is_refused() {
    let cases = [
        (Forgery::AlgNone, "not a well-formed RS256 JWT"),
        (Forgery::Hs256WithPublicKey, "the algorithm is not RS256"),
        (
            Forgery::UnknownKid,
            "a key the identity provider does not publish",
        ),
        (
            Forgery::UnpublishedKey,
            "a key the identity provider does not publish",
        ),
        (Forgery::WrongIssuer, "another issuer (iss)"),
        (Forgery::WrongAudience, "another app client (aud)"),
        (Forgery::AccessTokenAsIdToken, "not an ID token (token_use)"),
        (Forgery::Expired, "expired (exp)"),
        (Forgery::IssuedInFuture, "issued in the future (iat)"),
        (Forgery::NoNonce, "nonce does not match"),
        (Forgery::WrongNonce, "nonce does not match"),
    ];
    let app = spawn_app().await;

    for (forgery, reason) in cases {
        app.idp.forge_next_id_token(forgery);

        let callback = app.sign_in_as("demo").await;

        assert_eq!(callback.status, 400, "{forgery:?}: {}", callback.body);
        assert!(
            callback.body.contains("could not be trusted"),
            "{forgery:?}"
        );
        assert!(
            callback.body.contains(reason),
            "{forgery:?}: expected {reason:?} in {}",
            callback.body
        );
        assert!(
            !app.app_cookies().contains_key("session"),
            "{forgery:?} started a session"
        );
    }
    // One fetch at start, one refetch for the first unknown kid; the second unknown kid came
    // within 30 seconds, so it was refused without asking the IdP again.
    assert_eq!(app.idp.count("jwks"), 2);
    let genuine = app.sign_in_as("demo").await;
    assert_eq!(
        genuine.status, 303,
        "an honest token still works after all that"
    );
}
