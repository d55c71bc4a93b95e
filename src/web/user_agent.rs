//! A short description of a browser from its User-Agent header, for the page of sessions:
//! "Chrome on Linux", "Safari on iPhone", "curl". A few substring checks, not a full parser:
//! the text only helps a person tell their sessions apart, and nothing is decided by it.

/// What the page of sessions calls a browser that sent `user_agent`.
pub fn describe(user_agent: &str) -> String {
    if user_agent.starts_with("curl/") {
        return "curl".to_owned();
    }
    match (browser(user_agent), platform(user_agent)) {
        (Some(browser), Some(platform)) => format!("{browser} on {platform}"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(platform)) => format!("Unknown browser on {platform}"),
        (None, None) => "Unknown browser".to_owned(),
    }
}

/// The browser. Order matters: Edge and Opera also say `Chrome/`, Chrome also says `Safari/`,
/// and the iOS browsers use their own tokens beside Safari's.
fn browser(user_agent: &str) -> Option<&'static str> {
    let has = |token: &str| user_agent.contains(token);
    if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
        Some("Edge")
    } else if has("OPR/") {
        Some("Opera")
    } else if has("Firefox/") || has("FxiOS/") {
        Some("Firefox")
    } else if has("Chrome/") || has("CriOS/") || has("Chromium/") {
        Some("Chrome")
    } else if has("Safari/") && has("Version/") {
        Some("Safari")
    } else {
        None
    }
}

/// The device or operating system. iPhones and iPads also say `Mac OS X`, Android says `Linux`.
fn platform(user_agent: &str) -> Option<&'static str> {
    let has = |token: &str| user_agent.contains(token);
    if has("iPhone") {
        Some("iPhone")
    } else if has("iPad") {
        Some("iPad")
    } else if has("Android") {
        Some("Android")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Macintosh") || has("Mac OS X") {
        Some("macOS")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Linux") {
        Some("Linux")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_browsers_are_named_with_their_platform() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
                "Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
                "Chrome on iPad",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
                "Firefox on iPhone",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
                "Opera on Windows",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
                "Firefox on Android",
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on ChromeOS",
            ),
        ];

        for (user_agent, expected) in cases {
            assert_eq!(describe(user_agent), expected, "{user_agent}");
        }
    }

    #[test]
    fn tools_and_strangers_get_a_plain_name() {
        let cases = [
            ("curl/8.5.0", "curl"),
            ("", "Unknown browser"),
            ("python-requests/2.32", "Unknown browser"),
            (
                "Mozilla/5.0 (X11; Linux x86_64) Something/1.0",
                "Unknown browser on Linux",
            ),
            ("Mozilla/5.0 Firefox/133.0", "Firefox"),
        ];

        for (user_agent, expected) in cases {
            assert_eq!(describe(user_agent), expected, "{user_agent:?}");
        }
    }
}
