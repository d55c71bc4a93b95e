//! Security headers on every page, and no caching of anything authenticated.

use crate::helpers::{Reply, spawn_app, spawn_app_with};

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("{} has no {name}", reply.url))
        .to_str()
        .unwrap()
}

async fn sample_pages(app: &crate::helpers::TestApp) -> Vec<Reply> {
    let mut pages = vec![
        app.get("/").await,
        app.get("/nope").await,
        app.get("/account").await,
        app.get_sign_in(None).await,
    ];
    app.sign_in_as("demo").await;
    for path in [
        "/",
        "/account",
        "/account/sessions",
        "/admin",
        "/diagnostics/cookies",
        "/static/app.css",
    ] {
        pages.push(app.get(path).await);
    }
    pages
}

#[tokio::test]
async fn every_page_has_a_content_security_policy_without_inline_scripts() {
    let app = spawn_app().await;

    for page in sample_pages(&app).await {
        let csp = header(&page, "content-security-policy");

        let script_src = csp
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .expect("a script-src");
        assert_eq!(script_src, "script-src 'self'", "{}", page.url);
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{}",
            page.url
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{}", page.url);
        assert!(
            csp.contains("object-src 'none'") && csp.contains("base-uri 'none'"),
            "{}",
            page.url
        );
    }
}

#[tokio::test]
async fn every_page_says_nosniff_and_a_referrer_policy() {
    let app = spawn_app().await;

    for page in sample_pages(&app).await {
        assert_eq!(
            header(&page, "x-content-type-options"),
            "nosniff",
            "{}",
            page.url
        );
        assert_eq!(
            header(&page, "referrer-policy"),
            "same-origin",
            "{}",
            page.url
        );
        assert_eq!(header(&page, "x-frame-options"), "DENY", "{}", page.url);
    }
}

#[tokio::test]
async fn strict_transport_security_is_sent_exactly_when_the_app_is_https() {
    let http = spawn_app().await;
    let https = spawn_app_with(&[
        ("APP_BASE_URL", "https://localhost:0"),
        ("COOKIE_SECURE", "false"),
    ])
    .await;

    let plain = http.get("/").await;
    // The app listens on plain http; TLS would end in front of it.
    let secure = https
        .get(&format!(
            "http://localhost:{}/",
            https.app_url.port().unwrap()
        ))
        .await;

    assert!(plain.headers.get("strict-transport-security").is_none());
    assert_eq!(
        header(&secure, "strict-transport-security"),
        "max-age=31536000; includeSubDomains"
    );
}

#[tokio::test]
async fn authenticated_pages_and_auth_redirects_are_never_stored() {
    let app = spawn_app().await;
    let mut replies = vec![
        app.get("/account").await,
        app.get_sign_in(Some("/admin")).await,
    ];
    let callback = app.callback_url("demo", None).await;
    replies.push(app.get(callback.as_str()).await);
    for path in [
        "/",
        "/account",
        "/account/sessions",
        "/admin",
        "/diagnostics/cookies",
    ] {
        replies.push(app.get(path).await);
    }
    replies.push(
        app.post_sign_out_other_sessions(&app.csrf_token().await)
            .await,
    );
    replies.push(app.post_sign_out(&app.csrf_token().await).await);
    replies.push(app.get("/auth/callback?code=x&state=y").await);

    for reply in replies {
        assert_eq!(
            header(&reply, "cache-control"),
            "no-store",
            "{} ({})",
            reply.url,
            reply.status
        );
    }
}
