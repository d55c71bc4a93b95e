use std::process::ExitCode;

use cognito_web::app::Application;
use cognito_web::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; settings then come from the environment and the defaults.
    dotenvy::dotenv().ok();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
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
