//! Running it as a service: Prometheus metrics on their own listener, JSON log lines carrying
//! the request's span, request ids (kept, replaced, echoed, shown on error pages), readiness, and
//! a graceful stop on SIGTERM that finishes a slow request.
//!
//! Metrics, logs and the stop are the real binary's, as a process of its own on the database of an
//! app in the test binary, whose development IdP it uses as if it were Cognito (as `process.rs`
//! does): the recorder and the logs are then that process's alone, and a signal reaches only it.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cognito_web::dev_idp::TokenFailure;
use reqwest::header::COOKIE;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use url::Url;

use crate::helpers::{TestApp, spawn_app};

const WAIT: Duration = Duration::from_secs(20);

/// The app binary on `app`'s database and IdP, with everything it writes kept, line by line.
struct ServiceProcess {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    client: reqwest::Client,
    session: String,
}

impl ServiceProcess {
    async fn spawn(app: &TestApp, settings: &[(&str, &str)]) -> ServiceProcess {
        let secret = std::fs::read_to_string(app.dir.path().join("app-secret")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_cognito-web"))
            .current_dir(app.dir.path())
            .env_clear()
            .env("APP_LISTEN", "127.0.0.1:0")
            .env("APP_BASE_URL", "http://localhost:0")
            .env("DATABASE_URL", app.database_url())
            .env("APP_SECRET", secret.trim())
            .env("COGNITO_DOMAIN", app.idp_url.as_str())
            .env("COGNITO_ISSUER", &app.issuer)
            .env("COGNITO_CLIENT_ID", cognito_web::dev_idp::CLIENT_ID)
            .env("COGNITO_CLIENT_SECRET", &app.client_secret)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(settings.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the app binary starts");
        let (stdout, stdout_reader) = keep(child.stdout.take().unwrap());
        let (stderr, stderr_reader) = keep(child.stderr.take().unwrap());
        ServiceProcess {
            child,
            stdout,
            stderr,
            readers: vec![stdout_reader, stderr_reader],
            client: reqwest::Client::new(),
            session: app.app_cookies()["session"].clone(),
        }
    }

    fn lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    fn output(&self) -> String {
        let mut all = self.lines();
        all.extend(self.stderr.lock().unwrap().iter().cloned());
        all.join("\n")
    }

    /// The first line containing `needle`, once there is one.
    async fn wait_for_line(&self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self.lines().into_iter().find(|line| line.contains(needle)) {
                return line;
            }
            assert!(
                started.elapsed() < WAIT,
                "no {needle:?} in the output:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The URL announced after `prefix` ("browse to ", "metrics at "), in text or JSON lines.
    async fn announced(&self, prefix: &str) -> Url {
        let line = self.wait_for_line(prefix).await;
        let at = line.find(prefix).unwrap() + prefix.len();
        let url = line[at..].split(['"', ' ']).next().unwrap();
        Url::parse(url.trim()).unwrap()
    }

    async fn app_url(&self, path: &str) -> Url {
        self.announced("browse to ").await.join(path).unwrap()
    }

    /// GET `path` with the session cookie of the app's visitor.
    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.app_url(path).await)
            .header(COOKIE, format!("session={}", self.session))
            .send()
            .await
            .unwrap()
    }

    /// Waits until `/readyz` says 200 (the IdP's keys fetched), on this client's connection.
    async fn wait_until_ready(&self) {
        let started = Instant::now();
        while self.get("/readyz").await.status() != 200 {
            assert!(started.elapsed() < WAIT, "never ready:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn sigterm(&self) {
        let pid = self.child.id().expect("the app is still running");
        let signalled = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(signalled.success());
    }

    /// Waits for the process to exit and for everything it wrote to be read.
    async fn exit_status(&mut self) -> ExitStatus {
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the app did not exit:\n{}", self.output()))
            .unwrap();
        for reader in self.readers.drain(..) {
            reader.await.unwrap();
        }
        status
    }
}

/// Copies the lines of `stream` as they come, until it ends.
fn keep(
    stream: impl AsyncRead + Unpin + Send + 'static,
) -> (Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let kept = lines.clone();
    let reader = tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            kept.lock().unwrap().push(line);
        }
    });
    (lines, reader)
}

/// A signed-in visitor of `app` whose access token has expired: the next page that needs the
/// tokens refreshes them.
async fn signed_in_and_expired() -> TestApp {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    app.expire_access_tokens().await;
    app
}

/// Every sample line of the text format is `name{labels} value` or `name value`.
fn assert_exposition_parses(text: &str) {
    for line in text
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line:?}"));
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "not a number in {line:?}"
        );
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                assert!(labels.ends_with('}'), "unclosed labels in {line:?}");
                let labels = &labels[..labels.len() - 1];
                for label in labels.split("\",").filter(|label| !label.is_empty()) {
                    let (key, value) = label
                        .split_once("=\"")
                        .unwrap_or_else(|| panic!("bad label {label:?} in {line:?}"));
                    assert!(
                        !key.is_empty()
                            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "bad label name in {line:?}"
                    );
                    assert!(!value.trim_end_matches('"').contains('"'), "{line:?}");
                }
                name
            }
            None => series,
        };
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_:".contains(c)),
            "bad metric name in {line:?}"
        );
    }
}

