//! Benchmark: what `#[derive(Factory)]` costs at compile time, on the same Diesel models built
//! with and without it.
//!
//! ```text
//! cargo run --release --example bench_compile
//! FACTORY_BENCH_COMPILE_RUNS=5 cargo run --release --example bench_compile
//! ```
//!
//! Two cases, each written out under `target/bench/compile/` as two standalone crates (each its
//! own `[workspace]`, all four sharing the target dir `target/bench/compile/target`, so their
//! dependencies build once):
//!
//! - `real13`: 13 models shaped like crates.io's schema (users, teams, emails, API tokens, crates,
//!   versions, dependencies, categories, keywords, their two join tables with composite keys,
//!   owners, version owner actions): 2 to 14 fields of `i32`, `String`, `bool`,
//!   `chrono::NaiveDateTime` and their `Option`s, foreign keys, and the `diesel::table!`,
//!   `joinable!` and `allow_tables_to_appear_in_same_query!` that `diesel print-schema` writes;
//! - `blog4`: 4 models (users, posts, comments, tags).
//!
//! Each case has a `plain` crate (`#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]`,
//! `Associations` where a model has foreign keys, `check_for_backend(Pg)`; depending on diesel
//! with `postgres` and `chrono`) and a `factory` crate: the same models with `Factory` added and
//! the attributes a user would write (`db_generated` ids and timestamps, `sub = ..` on foreign
//! keys named after their parent, sequences on unique text, fakers, a `lazy`, one `traits`, one
//! `related`, one `after_create`, one `get_or_create`), depending also on this workspace's
//! `factory-core` by absolute path, so the current code is what is measured. Both crates call
//! the `crate_id` fields `krate_id` (`#[diesel(column_name = crate_id)]`), as the derive asks
//! for a `sub` key, so the models are the same but for the factory. No database is needed.
//!
//! Measured, per case and crate:
//!
//! - the cold build of the models crate alone: a dev-profile `cargo build`, dependencies already
//!   built (one untimed build first), after `cargo clean -p <crate>`. `RUNS` rounds
//!   (`FACTORY_BENCH_COMPILE_RUNS`, default 3), the two crates of a case taking turns to go first,
//!   so load from other processes on the machine falls on both alike; the table shows the
//!   fastest and the median round. A timed build that compiles anything but the models crate
//!   stops the benchmark.
//! - generated lines per model: the non-blank lines of each crate expanded with
//!   `RUSTC_BOOTSTRAP=1 cargo rustc --profile=check -- -Zunpretty=expanded` (every macro
//!   expanded, `macro_rules!` ones included), `(factory - plain) / models`. The expansions use
//!   a target dir of their own, `target/bench/compile/target-expand`: build scripts that watch
//!   `RUSTC_BOOTSTRAP` (proc-macro2's, thiserror's) would otherwise rebuild the timed builds'
//!   dependencies.
//!
//! Prints a table and writes `target/bench/compile.json`. Issue 11's targets: at most 300
//! generated lines per model, and a `real13` factory build at most 1.15x the plain one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/bench.rs"]
mod bench;

const RUNS_VAR: &str = "FACTORY_BENCH_COMPILE_RUNS";
const DEFAULT_RUNS: usize = 3;
/// Issue 11: generated lines per model, at most.
const TARGET_LINES: f64 = 300.0;
/// Issue 11: the 13-model factory build over the plain one, at most.
const TARGET_RATIO: f64 = 1.15;

/// A column type, as Rust and as `diesel print-schema` writes it for PostgreSQL.
#[derive(Clone, Copy)]
enum Ty {
    Int,
    OptInt,
    Text,
    OptText,
    Bool,
    Timestamp,
    OptTimestamp,
}

impl Ty {
    fn rust(self) -> &'static str {
        match self {
            Ty::Int => "i32",
            Ty::OptInt => "Option<i32>",
            Ty::Text => "String",
            Ty::OptText => "Option<String>",
            Ty::Bool => "bool",
            Ty::Timestamp => "chrono::NaiveDateTime",
            Ty::OptTimestamp => "Option<chrono::NaiveDateTime>",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Ty::Int => "Int4",
            Ty::OptInt => "Nullable<Int4>",
            Ty::Text => "Varchar",
            Ty::OptText => "Nullable<Varchar>",
            Ty::Bool => "Bool",
            Ty::Timestamp => "Timestamp",
            Ty::OptTimestamp => "Nullable<Timestamp>",
        }
    }
}

