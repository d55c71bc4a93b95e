//! Settings of the app itself: where it is served and bound, its database, its secret, how recent
//! a sign-in `/admin` needs, and its log filter.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tracing_subscriber::EnvFilter;
use url::Url;

use super::{ConfigError, IdpConfig, error, parse_http_url, parse_socket_addr};
use crate::secrets::{MIN_SECRET_BYTES, Secret};

const EXAMPLE_SECRET: &str = "$(openssl rand -base64 64)";

/// `APP_BASE_URL`: an origin, perhaps with a path of plain segments, made to end in `/`.
pub(super) fn parse_base_url(value: Option<String>) -> Result<Url, ConfigError> {
    const EXAMPLE: &str = "http://localhost:8080";
    let Some(value) = value else {
        return Ok(Url::parse(EXAMPLE).expect("the default base URL parses"));
    };
    let mut url = parse_http_url("APP_BASE_URL", &value, EXAMPLE)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(error(
            "APP_BASE_URL",
            format!("{value:?} must be an origin and perhaps a path, without a query or fragment"),
            EXAMPLE,
        ));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    if !path.is_empty() && !path[1..].split('/').all(is_plain_segment) {
        return Err(error(
            "APP_BASE_URL",
            format!("{value:?} has a path that is not plain segments of letters, digits and -._~"),
            "https://example.com/app",
        ));
    }
    // The app's own paths are joined onto this one, so it ends in a slash.
    url.set_path(&format!("{path}/"));
    Ok(url)
}

fn is_plain_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
}

/// `APP_LISTEN`: the socket address the app binds.
pub(super) fn parse_listen(value: Option<String>) -> Result<SocketAddr, ConfigError> {
    parse_socket_addr("APP_LISTEN", value, "127.0.0.1:8080")
}

/// The file a `sqlite:` URL names, if it names one (not `:memory:`).
pub(super) fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// `DATABASE_URL`: a SQLite file, or a PostgreSQL database (for several instances).
pub(super) fn parse_database_url(value: Option<String>) -> Result<String, ConfigError> {
    const EXAMPLE: &str = "sqlite://data/app.db or postgres://app:secret@db.internal/app";
    let value = value.unwrap_or_else(|| "sqlite://data/app.db".into());
    if crate::db::is_postgres_url(&value) {
        if !cfg!(feature = "postgres") {
            return Err(error(
                "DATABASE_URL",
                "names PostgreSQL, but this build has no PostgreSQL support (build it with the \
                 postgres feature)"
                    .into(),
                EXAMPLE,
            ));
        }
        // Only the shape: whether the server answers is for start-up to find out. The host may
        // also come as `?host=` (a Unix socket's folder, as libpq allows).
        let has_host = Url::parse(&value).ok().is_some_and(|url| {
            url.host_str().is_some_and(|host| !host.is_empty())
                || url
                    .query_pairs()
                    .any(|(key, value)| key == "host" && !value.is_empty())
        });
        if !has_host {
            return Err(error(
                "DATABASE_URL",
                "is a postgres:// URL without a host".into(),
                EXAMPLE,
            ));
        }
        return Ok(value);
    }
    if sqlite_file(&value).is_none() {
        return Err(error(
            "DATABASE_URL",
            format!(
                "{} is neither a sqlite:// URL naming a file nor a postgres:// URL",
                without_password(&value)
            ),
            EXAMPLE,
        ));
    }
    Ok(value)
}

/// What of `url` an error may show: its scheme only. The rest may hold a password, before an
/// `@` or as `?password=`, in a misspelt `postgres://` URL as in any other.
fn without_password(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://…"),
        None => "…".to_owned(),
    }
}

/// The data folder for `database_url`: the SQLite file's folder, or `data` with PostgreSQL.
pub(super) fn data_dir(database_url: &str) -> PathBuf {
    sqlite_file(database_url)
        .and_then(|file| file.parent().map(Path::to_path_buf))
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or_else(|| {
            PathBuf::from(if crate::db::is_postgres_url(database_url) {
                "data"
            } else {
                "."
            })
        })
}

/// `APP_SECRET`: optional with the development IdP, required with Cognito.
pub(super) fn parse_app_secret(
    value: Option<String>,
    idp: &IdpConfig,
) -> Result<Option<Secret<Vec<u8>>>, ConfigError> {
    match value {
        Some(value) => decode_app_secret(&value).map(Some),
        None if matches!(idp, IdpConfig::Cognito(_)) => Err(error(
            "APP_SECRET",
            "is required when COGNITO_* is set".into(),
            EXAMPLE_SECRET,
        )),
        None => Ok(None),
    }
}

