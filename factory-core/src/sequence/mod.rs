//! Sequences: the `<n>` in `#[factory(sequence = "user<n>@example.com")]`.
//!
//! Every sequence field counts 1, 2, 3, ... in its own [`Sequence`], shared by the threads of
//! the process. A template's `<n>` renders as that number followed by a token of the process,
//! `user1-0f6w@example.com`, so values stay unique where a plain counter repeats itself:
//! across the processes cargo-nextest starts (one per test, each counting from 1) and across
//! runs against a database that keeps its rows.
//!
//! The token is made once per process. Where rows go to a database server, the server hands
//! it out: on the first `create` (or batch, or `get_or_create`) of the process through a
//! PostgreSQL or MariaDB/MySQL connection, the server gives a number no other client of it
//! ever gets (PostgreSQL: the transaction id `txid_current()`, which never repeats in the
//! server's life; MariaDB/MySQL: `UUID_SHORT()`, its server id, start time and a counter), and
//! the token is `0` followed by that number in base 36: `user7-04fq2k@example.com`. So test
//! processes on many machines (CI runners sharding one suite with `cargo nextest
//! --partition`) writing to one server never share a token, whatever their clocks and
//! temporary directories. The claim is one query, once per process ([`claim`] runs it; inside
//! an open PostgreSQL transaction it runs in a savepoint, so a failure cannot abort the
//! test's transaction).
//!
//! Before that first create (a `build()`), on SQLite, or when the server refuses the query
//! (a warning goes to stderr once), the token is the machine's: the base-36 form of a number
//! that grows strictly across the processes of the machine. It is the time in tenths of
//! a second since 2026-01-01T00:00Z, or the last number handed out plus one when that is
//! larger, kept in a lock file ([`FILE_VAR`], by default `factory-core-sequence.lock` in the
//! temporary directory) under an exclusive lock. The file makes processes that start in the
//! same tenth of a second distinct; the clock keeps runs distinct when the file is gone (a new
//! file repeats a token only if the previous run handed out numbers ahead of the clock, one
//! tenth of a second per process started in a burst, and the new run starts within that lead).
//! A machine's token has six characters until 2032 and never starts with `0`, so it never
//! equals a server's; a process that built values before its first create renders the later
//! ones with the server's token, and both sets stay distinct.
//!
//! When the file cannot be opened or locked (a read-only temporary directory, a file of
//! another user), the machine's token is the clock's number and the process id, `k3x9a2.1b3`,
//! and a warning goes to stderr. Two processes then share a token only if they share a pid
//! and a tenth of a second, which running processes cannot; the tokens never equal the file's,
//! which have no `.`.
//!
//! [`SCOPE_VAR`]` = process` renders plain numbers instead, `user1@example.com`: for snapshot
//! tests on a fresh database, and to show that a test catches collisions.
//!
//! A `sequence = |n| ..` closure receives the process's plain number; it can call [`unique`]
//! for the form a template gets:
//!
//! ```
//! use factory_core::sequence::unique;
//!
//! let code = |n: u64| format!("T-{}", unique(n));
//! assert_eq!(code(4), format!("T-{}", unique(4)));
//! ```
//!
//! Numbers restart at 1 within a process after `reset_sequences()` with the same token, so
//! values repeat there: reset only in tests whose rows do not outlive them.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

mod server;

pub use server::ClaimToken;

/// The environment variable that chooses how `<n>` renders: `global` (the default, also when
/// unset or empty) for `{n}-{token}`, `process` for the plain number.
///
/// It is read once per process, on the first value rendered; any other value panics there.
///
/// ```
/// assert_eq!(factory_core::sequence::SCOPE_VAR, "FACTORY_SEQUENCE_SCOPE");
/// ```
pub const SCOPE_VAR: &str = "FACTORY_SEQUENCE_SCOPE";

/// The environment variable that names the lock file holding the last token's number, in place
/// of `factory-core-sequence.lock` in [`std::env::temp_dir`].
///
/// Processes share tokens' strict order only when they share the file.
///
/// ```
/// assert_eq!(factory_core::sequence::FILE_VAR, "FACTORY_SEQUENCE_FILE");
/// ```
pub const FILE_VAR: &str = "FACTORY_SEQUENCE_FILE";