struct Column {
    name: &'static str,
    /// The Rust field's name when it is not the column's.
    field: Option<&'static str>,
    ty: Ty,
    /// The table a foreign key points at.
    references: Option<&'static str>,
    /// What goes inside `#[factory(..)]` on the field in the factory crate (a foreign key
    /// whose field is named `<parent>_id` gets `sub = <Parent>Factory` without being told).
    factory: &'static str,
}

fn col(name: &'static str, ty: Ty) -> Column {
    Column {
        name,
        field: None,
        ty,
        references: None,
        factory: "",
    }
}

/// A serial primary key.
fn id() -> Column {
    col("id", Ty::Int).factory("db_generated")
}

/// A timestamp column the database fills (`DEFAULT now()`).
fn stamp(name: &'static str) -> Column {
    col(name, Ty::Timestamp).factory("db_generated")
}

/// A foreign key to `table`: `Ty::Int`, or `Ty::OptInt` for a nullable one.
fn fk(name: &'static str, ty: Ty, table: &'static str) -> Column {
    Column {
        references: Some(table),
        ..col(name, ty)
    }
}

/// A foreign key to `crates`. The derive names a parent's methods after the key's field less
/// `_id`, and `crate` cannot be a method name: its error asks for another field name, kept on
/// the column with `#[diesel(column_name = crate_id)]`, as crates.io's own code says `krate`.
fn crate_fk() -> Column {
    Column {
        field: Some("krate_id"),
        ..fk("crate_id", Ty::Int, "crates")
    }
}

impl Column {
    fn factory(self, factory: &'static str) -> Self {
        Column { factory, ..self }
    }

    fn field(&self) -> &'static str {
        self.field.unwrap_or(self.name)
    }
}

struct Model {
    table: &'static str,
    name: &'static str,
    /// The primary key's columns.
    key: &'static [&'static str],
    columns: Vec<Column>,
    /// What goes inside `#[factory(..)]` on the struct in the factory crate, if anything.
    factory: &'static str,
}

fn model(table: &'static str, name: &'static str, columns: Vec<Column>) -> Model {
    Model {
        table,
        name,
        key: &["id"],
        columns,
        factory: "",
    }
}

impl Model {
    fn key(self, key: &'static [&'static str]) -> Self {
        Model { key, ..self }
    }

    fn factory(self, factory: &'static str) -> Self {
        Model { factory, ..self }
    }
}

