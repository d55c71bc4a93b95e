//! Start-up: a bad setting stops the binary with one line naming it.

use std::process::Command;

/// Starts the binary in an empty folder with `settings`, expects it to stop, and returns what it
/// wrote to stderr.
fn refused_start_up(settings: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_cognito-web"))
        .current_dir(dir.path())
        .envs(settings.iter().copied())
        .output()
        .unwrap();

    assert!(
        !output.status.success(),
        "{settings:?} should stop start-up"
    );
    assert!(!dir.path().join("data").exists(), "nothing is created");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    let stderr = refused_start_up(&[("COOKIE_SAME_SITE", "lex")]);

    assert_eq!(
        stderr,
        "error: COOKIE_SAME_SITE: \"lex\" is not one of lax, strict, none (e.g. COOKIE_SAME_SITE=lax)\n"
    );
}

#[test]
fn secure_cookies_on_a_plain_http_origin_stop_start_up_with_the_reason() {
    let stderr = refused_start_up(&[
        ("APP_BASE_URL", "http://app.example.com"),
        ("COOKIE_SECURE", "true"),
    ]);

    assert_eq!(
        stderr,
        "error: COOKIE_SECURE: true, but APP_BASE_URL \"http://app.example.com/\" is plain http: browsers drop Secure cookies there, so every sign-in would loop (e.g. COOKIE_SECURE=auto)\n"
    );
}