/// 2026-01-01T00:00Z in seconds since the Unix epoch: tokens count from there to stay short.
const TOKEN_EPOCH_SECS: u64 = 1_767_225_600;

/// An atomic counter that hands out 1, 2, 3, ... to every thread of the process.
///
/// The derive makes one `Sequence` per sequence field (and one per `db_generated` field, for the
/// stub values `build()` gives it), so two factories or two fields never share numbers.
/// The numbers are unique within a process; a template's `<n>` adds the process's token to
/// them ([`unique`]) to make values unique across processes and runs.
///
/// ```
/// use factory_core::Sequence;
///
/// static ORDER_NUMBER: Sequence = Sequence::new();
/// assert_eq!(ORDER_NUMBER.next(), 1);
/// assert_eq!(ORDER_NUMBER.next(), 2);
/// ORDER_NUMBER.reset();
/// assert_eq!(ORDER_NUMBER.next(), 1);
/// ```
#[derive(Debug)]
pub struct Sequence {
    last: AtomicU64,
}

impl Sequence {
    /// A sequence whose first value is 1.
    ///
    /// ```
    /// let seq = factory_core::Sequence::new();
    /// assert_eq!(seq.current(), 0);
    /// ```
    pub const fn new() -> Self {
        Self {
            last: AtomicU64::new(0),
        }
    }

    /// The next value: 1 on the first call, then one more on every call, from any thread.
    ///
    /// ```
    /// let seq = factory_core::Sequence::new();
    /// assert_eq!((seq.next(), seq.next()), (1, 2));
    /// ```
    #[inline]
    #[allow(clippy::should_implement_trait)] // a counter, not an iterator: it never ends
    pub fn next(&self) -> u64 {
        self.last.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Starts the sequence again at 1.
    ///
    /// ```
    /// let seq = factory_core::Sequence::new();
    /// seq.next();
    /// seq.reset();
    /// assert_eq!(seq.next(), 1);
    /// ```
    pub fn reset(&self) {
        self.last.store(0, Ordering::Relaxed);
    }

    /// The value the last [`next`](Self::next) returned (0 before the first).
    ///
    /// ```
    /// let seq = factory_core::Sequence::new();
    /// seq.next();
    /// assert_eq!(seq.current(), 1);
    /// ```
    pub fn current(&self) -> u64 {
        self.last.load(Ordering::Relaxed)
    }
}

impl Default for Sequence {
    fn default() -> Self {
        Self::new()
    }
}

/// What a template's `<n>` becomes for `n`: `{n}-{token}`, e.g. `7-k3x9a2`, with this process's
/// token; just `{n}` under `FACTORY_SEQUENCE_SCOPE=process`.
///
/// The number comes first and the token has no `-`, so two values are equal only if both the
/// number and the process are.
///
/// ```
/// use factory_core::sequence::unique;
///
/// let (seven, eight) = (unique(7), unique(8));
/// assert_ne!(seven, eight);
/// if let Some((n, token)) = seven.split_once('-') {
///     assert_eq!(n, "7");
///     assert_eq!(eight, format!("8-{token}"), "one token per process");
/// } else {
///     assert_eq!(seven, "7", "FACTORY_SEQUENCE_SCOPE=process");
/// }
/// ```
///
/// # Panics
/// If `FACTORY_SEQUENCE_SCOPE` is set to anything but `global` or `process`.
pub fn unique(n: u64) -> String {
    Numbered::new(n).to_string()
}

/// Expands a sequence template: every `<n>` in `template` becomes [`unique(n)`](unique).
///
/// The derive checks at compile time that a template holds `<n>`; this is the same rule at run
/// time for templates built by hand.
///
/// ```
/// use factory_core::sequence::{render, unique};
///
/// let email = render("user<n>@example.com", 7);
/// assert_eq!(email, format!("user{}@example.com", unique(7)));
/// ```
///
/// # Panics
/// If `FACTORY_SEQUENCE_SCOPE` is set to anything but `global` or `process`.
pub fn render(template: &str, n: u64) -> String {
    template.replace("<n>", &unique(n))
}

/// The `<n>` of a template as the derive formats it: [`unique`] without its own allocation.
pub(crate) struct Numbered {
    n: u64,
    scope: Scope,
}

impl Numbered {
    pub(crate) fn new(n: u64) -> Self {
        Self { n, scope: scope() }
    }
}

impl fmt::Display for Numbered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            Scope::Global => write!(f, "{}-{}", self.n, token()),
            Scope::Process => write!(f, "{}", self.n),
        }
    }
}

