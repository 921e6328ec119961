//! `auth-service`: runs the service, or `--dump-openapi [PATH]` writes the
//! OpenAPI document (default `openapi/openapi.json`).

use std::process::ExitCode;

use auth_infrastructure::settings::{LogFormat, Settings};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: auth-service [--dump-openapi [PATH]]\n\
    \x20      auth-service admin grant EMAIL ROLE\n\
    Configuration: config/default.toml, config/$AUTH_ENV.toml, AUTH__SECTION__KEY variables.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--dump-openapi") => {
            let path = args.get(1).map_or("openapi/openapi.json", String::as_str);
            return match std::fs::write(path, auth_http::openapi::document()) {
                Ok(()) => {
                    println!("wrote {path}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("auth-service: cannot write {path}: {err}");
                    ExitCode::FAILURE
                }
            };
        }
        Some("admin") => return admin(&args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("auth-service: unknown argument {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
        None => {}
    }

    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("auth-service: {err}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&settings);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("auth-service: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let app = auth_server::Application::build(settings).await?;
        app.run_until_stopped().await?;
        anyhow::Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "auth-service stopped");
            eprintln!("auth-service: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `admin grant EMAIL ROLE`.
fn admin(args: &[String]) -> ExitCode {
    let [command, email, role] = args else {
        eprintln!("auth-service: admin needs: grant EMAIL ROLE\n{USAGE}");
        return ExitCode::from(2);
    };
    if command != "grant" {
        eprintln!("auth-service: unknown admin command {command:?}\n{USAGE}");
        return ExitCode::from(2);
    }
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("auth-service: {err}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&settings);
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(auth_server::grant_role(&settings, email, role)));
    match result {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("auth-service: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(settings: &Settings) {
    // Driver crates are quiet unless asked: their debug output can carry data.
    let default = format!(
        "{},sqlx=warn,sea_orm=warn,fred=warn,actix_server=warn",
        settings.log.level
    );
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match settings.log_format() {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Pretty => builder.compact().init(),
    }
}
