//! `anonymise`: the command line of the `anonymise` library. Sources are CSV files, a SQLite
//! file, or a PostgreSQL database (with the `postgres` feature) or a MariaDB/MySQL one (with the
//! `mysql` feature).

use anonymise::config::{Config, Schema, TableSchema};
use anonymise::run::{Progress, Side, Summary, Unit};
use anonymise::DbError;
use clap::{Parser, Subcommand};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

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
        /// The smallest group size wanted (1 or more).
        #[arg(long, default_value_t = 5, value_parser = group_size)]
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
        if args.iter().any(|arg| is_libpq(arg)) {
            // Not echoed: such a string may hold a password.
            return Err(
                "a libpq connection string (host=.. dbname=..) is not a source anonymise reads: give a postgres:// URL, postgres://user:password@host:port/dbname"
                    .into(),
            );
        }
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
            Location::Sqlite(path) => anonymise::sqlite::schema(path).map_err(|e| e.reason())?,
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
                .map(|t| anonymise::sqlite::sample(path, &t.name, SAMPLE).map_err(|e| e.reason()))
                .collect(),
            Location::Postgres(url) => postgres_samples(url, pg_schema, schema, SAMPLE),
            Location::Mysql(url) => mysql_cli::samples(url, schema, SAMPLE),
        }
    }
}

#[cfg(feature = "postgres")]
fn postgres_schema(url: &str, pg_schema: &str) -> Result<Schema, String> {
    let shown = |e: DbError| db_reason(&e, url);
    let mut client = anonymise::postgres::connect(url, Side::Source).map_err(shown)?;
    anonymise::postgres::schema(&mut client, pg_schema).map_err(shown)
}

#[cfg(feature = "postgres")]
fn postgres_samples(
    url: &str,
    pg_schema: &str,
    schema: &Schema,
    limit: usize,
) -> Result<Vec<Vec<Vec<String>>>, String> {
    let shown = |e: DbError| db_reason(&e, url);
    let mut client = anonymise::postgres::connect(url, Side::Source).map_err(shown)?;
    schema
        .tables
        .iter()
        .map(|t| anonymise::postgres::sample(&mut client, pg_schema, t, limit).map_err(shown))
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

/// Progress, one table at a time, never a value: on a terminal a bar per table, left on a line
/// of its own when the table is done; as plain lines (`always`) each state once, at most a line
/// a second besides a table's first and last. A table's rate counts from its first report
/// (within the time its summary counts) under the summary's rule: none under 10 ms.
struct Bars {
    drawing: Drawing,
    /// The longest table name, in characters: every bar starts in the same column.
    width: usize,
    current: Option<TableBar>,
}

/// The progress of the table being copied.
struct TableBar {
    table: String,
    started: Instant,
    /// The bar drawn in place on a terminal (`auto`).
    bar: Option<indicatif::ProgressBar>,
    /// The line printed last, and when (`always`).
    printed: Option<(String, Instant)>,
}

impl Bars {
    fn new(drawing: Drawing, tables: impl IntoIterator<Item = usize>) -> Self {
        Self {
            drawing,
            width: tables.into_iter().max().unwrap_or(0),
            current: None,
        }
    }

    fn update(&mut self, p: &Progress) {
        if !matches!(&self.current, Some(t) if t.table == p.table) {
            self.end_line();
            self.current = Some(TableBar {
                table: p.table.clone(),
                started: Instant::now(),
                bar: (self.drawing == Drawing::Auto).then(|| self.terminal_bar(p)),
                printed: None,
            });
        }
        let width = self.width;
        let Some(current) = &mut self.current else {
            return;
        };
        let rate = anonymise::run::rate(p.rows, current.started.elapsed())
            .map(|r| format!(", {r} rows/s"))
            .unwrap_or_default();
        let message = match p.unit {
            Unit::Bytes => format!(", {} rows{rate}", p.rows),
            Unit::Rows => rate,
        };
        if let Some(bar) = &current.bar {
            bar.set_length(p.total.max(p.position));
            bar.set_position(p.position);
            bar.set_message(message);
            if p.done {
                bar.finish();
            }
        } else if self.drawing == Drawing::Always {
            current.print_line(p, &message, width);
        }
        if p.done {
            self.end_line();
        }
    }

    fn terminal_bar(&self, p: &Progress) -> indicatif::ProgressBar {
        let width = self.width;
        let template = match p.unit {
            Unit::Bytes => {
                format!("{{prefix:>{width}}} [{{bar:16}}] {{bytes}}/{{total_bytes}}{{msg}}")
            }
            Unit::Rows => format!("{{prefix:>{width}}} [{{bar:16}}] {{pos}}/{{len}} rows{{msg}}"),
        };
        let style = indicatif::ProgressStyle::with_template(&template)
            .expect("a valid template")
            .progress_chars("=> ");
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(p.total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        bar.set_style(style);
        bar.set_prefix(p.table.clone());
        bar
    }

    /// Leaves the current bar, if any, on its own line: the next bar, or the summary, starts on
    /// the line below whatever width the terminal reported.
    fn end_line(&mut self) {
        let Some(bar) = self.current.take().and_then(|t| t.bar) else {
            return;
        };
        if !bar.is_finished() {
            bar.abandon();
        }
        if !bar.is_hidden() {
            let _ = writeln!(std::io::stderr());
        }
    }
}

impl TableBar {
    /// Prints the table's state as a line, unless it is the line printed last, or (but for the
    /// table's first and last) one was printed less than a second ago.
    fn print_line(&mut self, p: &Progress, message: &str, width: usize) {
        let line = plain_line(p, message, width);
        let due = match &self.printed {
            None => true,
            Some((last, _)) if *last == line => false,
            Some((_, at)) => p.done || at.elapsed() >= Duration::from_secs(1),
        };
        if due {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
            self.printed = Some((line, Instant::now()));
        }
    }
}

/// A progress state as a plain line, laid out as the terminal's bar.
fn plain_line(p: &Progress, message: &str, width: usize) -> String {
    const BAR: u64 = 16;
    let total = p.total.max(p.position);
    let filled = match total {
        0 if p.done => BAR,
        0 => 0,
        _ => p.position * BAR / total,
    };
    let mut bar = "=".repeat(filled as usize);
    if filled < BAR {
        bar.push(if filled > 0 { '>' } else { ' ' });
        bar.push_str(&" ".repeat((BAR - filled - 1) as usize));
    }
    let count = match p.unit {
        Unit::Rows => format!("{}/{total} rows", p.position),
        Unit::Bytes => format!(
            "{}/{}",
            indicatif::HumanBytes(p.position),
            indicatif::HumanBytes(total)
        ),
    };
    format!("{:>width$} [{bar}] {count}{message}", p.table)
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.end_line();
    }
}

/// Writes `text` to stdout. A reader that has gone (`| head`) ends the output quietly: it had
/// what it wanted, and the command's status stays its own.
fn print_out(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write to stdout: {e}"))
        }
        _ => Ok(()),
    }
}

