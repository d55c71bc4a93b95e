//! `spawn_app()` and `TestApp`: one method per route, plus flows such as `sign_in_as`, through a
//! `Visitor` whose cookie `Jar` keeps and sends cookies by the rules a browser follows.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};

use actix_web::cookie::Cookie;
use actix_web::cookie::time::OffsetDateTime;
use cognito_web::app::Application;
use cognito_web::config::Config;
use cognito_web::cookies::{domain_covers, path_covers};
use cognito_web::dev_idp::users::DEMO_USERS;
use cognito_web::dev_idp::{DevIdpControl, KeySet};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use url::{Host, Url};

/// The development IdP's RSA keys take a moment to generate: once per test binary, then copied.
pub fn shared_keys() -> &'static KeySet {
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

/// Logs of the apps running inside the test binary are shown only when `TEST_LOG` is set. A test
/// that searches logs runs the app as a process of its own and reads its output (see
/// `secrets.rs`): in here every concurrent test's app writes to the same subscriber.
fn init_logging() {
    cognito_web::auth::http::install_crypto_provider();
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            tracing_subscriber::fmt()
                .with_env_filter("debug")
                .with_ansi(false)
                .with_test_writer()
                .init();
        }
    });
}

/// The password of a demo user, from the development IdP's own table of users.
pub fn password_of(username: &str) -> &'static str {
    DEMO_USERS
        .iter()
        .find(|user| user.username == username)
        .map(|user| user.password)
        .unwrap_or_else(|| panic!("{username} is not a demo user"))
}

/// One cookie as a browser keeps it (RFC 6265 §5.3). Its slot is (name, domain, host-only,
/// path): a cookie written with `Domain=example.com` and a host-only one of the same name on
/// `example.com` are two cookies, and deleting one leaves the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JarCookie {
    pub name: String,
    pub value: String,
    /// The `Domain` attribute (lowercase, without a leading dot), or for a host-only cookie the
    /// host that set it.
    pub domain: String,
    pub host_only: bool,
    pub path: String,
    pub secure: bool,
    /// Unix seconds; `None` for a cookie that lives as long as the browser session.
    pub expires_at: Option<i64>,
    /// Creation order: it survives an overwrite, and orders the `Cookie` header.
    created: u64,
}

impl JarCookie {
    fn same_slot(&self, other: &JarCookie) -> bool {
        self.name == other.name
            && self.domain == other.domain
            && self.host_only == other.host_only
            && self.path == other.path
    }

    fn live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }

    /// Whether the cookie goes to `host`, on some path.
    pub fn belongs_to(&self, host: &Host<&str>) -> bool {
        if self.host_only {
            host_name(host) == self.domain
        } else {
            domain_matches(&self.domain, host)
        }
    }

    /// Whether a browser sends the cookie with a request for `url`.
    pub fn sent_to(&self, url: &Url) -> bool {
        url.host().is_some_and(|host| self.belongs_to(&host))
            && path_covers(&self.path, url.path())
            && (!self.secure || secure_context(url))
    }

    /// `name@domain/path`, with `host-only:` before the domain of a host-only cookie.
    pub fn scope(&self) -> String {
        let kind = if self.host_only { "host-only:" } else { "" };
        format!("{}@{kind}{}{}", self.name, self.domain, self.path)
    }
}

fn host_name(host: &Host<&str>) -> String {
    host.to_string().to_ascii_lowercase()
}

/// RFC 6265 §5.1.3: a domain matches itself and its subdomains; an IP address only itself.
fn domain_matches(domain: &str, host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => domain_covers(domain, name),
        Host::Ipv4(_) | Host::Ipv6(_) => host_name(host) == domain,
    }
}

