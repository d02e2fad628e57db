//! Whether a database URL names this machine: destructive strategies refuse other hosts
//! unless the user opts in.

use std::net::IpAddr;

/// Whether `url` names a database on this machine: a SQLite path, a Unix socket, `localhost`
/// or a loopback address.
///
/// ```
/// use factory_core::cleanup::is_local;
/// assert!(is_local("postgres://postgres@127.0.0.1:5432/test"));
/// assert!(is_local("mysql://root@localhost/test"));
/// assert!(is_local("postgres:///test?host=/var/run/postgresql"));
/// assert!(is_local("target/test.sqlite"));
/// assert!(!is_local("postgres://app@db.prod.example.com/app"));
/// ```
pub fn is_local(url: &str) -> bool {
    remote_host(url).is_none()
}

/// The first host `url` would reach that is not this machine. Every host counts: the URL's,
/// libpq's `host` and `hostaddr` parameters (which win over it), comma-separated lists, and
/// `PGHOST`/`PGHOSTADDR` when a PostgreSQL URL names none.
pub(crate) fn remote_host(url: &str) -> Option<String> {
    hosts(url).into_iter().find(|h| !is_local_host(h))
}

fn hosts(url: &str) -> Vec<String> {
    let split = |value: &str| -> Vec<String> {
        value
            .split(',')
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .collect()
    };
    let mut hosts = Vec::new();
    let postgres;
    if !url.contains("://") {
        // libpq's `key=value` form, or else a SQLite path.
        let pairs: Vec<(&str, &str)> = url
            .split_whitespace()
            .filter_map(|part| part.split_once('='))
            .collect();
        postgres = !pairs.is_empty();
        for (key, value) in pairs {
            if key == "host" || key == "hostaddr" {
                hosts.extend(split(value.trim_matches('\'')));
            }
        }
    } else {
        let Ok(parsed) = url::Url::parse(url) else {
            // Not a URL we can read: refuse rather than guess.
            return vec![url.to_owned()];
        };
        if matches!(parsed.scheme(), "sqlite" | "file") {
            return hosts;
        }
        postgres = matches!(parsed.scheme(), "postgres" | "postgresql");
        if let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) {
            hosts.extend(split(&url_decode(host)));
        }
        for (key, value) in parsed.query_pairs() {
            if matches!(key.as_ref(), "host" | "hostaddr" | "unix_socket") {
                hosts.extend(split(&value));
            }
        }
    }
    if postgres && hosts.is_empty() {
        for var in ["PGHOST", "PGHOSTADDR"] {
            if let Ok(value) = std::env::var(var) {
                hosts.extend(split(&value));
            }
        }
    }
    hosts
}

fn url_decode(host: &str) -> String {
    host.replace("%2F", "/").replace("%2f", "/")
}

