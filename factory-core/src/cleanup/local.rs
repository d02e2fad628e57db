//! Reading a connection string as the driver that connects reads it: where it connects (the
//! guard that keeps destructive strategies off other machines) and how to show it (passwords
//! hidden).
//!
//! PostgreSQL strings go through libpq's own parser (`PQconninfoParse`, the one `PQconnectdb`
//! uses on the string Diesel hands it as is), then libpq's environment defaults. MySQL URLs are
//! read as Diesel reads them (the `url` crate, the host handed to the client library). SQLite
//! strings are files.

use super::backend::TestBackend;
use std::net::IpAddr;
use std::ops::Range;

/// Whether the connection string `url` names a database on this machine, read as its driver
/// reads it (guessed from the string: a `mysql://` URL, a PostgreSQL URL or `key=value`
/// string, else a SQLite file): a SQLite file, a Unix socket, `localhost` or a loopback
/// address. For PostgreSQL every host of a list counts, with libpq's `PGHOST`/`PGHOSTADDR`
/// for what the string leaves unset; a service (in the string or `PGSERVICE`) is not local,
/// as its host is in a service file.
///
/// ```
/// use factory_core::cleanup::is_local;
/// assert!(is_local("mysql://root@localhost/test"));
/// assert!(is_local("target/test.sqlite"));
/// assert!(!is_local("mysql://app@db.prod.example.com/app"));
/// # #[cfg(feature = "postgres")] {
/// assert!(is_local("postgres://postgres@127.0.0.1:5432/test"));
/// assert!(is_local("postgres:///test?host=/var/run/postgresql"));
/// // libpq reads `localhost#` as the user name.
/// assert!(!is_local("postgres://localhost#@db.prod.example.com/app"));
/// # }
/// ```
pub fn is_local(url: &str) -> bool {
    Driver::guess(url).is_some_and(|driver| refusal(driver, url, &process_env).is_none())
}

/// Why a destructive strategy may not run on the database a string names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The driver would connect to this host, which is not this machine.
    Remote(String),
    /// Where the driver connects cannot be told; why (no password in it).
    Unchecked(String),
}

/// The driver that reads a connection string: each backend of [`TestBackend`] names its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// libpq (PostgreSQL): conninfo strings and URIs.
    Libpq,
    /// Diesel's MySQL URL parsing, then the client library.
    MysqlClient,
    /// SQLite: paths and `file:` URIs.
    SqliteLibrary,
}

impl Driver {
    /// The driver a string is most likely meant for, when the connection type is unknown.
    pub(crate) fn guess(url: &str) -> Option<Self> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("mysql://") {
            Some(Self::MysqlClient)
        } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Some(Self::Libpq)
        } else if lower.starts_with("file:") || lower.starts_with("sqlite://") {
            Some(Self::SqliteLibrary)
        } else if url.contains("://") {
            None
        } else if url.contains('=') {
            Some(Self::Libpq)
        } else {
            Some(Self::SqliteLibrary)
        }
    }
}

/// Why the guard refuses a destructive strategy on `url` for connection type `C`; `None` when
/// the database is on this machine.
pub(crate) fn refusal_for<C: TestBackend>(url: &str) -> Option<Refusal> {
    refusal(C::DRIVER, url, &process_env)
}

/// Looks up an environment variable as libpq's `getenv` sees it.
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn process_env(var: &str) -> Option<String> {
    std::env::var_os(var).map(|value| value.to_string_lossy().into_owned())
}

fn refusal(driver: Driver, url: &str, env: Env<'_>) -> Option<Refusal> {
    match driver {
        Driver::SqliteLibrary => None,
        Driver::MysqlClient => mysql_refusal(url),
        Driver::Libpq => libpq_refusal(url, env),
    }
}