/// The value of the sample whose line starts with `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit_once(' '))
        .and_then(|(_, value)| value.parse().ok())
}

#[tokio::test]
async fn a_scrape_of_the_metrics_listener_parses_and_counts_requests_and_refreshes() {
    let app = signed_in_and_expired().await;
    let service = ServiceProcess::spawn(&app, &[("METRICS_LISTEN", "127.0.0.1:0")]).await;
    let metrics_url = service.announced("metrics at ").await;

    let account = service.get("/account").await;
    let on_the_app_port = service.get("/metrics").await;
    let scrape = service
        .client
        .get(metrics_url.clone())
        .send()
        .await
        .unwrap();
    let content_type = scrape.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = scrape.text().await.unwrap();

    assert_eq!(account.status(), 200);
    assert_eq!(
        on_the_app_port.status(),
        404,
        "metrics are never on the app's port"
    );
    assert_ne!(metrics_url.port(), service.app_url("/").await.port());
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_exposition_parses(&text);
    assert_eq!(
        sample(
            &text,
            r#"http_requests_total{route="/account",status="200"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains(r#"http_request_duration_seconds_bucket{route="/account",le="+Inf"} 1"#),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"refreshes_total{outcome="ok"}"#),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            r#"idp_request_duration_seconds_count{endpoint="token"}"#
        ) == Some(1.0)
            && sample(
                &text,
                r#"idp_request_duration_seconds_count{endpoint="userinfo"}"#
            ) == Some(1.0)
            && sample(
                &text,
                r#"idp_request_duration_seconds_count{endpoint="jwks"}"#
            ) >= Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "active_sessions "), Some(1.0), "{text}");
    assert!(
        sample(&text, r#"session_cache_lookups_total{result="miss"}"#) >= Some(1.0),
        "{text}"
    );
    assert!(text.contains("# HELP refreshes_total"), "{text}");
}

