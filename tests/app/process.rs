//! A second app, as a separate process of the real binary, sharing the first app's database
//! (and IdP, configured as if it were Cognito). It is killed when the handle is dropped.

use std::process::Stdio;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use url::Url;

use crate::helpers::TestApp;

pub struct SecondProcess {
    pub base_url: Url,
    child: Child,
}

impl SecondProcess {
    pub fn url(&self, path: &str) -> Url {
        self.base_url.join(path).unwrap()
    }

    /// SIGKILL, as a crash or an out-of-memory kill would: no clean-up of any kind runs.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }
}

/// Another app process on `app`'s database and IdP.
pub async fn spawn_second_process(app: &TestApp) -> SecondProcess {
    spawn(app, app.idp_url.as_str(), &app.issuer).await
}

/// Another app process on `app`'s database, whose IdP address has nothing listening.
pub async fn spawn_second_process_with_dead_idp(app: &TestApp) -> SecondProcess {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let domain = format!("http://{closed}");
    let issuer = format!("{domain}/{}", cognito_web::dev_idp::POOL_ID);
    spawn(app, &domain, &issuer).await
}

async fn spawn(app: &TestApp, domain: &str, issuer: &str) -> SecondProcess {
    // The first app generated its development APP_SECRET into the data folder; share it.
    let secret = std::fs::read_to_string(app.dir.path().join("app-secret")).unwrap();
    assert!(
        base64::engine::general_purpose::STANDARD
            .decode(secret.trim())
            .is_ok()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_cognito-web"))
        .current_dir(app.dir.path())
        .env_clear()
        .env("APP_LISTEN", "127.0.0.1:0")
        .env("APP_BASE_URL", "http://localhost:0")
        .env("DATABASE_URL", app.database_url())
        .env("APP_SECRET", secret.trim())
        .env("COGNITO_DOMAIN", domain)
        .env("COGNITO_ISSUER", issuer)
        .env("COGNITO_CLIENT_ID", cognito_web::dev_idp::CLIENT_ID)
        .env("COGNITO_CLIENT_SECRET", &app.client_secret)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the app binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base_url = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the second process announces its URL");
        if let Some(at) = line.find("browse to ") {
            break Url::parse(line[at + "browse to ".len()..].trim()).unwrap();
        }
    };
    // Keep draining its output so the process never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    SecondProcess { base_url, child }
}
