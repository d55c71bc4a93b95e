//! A small WebDriver client for headless Chromium, over the HTTP client the tests already have,
//! plus ChromeDriver's DevTools passthrough for what WebDriver cannot do: read and plant cookies
//! under any Domain and Path.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::helpers::Fetch;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Browsers at once: each is a Chromium with its renderer processes, and the machine has 2 cores.
static BROWSERS: Semaphore = Semaphore::const_new(2);
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const WAIT: Duration = Duration::from_secs(15);

/// A cookie as the browser holds it (DevTools' `Network.Cookie`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowserCookie {
    pub name: String,
    pub value: String,
    pub domain: String,
    pub path: String,
    /// Seconds since the epoch; -1 for a cookie that lives as long as the browser session.
    pub expires: f64,
    pub http_only: bool,
    pub secure: bool,
    pub session: bool,
    pub same_site: Option<String>,
}

pub struct Browser {
    http: reqwest::Client,
    base: String,
    driver: Child,
    _profile: tempfile::TempDir,
    _permit: SemaphorePermit<'static>,
}

/// The program named by the environment variable `setting`, else the first of `names` on PATH
/// (the same search as `build.rs`).
fn find_program(setting: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(setting) {
        return Some(PathBuf::from(path)).filter(|path| path.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Chromium and ChromeDriver; a test that gets here without them fails (see [`Browser::start`]).
fn programs() -> (PathBuf, PathBuf) {
    let chromium = find_program(
        "CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let driver = find_program("CHROMEDRIVER", &["chromedriver"]);
    let (Some(chromium), Some(driver)) = (chromium, driver) else {
        let message = "browser tests need Chromium and ChromeDriver (apt-get install -y chromium chromium-driver)";
        if std::env::var_os("CI").is_some() {
            panic!("{message}; CI must install them (see .ci/run)");
        }
        panic!("{message}; after installing them, `touch build.rs` so the build looks again");
    };
    (chromium, driver)
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium with a fresh profile. Without them installed,
    /// the build marks the browser tests ignored (see `build.rs`), except under CI, where they
    /// run and fail here; a test that gets here without a browser fails too.
    pub async fn start() -> Browser {
        let (chromium, driver) = programs();
        let permit = BROWSERS.acquire().await.unwrap();
        Self::launch(&chromium, &driver, permit).await
    }

    /// Two browsers, each with a fresh profile of its own (two devices, as far as the app can
    /// tell). Both are claimed from [`BROWSERS`] at once: two tests that each held one browser
    /// while waiting for a second would wait for ever.
    pub async fn start_two() -> (Browser, Browser) {
        let (chromium, driver) = programs();
        let mut first = BROWSERS.acquire_many(2).await.unwrap();
        let second = first.split(1).expect("two permits were taken");
        (
            Self::launch(&chromium, &driver, first).await,
            Self::launch(&chromium, &driver, second).await,
        )
    }

    async fn launch(chromium: &Path, driver: &Path, permit: SemaphorePermit<'static>) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        cognito_web::auth::http::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(started.elapsed() < WAIT, "chromedriver did not answer");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--disable-dev-shm-usage".into(),
            // No network outside loopback: every other host name fails to resolve.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE *.localhost, EXCLUDE 127.0.0.1".into(),
            "--window-size=1200,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        }}});
        let response = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .fetch_json()
            .await;
        let session = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {response}"));
        Browser {
            http,
            base: format!("{base}/session/{session}"),
            driver: child,
            _profile: profile,
            _permit: permit,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.fetch_json().await;
        if let Some(error) = response["value"]["error"].as_str() {
            panic!(
                "WebDriver {path}: {error}: {}",
                response["value"]["message"]
            );
        }
        response["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.command(reqwest::Method::GET, path, None).await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn url(&self) -> url::Url {
        url::Url::parse(self.get("/url").await.as_str().unwrap()).unwrap()
    }

    pub async fn reload(&self) {
        self.post("/refresh", json!({})).await;
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub async fn execute(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
            .await
    }

    async fn element(&self, css: &str) -> Option<String> {
        let response = self
            .http
            .post(format!("{}/element", self.base))
            .json(&json!({ "using": "css selector", "value": css }))
            .fetch_json()
            .await;
        response["value"][ELEMENT].as_str().map(str::to_owned)
    }

    /// Polls `check` until it yields a value; after `WAIT`, fails with `what` and the page's URL.
    async fn wait_until<T, F: Future<Output = Option<T>>>(
        &self,
        what: &str,
        mut check: impl FnMut() -> F,
    ) -> T {
        let started = Instant::now();
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(started.elapsed() < WAIT, "{what}; at {}", self.url().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until an element matching `css` is on the page.
    pub async fn wait_for(&self, css: &str) -> String {
        self.wait_until(&format!("{css} never appeared"), || self.element(css))
            .await
    }

    /// Waits until the page's URL has this path.
    pub async fn wait_for_path(&self, path: &str) {
        let at_path = || async { (self.url().await.path() == path).then_some(()) };
        self.wait_until(&format!("never reached {path}"), at_path)
            .await
    }

    pub async fn click(&self, css: &str) {
        let id = self.wait_for(css).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.wait_for(css).await;
        self.post(&format!("/element/{id}/value"), json!({ "text": text }))
            .await;
    }

    pub async fn text(&self, css: &str) -> String {
        let id = self.wait_for(css).await;
        self.get(&format!("/element/{id}/text"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The cookie policy the page carries in its `app-config` block.
    pub async fn page_policy(&self) -> Value {
        self.execute(
            "return JSON.parse(document.getElementById('app-config').textContent).cookies;",
        )
        .await
    }

    /// Every cookie in the browser's jar, whatever its Domain and Path.
    pub async fn all_cookies(&self) -> Vec<BrowserCookie> {
        let value = self
            .post(
                "/goog/cdp/execute",
                json!({ "cmd": "Network.getAllCookies", "params": {} }),
            )
            .await;
        serde_json::from_value(value["cookies"].clone()).unwrap()
    }

    /// Puts a cookie in the jar directly, as an earlier deployment might have left it.
    pub async fn plant_cookie(&self, cookie: Value) {
        let result = self
            .post(
                "/goog/cdp/execute",
                json!({ "cmd": "Network.setCookie", "params": cookie }),
            )
            .await;
        assert_eq!(
            result["success"], true,
            "the browser refused to plant {cookie}"
        );
    }

    pub async fn screenshot(&self, path: &Path) {
        let png = self.get("/screenshot").await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Opens a new tab and switches to it; returns its handle.
    pub async fn new_tab(&self) -> String {
        let handle = self.post("/window/new", json!({ "type": "tab" })).await["handle"]
            .as_str()
            .unwrap()
            .to_owned();
        self.switch_to(&handle).await;
        handle
    }

    pub async fn current_tab(&self) -> String {
        self.get("/window").await.as_str().unwrap().to_owned()
    }

    pub async fn switch_to(&self, handle: &str) {
        self.post("/window", json!({ "handle": handle })).await;
    }

    /// Ends the WebDriver session (closing Chromium) and stops ChromeDriver.
    pub async fn quit(mut self) {
        let _ = self.http.delete(&self.base).send().await;
        let _ = self.driver.kill().await;
    }
}
