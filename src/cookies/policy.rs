//! `CookiePolicy`: the only code that builds or expires a cookie, and the JSON copy of the policy
//! that every page hands to `static/app.js`, so browser-written cookies match it too.

use std::time::Duration;

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use serde::Serialize;

use super::scope::CookieScope;
use super::{OWNED_COOKIES, SESSION_COOKIE, SIGN_IN_COOKIE, THEME_COOKIE};

/// The attributes every cookie gets, as the settings give them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    /// `Domain` attribute; `None` for host-only cookies.
    pub domain: Option<String>,
    /// `Path` attribute.
    pub path: String,
    /// `SameSite` attribute.
    pub same_site: SameSite,
    /// `Secure` attribute, with `auto` already resolved against `APP_BASE_URL`.
    pub secure: bool,
    /// Lifetime of persistent cookies.
    pub max_age: Duration,
    /// `domain|path` scopes that earlier deployments used; cookies there are expired on sign-out.
    pub legacy_scopes: Vec<CookieScope>,
}

/// The cookie policy, built once from the settings at start-up.
#[derive(Debug, Clone)]
pub struct CookiePolicy {
    scope: CookieScope,
    same_site: SameSite,
    secure: bool,
    max_age: Duration,
    legacy_scopes: Vec<CookieScope>,
    app_config_json: String,
}

impl CookiePolicy {
    pub fn new(config: &CookieSettings) -> Self {
        let mut policy = Self {
            scope: CookieScope {
                domain: config.domain.clone(),
                path: config.path.clone(),
            },
            same_site: config.same_site,
            secure: config.secure,
            max_age: config.max_age,
            legacy_scopes: config.legacy_scopes.clone(),
            app_config_json: String::new(),
        };
        policy.app_config_json = policy.render_app_config();
        policy
    }

    /// The session cookie carrying `id`.
    pub fn session(&self, id: &str) -> Cookie<'static> {
        self.build(SESSION_COOKIE, id.to_owned(), &self.scope)
            .max_age(self.cookie_max_age())
            .finish()
    }

    /// The cookie that binds the sign-in attempts in flight (their `state`s, oldest first) to
    /// this browser; with none left, the cookie that deletes it.
    ///
    /// The one documented exception to the policy: under `SameSite=Strict` it is written `Lax`,
    /// because the browser arrives at `/auth/callback` through a cross-site redirect from the IdP,
    /// and a Strict cookie would not be sent there. It holds no credential: only random `state`s.
    pub fn sign_in_attempts(&self, states: &[String]) -> Cookie<'static> {
        if states.is_empty() {
            return self.expire(SIGN_IN_COOKIE);
        }
        let newest = &states[states.len().saturating_sub(super::MAX_SIGN_INS_IN_FLIGHT)..];
        self.build(SIGN_IN_COOKIE, newest.join("."), &self.scope)
            .finish()
    }

    /// A cookie that deletes `name` under the policy's own scope.
    pub fn expire(&self, name: &'static str) -> Cookie<'static> {
        self.expire_in(name, &self.scope)
    }

    /// Deletes every cookie the app owns, under the policy's scope and under each legacy scope.
    pub fn expire_everywhere(&self) -> Vec<Cookie<'static>> {
        std::iter::once(&self.scope)
            .chain(&self.legacy_scopes)
            .flat_map(|scope| OWNED_COOKIES.map(|name| self.expire_in(name, scope)))
            .collect()
    }

    /// Deletes the cookies called `names` under each legacy scope (not the current one).
    pub fn expire_legacy(&self, names: &[&'static str]) -> Vec<Cookie<'static>> {
        self.legacy_scopes
            .iter()
            .flat_map(|scope| names.iter().map(|name| self.expire_in(name, scope)))
            .collect()
    }

    /// The policy as the JSON object of the `app-config` block, already safe inside `<script>`.
    pub fn app_config_json(&self) -> &str {
        &self.app_config_json
    }

    pub fn scope(&self) -> &CookieScope {
        &self.scope
    }

    pub fn legacy_scopes(&self) -> &[CookieScope] {
        &self.legacy_scopes
    }

    pub fn same_site(&self) -> SameSite {
        self.same_site
    }

    pub fn secure(&self) -> bool {
        self.secure
    }

    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    fn expire_in(&self, name: &'static str, scope: &CookieScope) -> Cookie<'static> {
        let mut cookie = self.build(name, String::new(), scope).finish();
        cookie.make_removal();
        cookie
    }

    fn build(
        &self,
        name: &'static str,
        value: String,
        scope: &CookieScope,
    ) -> actix_web::cookie::CookieBuilder<'static> {
        let same_site = match (name, self.same_site) {
            (SIGN_IN_COOKIE, SameSite::Strict) => SameSite::Lax,
            (_, same_site) => same_site,
        };
        let mut builder = Cookie::build(name, value)
            .path(scope.path.clone())
            .same_site(same_site)
            .secure(self.secure)
            // Only the theme is meant for scripts; the rest carry nothing the page needs.
            .http_only(name != THEME_COOKIE);
        if let Some(domain) = &scope.domain {
            builder = builder.domain(domain.clone());
        }
        builder
    }

    fn cookie_max_age(&self) -> CookieDuration {
        CookieDuration::seconds(i64::try_from(self.max_age.as_secs()).unwrap_or(i64::MAX))
    }

    fn render_app_config(&self) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Cookies<'a> {
            domain: Option<&'a str>,
            path: &'a str,
            same_site: &'a str,
            secure: bool,
            max_age: u64,
        }
        #[derive(Serialize)]
        struct AppConfig<'a> {
            cookies: Cookies<'a>,
        }
        let config = AppConfig {
            cookies: Cookies {
                domain: self.scope.domain.as_deref(),
                path: &self.scope.path,
                same_site: same_site_name(self.same_site),
                secure: self.secure,
                max_age: self.max_age.as_secs(),
            },
        };
        let json = serde_json::to_string(&config).expect("the app config serialises");
        // Inside <script>, no value may close the element or open a comment.
        json.replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
    }
}

