//! `cognito-web --check` and the start-up checks, run as the real binary against a test's
//! development IdP configured as if it were Cognito, answering rightly and wrongly.

use std::process::Stdio;

use cognito_web::dev_idp::{CLIENT_ID, DiscoveryFault};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::{TestApp, spawn_app};

/// 64 bytes, base64: APP_SECRET is required with Cognito settings.
const APP_SECRET: &str =
    "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMw==";

/// The settings that point the binary at `app`'s development IdP as if it were Cognito, with
/// `app`'s own base URL (whose callback the IdP registered); `overrides` replace or add some.
fn settings_for(
    app: &TestApp,
    overrides: &[(&'static str, String)],
) -> Vec<(&'static str, String)> {
    let mut settings = vec![
        ("APP_BASE_URL", app.app_url.to_string()),
        ("COGNITO_DOMAIN", app.idp_url.to_string()),
        ("COGNITO_ISSUER", app.issuer.clone()),
        ("COGNITO_CLIENT_ID", CLIENT_ID.to_owned()),
        ("COGNITO_CLIENT_SECRET", app.client_secret.clone()),
        ("APP_SECRET", APP_SECRET.to_owned()),
    ];
    for (name, value) in overrides {
        settings.retain(|(setting, _)| setting != name);
        settings.push((name, value.clone()));
    }
    settings
}

/// The binary in an empty folder with only `settings` (and a database there).
fn binary(dir: &tempfile::TempDir, settings: &[(&'static str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cognito-web"));
    command
        .current_dir(dir.path())
        .env_clear()
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("app.db").display()),
        )
        .env("NO_COLOR", "1")
        .envs(settings.iter().map(|(name, value)| (name, value)))
        .kill_on_drop(true);
    command
}

/// `cognito-web --check` with `settings`: whether it succeeded, and its lines.
async fn check(settings: &[(&'static str, String)]) -> (bool, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();

    let output = binary(&dir, settings)
        .arg("--check")
        .output()
        .await
        .unwrap();

    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr, "", "--check writes its report to stdout");
    assert!(
        !dir.path().join("app.db").exists(),
        "--check creates nothing"
    );
    (
        output.status.success(),
        stdout.lines().map(str::to_owned).collect(),
    )
}

/// The report's line about `subject`; panics when there is none.
fn line<'a>(lines: &'a [String], subject: &str) -> &'a str {
    let marker = format!(" {subject}: ");
    lines
        .iter()
        .find(|line| line.contains(&marker))
        .unwrap_or_else(|| panic!("no {subject} line in {lines:#?}"))
}

#[tokio::test]
async fn check_against_an_idp_that_answers_rightly_prints_one_ok_line_per_check() {
    let app = spawn_app().await;

    let (succeeded, lines) = check(&settings_for(&app, &[])).await;

    assert!(succeeded, "{lines:#?}");
    let subjects: Vec<&str> = lines
        .iter()
        .map(|line| {
            assert!(line.starts_with("ok   "), "{line}");
            line[5..].split(':').next().unwrap()
        })
        .collect();
    assert_eq!(
        subjects,
        [
            "settings",
            "discovery",
            "issuer",
            "scopes",
            "endpoints",
            "keys",
            "redirect_uri",
            "client"
        ]
    );
    assert!(
        line(&lines, "redirect_uri").contains(&format!("{}auth/callback", app.app_url)),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn check_without_cognito_settings_says_the_development_idp_is_used() {
    let (succeeded, lines) = check(&[]).await;

    assert!(succeeded, "{lines:#?}");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].starts_with("ok   settings: "), "{lines:#?}");
    assert!(
        lines[0].contains("the development IdP is used"),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn check_with_a_bad_setting_fails_naming_it() {
    let (succeeded, lines) = check(&[("COOKIE_SAME_SITE", "lex".to_owned())]).await;

    assert!(!succeeded);
    assert_eq!(
        lines,
        [
            "FAIL settings: COOKIE_SAME_SITE: \"lex\" is not one of lax, strict, none (e.g. COOKIE_SAME_SITE=lax)"
        ]
    );
}

#[tokio::test]
async fn check_against_wrong_discovery_documents_fails_naming_cognito_issuer() {
    let app = spawn_app().await;
    let cases = [
        (DiscoveryFault::NotFound, "discovery", "404"),
        (DiscoveryFault::WrongIssuer, "issuer", "eu-west-1_Elsewhere"),
        (DiscoveryFault::NoRs256Keys, "keys", "no RS256 key"),
    ];

    for (fault, subject, problem) in cases {
        app.idp.set_discovery_fault(fault);
        let (succeeded, lines) = check(&settings_for(&app, &[])).await;
        app.idp.set_discovery_fault(DiscoveryFault::None);

        assert!(!succeeded, "{fault:?}: {lines:#?}");
        let failed = line(&lines, subject);
        assert!(failed.starts_with("FAIL "), "{fault:?}: {failed}");
        assert!(failed.contains(problem), "{fault:?}: {failed}");
        assert!(
            failed.ends_with("; set COGNITO_ISSUER"),
            "{fault:?}: {failed}"
        );
        let failures = lines
            .iter()
            .filter(|line| line.starts_with("FAIL "))
            .count();
        assert_eq!(failures, 1, "{fault:?}: only the fault fails: {lines:#?}");
    }
}

/// A setting changed away from what the IdP knows, and the checks that must fail for it, each
/// with the setting its line must name.
struct Misconfiguration {
    case: &'static str,
    setting: (&'static str, String),
    failing: &'static [(&'static str, &'static str)],
}

#[tokio::test]
async fn check_with_a_client_or_callback_the_idp_does_not_know_fails_naming_the_setting() {
    let app = spawn_app().await;
    let unregistered = format!("http://localhost:{}/", crate::helpers::free_port());
    let cases = [
        Misconfiguration {
            case: "another client id",
            setting: ("COGNITO_CLIENT_ID", "someotherclient000000000".to_owned()),
            failing: &[
                ("redirect_uri", "COGNITO_CLIENT_ID"),
                ("client", "COGNITO_CLIENT_ID"),
            ],
        },
        Misconfiguration {
            case: "an unregistered APP_BASE_URL",
            setting: ("APP_BASE_URL", unregistered.clone()),
            failing: &[("redirect_uri", "APP_BASE_URL")],
        },
        Misconfiguration {
            case: "a wrong client secret",
            setting: ("COGNITO_CLIENT_SECRET", "not-the-secret".to_owned()),
            failing: &[("client", "COGNITO_CLIENT_SECRET")],
        },
    ];

    for Misconfiguration {
        case,
        setting,
        failing,
    } in cases
    {
        let is_base_url = setting.0 == "APP_BASE_URL";
        let (succeeded, lines) = check(&settings_for(&app, &[setting])).await;

        assert!(!succeeded, "{case}: {lines:#?}");
        for (subject, setting) in failing {
            let failed = line(&lines, subject);
            assert!(failed.starts_with("FAIL "), "{case}: {failed}");
            let settings = failed.rsplit("; set ").next().unwrap();
            assert!(settings.contains(setting), "{case}: {failed}");
        }
        let failures = lines
            .iter()
            .filter(|line| line.starts_with("FAIL "))
            .count();
        assert_eq!(failures, failing.len(), "{case}: {lines:#?}");
        if is_base_url {
            let refused = line(&lines, "redirect_uri");
            assert!(
                refused.contains(&format!("{unregistered}auth/callback")),
                "{refused}"
            );
        }
    }
}

#[tokio::test]
async fn an_idp_that_does_not_answer_fails_the_check_but_is_only_a_warning_at_start_up() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let domain = format!("http://{closed}");
    let settings = vec![
        ("APP_BASE_URL", "http://localhost:0".to_owned()),
        ("APP_LISTEN", "127.0.0.1:0".to_owned()),
        ("COGNITO_DOMAIN", domain.clone()),
        (
            "COGNITO_ISSUER",
            format!("{domain}/{}", cognito_web::dev_idp::POOL_ID),
        ),
        ("COGNITO_CLIENT_ID", CLIENT_ID.to_owned()),
        ("APP_SECRET", APP_SECRET.to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    let dir = tempfile::tempdir().unwrap();

    let (checked, lines) = check(&settings).await;
    let mut child = binary(&dir, &settings)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut output = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut logged = Vec::new();
    let base_url = loop {
        let line = output
            .next_line()
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("the app stopped instead of starting: {logged:#?}"));
        if let Some(at) = line.find("browse to ") {
            break line[at + "browse to ".len()..].trim().to_owned();
        }
        logged.push(line);
    };
    cognito_web::auth::http::install_crypto_provider();
    let health = reqwest::get(format!("{base_url}healthz")).await.unwrap();

    assert!(!checked, "{lines:#?}");
    assert!(
        line(&lines, "discovery").contains("could not be reached"),
        "{lines:#?}"
    );
    let warnings: Vec<&String> = logged
        .iter()
        .filter(|line| line.contains(" WARN "))
        .collect();
    assert!(
        warnings
            .iter()
            .any(|line| line.contains("could not be reached") && line.contains("starting anyway")),
        "{logged:#?}"
    );
    assert!(
        !logged.iter().any(|line| line.contains("ERROR")),
        "{logged:#?}"
    );
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_definite_misconfiguration_stops_start_up_with_one_line_naming_the_setting() {
    let app = spawn_app().await;
    app.idp.set_discovery_fault(DiscoveryFault::WrongIssuer);
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_for(&app, &[("APP_LISTEN", "127.0.0.1:0".to_owned())]);

    let output = binary(&dir, &settings).output().await.unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: issuer: "), "{stderr}");
    assert!(stderr.ends_with("; set COGNITO_ISSUER\n"), "{stderr}");
    assert!(!dir.path().join("app.db").exists(), "nothing is created");
}