/// How far `<n>` is unique, from [`SCOPE_VAR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Across processes and runs: `{n}-{token}`.
    Global,
    /// Within the process: `{n}`.
    Process,
}

fn scope() -> Scope {
    static SCOPE: OnceLock<Scope> = OnceLock::new();
    *SCOPE.get_or_init(|| {
        parse_scope(std::env::var_os(SCOPE_VAR).as_deref()).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// A typo must not silently give values that collide (or that a snapshot does not expect).
fn parse_scope(value: Option<&OsStr>) -> Result<Scope, String> {
    match value.map(|v| v.to_str()) {
        None | Some(Some("" | "global")) => Ok(Scope::Global),
        Some(Some("process")) => Ok(Scope::Process),
        Some(_) => Err(format!(
            "{SCOPE_VAR}={:?} is not a sequence scope: use `global` (the default: `<n>` renders \
             as `{{n}}-{{token}}`, unique across processes and runs) or `process` (the plain \
             number, unique within the process only)",
            value.unwrap_or_default().to_string_lossy()
        )),
    }
}

/// This process's token: the server's once [`claim`] got one, else the machine's.
fn token() -> &'static str {
    match SERVER_TOKEN.get() {
        Some(token) => token,
        None => machine_token(),
    }
}

/// The token a database server handed out to this process, once claimed.
static SERVER_TOKEN: OnceLock<String> = OnceLock::new();
/// Whether this process is done claiming: it has the server's token, or a server refused.
static CLAIMED: AtomicBool = AtomicBool::new(false);

/// Takes this process's token from the database server `conn` is connected to, if it has none
/// yet: after this, `<n>` renders with a token no other client of that server has.
///
/// Every factory `create`, batch and `get_or_create` calls this first, so tests need not; it
/// is public for code that renders values with [`unique`] before creating anything. One query
/// the first time a process calls it with a PostgreSQL or MariaDB/MySQL connection; nothing on
/// SQLite (a file on one machine: the machine's token suffices), nothing after the first time,
/// nothing under `FACTORY_SEQUENCE_SCOPE=process`. A server that refuses the query leaves the
/// machine's token in place, with a warning on stderr.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::Connection;
/// let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
/// factory_core::sequence::claim(&mut conn); // SQLite: the machine's token stays
/// let seven = factory_core::sequence::unique(7);
/// assert!(seven == "7" || seven.starts_with("7-"));
/// # }
/// ```
pub fn claim<C: ClaimToken>(conn: &mut C) {
    if must_claim() {
        settle_claim(C::server_number(conn));
    }
}

/// Whether this process still has to ask a server for its token.
pub(crate) fn must_claim() -> bool {
    if CLAIMED.load(Ordering::Acquire) {
        return false;
    }
    if scope() == Scope::Process {
        CLAIMED.store(true, Ordering::Release);
        return false;
    }
    true
}

/// Takes what a server answered when asked for the process's token.
pub(crate) fn settle_claim(answer: Result<Option<u64>, diesel::result::Error>) {
    match answer {
        Ok(Some(number)) => {
            SERVER_TOKEN.get_or_init(|| server_token(number));
            CLAIMED.store(true, Ordering::Release);
        }
        // SQLite: a server-backed connection later in the process may still claim.
        Ok(None) => {}
        Err(e) => {
            if !CLAIMED.swap(true, Ordering::AcqRel) {
                let _ = writeln!(
                    io::stderr(),
                    "factory: the database server did not hand out a sequence token ({e}); \
                     sequence values use this machine's token {}, unique among this \
                     machine's processes only",
                    machine_token()
                );
            }
        }
    }
}

/// `0` and the server's number in base 36: a machine's token never starts with `0` (its
/// number is never 0 after 2026-01-01), so the two kinds never meet.
fn server_token(number: u64) -> String {
    format!("0{}", base36(number))
}

/// The machine's token: made on the first call, the same ever after.
fn machine_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let path = lock_file();
        let now = deciseconds_now();
        match acquire(&path, now) {
            Ok(value) => base36(value),
            Err(e) => {
                // Not `eprintln!`: the test harness would capture it into one test's output only.
                let _ = writeln!(
                    io::stderr(),
                    "factory: cannot use the sequence lock file {} ({e}); sequence tokens fall \
                     back to the clock and the process id (set {FILE_VAR} to a writable path)",
                    path.display()
                );
                fallback_token(now, std::process::id())
            }
        }
    })
}

