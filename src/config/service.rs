//! Settings for running the app as a service: where metrics are served, how log lines are
//! written, and how long a shutdown may take to finish the work in flight.

use std::net::SocketAddr;
use std::time::Duration;

use super::{ConfigError, error, parse_socket_addr};

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// For people: one line each, with the request's span in front of the message.
    #[default]
    Text,
    /// For log collectors: one JSON object a line, with the request's span as fields.
    Json,
}

/// `METRICS_LISTEN`: unset means no metrics listener at all.
pub(super) fn parse_metrics_listen(
    value: Option<String>,
) -> Result<Option<SocketAddr>, ConfigError> {
    value
        .map(|value| parse_socket_addr("METRICS_LISTEN", Some(value), "127.0.0.1:9464"))
        .transpose()
}

/// `LOG_FORMAT`: `text` (the default) or `json`.
pub(super) fn parse_log_format(value: Option<String>) -> Result<LogFormat, ConfigError> {
    match value.as_deref().map(str::trim) {
        None => Ok(LogFormat::Text),
        Some(value) if value.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
        Some(value) if value.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
        Some(value) => Err(error(
            "LOG_FORMAT",
            format!("{value:?} is not one of text, json"),
            "json",
        )),
    }
}

/// `SHUTDOWN_GRACE_SECONDS`: whole seconds from 0 to 3600, 30 when unset.
pub(super) fn parse_shutdown_grace(value: Option<String>) -> Result<Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(Duration::from_secs(30));
    };
    match value.trim().parse::<u64>() {
        Ok(seconds @ 0..=3600) => Ok(Duration::from_secs(seconds)),
        _ => Err(error(
            "SHUTDOWN_GRACE_SECONDS",
            format!("{value:?} is not a whole number of seconds from 0 to 3600"),
            "30",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::{assert_each_refused, parse};
    use super::LogFormat;

    #[test]
    fn every_bad_service_value_names_its_setting_and_gives_an_example() {
        assert_each_refused(vec![
            ("METRICS_LISTEN", vec![("METRICS_LISTEN", "localhost:9464")]),
            ("METRICS_LISTEN", vec![("METRICS_LISTEN", "9464")]),
            ("LOG_FORMAT", vec![("LOG_FORMAT", "yaml")]),
            ("LOG_FORMAT", vec![("LOG_FORMAT", "json\nx")]),
            (
                "SHUTDOWN_GRACE_SECONDS",
                vec![("SHUTDOWN_GRACE_SECONDS", "-1")],
            ),
            (
                "SHUTDOWN_GRACE_SECONDS",
                vec![("SHUTDOWN_GRACE_SECONDS", "30s")],
            ),
            (
                "SHUTDOWN_GRACE_SECONDS",
                vec![("SHUTDOWN_GRACE_SECONDS", "3601")],
            ),
        ]);
    }

    #[test]
    fn service_settings_default_to_no_metrics_text_logs_and_thirty_seconds() {
        let config = parse(&[]).unwrap();

        assert_eq!(config.metrics_listen, None);
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.shutdown_grace, Duration::from_secs(30));
    }

    #[test]
    fn service_settings_take_an_address_a_format_and_whole_seconds() {
        let config = parse(&[
            ("METRICS_LISTEN", "127.0.0.1:9464"),
            ("LOG_FORMAT", "JSON"),
            ("SHUTDOWN_GRACE_SECONDS", "0"),
        ])
        .unwrap();

        assert_eq!(
            config.metrics_listen,
            Some("127.0.0.1:9464".parse().unwrap())
        );
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.shutdown_grace, Duration::ZERO);
    }
}