/// As Diesel's `MysqlConnection` reads `url`: the `url` crate's host, handed to the client
/// library, which takes no host (or `localhost`) as the local server's socket. Neither
/// Connector/C nor libmysqlclient reads a host from the environment.
fn mysql_refusal(url: &str) -> Option<Refusal> {
    let parsed = match url::Url::parse(url) {
        Ok(parsed) if parsed.scheme() == "mysql" => parsed,
        _ => {
            return Some(Refusal::Unchecked(
                "Diesel does not read it as a MySQL URL \
                 (mysql://user:password@host:port/database)"
                    .to_owned(),
            ))
        }
    };
    let local = match parsed.host()? {
        url::Host::Domain(name) => name.is_empty() || is_local_name(name),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    (!local).then(|| Refusal::Remote(parsed.host_str().unwrap_or_default().to_owned()))
}

/// As libpq reads `conninfo`: its own parser, then its environment defaults for each option
/// the string leaves unset (`PQconnectdb` does the same), then a slot per host.
#[cfg(feature = "postgres")]
fn libpq_refusal(conninfo: &str, env: Env<'_>) -> Option<Refusal> {
    let options = match libpq::parse(conninfo) {
        Ok(options) => options,
        Err(message) => {
            return Some(Refusal::Unchecked(format!(
                "libpq cannot parse the connection string ({})",
                redact_message(Driver::Libpq, conninfo, &message)
            )))
        }
    };
    let value = |keyword: &str| {
        let option = options.iter().find(|o| o.keyword == keyword)?;
        option
            .value
            .clone()
            .or_else(|| option.envvar.as_deref().and_then(env))
    };
    if let Some(service) = value("service") {
        return Some(Refusal::Unchecked(format!(
            "it names the PostgreSQL service `{service}` (in the string or PGSERVICE), whose \
             host is in a service file, and factory-core does not read service files; name the \
             host in the string instead"
        )));
    }
    let (hosts, addresses) = (value("host"), value("hostaddr"));
    libpq_targets(hosts.as_deref(), addresses.as_deref())
        .into_iter()
        .find(|target| !is_unix_socket(target) && !is_local_name(target))
        .map(|target| Refusal::Remote(target.to_owned()))
}

#[cfg(not(feature = "postgres"))]
fn libpq_refusal(_conninfo: &str, _env: Env<'_>) -> Option<Refusal> {
    Some(Refusal::Unchecked(
        "factory-core is built without its `postgres` feature, so libpq is not there to read \
         the string"
            .to_owned(),
    ))
}

/// What libpq connects to in each host slot: the slot's `hostaddr` when set, else its `host`
/// (empty: the default socket directory). Lists of different lengths make libpq refuse to
/// connect; every entry of both counts then.
#[cfg(feature = "postgres")]
fn libpq_targets<'a>(hosts: Option<&'a str>, addresses: Option<&'a str>) -> Vec<&'a str> {
    let list = |value: Option<&'a str>| match value {
        None | Some("") => Vec::new(),
        Some(value) => value.split(',').collect(),
    };
    let (hosts, addresses) = (list(hosts), list(addresses));
    if !hosts.is_empty() && hosts.len() == addresses.len() {
        hosts
            .into_iter()
            .zip(addresses)
            .map(|(host, address)| if address.is_empty() { host } else { address })
            .collect()
    } else {
        hosts.into_iter().chain(addresses).collect()
    }
}

/// libpq's `is_unixsock_path`: an absolute path, or an abstract socket; empty is the default
/// socket directory.
#[cfg(feature = "postgres")]
fn is_unix_socket(host: &str) -> bool {
    host.is_empty() || host.starts_with('/') || host.starts_with('@')
}

