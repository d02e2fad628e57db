//! Seeds an integration environment's database with named, predictable entities: the
//! administrator and the customer of `testco.com`, 20 products and the customer's 5 completed
//! orders. Running it again changes nothing. The entities are described in `src/seed.rs`.
//!
//! ```text
//! cargo run --example seed -- --database-url shop.sqlite
//! cargo run --features postgres --example seed -- --database-url postgres://postgres@127.0.0.1:5432/shop
//! cargo run --features mysql --example seed -- --database-url mysql://root@127.0.0.1:3306/shop
//! ```
//!
//! The database is created if it does not exist, and the shop's migrations are applied first.

use clap::Parser;
use shop::seed::SeedReport;
use std::process::ExitCode;

/// Seeds the shop's database with named, predictable entities; a second run changes nothing.
#[derive(Debug, Parser)]
#[command(name = "seed")]
struct Args {
    /// `postgres://` or `postgresql://` (feature `postgres`), `mysql://` (feature `mysql`),
    /// anything else is an SQLite file path.
    #[arg(long, value_name = "URL")]
    database_url: String,
}

/// The backend a URL's scheme picks.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl Backend {
    fn of(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres
        } else if url.starts_with("mysql://") {
            Self::Mysql
        } else {
            Self::Sqlite
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
            Self::Mysql => "MySQL",
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let url = args.database_url.as_str();
    let backend = Backend::of(url);
    let outcome = match backend {
        Backend::Sqlite => Ok(shop::seed::run(&mut shop::sqlite(url))),
        Backend::Postgres => postgres(url),
        Backend::Mysql => mysql(url),
    };
    match outcome {
        Ok(Ok(report)) => {
            println!(
                "seeded {} database {}\n",
                backend.name(),
                without_password(url)
            );
            print!("{report}");
            ExitCode::SUCCESS
        }
        Ok(Err(error)) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
        Err(not_compiled_in) => {
            eprintln!("error: {not_compiled_in}");
            ExitCode::from(2)
        }
    }
}

/// The seed's result, or why this build cannot reach the backend.
type Outcome = Result<Result<SeedReport, shop::seed::SeedError>, &'static str>;

#[cfg(feature = "postgres")]
fn postgres(url: &str) -> Outcome {
    Ok(shop::seed::run(&mut shop::postgres(url)))
}

#[cfg(not(feature = "postgres"))]
fn postgres(_: &str) -> Outcome {
    Err("this build has no PostgreSQL support: run it with `--features postgres`")
}

#[cfg(feature = "mysql")]
fn mysql(url: &str) -> Outcome {
    Ok(shop::seed::run(&mut shop::mysql(url)))
}

#[cfg(not(feature = "mysql"))]
fn mysql(_: &str) -> Outcome {
    Err("this build has no MySQL support: run it with `--features mysql`")
}

/// The URL as it may be printed: a password in it replaced by `***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rsplit_once('@') {
        Some((userinfo, _)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***{}", &rest[userinfo.len()..])
        }
        _ => url.to_owned(),
    }
}
