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

/// The host `url` names when it is not this machine.
pub(crate) fn remote_host(url: &str) -> Option<String> {
    if !url.contains("://") {
        // libpq's `key=value` form; anything else is a SQLite path.
        let host = url
            .split_whitespace()
            .find_map(|part| part.strip_prefix("host="))?;
        return (!is_local_host(host)).then(|| host.to_owned());
    }
    let Ok(parsed) = url::Url::parse(url) else {
        // Not a URL we can read: refuse rather than guess.
        return Some(url.split('@').next_back().unwrap_or(url).to_owned());
    };
    if parsed.scheme() == "sqlite" || parsed.scheme() == "file" {
        return None;
    }
    let query_host = parsed
        .query_pairs()
        .find(|(k, _)| k == "host" || k == "unix_socket")
        .map(|(_, v)| v.into_owned());
    let host = match parsed.host_str() {
        Some(h) if !h.is_empty() => h.to_owned(),
        _ => return query_host.filter(|h| !is_local_host(h)),
    };
    (!is_local_host(&host)).then_some(host)
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
    }
}
