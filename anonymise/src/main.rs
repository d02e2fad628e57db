//! `anonymise`: the command line of the `anonymise` library. Sources are CSV files, a SQLite
//! file, or a PostgreSQL database (with the `postgres` feature) or a MariaDB/MySQL one (with the
//! `mysql` feature).

use anonymise::config::{Config, Schema, TableSchema};
use anonymise::run::{Progress, Summary, Unit};
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
    /// Prints a starting config: every column of the source classified by a guess, the
    /// personal-looking ones flagged. Review it before use.
    Plan {
        /// CSV files (one table each, named after the file), or one database: a
        /// `postgres://` URL, a `mysql://` URL (MariaDB or MySQL: `mysql://user@host/database`),
        /// or a SQLite file (`sqlite://path`, or a path ending `.db`, `.sqlite` or `.sqlite3`).
        source: Vec<String>,
        /// The PostgreSQL schema to read.
        #[arg(long, default_value = "public")]
        schema: String,
    },
    /// Checks a config against the source's columns without writing anything.
    Check {
        /// The TOML config.
        #[arg(long)]
        config: PathBuf,
        /// CSV files, or one database (see `plan`).
        source: Vec<String>,
        /// The PostgreSQL schema to read.
        #[arg(long, default_value = "public")]
        schema: String,
    },
    /// Anonymises CSV files into a directory, or one database into another. The key comes from
    /// the environment variable the config names (`ANONYMISE_KEY` by default); without it
    /// nothing runs, and on any error nothing is written.
    Run {
        /// The TOML config.
        #[arg(long)]
        config: PathBuf,
        /// CSV runs: the directory to write the anonymised files to (same file names).
        #[arg(long, conflicts_with_all = ["from", "to"])]
        out_dir: Option<PathBuf>,
        /// CSV runs: the files to read, one table each (named after the file).
        #[arg(conflicts_with_all = ["from", "to"])]
        inputs: Vec<PathBuf>,
        /// Database runs: the source (a `postgres://` or `mysql://` URL, or a SQLite file).
        #[arg(long, requires = "to")]
        from: Option<String>,
        /// Database runs: the target. PostgreSQL, MariaDB/MySQL: a database whose tables exist
        /// (migrated) and are empty. SQLite: a file that does not exist yet (made with the
        /// source's schema).
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// PostgreSQL, MariaDB/MySQL: empty the target's tables first, in the run's transaction.
        #[arg(long)]
        truncate: bool,
        /// The PostgreSQL schema to copy.
        #[arg(long, default_value = "public")]
        schema: String,
    },
    /// The k-anonymity report of one table (usually of an anonymised copy) over its declared
    /// quasi-identifiers; exits with status 1 below `k`.
    Report {
        /// The TOML config.
        #[arg(long)]
        config: PathBuf,
        /// The smallest group size wanted.
        #[arg(long, default_value_t = 5)]
        k: usize,
        /// A CSV file, or a database (see `plan`) with `--table`.
        source: String,
        /// The table, for a database.
        #[arg(long)]
        table: Option<String>,
        /// The PostgreSQL schema to read.
        #[arg(long, default_value = "public")]
        schema: String,
    },
}

/// Where data is read from or written to.
enum Location {
    Csv(Vec<PathBuf>),
    Sqlite(PathBuf),
    Postgres(String),
    Mysql(String),
}

impl Location {
    fn parse(args: &[String]) -> Result<Self, String> {
        let database = |arg: &str| -> Option<Location> {
            if arg.starts_with("postgres://") || arg.starts_with("postgresql://") {
                Some(Location::Postgres(arg.to_owned()))
            } else if arg.starts_with("mysql://") || arg.starts_with("mariadb://") {
                Some(Location::Mysql(arg.to_owned()))
            } else if let Some(path) = arg.strip_prefix("sqlite://") {
                Some(Location::Sqlite(PathBuf::from(path)))
            } else if [".db", ".sqlite", ".sqlite3"]
                .iter()
                .any(|ext| arg.ends_with(ext))
            {
                Some(Location::Sqlite(PathBuf::from(arg)))
            } else {
                None
            }
        };
        match args {
            [] => Err(
                "no source given: CSV files, a postgres:// or mysql:// URL, or a SQLite file"
                    .into(),
            ),
            [one] => Ok(database(one).unwrap_or_else(|| Location::Csv(vec![PathBuf::from(one)]))),
            many => {
                if let Some(db) = many.iter().find(|a| database(a).is_some()) {
                    return Err(format!(
                        "{db} is a database: give it alone (one database is one source)"
                    ));
                }
                Ok(Location::Csv(many.iter().map(PathBuf::from).collect()))
            }
        }
    }