fn decode_app_secret(value: &str) -> Result<Secret<Vec<u8>>, ConfigError> {
    // The value itself is never echoed: it is a secret even when it is malformed.
    let bytes = STANDARD
        .decode(value.trim())
        .map_err(|_| error("APP_SECRET", "is not valid base64".into(), EXAMPLE_SECRET))?;
    if bytes.len() < MIN_SECRET_BYTES {
        return Err(error(
            "APP_SECRET",
            format!(
                "decodes to {} bytes; at least {MIN_SECRET_BYTES} are needed",
                bytes.len()
            ),
            EXAMPLE_SECRET,
        ));
    }
    Ok(Secret::new(bytes))
}

/// `ADMIN_MAX_AUTH_AGE`: whole seconds, from 1 to 365 days; unset: no limit.
pub(super) fn parse_admin_max_auth_age(
    value: Option<String>,
) -> Result<Option<Duration>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.parse::<u64>() {
        Ok(seconds @ 1..=31_536_000) => Ok(Some(Duration::from_secs(seconds))),
        _ => Err(error(
            "ADMIN_MAX_AUTH_AGE",
            format!("{value:?} is not a whole number of seconds from 1 to 31536000 (365 days)"),
            "3600",
        )),
    }
}

/// `RUST_LOG`: a `tracing` filter, `info` when unset.
pub(super) fn parse_log_filter(value: Option<String>) -> Result<String, ConfigError> {
    let log_filter = value.unwrap_or_else(|| "info".into());
    if let Err(problem) = EnvFilter::try_new(&log_filter) {
        return Err(error(
            "RUST_LOG",
            format!("{log_filter:?} is not a filter: {problem}"),
            "info",
        ));
    }
    Ok(log_filter)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::{assert_each_refused, cognito_without, parse};

    #[test]
    fn every_bad_app_value_names_its_setting_and_gives_an_example() {
        assert_each_refused(vec![
            ("APP_BASE_URL", vec![("APP_BASE_URL", "localhost:8080")]),
            ("APP_BASE_URL", vec![("APP_BASE_URL", "ftp://localhost")]),
            (
                "APP_BASE_URL",
                vec![("APP_BASE_URL", "http://localhost/a?b")],
            ),
            (
                "APP_BASE_URL",
                vec![("APP_BASE_URL", "http://localhost/a//b")],
            ),
            (
                "APP_BASE_URL",
                vec![("APP_BASE_URL", "http://localhost/a%20b")],
            ),
            ("APP_LISTEN", vec![("APP_LISTEN", "localhost:8080")]),
            ("APP_LISTEN", vec![("APP_LISTEN", "127.0.0.1")]),
            (
                "DATABASE_URL",
                vec![("DATABASE_URL", "mysql://localhost/app")],
            ),
            ("DATABASE_URL", vec![("DATABASE_URL", "postgres://")]),
            ("DATABASE_URL", vec![("DATABASE_URL", "sqlite::memory:")]),
            ("APP_SECRET", vec![("APP_SECRET", "not base64!")]),
            ("APP_SECRET", vec![("APP_SECRET", "c2hvcnQ=")]),
            ("APP_SECRET", cognito_without("APP_SECRET")),
            ("RUST_LOG", vec![("RUST_LOG", "info,[[")]),
            ("ADMIN_MAX_AUTH_AGE", vec![("ADMIN_MAX_AUTH_AGE", "0")]),
            ("ADMIN_MAX_AUTH_AGE", vec![("ADMIN_MAX_AUTH_AGE", "-5")]),
            ("ADMIN_MAX_AUTH_AGE", vec![("ADMIN_MAX_AUTH_AGE", "15m")]),
            (
                "ADMIN_MAX_AUTH_AGE",
                vec![("ADMIN_MAX_AUTH_AGE", "31536001")],
            ),
        ]);
    }

    #[test]
    fn admin_max_auth_age_takes_whole_seconds_up_to_a_year() {
        let cases = [
            (vec![], None),
            (vec![("ADMIN_MAX_AUTH_AGE", "1")], Some(1)),
            (vec![("ADMIN_MAX_AUTH_AGE", "900")], Some(900)),
            (vec![("ADMIN_MAX_AUTH_AGE", "31536000")], Some(31_536_000)),
        ];

        for (vars, seconds) in cases {
            let config = parse(&vars).unwrap();

            assert_eq!(
                config.admin_max_auth_age,
                seconds.map(Duration::from_secs),
                "{vars:?}"
            );
        }
    }

    #[test]
    fn a_database_password_is_never_echoed() {
        for url in [
            "postgress://app:hunter2secret@db/app",
            "postgres://app:hunter2secret@/app",
            "mysql://app:hunter2secret@db/app",
            "app:hunter2secret@db/app",
            "postgress://db/app?password=hunter2secret",
        ] {
            let error = parse(&[("DATABASE_URL", url)]).unwrap_err();

            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn a_bad_app_secret_is_never_echoed() {
        let error = parse(&[("APP_SECRET", "hunter2-is-my-secret")]).unwrap_err();

        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
