use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::cookies::{self, OWNED_COOKIES, same_site_name};
use crate::web::pages::{Layout, page, render};
use crate::web::{AppError, AppState, MaybeSignedIn};

#[derive(Template)]
#[template(path = "diagnostics.html")]
pub struct DiagnosticsPage {
    layout: Layout,
    cookies: Vec<SentCookie>,
    domain: String,
    path: String,
    same_site: &'static str,
    secure: bool,
    max_age: u64,
    legacy_scopes: Vec<String>,
}

page!(DiagnosticsPage);

/// A cookie name the browser sent, and what is odd about it. Values are never shown.
pub struct SentCookie {
    name: String,
    count: usize,
    known: bool,
}

/// GET /diagnostics/cookies: what the browser sent, against the active policy.
pub async fn cookies(
    req: HttpRequest,
    MaybeSignedIn(session): MaybeSignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let policy = &state.policy;
    let scope = policy.scope();
    let page = DiagnosticsPage {
        layout: Layout::new(&state, session.as_ref()),
        cookies: sent_cookies(&req),
        domain: scope.domain.clone().unwrap_or_else(|| "(host-only)".into()),
        path: scope.path.clone(),
        same_site: same_site_name(policy.same_site()),
        secure: policy.secure(),
        max_age: policy.max_age().as_secs(),
        legacy_scopes: policy
            .legacy_scopes()
            .iter()
            .map(|scope| {
                format!(
                    "{} | {}",
                    scope.domain.as_deref().unwrap_or("(host-only)"),
                    scope.path
                )
            })
            .collect(),
    };
    render(&page)
}

/// Every cookie name the request carries, in order of first appearance, counted.
fn sent_cookies(req: &HttpRequest) -> Vec<SentCookie> {
    let mut sent: Vec<SentCookie> = Vec::new();
    for name in cookies::sent_names(req.headers()) {
        match sent.iter_mut().find(|cookie| cookie.name == name) {
            Some(cookie) => cookie.count += 1,
            None => sent.push(SentCookie {
                known: OWNED_COOKIES.contains(&name.as_str()),
                name,
                count: 1,
            }),
        }
    }
    sent
}