    /// The schema of the source, for `plan` and `check`: each CSV file read whole (so both
    /// refuse a file a run would); a database without tables is an error naming where it
    /// looked (a schema name mistyped, or a database not yet migrated).
    fn schema(&self, pg_schema: &str) -> Result<Schema, String> {
        let found = match self {
            Location::Csv(files) => Schema {
                tables: files
                    .iter()
                    .map(|f| anonymise::csv_file::check_file(f).map_err(|e| e.to_string()))
                    .collect::<Result<_, _>>()?,
            },
            Location::Sqlite(path) => anonymise::sqlite::schema(path).map_err(|e| e.to_string())?,
            Location::Postgres(url) => postgres_schema(url, pg_schema)?,
            Location::Mysql(url) => mysql_cli::schema(url)?,
        };
        if found.tables.is_empty() {
            return Err(match self {
                Location::Postgres(url) => format!(
                    "schema `{pg_schema}` of {} has no tables (or does not exist): check --schema",
                    redact(url)
                ),
                Location::Sqlite(path) => format!("{} has no tables", path.display()),
                Location::Mysql(url) => format!("{} has no tables", redact(url)),
                Location::Csv(_) => "no CSV files given".to_owned(),
            });
        }
        Ok(found)
    }

    /// Up to 100 rows of each table, as text.
    fn samples(&self, schema: &Schema, pg_schema: &str) -> Result<Vec<Vec<Vec<String>>>, String> {
        const SAMPLE: usize = 100;
        match self {
            Location::Csv(files) => files
                .iter()
                .map(|file| {
                    let csv_err = |e: csv::Error| format!("{}: {e}", file.display());
                    let mut reader =
                        anonymise::csv_file::reader(file).map_err(|e| e.to_string())?;
                    reader
                        .records()
                        .take(SAMPLE)
                        .map(|r| r.map(|r| r.iter().map(str::to_owned).collect()))
                        .collect::<Result<_, _>>()
                        .map_err(csv_err)
                })
                .collect(),
            Location::Sqlite(path) => schema
                .tables
                .iter()
                .map(|t| {
                    anonymise::sqlite::sample(path, &t.name, SAMPLE).map_err(|e| e.to_string())
                })
                .collect(),
            Location::Postgres(url) => postgres_samples(url, pg_schema, schema, SAMPLE),
            Location::Mysql(url) => mysql_cli::samples(url, schema, SAMPLE),
        }
    }
}

#[cfg(feature = "postgres")]
fn postgres_schema(url: &str, pg_schema: &str) -> Result<Schema, String> {
    let mut client = anonymise::postgres::connect(url, anonymise::run::Side::Source)
        .map_err(|e| e.to_string())?;
    anonymise::postgres::schema(&mut client, pg_schema).map_err(|e| e.to_string())
}

#[cfg(feature = "postgres")]
fn postgres_samples(
    url: &str,
    pg_schema: &str,
    schema: &Schema,
    limit: usize,
) -> Result<Vec<Vec<Vec<String>>>, String> {
    let mut client = anonymise::postgres::connect(url, anonymise::run::Side::Source)
        .map_err(|e| e.to_string())?;
    schema
        .tables
        .iter()
        .map(|t| {
            anonymise::postgres::sample(&mut client, pg_schema, t, limit).map_err(|e| e.to_string())
        })
        .collect()
}

