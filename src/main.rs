use std::process::ExitCode;

use cognito_web::app::Application;
use cognito_web::check;
use cognito_web::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; settings then come from the environment and the defaults.
    dotenvy::dotenv().ok();
    let check_only = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!("error: {other:?} is not an option; the only one is --check");
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
    tracing_subscriber::fmt()
        .with_env_filter(config.log_filter.clone())
        .init();

    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
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
