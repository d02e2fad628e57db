//! CSV runs end to end: nothing personal survives (not even hashed), joins survive, and a run
//! that cannot classify everything writes nothing.

mod common;

use anonymise::config::{Config, TableSchema};
use anonymise::csv_file;
use anonymise::run::Progress;
use anonymise::transform::Transformer;
use common::{
    assert_no_leak, cli, email, file_names, first_leak, person, scratch, text, users_columns,
    write_people, Scratch, KEY,
};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Output;

/// People and their orders, as production might hold them: `n` users (the columns of
/// [`common::Person`]), `2n` orders.
fn people(dir: &Path, n: u64) -> (PathBuf, PathBuf) {
    let users = dir.join("users.csv");
    write_people(&users, n);
    let orders = dir.join("orders.csv");
    let mut w = csv::Writer::from_path(&orders).unwrap();
    w.write_record(["id", "user_email", "total"]).unwrap();
    for i in 0..n * 2 {
        w.write_record([i.to_string(), email((i * 31) % n), (i % 500).to_string()])
            .unwrap();
    }
    w.flush().unwrap();
    (users, orders)
}

const CONFIG: &str = concat!(
    r#"
key_env = "ANONYMISE_TEST_KEY"

[tables.users]
quasi_identifiers = ["postcode", "birth_date", "gender"]

"#,
    users_columns!(),
    r#"
[tables.orders.columns]
id = "keep"
total = "keep"

[[virtual_keys]]
from = "orders.user_email"
to = "users.email"
"#
);

/// `anonymise run` of `inputs` into `dir/out`, with `config` written to `dir/anonymise.toml`.
fn run_cli(dir: &Path, config: &str, inputs: &[&Path], key: Option<&str>) -> Output {
    let config_path = dir.join("anonymise.toml");
    std::fs::write(&config_path, config).unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut args = vec![
        "run",
        "--config",
        config_path.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ];
    args.extend(inputs.iter().map(|input| input.to_str().unwrap()));
    cli(&args, key)
}

/// A scratch directory holding [`people`] (`n` of them), and the run of `config` over them.
fn people_run(
    name: &str,
    n: u64,
    config: &str,
    key: Option<&str>,
) -> (Scratch, PathBuf, PathBuf, Output) {
    let dir = scratch(name);
    let (users, orders) = people(&dir, n);
    let run = run_cli(&dir, config, &[&users, &orders], key);
    (dir, users, orders, run)
}

/// The run of `config` over 50 people, refused without writing anything: what it said.
fn refused(name: &str, config: &str, key: Option<&str>) -> String {
    let (dir, _, _, run) = people_run(name, 50, config, key);
    assert!(!run.status.success());
    assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 0);
    String::from_utf8_lossy(&run.stderr).into_owned()
}

fn column(path: &Path, name: &str) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let at = r.headers().unwrap().iter().position(|h| h == name).unwrap();
    r.records().map(|rec| rec.unwrap()[at].to_owned()).collect()
}

#[test]
fn no_original_value_nor_its_md5_or_sha256_survives_in_output_logs_or_report() {
    let (dir, users, orders, run) = people_run("csv-leak", 2_000, CONFIG, Some(KEY));
    assert!(run.status.success(), "{}", text(&run));
    let out = dir.join("out");
    let config = dir.join("anonymise.toml");
    let report = cli(
        &[
            "report",
            "--k",
            "2",
            "--config",
            config.to_str().unwrap(),
            out.join("users.csv").to_str().unwrap(),
        ],
        None,
    );
    let mut haystack = std::fs::read(out.join("users.csv")).unwrap();
    haystack.extend(std::fs::read(out.join("orders.csv")).unwrap());
    haystack.extend(file_names(&out));
    for stream in [&run.stdout, &run.stderr, &report.stdout, &report.stderr] {
        haystack.extend_from_slice(stream);
    }
    // Every original, its md5 and its sha256 as patterns, searched in one pass.
    let mut originals: Vec<(&str, String)> = Vec::new();
    for (file, col) in [
        (&users, "email"),
        (&users, "name"),
        (&users, "phone"),
        (&users, "address"),
        (&users, "postcode"),
        (&users, "birth_date"),
        (&orders, "user_email"),
    ] {
        originals.extend(column(file, col).into_iter().map(|v| (col, v)));
    }
    let checked = assert_no_leak(originals.clone(), &haystack);
    assert!(checked > 10_000, "checked {checked} values");

    // The search does find a leak: the same run with names kept.
    let keep_names = CONFIG.replace(
        "name = { rule = \"fake\", kind = \"name\" }",
        "name = \"keep\"",
    );
    let (leaky, _, _, run) = people_run("csv-leaky", 2_000, &keep_names, Some(KEY));
    assert!(run.status.success(), "{}", text(&run));
    let kept = std::fs::read(leaky.join("out/users.csv")).unwrap();
    assert_eq!(
        first_leak(originals, &kept),
        Err("name: the value".to_owned())
    );
}