/// Where a browser keeps and sends Secure cookies: https, and the loopback hosts (`localhost`,
/// `*.localhost`, 127.0.0.1), which browsers count as secure contexts over plain http.
fn secure_context(url: &Url) -> bool {
    url.scheme() == "https"
        || match url.host() {
            Some(Host::Domain(name)) => {
                let name = name.to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        }
}

/// RFC 6265 §5.1.4: the path of a cookie written without a usable `Path`.
fn default_path(url: &Url) -> String {
    let path = url.path();
    match path.rfind('/') {
        None | Some(0) => "/".to_owned(),
        Some(last) => path[..last].to_owned(),
    }
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A browser's cookie jar, by RFC 6265 §5.3 and §5.4. Not modelled: the public suffix list
/// (the tests' hosts are `localhost` names), SameSite (a test client makes no cross-site
/// navigations), and the limits on cookies per domain.
#[derive(Debug, Clone, Default)]
pub struct Jar {
    cookies: Vec<JarCookie>,
    created: u64,
}

impl Jar {
    /// Takes a `Set-Cookie` received from `url`. Returns false when a browser would ignore it:
    /// a `Domain` that does not cover the host, or a Secure cookie from an insecure origin.
    /// An expired cookie (Max-Age=0, or an Expires in the past) deletes the cookie of the same
    /// slot, and only that one.
    pub fn store(&mut self, url: &Url, cookie: &Cookie<'_>) -> bool {
        let Some(host) = url.host() else {
            return false;
        };
        let domain = cookie
            .domain()
            .map(|domain| domain.trim_start_matches('.').to_ascii_lowercase())
            .filter(|domain| !domain.is_empty());
        let (domain, host_only) = match domain {
            Some(domain) if domain_matches(&domain, &host) => (domain, false),
            Some(_) => return false,
            None => (host_name(&host), true),
        };
        let secure = cookie.secure().unwrap_or(false);
        if secure && !secure_context(url) {
            return false;
        }
        let path = match cookie.path() {
            Some(path) if path.starts_with('/') => path.to_owned(),
            _ => default_path(url),
        };
        let now = now();
        // Max-Age wins over Expires; zero or less means the earliest time there is (§5.2.2).
        let expires_at = match cookie.max_age() {
            Some(age) => Some(now.saturating_add(age.whole_seconds())),
            None => cookie.expires_datetime().map(|at| at.unix_timestamp()),
        };
        self.created += 1;
        let mut new = JarCookie {
            name: cookie.name().to_owned(),
            value: cookie.value().to_owned(),
            domain,
            host_only,
            path,
            secure,
            expires_at,
            created: self.created,
        };
        if let Some(old) = self.cookies.iter().position(|c| c.same_slot(&new)) {
            // An overwritten cookie keeps its creation time (§5.3 step 11.3).
            new.created = self.cookies.remove(old).created;
        }
        if new.live(now) {
            self.cookies.push(new);
        }
        true
    }

    /// Every live cookie a browser would send with a request for `url`, in the order it sends
    /// them: longer paths first, then the earlier created (§5.4).
    pub fn cookies_for(&self, url: &Url) -> Vec<JarCookie> {
        let now = now();
        let mut sent: Vec<JarCookie> = self
            .cookies
            .iter()
            .filter(|c| c.live(now) && c.sent_to(url))
            .cloned()
            .collect();
        sent.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.created.cmp(&b.created))
        });
        sent
    }

    /// The `Cookie` header a browser would send to `url`.
    pub fn cookie_header(&self, url: &Url) -> Option<String> {
        let pairs: Vec<String> = self
            .cookies_for(url)
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// Every live cookie, whatever its scope, oldest first.
    pub fn cookies(&self) -> Vec<JarCookie> {
        let now = now();
        let mut all: Vec<JarCookie> = self
            .cookies
            .iter()
            .filter(|c| c.live(now))
            .cloned()
            .collect();
        all.sort_by_key(|c| c.created);
        all
    }

    /// Takes the cookies of another jar, as newer than its own, replacing those of the same slot.
    pub fn extend(&mut self, other: Jar) {
        for mut cookie in other.cookies() {
            self.cookies.retain(|c| !c.same_slot(&cookie));
            self.created += 1;
            cookie.created = self.created;
            self.cookies.push(cookie);
        }
    }
}

/// A browser-like client of one app: it follows no redirect by itself and keeps cookies in a `Jar`.
pub struct Visitor {
    pub app_url: Url,
    client: reqwest::Client,
    jar: Mutex<Jar>,
    /// Every Set-Cookie the app sent to this client, with the URL that sent it.
    set_cookie_log: Mutex<Vec<(Url, Cookie<'static>)>>,
}

/// A running app with its development IdP, and a browser-like client (`Visitor`, reached through
/// `Deref`: `app.get("/")`, `app.sign_in_as("demo")`).
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
    state: actix_web::web::Data<cognito_web::web::AppState>,
    visitor: Visitor,
}