#[cfg(not(feature = "postgres"))]
const NO_POSTGRES: &str =
    "this anonymise was built without PostgreSQL: build it with `--features postgres`";

#[cfg(not(feature = "postgres"))]
fn postgres_schema(_: &str, _: &str) -> Result<Schema, String> {
    Err(NO_POSTGRES.into())
}

#[cfg(not(feature = "postgres"))]
fn postgres_samples(
    _: &str,
    _: &str,
    _: &Schema,
    _: usize,
) -> Result<Vec<Vec<Vec<String>>>, String> {
    Err(NO_POSTGRES.into())
}

/// How progress is drawn (`ANONYMISE_PROGRESS`): `auto` (the default) on stderr when it is a
/// terminal, `always` as plain lines whatever stderr is (a log, a test), `never` not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drawing {
    Auto,
    Always,
    Never,
}

impl Drawing {
    fn from_env() -> Result<Self, String> {
        match std::env::var("ANONYMISE_PROGRESS").as_deref() {
            Err(_) | Ok("" | "auto") => Ok(Self::Auto),
            Ok("always") => Ok(Self::Always),
            Ok("never") => Ok(Self::Never),
            Ok(_) => Err("ANONYMISE_PROGRESS must be auto, always or never".into()),
        }
    }
}

/// A bar per table, one table at a time, each left on a line of its own when its table is
/// done; it shows the table's name, how far it got and the rate since the table started, never
/// a value.
struct Bars {
    drawing: Drawing,
    current: Option<(String, indicatif::ProgressBar)>,
    /// When the current table started: tables are copied one after another, so when the one
    /// before it was done (or the run started).
    since: std::time::Instant,
}

impl Bars {
    fn new(drawing: Drawing) -> Self {
        Self {
            drawing,
            current: None,
            since: std::time::Instant::now(),
        }
    }

    fn target(&self) -> indicatif::ProgressDrawTarget {
        match self.drawing {
            Drawing::Auto => indicatif::ProgressDrawTarget::stderr(),
            Drawing::Always => {
                indicatif::ProgressDrawTarget::term_like_with_hz(Box::new(PlainLines::default()), 4)
            }
            Drawing::Never => indicatif::ProgressDrawTarget::hidden(),
        }
    }

    fn update(&mut self, p: &Progress) {
        if !matches!(&self.current, Some((t, _)) if *t == p.table) {
            self.end_line();
            let template = match p.unit {
                // Under 80 columns, so that a bar keeps to one line of a common terminal.
                Unit::Bytes => "{prefix:>12} [{bar:16}] {bytes}/{total_bytes}{msg}",
                Unit::Rows => "{prefix:>12} [{bar:16}] {pos}/{len} rows{msg}",
            };
            let style = indicatif::ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> ");
            let bar = indicatif::ProgressBar::with_draw_target(Some(p.total), self.target());
            bar.set_style(style);
            bar.set_prefix(p.table.clone());
            self.current = Some((p.table.clone(), bar));
        }
        let Some((_, bar)) = &self.current else {
            return;
        };
        let rate = anonymise::run::rate(p.rows, self.since.elapsed())
            .map(|r| format!(", {r} rows/s"))
            .unwrap_or_default();
        bar.set_length(p.total.max(p.position));
        bar.set_position(p.position);
        bar.set_message(match p.unit {
            Unit::Bytes => format!(", {} rows{rate}", p.rows),
            Unit::Rows => rate,
        });
        if p.done {
            bar.finish();
            self.end_line();
            self.since = std::time::Instant::now();
        }
    }