fn lock_file() -> PathBuf {
    match std::env::var_os(FILE_VAR) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => std::env::temp_dir().join("factory-core-sequence.lock"),
    }
}

/// Tenths of a second since 2026-01-01T00:00Z (0 for a clock set earlier).
fn deciseconds_now() -> u64 {
    let since_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let deciseconds = u64::try_from(since_unix.as_millis() / 100).unwrap_or(u64::MAX);
    deciseconds.saturating_sub(TOKEN_EPOCH_SECS * 10)
}

/// Under the file's lock: `max(now, last + 1)`, written back as the new last number.
fn acquire(path: &Path, now: u64) -> io::Result<u64> {
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    file.lock()?;
    let mut text = Vec::new();
    file.read_to_end(&mut text)?;
    // Unreadable content (a write cut short) counts as nothing: the clock still orders tokens.
    let last = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    let value = last.map_or(now, |last| now.max(last.saturating_add(1)));
    // Overwritten in place with one fixed-width write, never emptied first: a process killed
    // here leaves the old number or the new one, not an empty file.
    let line = format!("{value:020}\n");
    file.seek(SeekFrom::Start(0))?;
    file.write_all(line.as_bytes())?;
    file.set_len(line.len() as u64)?;
    file.unlock()?;
    Ok(value)
}

/// A pid is unique among running processes, so with the clock it tells apart processes that
/// start together; `.` keeps it apart from every token the file gives.
fn fallback_token(now: u64, pid: u32) -> String {
    format!("{}.{}", base36(now), base36(pid.into()))
}

