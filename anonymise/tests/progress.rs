//! `ANONYMISE_PROGRESS` end to end, on a CSV run: `always` draws progress lines whatever stderr
//! is, `never` draws none, `auto` (and no setting) draws none when stderr is not a terminal,
//! and any other value is refused before anything is written, naming the values it takes.

mod common;

use common::{scratch, text, users_columns, write_people, Scratch, KEY, KEY_ENV};
use std::path::PathBuf;
use std::process::{Command, Output};

const CONFIG: &str = concat!(
    r#"
key_env = "ANONYMISE_TEST_KEY"

"#,
    users_columns!()
);

/// A scratch directory holding `users.csv` (300 people) and the config; the run writes to
/// `out` there.
fn people(test: &str) -> (Scratch, PathBuf, PathBuf) {
    let dir = scratch(test);
    let users = dir.join("users.csv");
    write_people(&users, 300);
    let config = dir.join("anonymise.toml");
    std::fs::write(&config, CONFIG).unwrap();
    (dir, users, config)
}

/// `anonymise run` of the people of `dir` into `dir/out`, with `ANONYMISE_PROGRESS` set to
/// `progress` (unset for `None`); stderr is a pipe.
fn run(test: &str, progress: Option<&str>) -> (Scratch, Output) {
    let (dir, users, config) = people(test);
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anonymise"));
    cmd.args(["run", "--config", config.to_str().unwrap(), "--out-dir"])
        .arg(&out)
        .arg(&users)
        .env(KEY_ENV, KEY)
        .env_remove("ANONYMISE_PROGRESS");
    if let Some(progress) = progress {
        cmd.env("ANONYMISE_PROGRESS", progress);
    }
    let output = cmd.output().expect("run the anonymise binary");
    (dir, output)
}

/// Whether `stderr` holds a line of the users' progress bar.
fn shows_progress(output: &Output) -> bool {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .any(|l| l.trim_start().starts_with("users") && l.contains("rows"))
}

#[test]
fn always_draws_progress_lines_on_a_pipe() {
    let (_dir, output) = run("progress-always", Some("always"));
    assert!(output.status.success(), "{}", text(&output));
    assert!(shows_progress(&output), "{}", text(&output));
}

#[test]
fn never_draws_no_progress_only_the_summary() {
    let (_dir, output) = run("progress-never", Some("never"));
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "",
        "nothing on stderr"
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 table, 300 rows"),
        "{}",
        text(&output)
    );
}

#[test]
fn auto_draws_nothing_when_stderr_is_not_a_terminal() {
    for (test, progress) in [("progress-auto", Some("auto")), ("progress-unset", None)] {
        let (_dir, output) = run(test, progress);
        assert!(output.status.success(), "{progress:?}: {}", text(&output));
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            "",
            "{progress:?}: nothing on stderr"
        );
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("300 rows"),
            "{progress:?}: {}",
            text(&output)
        );
    }
}

#[test]
fn another_value_is_refused_naming_the_three_and_writes_nothing() {
    for value in ["sometimes", "1"] {
        let (dir, output) = run("progress-bogus", Some(value));
        let message = text(&output);
        assert_eq!(output.status.code(), Some(2), "{value}: {message}");
        for allowed in ["auto", "always", "never"] {
            assert!(message.contains(allowed), "{value}: {allowed}: {message}");
        }
        assert!(message.contains("ANONYMISE_PROGRESS"), "{value}: {message}");
        assert_eq!(
            std::fs::read_dir(dir.join("out")).unwrap().count(),
            0,
            "{value}: nothing written"
        );
    }
}