    /// Leaves the current bar, if any, on its own line: the next bar, or the summary, starts on
    /// the line below whatever width the terminal reported.
    fn end_line(&mut self) {
        if let Some((_, bar)) = self.current.take() {
            if !bar.is_finished() {
                bar.abandon();
            }
            if self.drawing == Drawing::Auto && !bar.is_hidden() {
                eprintln!();
            }
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.end_line();
    }
}

/// Progress as plain lines on stderr, one per redraw and no cursor movement: what
/// `ANONYMISE_PROGRESS=always` draws to (a pipe or a file cannot take a bar drawn in place).
#[derive(Debug, Default)]
struct PlainLines(std::sync::Mutex<String>);

impl PlainLines {
    fn line(&self) -> std::sync::MutexGuard<'_, String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl indicatif::TermLike for PlainLines {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.line().push_str(s);
        self.flush()
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.line().push_str(s.trim_start_matches('\r'));
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.line().clear();
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        let mut line = self.line();
        let shown = line.trim_end();
        if !shown.is_empty() {
            use std::io::Write as _;
            writeln!(std::io::stderr().lock(), "{shown}")?;
        }
        line.clear();
        Ok(())
    }
}

/// The summary at the end of a run: a line per table, the total, and the peak memory.
fn print_summary(summaries: &[Summary], elapsed: std::time::Duration, into: &str) {
    let width = summaries
        .iter()
        .map(|s| s.table.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:<width$} {:>12} {:>12} {:>9} {:>12}",
        "table", "rows", "transformed", "seconds", "rows/s"
    );
    for s in summaries {
        println!(
            "{:<width$} {:>12} {:>12} {:>9.2} {:>12}",
            s.table,
            s.rows,
            format!("{} columns", s.transformed_columns),
            s.elapsed.as_secs_f64(),
            // Under 10 ms a rate says more about the clock than the table.
            s.rate().map_or("-".to_owned(), |r| r.to_string())
        );
    }
    let rows: u64 = summaries.iter().map(|s| s.rows).sum();
    print!(
        "{} tables, {rows} rows in {:.2} s -> {into}",
        summaries.len(),
        elapsed.as_secs_f64()
    );
    match peak_memory_kib() {
        Some(kib) => println!("; peak memory {:.1} MiB", kib as f64 / 1024.0),
        None => println!(),
    }
}

