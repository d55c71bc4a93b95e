//! ID tokens that must not be trusted: each ends the sign-in with a 4xx page, and no session.

use cognito_web::dev_idp::Forgery;

use crate::helpers::spawn_app;

/// The page's sentence for a refused ID token (`SignInFailure::IdToken`), with its reason.
fn refusal(reason: &str) -> String {
    format!("The identity token could not be trusted: {reason}.")
}

#[tokio::test]
async fn every_forged_or_invalid_id_token_is_refused() {
    const MALFORMED: &str = "the ID token is not a well-formed RS256 JWT with a key id";
    const UNKNOWN_KEY: &str =
        "the ID token was signed by a key the identity provider does not publish";
    const FAILED: &str = "the ID token failed verification";
    let cases = [
        (Forgery::AlgNone, MALFORMED.to_owned()),
        (
            Forgery::Hs256WithPublicKey,
            format!("{FAILED}: the algorithm is not RS256"),
        ),
        (Forgery::UnknownKid, UNKNOWN_KEY.to_owned()),
        (Forgery::UnpublishedKey, UNKNOWN_KEY.to_owned()),
        (
            Forgery::WrongIssuer,
            format!("{FAILED}: it was issued by another issuer (iss)"),
        ),
        (
            Forgery::WrongAudience,
            format!("{FAILED}: it was issued to another app client (aud)"),
        ),
        (
            Forgery::AccessTokenAsIdToken,
            format!("{FAILED}: it is not an ID token (token_use)"),
        ),
        (Forgery::Expired, format!("{FAILED}: it has expired (exp)")),
        (
            Forgery::IssuedInFuture,
            format!("{FAILED}: it was issued in the future (iat)"),
        ),
        (
            Forgery::NoNonce,
            format!("{FAILED}: the nonce does not match this sign-in"),
        ),
        (
            Forgery::WrongNonce,
            format!("{FAILED}: the nonce does not match this sign-in"),
        ),
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
        let expected = refusal(&reason);
        assert!(
            callback.body.contains(&expected),
            "{forgery:?}: expected {expected:?} in {}",
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