#[test]
fn progress_names_each_table_on_lines_of_its_own_with_sane_rates_and_no_value() {
    // `cli` has the progress drawn on stderr (a pipe here), as it is on a terminal.
    let (_dir, users, _, run) = people_run("csv-progress", 300, CONFIG, Some(KEY));
    assert!(run.status.success(), "{}", text(&run));
    let progress = String::from_utf8_lossy(&run.stderr).into_owned();
    for table in ["users", "orders"] {
        assert!(
            progress.lines().any(|l| l.trim_start().starts_with(table)),
            "{progress}"
        );
    }
    // Each line shows one table's bar: none runs into another, nor into the summary.
    for line in progress.lines() {
        let tables = ["users", "orders", "table "]
            .iter()
            .filter(|t| line.contains(*t))
            .count();
        assert!(tables <= 1, "{line:?} in {progress}");
    }
    assert!(progress.ends_with('\n'), "{progress:?}");
    // Rates, in the bars and the summary, come from the time a table took: a few hundred rows
    // cannot have gone through at millions a second.
    let said = text(&run);
    let words: Vec<&str> = said.split_whitespace().collect();
    for pair in words.windows(2) {
        if pair[1].starts_with("rows/s") {
            if let Ok(rate) = pair[0].trim_start_matches(',').parse::<f64>() {
                assert!(rate < 1e6, "{rate} rows/s in {said}");
            }
        }
    }
    let originals: Vec<(&str, String)> = ["email", "name", "phone", "address"]
        .iter()
        .flat_map(|c| column(&users, c).into_iter().map(move |v| (*c, v)))
        .collect();
    assert!(assert_no_leak(originals, progress.as_bytes()) > 1_000);
}

#[test]
fn joins_and_unique_columns_survive() {
    let (dir, users, orders, run) = people_run("csv-joins", 1_000, CONFIG, Some(KEY));
    assert!(run.status.success(), "{}", text(&run));
    let out = dir.join("out");
    let join_count = |users: &Path, orders: &Path| {
        let emails: HashSet<String> = column(users, "email").into_iter().collect();
        column(orders, "user_email")
            .iter()
            .filter(|e| emails.contains(*e))
            .count()
    };
    assert_eq!(join_count(&users, &orders), 2_000);
    assert_eq!(
        join_count(&out.join("users.csv"), &out.join("orders.csv")),
        2_000,
        "every order still finds its user"
    );
    let emails = column(&out.join("users.csv"), "email");
    let distinct: HashSet<&String> = emails.iter().collect();
    assert_eq!(distinct.len(), emails.len(), "unique emails stay unique");
    // The same key gives the same pseudonyms in another run.
    let (again, _, _, run) = people_run("csv-joins-again", 1_000, CONFIG, Some(KEY));
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(column(&again.join("out/users.csv"), "email"), emails);
}

#[test]
fn an_unclassified_column_writes_nothing() {
    let config = CONFIG.replace("phone = { rule = \"fake\", kind = \"phone\" }\n", "");
    let stderr = refused("csv-unclassified", &config, Some(KEY));
    assert!(
        stderr.contains("users.phone") && stderr.contains("nothing was written"),
        "{stderr}"
    );
}

#[test]
fn a_config_entry_for_a_dropped_column_writes_nothing() {
    let config = CONFIG.replace(
        "gender = \"keep\"",
        "gender = \"keep\"\nmiddle_name = \"null\"",
    );
    let stderr = refused("csv-dropped", &config, Some(KEY));
    assert!(stderr.contains("users.middle_name"), "{stderr}");
}

