//! In-memory copies of recently used sessions and their userInfo answers, in front of the
//! database.
//!
//! The database stays the truth. This process updates or drops an entry whenever it changes the
//! session (refresh, sign-out, `invalid_grant`). A change made by *another* process drops the
//! entry when its notification arrives (PostgreSQL's LISTEN/NOTIFY: within milliseconds), and in
//! any case every entry older than [`REVALIDATE_AFTER`] is read again: that is the bound on
//! SQLite, and on PostgreSQL while the notifications' connection is down.
//!
//! A dropped session leaves a tombstone: a read that began before the drop, and so may carry the
//! old row, cannot put it back. The tombstone outlives any such read.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::auth::Session;

/// How long a cached session is trusted before it is read from the database again.
pub const REVALIDATE_AFTER: Duration = Duration::from_secs(1);
/// How long a tombstone lasts. An entry is served for [`REVALIDATE_AFTER`] from the moment its
/// read *began*, so a read that began before the drop and finishes after its tombstone went
/// (however slow it was) puts back an entry that is already too old to be served.
const TOMBSTONE_LIFETIME: Duration = REVALIDATE_AFTER;
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
    /// Sessions dropped because they ended or changed, and when...
    dropped: HashMap<String, Instant>,
    /// ...and the same, oldest first, so that expired tombstones are let go cheaply.
    dropped_in_order: VecDeque<(Instant, String)>,
    /// What refreshes waiting on another process's lease watch, per session: a count of the
    /// changes announced while someone watched.
    waiting: HashMap<String, watch::Sender<u64>>,
}

/// The cache; keys are session id hashes.
#[derive(Default)]
pub struct SessionCache {
    inner: Mutex<Inner>,
}

impl Inner {
    fn forget_old_tombstones(&mut self) {
        while let Some((at, _)) = self.dropped_in_order.front()
            && at.elapsed() >= TOMBSTONE_LIFETIME
        {
            let (at, id_hash) = self.dropped_in_order.pop_front().expect("just seen");
            // Only if a later drop of the same session did not replace it.
            if self.dropped.get(&id_hash) == Some(&at) {
                self.dropped.remove(&id_hash);
            }
        }
    }
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

