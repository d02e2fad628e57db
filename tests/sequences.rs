//! Sequences across processes, as cargo-nextest runs tests (one process each): child processes
//! of this test binary build users at the same time, and their emails must not repeat. With
//! `FACTORY_SEQUENCE_SCOPE=process` they do, which shows the check can fail.

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod common;

use factory_core::Factory;
use shop::User;
use std::collections::HashSet;
use std::process::{Command, Output};

/// Set in the child processes; the probe prints only there.
const CHILD_VAR: &str = "FACTORY_SEQUENCES_TEST_CHILD";
const EMAILS_PER_CHILD: usize = 200;

/// Prints the emails of 200 built users; the tests below run it in child processes.
#[test]
fn emails_probe() {
    let emails: Vec<String> = User::factory()
        .build_list(EMAILS_PER_CHILD)
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(emails.len(), EMAILS_PER_CHILD);
    if std::env::var_os(CHILD_VAR).is_some() {
        println!("EMAILS={}", emails.join(","));
    }
}

/// Starts `count` children of this binary running the probe, all before waiting for any, with
/// the given environment on top of this process's.
fn probes(count: usize, env: &[(&str, Option<&str>)]) -> Vec<Output> {
    let children: Vec<_> = (0..count)
        .map(|_| {
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.args(["emails_probe", "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD_VAR, "1")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            for (name, value) in env {
                match value {
                    Some(value) => cmd.env(name, value),
                    None => cmd.env_remove(name),
                };
            }
            cmd.spawn().expect("start a child process")
        })
        .collect();
    children
        .into_iter()
        .map(|child| child.wait_with_output().expect("wait for a child process"))
        .collect()
}

/// The emails a successful probe printed.
fn emails(out: &Output) -> Vec<String> {
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        // Not a prefix: the harness's `test emails_probe ... ` comes first on the line.
        .find_map(|l| l.split_once("EMAILS=").map(|(_, emails)| emails))
        .unwrap_or_else(|| panic!("no emails in {stdout}"));
    let emails: Vec<String> = line.split(',').map(str::to_owned).collect();
    assert_eq!(emails.len(), EMAILS_PER_CHILD, "{line}");
    emails
}

/// `user<n>-<token>@example.com` into `n` and the token.
fn split(email: &str) -> (u64, &str) {
    let local = email
        .strip_prefix("user")
        .and_then(|e| e.strip_suffix("@example.com"))
        .unwrap_or_else(|| panic!("not a sequence email: {email}"));
    let (n, token) = local
        .split_once('-')
        .unwrap_or_else(|| panic!("no token in {email}"));
    (n.parse().unwrap(), token)
}

/// Every child counts 1..=200 with a token of its own, and no email repeats across them.
fn assert_distinct_across(outputs: &[Output]) -> Vec<String> {
    let mut all = HashSet::new();
    let mut tokens = Vec::new();
    for out in outputs {
        let emails = emails(out);
        let (first_n, token) = split(&emails[0]);
        assert_eq!(first_n, 1, "each process counts from 1: {}", emails[0]);
        for (i, email) in emails.iter().enumerate() {
            assert_eq!(split(email), (i as u64 + 1, token), "one token per process");
        }
        tokens.push(token.to_owned());
        all.extend(emails);
    }
    assert_eq!(
        all.len(),
        outputs.len() * EMAILS_PER_CHILD,
        "emails repeat across processes; tokens {tokens:?}"
    );
    tokens
}

#[test]
fn emails_are_distinct_across_processes_started_together() {
    let outputs = probes(
        8,
        &[
            ("FACTORY_SEQUENCE_SCOPE", None),
            ("FACTORY_SEQUENCE_FILE", None),
        ],
    );
    let tokens = assert_distinct_across(&outputs);
    assert!(
        tokens.iter().all(|t| t.len() <= 7 && !t.contains('.')),
        "short tokens from the lock file: {tokens:?}"
    );
}

#[test]
fn emails_stay_distinct_when_the_lock_file_cannot_be_used() {
    let unusable = std::env::temp_dir()
        .join(format!("factory-no-such-dir-{}", std::process::id()))
        .join("sequence.lock");
    let outputs = probes(
        4,
        &[
            ("FACTORY_SEQUENCE_SCOPE", None),
            ("FACTORY_SEQUENCE_FILE", Some(unusable.to_str().unwrap())),
        ],
    );
    let tokens = assert_distinct_across(&outputs);
    assert!(
        tokens.iter().all(|t| t.contains('.')),
        "clock and pid tokens: {tokens:?}"
    );
    let stderr = String::from_utf8_lossy(&outputs[0].stderr);
    assert!(
        stderr.contains("cannot use the sequence lock file"),
        "the fallback is reported: {stderr}"
    );
}

/// The negative control: plain per-process numbers collide, so the checks above can fail.
#[test]
fn process_scope_repeats_emails_across_processes() {
    let outputs = probes(2, &[("FACTORY_SEQUENCE_SCOPE", Some("process"))]);
    let (first, second) = (emails(&outputs[0]), emails(&outputs[1]));
    assert_eq!(first[0], "user1@example.com");
    assert_eq!(first[199], "user200@example.com");
    assert_eq!(first, second, "both processes count 1, 2, 3, ... alone");
}

#[test]
fn an_unknown_scope_fails_with_the_allowed_values() {
    let outputs = probes(1, &[("FACTORY_SEQUENCE_SCOPE", Some("machine"))]);
    assert!(!outputs[0].status.success(), "{:?}", outputs[0]);
    let stderr = String::from_utf8_lossy(&outputs[0].stderr);
    assert!(
        stderr.contains("FACTORY_SEQUENCE_SCOPE=\"machine\" is not a sequence scope")
            && stderr.contains("`global`")
            && stderr.contains("`process`"),
        "{stderr}"
    );
}

/// In a child: a user built before anything is created, then one created through `conn` in
/// its test transaction, then another built; prints the three emails.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn print_tokens_around_a_create<C>(mut conn: C)
where
    shop::UserFactory: factory_core::Create<C>,
{
    if std::env::var_os(CHILD_VAR).is_none() {
        return;
    }
    let built = User::factory().build().email;
    let created = User::factory().create(&mut conn).email;
    let after = User::factory().build().email;
    println!("TOKENS={built},{created},{after}");
}

#[cfg(feature = "postgres")]
#[test]
fn server_token_probe_postgres() {
    print_tokens_around_a_create(common::postgres());
}

#[cfg(feature = "mysql")]
#[test]
fn server_token_probe_mysql() {
    print_tokens_around_a_create(common::mysql());
}

/// Two processes create through one server at once: before their first create they render
/// the machine's token, from it on the server's, which starts with `0` (a machine's never
/// does) and differs between them.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn assert_server_tokens(probe: &str) {
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([probe, "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD_VAR, "1")
                .env_remove("FACTORY_SEQUENCE_SCOPE")
                .output()
                .expect("run a child process")
        })
        .collect();
    let mut server_tokens = Vec::new();
    for out in &children {
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("TOKENS=").map(|(_, t)| t.to_owned()))
            .unwrap_or_else(|| panic!("no tokens in {stdout}"));
        let tokens: Vec<&str> = line.split(',').map(|email| split(email).1).collect();
        let [built, created, after] = tokens[..] else {
            panic!("three emails expected: {line}")
        };
        assert!(!built.starts_with('0'), "the machine's token: {built}");
        assert!(
            created.starts_with('0') && created.len() >= 2,
            "the server's token: {created}"
        );
        assert_eq!(after, created, "the server's token stays for the process");
        server_tokens.push(created.to_owned());
    }
    assert_ne!(server_tokens[0], server_tokens[1], "one token per process");
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_hands_out_the_sequence_token() {
    assert_server_tokens("server_token_probe_postgres");
}

#[cfg(feature = "mysql")]
#[test]
fn mysql_hands_out_the_sequence_token() {
    assert_server_tokens("server_token_probe_mysql");
}