/// The lower-case SameSite name used in settings and in the `app-config` block.
pub fn same_site_name(same_site: SameSite) -> &'static str {
    match same_site {
        SameSite::Strict => "strict",
        SameSite::Lax => "lax",
        SameSite::None => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(domain: Option<&str>, path: &str, same_site: SameSite, secure: bool) -> CookiePolicy {
        CookiePolicy::new(&CookieSettings {
            domain: domain.map(str::to_owned),
            path: path.into(),
            same_site,
            secure,
            max_age: Duration::from_secs(600),
            legacy_scopes: vec![CookieScope {
                domain: Some("example.com".into()),
                path: "/old".into(),
            }],
        })
    }

    #[test]
    fn the_session_cookie_takes_every_attribute_from_the_policy() {
        let cookie = policy(Some("app.example.com"), "/app", SameSite::Strict, true).session("id");

        assert_eq!(
            cookie.to_string(),
            "session=id; HttpOnly; SameSite=Strict; Secure; Path=/app; Domain=app.example.com; Max-Age=600"
        );
    }

    #[test]
    fn the_sign_in_cookie_is_lax_under_strict_and_follows_the_policy_otherwise() {
        let strict = policy(None, "/", SameSite::Strict, false).sign_in_attempts(&["s".into()]);
        let none = policy(None, "/", SameSite::None, true).sign_in_attempts(&["s".into()]);

        assert_eq!(strict.same_site(), Some(SameSite::Lax));
        assert_eq!(strict.max_age(), None);
        assert_eq!(none.same_site(), Some(SameSite::None));
    }

    #[test]
    fn the_sign_in_cookie_keeps_the_newest_attempts_and_expires_with_none_left() {
        let policy = policy(None, "/", SameSite::Lax, false);
        let states: Vec<String> = ["a", "b", "c", "d"].map(String::from).into();

        let kept = policy.sign_in_attempts(&states);
        let none = policy.sign_in_attempts(&[]);

        assert_eq!(kept.value(), "b.c.d");
        assert_eq!(
            (none.value(), none.max_age()),
            ("", Some(CookieDuration::ZERO))
        );
        assert_eq!(none.path(), kept.path());
    }

    #[test]
    fn expiring_everywhere_covers_every_owned_cookie_under_every_scope() {
        let cookies = policy(None, "/", SameSite::Lax, false).expire_everywhere();

        assert_eq!(cookies.len(), 6);
        for cookie in &cookies {
            assert_eq!(cookie.value(), "");
            assert_eq!(cookie.max_age(), Some(CookieDuration::ZERO));
        }
        let legacy: Vec<_> = cookies
            .iter()
            .filter(|c| c.domain() == Some("example.com"))
            .collect();
        assert_eq!(legacy.len(), 3);
        assert!(legacy.iter().all(|c| c.path() == Some("/old")));
    }

    #[test]
    fn only_the_theme_cookie_is_readable_by_scripts() {
        let policy = policy(None, "/", SameSite::Lax, false);

        assert_eq!(policy.expire(THEME_COOKIE).http_only(), Some(false));
        assert_eq!(policy.expire(SESSION_COOKIE).http_only(), Some(true));
        assert_eq!(policy.expire(SIGN_IN_COOKIE).http_only(), Some(true));
    }

    #[test]
    fn the_app_config_json_has_the_documented_shape_and_cannot_close_the_script() {
        let default = policy(None, "/", SameSite::Lax, false);
        let hostile = policy(None, "/</script><x>&", SameSite::Lax, false);

        assert_eq!(
            default.app_config_json(),
            r#"{"cookies":{"domain":null,"path":"/","sameSite":"lax","secure":false,"maxAge":600}}"#
        );
        assert!(!hostile.app_config_json().contains('<'));
        assert!(!hostile.app_config_json().contains('&'));
        let parsed: serde_json::Value = serde_json::from_str(hostile.app_config_json()).unwrap();
        assert_eq!(parsed["cookies"]["path"], "/</script><x>&");
    }
}