fn base36(mut value: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut digits = Vec::new();
    loop {
        digits.push(DIGITS[(value % 36) as usize]);
        value /= 36;
        if value == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).expect("ASCII digits")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn values_are_unique_across_threads() {
        static SEQ: Sequence = Sequence::new();
        let handles: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..1000).map(|_| SEQ.next()).collect::<Vec<_>>()))
            .collect();
        let all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let distinct: HashSet<_> = all.iter().copied().collect();
        assert_eq!(distinct.len(), 8000);
        assert_eq!(*all.iter().min().unwrap(), 1);
        assert_eq!(*all.iter().max().unwrap(), 8000);
    }

    /// A lock file of its own for each test, removed when the test ends.
    struct TempLockFile(PathBuf);

    impl TempLockFile {
        fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "factory-core-sequence-test-{}-{name}.lock",
                std::process::id()
            ));
            let _ = std::fs::remove_file(&path);
            Self(path)
        }
    }

    impl Drop for TempLockFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn tokens_strictly_increase_when_the_clock_stands_still() {
        let file = TempLockFile::new("still");
        let values: Vec<u64> = (0..50).map(|_| acquire(&file.0, 1000).unwrap()).collect();
        assert_eq!(values, (1000..1050).collect::<Vec<_>>());
    }

    #[test]
    fn tokens_strictly_increase_with_the_real_clock() {
        let file = TempLockFile::new("clock");
        let before = deciseconds_now();
        let values: Vec<u64> = (0..200)
            .map(|_| acquire(&file.0, deciseconds_now()).unwrap())
            .collect();
        assert!(values[0] >= before, "{} < {before}", values[0]);
        assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
    }

    #[test]
    fn tokens_are_distinct_across_threads_sharing_the_file() {
        let file = TempLockFile::new("threads");
        let now = deciseconds_now();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let path = file.0.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|_| acquire(&path, now).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let all: HashSet<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(all, (now..now + 400).collect());
    }

    #[test]
    fn the_clock_wins_when_it_is_ahead_and_garbage_counts_as_nothing() {
        let file = TempLockFile::new("ahead");
        assert_eq!(acquire(&file.0, 10).unwrap(), 10);
        assert_eq!(acquire(&file.0, 500).unwrap(), 500, "the clock moved on");
        assert_eq!(acquire(&file.0, 20).unwrap(), 501, "the clock went back");
        std::fs::write(&file.0, "not a number").unwrap();
        assert_eq!(acquire(&file.0, 30).unwrap(), 30);
        assert_eq!(
            std::fs::read_to_string(&file.0).unwrap(),
            "00000000000000000030\n",
            "overwritten in place, fixed width"
        );
        // A longer leftover is cut back to the new line.
        std::fs::write(&file.0, "000000000000000000040\ntrailing garbage\n").unwrap();
        assert_eq!(acquire(&file.0, 30).unwrap(), 30);
        assert_eq!(acquire(&file.0, 30).unwrap(), 31);
    }

    #[test]
    fn a_lock_file_that_cannot_be_created_is_an_error() {
        let missing_dir = std::env::temp_dir()
            .join(format!("factory-core-no-such-dir-{}", std::process::id()))
            .join("sequence.lock");
        assert!(acquire(&missing_dir, 1).is_err());
    }

    #[test]
    fn tokens_are_short_lowercase_base36() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(36 * 36 * 36 - 1), "zzz");
        // Late 2026, in tenths of a second since its start: six characters.
        assert_eq!(base36(300 * 24 * 36_000).len(), 6);
        let token = token();
        assert_eq!(token, super::token(), "one token per process");
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase() || c == '.'),
            "{token}"
        );
        assert!(token.len() <= 16, "{token}");
    }

    #[test]
    fn server_tokens_start_with_zero_and_machine_tokens_never_do() {
        assert_eq!(server_token(1), "01");
        assert_eq!(server_token(36 * 36), "0100");
        // Any machine number after 2026-01-01 (the clock's, or the file's next) and any pid.
        for value in [1, 35, 36, 1_000_000, u64::MAX] {
            assert!(!base36(value).starts_with('0'), "{value}");
            assert!(!fallback_token(value, 7).starts_with('0'), "{value}");
        }
    }

    #[test]
    fn the_fallback_token_tells_processes_apart_by_pid() {
        let (a, b) = (fallback_token(1000, 41), fallback_token(1000, 42));
        assert_ne!(a, b);
        assert_eq!(a, "rs.15");
        assert_ne!(fallback_token(1001, 41), a, "and runs apart by the clock");
    }

    #[test]
    fn numbers_render_with_the_token_or_plain() {
        let global = Numbered {
            n: 7,
            scope: Scope::Global,
        };
        assert_eq!(global.to_string(), format!("7-{}", token()));
        let plain = Numbered {
            n: 7,
            scope: Scope::Process,
        };
        assert_eq!(plain.to_string(), "7");
        match scope() {
            Scope::Global => assert_eq!(unique(12), format!("12-{}", token())),
            Scope::Process => assert_eq!(unique(12), "12"),
        }
        assert_eq!(render("u<n>@x.org", 3), format!("u{}@x.org", unique(3)));
    }

    #[test]
    fn the_scope_is_global_unless_process_and_a_typo_is_an_error() {
        let parse = |v: Option<&str>| parse_scope(v.map(OsStr::new));
        assert_eq!(parse(None), Ok(Scope::Global));
        assert_eq!(parse(Some("")), Ok(Scope::Global));
        assert_eq!(parse(Some("global")), Ok(Scope::Global));
        assert_eq!(parse(Some("process")), Ok(Scope::Process));
        let err = parse(Some("Process")).unwrap_err();
        assert!(
            err.starts_with("FACTORY_SEQUENCE_SCOPE=\"Process\" is not a sequence scope"),
            "{err}"
        );
        assert!(
            err.contains("`global`") && err.contains("`process`"),
            "{err}"
        );
    }
}
