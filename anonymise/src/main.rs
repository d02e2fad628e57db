//! `anonymise`: the command line of the `anonymise` library (CSV files for now).

use anonymise::config::Config;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Anonymise copies of production data: every column classified, keyed pseudonyms, a
/// k-anonymity report.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prints a starting config for CSV files: every column classified by a guess, the
    /// personal-looking ones flagged. Review it before use.
    Plan {
        /// CSV files, one table each (named after the file).
        files: Vec<PathBuf>,
    },
    /// Checks a config against CSV files' columns without writing anything.
    Check {
        /// The TOML config.
        #[arg(long)]
        config: PathBuf,
        /// CSV files.
        files: Vec<PathBuf>,
    },
    /// Anonymises CSV files into a directory. The key comes from the environment variable the
    /// config names (`ANONYMISE_KEY` by default); without it nothing runs, and on any error
    /// nothing is written.
    Run {
        /// The TOML config.
        #[arg(long)]
        config: PathBuf,
        /// The directory to write the anonymised files to (same file names).
        #[arg(long)]
        out_dir: PathBuf,
        /// The CSV files to read, one table each (named after the file).
        inputs: Vec<PathBuf>,
    },
    /// The k-anonymity report of a CSV file over its table's declared quasi-identifiers;
    /// exits with status 1 below `k`.
    Report {
        /// The TOML config.
        #[arg(long)]
        config: PathBuf,
        /// The smallest group size wanted.
        #[arg(long, default_value_t = 5)]
        k: usize,
        /// The CSV file (usually an anonymised one).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn read_config(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Config::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Plan { files } => {
            let mut tables = Vec::new();
            for file in &files {
                let table = anonymise::csv_file::schema_of(file).map_err(|e| e.to_string())?;
                let mut reader = csv::Reader::from_path(file).map_err(|e| e.to_string())?;
                let samples: Vec<Vec<String>> = reader
                    .records()
                    .take(100)
                    .filter_map(Result::ok)
                    .map(|r| r.iter().map(str::to_owned).collect())
                    .collect();
                tables.push((table, samples));
            }
            print!("{}", anonymise::plan::config_text(&tables));
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config, files } => {
            let config = read_config(&config)?;
            let mut schema = anonymise::config::Schema::default();
            for file in &files {
                schema
                    .tables
                    .push(anonymise::csv_file::schema_of(file).map_err(|e| e.to_string())?);
            }
            config.check(&schema).map_err(|e| e.to_string())?;
            println!(
                "the config classifies every column of {} files",
                files.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            config,
            out_dir,
            inputs,
        } => {
            let config = read_config(&config)?;
            let transformer = anonymise::transform::Transformer::from_env(&config.key_env)
                .map_err(|e| e.to_string())?;
            let started = std::time::Instant::now();
            // One bar per table, drawn on stderr only when it is a terminal; it shows the
            // table's name and how far it got, never a value.
            let bars = indicatif::MultiProgress::new();
            let mut current: Option<(String, indicatif::ProgressBar)> = None;
            let style = indicatif::ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> ");
            let summaries = anonymise::csv_file::anonymise_with_progress(
                &config,
                &transformer,
                &inputs,
                &out_dir,
                &mut |p: &anonymise::run::Progress| {
                    if !matches!(&current, Some((t, _)) if *t == p.table) {
                        let bar = bars.add(indicatif::ProgressBar::new(p.total));
                        bar.set_style(style.clone());
                        bar.set_prefix(p.table.clone());
                        current = Some((p.table.clone(), bar));
                    }
                    if let Some((_, bar)) = &current {
                        bar.set_position(p.position);
                        bar.set_message(format!("{} rows", p.rows));
                        if p.done {
                            bar.finish();
                        }
                    }
                },
            )
            .map_err(|e| e.to_string())?;
            for summary in &summaries {
                println!(
                    "{}: {} rows, {} columns transformed",
                    summary.table, summary.rows, summary.transformed_columns
                );
            }
            println!(
                "{} files in {:.2} s -> {}",
                summaries.len(),
                started.elapsed().as_secs_f64(),
                out_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Report { config, k, file } => {
            let config = read_config(&config)?;
            let table = anonymise::csv_file::table_name(&file);
            let qis = config
                .tables
                .get(&table)
                .map(|t| t.quasi_identifiers.clone())
                .unwrap_or_default();
            if qis.is_empty() {
                return Err(format!(
                    "the config declares no quasi_identifiers for table {table}"
                ));
            }
            let mut reader = csv::Reader::from_path(&file).map_err(|e| e.to_string())?;
            let headers = reader.headers().map_err(|e| e.to_string())?.clone();
            let at: Vec<usize> = qis
                .iter()
                .map(|q| {
                    headers
                        .iter()
                        .position(|h| h == q)
                        .ok_or_else(|| format!("{}: no column {q}", file.display()))
                })
                .collect::<Result<_, _>>()?;
            let records = reader.records().map_while(Result::ok).map(|r| {
                at.iter()
                    .map(|&i| r.get(i).unwrap_or_default().to_owned())
                    .collect::<Vec<String>>()
            });
            let report = anonymise::kanon::Report::build(&qis, records, k);
            print!("{report}");
            Ok(if report.passes() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
