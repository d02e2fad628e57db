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

#[cfg(feature = "mysql")]
mod mariadb {
    use super::*;
    use common::mariadb::{Db, MariaDb};
    use common::server::Server;

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

    #[test]
    fn what_the_check_accepts_on_mariadb_runs_and_bytes_and_enums_take_no_text() {
        let server = MariaDb::server();
        let src = Db::with_schema(&server, "agree", "src", SCHEMA);
        let dst = Db::with_schema(&server, "agree", "dst", SCHEMA);
        src.exec(ROW);
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
        check_then_run("my", &src.url(), &dst.url(), &COLUMNS, &cases);
    }
}

#[cfg(feature = "postgres")]
mod postgresql {
    use super::*;
    use common::postgresql::{Db, Postgres};
    use common::server::Server;

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

    #[test]
    fn what_the_check_accepts_on_postgresql_runs_and_enums_and_one_byte_chars_take_no_text() {
        let server = Postgres::server();
        let src = Db::with_schema(&server, "agree", "src", SCHEMA);
        let dst = Db::with_schema(&server, "agree", "dst", SCHEMA);
        src.exec(ROW);
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
        check_then_run("pg", &src.url(), &dst.url(), &COLUMNS, &cases);
    }
}
