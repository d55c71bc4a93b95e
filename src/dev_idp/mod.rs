//! The development identity provider: a stand-in for a Cognito user pool with managed login, so
//! the app runs and is tested offline. Same paths, parameters, claims, statuses and error bodies
//! as Cognito (see `docs/cognito-protocol.md`). The app reaches it only over HTTP.
//!
//! It also has a control surface that Cognito has not, under `/_dev/` on its own port (never on
//! the app's): call counts, failure switches, revocation of a user's tokens, key rotation,
//! refresh-token rotation and forged ID tokens.
//!
//! One module per endpoint group: `authorize` and `login` (the browser's way in), `token`,
//! `account` (userInfo, revoke, logout), `discovery`, and `control`; `routes` is the table.
//! Beside them: `keys` and `tokens` (what it signs and seals), `rotation` (refresh-token rotation),
//! `state`, and `files` (what it keeps in the data folder).

mod account;
mod authorize;
mod control;
mod discovery;
mod files;
mod forgery;
mod http;
mod keys;
mod login;
mod rotation;
mod routes;
mod state;
mod token;
mod tokens;
pub mod users;

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use url::Url;

pub use control::{CONTROL_HEADER, DevIdpControl, TokenFailure};
pub use discovery::DiscoveryFault;
pub use forgery::Forgery;
pub use keys::KeySet;
use state::IdpState;

/// The pool id in the development issuer, shaped like Cognito's `{region}_{id}`.
pub const POOL_ID: &str = "local-1_DevPool";
/// The app client id the development IdP registers for the app.
pub const CLIENT_ID: &str = "devappclient00000000000000";

/// The app client the development IdP knows: its secret and its registered URLs.
#[derive(Clone)]
pub struct DevClient {
    pub client_id: String,
    /// `None` for a public client (PKCE only).
    pub client_secret: Option<String>,
    /// Allowed callback URLs, matched exactly.
    pub callback_urls: Vec<String>,
    /// Allowed sign-out URLs, matched exactly.
    pub logout_urls: Vec<String>,
}

/// Written by hand so that the client secret never reaches a log line or a panic message.
impl fmt::Debug for DevClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevClient")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("callback_urls", &self.callback_urls)
            .field("logout_urls", &self.logout_urls)
            .finish()
    }
}

/// How to start the development IdP.
#[derive(Debug, Clone)]
pub struct DevIdpOptions {
    pub listen: SocketAddr,
    pub access_token_ttl: Duration,
    /// Where its keys, revocations and rotated-out refresh tokens are kept.
    pub data_dir: PathBuf,
    pub client: DevClient,
    /// Refresh-token rotation on at start (switchable at run time through [`DevIdpControl`]).
    pub refresh_rotation: bool,
    /// How long a rotated-out refresh token still works after its first use; at most 60 seconds.
    pub rotation_grace: Duration,
    /// The pool's external identity providers, by the names `identity_provider=` accepts.
    pub identity_providers: Vec<String>,
}

/// A running development IdP.
pub struct DevIdp {
    pub url: Url,
    pub issuer: String,
    pub client: DevClient,
    pub control: DevIdpControl,
    server: Server,
}

impl DevIdp {
    /// Binds `options.listen` (port 0 picks a free one) and prepares the server.
    pub fn start(options: DevIdpOptions) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(options.listen)
            .with_context(|| format!("binding DEV_IDP_LISTEN {}", options.listen))?;
        let address = listener.local_addr()?;
        let url = Url::parse(&format!("http://{address}")).context("the development IdP's URL")?;
        let issuer = format!("http://{address}/{POOL_ID}");
        let keys = KeySet::load_or_create(&options.data_dir)?;
        let state = Arc::new(IdpState::new(issuer.clone(), &options, keys)?);
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .configure(routes::configure)
        })
        .workers(1)
        // The app stops it after its own requests and refreshes, which may still need it.
        .disable_signals()
        .listen(listener)?
        .run();
        Ok(Self {
            url,
            issuer,
            client: options.client,
            control: DevIdpControl(state),
            server,
        })
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn into_server(self) -> Server {
        self.server
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dev_client_never_shows_its_secret_in_debug_output() {
        let client = DevClient {
            client_id: CLIENT_ID.to_owned(),
            client_secret: Some("s3cr3t-value".to_owned()),
            callback_urls: vec![],
            logout_urls: vec![],
        };

        let printed = format!("{client:?}");

        assert!(!printed.contains("s3cr3t-value"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }
}
