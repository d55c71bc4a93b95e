use std::process::ExitCode;

use cognito_web::app::{self, Application};
use cognito_web::check;
use cognito_web::config::{Config, LogFormat};

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; settings then come from the environment and the defaults.
    dotenvy::dotenv().ok();
    let (check_only, healthcheck) = match std::env::args().nth(1).as_deref() {
        None => (false, false),
        Some("--check") => (true, false),
        Some("--healthcheck") => (false, true),
        Some(other) => {
            eprintln!("error: {other:?} is not an option; they are --check and --healthcheck");
            return ExitCode::from(2);
        }
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) if check_only => {
            println!("FAIL settings: {error}");
            return ExitCode::FAILURE;
        }
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    if check_only {
        return print_checks(&config).await;
    }
    if healthcheck {
        return match app::healthcheck(&config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("unhealthy: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    start_logging(&config);

    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `RUST_LOG`'s filter, in `LOG_FORMAT`'s format. In JSON, each line carries the spans it was
/// written in (the request's: id, method, route, user, then status and latency) as fields.
fn start_logging(config: &Config) {
    let logs = tracing_subscriber::fmt().with_env_filter(config.log_filter.clone());
    match config.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    app.announce();
    app.run_until_stopped().await
}

/// `--check`: one line per check; fails when any check does.
async fn print_checks(config: &Config) -> ExitCode {
    let checks = check::run(config).await;
    for check in &checks {
        println!("{check}");
    }
    if checks.iter().any(check::Check::fails) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
