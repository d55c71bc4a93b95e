//! `Application`: binds the listeners, opens the database, starts the development IdP when no
//! Cognito pool is configured, builds `AppState` and wires the middleware around the routes. The
//! one module that knows every other. Running and stopping the servers is `shutdown`'s.

pub mod housekeeping;
mod probe;
mod shutdown;

pub use probe::healthcheck;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use url::Url;

use crate::auth::idp::{IdpClient, IdpSettings};
use crate::auth::refresh::Refresher;
use crate::auth::sign_in::MaxAuthAge;
use crate::auth::{AttemptStore, SessionStore};
use crate::check;
use crate::config::{Config, IdpConfig};
use crate::cookies::CookiePolicy;
use crate::db;
use crate::dev_idp::{self, DevClient, DevIdp, DevIdpControl, DevIdpOptions};
use crate::secrets::{Secret, TokenCipher, load_or_create_dev_secret, random_token};
use crate::web::lifecycle::Lifecycle;
use crate::web::pages::list;
use crate::web::{AppState, error_pages, limits, metrics, middleware, routes};

/// The app, and the development IdP when it runs, bound and ready to run.
pub struct Application {
    base_url: Url,
    state: web::Data<AppState>,
    server: Server,
    dev_idp: Option<DevIdp>,
    /// `GET /metrics` on `METRICS_LISTEN`, and its URL.
    metrics: Option<(Url, Server)>,
    shutdown_grace: Duration,
    signals: shutdown::StopSignals,
    /// The housekeeping and, on PostgreSQL, the feed of other instances' session changes.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// With Cognito configured, first checks the user pool against the settings (see
    /// `check`): a definite misconfiguration stops here, naming the setting; an IdP that does
    /// not answer is logged and the app starts anyway. The development IdP is not checked.
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        check::before_start_up(&config).await?;
        let signals = shutdown::StopSignals::listen()?;
        let listener = TcpListener::bind(config.listen)
            .with_context(|| format!("binding APP_LISTEN {}", config.listen))?;
        let metrics_listener = config
            .metrics_listen
            .map(|address| {
                TcpListener::bind(address)
                    .with_context(|| format!("binding METRICS_LISTEN {address}"))
            })
            .transpose()?;
        let port = listener.local_addr()?.port();
        // Tests ask for port 0; the URLs the app hands out must name the real one.
        for url in [&mut config.base_url, &mut config.logout_uri] {
            if url.port() == Some(0) {
                url.set_port(Some(port))
                    .map_err(|()| anyhow::anyhow!("{url} cannot take a port"))?;
            }
        }

        let data_dir = config.data_dir.clone();
        // SQLite's file goes there; with PostgreSQL it is only for development's keys.
        let needs_data_dir = !db::is_postgres_url(config.database_url.expose())
            || config.app_secret.is_none()
            || matches!(config.idp, IdpConfig::Development(_));
        if needs_data_dir {
            std::fs::create_dir_all(&data_dir).map_err(|error| {
                anyhow::anyhow!(
                    "DATABASE_URL: its data folder {} cannot be created ({error})",
                    data_dir.display()
                )
            })?;
        }
        let pool = db::connect(config.database_url.expose()).await?;
        let app_secret = match &config.app_secret {
            Some(secret) => secret.clone(),
            None => load_or_create_dev_secret(&data_dir)?,
        };

        let (settings, dev_idp) = idp_settings(&config, &data_dir)?;
        let http = crate::auth::http::client()?;
        let policy = CookiePolicy::new(&config.cookies);
        let sessions = Arc::new(SessionStore::new(
            pool.clone(),
            TokenCipher::new(&app_secret),
            config.cookies.max_age,
        ));
        let attempts = Arc::new(AttemptStore::new(pool));
        let mut background: Vec<_> = sessions.follow_changes().into_iter().collect();
        background.push(tokio::spawn({
            let (sessions, attempts) = (sessions.clone(), attempts.clone());
            async move { housekeeping::run(&sessions, &attempts).await }
        }));
        let idp = Arc::new(IdpClient::new(http, &settings)?);
        let metrics = match metrics_listener {
            Some(listener) => {
                let url = Url::parse(&format!("http://{}/metrics", listener.local_addr()?))?;
                let server = metrics::server(listener, metrics::recorder()?, sessions.clone())?;
                Some((url, server))
            }
            None => None,
        };
        let max_auth_age = web::Data::new(MaxAuthAge(config.admin_max_auth_age));
        let state = web::Data::new(AppState {
            base_url: config.base_url.clone(),
            base_path: config.base_path().to_owned(),
            refresher: Refresher::new(idp.clone(), sessions.clone()),
            sessions,
            attempts,
            idp,
            policy,
            lifecycle: Lifecycle::default(),
        });

