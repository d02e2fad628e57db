//! What the benchmark examples share: the hand-written users, the timed rounds, the comparison
//! table and the factory_boy peer. Each example includes it with
//! `#[path = "support/bench.rs"] mod bench;` (Cargo does not build it as an example of its own).

// Each example uses only part of this module.
#![allow(dead_code)]

use diesel::prelude::*;
use fake::faker::name::en::{FirstName, LastName};
use fake::Fake;
use shop::User;
use std::fmt;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Timed rounds per measurement.
pub const RUNS: usize = 5;
/// The most ours may take relative to hand-written Diesel.
pub const TARGET_RATIO: f64 = 1.2;

/// The hand-written insertable: every column of `users` but `id`.
///
/// `treat_none_as_default_value = false` makes its columns plain `column = value` binds (also what
/// `copy_from(..).from_insertable(..)` requires). Without it every column may be `DEFAULT`, which
/// SQLite's multi-row `VALUES` cannot express, so Diesel runs a batch of them as one `INSERT` per
/// row.
#[derive(Insertable)]
#[diesel(table_name = shop::schema::users, treat_none_as_default_value = false)]
pub struct NewUser {
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub role: String,
}

impl NewUser {
    /// Columns a `NewUser` binds.
    pub const COLUMNS: usize = 7;

    /// The values `User::factory()` gives its `n`th user, by hand: the email from `n`, the
    /// username cut from the email, fake first and last names drawn from `rng`.
    pub fn fake_with_rng(n: u64, rng: &mut impl fake::Rng) -> Self {
        Self::with_names(
            n,
            FirstName().fake_with_rng(rng),
            LastName().fake_with_rng(rng),
        )
    }

    /// As [`NewUser::fake_with_rng`], borrowing the thread's RNG once per fake value
    /// (`factory_core::fake::value`, as the derive does).
    pub fn fake(n: u64) -> Self {
        Self::with_names(
            n,
            factory_core::fake::value(&FirstName()),
            factory_core::fake::value(&LastName()),
        )
    }

    fn with_names(n: u64, first_name: String, last_name: String) -> Self {
        let email = format!("user{n}@example.com");
        let username = email.split('@').next().unwrap_or_default().to_owned();
        NewUser {
            email,
            username,
            first_name,
            last_name,
            is_active: true,
            is_staff: false,
            role: "customer".to_owned(),
        }
    }

    /// The `User` these values make with `id`.
    pub fn into_user(self, id: i32) -> User {
        User {
            id,
            email: self.email,
            username: self.username,
            first_name: self.first_name,
            last_name: self.last_name,
            is_active: self.is_active,
            is_staff: self.is_staff,
            role: self.role,
        }
    }
}

/// Steps the sequence `seq` and returns its new value.
pub fn next(seq: &mut u64) -> u64 {
    *seq += 1;
    *seq
}

/// `n` users' values, by hand, numbered on from `seq`, from one borrow of the thread's RNG.
pub fn hand_built(n: usize, seq: &mut u64) -> Vec<NewUser> {
    factory_core::fake::with_rng(|rng| {
        (0..n)
            .map(|_| NewUser::fake_with_rng(next(seq), rng))
            .collect()
    })
}

/// As [`hand_built`], borrowing the thread's RNG once per fake value.
pub fn hand_built_per_value(n: usize, seq: &mut u64) -> Vec<NewUser> {
    (0..n).map(|_| NewUser::fake(next(seq))).collect()
}

/// Inserts `rows` in one transaction, `per_statement` rows at a time, with `insert`.
pub fn insert_batch<C: Connection, T>(
    conn: &mut C,
    rows: &[T],
    per_statement: usize,
    mut insert: impl FnMut(&mut C, &[T]) -> QueryResult<()>,
) {
    conn.transaction(|conn| {
        rows.chunks(per_statement)
            .try_for_each(|chunk| insert(conn, chunk))
    })
    .expect("insert the batch")
}