    /// Stores what a database read begun at `read_at` said about a session, unless the session
    /// was dropped since the read began. A profile survives only while the access token is the
    /// one it was fetched with.
    pub fn put(&self, session: &Session, read_at: Instant) {
        let mut inner = self.lock();
        inner.forget_old_tombstones();
        let dropped_since = inner
            .dropped
            .get(&session.id_hash)
            .is_some_and(|dropped_at| *dropped_at >= read_at);
        // A slower read that began before the one cached may carry an older row.
        let older_than_cached = inner
            .entries
            .get(&session.id_hash)
            .is_some_and(|cached| cached.read_at > read_at);
        if dropped_since || older_than_cached {
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
                read_at,
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

    /// Drops a session that has just ended or changed (here, or in another process that says
    /// so), keeps out what reads begun before now bring back, and wakes whoever waits on it.
    pub fn drop_session(&self, id_hash: &str) {
        let mut inner = self.lock();
        inner.forget_old_tombstones();
        let now = Instant::now();
        inner.entries.remove(id_hash);
        inner.dropped.insert(id_hash.to_owned(), now);
        inner.dropped_in_order.push_back((now, id_hash.to_owned()));
        if let Some(waiting) = inner.waiting.get(id_hash) {
            waiting.send_modify(|changes| *changes += 1);
        }
    }

    /// A watch on the session of `id_hash`: it sees every change announced from now on, even
    /// one that arrives before its holder starts waiting. Give it back with
    /// [`SessionCache::stop_watching`].
    pub fn watch(&self, id_hash: &str) -> watch::Receiver<u64> {
        self.lock()
            .waiting
            .entry(id_hash.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Forgets the watches of `id_hash` once nobody holds one.
    pub fn stop_watching(&self, id_hash: &str, watch: watch::Receiver<u64>) {
        drop(watch);
        let mut inner = self.lock();
        if inner
            .waiting
            .get(id_hash)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            inner.waiting.remove(id_hash);
        }
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

        cache.put(&session("a", 1), Instant::now());

        assert!(cache.get("a", 1_500).is_some());
        assert!(
            cache.get("a", 1_000 + 86_400).is_none(),
            "not past the session's end"
        );
        assert!(cache.get("b", 1_500).is_none());
    }

    #[test]
    fn a_dropped_session_cannot_be_put_back_by_a_read_begun_before() {
        let cache = SessionCache::default();
        let read_before = Instant::now();
        cache.put(&session("a", 1), read_before);

        cache.drop_session("a");
        cache.put(&session("a", 1), read_before);

        assert!(cache.get("a", 1_500).is_none());
    }

    #[test]
    fn a_slower_read_begun_earlier_does_not_replace_a_newer_one() {
        let cache = SessionCache::default();
        let (earlier, later) = (Instant::now(), Instant::now() + Duration::from_millis(5));

        cache.put(&session("a", 2), later);
        cache.put(&session("a", 1), earlier);

        let served = cache.get("a", 1_500).unwrap();
        assert!(
            served.same_access_token(&session("a", 2)),
            "the newer row stays"
        );
    }

    #[test]
    fn tombstones_go_once_no_read_they_keep_out_could_be_served() {
        let cache = SessionCache::default();
        for n in 0..1_000 {
            cache.drop_session(&format!("s{n}"));
        }

        std::thread::sleep(TOMBSTONE_LIFETIME);
        cache.drop_session("last");

        let inner = cache.lock();
        assert_eq!(inner.dropped.len(), 1);
        assert_eq!(inner.dropped_in_order.len(), 1);
    }

    #[test]
    fn a_read_begun_after_the_drop_is_kept() {
        let cache = SessionCache::default();
        cache.drop_session("a");

        cache.put(&session("a", 2), Instant::now());

        assert!(cache.get("a", 1_500).is_some(), "the row as it is now");
    }

    #[test]
    fn a_drop_is_seen_by_the_watches_of_that_session_only() {
        let cache = SessionCache::default();
        let (mut mine, mut other) = (cache.watch("a"), cache.watch("b"));

        cache.drop_session("a");

        assert!(
            mine.has_changed().unwrap(),
            "a change of a is seen by a's watch"
        );
        assert!(!other.has_changed().unwrap());
        mine.mark_unchanged();
        other.mark_unchanged();
        cache.stop_watching("a", mine);
        cache.stop_watching("b", other);
        assert!(
            cache.lock().waiting.is_empty(),
            "nothing kept once nobody watches"
        );
    }

    #[test]
    fn reads_racing_with_the_drop_on_other_threads_never_bring_the_session_back() {
        let cache = Arc::new(SessionCache::default());
        let read_before_the_drop = session("a", 1);
        let read_at = Instant::now();
        let start = Arc::new(Barrier::new(9));

        let readers: Vec<_> = (0..8)
            .map(|_| {
                let (cache, start, row) =
                    (cache.clone(), start.clone(), read_before_the_drop.clone());
                std::thread::spawn(move || {
                    start.wait();
                    for _ in 0..2_000 {
                        cache.put(&row, read_at);
                    }
                })
            })
            .collect();
        start.wait();
        cache.drop_session("a");
        let seen_after_the_drop = (0..2_000).any(|_| cache.get("a", 1_500).is_some());
        for reader in readers {
            reader.join().unwrap();
        }

        assert!(!seen_after_the_drop, "a dropped session was served");
        assert!(cache.get("a", 1_500).is_none());
    }

    #[test]
    fn a_profile_lives_as_long_as_its_access_token() {
        let cache = SessionCache::default();
        let first = session("a", 1);
        cache.put(&first, Instant::now());
        cache.put_profile(
            &first,
            &Arc::new(Profile::from([(
                "email".to_owned(),
                "x@example.com".into(),
            )])),
        );

        let kept = cache.profile(&first);
        cache.put(&session("a", 1), Instant::now());
        let after_reread = cache.profile(&first);
        cache.put(&session("a", 2), Instant::now());
        let after_refresh = cache.profile(&session("a", 2));

        assert!(kept.is_some() && after_reread.is_some());
        assert!(
            after_refresh.is_none(),
            "a new access token needs a new userInfo call"
        );
    }
}
