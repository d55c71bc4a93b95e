//! `spawn_app()` and `TestApp`: one method per route, plus flows such as `sign_in_as`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use actix_web::cookie::Cookie;
use cognito_web::config::Config;
use cognito_web::cookies::path_covers;
use cognito_web::dev_idp::{DevIdpControl, KeySet};
use cognito_web::startup::Application;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use url::Url;

/// The development IdP's RSA keys take a moment to generate: once per test binary, then copied.
fn shared_keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(KeySet::generate)
}

/// Sending a request in a test: a failure to get any answer fails the test.
pub trait Fetch {
    async fn fetch(self) -> reqwest::Response;
    async fn fetch_json(self) -> serde_json::Value;
}

impl Fetch for reqwest::RequestBuilder {
    async fn fetch(self) -> reqwest::Response {
        self.send().await.unwrap()
    }

    async fn fetch_json(self) -> serde_json::Value {
        self.fetch().await.json().await.unwrap()
    }
}

/// Every log line of the test binary, at debug level: tests search it for secrets.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Writes log lines into `LOGS`, and to the test's output too when `TEST_LOG` is set.
struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        if std::env::var_os("TEST_LOG").is_some() {
            print!("{}", String::from_utf8_lossy(buf));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// All the logs so far, of every test in this binary.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

fn init_logging() {
    cognito_web::auth::http::install_crypto_provider();
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_ansi(false)
            .with_writer(|| Capture)
            .init();
    });
}

/// A browser's cookie jar: (host, name, path) → value. Like a browser it sends a cookie to its host
/// (any port) below its path, and Max-Age=0 deletes it.
type Jar = HashMap<(String, String, String), String>;

/// A running app with its development IdP, and a browser-like client.
pub struct TestApp {
    pub app_url: Url,
    pub idp_url: Url,
    pub idp: DevIdpControl,
    #[allow(dead_code)] // kept alive for the test; read by restart tests
    pub dir: tempfile::TempDir,
    /// The development IdP's issuer and the client it registered, to point another app at it.
    pub issuer: String,
    pub client_secret: String,
    stop_handles: Vec<actix_web::dev::ServerHandle>,
    state: actix_web::web::Data<cognito_web::startup::AppState>,
    client: reqwest::Client,
    jar: Mutex<Jar>,
    /// Every Set-Cookie the app sent to this client, with the URL that sent it.
    set_cookie_log: Mutex<Vec<(Url, Cookie<'static>)>>,
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
    pub url: Url,
}

impl Reply {
    /// The `Location` header, resolved against the request URL.
    pub fn location(&self) -> Url {
        let location = self
            .headers
            .get(LOCATION)
            .unwrap_or_else(|| panic!("no Location in a {} from {}", self.status, self.url));
        self.url.join(location.to_str().unwrap()).unwrap()
    }

    /// Every `Set-Cookie` of the response, parsed.
    pub fn set_cookies(&self) -> Vec<Cookie<'static>> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|value| Cookie::parse(value.to_str().unwrap().to_owned()).unwrap())
            .collect()
    }

    /// The `Set-Cookie` for `name`; panics when there is none.
    pub fn set_cookie(&self, name: &str) -> Cookie<'static> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.name() == name)
            .unwrap_or_else(|| panic!("no Set-Cookie for {name}"))
    }

    /// The value of `<input … name="{name}" value="…">` in the body.
    pub fn input_value(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no input {name} in {}", self.url))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }
}

pub fn assert_redirect_to(reply: &Reply, path: &str) {
    assert!(
        matches!(reply.status, 302 | 303),
        "expected a redirect from {}, got {}: {}",
        reply.url,
        reply.status,
        reply.body
    );
    let location = reply.location();
    let here = format!(
        "{}{}",
        location.path(),
        location
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    );
    assert_eq!(here, path, "redirect from {}", reply.url);
}

/// A port that was free a moment ago, for tests that must bind the same address twice.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Spawns the app with these settings on top of the test defaults.
pub async fn spawn_app_with(settings: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    shared_keys().save(dir.path()).unwrap();
    spawn_app_in(dir, settings).await
}