/// As [`insert_batch`], `insert` returning the users it reads back; how many came back in all.
pub fn insert_batch_read_back<C: Connection, T>(
    conn: &mut C,
    rows: &[T],
    per_statement: usize,
    mut insert: impl FnMut(&mut C, &[T]) -> QueryResult<Vec<User>>,
) -> usize {
    let mut stored = Vec::with_capacity(rows.len());
    insert_batch(conn, rows, per_statement, |conn, chunk| {
        stored.extend(insert(conn, chunk)?);
        Ok(())
    });
    stored.len()
}

/// Runs `run` once: its output (through `black_box`) and how long it took, not counting the
/// output's drop.
pub fn timed<T>(run: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = black_box(run());
    (out, start.elapsed())
}

/// One side's timed rounds and, where counted, the statements one run of it sends.
#[derive(Clone)]
pub struct Measured {
    pub times: Vec<Duration>,
    pub statements: Option<usize>,
}

/// A warm-up of each side, then `RUNS` rounds; each round starts one side later than the last,
/// so no side always goes first (with two sides: ours first, then hand-written first, ...).
/// `time` runs a side once and returns how long it took.
pub fn measure<S>(sides: &mut [S], mut time: impl FnMut(&mut S) -> Duration) -> Vec<Measured> {
    for side in sides.iter_mut() {
        time(side);
    }
    let mut times = vec![Vec::with_capacity(RUNS); sides.len()];
    for round in 0..RUNS {
        for k in 0..sides.len() {
            let i = (round + k) % sides.len();
            times[i].push(time(&mut sides[i]));
        }
    }
    times
        .into_iter()
        .map(|times| Measured {
            times,
            statements: None,
        })
        .collect()
}

pub fn best(v: &[Duration]) -> Duration {
    *v.iter().min().expect("RUNS > 0")
}

pub fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One line of the table: a hand-written side against ours.
pub struct Line {
    pub scenario: String,
    pub ours: Measured,
    pub hand: Measured,
    /// Shown for context, not held to the target.
    pub reference: bool,
}

/// The lines of one scenario whose sides were measured as `[ours, hand-written, references..]`:
/// ours against the hand-written side, then against each reference side (`{name}, {reference}`).
pub fn lines(name: String, measured: Vec<Measured>, references: &[&str]) -> Vec<Line> {
    assert_eq!(measured.len(), 2 + references.len(), "sides of {name}");
    let mut measured = measured.into_iter();
    let ours = measured.next().expect("ours");
    let mut lines = vec![Line {
        scenario: name.clone(),
        ours: ours.clone(),
        hand: measured.next().expect("hand-written"),
        reference: false,
    }];
    for (reference, hand) in references.iter().zip(measured) {
        lines.push(Line {
            scenario: format!("{name}, {reference}"),
            ours: ours.clone(),
            hand,
            reference: true,
        });
    }
    lines
}

/// Prints `lines` as a table (best and median of each side, their ratios, the statements where
/// counted, and whether ours is within `TARGET_RATIO` of the hand-written side on the best), then
/// a blank line, `notes`, and the scenarios over the target.
pub fn print_table(lines: &[Line], notes: &str) {
    let counted = lines.iter().any(|line| line.ours.statements.is_some());
    let (title, subtitle, width) = if counted {
        let title = format!(" | {:>13}", "statements");
        (title, format!(" | {:^13}", "ours / hand"), 136)
    } else {
        (String::new(), String::new(), 118)
    };
    println!(
        "{:<50} {:>9} {:>9} {:>7} | {:>9} {:>9} {:>7}{title}  within {TARGET_RATIO}x (best)",
        "scenario", "ours ms", "hand ms", "ratio", "ours ms", "hand ms", "ratio"
    );
    println!(
        "{:<50} {:^27} | {:^27}{subtitle}",
        "", "best of 5", "median of 5"
    );
    println!("{}", "-".repeat(width));
    let mut over = Vec::new();
    for line in lines {
        let (ours, hand) = (&line.ours.times, &line.hand.times);
        let (ob, hb) = (best(ours), best(hand));
        let (om, hm) = (median(ours), median(hand));
        let rb = ob.as_secs_f64() / hb.as_secs_f64();
        let rm = om.as_secs_f64() / hm.as_secs_f64();
        let verdict = if line.reference {
            "(reference)"
        } else if rb <= TARGET_RATIO && rm <= TARGET_RATIO {
            "yes"
        } else if rb <= TARGET_RATIO {
            "yes (median over)"
        } else {
            over.push(line.scenario.clone());
            "NO"
        };
        let statements = match (line.ours.statements, line.hand.statements) {
            (Some(ours), Some(hand)) => {
                let cell = format!("{ours} / {hand}");
                format!(" | {cell:>13}")
            }
            _ => String::new(),
        };
        println!(
            "{:<50} {:>9.2} {:>9.2} {:>6.2}x | {:>9.2} {:>9.2} {:>6.2}x{statements}  {}",
            line.scenario,
            ms(ob),
            ms(hb),
            rb,
            ms(om),
            ms(hm),
            rm,
            verdict
        );
    }
    println!("\n{notes}");
    if over.is_empty() {
        println!(
            "every scenario is within {TARGET_RATIO}x of hand-written Diesel (best of {RUNS})"
        );
    } else {
        println!(
            "over {TARGET_RATIO}x of hand-written Diesel (best of {RUNS}): {}",
            over.join(", ")
        );
    }
}