        let app_state = state.clone();
        let base_url = config.base_url.clone();
        let idp_domain = settings.domain.clone();
        let base_path = config.base_path().to_owned();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(max_auth_age.clone())
                .app_data(web::FormConfig::default().limit(16 * 1024))
                // Innermost first: limits refuse before any handler; every error becomes a page;
                // duplicate cookies are expired on whatever the response ends up being; every
                // log line of the request carries its span.
                .wrap(from_fn(limits::enforce))
                .wrap(from_fn(error_pages::render_errors))
                .wrap(from_fn(middleware::expire_duplicates))
                .wrap(middleware::security_headers(&base_url, &idp_domain))
                .wrap(from_fn(middleware::request_span))
                .service(web::scope(&base_path).configure(routes::configure))
                .default_service(web::to(routes::not_found))
        })
        // Stopping is `shutdown`'s: readiness first, then the connections, within the grace.
        .disable_signals()
        .shutdown_timeout(config.shutdown_grace.as_secs())
        .listen(listener)?
        .run();

        Ok(Self {
            base_url: config.base_url,
            state: app_state,
            server,
            dev_idp,
            metrics,
            shutdown_grace: config.shutdown_grace,
            signals,
            background,
        })
    }

    /// Where `GET /metrics` is served, when `METRICS_LISTEN` is set.
    pub fn metrics_url(&self) -> Option<&Url> {
        self.metrics.as_ref().map(|(url, _)| url)
    }

    /// The state the handlers share (for tests and tools running the app in-process).
    pub fn state(&self) -> &web::Data<AppState> {
        &self.state
    }

    /// The app's public origin.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The development IdP's control handle, when it runs.
    pub fn dev_idp(&self) -> Option<&DevIdpControl> {
        self.dev_idp.as_ref().map(|idp| &idp.control)
    }

    /// The development IdP's origin, when it runs.
    pub fn dev_idp_url(&self) -> Option<&Url> {
        self.dev_idp.as_ref().map(|idp| &idp.url)
    }

    /// The development IdP's issuer and the app client it registered (with its secret), so
    /// another app process can be pointed at the same IdP as if it were Cognito.
    pub fn dev_idp_client(&self) -> Option<(&str, &DevClient)> {
        self.dev_idp
            .as_ref()
            .map(|idp| (idp.issuer.as_str(), &idp.client))
    }

    /// Handles that stop the servers (the app's, the development IdP's, the metrics listener's).
    pub fn stop_handles(&self) -> Vec<ServerHandle> {
        std::iter::once(self.server.handle())
            .chain(self.dev_idp.as_ref().map(DevIdp::handle))
            .chain(self.metrics.as_ref().map(|(_, server)| server.handle()))
            .collect()
    }

    /// Logs where to browse, and, for the development IdP, a loud banner and the demo accounts.
    pub fn announce(&self) {
        if let Some(idp) = &self.dev_idp {
            tracing::warn!("================================================================");
            tracing::warn!("DEVELOPMENT IDENTITY PROVIDER at {} (not Cognito)", idp.url);
            tracing::warn!("it is for local use only: set COGNITO_DOMAIN, COGNITO_ISSUER and");
            tracing::warn!("COGNITO_CLIENT_ID to use a real Cognito user pool instead");
            tracing::warn!("================================================================");
            for user in dev_idp::users::DEMO_USERS {
                tracing::info!(
                    "demo account: {} / {} (groups: {})",
                    user.username,
                    user.password,
                    list(user.groups)
                );
            }
        }
        if let Some(url) = self.metrics_url() {
            tracing::info!("metrics at {url}");
        }
        tracing::info!("browse to {}", self.base_url);
    }

    /// Runs the app (and the development IdP and the metrics listener) until SIGTERM or Ctrl-C,
    /// then stops gracefully within `SHUTDOWN_GRACE_SECONDS`; or until one of them stops. When
    /// the grace runs out, or a second signal comes, the process exits there and then.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let servers = shutdown::Servers {
            app: self.server,
            dev_idp: self.dev_idp.map(DevIdp::into_server),
            metrics: self.metrics.map(|(_, server)| server),
        };
        let stopped = shutdown::run(self.state, servers, self.signals, self.shutdown_grace).await;
        for task in self.background {
            task.abort();
        }
        stopped
    }
}

/// The IdP to talk to: the configured Cognito pool, or a development IdP started here.
fn idp_settings(
    config: &Config,
    data_dir: &std::path::Path,
) -> anyhow::Result<(IdpSettings, Option<DevIdp>)> {
    let redirect_uri = config.redirect_uri();
    match &config.idp {
        IdpConfig::Cognito(cognito) => Ok((
            IdpSettings {
                domain: cognito.domain.clone(),
                issuer: cognito.issuer.as_str().to_owned(),
                client_id: cognito.client_id.clone(),
                client_secret: cognito.client_secret.clone(),
                redirect_uri,
                logout_uri: config.logout_uri.clone(),
                scopes: config.scopes.clone(),
                identity_providers: config.identity_providers.clone(),
                login_hint: config.login_hint.clone(),
            },
            None,
        )),
        IdpConfig::Development(dev) => {
            // A confidential client, as a server-side app should be; the secret lives only in
            // this process, shared by the IdP and the app.
            let client = DevClient {
                client_id: dev_idp::CLIENT_ID.to_owned(),
                client_secret: Some(
                    dev.client_secret
                        .as_ref()
                        .map(|secret| secret.expose().clone())
                        .unwrap_or_else(|| random_token(32)),
                ),
                callback_urls: vec![redirect_uri.to_string()],
                logout_urls: vec![config.logout_uri.to_string()],
            };
            let idp = DevIdp::start(DevIdpOptions {
                listen: dev.listen,
                access_token_ttl: dev.access_token_ttl,
                data_dir: data_dir.to_owned(),
                client: client.clone(),
                refresh_rotation: dev.refresh_rotation,
                rotation_grace: dev.rotation_grace,
                identity_providers: config.identity_providers.clone(),
            })?;
            let settings = IdpSettings {
                domain: idp.url.clone(),
                issuer: idp.issuer.clone(),
                client_id: client.client_id,
                client_secret: client.client_secret.map(Secret::new),
                redirect_uri,
                logout_uri: config.logout_uri.clone(),
                scopes: config.scopes.clone(),
                identity_providers: config.identity_providers.clone(),
                login_hint: config.login_hint.clone(),
            };
            Ok((settings, Some(idp)))
        }
    }
}
