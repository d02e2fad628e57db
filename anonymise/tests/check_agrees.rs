//! What `anonymise check` accepts, `anonymise run` carries out, on MariaDB/MySQL and
//! PostgreSQL: every rule goes on a column of every kind of type (text with and without a
//! length, enums, numbers, dates, bytes, booleans, ..), through `check` and then `run` of the
//! command line, and each accepted config must run; each refusal names the column. The rules
//! the check accepts on each column are pinned.
//!
//! The servers are `ANONYMISE_TEST_MYSQL` (default `mysql://root@127.0.0.1:3306`) and
//! `ANONYMISE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`). A server that
//! cannot be reached fails the tests: nothing is skipped.

#![cfg(any(feature = "mysql", feature = "postgres"))]

mod common;

use common::{cli, one_rule, text, write_config, KEY, READ_VALUES, RULES};

/// One column of the test table `typed`: the rules not tried on it, and those the check
/// accepts (in [`RULES`]' order).
struct Case {
    column: &'static str,
    skip: &'static [&'static str],
    accepted: &'static [&'static str],
}

/// Each case's rules through `check` and then `run` (`--truncate`) of `source` into
/// `target`, the other columns kept: a config the check accepts must run, and a refusal must
/// name the column. Panics with every disagreement and every verdict that is not the case's.
fn check_then_run(server: &str, source: &str, target: &str, columns: &[&str], cases: &[Case]) {
    let mut wrong = Vec::new();
    for case in cases {
        let mut accepted = Vec::new();
        for (name, rule) in RULES.iter().filter(|(n, _)| !case.skip.contains(n)) {
            let config = format!(
                "key_env = \"{}\"\n[tables.typed.columns]\n{}\n",
                common::KEY_ENV,
                one_rule(columns, case.column, rule)
            );
            let (_dir, path) = write_config(&format!("{server}-agree"), &config);
            let path = path.to_str().unwrap();
            let check = cli(&["check", "--config", path, source], None);
            let run = cli(
                &[
                    "run",
                    "--config",
                    path,
                    "--from",
                    source,
                    "--to",
                    target,
                    "--truncate",
                ],
                Some(KEY),
            );
            let at = format!("typed.{} = {rule}", case.column);
            match (check.status.success(), run.status.success()) {
                (true, true) => accepted.push(*name),
                (false, false) if text(&check).contains(&format!("typed.{}: ", case.column)) => {}
                (false, false) => wrong.push(format!(
                    "{at}: refused without the column:\n{}",
                    text(&check)
                )),
                (true, false) => wrong.push(format!(
                    "{at}: checked, then the run failed:\n{}",
                    text(&run)
                )),
                (false, true) => wrong.push(format!("{at}: refused, then the run went through")),
            }
        }
        if accepted != case.accepted {
            wrong.push(format!(
                "typed.{}: the check accepts {accepted:?}, not {:?}",
                case.column, case.accepted
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The server's URL (without a database) from `var`, else `default`.
fn server_url(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

#[cfg(feature = "mysql")]
mod mariadb {
    use super::*;
    use mysql::prelude::Queryable;
    use mysql::{Conn, Opts};

    const SCHEMA: &str = "
        CREATE TABLE typed (
            id INT PRIMARY KEY,
            e ENUM('text', 'other') NOT NULL,
            s VARCHAR(10),
            n INT,
            f TINYINT(1),
            d DECIMAL(10, 2),
            dt DATE,
            dtm DATETIME,
            b BLOB,
            vb VARBINARY(16),
            bt BIT(1),
            t TEXT,
            j JSON
        ) ENGINE = InnoDB";
    const COLUMNS: [&str; 13] = [
        "id", "e", "s", "n", "f", "d", "dt", "dtm", "b", "vb", "bt", "t", "j",
    ];
    const ROW: &str = "INSERT INTO typed VALUES (1, 'text', 'SW1A 1AA', 37, 1, 37.5, '1990-05-06',
        '1990-05-06 10:00:00', x'ff00', x'ff00', b'1', 'SW1A 1AA', '{\"a\": 1}')";

    /// Databases `names` of `server`, made empty and dropped at the end.
    struct Databases(String, Vec<String>);

    impl Databases {
        fn new(server: &str, names: &[&str]) -> Self {
            let mut admin = Conn::new(Opts::from_url(&format!("{server}/mysql")).unwrap())
                .unwrap_or_else(|e| panic!("MariaDB/MySQL is unreachable at {server} (set ANONYMISE_TEST_MYSQL to another server): {e}"));
            let names: Vec<String> = names
                .iter()
                .map(|n| format!("a3_{n}_{}", std::process::id()))
                .collect();
            for name in &names {
                admin
                    .query_drop(format!("DROP DATABASE IF EXISTS {name}"))
                    .unwrap();
                admin.query_drop(format!("CREATE DATABASE {name}")).unwrap();
            }
            Databases(server.to_owned(), names)
        }

        fn url(&self, i: usize) -> String {
            format!("{}/{}", self.0, self.1[i])
        }

        fn exec(&self, i: usize, sql: &str) {
            Conn::new(Opts::from_url(&self.url(i)).unwrap())
                .unwrap()
                .query_drop(sql)
                .unwrap();
        }
    }

    impl Drop for Databases {
        fn drop(&mut self) {
            if let Ok(mut admin) = Conn::new(Opts::from_url(&format!("{}/mysql", self.0)).unwrap())
            {
                for name in &self.1 {
                    let _ = admin.query_drop(format!("DROP DATABASE IF EXISTS {name}"));
                }
            }
        }
    }

    #[test]
    fn what_the_check_accepts_on_mariadb_runs_and_bytes_and_enums_take_no_text() {
        let server = server_url("ANONYMISE_TEST_MYSQL", "mysql://root@127.0.0.1:3306");
        let dbs = Databases::new(&server, &["agree_src", "agree_dst"]);
        for i in 0..2 {
            dbs.exec(i, SCHEMA);
        }
        dbs.exec(0, ROW);
        let numbers = &["keep", "null", "age", "round", "map 7"][..];
        let cases = [
            // An enum, even one whose values are words like `text`, takes only its values.
            Case {
                column: "e",
                skip: &[],
                accepted: &["keep", "map text"],
            },
            // A fake value's length varies: a VARCHAR(10) takes the short ones only.
            Case {
                column: "s",
                skip: &["fake", "year", "age", "round", "half"],
                accepted: &[
                    "keep",
                    "null",
                    "postcode",
                    "map A",
                    "map 7",
                    "map empty",
                    "map text",
                ],
            },
            Case {
                column: "n",
                skip: &[],
                accepted: numbers,
            },
            Case {
                column: "f",
                skip: &[],
                accepted: numbers,
            },
            Case {
                column: "d",
                skip: &[],
                accepted: &["keep", "null", "age", "round", "half", "map 7"],
            },
            Case {
                column: "dt",
                skip: &[],
                accepted: &["keep", "null", "year"],
            },
            Case {
                column: "j",
                skip: &["map A", "map 7", "map empty", "map text"],
                accepted: &["keep", "null"],
            },
            Case {
                column: "dtm",
                skip: &[],
                accepted: &["keep", "null", "year"],
            },
            // Bytes are read as bytes: keep and null only.
            Case {
                column: "b",
                skip: &[],
                accepted: &["keep", "null"],
            },
            Case {
                column: "vb",
                skip: &[],
                accepted: &["keep", "null"],
            },
            Case {
                column: "bt",
                skip: &[],
                accepted: &["keep", "null"],
            },
            Case {
                column: "t",
                skip: READ_VALUES,
                accepted: &[
                    "keep",
                    "null",
                    "pseudonym",
                    "email",
                    "fake",
                    "postcode",
                    "map A",
                    "map 7",
                    "map empty",
                    "map text",
                ],
            },
        ];
        check_then_run("my", &dbs.url(0), &dbs.url(1), &COLUMNS, &cases);
    }
}

#[cfg(feature = "postgres")]
mod postgresql {
    use super::*;
    use postgres::{Client, NoTls};

    const SCHEMA: &str = "
        CREATE TYPE context AS ENUM ('text', 'other');
        CREATE TABLE typed (
            id int PRIMARY KEY,
            e context,
            s varchar(10),
            c \"char\",
            n integer,
            d numeric(10, 2),
            dt date,
            ts timestamptz,
            b bytea,
            bo boolean,
            j jsonb,
            u uuid,
            tv tsvector,
            t text
        )";
    const COLUMNS: [&str; 14] = [
        "id", "e", "s", "c", "n", "d", "dt", "ts", "b", "bo", "j", "u", "tv", "t",
    ];
    const ROW: &str = "INSERT INTO typed VALUES (1, 'text', 'SW1A 1AA', 'x', 37, 37.5,
        '1990-05-06', '1990-05-06 10:00:00+00', '\\xff00', true, '{\"a\": 1}',
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'some words', 'SW1A 1AA')";

    /// Databases `names` of `server`, made empty and dropped at the end.
    struct Databases(String, Vec<String>);

    impl Databases {
        fn new(server: &str, names: &[&str]) -> Self {
            let mut admin = Client::connect(&format!("{server}/postgres"), NoTls)
                .unwrap_or_else(|e| panic!("PostgreSQL is unreachable at {server} (set ANONYMISE_TEST_POSTGRES to another server): {e}"));
            let names: Vec<String> = names
                .iter()
                .map(|n| format!("a3_{n}_{}", std::process::id()))
                .collect();
            for name in &names {
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .unwrap();
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap();
            }
            Databases(server.to_owned(), names)
        }

        fn url(&self, i: usize) -> String {
            format!("{}/{}", self.0, self.1[i])
        }

        fn exec(&self, i: usize, sql: &str) {
            Client::connect(&self.url(i), NoTls)
                .unwrap()
                .batch_execute(sql)
                .unwrap();
        }
    }

    impl Drop for Databases {
        fn drop(&mut self) {
            if let Ok(mut admin) = Client::connect(&format!("{}/postgres", self.0), NoTls) {
                for name in &self.1 {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }

    #[test]
    fn what_the_check_accepts_on_postgresql_runs_and_enums_and_one_byte_chars_take_no_text() {
        let server = server_url(
            "ANONYMISE_TEST_POSTGRES",
            "postgres://postgres@127.0.0.1:5432",
        );
        let dbs = Databases::new(&server, &["agree_src", "agree_dst"]);
        for i in 0..2 {
            dbs.exec(i, SCHEMA);
        }
        dbs.exec(0, ROW);
        // The check cannot read the values of a PostgreSQL enum, nor judge a `uuid` or a
        // `jsonb`: the database judges a map's outputs there (a run with one it refuses fails
        // and writes nothing), so such maps are not tried.
        let unjudged = &["map A", "map 7", "map empty"][..];
        let cases = [
            // An enum named `context` is no text type.
            Case {
                column: "e",
                skip: unjudged,
                accepted: &["keep", "null", "map text"],
            },
            Case {
                column: "s",
                skip: &["fake", "year", "age", "round", "half"],
                accepted: &[
                    "keep",
                    "null",
                    "postcode",
                    "map A",
                    "map 7",
                    "map empty",
                    "map text",
                ],
            },
            // One byte, which PostgreSQL would cut longer text to without a word.
            Case {
                column: "c",
                skip: &[],
                accepted: &["keep", "null", "map A", "map 7", "map empty"],
            },
            Case {
                column: "n",
                skip: &[],
                accepted: &["keep", "null", "age", "round", "map 7"],
            },
            Case {
                column: "d",
                skip: &[],
                accepted: &["keep", "null", "age", "round", "half", "map 7"],
            },
            Case {
                column: "dt",
                skip: &[],
                accepted: &["keep", "null", "year"],
            },
            Case {
                column: "ts",
                skip: &[],
                accepted: &["keep", "null", "year"],
            },
            // `bytea` is read as text, which a map replaces.
            Case {
                column: "b",
                skip: &[],
                accepted: &["keep", "null", "map A", "map 7", "map empty", "map text"],
            },
            Case {
                column: "bo",
                skip: &[],
                accepted: &["keep", "null"],
            },
            Case {
                column: "j",
                skip: &["map A", "map 7", "map empty", "map text"],
                accepted: &["keep", "null"],
            },
            Case {
                column: "u",
                skip: &["map A", "map 7", "map empty", "map text"],
                accepted: &["keep", "null"],
            },
            Case {
                column: "tv",
                skip: &[],
                accepted: &["keep", "null", "map A", "map 7", "map empty", "map text"],
            },
            Case {
                column: "t",
                skip: READ_VALUES,
                accepted: &[
                    "keep",
                    "null",
                    "pseudonym",
                    "email",
                    "fake",
                    "postcode",
                    "map A",
                    "map 7",
                    "map empty",
                    "map text",
                ],
            },
        ];
        check_then_run("pg", &dbs.url(0), &dbs.url(1), &COLUMNS, &cases);
    }
}
