//! Looks for Chromium and ChromeDriver, which the browser tests (`tests/app/browser/`) drive.
//! When they are missing and `CI` is not set, the tests are built with `cfg(no_browser)`, which
//! marks them ignored: `cargo test` then reports them as not run, never as passed. Under CI they
//! are built as usual and fail when the browser is missing. Likewise for the PostgreSQL tests
//! and `TEST_DATABASE_URL` (see `postgres`).

use std::path::PathBuf;

const HOW: &str = "Debian packages chromium, chromium-driver: \
    apt-get install -y chromium chromium-driver, then `touch build.rs` so the build looks again";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    for variable in [
        "PATH",
        "CI",
        "CHROMIUM",
        "CHROMEDRIVER",
        "TEST_DATABASE_URL",
    ] {
        println!("cargo::rerun-if-env-changed={variable}");
    }
    println!("cargo::rustc-check-cfg=cfg(no_browser)");
    println!("cargo::rustc-check-cfg=cfg(no_postgres)");
    postgres();

    let chromium = program(
        "CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let driver = program("CHROMEDRIVER", &["chromedriver"]);
    match (chromium, driver) {
        (Some(chromium), Some(driver)) => {
            // Uninstalling them makes the build look again.
            println!("cargo::rerun-if-changed={}", chromium.display());
            println!("cargo::rerun-if-changed={}", driver.display());
        }
        _ if std::env::var_os("CI").is_some() => {}
        (chromium, driver) => {
            let missing: Vec<String> = [
                ("chromium", "CHROMIUM", chromium),
                ("chromedriver", "CHROMEDRIVER", driver),
            ]
            .into_iter()
            .filter(|(_, _, found)| found.is_none())
            .map(|(name, setting, _)| match std::env::var_os(setting) {
                Some(_) => format!("{name} at ${setting}"),
                None => format!("{name} on PATH"),
            })
            .collect();
            println!("cargo::rustc-cfg=no_browser");
            println!(
                "cargo::warning=the browser tests will be ignored: no {} found ({HOW})",
                missing.join(" and "),
            );
        }
    }
}

/// Without `TEST_DATABASE_URL`, the tests that need PostgreSQL (its notifications, its restart,
/// several instances on it) are built with `cfg(no_postgres)`, which marks them ignored: reported
/// as not run, never as passed. `.ci/run` runs the suite once more with it set.
fn postgres() {
    if std::env::var_os("TEST_DATABASE_URL").is_some_and(|url| !url.is_empty()) {
        return;
    }
    println!("cargo::rustc-cfg=no_postgres");
    // Said where tests are built (the dev profile), not in a release or container build.
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        return;
    }
    println!(
        "cargo::warning=the PostgreSQL tests will be ignored: TEST_DATABASE_URL is not set \
         (start a throwaway server with `scripts/postgres.sh start` and set it to the URL it prints)"
    );
}

/// The program named by the environment variable `setting`, else the first of `names` on PATH.
fn program(setting: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(setting) {
        return Some(PathBuf::from(path)).filter(|path| path.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}
