//! Everything actix knows: the state handlers share, the extractors that find the session, the
//! middleware, the mapping of domain errors to pages, the page glue, and the routes. It calls into
//! `auth` for everything about the user; `auth` knows nothing of it.

pub mod error_pages;
pub mod errors;
pub mod extract;
pub mod lifecycle;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod pages;
pub mod routes;
pub mod state;
pub mod user_agent;

pub use errors::AppError;
pub use extract::{Admin, Fresh, MaybeSignedIn, SignedIn};
pub use state::AppState;
