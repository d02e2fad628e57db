//! The remote guard reads a connection string as the driver that connects reads it (libpq's own
//! parser and its environment defaults for PostgreSQL, Diesel's URL parsing for MySQL), and no
//! error or debug output shows a password.
//!
//! Every refusal is checked through `TestDb::open` with a destructive strategy. Strings the
//! guard lets through name a closed port, so the open fails to connect and nothing is touched.

#![cfg(any(feature = "postgres", feature = "mysql"))]

use factory_core::cleanup::{Cleanup, CleanupError, TestDb};

/// What opening with `Cleanup::Truncate` did: refused a remote host, refused a string it cannot
/// check, or got past the guard and failed to connect.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Remote(String),
    Unchecked,
    Connect,
}

fn outcome<T>(result: Result<T, CleanupError>) -> Outcome {
    match result {
        Err(CleanupError::RemoteDatabase { host, .. }) => Outcome::Remote(host),
        Err(CleanupError::UncheckedDatabase { .. }) => Outcome::Unchecked,
        Err(CleanupError::Connect { .. }) => Outcome::Connect,
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("opened a handle on a string that names a closed port"),
    }
}

/// `text` (an error's Display or Debug) shows none of `secrets`.
fn assert_hidden(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "`{secret}` shown in: {text}");
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use diesel::PgConnection;

    fn open(url: &str, cleanup: Cleanup) -> Result<TestDb<PgConnection>, CleanupError> {
        TestDb::<PgConnection>::open(url, cleanup)
    }

    #[test]
    fn url_tricks_that_libpq_reads_as_a_remote_host_are_refused() {
        for url in [
            "postgres://localhost#@db.prod.example.com/app",
            "postgres://localhost?@db.prod.example.com/app",
            "postgres://localhost/app#?host=db.prod.example.com",
            "host = db.prod.example.com dbname=app",
            "postgres://localhost,db.prod.example.com/app",
        ] {
            assert_eq!(
                outcome(open(url, Cleanup::Truncate)),
                Outcome::Remote("db.prod.example.com".into()),
                "{url}"
            );
        }
    }

    #[test]
    fn a_service_is_refused_as_unchecked() {
        let error = open("service=prod dbname=app", Cleanup::Truncate).unwrap_err();
        assert!(
            matches!(error, CleanupError::UncheckedDatabase { .. }),
            "{error}"
        );
        let message = error.to_string();
        assert!(message.contains("service"), "{message}");
        assert!(message.contains("allow_remote"), "{message}");
    }

    #[test]
    fn local_host_lists_get_past_the_guard() {
        for url in [
            "postgres://127.0.0.1:1,localhost:1,[::1]:1/x?connect_timeout=2",
            "host=db.prod.example.com hostaddr=127.0.0.1 port=1 dbname=x",
        ] {
            assert_eq!(
                outcome(open(url, Cleanup::Truncate)),
                Outcome::Connect,
                "{url}"
            );
        }
    }

    /// Set in the child process that opens `FACTORY_TEST_GUARD_URL` with libpq's environment
    /// variables set.
    const GUARD_CHILD: &str = "FACTORY_TEST_GUARD_CHILD";

    /// Not a test of its own: as a child of `libpq_environment_defaults_count`, opens the URL
    /// it is given with a destructive strategy and prints what happened.
    #[test]
    fn guard_child() {
        let Ok(url) = std::env::var(GUARD_CHILD) else {
            return;
        };
        println!("OUTCOME {:?}", outcome(open(&url, Cleanup::Truncate)));
    }

    /// What the guard does with `url` in a process whose environment has `env` (environment
    /// variables are process-wide, so a child process gets them).
    fn in_child(url: &str, env: &[(&str, &str)]) -> String {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "postgres::guard_child", "--nocapture"])
            .args(["--test-threads=1"])
            .env_remove("PGHOST")
            .env_remove("PGHOSTADDR")
            .env_remove("PGSERVICE")
            .env(GUARD_CHILD, url)
            .envs(env.iter().copied())
            .output()
            .expect("run the child test process");
        let stdout = String::from_utf8_lossy(&output.stdout);
        stdout
            .lines()
            .find_map(|line| Some(line.split_once("OUTCOME ")?.1))
            .unwrap_or_else(|| panic!("child printed no outcome: {stdout}"))
            .to_owned()
    }

    #[test]
    fn libpq_environment_defaults_count() {
        let remote = |host: &str| format!("{:?}", Outcome::Remote(host.into()));
        // PGHOSTADDR applies whenever the string sets no hostaddr, and wins over its host.
        assert_eq!(
            in_child(
                "postgres://localhost:1/app?connect_timeout=2",
                &[("PGHOSTADDR", "192.0.2.1")]
            ),
            remote("192.0.2.1")
        );
        assert_eq!(
            in_child("dbname=app port=1", &[("PGHOST", "db.prod.example.com")]),
            remote("db.prod.example.com")
        );
        assert_eq!(
            in_child("dbname=app port=1", &[("PGSERVICE", "prod")]),
            format!("{:?}", Outcome::Unchecked)
        );
        // The string's own host wins over PGHOST.
        assert_eq!(
            in_child(
                "postgres://127.0.0.1:1/x",
                &[("PGHOST", "db.prod.example.com")]
            ),
            format!("{:?}", Outcome::Connect)
        );
    }

    #[test]
    fn connect_errors_hide_the_password() {
        for (url, secrets) in [
            ("postgres://u:s3cret@127.0.0.1:1/x", &["s3cret"][..]),
            ("postgres://u@127.0.0.1:1/x?password=s3cret", &["s3cret"]),
            (
                "host=127.0.0.1 port=1 user=u password='s3 cr\\'et' dbname=x",
                &["s3", "cr\\'et"],
            ),
            ("host=127.0.0.1 port=1 password = s3cret", &["s3cret"]),
            // libpq quotes the token it cannot decode.
            ("postgres://u:s3%ZZcret@127.0.0.1:1/x", &["s3", "cret"]),
        ] {
            let error = open(url, Cleanup::Transaction).unwrap_err();
            assert!(matches!(error, CleanupError::Connect { .. }), "{error}");
            assert_hidden(&error.to_string(), secrets);
            assert_hidden(&format!("{error:?}"), secrets);
        }
    }

    #[test]
    fn guard_errors_hide_the_password() {
        // Unparseable: libpq's message would quote the password.
        let error = open(
            "postgres://u:s3%ZZcret@db.prod.example.com/x",
            Cleanup::Truncate,
        )
        .unwrap_err();
        assert!(
            matches!(error, CleanupError::UncheckedDatabase { .. }),
            "{error}"
        );
        assert_hidden(&error.to_string(), &["s3", "cret"]);
        assert_hidden(&format!("{error:?}"), &["s3", "cret"]);
    }

    #[test]
    fn a_handle_debug_hides_the_password() {
        // The server trusts local connections, so the password is not checked.
        let url = std::env::var("FACTORY_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
            .replacen("postgres@", "postgres:s3cret@", 1);
        let db = open(&url, Cleanup::Transaction).expect("open a handle on the test server");
        let debug = format!("{db:?}");
        assert_hidden(&debug, &["s3cret"]);
        assert!(debug.contains("postgres:***@"), "{debug}");
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use diesel::MysqlConnection;

    fn open(url: &str, cleanup: Cleanup) -> Result<TestDb<MysqlConnection>, CleanupError> {
        TestDb::<MysqlConnection>::open(url, cleanup)
    }

    #[test]
    fn hosts_are_read_as_diesel_reads_them() {
        assert_eq!(
            outcome(open("mysql://u@db.prod.example.com/app", Cleanup::Truncate)),
            Outcome::Remote("db.prod.example.com".into())
        );
        // Diesel connects to the URL's host: what follows `#` or `?` is no host.
        for url in [
            "mysql://127.0.0.1:1/app#@db.prod.example.com/app",
            "mysql://127.0.0.1:1/app?@db.prod.example.com/app",
        ] {
            assert_eq!(
                outcome(open(url, Cleanup::Truncate)),
                Outcome::Connect,
                "{url}"
            );
        }
    }

    #[test]
    fn connect_errors_hide_the_password() {
        for url in [
            "mysql://u:s3cret@127.0.0.1:1/x",
            "mysql://u:s3%2Fcret@127.0.0.1:1/x",
        ] {
            let error = open(url, Cleanup::Transaction).unwrap_err();
            assert!(matches!(error, CleanupError::Connect { .. }), "{error}");
            assert_hidden(&error.to_string(), &["s3"]);
            assert_hidden(&format!("{error:?}"), &["s3"]);
        }
    }
}