const PEER_PYTHON: &str = "/work/peer-venv/bin/python";
const PEER_URL: &str = "postgresql+psycopg2://postgres@127.0.0.1/factory_peer";
const PEER_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/peer/factory_boy_bench.py"
);

/// factory_boy's benchmark, `factory_boy_bench.py URL flush`, as the environment names it:
/// `FACTORY_BOY_PYTHON` (default `/work/peer-venv/bin/python` if it exists; empty skips the
/// peer), `FACTORY_BOY_SCRIPT` (default `../shared/peer/factory_boy_bench.py` from the workspace
/// root) and `FACTORY_BOY_URL`. Shown as the command line it runs.
pub struct Peer {
    python: PathBuf,
    script: PathBuf,
    url: String,
}

impl Peer {
    /// The peer, or why it cannot run.
    pub fn from_env() -> Result<Self, String> {
        let python = match std::env::var_os("FACTORY_BOY_PYTHON") {
            Some(p) if p.is_empty() => {
                return Err("FACTORY_BOY_PYTHON is set empty (peer skipped)".into())
            }
            Some(p) => PathBuf::from(p),
            None if Path::new(PEER_PYTHON).exists() => PathBuf::from(PEER_PYTHON),
            None => {
                return Err(format!(
                    "FACTORY_BOY_PYTHON is unset and {PEER_PYTHON} does not exist"
                ))
            }
        };
        let script =
            std::env::var_os("FACTORY_BOY_SCRIPT").map_or(PEER_SCRIPT.into(), PathBuf::from);
        if !script.exists() {
            return Err(format!("script {} not found", script.display()));
        }
        let url = std::env::var("FACTORY_BOY_URL").unwrap_or_else(|_| PEER_URL.into());
        Ok(Peer {
            python,
            script,
            url,
        })
    }

    /// Runs the script once: the seconds of its `NAME SECONDS ROWS` line for each `(name, rows)`
    /// of `wanted`, in that order, and how long the whole script took; or why there are none.
    pub fn run(&self, wanted: &[(&str, usize)]) -> Result<(Vec<f64>, Duration), String> {
        let start = Instant::now();
        let output = Command::new(&self.python)
            .arg(&self.script)
            .arg(&self.url)
            .arg("flush")
            .output()
            .map_err(|e| format!("cannot start {}: {e}", self.python.display()))?;
        let wall = start.elapsed();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let secs = |name: &str, rows: usize| {
            stdout.lines().find_map(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                match words[..] {
                    [n, secs, r] if n == name && r == rows.to_string() => secs.parse::<f64>().ok(),
                    _ => None,
                }
            })
        };
        let found: Option<Vec<f64>> = wanted
            .iter()
            .map(|&(name, rows)| secs(name, rows))
            .collect();
        match found {
            Some(secs) if output.status.success() => Ok((secs, wall)),
            _ => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                Err(format!(
                    "the script {} (stdout {:?}; stderr ends {:?})",
                    output.status,
                    stdout.trim(),
                    tail.join(" | ")
                ))
            }
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} flush",
            self.python.display(),
            self.script.display(),
            self.url
        )
    }
}
