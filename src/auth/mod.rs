//! Everything about who the user is: the IdP client, the sign-in flow, ID-token checks,
//! sessions and server-side refresh. Handlers call into here; nothing here renders pages.

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

pub use sessions::{ADMIN_GROUP, MaybeSignedIn, Session, SessionStore, SignedIn, User};
