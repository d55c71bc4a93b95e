//! Sign-out on the server: revoke the refresh token at the IdP, then delete the session; also
//! for a user's other sessions, from the page of sessions.

use crate::auth::idp::IdpClient;
use crate::auth::sessions::{Session, SessionStore};
use crate::metrics;

/// Ends `session`. Revocation is attempted first; if the IdP cannot be reached the session is
/// still deleted here (the user asked to leave), and the failure is logged.
pub async fn sign_out(
    idp: &IdpClient,
    sessions: &SessionStore,
    session: &Session,
) -> anyhow::Result<()> {
    // The cached copy may predate a rotation by another process: revoke what the database holds.
    let current = sessions.reload(session).await?;
    let session = current.as_ref().unwrap_or(session);
    let mut outcome = "ok";
    match sessions.refresh_token(session) {
        Ok(refresh_token) => {
            if let Err(error) = idp.revoke(&refresh_token).await {
                outcome = "not_revoked";
                tracing::warn!(user = %session.user.sub, error = format!("{:#}", anyhow::Error::from(error)), "refresh token not revoked at sign-out");
            }
        }
        Err(error) => {
            outcome = "not_revoked";
            tracing::warn!(error = %error, "refresh token unreadable at sign-out");
        }
    }
    sessions.end(session).await?;
    metrics::sign_out(outcome);
    tracing::info!(user = %session.user.sub, "signed out");
    Ok(())
}

/// Ends the session of `current`'s user that `public_id` names, and says whether there was one.
/// Another user's session, an unknown id and `current` itself (which the ordinary sign-out ends,
/// cookies and all) are not found: `false`, and nothing changes.
pub async fn sign_out_other(
    idp: &IdpClient,
    sessions: &SessionStore,
    current: &Session,
    public_id: &str,
) -> anyhow::Result<bool> {
    match sessions
        .find_by_public_id(&current.user.sub, public_id)
        .await?
    {
        Some(other) if other.id_hash != current.id_hash => {
            sign_out(idp, sessions, &other).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Ends every session of `current`'s user but `current`, each as [`sign_out`] does; how many.
pub async fn sign_out_others(
    idp: &IdpClient,
    sessions: &SessionStore,
    current: &Session,
) -> anyhow::Result<usize> {
    let others: Vec<Session> = sessions
        .list_for_user(&current.user.sub)
        .await?
        .into_iter()
        .filter(|session| session.id_hash != current.id_hash)
        .collect();
    for other in &others {
        sign_out(idp, sessions, other).await?;
    }
    Ok(others.len())
}

/// Ends the sessions whose cookies carry `ids`, after a new sign-in in the same browser replaced
/// them. The new session is already committed: a failure here is logged and changes nothing else.
pub async fn sign_out_earlier(idp: &IdpClient, sessions: &SessionStore, ids: &[String]) {
    for id in ids {
        let ended = match sessions.find(id).await {
            Ok(Some(session)) => sign_out(idp, sessions, &session).await,
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        };
        if let Err(error) = ended {
            tracing::warn!(
                error = format!("{error:#}"),
                "an earlier session was not ended at sign-in"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::idp::IdpSettings;
    use crate::db::{self, sessions::test_row};
    use crate::secrets::{Secret, TokenCipher};

    /// An IdP nothing listens for: revocation fails (and is logged), and sign-out goes on.
    fn unreachable_idp() -> IdpClient {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = url::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let settings = IdpSettings {
            domain: base.clone(),
            issuer: base.to_string(),
            client_id: "client".into(),
            client_secret: None,
            redirect_uri: base.join("auth/callback").unwrap(),
            logout_uri: base.clone(),
            scopes: vec!["openid".into()],
            identity_providers: Vec::new(),
            login_hint: None,
        };
        IdpClient::new(crate::auth::http::client().unwrap(), &settings).unwrap()
    }

    /// A store holding sessions `a`, `b` and `c` of `sub-1`, and `d` of `sub-2`.
    async fn four_sessions() -> (SessionStore, db::Db, db::tests::TestDatabase) {
        let (pool, dir) = db::tests::test_pool().await;
        let now = crate::clock::now();
        for (id_hash, sub) in [
            ("a", "sub-1"),
            ("b", "sub-1"),
            ("c", "sub-1"),
            ("d", "sub-2"),
        ] {
            let mut row = test_row(id_hash, now, now + 3600, 2);
            row.user_sub = sub.into();
            db::sessions::insert(&pool, &row).await.unwrap();
        }
        let cipher = TokenCipher::new(&Secret::new(vec![7; 64]));
        let store = SessionStore::new(pool.clone(), cipher, std::time::Duration::from_secs(3600));
        (store, pool, dir)
    }

    async fn left(store: &SessionStore, sub: &str) -> Vec<String> {
        let sessions = store.list_for_user(sub).await.unwrap();
        let mut hashes: Vec<String> = sessions.iter().map(|s| s.id_hash.clone()).collect();
        hashes.sort();
        hashes
    }

    async fn session(pool: &db::Db, id_hash: &str) -> Session {
        let row = db::sessions::find(pool, id_hash, crate::clock::now()).await;
        Session::from_row(row.unwrap().unwrap())
    }

    #[tokio::test]
    async fn another_session_of_the_user_is_ended_by_its_public_id_and_no_other() {
        let (store, pool, _dir) = four_sessions().await;
        let (idp, current) = (unreachable_idp(), session(&pool, "a").await);

        let other = sign_out_other(&idp, &store, &current, "public-b").await;
        let another_users = sign_out_other(&idp, &store, &current, "public-d").await;
        let this_one = sign_out_other(&idp, &store, &current, "public-a").await;
        let unknown = sign_out_other(&idp, &store, &current, "public-x").await;

        assert!(other.unwrap());
        assert!(!another_users.unwrap() && !this_one.unwrap() && !unknown.unwrap());
        assert_eq!(left(&store, "sub-1").await, ["a", "c"]);
        assert_eq!(left(&store, "sub-2").await, ["d"]);
    }

    #[tokio::test]
    async fn signing_out_the_others_ends_every_session_of_the_user_but_this_one() {
        let (store, pool, _dir) = four_sessions().await;
        let (idp, current) = (unreachable_idp(), session(&pool, "b").await);

        let ended = sign_out_others(&idp, &store, &current).await.unwrap();
        let again = sign_out_others(&idp, &store, &current).await.unwrap();

        assert_eq!((ended, again), (2, 0));
        assert_eq!(left(&store, "sub-1").await, ["b"]);
        assert_eq!(
            left(&store, "sub-2").await,
            ["d"],
            "another user's are kept"
        );
    }
}
