//! Reading the cookies a request carries, as the browser sent them: every value of a name, in
//! order, since cookies of one name under several scopes all arrive.

use actix_web::http::header::{self, HeaderMap};

/// The value of the first cookie called `name` that the request carries.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    read_all(headers, name).into_iter().next()
}

/// Every value of the cookies called `name`, in the order the browser sent them. More than one
/// means cookies of that name exist under several scopes (Domain or Path).
pub fn read_all(headers: &HeaderMap, name: &str) -> Vec<String> {
    sent(headers)
        .filter(|(sent_name, _)| *sent_name == name)
        .map(|(_, value)| value.to_owned())
        .collect()
}

/// The names of the cookies the request carries, in order, repeated as often as sent.
pub fn sent_names(headers: &HeaderMap) -> Vec<String> {
    sent(headers).map(|(name, _)| name.to_owned()).collect()
}

fn sent(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = name.trim();
            (!name.is_empty()).then(|| (name, value.trim().trim_matches('"')))
        })
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;
    use actix_web::test::TestRequest;
    use proptest::prelude::*;

    use super::*;
    use crate::cookies::{SESSION_COOKIE, THEME_COOKIE};

    proptest! {
        #[test]
        fn any_cookie_header_parses_without_panic_into_plain_names(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let Ok(value) = HeaderValue::from_bytes(&bytes) else { return Ok(()) };
            let req = TestRequest::default().insert_header((header::COOKIE, value)).to_http_request();

            let names = sent_names(req.headers());
            for name in &names {
                prop_assert!(!name.is_empty() && !name.contains(';') && !name.contains('='));
            }
            let sessions = names.iter().filter(|name| *name == SESSION_COOKIE).count();
            prop_assert_eq!(read_all(req.headers(), SESSION_COOKIE).len(), sessions);
        }

        #[test]
        fn every_pair_written_is_read_back_in_order(values in proptest::collection::vec("[A-Za-z0-9_-]{0,20}", 0..6)) {
            let header_value = values
                .iter()
                .map(|value| format!("{SESSION_COOKIE}={value}; {THEME_COOKIE}=x"))
                .collect::<Vec<_>>()
                .join("; ");
            let req = TestRequest::default().insert_header((header::COOKIE, header_value)).to_http_request();

            prop_assert_eq!(read_all(req.headers(), SESSION_COOKIE), values);
        }
    }

    #[test]
    fn every_value_of_a_repeated_cookie_is_read_in_order() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "session=a; theme=dark; session=b"))
            .to_http_request();

        assert_eq!(read_all(req.headers(), SESSION_COOKIE), ["a", "b"]);
        assert_eq!(sent_names(req.headers()), ["session", "theme", "session"]);
        assert_eq!(read(req.headers(), THEME_COOKIE).as_deref(), Some("dark"));
    }
}
