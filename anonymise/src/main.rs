//! `anonymise`: the command line of the `anonymise` library.

use clap::Parser;
use std::process::ExitCode;

/// Anonymise a copy of production data (work in progress: `check` only).
#[derive(Parser)]
#[command(version, about)]
enum Command {
    /// Checks a config file's syntax.
    Check {
        /// The TOML config.
        config: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    match Command::parse() {
        Command::Check { config } => {
            let text = match std::fs::read_to_string(&config) {
                Ok(text) => text,
                Err(e) => {
                    eprintln!("error: cannot read {}: {e}", config.display());
                    return ExitCode::from(2);
                }
            };
            match anonymise::Config::parse(&text) {
                Ok(parsed) => {
                    println!(
                        "{}: {} tables classified",
                        config.display(),
                        parsed.tables.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {}: {e}", config.display());
                    ExitCode::from(2)
                }
            }
        }
    }
}
