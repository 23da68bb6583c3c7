//! `ghostwire serve` / `ghostwire check-config`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ghostwire::config::Config;

#[derive(Parser)]
#[command(
    version,
    about = "MySQL proxy that runs ALTER TABLE as an online migration"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the proxy.
    Serve {
        #[arg(long, default_value = "proxy.toml")]
        config: PathBuf,
    },
    /// Validate the configuration and print it (secrets masked).
    CheckConfig {
        #[arg(long, default_value = "proxy.toml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let path = match &cli.command {
        Cmd::Serve { config } | Cmd::CheckConfig { config } => config,
    };
    let config = match Config::load(path, &|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ghostwire: invalid config: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Cmd::CheckConfig { .. } => {
            print!("{}", config.to_masked_toml());
            ExitCode::SUCCESS
        }
        Cmd::Serve { config: path } => serve(config, path),
    }
}

fn serve(config: Config, path: PathBuf) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GHOSTWIRE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Err(e) = ghostwire::fdlimit::raise_and_check(config.listen.max_connections) {
        tracing::error!("{e}");
        eprintln!("ghostwire: {e}");
        return ExitCode::from(2);
    }
    // One worker runs on a current-thread runtime: no cross-thread wakeups,
    // which is what a relay bound by syscalls and context switches wants.
    let mut rt = match config.runtime.worker_threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            if n > 0 {
                b.worker_threads(n);
            }
            b
        }
    };
    let rt = rt.enable_all().build().expect("tokio runtime");
    match rt.block_on(ghostwire::app::run(config, Some(path))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ghostwire: {e}");
            ExitCode::FAILURE
        }
    }
}