#[test]
fn a_missing_key_writes_nothing() {
    let stderr = refused("csv-nokey", CONFIG, None);
    assert!(stderr.contains("ANONYMISE_TEST_KEY"), "{stderr}");
}

#[test]
fn an_out_dir_that_does_not_exist_is_made_and_removed_again_when_the_run_fails() {
    let dir = scratch("hg-csv-new-out-dir");
    let (users, orders) = people(&dir, 30);
    let inputs = [users.as_path(), orders.as_path()];
    let fresh = dir.join("fresh").join("out");
    let out = run_lib(CONFIG, &inputs, &fresh, &mut |_| {});
    assert!(out.is_ok(), "{:?}", out.err().map(|e| e.to_string()));
    assert_eq!(files(&fresh), ["orders.csv", "users.csv"]);
    // Refused by the check, or failing part way (an unmapped value of the last table): the
    // directories the run made are gone again, and nothing else is left.
    let unclassified = CONFIG.replace("gender = \"keep\"\n", "");
    let unmapped = CONFIG.replace(
        "total = \"keep\"",
        "total = { rule = \"map\", values = { 1 = \"1\" } }",
    );
    for (i, config) in [unclassified, unmapped].iter().enumerate() {
        let parent = dir.join(format!("missing-{i}"));
        let error = run_lib(config, &inputs, &parent.join("out"), &mut |_| {}).unwrap_err();
        assert!(error.to_string().contains("nothing was written"), "{error}");
        assert!(!parent.exists(), "{error}: {} left", parent.display());
    }
    // An out-dir that cannot be made is named as the output directory: here its parent is a
    // file.
    let blocked = dir.join("users.csv").join("out");
    let config = dir.join("anonymise.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let run = cli(
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--out-dir",
            blocked.to_str().unwrap(),
            users.to_str().unwrap(),
            orders.to_str().unwrap(),
        ],
        Some(KEY),
    );
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(
        text(&run).contains(&format!("the output directory {}", blocked.display())),
        "{}",
        text(&run)
    );
}

/// A scratch directory holding 30 [`people`], and its empty `out`.
fn people_and_out(name: &str) -> (Scratch, PathBuf, PathBuf, PathBuf) {
    let dir = scratch(name);
    let (users, orders) = people(&dir, 30);
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    (dir, users, orders, out)
}

/// A transformer with the tests' key, for runs through the library.
fn transformer() -> Transformer {
    Transformer::new(KEY.as_bytes()).unwrap()
}

/// The library run of `config` over `inputs` into `out`, calling `progress` as it goes.
fn run_lib(
    config: &str,
    inputs: &[&Path],
    out: &Path,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<anonymise::Summary>, csv_file::CsvError> {
    let inputs: Vec<PathBuf> = inputs.iter().map(|p| p.to_path_buf()).collect();
    csv_file::anonymise_with_progress(
        &Config::parse(config).unwrap(),
        &transformer(),
        &inputs,
        out,
        progress,
    )
}

/// The names of the files in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Writes `rows` (the first the header) to `path` as CSV.
fn write_csv(path: &Path, rows: &[Vec<String>]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_path(path)
        .unwrap();
    for row in rows {
        w.write_record(row).unwrap();
    }
    w.flush().unwrap();
}

/// `id,email` then `n` people, or `email,id` with `email_first`.
fn emails(path: &Path, n: u64, email_first: bool) {
    let mut rows = vec![vec!["id".to_owned(), "email".to_owned()]];
    rows.extend((0..n).map(|i| vec![i.to_string(), email(i)]));
    if email_first {
        rows.iter_mut().for_each(|r| r.reverse());
    }
    write_csv(path, &rows);
}

const EMAILS: &str = r#"
[tables.users.columns]
id = "keep"
email = "email_pseudonym"
"#;

#[test]
fn two_files_of_one_table_or_one_output_are_refused_and_nothing_is_written() {
    let dir = scratch("csv-same-stem");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    // The second file's columns in another order: with the first file's rules by position, its
    // emails would be kept.
    let (csv, txt, again) = (
        dir.join("a/users.csv"),
        dir.join("b/users.txt"),
        dir.join("b/users.csv"),
    );
    emails(&csv, 20, false);
    emails(&txt, 20, true);
    emails(&again, 20, true);
    for inputs in [[&csv, &txt], [&csv, &again], [&csv, &csv]] {
        let inputs: Vec<&Path> = inputs.iter().map(|p| p.as_path()).collect();
        let error = run_lib(EMAILS, &inputs, &out, &mut |_| {}).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(&inputs[0].display().to_string())
                && text.contains(&inputs[1].display().to_string())
                && text.contains("table `users`")
                && text.contains("nothing was written"),
            "{text}"
        );
        assert!(files(&out).is_empty(), "{:?}", files(&out));
    }
    // Apart, each file takes its own columns' rules.
    for input in [&csv, &txt] {
        let out = dir.join(format!(
            "out-{}",
            input.extension().unwrap().to_str().unwrap()
        ));
        std::fs::create_dir_all(&out).unwrap();
        run_lib(EMAILS, &[input], &out, &mut |_| {}).unwrap();
        let written = out.join(input.file_name().unwrap());
        let originals = column(input, "email").into_iter().map(|v| ("email", v));
        assert_no_leak(originals, &std::fs::read(&written).unwrap());
        assert!(column(&written, "email")[0].ends_with("@anonymised.invalid"));
    }
}

