//! Benchmark: anonymising a CSV of people, against the seed document's pandas + Faker + md5
//! script (`../shared/peer/anonymise_pandas.py`) on the same file, in the same run.
//!
//! ```text
//! cargo run --release -p factory-anonymise --example bench_csv [ROWS]
//! ```
//!
//! Both anonymise `email`, `name`, `phone` and `address` and pass the other columns through
//! (the script's work; ours keyed: HMAC-SHA256 email pseudonyms, fakes seeded by HMAC). The
//! peer runs when a Python with pandas and Faker is at `ANONYMISE_PANDAS_PYTHON` (default
//! `/work/peer-venv/bin/python`); otherwise it says so.

use anonymise::{config::Config, csv_file, Transformer};
use std::path::{Path, PathBuf};
use std::time::Instant;

const CONFIG: &str = r#"
[tables.people.columns]
id = "keep"
email = "email_pseudonym"
name = { rule = "fake", kind = "name" }
phone = { rule = "fake", kind = "phone" }
address = { rule = "fake", kind = "address" }
postcode = "keep"
birth_date = "keep"
"#;

fn write_people(path: &Path, rows: u64) {
    use fake::faker::address::en::{CityName, StreetName, ZipCode};
    use fake::faker::name::en::{FirstName, LastName};
    use fake::faker::phone_number::en::PhoneNumber;
    use fake::Fake;
    let mut w = csv::Writer::from_path(path).expect("write the input");
    w.write_record([
        "id",
        "email",
        "name",
        "phone",
        "address",
        "postcode",
        "birth_date",
    ])
    .unwrap();
    for i in 0..rows {
        let first: String = FirstName().fake();
        let last: String = LastName().fake();
        let street: String = StreetName().fake();
        let city: String = CityName().fake();
        let phone: String = PhoneNumber().fake();
        let zip: String = ZipCode().fake();
        w.write_record([
            i.to_string(),
            format!(
                "{}.{}{i}@example.org",
                first.to_lowercase(),
                last.to_lowercase()
            ),
            format!("{first} {last}"),
            phone,
            format!("{} {street}, {city}", 1 + i % 300),
            zip,
            format!("19{:02}-{:02}-{:02}", 40 + i % 60, 1 + i % 12, 1 + i % 28),
        ])
        .unwrap();
    }
    w.flush().unwrap();
}

fn peer(python: &str, input: &Path, output: &Path) -> Result<f64, String> {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/peer/anonymise_pandas.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(input)
        .arg(output)
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "seconds")
        .nth(1)
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| format!("unexpected peer output: {text}"))
}

fn main() {
    let rows: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir: PathBuf = std::env::temp_dir().join(format!("anonymise-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let input = dir.join("people.csv");
    write_people(&input, rows);
    let bytes = std::fs::metadata(&input).unwrap().len();
    let config = Config::parse(CONFIG).unwrap();
    let transformer = Transformer::new(b"bench-key-0123456789abcdef-not-secret").unwrap();

    let mut ours = Vec::new();
    for _ in 0..3 {
        // A run never overwrites an output: the last run's goes first.
        let _ = std::fs::remove_file(dir.join("out").join(input.file_name().unwrap()));
        let started = Instant::now();
        csv_file::anonymise(
            &config,
            &transformer,
            std::slice::from_ref(&input),
            &dir.join("out"),
        )
        .expect("anonymise");
        ours.push(started.elapsed().as_secs_f64());
    }
    ours.sort_by(f64::total_cmp);
    let best = ours[0];

    println!(
        "{rows} rows, {:.1} MB, columns email/name/phone/address anonymised",
        bytes as f64 / 1e6
    );
    println!();
    println!("| tool | seconds | rows/s |");
    println!("|---|---:|---:|");
    println!(
        "| anonymise (Rust, one thread), best of 3 | {best:.3} | {:.0} |",
        rows as f64 / best
    );
    let python = std::env::var("ANONYMISE_PANDAS_PYTHON")
        .unwrap_or_else(|_| "/work/peer-venv/bin/python".to_owned());
    match peer(&python, &input, &dir.join("peer.csv")) {
        Ok(seconds) => {
            println!(
                "| pandas + Faker + md5 (peer script, same file) | {seconds:.3} | {:.0} |",
                rows as f64 / seconds
            );
            println!();
            println!(
                "anonymise is {:.0}x faster than the peer (target: 20x)",
                seconds / best
            );
        }
        Err(why) => println!("| pandas peer | not measured: {why} | |"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