impl std::ops::Deref for TestApp {
    type Target = Visitor;

    fn deref(&self) -> &Visitor {
        &self.visitor
    }
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
    pub url: Url,
}

impl Reply {
    /// The `Location` header, resolved against the request URL as a browser resolves it.
    pub fn location(&self) -> Url {
        self.url.join(&self.raw_location()).unwrap()
    }

    /// The `Location` header as the app wrote it, its bytes read as UTF-8 as browsers read them.
    pub fn raw_location(&self) -> String {
        let value = self
            .headers
            .get(LOCATION)
            .unwrap_or_else(|| panic!("no Location in a {} from {}", self.status, self.url));
        String::from_utf8_lossy(value.as_bytes()).into_owned()
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

    /// The cookie policy the page hands to `static/app.js`: its `app-config` block's `cookies`.
    pub fn page_policy(&self) -> serde_json::Value {
        let marker = r#"<script id="app-config" type="application/json">"#;
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no app-config block in {}", self.url))
            + marker.len();
        let end = self.body[start..].find("</script>").unwrap() + start;
        let config: serde_json::Value = serde_json::from_str(&self.body[start..end]).unwrap();
        config["cookies"].clone()
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
    let database_url = match settings.iter().find(|(name, _)| *name == "DATABASE_URL") {
        Some((_, url)) => crate::database::record_database_url(dir.path(), url),
        None => crate::database::database_url_for(dir.path()).await,
    };
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
    let mut config =
        Config::from_lookup(|name| vars.get(name).cloned()).expect("test settings are valid");
    // With PostgreSQL the data folder would be `data` in the working folder: keep it per test.
    config.data_dir = dir.path().to_owned();

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

    TestApp {
        visitor: Visitor::new(app_url.clone()),
        app_url,
        idp_url,
        idp,
        dir,
        issuer,
        client_secret,
        stop_handles,
        state,
    }
}

impl TestApp {
    /// The running app's state, for tests that drive the domain directly.
    pub fn state(&self) -> &cognito_web::web::AppState {
        &self.state
    }

    /// Stops the app and its IdP; returns the data folder and the browser's cookies, to restart.
    pub async fn stop(self) -> (tempfile::TempDir, Jar) {
        for handle in &self.stop_handles {
            handle.stop(true).await;
        }
        (self.dir, self.visitor.jar.into_inner().unwrap())
    }

    /// The URL of the app's database (see `database`).
    pub fn database_url(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("database-url")).unwrap()
    }

    /// Makes every session's access token expired, as time would (and makes the app forget its
    /// cached copies, which it would otherwise trust for up to a second).
    pub async fn expire_access_tokens(&self) {
        self.change_database("update sessions set access_expires_at = unixepoch() - 1")
            .await;
    }

    /// Runs `sql` on the app's database behind its back, then clears the app's session cache.
    pub async fn change_database(&self, sql: &str) {
        crate::database::execute(&self.database_url(), sql).await;
        self.state.sessions.clear_cache();
    }
}

impl Visitor {
    /// A fresh browser, with an empty jar, for the app at `app_url`.
    pub fn new(app_url: Url) -> Visitor {
        cognito_web::auth::http::install_crypto_provider();
        let mut client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        // A host such as app.localhost (for a COOKIE_DOMAIN test) resolves to the loopback listener.
        let host = app_url.host_str().unwrap().to_owned();
        if host != "localhost" {
            let port = app_url.port().unwrap();
            client = client.resolve(&host, std::net::SocketAddr::from(([127, 0, 0, 1], port)));
        }
        Visitor {
            app_url,
            client: client.build().unwrap(),
            jar: Mutex::new(Jar::default()),
            set_cookie_log: Mutex::new(Vec::new()),
        }
    }

    /// Every Set-Cookie the app has sent this client so far, with the URL that sent it.
    pub fn set_cookie_log(&self) -> Vec<(Url, Cookie<'static>)> {
        self.set_cookie_log.lock().unwrap().clone()
    }

