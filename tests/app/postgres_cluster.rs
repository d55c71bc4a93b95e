//! A PostgreSQL cluster of a test's own, from `scripts/postgres.sh`: for tests that stop the
//! server or start it differently, which the suite's shared server (`TEST_DATABASE_URL`) must not.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A cluster in a folder of its own, stopped (and deleted) when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    pub url: String,
}

fn script(command: &str, folder: &Path) -> std::process::Output {
    std::process::Command::new("bash")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/postgres.sh"))
        .arg(command)
        .arg(folder)
        .output()
        .expect("bash runs")
}

/// Runs the script and returns what it printed; a failure fails the test with its stderr.
fn run(command: &str, folder: &Path) -> String {
    let output = script(command, folder);
    assert!(
        output.status.success(),
        "postgres.sh {command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

impl Cluster {
    pub fn start_new() -> Self {
        Self::start_new_with(|_| {})
    }

    /// A new cluster, `prepare` having put what it wants into the cluster's folder first (a
    /// certificate and key, for TLS: see `scripts/postgres.sh`).
    pub fn start_new_with(prepare: impl FnOnce(&Path)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // The server runs as an unprivileged user when we are root: it must reach the folder.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let folder = dir.path().join("pg");
        std::fs::create_dir(&folder).unwrap();
        prepare(&folder);
        let url = run("start", &folder);
        Self { dir, url }
    }

    /// The cluster's folder.
    pub fn folder(&self) -> PathBuf {
        self.dir.path().join("pg")
    }

    pub fn stop(&self) {
        run("stop", &self.folder());
    }

    /// Starts it again after [`Cluster::stop`], on the same port and data.
    pub fn start(&self) {
        assert_eq!(run("start", &self.folder()), self.url);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = script("stop", &self.folder());
    }
}
