//! Changes other processes make to sessions, as this one learns of them. On PostgreSQL, the
//! database announces every change that matters (see `db::postgres`): this process drops its
//! cached copy at once and wakes the refreshes here that wait on that session. SQLite announces
//! nothing, and the cache's re-read after `auth::cache::REVALIDATE_AFTER` is the only bound.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use super::{Session, SessionStore};

impl SessionStore {
    /// Starts following the changes other processes announce, when the backend announces them.
    pub fn follow_changes(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        match &self.pool {
            crate::db::Db::Sqlite(_) => None,
            #[cfg(feature = "postgres")]
            crate::db::Db::Postgres(pool) => {
                use crate::db::postgres::{Change, follow_changes};
                let store = Arc::downgrade(self);
                Some(tokio::spawn(follow_changes(pool.clone(), move |change| {
                    let Some(store) = store.upgrade() else {
                        return false;
                    };
                    match change {
                        Change::Session(id_hash) => store.cache.drop_session(&id_hash),
                        Change::Listening => store.set_following(true),
                        // What changed while nobody listened is unknown: forget everything.
                        Change::Lost => {
                            store.set_following(false);
                            store.cache.clear();
                        }
                    }
                    true
                })))
            }
        }
    }

    #[cfg(feature = "postgres")]
    fn set_following(&self, following: bool) {
        self.follows_changes.store(following, Ordering::Relaxed);
        crate::metrics::following_session_changes(following);
    }

    /// Whether changes made elsewhere arrive as they happen right now.
    pub fn follows_changes(&self) -> bool {
        self.follows_changes.load(Ordering::Relaxed)
    }

    /// A watch on `session` for a process that waits on another process's refresh: it sees
    /// every change announced from now on.
    pub fn watch(&self, session: &Session) -> SessionWatch<'_> {
        SessionWatch {
            store: self,
            id_hash: session.id_hash.clone(),
            changes: Some(self.cache.watch(&session.id_hash)),
        }
    }
}

/// See [`SessionStore::watch`].
pub struct SessionWatch<'a> {
    store: &'a SessionStore,
    id_hash: String,
    changes: Option<watch::Receiver<u64>>,
}

impl SessionWatch<'_> {
    /// Returns when a change of the session has been announced since the last call (or since
    /// the watch began), or after `fallback`, whichever comes first.
    pub async fn changed_or_after(&mut self, fallback: Duration) {
        let Some(changes) = self.changes.as_mut() else {
            return tokio::time::sleep(fallback).await;
        };
        // `changed` fails only once the sender is gone (the cache keeps it while a receiver
        // exists, so never today); then this watch waits out the fallback from now on.
        if let Ok(Err(_)) = tokio::time::timeout(fallback, changes.changed()).await {
            self.changes = None;
            tokio::time::sleep(fallback).await;
        }
    }
}

impl Drop for SessionWatch<'_> {
    fn drop(&mut self) {
        if let Some(changes) = self.changes.take() {
            self.store.cache.stop_watching(&self.id_hash, changes);
        }
    }
}
