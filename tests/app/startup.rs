//! Start-up: a bad setting stops the binary with one line naming it.

use std::process::Command;

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_cognito-web"))
        .current_dir(dir.path())
        .env("COOKIE_SAME_SITE", "lex")
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr,
        "error: COOKIE_SAME_SITE: \"lex\" is not one of lax, strict, none (e.g. COOKIE_SAME_SITE=lax)\n"
    );
    assert!(!dir.path().join("data").exists(), "nothing is created");
}