/// Spawns the app on an existing data folder (e.g. to restart on the same database).
pub async fn spawn_app_in(dir: tempfile::TempDir, settings: &[(&str, &str)]) -> TestApp {
    init_logging();
    let database_url = format!("sqlite://{}", dir.path().join("app.db").display());
    let mut vars: HashMap<String, String> = [
        ("APP_LISTEN", "127.0.0.1:0"),
        ("APP_BASE_URL", "http://localhost:0"),
        ("DEV_IDP_LISTEN", "127.0.0.1:0"),
        ("DATABASE_URL", database_url.as_str()),
    ]
    .into_iter()
    .chain(settings.iter().copied())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.retain(|_, v| !v.is_empty());
    let config =
        Config::from_lookup(|name| vars.get(name).cloned()).expect("test settings are valid");

    let app = Application::build(config).await.expect("the app starts");
    let app_url = app.base_url().clone();
    let idp_url = app
        .dev_idp_url()
        .expect("tests use the development IdP")
        .clone();
    let idp = app.dev_idp().unwrap().clone();
    let (issuer, dev_client) = app.dev_idp_client().unwrap();
    let (issuer, client_secret) = (issuer.to_owned(), dev_client.client_secret.clone().unwrap());
    let stop_handles = app.stop_handles();
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());

    let mut client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    // A host such as app.localhost (for a COOKIE_DOMAIN test) resolves to the loopback listener.
    let host = app_url.host_str().unwrap().to_owned();
    if host != "localhost" {
        let port = app_url.port().unwrap();
        client = client.resolve(&host, std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    let client = client.build().unwrap();
    TestApp {
        app_url,
        idp_url,
        idp,
        dir,
        issuer,
        client_secret,
        stop_handles,
        state,
        client,
        jar: Mutex::new(HashMap::new()),
        set_cookie_log: Mutex::new(Vec::new()),
    }
}

impl TestApp {
    /// Stops the app and its IdP; returns the data folder and the browser's cookies, to restart.
    pub async fn stop(self) -> (tempfile::TempDir, Jar) {
        for handle in &self.stop_handles {
            handle.stop(true).await;
        }
        (self.dir, self.jar.into_inner().unwrap())
    }

    /// Every Set-Cookie the app has sent this client so far, with the URL that sent it.
    pub fn set_cookie_log(&self) -> Vec<(Url, Cookie<'static>)> {
        self.set_cookie_log.lock().unwrap().clone()
    }

    /// Gives this client the cookies of another (the same browser, after a restart).
    pub fn restore_cookies(&self, cookies: Jar) {
        self.jar.lock().unwrap().extend(cookies);
    }

    /// The SQLite URL of the app's database.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("app.db").display())
    }

    /// Makes every session's access token expired, as time would (and makes the app forget its
    /// cached copies, which it would otherwise trust for up to a second).
    pub async fn expire_access_tokens(&self) {
        self.change_database("update sessions set access_expires_at = unixepoch() - 1")
            .await;
    }

    /// Runs `sql` on the app's database behind its back, then clears the app's session cache.
    pub async fn change_database(&self, sql: &'static str) {
        let pool = sqlx::SqlitePool::connect(&self.database_url())
            .await
            .unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
        self.state.sessions.clear_cache();
    }

    /// An absolute URL for `path` on the app; absolute URLs pass through.
    /// An absolute URL for `path` on the app (under its base path); absolute URLs pass through.
    pub fn url(&self, path_or_url: &str) -> Url {
        let relative = path_or_url.strip_prefix('/').unwrap_or(path_or_url);
        self.app_url.join(relative).unwrap()
    }

    pub async fn get(&self, path_or_url: &str) -> Reply {
        let url = self.url(path_or_url);
        self.send(self.client.get(url.clone()), url).await
    }

    pub async fn post_form(&self, path_or_url: &str, form: &[(&str, &str)]) -> Reply {
        let url = self.url(path_or_url);
        self.send(self.client.post(url.clone()).form(form), url)
            .await
    }

    pub async fn post_form_with_origin(
        &self,
        path: &str,
        form: &[(&str, &str)],
        origin: &str,
    ) -> Reply {
        let url = self.url(path);
        self.send(
            self.client
                .post(url.clone())
                .header("Origin", origin)
                .form(form),
            url,
        )
        .await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder, url: Url) -> Reply {
        let request = match self.cookie_header(&url) {
            Some(cookies) => request.header(COOKIE, cookies),
            None => request,
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
        let reply = Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: String::new(),
            url: url.clone(),
        };
        let body = response.text().await.unwrap();
        let reply = Reply { body, ..reply };
        self.store_cookies(&reply);
        reply
    }

    /// The cookies the jar holds for the app's host: name → value.
    pub fn app_cookies(&self) -> HashMap<String, String> {
        let host = self.app_url.host_str().unwrap().to_owned();
        self.jar
            .lock()
            .unwrap()
            .iter()
            .filter(|((h, _, _), _)| *h == host)
            .map(|((_, name, _), value)| (name.clone(), value.clone()))
            .collect()
    }

    /// Puts a cookie (Path=/) in the jar for the app's host, as an earlier visit might have.
    pub fn plant_cookie(&self, name: &str, value: &str) {
        let host = self.app_url.host_str().unwrap().to_owned();
        self.jar
            .lock()
            .unwrap()
            .insert((host, name.to_owned(), "/".to_owned()), value.to_owned());
    }

    fn cookie_header(&self, url: &Url) -> Option<String> {
        let host = url.host_str()?;
        let jar = self.jar.lock().unwrap();
        let pairs: Vec<String> = jar
            .iter()
            .filter(|((h, _, path), _)| h == host && path_covers(path, url.path()))
            .map(|((_, name, _), value)| format!("{name}={value}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    fn store_cookies(&self, reply: &Reply) {
        let host = reply.url.host_str().unwrap().to_owned();
        if Some(host.as_str()) == self.app_url.host_str() {
            let mut log = self.set_cookie_log.lock().unwrap();
            log.extend(
                reply
                    .set_cookies()
                    .into_iter()
                    .map(|cookie| (reply.url.clone(), cookie)),
            );
        }
        let mut jar = self.jar.lock().unwrap();
        for cookie in reply.set_cookies() {
            let path = cookie.path().unwrap_or("/").to_owned();
            let key = (host.clone(), cookie.name().to_owned(), path);
            let expired = cookie
                .max_age()
                .is_some_and(|age| age.is_zero() || age.is_negative());
            if expired {
                jar.remove(&key);
            } else {
                jar.insert(key, cookie.value().to_owned());
            }
        }
    }

    /// GET /auth/sign-in?return_to=… : the app's redirect to the IdP's authorize endpoint.
    pub async fn get_sign_in(&self, return_to: Option<&str>) -> Reply {
        let path = match return_to {
            Some(value) => format!(
                "/auth/sign-in?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("return_to", value)
                    .finish()
            ),
            None => "/auth/sign-in".to_owned(),
        };
        let sign_in = self.get(&path).await;
        assert_eq!(sign_in.status, 303, "sign-in: {}", sign_in.body);
        sign_in
    }

    /// Starts a sign-in and follows the IdP to its login page (the IdP must not know the browser).
    pub async fn start_sign_in(&self, return_to: Option<&str>) -> Reply {
        let authorize = self
            .get(self.get_sign_in(return_to).await.location().as_str())
            .await;
        assert_eq!(authorize.status, 302, "authorize: {}", authorize.body);
        let login = self.get(authorize.location().as_str()).await;
        assert_eq!(login.status, 200, "login page: {}", login.body);
        login
    }

    /// Types the credentials into the IdP's login form: the redirect to the app's callback.
    pub async fn submit_login(&self, login: &Reply, username: &str, password: &str) -> Reply {
        let csrf = login.input_value("_csrf");
        let action = login.url.clone();
        let reply = self
            .post_form(
                action.as_str(),
                &[
                    ("_csrf", &csrf),
                    ("username", username),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(reply.status, 302, "login: {}", reply.body);
        reply
    }

    /// Walks sign-in up to the IdP's redirect back: the callback URL with `code` and `state`. When
    /// the IdP still has a managed-login session, it answers without the form, as Cognito does.
    pub async fn callback_url(&self, username: &str, return_to: Option<&str>) -> Url {
        let authorize = self
            .get(self.get_sign_in(return_to).await.location().as_str())
            .await;
        assert_eq!(authorize.status, 302, "authorize: {}", authorize.body);
        let next = authorize.location();
        if next.path() != "/login" {
            return next;
        }
        let login = self.get(next.as_str()).await;
        self.submit_login(&login, username, &format!("{username}-password"))
            .await
            .location()
    }

    /// Signs in through the real redirects; returns the app's answer to the callback.
    pub async fn sign_in_as(&self, username: &str) -> Reply {
        self.sign_in_returning_to(username, None).await
    }

    pub async fn sign_in_returning_to(&self, username: &str, return_to: Option<&str>) -> Reply {
        let callback = self.callback_url(username, return_to).await;
        self.get(callback.as_str()).await
    }

    /// The sign-out form's CSRF token, read from a page of the signed-in user.
    pub async fn csrf_token(&self) -> String {
        self.get("/").await.input_value("csrf_token")
    }

    pub async fn post_sign_out(&self, csrf_token: &str) -> Reply {
        self.post_form("/auth/sign-out", &[("csrf_token", csrf_token)])
            .await
    }
}
