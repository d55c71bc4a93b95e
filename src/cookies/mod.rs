//! Cookies: the one policy that builds and expires every cookie (`policy`), the RFC 6265 scope
//! rules (`scope`), and reading what a request carries (`read`). Names are constants here.

mod policy;
mod read;
mod scope;

pub use policy::{CookiePolicy, CookieSettings, same_site_name};
pub use read::{read, read_all, sent_names, sign_in_states};
pub use scope::{CookieScope, domain_covers, path_covers};

/// Holds the opaque session id. HttpOnly, persistent.
pub const SESSION_COOKIE: &str = "session";
/// Holds the `state` of each sign-in attempt in flight between `/auth/sign-in` and
/// `/auth/callback` (several tabs may sign in at once), separated by `.`. HttpOnly, lives for the
/// browser session; the server forgets an attempt after 10 minutes.
pub const SIGN_IN_COOKIE: &str = "sign_in";
/// The theme preference (`light` or `dark`), written by `static/app.js`. Readable by scripts.
pub const THEME_COOKIE: &str = "theme";
/// Every cookie the app owns: the ones sign-out expires.
pub const OWNED_COOKIES: [&str; 3] = [SESSION_COOKIE, SIGN_IN_COOKIE, THEME_COOKIE];
/// Most sign-in attempts one browser keeps in flight; starting another drops the oldest.
pub const MAX_SIGN_INS_IN_FLIGHT: usize = 3;