/// 13 models shaped like crates.io's.
fn real13() -> Vec<Model> {
    use Ty::*;
    vec![
        model(
            "users",
            "User",
            vec![
                id(),
                col("gh_login", Text).factory(r#"sequence = "user<n>""#),
                col("name", OptText).factory("faker = Name()"),
                col("gh_avatar", OptText),
                col("gh_id", Int).factory("faker = 1..10_000_000"),
                col("gh_access_token", Text),
                col("account_lock_reason", OptText),
                col("account_lock_until", OptTimestamp),
                col("is_admin", Bool),
                col("publish_notifications", Bool).factory("default = true"),
                stamp("created_at"),
            ],
        )
        .factory("traits(admin(is_admin = true))"),
        model(
            "teams",
            "Team",
            vec![
                id(),
                col("login", Text).factory(r#"sequence = "github:org<n>:core""#),
                col("github_id", Int).factory("faker = 1..10_000_000"),
                col("name", OptText),
                col("avatar", OptText),
                col("org_id", OptInt),
            ],
        ),
        model(
            "emails",
            "Email",
            vec![
                id(),
                fk("user_id", Int, "users"),
                col("email", Text).factory(r#"sequence = "user<n>@example.com""#),
                col("verified", Bool),
                col("token", Text).factory(r#"sequence = "email-token-<n>""#),
                col("token_generated_at", OptTimestamp),
            ],
        ),
        model(
            "api_tokens",
            "ApiToken",
            vec![
                id(),
                fk("user_id", Int, "users"),
                col("token", Text).factory(r#"sequence = "cio<n>""#),
                col("name", Text).factory("faker = Word()"),
                stamp("created_at"),
                col("last_used_at", OptTimestamp),
                col("revoked", Bool),
                col("crate_scopes", OptText),
                col("endpoint_scopes", OptText),
                col("expired_at", OptTimestamp),
            ],
        ),
        model(
            "crates",
            "Crate",
            vec![
                id(),
                col("name", Text).factory(r#"sequence = "crate-<n>""#),
                stamp("updated_at"),
                stamp("created_at"),
                col("description", OptText).factory("faker = Sentence(5..12)"),
                col("homepage", OptText),
                col("documentation", OptText)
                    .factory(r#"lazy = |c| Some(format!("https://docs.rs/{}", c.name))"#),
                col("readme", OptText),
                col("repository", OptText),
                col("max_upload_size", OptInt),
                col("max_features", OptInt),
            ],
        )
        .factory("related(versions(factory = VersionFactory, key = krate_id, count = 1))"),
        model(
            "versions",
            "Version",
            vec![
                id(),
                crate_fk(),
                col("num", Text).factory(r#"sequence = "1.0.<n>""#),
                stamp("updated_at"),
                stamp("created_at"),
                col("downloads", Int),
                col("features", Text).factory(r#"default = "{}""#),
                col("yanked", Bool),
                col("license", OptText),
                col("crate_size", OptInt).factory("faker = 1_000..10_000_000"),
                fk("published_by", OptInt, "users"),
                col("checksum", Text).factory(r#"sequence = "sha256-<n>""#),
                col("links", OptText),
                col("rust_version", OptText),
            ],
        ),
        model(
            "dependencies",
            "Dependency",
            vec![
                id(),
                fk("version_id", Int, "versions"),
                crate_fk(),
                col("req", Text).factory(r#"default = "^1.0""#),
                col("optional", Bool),
                col("default_features", Bool).factory("default = true"),
                col("features", Text).factory(r#"default = "{}""#),
                col("target", OptText),
                col("kind", Int),
                col("explicit_name", OptText),
            ],
        ),
        model(
            "categories",
            "Category",
            vec![
                id(),
                col("category", Text).factory(r#"sequence = "Category <n>""#),
                col("slug", Text).factory(r#"sequence = "category-<n>""#),
                col("description", Text).factory("faker = Sentence(3..8)"),
                col("crates_cnt", Int),
                stamp("created_at"),
                col("path", Text)
                    .factory(r#"lazy = |c| format!("root.{}", c.slug.replace('-', "_"))"#),
            ],
        )
        .factory("get_or_create(slug)"),
        model(
            "crates_categories",
            "CrateCategory",
            vec![crate_fk(), fk("category_id", Int, "categories")],
        )
        .key(&["crate_id", "category_id"]),
        model(
            "keywords",
            "Keyword",
            vec![
                id(),
                col("keyword", Text).factory(r#"sequence = "keyword-<n>""#),
                col("crates_cnt", Int),
                stamp("created_at"),
            ],
        ),
        model(
            "crates_keywords",
            "CrateKeyword",
            vec![crate_fk(), fk("keyword_id", Int, "keywords")],
        )
        .key(&["crate_id", "keyword_id"])
        .factory(
            "after_create = |ck, conn| {
        diesel::update(keywords::table.find(ck.keyword_id))
            .set(keywords::crates_cnt.eq(keywords::crates_cnt + 1))
            .execute(conn)
            .expect(\"count the keyword's crates\");
    }",
        ),
        model(
            "crate_owners",
            "CrateOwner",
            vec![
                id(),
                crate_fk(),
                fk("owner_id", Int, "users"),
                stamp("created_at"),
                fk("created_by", OptInt, "users"),
                col("deleted", Bool),
                stamp("updated_at"),
                col("owner_kind", Int),
                col("email_notifications", Bool).factory("default = true"),
            ],
        ),
        model(
            "version_owner_actions",
            "VersionOwnerAction",
            vec![
                id(),
                fk("version_id", Int, "versions"),
                fk("user_id", Int, "users"),
                fk("api_token_id", OptInt, "api_tokens"),
                col("action", Int).factory("faker = 0..2"),
                stamp("time"),
            ],
        ),
    ]
}

/// 4 models of a blog.
fn blog4() -> Vec<Model> {
    use Ty::*;
    vec![
        model(
            "users",
            "User",
            vec![
                id(),
                col("username", Text).factory(r#"sequence = "user<n>""#),
                col("email", Text).factory(r#"sequence = "user<n>@example.com""#),
                col("display_name", OptText).factory("faker = Name()"),
                col("is_admin", Bool),
                stamp("created_at"),
            ],
        )
        .factory("traits(admin(is_admin = true))"),
        model(
            "posts",
            "Post",
            vec![
                id(),
                fk("user_id", Int, "users"),
                col("title", Text).factory("faker = Sentence(3..8)"),
                col("slug", Text).factory(r#"sequence = "post-<n>""#),
                col("body", Text).factory("faker = Paragraph(2..5)"),
                col("published", Bool),
                col("published_at", OptTimestamp),
                col("comments_count", Int),
                stamp("created_at"),
            ],
        )
        .factory("related(comments(factory = CommentFactory, key = post_id, count = 0))"),
        model(
            "comments",
            "Comment",
            vec![
                id(),
                fk("post_id", Int, "posts"),
                fk("user_id", Int, "users"),
                col("body", Text).factory("faker = Paragraph(1..3)"),
                stamp("created_at"),
            ],
        )
        .factory(
            "after_create = |comment, conn| {
        diesel::update(posts::table.find(comment.post_id))
            .set(posts::comments_count.eq(posts::comments_count + 1))
            .execute(conn)
            .expect(\"count the post's comments\");
    }",
        ),
        model(
            "tags",
            "Tag",
            vec![
                id(),
                col("name", Text).factory(r#"sequence = "tag-<n>""#),
                col("description", OptText),
                stamp("created_at"),
            ],
        ),
    ]
}

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Plain,
    Factory,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Factory => "factory",
        }
    }
}

/// `src/schema.rs` as `diesel print-schema` writes it: a `table!` per model, a `joinable!` per
/// child and parent joined by exactly one foreign key, and one `allow_tables_to_appear_in_same_query!`.
fn schema_rs(models: &[Model]) -> String {
    let mut out = String::from("// @generated automatically by Diesel CLI.\n");
    for m in models {
        let _ = writeln!(
            out,
            "\ndiesel::table! {{\n    {} ({}) {{",
            m.table,
            m.key.join(", ")
        );
        for c in &m.columns {
            let _ = writeln!(out, "        {} -> {},", c.name, c.ty.sql());
        }
        out.push_str("    }\n}\n");
    }
    out.push('\n');
    for m in models {
        for (parent, column) in foreign_keys(m) {
            let to_parent = m
                .columns
                .iter()
                .filter(|c| c.references == Some(parent))
                .count();
            if to_parent == 1 {
                let _ = writeln!(
                    out,
                    "diesel::joinable!({} -> {} ({}));",
                    m.table, parent, column
                );
            }
        }
    }
    let tables: Vec<&str> = models.iter().map(|m| m.table).collect();
    let _ = writeln!(
        out,
        "\ndiesel::allow_tables_to_appear_in_same_query!(\n    {},\n);",
        tables.join(",\n    ")
    );
    out
}

/// The first foreign key of `m` to each table it references: `(table, column)`.
fn foreign_keys(m: &Model) -> Vec<(&'static str, &'static str)> {
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for c in &m.columns {
        if let Some(table) = c.references {
            if !keys.iter().any(|(t, _)| *t == table) {
                keys.push((table, c.name));
            }
        }
    }
    keys
}

fn struct_name<'a>(models: &'a [Model], table: &str) -> &'a str {
    models
        .iter()
        .find(|m| m.table == table)
        .map(|m| m.name)
        .expect("a foreign key to a model of the case")
}

/// `src/models.rs`: the models of `variant`.
fn models_rs(models: &[Model], variant: Variant) -> String {
    let factory = variant == Variant::Factory;
    let tables: Vec<&str> = models.iter().map(|m| m.table).collect();
    let mut out = format!(
        "use crate::schema::{{{}}};\nuse diesel::prelude::*;\n",
        tables.join(", ")
    );
    if factory {
        out.push_str("use factory_core::prelude::*;\n");
    }
    for m in models {
        let belongs_to: Vec<String> = foreign_keys(m)
            .into_iter()
            .map(|(table, column)| {
                let parent = struct_name(models, table);
                let default_key = format!("{}_id", to_snake(parent));
                if column == default_key {
                    format!("belongs_to({parent})")
                } else {
                    format!("belongs_to({parent}, foreign_key = {column})")
                }
            })
            .collect();
        let mut derives = vec!["Debug", "Clone", "Queryable", "Selectable", "Identifiable"];
        if !belongs_to.is_empty() {
            derives.push("Associations");
        }
        if factory {
            derives.push("Factory");
        }
        let _ = write!(
            out,
            "\n#[derive({})]\n#[diesel(table_name = {})]\n",
            derives.join(", "),
            m.table
        );
        if m.key != ["id"] {
            let _ = writeln!(out, "#[diesel(primary_key({}))]", m.key.join(", "));
        }
        if !belongs_to.is_empty() {
            let _ = writeln!(out, "#[diesel({})]", belongs_to.join(", "));
        }
        out.push_str("#[diesel(check_for_backend(diesel::pg::Pg))]\n");
        if factory && !m.factory.is_empty() {
            let _ = writeln!(out, "#[factory({})]", m.factory);
        }
        let _ = writeln!(out, "pub struct {} {{", m.name);
        for c in &m.columns {
            // The derive takes `sub` only on a field named after its parent (`user_id`), not
            // on one named after a role (`published_by`).
            let attr = match c.references {
                Some(table) if c.field().ends_with("_id") => {
                    format!("sub = {}Factory", struct_name(models, table))
                }
                _ => c.factory.to_owned(),
            };
            if factory && !attr.is_empty() {
                let _ = writeln!(out, "    #[factory({attr})]");
            }
            if c.field.is_some() {
                let _ = writeln!(out, "    #[diesel(column_name = {})]", c.name);
            }
            let _ = writeln!(out, "    pub {}: {},", c.field(), c.ty.rust());
        }
        out.push_str("}\n");
    }
    out
}

fn to_snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, ch) in camel.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

/// One generated crate: a case's models in one variant.
struct Crate {
    case: &'static str,
    variant: Variant,
    models: usize,
    dir: PathBuf,
}

impl Crate {
    fn package(&self) -> String {
        format!("{}_{}", self.case, self.variant.name())
    }
}

/// Writes the crate of `models` in `variant` under `root`, its `Cargo.lock` a copy of the
/// workspace's so it builds the dependency versions the workspace does.
fn write_crate(root: &Path, case: &'static str, models: &[Model], variant: Variant) -> Crate {
    let krate = Crate {
        case,
        variant,
        models: models.len(),
        dir: root.join(format!("{case}_{}", variant.name())),
    };
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut manifest = format!(
        "# Written by the workspace's examples/bench_compile.rs on every run.\n\
         [package]\nname = \"{}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         # Not a member of the workspace this directory sits in.\n[workspace]\n\n\
         [dependencies]\n\
         diesel = {{ version = \"2\", features = [\"postgres\", \"chrono\"] }}\n\
         chrono = \"0.4\"\n",
        krate.package()
    );
    if variant == Variant::Factory {
        let core = workspace.join("factory-core");
        let _ = writeln!(
            manifest,
            "factory-core = {{ path = {:?}, default-features = false, features = [\"postgres\", \"chrono\"] }}",
            core.display().to_string()
        );
    }
    let src = krate.dir.join("src");
    std::fs::create_dir_all(&src).expect("make the crate's src/");
    let write = |path: PathBuf, text: &str| {
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()))
    };
    write(krate.dir.join("Cargo.toml"), &manifest);
    // Cargo drops the entries the crate does not use and keeps the versions of the rest.
    std::fs::copy(workspace.join("Cargo.lock"), krate.dir.join("Cargo.lock"))
        .expect("copy the workspace's Cargo.lock");
    write(
        src.join("lib.rs"),
        &format!(
            "//! `{case}`, {}: {} models. Written by examples/bench_compile.rs.\n\n\
             pub mod models;\npub mod schema;\n",
            variant.name(),
            models.len()
        ),
    );
    write(src.join("schema.rs"), &schema_rs(models));
    write(src.join("models.rs"), &models_rs(models, variant));
    krate
}

/// Runs `cargo <args>` in `krate`'s directory with `target_dir`: its stdout and stderr, or the
/// benchmark stops with its stderr.
fn cargo(
    krate: &Crate,
    target_dir: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (String, String) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Before any `--`, which hands the rest to rustc.
    let out = Command::new(cargo)
        .arg(args[0])
        .arg("--target-dir")
        .arg(target_dir)
        .args(&args[1..])
        .current_dir(&krate.dir)
        .env_remove("CARGO_TARGET_DIR")
        .envs(envs.iter().copied())
        .output()
        .expect("start cargo");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        eprintln!("{stderr}");
        panic!("cargo {} failed in {}", args.join(" "), krate.dir.display());
    }
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// One cold build of the models crate alone.
fn timed_build(krate: &Crate, target_dir: &Path) -> Duration {
    cargo(krate, target_dir, &["clean", "-p", &krate.package()], &[]);
    let start = Instant::now();
    let (_, log) = cargo(krate, target_dir, &["build"], &[]);
    let elapsed = start.elapsed();
    let compiled: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("Compiling"))
        .collect();
    let expected = format!("Compiling {} ", krate.package());
    assert!(
        compiled.len() == 1 && compiled[0].starts_with(&expected),
        "a timed build of {} compiled more than the crate: {compiled:?}",
        krate.package()
    );
    elapsed
}

/// Non-blank lines of the crate with every macro expanded.
fn expanded_lines(krate: &Crate, target_dir: &Path) -> usize {
    // `cargo rustc` reruns rustc only if the crate changed; a clean forces it.
    cargo(krate, target_dir, &["clean", "-p", &krate.package()], &[]);
    let (expanded, _) = cargo(
        krate,
        target_dir,
        &["rustc", "--profile=check", "--", "-Zunpretty=expanded"],
        &[("RUSTC_BOOTSTRAP", "1")],
    );
    expanded.lines().filter(|l| !l.trim().is_empty()).count()
}

/// A case's measurements.
struct Measured {
    case: &'static str,
    models: usize,
    plain: Vec<Duration>,
    factory: Vec<Duration>,
    plain_lines: usize,
    factory_lines: usize,
}

impl Measured {
    fn ratio(&self) -> f64 {
        bench::median(&self.factory).as_secs_f64() / bench::median(&self.plain).as_secs_f64()
    }

    fn lines_per_model(&self) -> f64 {
        (self.factory_lines as f64 - self.plain_lines as f64) / self.models as f64
    }
}

fn runs() -> usize {
    match std::env::var(RUNS_VAR) {
        Ok(v) => v
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("{RUNS_VAR}={v:?}: expected a number of runs above 0")),
        Err(_) => DEFAULT_RUNS,
    }
}

fn secs(d: Duration) -> f64 {
    bench::ms(d) / 1e3
}

fn main() {
    let runs = runs();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = workspace.join("target/bench/compile");
    let target_dir = root.join("target");
    let expand_dir = root.join("target-expand");
    let cases: [(&str, Vec<Model>); 2] = [("real13", real13()), ("blog4", blog4())];
    let crates: Vec<[Crate; 2]> = cases
        .iter()
        .map(|(case, models)| {
            [Variant::Plain, Variant::Factory].map(|v| write_crate(&root, case, models, v))
        })
        .collect();

    eprintln!(
        "building the crates once, dependencies included, in {}",
        target_dir.display()
    );
    for krate in crates.iter().flatten() {
        cargo(krate, &target_dir, &["build"], &[]);
    }
    eprintln!("expanding the crates in {}", expand_dir.display());
    let lines: Vec<[usize; 2]> = crates
        .iter()
        .map(|pair| pair.each_ref().map(|k| expanded_lines(k, &expand_dir)))
        .collect();

    let mut times: Vec<[Vec<Duration>; 2]> = crates.iter().map(|_| Default::default()).collect();
    for round in 0..runs {
        for (pair, times) in crates.iter().zip(&mut times) {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let took = timed_build(&pair[i], &target_dir);
                eprintln!(
                    "round {}/{runs}: {} built in {:.2} s",
                    round + 1,
                    pair[i].package(),
                    secs(took)
                );
                times[i].push(took);
            }
        }
    }

    let measured: Vec<Measured> = crates
        .iter()
        .zip(times)
        .zip(lines)
        .map(
            |((pair, [plain, factory]), [plain_lines, factory_lines])| Measured {
                case: pair[0].case,
                models: pair[0].models,
                plain,
                factory,
                plain_lines,
                factory_lines,
            },
        )
        .collect();
    print_table(&measured, runs);
    save(&measured, &root, runs);
}

fn print_table(measured: &[Measured], runs: usize) {
    println!(
        "\ncold dev build of the models crate alone (dependencies built), {runs} runs each, seconds\n"
    );
    println!(
        "{:<8} {:>6} | {:>9} {:>9} | {:>9} {:>9} | {:>15} | {:>11} {:>13} {:>15}",
        "case",
        "models",
        "plain min",
        "median",
        "fact. min",
        "median",
        "factory / plain",
        "plain lines",
        "factory lines",
        "generated/model"
    );
    println!("{}", "-".repeat(124));
    for m in measured {
        println!(
            "{:<8} {:>6} | {:>9.2} {:>9.2} | {:>9.2} {:>9.2} | {:>14.2}x | {:>11} {:>13} {:>15.0}",
            m.case,
            m.models,
            secs(bench::best(&m.plain)),
            secs(bench::median(&m.plain)),
            secs(bench::best(&m.factory)),
            secs(bench::median(&m.factory)),
            m.ratio(),
            m.plain_lines,
            m.factory_lines,
            m.lines_per_model()
        );
    }
    println!("\nfactory / plain: ratio of the medians; generated/model: (factory lines - plain lines) / models, non-blank lines of the expanded crates");
    let verdict = |met: bool| if met { "met" } else { "NOT MET" };
    for m in measured {
        println!(
            "{}: {:.0} generated lines per model (target <= {TARGET_LINES:.0}: {})",
            m.case,
            m.lines_per_model(),
            verdict(m.lines_per_model() <= TARGET_LINES)
        );
    }
    if let Some(real) = measured.iter().find(|m| m.case == "real13") {
        println!(
            "real13: factory build {:.2}x plain (target <= {TARGET_RATIO}x: {})",
            real.ratio(),
            verdict(real.ratio() <= TARGET_RATIO)
        );
    }
}

fn save(measured: &[Measured], root: &Path, runs: usize) {
    let ms = |v: &[Duration]| v.iter().map(|&d| bench::ms(d)).collect::<Vec<f64>>();
    let results: Vec<serde_json::Value> = measured
        .iter()
        .map(|m| {
            serde_json::json!({
                "case": m.case,
                "models": m.models,
                "plain_ms": ms(&m.plain),
                "factory_ms": ms(&m.factory),
                "plain_min_ms": bench::ms(bench::best(&m.plain)),
                "plain_median_ms": bench::ms(bench::median(&m.plain)),
                "factory_min_ms": bench::ms(bench::best(&m.factory)),
                "factory_median_ms": bench::ms(bench::median(&m.factory)),
                "ratio_of_medians": m.ratio(),
                "plain_expanded_lines": m.plain_lines,
                "factory_expanded_lines": m.factory_lines,
                "generated_lines_per_model": m.lines_per_model(),
            })
        })
        .collect();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let json = serde_json::json!({
        "date": date,
        "runs": runs,
        "crates": root.display().to_string(),
        "results": results,
    });
    let path = root.parent().expect("target/bench").join("compile.json");
    std::fs::write(&path, format!("{json:#}\n")).expect("write the JSON");
    println!("\nwritten: {}", path.display());
}
