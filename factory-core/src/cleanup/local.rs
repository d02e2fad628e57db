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
}
