//! Refresh-token rotation as a Cognito app client does it (docs/cognito-protocol.md §6): the
//! switch, the retry grace period, and when each refresh token was first rotated out. Those times
//! persist in the data folder, so a restart neither revives a rotated-out token nor lengthens its
//! grace.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::files;
use super::tokens::is_uuid;

/// The longest grace period Cognito accepts (`RetryGracePeriodSeconds`).
pub const MAX_GRACE: Duration = Duration::from_secs(60);

const CONSEQUENCE: &str = "brings rotated-out refresh tokens back";

/// The app client's rotation settings, switchable at run time.
pub struct Rotation {
    on: AtomicBool,
    grace_millis: AtomicU64,
}

impl Rotation {
    pub fn new(on: bool, grace: Duration) -> Self {
        let rotation = Self {
            on: AtomicBool::new(on),
            grace_millis: AtomicU64::new(0),
        };
        rotation.set_grace(grace);
        rotation
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }

    pub fn set_on(&self, on: bool) {
        self.on.store(on, Ordering::SeqCst);
    }

    pub fn grace(&self) -> Duration {
        Duration::from_millis(self.grace_millis.load(Ordering::SeqCst))
    }

    /// At most [`MAX_GRACE`], as Cognito's.
    pub fn set_grace(&self, grace: Duration) {
        let millis = grace.min(MAX_GRACE).as_millis() as u64;
        self.grace_millis.store(millis, Ordering::SeqCst);
    }
}

/// What a refresh may do with the refresh token it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Rotated out longer ago than the grace period: `invalid_grant`.
    Refused,
    /// New ID and access tokens only (rotation off).
    Keep,
    /// New ID and access tokens and a new refresh token, which expires when this one does.
    Rotate,
}

/// When each rotated-out refresh token (by `jti`) was first used, in Unix milliseconds, kept in
/// the data folder as `{jti} {milliseconds}` lines.
pub struct Retirements {
    path: PathBuf,
    first_used: HashMap<String, i64>,
}

impl Retirements {
    /// Reads the retirements of earlier runs from `dir`; none when the file is missing.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("dev-idp-rotated.txt");
        let text = files::read_if_present(&path, CONSEQUENCE)?.unwrap_or_default();
        let mut first_used = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let entry = line
                .split_once(' ')
                .filter(|(jti, _)| is_uuid(jti))
                .and_then(|(jti, at)| Some((jti.to_owned(), at.parse::<i64>().ok()?)));
            let Some((jti, at)) = entry else {
                return Err(files::damaged(
                    &path,
                    &format!(
                        "line {} is not a token id and a time in milliseconds",
                        index + 1
                    ),
                    CONSEQUENCE,
                ));
            };
            // Only the first use of a token starts its grace.
            first_used.entry(jti).or_insert(at);
        }
        Ok(Self { path, first_used })
    }

    /// Decides a refresh with the token `jti` at `now_millis`. With rotation on, the first use
    /// rotates the token out, and it keeps working for `rotation.grace()` from then, so that a
    /// client whose answer got lost can retry; each retry gets a new refresh token too, as every
    /// successful refresh does while rotation is on.
    pub fn admit(&mut self, jti: &str, rotation: &Rotation, now_millis: i64) -> Admission {
        let verdict = |on: bool| {
            if on {
                Admission::Rotate
            } else {
                Admission::Keep
            }
        };
        match self.first_used.get(jti) {
            Some(&at) => {
                let grace = rotation.grace().as_millis() as i64;
                if now_millis < at.saturating_add(grace) {
                    verdict(rotation.is_on())
                } else {
                    Admission::Refused
                }
            }
            None if rotation.is_on() => {
                self.first_used.insert(jti.to_owned(), now_millis);
                files::append_line(&self.path, &format!("{jti} {now_millis}"));
                Admission::Rotate
            }
            None => Admission::Keep,
        }
    }
}

/// The wall clock in Unix milliseconds: grace periods are seconds long, and a whole-second clock
/// would shorten them by up to a second.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JTI: &str = "0b7c6a3e-2f1d-4e5a-9b8c-7d6e5f4a3b2c";

    fn retirements() -> (tempfile::TempDir, Retirements) {
        let dir = tempfile::tempdir().unwrap();
        let retirements = Retirements::load(dir.path()).unwrap();
        (dir, retirements)
    }

    #[test]
    fn with_no_grace_a_rotated_token_works_once() {
        let (_dir, mut retirements) = retirements();
        let rotation = Rotation::new(true, Duration::ZERO);

        let first = retirements.admit(JTI, &rotation, 1_000);
        let again = retirements.admit(JTI, &rotation, 1_000);

        assert_eq!((first, again), (Admission::Rotate, Admission::Refused));
    }

    #[test]
    fn within_the_grace_a_retry_rotates_again_and_after_it_is_refused() {
        let (_dir, mut retirements) = retirements();
        let rotation = Rotation::new(true, Duration::from_secs(5));

        let first = retirements.admit(JTI, &rotation, 10_000);
        let retry = retirements.admit(JTI, &rotation, 14_999);
        let late = retirements.admit(JTI, &rotation, 15_000);

        assert_eq!(
            [first, retry, late],
            [Admission::Rotate, Admission::Rotate, Admission::Refused],
            "the grace counts from the first use, not from the retry"
        );
    }

    #[test]
    fn without_rotation_a_token_is_kept_and_never_retired() {
        let (_dir, mut retirements) = retirements();
        let rotation = Rotation::new(false, Duration::ZERO);

        let uses = [1, 2, 3].map(|at| retirements.admit(JTI, &rotation, at));

        assert_eq!(uses, [Admission::Keep; 3]);
    }

    #[test]
    fn the_grace_is_at_most_sixty_seconds() {
        let rotation = Rotation::new(true, Duration::from_secs(600));

        assert_eq!(rotation.grace(), MAX_GRACE);
    }

    #[test]
    fn retirements_survive_a_reload_with_the_time_of_first_use() {
        let (dir, mut retirements) = retirements();
        let rotation = Rotation::new(true, Duration::from_secs(5));
        retirements.admit(JTI, &rotation, 10_000);

        let mut reloaded = Retirements::load(dir.path()).unwrap();

        assert_eq!(reloaded.admit(JTI, &rotation, 14_000), Admission::Rotate);
        assert_eq!(reloaded.admit(JTI, &rotation, 15_000), Admission::Refused);
    }

    #[test]
    fn a_damaged_retirements_file_stops_start_up_naming_the_file_and_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev-idp-rotated.txt");
        std::fs::write(&path, format!("{JTI} 1000\n{JTI} soon\n")).unwrap();

        let error = Retirements::load(dir.path()).err().unwrap().to_string();

        assert!(
            error.starts_with(&format!("{}: line 2 is not", path.display())),
            "{error}"
        );
        assert!(!error.contains('\n'), "{error}");
    }
}