    /// Gives this client the cookies of another (the same browser, after a restart).
    pub fn restore_cookies(&self, cookies: Jar) {
        self.jar.lock().unwrap().extend(cookies);
    }

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
        let cookies = self.jar.lock().unwrap().cookie_header(&url);
        let request = match cookies {
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

    /// The app's cookies in the jar, under every scope that reaches the app's host, in the order
    /// a browser sends them.
    pub fn app_cookie_scopes(&self) -> Vec<JarCookie> {
        let host = self.app_url.host().unwrap();
        let mut cookies: Vec<JarCookie> = self
            .jar
            .lock()
            .unwrap()
            .cookies()
            .into_iter()
            .filter(|c| c.belongs_to(&host))
            .collect();
        cookies.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        cookies
    }

    /// The cookies the jar holds for the app's host, under any Domain and Path: name → value (of
    /// the one sent first, when there are several).
    pub fn app_cookies(&self) -> HashMap<String, String> {
        let mut cookies = HashMap::new();
        for cookie in self.app_cookie_scopes() {
            cookies.entry(cookie.name).or_insert(cookie.value);
        }
        cookies
    }

    /// Puts a host-only cookie (Path=/) in the jar for the app's host, as an earlier visit might.
    pub fn plant_cookie(&self, name: &str, value: &str) {
        self.plant_cookie_in(name, value, None, "/");
    }

    /// Puts a cookie in the jar as if the app's host had written it under `Domain=domain`
    /// (host-only for `None`) and `Path=path`.
    pub fn plant_cookie_in(&self, name: &str, value: &str, domain: Option<&str>, path: &str) {
        let mut cookie = Cookie::build(name.to_owned(), value.to_owned()).path(path.to_owned());
        if let Some(domain) = domain {
            cookie = cookie.domain(domain.to_owned());
        }
        let stored = self
            .jar
            .lock()
            .unwrap()
            .store(&self.app_url, &cookie.finish());
        assert!(stored, "the jar refused to plant {name} under {domain:?}");
    }

    fn store_cookies(&self, reply: &Reply) {
        let cookies = reply.set_cookies();
        if reply.url.host_str() == self.app_url.host_str() {
            let mut log = self.set_cookie_log.lock().unwrap();
            log.extend(cookies.iter().map(|c| (reply.url.clone(), c.clone())));
        }
        let mut jar = self.jar.lock().unwrap();
        for cookie in &cookies {
            jar.store(&reply.url, cookie);
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
        self.submit_login(&login, username, password_of(username))
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

    pub async fn get_account_sessions(&self) -> Reply {
        self.get("/account/sessions").await
    }

    /// POST /account/sessions/{public_id}/sign-out.
    pub async fn post_session_sign_out(&self, public_id: &str, csrf_token: &str) -> Reply {
        self.post_form(
            &format!("/account/sessions/{public_id}/sign-out"),
            &[("csrf_token", csrf_token)],
        )
        .await
    }

    pub async fn post_sign_out_other_sessions(&self, csrf_token: &str) -> Reply {
        self.post_form(
            "/account/sessions/sign-out-others",
            &[("csrf_token", csrf_token)],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(value: &str) -> Url {
        Url::parse(value).unwrap()
    }

    fn set(jar: &mut Jar, from: &str, set_cookie: &str) -> bool {
        jar.store(&url(from), &Cookie::parse(set_cookie).unwrap())
    }

    fn scopes(jar: &Jar) -> Vec<String> {
        jar.cookies().iter().map(JarCookie::scope).collect()
    }

    #[test]
    fn a_domain_cookie_and_a_host_only_cookie_of_the_same_name_are_two_cookies_both_sent() {
        let mut jar = Jar::default();

        set(&mut jar, "http://example.com/", "session=host; Path=/");
        set(
            &mut jar,
            "http://example.com/",
            "session=domain; Domain=example.com; Path=/",
        );

        assert_eq!(
            scopes(&jar),
            ["session@host-only:example.com/", "session@example.com/"]
        );
        assert_eq!(
            jar.cookie_header(&url("http://example.com/account"))
                .as_deref(),
            Some("session=host; session=domain")
        );
    }

    #[test]
    fn expiring_the_domain_cookie_leaves_the_host_only_one() {
        let mut jar = Jar::default();
        set(&mut jar, "http://example.com/", "session=host; Path=/");
        set(
            &mut jar,
            "http://example.com/",
            "session=domain; Domain=example.com; Path=/",
        );

        set(
            &mut jar,
            "http://example.com/",
            "session=; Domain=example.com; Path=/; Max-Age=0",
        );

        assert_eq!(scopes(&jar), ["session@host-only:example.com/"]);
        assert_eq!(
            jar.cookie_header(&url("http://example.com/")).as_deref(),
            Some("session=host")
        );
    }

    #[test]
    fn an_expiry_removes_only_the_cookie_of_its_own_path() {
        let mut jar = Jar::default();
        set(&mut jar, "http://example.com/", "theme=root; Path=/");
        set(&mut jar, "http://example.com/", "theme=app; Path=/app");

        set(
            &mut jar,
            "http://example.com/",
            "theme=; Path=/app; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        );

        assert_eq!(scopes(&jar), ["theme@host-only:example.com/"]);
    }

    #[test]
    fn a_domain_that_does_not_cover_the_host_is_refused() {
        let mut jar = Jar::default();

        let foreign = set(
            &mut jar,
            "http://app.example.com/",
            "session=x; Domain=other.example",
        );
        let child = set(
            &mut jar,
            "http://example.com/",
            "session=x; Domain=app.example.com",
        );
        let ip_suffix = set(&mut jar, "http://127.0.0.1/", "session=x; Domain=0.1");

        assert!(!foreign && !child && !ip_suffix);
        assert!(jar.cookies().is_empty());
    }

    #[test]
    fn a_host_only_cookie_goes_to_its_host_only_and_a_domain_cookie_to_subdomains_too() {
        let mut jar = Jar::default();
        set(&mut jar, "http://example.com/", "host=1");
        set(
            &mut jar,
            "http://example.com/",
            "domain=1; Domain=.Example.COM",
        );

        let apex = jar.cookie_header(&url("http://example.com:8080/"));
        let sub = jar.cookie_header(&url("http://app.example.com/"));
        let other = jar.cookie_header(&url("http://badexample.com/"));

        assert_eq!(apex.as_deref(), Some("host=1; domain=1"));
        assert_eq!(sub.as_deref(), Some("domain=1"));
        assert_eq!(other, None);
    }

    #[test]
    fn cookies_go_below_their_path_longer_paths_first_then_oldest_first() {
        let mut jar = Jar::default();
        set(&mut jar, "http://example.com/", "a=root; Path=/");
        set(&mut jar, "http://example.com/", "b=app; Path=/app");
        set(&mut jar, "http://example.com/", "c=root; Path=/");
        // Overwriting keeps the creation time, hence the place in the header.
        set(&mut jar, "http://example.com/", "a=again; Path=/");

        let inside = jar.cookie_header(&url("http://example.com/app/account"));
        let beside = jar.cookie_header(&url("http://example.com/application"));

        assert_eq!(inside.as_deref(), Some("b=app; a=again; c=root"));
        assert_eq!(beside.as_deref(), Some("a=again; c=root"));
    }

    #[test]
    fn a_cookie_without_a_path_gets_the_default_path_of_its_request() {
        let mut jar = Jar::default();

        set(&mut jar, "http://example.com/auth/sign-in?x=1", "deep=1");
        set(&mut jar, "http://example.com/account", "top=1");

        assert_eq!(
            scopes(&jar),
            [
                "deep@host-only:example.com/auth",
                "top@host-only:example.com/"
            ]
        );
    }

    #[test]
    fn secure_cookies_need_https_or_a_loopback_host() {
        let mut jar = Jar::default();

        let plain = set(&mut jar, "http://example.com/", "a=1; Secure");
        let tls = set(&mut jar, "https://example.com/", "b=1; Secure");
        let loopback = set(&mut jar, "http://app.localhost/", "c=1; Secure");

        assert!(!plain && tls && loopback);
        assert_eq!(jar.cookie_header(&url("http://example.com/")), None);
        assert_eq!(
            jar.cookie_header(&url("https://example.com/")).as_deref(),
            Some("b=1")
        );
    }

    #[test]
    fn restored_cookies_replace_those_of_the_same_slot() {
        let mut jar = Jar::default();
        set(&mut jar, "http://example.com/", "session=old");
        set(&mut jar, "http://example.com/", "theme=dark");
        let mut other = Jar::default();
        set(&mut other, "http://example.com/", "session=new");

        jar.extend(other);

        assert_eq!(
            jar.cookie_header(&url("http://example.com/")).as_deref(),
            Some("theme=dark; session=new")
        );
    }
}