/// `n` and the noun, singular for one.
fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The summary at the end of a run: a line per table, the total, and the peak memory.
fn print_summary(summaries: &[Summary], elapsed: Duration, into: &str) -> Result<(), String> {
    use std::fmt::Write as _;
    let width = summaries
        .iter()
        .map(|s| s.table.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!(
        "{:<width$} {:>12} {:>12} {:>9} {:>12}\n",
        "table", "rows", "transformed", "seconds", "rows/s"
    );
    for s in summaries {
        let _ = writeln!(
            out,
            "{:<width$} {:>12} {:>12} {:>9.2} {:>12}",
            s.table,
            s.rows,
            count(s.transformed_columns as u64, "column", "columns"),
            s.elapsed.as_secs_f64(),
            // Under 10 ms a rate says more about the clock than the table.
            s.rate().map_or("-".to_owned(), |r| r.to_string())
        );
    }
    let rows: u64 = summaries.iter().map(|s| s.rows).sum();
    let _ = write!(
        out,
        "{}, {rows} rows in {:.2} s -> {into}",
        count(summaries.len() as u64, "table", "tables"),
        elapsed.as_secs_f64()
    );
    match peak_memory_kib() {
        Some(kib) => {
            let _ = writeln!(out, "; peak memory {:.1} MiB", kib as f64 / 1024.0);
        }
        None => out.push('\n'),
    }
    print_out(&out)
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
            let _ = writeln!(std::io::stderr(), "error: {message}");
            ExitCode::from(2)
        }
    }
}