fn is_local_name(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// libpq's connection-string parser, through the libpq Diesel links.
#[cfg(feature = "postgres")]
mod libpq {
    use std::ffi::{c_char, CStr, CString};

    /// One option as the parser left it.
    pub(super) struct ConnOption {
        pub(super) keyword: String,
        /// The environment variable libpq takes the option from when the string has none.
        pub(super) envvar: Option<String>,
        /// The string's value, if it set one.
        pub(super) value: Option<String>,
    }

    /// Every option libpq knows, with the values `conninfo` sets (no defaults applied), or
    /// libpq's message (which may quote part of the string).
    pub(super) fn parse(conninfo: &str) -> Result<Vec<ConnOption>, String> {
        let conninfo = CString::new(conninfo).map_err(|_| "it holds a NUL byte".to_owned())?;
        let mut error: *mut c_char = std::ptr::null_mut();
        // SAFETY: `conninfo` is NUL-terminated and outlives the call.
        let options = unsafe { pq_sys::PQconninfoParse(conninfo.as_ptr(), &mut error) };
        if options.is_null() {
            if error.is_null() {
                return Err("out of memory".to_owned());
            }
            // SAFETY: libpq set `error` to a NUL-terminated message, freed once here.
            let message = unsafe { text(error) }.unwrap_or_default();
            unsafe { pq_sys::PQfreemem(error.cast()) };
            return Err(message.trim_end().to_owned());
        }
        let mut parsed = Vec::new();
        // SAFETY: libpq returns an array ended by an entry whose keyword is NULL, with
        // NUL-terminated strings or NULLs; it is freed once, after the last read.
        unsafe {
            let mut option = options;
            while !(*option).keyword.is_null() {
                parsed.push(ConnOption {
                    keyword: text((*option).keyword).unwrap_or_default(),
                    envvar: text((*option).envvar),
                    value: text((*option).val),
                });
                option = option.add(1);
            }
            pq_sys::PQconninfoFree(options);
        }
        Ok(parsed)
    }

    /// The keywords libpq knows.
    pub(super) fn keywords() -> Vec<String> {
        parse("").map_or_else(
            |_| Vec::new(),
            |options| options.into_iter().map(|o| o.keyword).collect(),
        )
    }

    /// # Safety
    /// `text` is NULL or points to a NUL-terminated string.
    unsafe fn text(text: *const c_char) -> Option<String> {
        (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
    }
}

/// `url` with its passwords shown as `***`: a URL's `user:password@`, `password` query
/// parameters, a `key=value` string's `password` (quoted or not).
///
/// Every error and debug output that shows a connection string shows it through this.
pub(crate) fn redact(url: &str) -> String {
    let mut shown = url.to_owned();
    for span in password_spans(url).into_iter().rev() {
        shown.replace_range(span, "***");
    }
    shown
}

/// A driver's error `message` about connecting with `url`, with `url`'s passwords (as written
/// and percent-decoded) hidden; for a string libpq cannot parse, also every quoted fragment
/// but libpq's keywords, as its parse errors quote the part of the string they choke on.
fn redact_message(driver: Driver, url: &str, message: &str) -> String {
    let mut shown = message.to_owned();
    for span in password_spans(url) {
        let written = &url[span];
        let decoded = percent_encoding::percent_decode_str(written)
            .decode_utf8_lossy()
            .into_owned();
        for secret in [written, decoded.as_str()] {
            if !secret.is_empty() {
                shown = shown.replace(secret, "***");
            }
        }
    }
    #[cfg(feature = "postgres")]
    if driver == Driver::Libpq && libpq::parse(url).is_err() {
        shown = hide_quoted(&shown, &libpq::keywords());
    }
    #[cfg(not(feature = "postgres"))]
    let _ = driver;
    shown
}

/// `error`, from establishing a connection of type `C` to `url`, with `url`'s passwords hidden.
pub(crate) fn redact_connection_error<C: TestBackend>(
    url: &str,
    error: diesel::ConnectionError,
) -> diesel::ConnectionError {
    use diesel::ConnectionError as E;
    let redact = |message: &str| redact_message(C::DRIVER, url, message);
    match error {
        E::BadConnection(message) => E::BadConnection(redact(&message)),
        E::InvalidConnectionUrl(message) => E::InvalidConnectionUrl(redact(&message)),
        // Its Debug lists the string's bytes.
        E::InvalidCString(nul) => E::InvalidConnectionUrl(nul.to_string()),
        other => other,
    }
}

/// `message` with the text of every `"quoted"` fragment shown as `…`, but `keep`'s words and
/// single punctuation characters (the syntax libpq expected).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
fn hide_quoted(message: &str, keep: &[String]) -> String {
    let mut shown = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('"') {
        let inner = &rest[open + 1..];
        let Some(close) = inner.find('"') else { break };
        shown.push_str(&rest[..=open]);
        let quoted = &inner[..close];
        let syntax = quoted.len() == 1 && quoted.bytes().all(|b| b.is_ascii_punctuation());
        let kept = syntax || keep.iter().any(|k| k == quoted);
        shown.push_str(if kept { quoted } else { "…" });
        shown.push('"');
        rest = &inner[close + 1..];
    }
    shown.push_str(rest);
    shown
}

/// Where `url`'s passwords are written.
fn password_spans(url: &str) -> Vec<Range<usize>> {
    match scheme_end(url) {
        Some(start) => userinfo_password(url, start)
            .into_iter()
            .chain(query_passwords(url))
            .collect(),
        None => conninfo_passwords(url),
    }
}

/// The index after `scheme://`, if `url` starts with one.
fn scheme_end(url: &str) -> Option<usize> {
    let colon = url.find("://")?;
    let scheme = &url[..colon];
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(colon + 3)
}

/// The password of `user:password@` after `start`. libpq and the `url` crate both end the
/// userinfo at the first `/`; libpq takes the first `@` before it, the `url` crate the last,
/// so everything between the first `:` and that last `@` is hidden. A password holding a `/`
/// makes both fail, but the string is still shown: then the last `@` of all counts, unless
/// what follows the `:` is a port.
fn userinfo_password(url: &str, start: usize) -> Option<Range<usize>> {
    let rest = &url[start..];
    let slash = rest.find('/').unwrap_or(rest.len());
    let at = match rest[..slash].rfind('@') {
        Some(at) => at,
        None => {
            let colon = rest[..slash].find(':')?;
            let port = &rest[colon + 1..slash];
            if rest.starts_with('[') || port.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            rest.rfind('@')?
        }
    };
    let colon = rest[..at].find(':')?;
    Some(start + colon + 1..start + at)
}

/// The values of `password` query parameters (keys percent-decoded, as libpq decodes them).
fn query_passwords(url: &str) -> Vec<Range<usize>> {
    let Some(question) = url.find('?') else {
        return Vec::new();
    };
    let mut spans = Vec::new();
    let mut position = question + 1;
    for parameter in url[question + 1..].split('&') {
        if let Some((key, _)) = parameter.split_once('=') {
            let key = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
            if key.eq_ignore_ascii_case("password") {
                let value = position + key_len(parameter) + 1;
                spans.push(value..position + parameter.len());
            }
        }
        position += parameter.len() + 1;
    }
    spans
}

fn key_len(parameter: &str) -> usize {
    parameter.find('=').unwrap_or(parameter.len())
}

/// The `password` values of a `key = value` string, tokenised as libpq does: a value is quoted
/// (`'..'`, backslash escapes) or runs to the next whitespace. A `password` keyword without
/// `=` (which libpq refuses) hides the rest of the string.
fn conninfo_passwords(conninfo: &str) -> Vec<Range<usize>> {
    let bytes = conninfo.as_bytes();
    let is_space = |b: u8| b.is_ascii_whitespace() || b == 0x0b;
    // The index after the character at `i`, or after the one a backslash there escapes.
    let step = |i: usize| {
        let i = if bytes[i] == b'\\' && i + 1 < bytes.len() {
            i + 1
        } else {
            i
        };
        i + conninfo[i..].chars().next().map_or(1, char::len_utf8)
    };
    let skip_spaces = |mut i: usize| {
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        i
    };
    let mut spans = Vec::new();
    let mut i = skip_spaces(0);
    while i < bytes.len() {
        let key_start = i;
        while i < bytes.len() && !is_space(bytes[i]) && bytes[i] != b'=' {
            i += conninfo[i..].chars().next().map_or(1, char::len_utf8);
        }
        let is_password = conninfo[key_start..i].eq_ignore_ascii_case("password");
        i = skip_spaces(i);
        if i >= bytes.len() || bytes[i] != b'=' {
            if is_password {
                spans.push(i..bytes.len());
            }
            break;
        }
        let value_start = skip_spaces(i + 1);
        i = value_start;
        if bytes.get(i) == Some(&b'\'') {
            i += 1;
            while i < bytes.len() && bytes[i] != b'\'' {
                i = step(i);
            }
            i = (i + 1).min(bytes.len());
        } else {
            while i < bytes.len() && !is_space(bytes[i]) {
                i = step(i);
            }
        }
        if is_password {
            spans.push(value_start..i);
        }
        i = skip_spaces(i);
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "postgres")]
    /// The host the guard names for `url`, read without environment, or `?` when it cannot
    /// tell.
    fn remote_host(url: &str) -> Option<String> {
        remote_host_with(url, &[])
    }

    #[cfg(feature = "postgres")]
    fn remote_host_with(url: &str, env: &[(&str, &str)]) -> Option<String> {
        let env = |var: &str| {
            env.iter()
                .find(|(name, _)| *name == var)
                .map(|(_, value)| (*value).to_owned())
        };
        match refusal(Driver::guess(url)?, url, &env)? {
            Refusal::Remote(host) => Some(host),
            Refusal::Unchecked(_) => Some("?".to_owned()),
        }
    }

    #[cfg(feature = "postgres")]
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

    #[cfg(feature = "postgres")]
    #[test]
    fn libpq_environment_defaults_fill_what_the_string_leaves_unset() {
        // PGHOSTADDR applies though the string names a host, and libpq connects to it.
        assert_eq!(
            remote_host_with("postgres://localhost/app", &[("PGHOSTADDR", "10.1.2.3")]),
            Some("10.1.2.3".into())
        );
        assert_eq!(
            remote_host_with("postgres://localhost/app", &[("PGHOSTADDR", "127.0.0.1")]),
            None
        );
        assert_eq!(
            remote_host_with("dbname=app", &[("PGHOST", "db.prod.example.com")]),
            Some("db.prod.example.com".into())
        );
        // The string's own values win over the environment.
        assert_eq!(
            remote_host_with("host=localhost", &[("PGHOST", "db.prod.example.com")]),
            None
        );
        assert_eq!(
            remote_host_with(
                "hostaddr=127.0.0.1 dbname=app",
                &[
                    ("PGHOSTADDR", "10.1.2.3"),
                    ("PGHOST", "db.prod.example.com")
                ]
            ),
            None
        );
        // An empty value is set: libpq takes the default socket, not the environment.
        assert_eq!(
            remote_host_with("host='' dbname=app", &[("PGHOST", "db.prod.example.com")]),
            None
        );
        assert_eq!(
            remote_host_with("dbname=app", &[("PGSERVICE", "prod")]),
            Some("?".into())
        );
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn unparseable_and_service_strings_say_why_without_the_password() {
        let reason = |url: &str| match refusal(Driver::Libpq, url, &|_| None) {
            Some(Refusal::Unchecked(reason)) => reason,
            other => panic!("{url}: {other:?}"),
        };
        let unparseable = reason("postgres://u:s3%ZZcret@localhost/x");
        assert!(
            unparseable.starts_with("libpq cannot parse"),
            "{unparseable}"
        );
        assert!(
            !unparseable.contains("s3") && !unparseable.contains("cret"),
            "{unparseable}"
        );
        // An unquoted password with a space: libpq chokes on its second word.
        let unquoted = reason("host=localhost password=s3 cret");
        assert!(
            !unquoted.contains("s3") && !unquoted.contains("cret"),
            "{unquoted}"
        );
        // Keywords stay readable.
        // libpq's keywords and syntax stay readable; other words may be the password's.
        let missing = reason("host=localhost password");
        assert!(
            missing.contains(r#"missing "=" after "password""#),
            "{missing}"
        );
        let unknown = reason("host=localhost s3cret=x");
        assert!(
            unknown.contains(r#"invalid connection option "…""#),
            "{unknown}"
        );
        let service = reason("service=prod");
        assert!(
            service.contains("`prod`") && service.contains("service file"),
            "{service}"
        );
    }

    #[test]
    fn passwords_are_hidden_in_every_form() {
        for (url, shown) in [
            (
                "postgres://app:s3cret@host/db",
                "postgres://app:***@host/db",
            ),
            (
                "mysql://app:s3%2Fcret@host:3306/db",
                "mysql://app:***@host:3306/db",
            ),
            // libpq ends the user at the first `@`, the `url` crate at the last.
            (
                "postgres://app:s3@cret@host/db",
                "postgres://app:***@host/db",
            ),
            (
                "postgres://app:s3/cret@host/db",
                "postgres://app:***@host/db",
            ),
            (
                "postgres://app@host/db?password=s3cret&sslmode=require",
                "postgres://app@host/db?password=***&sslmode=require",
            ),
            (
                "postgres://host/db?pass%77ord=s3cret",
                "postgres://host/db?pass%77ord=***",
            ),
            (
                "host=h password=s3cret dbname=d",
                "host=h password=*** dbname=d",
            ),
            (
                "host=h password = 's3 c\\'ret' dbname=d",
                "host=h password = *** dbname=d",
            ),
            ("password=s3\\ cret", "password=***"),
            ("host=h password s3cret", "host=h password ***"),
            (
                "postgres://localhost:5432/db?application_name=me@host",
                "postgres://localhost:5432/db?application_name=me@host",
            ),
            ("postgres://app@host/db", "postgres://app@host/db"),
            ("target/test.sqlite", "target/test.sqlite"),
            (
                "host=é password=sé dbname=d",
                "host=é password=*** dbname=d",
            ),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn migration_errors_hide_the_password() {
        let error = super::super::CleanupError::Migrations {
            database: "postgres://app:s3cret@localhost/db".into(),
            message: "relation exists".into(),
        };
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(
                !shown.contains("s3cret") && shown.contains("app:***@"),
                "{shown}"
            );
        }
    }
}
