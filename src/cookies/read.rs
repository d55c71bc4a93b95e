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

/// The `state` of every sign-in attempt the browser has in flight, oldest first, at most
/// [`MAX_SIGN_INS_IN_FLIGHT`](super::MAX_SIGN_INS_IN_FLIGHT).
pub fn sign_in_states(headers: &HeaderMap) -> Vec<String> {
    let mut states: Vec<String> = Vec::new();
    for value in read_all(headers, super::SIGN_IN_COOKIE) {
        for state in value.split('.').filter(|state| !state.is_empty()) {
            if !states.iter().any(|known| known == state) {
                states.push(state.to_owned());
            }
        }
    }
    let extra = states.len().saturating_sub(super::MAX_SIGN_INS_IN_FLIGHT);
    states.drain(..extra);
    states
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
    fn the_sign_in_states_are_read_oldest_first_without_repeats_and_capped() {
        let req = TestRequest::default()
            .insert_header((header::COOKIE, "sign_in=a.b..a; theme=x; sign_in=c.d"))
            .to_http_request();

        assert_eq!(sign_in_states(req.headers()), ["b", "c", "d"]);
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