#[test]
fn an_output_that_is_an_input_or_exists_is_refused_and_left_alone() {
    let dir = scratch("csv-out-in");
    let (users, orders) = people(&dir, 30);
    let before = (
        std::fs::read(&users).unwrap(),
        std::fs::read(&orders).unwrap(),
    );
    let inputs = [users.as_path(), orders.as_path()];
    // The input's own directory, however it is spelt.
    let mut spellings = vec![dir.to_path_buf(), dir.join("."), dir.join("out/..")];
    std::fs::create_dir_all(dir.join("out")).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&*dir, dir.join("link")).unwrap();
        spellings.push(dir.join("link"));
    }
    for out in &spellings {
        let error = run_lib(CONFIG, &inputs, out, &mut |_| {}).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("which is the input") && text.contains("nothing was written"),
            "{text}"
        );
        assert_eq!(std::fs::read(&users).unwrap(), before.0);
        assert_eq!(std::fs::read(&orders).unwrap(), before.1);
        assert!(!files(&dir).iter().any(|f| f.ends_with(".partial")));
    }
    // An output that exists is named, and neither it nor any other output is written.
    let out = dir.join("out");
    std::fs::write(out.join("users.csv"), "not ours").unwrap();
    let error = run_lib(CONFIG, &inputs, &out, &mut |_| {}).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(&out.join("users.csv").display().to_string())
            && text.contains("already exists"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("users.csv")).unwrap(),
        "not ours"
    );
    assert_eq!(files(&out), ["users.csv"]);
    // So is a partial file of another run.
    std::fs::remove_file(out.join("users.csv")).unwrap();
    std::fs::write(out.join("orders.csv.partial"), "another run").unwrap();
    let error = run_lib(CONFIG, &inputs, &out, &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("orders.csv.partial"), "{error}");
    assert_eq!(files(&out), ["orders.csv.partial"]);
    assert_eq!(
        std::fs::read_to_string(out.join("orders.csv.partial")).unwrap(),
        "another run"
    );
}

#[test]
fn an_output_that_appears_during_the_run_undoes_the_outputs_already_renamed() {
    let (_dir, users, orders, out) = people_and_out("csv-appears");
    let intruder = out.join("orders.csv");
    let error = run_lib(CONFIG, &[&users, &orders], &out, &mut |p| {
        if p.done && p.table == "orders" {
            std::fs::write(&intruder, "not ours").unwrap();
        }
    })
    .unwrap_err();
    assert!(
        error.to_string().contains("appeared during the run"),
        "{error}"
    );
    // users.csv had been renamed into place: it is gone again.
    assert_eq!(files(&out), ["orders.csv"]);
    assert_eq!(std::fs::read_to_string(&intruder).unwrap(), "not ours");
}

#[test]
fn a_file_replaced_between_the_check_and_the_copy_is_refused() {
    let (_dir, users, orders, out) = people_and_out("csv-replaced");
    // Once users is copied, orders is replaced by a file whose columns are in another order:
    // copied with the checked header's rules, its emails would be kept.
    let error = run_lib(CONFIG, &[&users, &orders], &out, &mut |p| {
        if p.done && p.table == "users" {
            write_csv(
                &orders,
                &[
                    vec!["user_email".into(), "id".into(), "total".into()],
                    vec![email(1), "1".into(), "10".into()],
                ],
            );
        }
    })
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(&orders.display().to_string()) && text.contains("header changed"),
        "{text}"
    );
    assert!(files(&out).is_empty(), "{:?}", files(&out));
}

