//! RFC 6265 scope rules: which cookies a browser keeps apart, and which it sends where.

/// A cookie scope: the `Domain` (or host-only) and `Path` a cookie was written under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieScope {
    pub domain: Option<String>,
    pub path: String,
}

/// Whether a cookie with `Path=cookie_path` is sent with requests for `request_path`
/// (RFC 6265 §5.1.4).
pub fn path_covers(cookie_path: &str, request_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

/// Whether a cookie with `Domain=domain` is accepted for, and sent to, `host` (RFC 6265 §5.1.3).
pub fn domain_covers(domain: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == domain || host.ends_with(&format!(".{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_covers_itself_and_what_lies_below_it_at_a_slash() {
        assert!(path_covers("/", "/account"));
        assert!(path_covers("/app", "/app"));
        assert!(path_covers("/app", "/app/account"));
        assert!(path_covers("/app/", "/app/account"));
        assert!(!path_covers("/app", "/application"));
        assert!(!path_covers("/app/", "/app"));
    }

    #[test]
    fn a_domain_covers_itself_and_its_subdomains_only() {
        assert!(domain_covers("example.com", "example.com"));
        assert!(domain_covers("example.com", "app.EXAMPLE.com"));
        assert!(!domain_covers("example.com", "badexample.com"));
        assert!(!domain_covers("app.example.com", "example.com"));
    }
}
