//! Secrets stay secret: tokens are encrypted at rest, and nothing secret reaches a log line.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use cognito_web::dev_idp::{CLIENT_ID, DevClient, DevIdp, DevIdpOptions};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use url::Url;

use crate::helpers::{Visitor, free_port, shared_keys, spawn_app};

#[tokio::test]
async fn tokens_are_encrypted_at_rest() {
    let app = spawn_app().await;
    app.sign_in_as("demo").await;
    app.expire_access_tokens().await;
    assert_eq!(app.get("/account").await.status, 200);

    let mut stored = Vec::new();
    if crate::database::on_postgres() {
        // The token columns' bytes as the server stores them.
        let columns = "select encode(id_token, 'escape') || encode(access_token, 'escape') \
            || encode(refresh_token, 'escape') from sessions";
        stored.extend(
            crate::database::text(&app.database_url(), columns)
                .await
                .into_bytes(),
        );
        assert!(stored.len() > 1_000, "the tokens were read");
    } else {
        for file in ["app.db", "app.db-wal"] {
            stored.extend(std::fs::read(app.dir.path().join(file)).unwrap_or_default());
        }
        assert!(stored.len() > 10_000, "the database was read");
    }
    // Every JWT (ID, access) and every Cognito refresh token (a JWE) starts with "eyJ".
    assert!(
        !stored.windows(3).any(|w| w == b"eyJ"),
        "a token is stored in the clear"
    );
}

const WAIT: Duration = Duration::from_secs(20);

/// The app binary as a process of its own, at debug level, with everything it writes kept.
///
/// Its logs are its alone. The apps that tests run inside the test binary share its one tracing
/// subscriber, so a capture there mixes the lines of every test running at the same time; and a
/// span per app would not separate them, because the app's work runs on actix workers and tasks
/// that do not inherit the span of the test that started them. A process boundary does.
struct LoggedProcess {
    child: Child,
    output: Arc<Mutex<String>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl LoggedProcess {
    fn spawn(dir: &std::path::Path, settings: &[(&str, &str)]) -> LoggedProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cognito-web"))
            .current_dir(dir)
            .env_clear()
            .envs(settings.iter().copied())
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the app binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            keep(child.stdout.take().unwrap(), output.clone()),
            keep(child.stderr.take().unwrap(), output.clone()),
        ];
        LoggedProcess {
            child,
            output,
            readers,
        }
    }

    fn logs(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits for a log line containing `needle`, and returns it.
    async fn wait_for_line(&self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self.logs().lines().find(|line| line.contains(needle)) {
                return line.to_owned();
            }
            assert!(
                started.elapsed() < WAIT,
                "no {needle:?} in the logs:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The URL the app announces ("browse to …").
    async fn app_url(&self) -> Url {
        let line = self.wait_for_line("browse to ").await;
        let at = line.find("browse to ").unwrap() + "browse to ".len();
        Url::parse(line[at..].trim()).unwrap()
    }

    /// Stops the process as a service manager would (SIGTERM), waits for it to exit, and returns
    /// every line it wrote.
    async fn stop(mut self) -> String {
        let pid = self.child.id().expect("the app is still running");
        let signalled = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(signalled.success());
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the app stops on SIGTERM")
            .unwrap();
        for reader in self.readers.drain(..) {
            reader.await.unwrap();
        }
        assert!(status.success(), "the app exited with {status}");
        self.logs()
    }
}

/// Copies the lines of `stream` into `output` until it ends.
fn keep(
    stream: impl AsyncRead + Unpin + Send + 'static,
    output: Arc<Mutex<String>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut output = output.lock().unwrap();
            output.push_str(&line);
            output.push('\n');
        }
    })
}

/// What a visit handled that must never be logged.
struct Handled {
    code: String,
    state: String,
    session: String,
    csrf: String,
}