#[test]
fn a_file_without_a_header_row_is_refused_by_check_plan_and_run_without_showing_a_value() {
    let dir = scratch("csv-headerless");
    let users = dir.join("users.csv");
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_path(&users)
        .unwrap();
    for i in 7..40 {
        w.serialize(person(i)).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let config = dir.join("anonymise.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let (config, users_arg) = (config.to_str().unwrap(), users.to_str().unwrap());
    let runs = [
        cli(&["check", "--config", config, users_arg], None),
        cli(&["plan", users_arg], None),
        cli(
            &[
                "run",
                "--config",
                config,
                "--out-dir",
                out.to_str().unwrap(),
                users_arg,
            ],
            Some(KEY),
        ),
    ];
    let mut haystack = Vec::new();
    for run in &runs {
        assert!(!run.status.success(), "{}", text(run));
        let said = text(run);
        assert!(
            said.contains(users_arg)
                && said.contains("cell 1 is all digits")
                && said.contains("CSV files need a header row"),
            "{said}"
        );
        haystack.extend_from_slice(&run.stdout);
        haystack.extend_from_slice(&run.stderr);
    }
    assert!(files(&out).is_empty());
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(&users)
        .unwrap();
    let originals: Vec<(&str, String)> = r
        .records()
        .flat_map(|rec| {
            rec.unwrap()
                .iter()
                .map(|v| ("a value", v.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(assert_no_leak(originals, &haystack) > 100);
}

/// The schema read from `t.csv` in `dir`, written with the first row `cells` and a row of
/// `x`s under it.
fn schema_under(dir: &Path, cells: &[&str]) -> Result<TableSchema, csv_file::CsvError> {
    let path = dir.join("t.csv");
    write_csv(
        &path,
        &[
            cells.iter().map(|c| (*c).to_owned()).collect(),
            cells.iter().map(|_| "x".to_owned()).collect(),
        ],
    );
    csv_file::schema_of(&path)
}

#[test]
fn a_first_row_that_looks_like_data_is_refused_by_position_and_shape_and_header_names_pass() {
    let dir = scratch("csv-header-shapes");
    let header = |cells: &[&str]| schema_under(&dir, cells);
    let names = [
        "id",
        "First Name",
        "birth_date",
        "e-mail",
        "postcode2",
        "Q1",
        "T1",
        "2fa_enabled",
        "amount (GBP)",
    ];
    let table = header(&names).unwrap();
    let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(columns, names);
    for (cell, shape) in [
        (
            "zorvak.quil7@mailhost3.example",
            "cell 2 looks like an email address",
        ),
        ("7700900123", "cell 2 is all digits"),
        ("-12,500.75", "cell 2 is a number"),
        ("1987-04-12", "cell 2 looks like a date or time"),
        ("12/04/1987", "cell 2 looks like a date or time"),
        ("2024-01-01T10:00:00Z", "cell 2 looks like a date or time"),
        (
            "+44 7700 900123",
            "cell 2 holds only digits and punctuation",
        ),
        ("", "cell 2 is empty"),
        ("   ", "cell 2 is empty"),
        ("id", "cell 2 repeats the name of cell 1"),
    ] {
        let error = header(&["id", cell, "name"]).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(shape) && text.contains("CSV files need a header row"),
            "{cell:?}: {text}"
        );
        if cell.trim().len() > 2 {
            assert!(!text.contains(cell), "{text}");
        }
    }
}

/// The users of [`people`], 20 of them, whose file `mangle` changes as text; `check`, `plan`,
/// `run` (under each of `rules` on `name`) and `report` of it: what each said, and the output
/// directory of the runs.
fn every_command_on(
    name: &str,
    mangle: impl Fn(&str) -> String,
    rules: &[&str],
) -> (Scratch, Vec<Output>) {
    let dir = scratch(name);
    let (users, _) = people(&dir, 20);
    let original = std::fs::read_to_string(&users).unwrap();
    std::fs::write(&users, mangle(&original)).unwrap();
    let users_arg = users.to_str().unwrap();
    let mut outputs = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let config = users_config().replace(
            r#"name = { rule = "fake", kind = "name" }"#,
            &format!("name = {rule}"),
        );
        let config_path = dir.join(format!("config-{i}.toml"));
        std::fs::write(&config_path, &config).unwrap();
        let config_arg = config_path.to_str().unwrap();
        let out = dir.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let args = [
            "run",
            "--config",
            config_arg,
            "--out-dir",
            out.to_str().unwrap(),
            users_arg,
        ];
        outputs.push(cli(&args, Some(KEY)));
        if i == 0 {
            outputs.push(cli(&["check", "--config", config_arg, users_arg], None));
            outputs.push(cli(&["plan", users_arg], None));
            let report = ["report", "--k", "1", "--config", config_arg, users_arg];
            outputs.push(cli(&report, None));
        }
    }
    (dir, outputs)
}

/// Panics unless every one of `outputs` failed with status 2, naming `path` and `line`, and
/// showing no value of [`people`]'s users.
fn assert_parse_errors(dir: &Path, outputs: &[Output], line: &str, problem: &str) {
    let path = dir.join("users.csv").display().to_string();
    let mut haystack = Vec::new();
    for out in outputs {
        let said = text(out);
        assert_eq!(out.status.code(), Some(2), "{said}");
        assert!(
            said.contains(&path) && said.contains(line) && said.contains(problem),
            "{said}"
        );
        haystack.extend_from_slice(&out.stdout);
        haystack.extend_from_slice(&out.stderr);
    }
    assert!(
        files(&dir.join("out")).is_empty(),
        "{:?}",
        files(&dir.join("out"))
    );
    let originals = (0..20u64).flat_map(|i| {
        let p = person(i);
        [("email", p.email), ("name", p.name), ("address", p.address)]
    });
    assert!(assert_no_leak(originals, &haystack) > 50);
}

/// [`CONFIG`] without the orders: the config of the users file alone.
fn users_config() -> &'static str {
    &CONFIG[..CONFIG.find("[tables.orders.columns]").unwrap()]
}

/// A mangle for [`every_command_on`]: line `n` (from 0) of the file replaced by `f` of it.
fn line_replaced(n: usize, f: impl Fn(&str) -> String) -> impl Fn(&str) -> String {
    move |text| {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[n] = f(&lines[n]);
        lines.join("\n") + "\n"
    }
}

const ALL_RULES: [&str; 5] = [
    "\"keep\"",
    "\"null\"",
    "\"pseudonym\"",
    "{ rule = \"fake\", kind = \"name\" }",
    "{ rule = \"map\", values = {}, default = \"n\" }",
];

#[test]
fn a_quote_left_open_in_the_last_column_is_a_parse_error_of_every_command_and_rule() {
    // The last column of the 6th person's row (line 7) opens a quote that never closes: read
    // leniently, the rest of the file would be one value of that row.
    let (dir, outputs) = every_command_on(
        "csv-open-quote-last",
        line_replaced(6, |line| {
            let (before, last) = line.rsplit_once(',').unwrap();
            format!("{before},\"{last}")
        }),
        &ALL_RULES,
    );
    assert_parse_errors(&dir, &outputs, "line 7", "never closed");
}

#[test]
fn a_quote_left_open_in_a_middle_column_is_a_parse_error_of_every_command_and_rule() {
    let (dir, outputs) = every_command_on(
        "csv-open-quote-middle",
        line_replaced(4, |line| {
            // The name column: `3,email,"Zor Vak,...`.
            let cells: Vec<&str> = line.splitn(3, ',').collect();
            format!("{},{},\"{}", cells[0], cells[1], cells[2])
        }),
        &ALL_RULES,
    );
    assert_parse_errors(&dir, &outputs, "line 5", "never closed");
}

#[test]
fn text_after_a_closing_quote_is_a_parse_error_of_every_command() {
    // `"Zor Vak"x`: read leniently, the quote's end is lost and the value is `Zor Vakx`; a
    // writer that did not double its quotes makes such fields, and their columns shift.
    let (dir, outputs) = every_command_on(
        "csv-after-quote",
        line_replaced(3, |line| {
            let cells: Vec<&str> = line.splitn(4, ',').collect();
            format!("{},{},\"{}\"x,{}", cells[0], cells[1], cells[2], cells[3])
        }),
        &ALL_RULES[..1],
    );
    assert_parse_errors(&dir, &outputs, "line 4", "after the quote that closes");
}

#[test]
fn quoted_values_with_commas_quotes_and_line_breaks_still_pass() {
    let dir = scratch("csv-good-quotes");
    let users = dir.join("users.csv");
    std::fs::write(
        &users,
        "id,email,name,phone,address,postcode,birth_date,gender\r\n\
         1,a.b@c.example,\"Vak, \"\"Zor\"\"\",1,\"12 Zor\nStreet\",SW1 1AB,1980-01-02,\"\"\r\n\
         2,c.d@e.example,Quil,2,,SW2 2CD,1981-02-03,F",
    )
    .unwrap();
    let config = dir.join("anonymise.toml");
    std::fs::write(&config, users_config()).unwrap();
    let (config, users_arg) = (config.to_str().unwrap(), users.to_str().unwrap());
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let check = cli(&["check", "--config", config, users_arg], None);
    assert!(check.status.success(), "{}", text(&check));
    let run = cli(
        &[
            "run",
            "--config",
            config,
            "--out-dir",
            out.to_str().unwrap(),
            users_arg,
        ],
        Some(KEY),
    );
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(column(&out.join("users.csv"), "id"), ["1", "2"]);
}

#[test]
fn a_first_row_that_is_a_persons_record_without_digits_only_cells_is_refused_by_check_and_plan() {
    // No id, email, phone or date: a name, a street address, a postcode, free text.
    let dir = scratch("csv-headerless-record");
    let users = dir.join("users.csv");
    let rows: Vec<Vec<String>> = (0..12u64)
        .map(|i| {
            let p = person(i);
            vec![
                p.name,
                p.address,
                p.postcode,
                format!(
                    "Called about the order {} on Monday and again on Friday",
                    common::word(i, 6)
                ),
                p.gender.to_owned(),
            ]
        })
        .collect();
    write_csv(&users, &rows);
    let config = dir.join("anonymise.toml");
    std::fs::write(&config, "[tables.users.columns]\n").unwrap();
    let (config, users_arg) = (config.to_str().unwrap(), users.to_str().unwrap());
    let runs = [
        cli(&["check", "--config", config, users_arg], None),
        cli(&["plan", users_arg], None),
    ];
    let mut haystack = Vec::new();
    for run in &runs {
        let said = text(run);
        assert_eq!(run.status.code(), Some(2), "{said}");
        assert!(said.contains("CSV files need a header row"), "{said}");
        haystack.extend_from_slice(&run.stdout);
        haystack.extend_from_slice(&run.stderr);
    }
    // The person's own values: name, street name, postcode, and the made-up word in the note
    // (the note's English words, `Street` and the gender are words any message may hold: the
    // refusal itself says "a street address").
    let originals = [rows[0][0].clone(), common::word(0, 5), rows[0][2].clone()]
        .into_iter()
        .chain([common::word(0, 6)])
        .map(|v| ("a value", v))
        .collect::<Vec<_>>();
    assert!(assert_no_leak(originals, &haystack) >= 3);
}

#[test]
fn cells_that_look_like_addresses_postcodes_or_free_text_are_not_header_names() {
    let dir = scratch("csv-header-shapes-2");
    let header = |cells: &[&str]| schema_under(&dir, cells);
    let names = [
        "Address line 2",
        "Date of birth",
        "Phone (mobile)",
        "zip code",
        "Q1",
        "2fa_enabled",
        "amount in GBP",
        "Is active?",
    ];
    assert!(header(&names).is_ok(), "{:?}", header(&names));
    for (cell, shape) in [
        ("12 Zor Street", "looks like a street address"),
        ("221B Baker Street", "looks like a street address"),
        ("SW1A 1AA", "looks like a code or postcode"),
        ("EC1 2AB", "looks like a code or postcode"),
        (
            "Called about the order on Monday and again on Friday",
            "looks like free text",
        ),
        ("Please call back.", "looks like free text"),
    ] {
        let error = header(&["id", cell, "name"]).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains(&format!("cell 2 {shape}")) && !text.contains(cell),
            "{cell:?}: {text}"
        );
    }
}
