//! In-memory copies of recently used sessions and their userInfo answers, in front of SQLite.
//!
//! The database stays the truth. This process updates or drops an entry whenever it changes the
//! session (refresh, sign-out, `invalid_grant`), and re-reads any entry older than
//! [`REVALIDATE_AFTER`], so a session ended by *another* process sharing the database is served
//! here for at most that long. A session this process ended leaves a tombstone that outlives any
//! database read, so a read that raced with the delete cannot put it back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::auth::Session;

/// How long a cached session is trusted before it is read from the database again.
pub const REVALIDATE_AFTER: Duration = Duration::from_secs(1);
/// How long an ended session is kept out of the cache: longer than the slowest read can take
/// (SQLite's 5 s busy timeout, plus the pool's wait for a connection), so a read that began
/// before the delete has finished, one way or the other, when its tombstone goes.
const TOMBSTONE_LIFETIME: Duration = Duration::from_secs(40);
/// Most sessions kept; a session with its sealed tokens takes about 4 KB.
const MAX_ENTRIES: usize = 10_000;

/// A userInfo answer, good while the access token it was fetched with is the current one.
pub type Profile = std::collections::BTreeMap<String, serde_json::Value>;

struct Entry {
    session: Session,
    read_at: Instant,
    /// userInfo for this session's current access token (dropped when the session changes).
    profile: Option<Arc<Profile>>,
}

/// Entries and tombstones under one lock: checking for a tombstone and inserting are one step.
#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Sessions this process ended, and when.
    ended: HashMap<String, Instant>,
}

/// The cache; keys are session id hashes.
#[derive(Default)]
pub struct SessionCache {
    inner: Mutex<Inner>,
}

impl SessionCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated (each change is
        // one map operation), so a poisoned lock is still safe to use.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached session, if it was read recently enough and has not ended.
    pub fn get(&self, id_hash: &str, now: i64) -> Option<Session> {
        let inner = self.lock();
        let entry = inner.entries.get(id_hash)?;
        (entry.read_at.elapsed() < REVALIDATE_AFTER && entry.session.expires_at > now)
            .then(|| entry.session.clone())
    }

    /// Stores what the database just said about a session, unless this process ended it. A
    /// profile survives only while the access token is the one it was fetched with.
    pub fn put(&self, session: &Session) {
        let mut inner = self.lock();
        inner
            .ended
            .retain(|_, at| at.elapsed() < TOMBSTONE_LIFETIME);
        if inner.ended.contains_key(&session.id_hash) {
            return;
        }
        let entries = &mut inner.entries;
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&session.id_hash) {
            entries.retain(|_, entry| entry.read_at.elapsed() < REVALIDATE_AFTER);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let profile = entries
            .remove(&session.id_hash)
            .filter(|old| old.session.same_access_token(session))
            .and_then(|old| old.profile);
        entries.insert(
            session.id_hash.clone(),
            Entry {
                session: session.clone(),
                read_at: Instant::now(),
                profile,
            },
        );
    }

    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    /// Drops a session the database no longer has (ended elsewhere, or expired).
    pub fn remove(&self, id_hash: &str) {
        self.lock().entries.remove(id_hash);
    }

    /// Drops a session this process has just deleted, and keeps it out while a read that began
    /// before the delete may still be under way.
    pub fn end(&self, id_hash: &str) {
        let mut inner = self.lock();
        inner.entries.remove(id_hash);
        inner.ended.insert(id_hash.to_owned(), Instant::now());
    }

    /// The userInfo answer cached for the session's current access token.
    pub fn profile(&self, session: &Session) -> Option<Arc<Profile>> {
        let inner = self.lock();
        let entry = inner.entries.get(&session.id_hash)?;
        if entry.session.same_access_token(session) {
            entry.profile.clone()
        } else {
            None
        }
    }

    pub fn put_profile(&self, session: &Session, profile: &Arc<Profile>) {
        let mut inner = self.lock();
        if let Some(entry) = inner.entries.get_mut(&session.id_hash)
            && entry.session.same_access_token(session)
        {
            entry.profile = Some(profile.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;
    use crate::db::sessions::test_row;

    fn session(id_hash: &str, access_token: u8) -> Session {
        Session::from_row(test_row(id_hash, 1_000, 2_000, access_token))
    }

    #[test]
    fn a_cached_session_is_served_until_it_ends() {
        let cache = SessionCache::default();

        cache.put(&session("a", 1));

        assert!(cache.get("a", 1_500).is_some());
        assert!(
            cache.get("a", 1_000 + 86_400).is_none(),
            "not past the session's end"
        );
        assert!(cache.get("b", 1_500).is_none());
    }

    #[test]
    fn a_session_ended_here_cannot_be_put_back_by_a_racing_read() {
        let cache = SessionCache::default();
        cache.put(&session("a", 1));

        cache.end("a");
        cache.put(&session("a", 1));

        assert!(cache.get("a", 1_500).is_none());
    }

    #[test]
    fn reads_racing_with_the_end_on_other_threads_never_bring_the_session_back() {
        let cache = Arc::new(SessionCache::default());
        let read_before_the_end = session("a", 1);
        let start = Arc::new(Barrier::new(9));

        let readers: Vec<_> = (0..8)
            .map(|_| {
                let (cache, start, row) =
                    (cache.clone(), start.clone(), read_before_the_end.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for _ in 0..2_000 {
                        cache.put(&row);
                    }
                })
            })
            .collect();
        start.wait();
        cache.end("a");
        let seen_after_the_end = (0..2_000).any(|_| cache.get("a", 1_500).is_some());
        for reader in readers {
            reader.join().unwrap();
        }

        assert!(!seen_after_the_end, "an ended session was served");
        assert!(cache.get("a", 1_500).is_none());
    }

    #[test]
    fn a_profile_lives_as_long_as_its_access_token() {
        let cache = SessionCache::default();
        let first = session("a", 1);
        cache.put(&first);
        cache.put_profile(
            &first,
            &Arc::new(Profile::from([(
                "email".to_owned(),
                "x@example.com".into(),
            )])),
        );

        let kept = cache.profile(&first);
        cache.put(&session("a", 1));
        let after_reread = cache.profile(&first);
        cache.put(&session("a", 2));
        let after_refresh = cache.profile(&session("a", 2));

        assert!(kept.is_some() && after_reread.is_some());
        assert!(
            after_refresh.is_none(),
            "a new access token needs a new userInfo call"
        );
    }
}
