//! In-memory copies of recently used sessions and their userInfo answers, in front of SQLite.
//!
//! The database stays the truth. This process updates or drops an entry whenever it changes the
//! session (refresh, sign-out, `invalid_grant`), and re-reads any entry older than
//! [`REVALIDATE_AFTER`], so a session ended by *another* process sharing the database is served
//! here for at most that long. A session this process ended is remembered as ended for that long
//! too, so a read that raced with the delete cannot put it back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::auth::Session;

/// How long a cached session is trusted before it is read from the database again.
pub const REVALIDATE_AFTER: Duration = Duration::from_secs(1);
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

/// The cache; keys are session id hashes.
#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<String, Entry>>,
    /// Sessions this process ended, and when: reads that started before cannot cache them again.
    ended: Mutex<HashMap<String, Instant>>,
}

impl SessionCache {
    /// The cached session, if it was read recently enough and has not ended.
    pub fn get(&self, id_hash: &str, now: i64) -> Option<Session> {
        let entries = self.entries.lock().expect("session cache lock");
        let entry = entries.get(id_hash)?;
        (entry.read_at.elapsed() < REVALIDATE_AFTER && entry.session.row.expires_at > now)
            .then(|| entry.session.clone())
    }

    /// Stores what the database just said about a session. A profile survives only while the
    /// access token is the one it was fetched with.
    pub fn put(&self, session: &Session) {
        {
            let mut ended = self.ended.lock().expect("session cache lock");
            ended.retain(|_, at| at.elapsed() < REVALIDATE_AFTER);
            if ended.contains_key(session.id_hash()) {
                return;
            }
        }
        let mut entries = self.entries.lock().expect("session cache lock");
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(session.id_hash()) {
            entries.retain(|_, entry| entry.read_at.elapsed() < REVALIDATE_AFTER);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let profile = entries
            .remove(session.id_hash())
            .filter(|old| old.session.row.access_token == session.row.access_token)
            .and_then(|old| old.profile);
        entries.insert(
            session.id_hash().to_owned(),
            Entry {
                session: session.clone(),
                read_at: Instant::now(),
                profile,
            },
        );
    }

    pub fn clear(&self) {
        self.entries.lock().expect("session cache lock").clear();
    }

    pub fn remove(&self, id_hash: &str) {
        self.entries
            .lock()
            .expect("session cache lock")
            .remove(id_hash);
    }

    /// Drops a session this process has just deleted, and keeps it out for the revalidation
    /// interval (a concurrent read may still hold the row it read before the delete).
    pub fn end(&self, id_hash: &str) {
        self.ended
            .lock()
            .expect("session cache lock")
            .insert(id_hash.to_owned(), Instant::now());
        self.remove(id_hash);
    }

    /// The userInfo answer cached for the session's current access token.
    pub fn profile(&self, session: &Session) -> Option<Arc<Profile>> {
        let entries = self.entries.lock().expect("session cache lock");
        let entry = entries.get(session.id_hash())?;
        (entry.session.row.access_token == session.row.access_token)
            .then(|| entry.profile.clone())
            .flatten()
    }

    pub fn put_profile(&self, session: &Session, profile: &Arc<Profile>) {
        let mut entries = self.entries.lock().expect("session cache lock");
        if let Some(entry) = entries.get_mut(session.id_hash())
            && entry.session.row.access_token == session.row.access_token
        {
            entry.profile = Some(profile.clone());
        }
    }
}

#[cfg(test)]
mod tests {
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