#[tokio::test]
async fn json_log_lines_parse_and_carry_the_request_span() {
    let app = signed_in_and_expired().await;
    let service = ServiceProcess::spawn(&app, &[("LOG_FORMAT", "json")]).await;
    let sub = cognito_web::dev_idp::users::find("demo").unwrap().sub;

    let account = service.get("/account").await;
    let id = account.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let finished = service
        .wait_for_line(&format!("\"request_id\":\"{id}\""))
        .await;
    // Every line of the process is one JSON object, the start-up lines too.
    let lines = service.lines();
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    let request_lines: Vec<&serde_json::Value> = parsed
        .iter()
        .filter(|line| line["spans"][0]["request_id"] == id.as_str())
        .collect();
    let refreshed = request_lines
        .iter()
        .find(|line| line["fields"]["message"] == "access token refreshed");
    let end = request_lines
        .iter()
        .find(|line| line["fields"]["message"] == "request finished")
        .unwrap_or_else(|| panic!("no end line for {id} in {finished}"));
    let span = &end["spans"][0];

    assert_eq!(account.status(), 200);
    assert!(
        refreshed.is_some(),
        "the refresh task logs in the span of the request that started it:\n{}",
        lines.join("\n")
    );
    assert_eq!(span["name"], "request");
    assert_eq!(span["method"], "GET");
    assert_eq!(span["route"], "/account");
    assert_eq!(span["status"], 200);
    assert!(
        span["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{span}"
    );
    assert_eq!(
        span["user"], sub,
        "the user's sub once the session is found"
    );
    let session = &service.session;
    assert!(
        !lines
            .iter()
            .any(|line| line.contains(session.as_str()) || line.contains("eyJ")),
        "no cookie value or token in the logs"
    );
}

#[tokio::test]
async fn a_plain_request_id_is_kept_and_any_other_replaced_on_every_response() {
    let app = spawn_app().await;
    let long = "a".repeat(65);
    let cases = [
        ("a plain id", Some("req-42.a_B"), true),
        ("64 characters", Some(&long[..64]), true),
        ("65 characters", Some(long.as_str()), false),
        ("a space", Some("two words"), false),
        ("a quote", Some("a\"b"), false),
        ("none at all", None, false),
    ];

    for (case, sent, kept) in cases {
        let url = app.url("/");
        let mut request = reqwest::Client::new().get(url.clone());
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let reply = app.send(request, url).await;

        let echoed = reply.headers["x-request-id"].to_str().unwrap();
        if kept {
            assert_eq!(Some(echoed), sent, "{case}");
        } else {
            assert_ne!(Some(echoed), sent, "{case}");
            assert!(
                echoed.len() == 16 && echoed.chars().all(|c| c.is_ascii_hexdigit()),
                "{case}: a new id, {echoed:?}"
            );
        }
    }
    let first = app.get("/").await;
    let second = app.get("/").await;
    assert_ne!(
        first.headers["x-request-id"], second.headers["x-request-id"],
        "each request gets its own"
    );
}

#[tokio::test]
async fn an_error_page_shows_the_request_id_to_quote() {
    let app = spawn_app().await;
    let url = app.url("/no-such-page");

    let reply = app
        .send(
            reqwest::Client::new()
                .get(url.clone())
                .header("x-request-id", "report-me-42"),
            url,
        )
        .await;

    assert_eq!(reply.status, 404);
    assert_eq!(reply.headers["x-request-id"], "report-me-42");
    assert!(
        reply.body.contains("<code>report-me-42</code>") && reply.body.contains("quote this id"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn readiness_waits_for_the_signing_keys_and_liveness_does_not() {
    let app = spawn_app().await;
    let started = Instant::now();

    let healthz = app.get("/healthz").await;
    while app.get("/readyz").await.status != 200 {
        assert!(started.elapsed() < WAIT, "never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert_eq!(healthz.status, 200);
    assert!(app.state().idp.id_tokens.is_ready());
}

/// Makes the IdP hold its token answers for `delay_ms`, sends a request that needs a refresh to
/// `service`, and returns it (still in flight) once its refresh has reached the IdP.
async fn start_a_held_refresh(
    app: &TestApp,
    service: &ServiceProcess,
    delay_ms: u64,
) -> (
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
    Instant,
) {
    app.idp.fail_token_endpoint(TokenFailure {
        status: None,
        body: String::new(),
        delay_ms,
    });
    let refreshes_before = app.idp.count("token:refresh_token");
    let url = service.app_url("/account").await;
    let request = reqwest::Client::new()
        .get(url)
        .header(COOKIE, format!("session={}", service.session));
    let slow = tokio::spawn(request.send());
    let started = Instant::now();
    while app.idp.count("token:refresh_token") == refreshes_before {
        assert!(
            started.elapsed() < WAIT,
            "the refresh never reached the IdP"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (slow, started)
}

#[tokio::test]
async fn sigterm_during_a_slow_refresh_finishes_the_request_while_readyz_says_503_then_exits_0() {
    let app = signed_in_and_expired().await;
    let mut service = ServiceProcess::spawn(&app, &[("SHUTDOWN_GRACE_SECONDS", "15")]).await;
    // This client's connection stays open, as a load balancer's would.
    service.wait_until_ready().await;
    let (slow, started) = start_a_held_refresh(&app, &service, 2000).await;

    service.sigterm();
    // The signal is handled a moment later; the slow request is still in flight meanwhile.
    let readyz = loop {
        let readyz = service.get("/readyz").await;
        let readyz = (readyz.status(), readyz.text().await.unwrap());
        if readyz.0 != 200 || started.elapsed() > WAIT {
            break readyz;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let still_in_flight = !slow.is_finished();
    let slow = slow.await.unwrap().expect("the slow request is answered");
    let slow_status = slow.status();
    let status = service.exit_status().await;

    assert_eq!(
        readyz,
        (
            reqwest::StatusCode::SERVICE_UNAVAILABLE,
            "shutting down".into()
        )
    );
    assert!(
        still_in_flight,
        "/readyz said 503 while the slow request was in flight"
    );
    assert_eq!(slow_status, 200, "the request in flight completes");
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        service.output()
    );
    let output = service.output();
    assert!(output.contains("access token refreshed"), "{output}");
    assert!(
        output.contains("stopped: nothing was left in flight"),
        "{output}"
    );
}

#[tokio::test]
async fn a_second_sigterm_stops_at_once_without_waiting_for_the_work_in_flight() {
    let app = signed_in_and_expired().await;
    let mut service = ServiceProcess::spawn(&app, &[("SHUTDOWN_GRACE_SECONDS", "60")]).await;
    service.wait_until_ready().await;
    let (slow, started) = start_a_held_refresh(&app, &service, 30_000).await;

    service.sigterm();
    service.wait_for_line("shutting down").await;
    service.sigterm();
    let status = service.exit_status().await;
    let stopped_after = started.elapsed();

    assert!(
        status.success(),
        "exit status {status}:\n{}",
        service.output()
    );
    assert!(
        stopped_after < Duration::from_secs(20),
        "stopped after {stopped_after:?}, not waiting for the 30-second token call"
    );
    assert!(
        service
            .output()
            .contains("stopping at once: a second signal")
    );
    match slow.await.unwrap() {
        Err(_) => {}
        Ok(reply) => panic!(
            "the request in flight was not cut short: {} {}\n{}",
            reply.status(),
            reply.text().await.unwrap_or_default(),
            service.output()
        ),
    }
    app.idp.clear_token_failure();
}