/// `--k`: a group size, 1 or more.
fn group_size(arg: &str) -> Result<usize, String> {
    match arg.parse::<usize>() {
        Ok(0) => Err("k is the smallest group size wanted: 1 or more".into()),
        Ok(k) => Ok(k),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether `arg` is a libpq connection string (`host=db dbname=shop`) rather than a file.
fn is_libpq(arg: &str) -> bool {
    const KEYWORDS: [&str; 10] = [
        "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "sslmode", "service",
        "options",
    ];
    !Path::new(arg).exists()
        && arg.split_whitespace().any(|pair| {
            pair.split_once('=')
                .is_some_and(|(key, _)| KEYWORDS.contains(&key.to_ascii_lowercase().as_str()))
        })
}

/// The server a database URL names, as `host:port` (never its user or password), when the
/// URL can be read.
fn endpoint(url: &str) -> Option<String> {
    let (host, port) = server_of(url)?;
    Some(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

#[cfg(feature = "postgres")]
fn postgres_server(url: &str) -> Option<(String, u16)> {
    let config: postgres::Config = url.parse().ok()?;
    let host = match config.get_hosts().first()? {
        postgres::config::Host::Tcp(host) => host.clone(),
        #[cfg(unix)]
        postgres::config::Host::Unix(dir) => dir.display().to_string(),
    };
    Some((host, config.get_ports().first().copied().unwrap_or(5432)))
}

#[cfg(not(feature = "postgres"))]
fn postgres_server(_: &str) -> Option<(String, u16)> {
    None
}

#[cfg(feature = "mysql")]
fn mysql_server(url: &str) -> Option<(String, u16)> {
    let url = url.replacen("mariadb://", "mysql://", 1);
    let opts = mysql::Opts::from_url(&url).ok()?;
    Some((opts.get_ip_or_hostname().into_owned(), opts.get_tcp_port()))
}

#[cfg(not(feature = "mysql"))]
fn mysql_server(_: &str) -> Option<(String, u16)> {
    None
}

fn server_of(url: &str) -> Option<(String, u16)> {
    match Location::parse(&[url.to_owned()]).ok()? {
        Location::Postgres(url) => postgres_server(&url),
        Location::Mysql(url) => mysql_server(&url),
        _ => None,
    }
}

/// A database error outside a run (`check`, `plan`, `report`): its reason, which claims no
/// write; an error of no table (connecting, reading the catalog) names the server of `url`.
fn db_reason(error: &DbError, url: &str) -> String {
    match (error, endpoint(url)) {
        (
            DbError::Database {
                side,
                table: None,
                message,
            },
            Some(at),
        ) => format!("{side} database at {at}: {message}"),
        _ => error.reason(),
    }
}

/// A run's error, which ends in its promise (nothing was written); an error of no table
/// (connecting, checking the target) names the server of its side.
fn run_error(error: &DbError, (source, target): (&str, &str)) -> String {
    match error {
        DbError::Database {
            side, table: None, ..
        } => {
            let url = if *side == Side::Source {
                source
            } else {
                target
            };
            format!(
                "{}{}",
                db_reason(error, url),
                anonymise::run::NOTHING_WRITTEN
            )
        }
        _ => error.to_string(),
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
            print_out(&anonymise::plan::config_text(&tables))?;
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
            print_out(&format!(
                "the config classifies every column of {}\n",
                count(found.tables.len() as u64, "table", "tables")
            ))?;
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
            let target = match (from, to, out_dir) {
                (Some(from), Some(to), _) => Target::Database {
                    from,
                    to,
                    truncate,
                    schema,
                },
                (None, None, Some(_)) if inputs.is_empty() => {
                    return Err("no CSV files given".into())
                }
                (None, None, Some(out_dir)) => Target::Csv { inputs, out_dir },
                _ => {
                    return Err("give --out-dir and CSV files, or --from and --to databases".into())
                }
            };
            run_copy(&config, target)
        }
        Command::Report {
            config,
            k,
            source,
            table,
            schema,
        } => report(&read_config(&config)?, k, &source, table, &schema),
    }
}

/// What a run copies, and where to.
enum Target {
    Database {
        from: String,
        to: String,
        truncate: bool,
        schema: String,
    },
    Csv {
        inputs: Vec<PathBuf>,
        out_dir: PathBuf,
    },
}

/// `run`: the copy, its progress drawn on stderr, then its summary. Every error ends in "nothing
/// was written", the promise a run keeps.
fn run_copy(config: &Config, target: Target) -> Result<ExitCode, String> {
    let transformer =
        anonymise::transform::Transformer::from_env(&config.key_env).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let names = config.tables.keys().map(|t| t.chars().count());
    let mut bars = Bars::new(Drawing::from_env()?, names);
    let mut progress = |p: &Progress| bars.update(p);
    let (summaries, into) = match target {
        Target::Database {
            from,
            to,
            truncate,
            schema,
        } => {
            let source = Location::parse(std::slice::from_ref(&from))?;
            let target = Location::parse(std::slice::from_ref(&to))?;
            let summaries = match (source, target) {
                (Location::Sqlite(source), Location::Sqlite(target)) => {
                    anonymise::sqlite::anonymise(config, &transformer, &source, &target, &mut progress)
                        .map_err(|e| e.to_string())
                }
                (Location::Postgres(source), Location::Postgres(target)) => run_postgres(
                    config,
                    &transformer,
                    (&source, &target),
                    truncate,
                    schema,
                    &mut progress,
                )?
                .map_err(|e| run_error(&e, (&source, &target))),
                (Location::Mysql(source), Location::Mysql(target)) => mysql_cli::run(
                    config,
                    &transformer,
                    (&source, &target),
                    truncate,
                    &mut progress,
                ),
                _ => return Err(
                    "--from and --to must be two PostgreSQL databases, two MariaDB/MySQL databases or two SQLite files"
                        .into(),
                ),
            }?;
            (summaries, redact(&to))
        }
        Target::Csv { inputs, out_dir } => {
            let summaries = anonymise::csv_file::anonymise_with_progress(
                config,
                &transformer,
                &inputs,
                &out_dir,
                &mut progress,
            )
            .map_err(|e| e.to_string())?;
            (summaries, out_dir.display().to_string())
        }
    };
    drop(bars);
    print_summary(&summaries, started.elapsed(), &into)?;
    Ok(ExitCode::SUCCESS)
}

/// `report`: the k-anonymity report of `table` (for a CSV file, the file's) over the
/// quasi-identifiers the config declares for it; status 1 below `k`.
fn report(
    config: &Config,
    k: usize,
    source: &str,
    table: Option<String>,
    schema: &str,
) -> Result<ExitCode, String> {
    let location = Location::parse(&[source.to_owned()])?;
    let table = match (&location, table) {
        (_, Some(table)) => table,
        (Location::Csv(files), None) => anonymise::csv_file::table_name(&files[0]),
        (_, None) => return Err("a database report needs --table".into()),
    };
    let qis = quasi_identifiers(config, &table)?;
    let mut tally = anonymise::kanon::Tally::new(&qis);
    let mut add = |values: &[Option<String>]| {
        tally.add(values.iter().map(|v| v.as_deref().unwrap_or_default()));
    };
    match &location {
        Location::Csv(files) => scan_csv(&files[0], &qis, &mut add)?,
        Location::Sqlite(path) => {
            anonymise::sqlite::scan(path, &table, &qis, &mut add).map_err(|e| e.reason())?;
        }
        Location::Postgres(url) => scan_postgres(url, schema, &table, &qis, &mut add)?,
        Location::Mysql(url) => {
            mysql_cli::scan(url, &table, &qis, &mut add)?;
        }
    }
    let report = tally.report(k);
    print_out(&report.to_string())?;
    Ok(if report.passes() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The quasi-identifiers `config` declares for `table`; an error when it has no such table
/// (a name given with its schema, say) or declares none.
fn quasi_identifiers(config: &Config, table: &str) -> Result<Vec<String>, String> {
    let Some(declared) = config.tables.get(table) else {
        let known: Vec<&str> = config.tables.keys().map(String::as_str).collect();
        let hint = match table.split_once('.') {
            Some((schema, bare)) => format!(
                "; for a table of another PostgreSQL schema, give the schema and the bare name: --schema {schema} --table {bare}"
            ),
            None => String::new(),
        };
        return Err(format!(
            "the config has no table {table} (its tables: {}){hint}",
            known.join(", ")
        ));
    };
    if declared.quasi_identifiers.is_empty() {
        return Err(format!(
            "the config declares no quasi_identifiers for table {table}"
        ));
    }
    Ok(declared.quasi_identifiers.clone())
}

/// Each record of the CSV `file`: the values of its `columns`, in that order.
fn scan_csv(
    file: &Path,
    columns: &[String],
    each: &mut dyn FnMut(&[Option<String>]),
) -> Result<(), String> {
    let csv_err = |e: csv::Error| format!("{}: {e}", file.display());
    let mut reader = anonymise::csv_file::reader(file).map_err(|e| e.to_string())?;
    let headers = reader.headers().map_err(csv_err)?.clone();
    let at: Vec<usize> = columns
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
        each(&values);
    }
    Ok(())
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
    let shown = |e: DbError| db_reason(&e, url);
    let mut client = anonymise::postgres::connect(url, Side::Source).map_err(shown)?;
    anonymise::postgres::scan(&mut client, schema, table, columns, each)
        .map(|_| ())
        .map_err(shown)
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
    use super::{db_reason, Config, Progress, Schema, Summary};
    use anonymise::mysql;

    fn connect(url: &str) -> Result<::mysql::Conn, String> {
        mysql::connect(url, anonymise::run::Side::Source).map_err(|e| db_reason(&e, url))
    }

    pub fn schema(url: &str) -> Result<Schema, String> {
        mysql::schema(&mut connect(url)?).map_err(|e| db_reason(&e, url))
    }

    pub fn samples(
        url: &str,
        schema: &Schema,
        limit: usize,
    ) -> Result<Vec<Vec<Vec<String>>>, String> {
        let mut conn = connect(url)?;
        let mut sample = |t| mysql::sample(&mut conn, t, limit).map_err(|e| db_reason(&e, url));
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
            .map_err(|e| super::run_error(&e, (source, target)))
    }

    pub fn scan(
        url: &str,
        table: &str,
        columns: &[String],
        each: &mut dyn FnMut(&[Option<String>]),
    ) -> Result<u64, String> {
        mysql::scan(&mut connect(url)?, table, columns, each).map_err(|e| db_reason(&e, url))
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