fn is_local_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.is_empty()
        || host.starts_with('/')
        || host.starts_with("%2F")
        || host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_hosts_are_named_and_local_ones_pass() {
        assert_eq!(
            remote_host("postgres://u:p@10.0.0.5:5432/app").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(
            remote_host("host=db.internal dbname=app").as_deref(),
            Some("db.internal")
        );
        assert_eq!(remote_host("host=localhost dbname=app"), None);
        assert_eq!(remote_host("mysql://root@[::1]:3306/test"), None);
        assert_eq!(
            remote_host("postgresql://%2Fvar%2Frun%2Fpostgresql/test"),
            None
        );
        assert_eq!(remote_host(":memory:"), None);
        assert_eq!(
            remote_host("postgres:///test?host=db.example.com").as_deref(),
            Some("db.example.com")
        );
        // libpq connects to the query's host or hostaddr, whatever the URL's host says.
        assert_eq!(
            remote_host("postgres://localhost/db?host=db.prod.example.com").as_deref(),
            Some("db.prod.example.com")
        );
        assert_eq!(
            remote_host("postgres://localhost/db?hostaddr=10.1.2.3").as_deref(),
            Some("10.1.2.3")
        );
        assert_eq!(
            remote_host("host=localhost hostaddr=10.1.2.3 dbname=app").as_deref(),
            Some("10.1.2.3")
        );
        assert_eq!(
            remote_host("postgres://localhost,db2.example.com/app").as_deref(),
            Some("db2.example.com")
        );
    }

    /// Strings that the old URL parser read as local while libpq connects elsewhere.
    #[cfg(feature = "postgres")]
    #[test]
    fn strings_libpq_reads_as_a_remote_host_are_not_local() {
        for url in [
            // libpq takes everything before the first `@` (up to a `/`) as the user.
            "postgres://localhost#@db.prod.example.com/app",
            "postgres://localhost?@db.prod.example.com/app",
            // `#` is no fragment to libpq: the query after it still sets the host.
            "postgres://localhost/app#?host=db.prod.example.com",
            // Spaces around `=` are allowed in conninfo strings.
            "host = db.prod.example.com dbname=app",
            "host= db.prod.example.com dbname=app",
            "host ='db.prod.example.com' dbname=app",
            // A service file can name any host.
            "service=prod dbname=app",
            "postgres:///app?service=prod",
            "postgres://u:p@10.0.0.5:5432/app",
            "host=db.internal dbname=app",
            "postgres:///test?host=db.example.com",
            "postgres://localhost/db?host=db.prod.example.com",
            "postgres://localhost/db?hostaddr=10.1.2.3",
            "host=localhost hostaddr=10.1.2.3 dbname=app",
            "postgres://localhost,db2.example.com/app",
            "postgresql://%64b.prod.example.com/app",
        ] {
            assert!(!is_local(url), "{url} reaches a remote host");
        }
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn strings_libpq_reads_as_this_machine_are_local() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "host=localhost dbname=app",
            "postgresql://%2Fvar%2Frun%2Fpostgresql/test",
            "postgres:///test?host=/var/run/postgresql",
            // Every host of a list is local.
            "postgres://localhost,127.0.0.1:5433,[::1]:5434/app",
            "host=localhost,/tmp,127.0.0.2 port=5432,5433,5434 dbname=app",
            // hostaddr is what libpq connects to; host then only names the server for TLS.
            "host=db.prod.example.com hostaddr=127.0.0.1 dbname=app",
            "host=a.example.com,b.example.com hostaddr=127.0.0.1,::1 dbname=app",
            "user=postgres dbname=test host = 127.0.0.1",
        ] {
            assert!(is_local(url), "{url} is on this machine");
        }
    }

    /// Diesel parses MySQL URLs with the `url` crate and hands the host to the client library:
    /// the guard reads them the same way, tricks included.
    #[test]
    fn mysql_urls_are_read_as_diesel_reads_them() {
        for url in [
            "mysql://root@localhost/test",
            "mysql://root@127.0.0.1:3306/test",
            "mysql://root@[::1]:3306/test",
            "mysql:///test",
            "mysql://localhost#@db.prod.example.com/app",
            "mysql://localhost?@db.prod.example.com/app",
            "mysql://localhost/app?unix_socket=/run/mysqld/mysqld.sock",
        ] {
            assert!(is_local(url), "{url} is on this machine");
        }
        for url in [
            "mysql://u:p@db.prod.example.com/app",
            "mysql://db.prod.example.com/app?unix_socket=/run/mysqld/mysqld.sock",
            "mysql://u:p@10.0.0.5:3306/app",
        ] {
            assert!(!is_local(url), "{url} reaches a remote host");
        }
    }

    #[test]
    fn sqlite_paths_and_uris_are_local() {
        for url in [
            ":memory:",
            "target/test.sqlite",
            "file:test.db?mode=memory&cache=shared",
            "file:///tmp/test.db",
            "sqlite://test.db",
        ] {
            assert!(is_local(url), "{url} is a local file");
        }
    }
}
