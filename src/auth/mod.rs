//! The domain: who the user is. The IdP client, the sign-in flow, ID-token checks, sessions (the
//! store and its cache), server-side refresh and sign-out. Nothing here knows actix or renders a
//! page: each function takes what it uses and returns its own error type.

pub mod attempts;
pub mod cache;
pub mod http;
pub mod id_token;
pub mod idp;
pub mod profile;
pub mod refresh;
pub mod return_to;
pub mod sessions;
pub mod sign_in;
pub mod sign_out;

pub use attempts::AttemptStore;
pub use idp::IdpClient;
pub use sessions::{ADMIN_GROUP, Session, SessionStore, User};

/// Why a signed-in request could not get what it needed of its session at the IdP.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The IdP no longer accepts the session's tokens: the session has been ended here.
    #[error("the identity provider ended the session")]
    Ended,
    /// The IdP could not be reached or failed; the session is kept and the next request retries.
    #[error("the identity provider could not be reached")]
    IdpUnreachable(#[source] anyhow::Error),
    /// Our own failure (the database, most likely).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}