/// This process's peak resident memory, where the system tells (Linux).
fn peak_memory_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
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
        Command::Plan { source, schema } => {
            let location = Location::parse(&source)?;
            let found = location.schema(&schema)?;
            let samples = location.samples(&found, &schema)?;
            let tables: Vec<(TableSchema, Vec<Vec<String>>)> =
                found.tables.into_iter().zip(samples).collect();
            print!("{}", anonymise::plan::config_text(&tables));
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            config,
            source,
            schema,
        } => {
            let config = read_config(&config)?;
            let found = Location::parse(&source)?.schema(&schema)?;
            config.check(&found).map_err(|e| e.to_string())?;
            println!(
                "the config classifies every column of {} tables",
                found.tables.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            config,
            out_dir,
            inputs,
            from,
            to,
            truncate,
            schema,
        } => {
            let config = read_config(&config)?;
            let transformer = anonymise::transform::Transformer::from_env(&config.key_env)
                .map_err(|e| e.to_string())?;
            let started = std::time::Instant::now();
            let mut bars = Bars::new(Drawing::from_env()?);
            let mut progress = |p: &Progress| bars.update(p);
            let (summaries, into) = match (from, to, out_dir) {
                (Some(from), Some(to), _) => {
                    let source = Location::parse(std::slice::from_ref(&from))?;
                    let target = Location::parse(std::slice::from_ref(&to))?;
                    let summaries = match (source, target) {
                        (Location::Sqlite(source), Location::Sqlite(target)) => {
                            anonymise::sqlite::anonymise(
                                &config,
                                &transformer,
                                &source,
                                &target,
                                &mut progress,
                            )
                        }
                        (Location::Postgres(source), Location::Postgres(target)) => run_postgres(
                            &config,
                            &transformer,
                            (&source, &target),
                            truncate,
                            schema,
                            &mut progress,
                        )?,
                        (Location::Mysql(source), Location::Mysql(target)) => Ok(mysql_cli::run(
                            &config,
                            &transformer,
                            (&source, &target),
                            truncate,
                            &mut progress,
                        )?),
                        _ => return Err(
                            "--from and --to must be two PostgreSQL databases, two MariaDB/MySQL databases or two SQLite files"
                                .into(),
                        ),
                    }
                    .map_err(|e| e.to_string())?;
                    (summaries, redact(&to))
                }
                (None, None, Some(out_dir)) => {
                    if inputs.is_empty() {
                        return Err("no CSV files given".into());
                    }
                    let summaries = anonymise::csv_file::anonymise_with_progress(
                        &config,
                        &transformer,
                        &inputs,
                        &out_dir,
                        &mut progress,
                    )
                    .map_err(|e| e.to_string())?;
                    (summaries, out_dir.display().to_string())
                }
                _ => {
                    return Err("give --out-dir and CSV files, or --from and --to databases".into())
                }
            };
            drop(bars);
            print_summary(&summaries, started.elapsed(), &into);
            Ok(ExitCode::SUCCESS)
        }
        Command::Report {
            config,
            k,
            source,
            table,
            schema,
        } => {
            let config = read_config(&config)?;
            let location = Location::parse(std::slice::from_ref(&source))?;
            let table = match (&location, table) {
                (_, Some(table)) => table,
                (Location::Csv(files), None) => anonymise::csv_file::table_name(&files[0]),
                (_, None) => return Err("a database report needs --table".into()),
            };
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
            let mut tally = anonymise::kanon::Tally::new(&qis);
            let mut add = |values: &[Option<String>]| {
                tally.add(values.iter().map(|v| v.as_deref().unwrap_or_default()));
            };
            match &location {
                Location::Csv(files) => {
                    let file = &files[0];
                    let csv_err = |e: csv::Error| format!("{}: {e}", file.display());
                    let mut reader =
                        anonymise::csv_file::reader(file).map_err(|e| e.to_string())?;
                    let headers = reader.headers().map_err(csv_err)?.clone();
                    let at: Vec<usize> = qis
                        .iter()
                        .map(|q| {
                            headers
                                .iter()
                                .position(|h| h == q)
                                .ok_or_else(|| format!("{}: no column {q}", file.display()))
                        })
                        .collect::<Result<_, _>>()?;
                    let mut values = Vec::with_capacity(at.len());
                    for record in reader.records() {
                        let record = record.map_err(csv_err)?;
                        values.clear();
                        values.extend(at.iter().map(|&i| record.get(i).map(str::to_owned)));
                        add(&values);
                    }
                }
                Location::Sqlite(path) => {
                    anonymise::sqlite::scan(path, &table, &qis, &mut add)
                        .map_err(|e| e.to_string())?;
                }
                Location::Postgres(url) => scan_postgres(url, &schema, &table, &qis, &mut add)?,
                Location::Mysql(url) => {
                    mysql_cli::scan(url, &table, &qis, &mut add)?;
                }
            }
            let report = tally.report(k);
            print!("{report}");
            Ok(if report.passes() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// A database location as it can be printed: a URL's password hidden.
fn redact(location: &str) -> String {
    let mut shown = match (location.find("://"), location.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &location[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => {
                    format!("{}{user}:***{}", &location[..scheme + 3], &location[at..])
                }
                None => location.to_owned(),
            }
        }
        _ => location.to_owned(),
    };
    // A password given as a parameter (`?password=..`, or libpq's `password=..` pairs).
    let mut from = 0;
    while let Some(found) = shown[from..].to_ascii_lowercase().find("password=") {
        let start = from + found + "password=".len();
        let end = shown[start..]
            .find(['&', ' '])
            .map_or(shown.len(), |n| start + n);
        shown.replace_range(start..end, "***");
        from = start + 3;
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_in_urls_are_never_shown() {
        assert_eq!(
            redact("postgres://app:s3cret@db/prod"),
            "postgres://app:***@db/prod"
        );
        assert_eq!(
            redact("postgres://db/prod?user=app&Password=s3cret&sslmode=require"),
            "postgres://db/prod?user=app&Password=***&sslmode=require"
        );
        assert_eq!(
            redact("host=db password=s3cret dbname=prod"),
            "host=db password=*** dbname=prod"
        );
        assert_eq!(redact("shop.sqlite"), "shop.sqlite");
    }
}

#[cfg(feature = "postgres")]
fn run_postgres(
    config: &Config,
    transformer: &anonymise::Transformer,
    (source, target): (&str, &str),
    truncate: bool,
    schema: String,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Result<Vec<Summary>, anonymise::DbError>, String> {
    let options = anonymise::postgres::Options { schema, truncate };
    Ok(anonymise::postgres::anonymise(
        config,
        transformer,
        source,
        target,
        &options,
        progress,
    ))
}

#[cfg(not(feature = "postgres"))]
fn run_postgres(
    _: &Config,
    _: &anonymise::Transformer,
    _: (&str, &str),
    _: bool,
    _: String,
    _: &mut dyn FnMut(&Progress),
) -> Result<Result<Vec<Summary>, anonymise::DbError>, String> {
    Err(NO_POSTGRES.into())
}

#[cfg(feature = "postgres")]
fn scan_postgres(
    url: &str,
    schema: &str,
    table: &str,
    columns: &[String],
    each: &mut dyn FnMut(&[Option<String>]),
) -> Result<(), String> {
    let mut client = anonymise::postgres::connect(url, anonymise::run::Side::Source)
        .map_err(|e| e.to_string())?;
    anonymise::postgres::scan(&mut client, schema, table, columns, each)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(not(feature = "postgres"))]
fn scan_postgres(
    _: &str,
    _: &str,
    _: &str,
    _: &[String],
    _: &mut dyn FnMut(&[Option<String>]),
) -> Result<(), String> {
    Err(NO_POSTGRES.into())
}

/// MariaDB/MySQL sources and targets, with the `mysql` feature.
#[cfg(feature = "mysql")]
mod mysql_cli {
    use super::{Config, Progress, Schema, Summary};
    use anonymise::mysql;

    fn connect(url: &str) -> Result<::mysql::Conn, String> {
        mysql::connect(url, anonymise::run::Side::Source).map_err(|e| e.to_string())
    }

    pub fn schema(url: &str) -> Result<Schema, String> {
        mysql::schema(&mut connect(url)?).map_err(|e| e.to_string())
    }

    pub fn samples(
        url: &str,
        schema: &Schema,
        limit: usize,
    ) -> Result<Vec<Vec<Vec<String>>>, String> {
        let mut conn = connect(url)?;
        let mut sample = |t| mysql::sample(&mut conn, t, limit).map_err(|e| e.to_string());
        schema.tables.iter().map(&mut sample).collect()
    }

    pub fn run(
        config: &Config,
        transformer: &anonymise::Transformer,
        (source, target): (&str, &str),
        truncate: bool,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Vec<Summary>, String> {
        let options = mysql::Options { truncate };
        mysql::anonymise(config, transformer, source, target, &options, progress)
            .map_err(|e| e.to_string())
    }

    pub fn scan(
        url: &str,
        table: &str,
        columns: &[String],
        each: &mut dyn FnMut(&[Option<String>]),
    ) -> Result<u64, String> {
        mysql::scan(&mut connect(url)?, table, columns, each).map_err(|e| e.to_string())
    }
}

/// Without the `mysql` feature, each MariaDB/MySQL function says how to build it in.
#[cfg(not(feature = "mysql"))]
mod mysql_cli {
    use super::{Config, Progress, Schema, Summary};

    const NO_MYSQL: &str =
        "this anonymise was built without MariaDB/MySQL: build it with `--features mysql`";

    macro_rules! without_mysql {
        ($($name:ident($($arg:ty),*) -> $ok:ty;)*) => {$(
            pub fn $name($(_: $arg),*) -> Result<$ok, String> {
                Err(NO_MYSQL.into())
            }
        )*};
    }

    without_mysql! {
        schema(&str) -> Schema;
        samples(&str, &Schema, usize) -> Vec<Vec<Vec<String>>>;
        run(
            &Config, &anonymise::Transformer, (&str, &str), bool, &mut dyn FnMut(&Progress)
        ) -> Vec<Summary>;
        scan(&str, &str, &[String], &mut dyn FnMut(&[Option<String>])) -> u64;
    }
}
