//! The `sdelka` binary: configuration, telemetry, and the subcommands of SPEC §8.

use clap::{Parser, Subcommand};
use sdelka_api::config::Config;
use sdelka_api::{bootstrap, cli, server, telemetry};

#[derive(Parser)]
#[command(
    name = "sdelka",
    version,
    about = "Headless CRM and business-process service"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API and the background workers (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: cli::UserCommand,
    },
    /// Manage personal API tokens.
    Token {
        #[command(subcommand)]
        command: cli::TokenCommand,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        print!("{}", server::openapi_json_pretty());
        return std::process::ExitCode::SUCCESS;
    }
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(&config.log, &config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => server::build_state(config).await.map(|_| ()),
        Command::Openapi => Ok(()),
        Command::User { command } => cli::user(config, command).await,
        Command::Token { command } => cli::token(config, command).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let state = server::build_state(config).await?;
    if let Some((email, password)) = bootstrap::ensure_first_admin(&state).await? {
        match password {
            Some(p) => println!(
                "First admin created: email {email}, password {p}\nThis password is shown only once."
            ),
            None => {
                println!("First admin created: email {email} (password from SDELKA_ADMIN_PASSWORD)")
            }
        }
    }
    let running = server::start(state, true).await?;
    tracing::info!(addr = %running.addr, "sdelka is listening");
    println!(
        "Sdelka listens on http://{} (docs: http://{}/docs/)",
        running.addr, running.addr
    );
    running.wait().await
}