/// Signs in, views the account page, has the access token refreshed, signs out with a wrong
/// CSRF token and then with the right one.
async fn visit(app: &LoggedProcess, database_url: &str) -> Handled {
    let visitor = Visitor::new(app.app_url().await);
    let callback_url = visitor.callback_url("demo", None).await;
    let parameter = |name: &str| {
        callback_url
            .query_pairs()
            .find(|(k, _)| k == name)
            .unwrap()
            .1
            .into_owned()
    };
    let (code, state) = (parameter("code"), parameter("state"));
    let callback = visitor.get(callback_url.as_str()).await;
    assert_eq!(callback.status, 303, "{}", callback.body);
    let session = visitor.app_cookies()["session"].clone();
    let csrf = visitor.csrf_token().await;
    assert_eq!(visitor.get("/account").await.status, 200);

    crate::database::execute(
        database_url,
        "update sessions set access_expires_at = unixepoch() - 1",
    )
    .await;
    // The process trusts its cached copy of the session for up to a second.
    let started = Instant::now();
    while !app.logs().contains("access token refreshed") {
        assert!(started.elapsed() < WAIT, "no refresh:\n{}", app.logs());
        assert_eq!(visitor.get("/account").await.status, 200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(visitor.post_sign_out("wrong").await.status, 403);
    assert_eq!(visitor.post_sign_out(&csrf).await.status, 303);
    Handled {
        code,
        state,
        session,
        csrf,
    }
}

fn assert_no_secret_in(logs: &str, handled: &Handled, secrets: &[(&str, &str)]) {
    assert!(
        logs.contains("signed in") && logs.contains("access token refreshed"),
        "the flow was logged:\n{logs}"
    );
    assert!(logs.contains("DEBUG"), "the logs are at debug level");
    let visit = [
        ("authorization code", handled.code.as_str()),
        ("state", handled.state.as_str()),
        ("session id", handled.session.as_str()),
        ("CSRF token", handled.csrf.as_str()),
    ];
    for (what, secret) in visit.iter().chain(secrets) {
        assert!(secret.len() >= 16, "the {what} is a real secret");
        assert!(!logs.contains(secret), "the {what} reached the logs");
    }
    assert!(!logs.contains("eyJ"), "a token reached the logs");
}

/// The app as deployed: its own process, speaking to the IdP (here a development IdP inside the
/// test binary) as to Cognito, with a client secret and an `APP_SECRET` from its settings.
#[tokio::test]
async fn no_token_code_or_secret_reaches_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    shared_keys().save(dir.path()).unwrap();
    let port = free_port();
    let base_url = format!("http://localhost:{port}");
    let client_secret = "test-client-secret-7Qm2Zr9Kx4Wb8Vn3Jd6Hs1Lf5Tc0Pg";
    let app_secret = base64::engine::general_purpose::STANDARD.encode(
        (0u8..64)
            .map(|i| i.wrapping_mul(97).wrapping_add(13))
            .collect::<Vec<u8>>(),
    );
    let idp = DevIdp::start(DevIdpOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        access_token_ttl: Duration::from_secs(3600),
        data_dir: dir.path().to_owned(),
        client: DevClient {
            client_id: CLIENT_ID.to_owned(),
            client_secret: Some(client_secret.to_owned()),
            callback_urls: vec![format!("{base_url}/auth/callback")],
            logout_urls: vec![format!("{base_url}/")],
        },
        refresh_rotation: false,
        rotation_grace: Duration::ZERO,
        identity_providers: Vec::new(),
    })
    .unwrap();
    let (idp_url, issuer, idp_handle) = (idp.url.clone(), idp.issuer.clone(), idp.handle());
    tokio::spawn(idp.into_server());
    let database_url = crate::database::database_url_for(dir.path()).await;
    let listen = format!("127.0.0.1:{port}");
    let app = LoggedProcess::spawn(
        dir.path(),
        &[
            ("APP_LISTEN", &listen),
            ("APP_BASE_URL", &base_url),
            ("DATABASE_URL", &database_url),
            ("APP_SECRET", &app_secret),
            ("COGNITO_DOMAIN", idp_url.as_str()),
            ("COGNITO_ISSUER", &issuer),
            ("COGNITO_CLIENT_ID", CLIENT_ID),
            ("COGNITO_CLIENT_SECRET", client_secret),
        ],
    );

    let handled = visit(&app, &database_url).await;
    let logs = app.stop().await;
    idp_handle.stop(true).await;

    assert_no_secret_in(
        &logs,
        &handled,
        &[
            ("client secret", client_secret),
            ("APP_SECRET", &app_secret),
        ],
    );
}

/// `cargo run` as a newcomer starts it: the app and the development IdP in one process, the
/// IdP's logs beside the app's. (The IdP's client secret lives only in that process's memory, so
/// the previous test is the one that looks for a client secret.)
#[tokio::test]
async fn no_token_code_or_secret_reaches_a_log_line_of_the_development_setup() {
    let dir = tempfile::tempdir().unwrap();
    shared_keys().save(dir.path()).unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("app.db").display());
    let app = LoggedProcess::spawn(
        dir.path(),
        &[
            ("APP_LISTEN", "127.0.0.1:0"),
            ("APP_BASE_URL", "http://localhost:0"),
            ("DEV_IDP_LISTEN", "127.0.0.1:0"),
            ("DATABASE_URL", &database_url),
        ],
    );

    let handled = visit(&app, &database_url).await;
    let logs = app.stop().await;

    assert!(logs.contains("DEVELOPMENT IDENTITY PROVIDER"), "{logs}");
    let app_secret = std::fs::read_to_string(dir.path().join("app-secret")).unwrap();
    assert_no_secret_in(&logs, &handled, &[("APP_SECRET", app_secret.trim())]);
}
