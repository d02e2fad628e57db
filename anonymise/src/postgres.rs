//! PostgreSQL to PostgreSQL: every table streamed with `COPY .. TO STDOUT` from a snapshot of
//! the source, each row's columns through their rules, and `COPY .. FROM STDIN` into the
//! target, all in one transaction there. Memory stays the same whatever the size of a table: a
//! row at a time is read and a 64 KiB buffer is written.
//!
//! The target's tables must exist (run its migrations first) and be empty, unless
//! [`Options::truncate`] empties them, in the same transaction. A run holds them from that
//! check to its commit: another run into the same schema is refused at once, other writers
//! wait (see `claim_target`).

use crate::config::{ColumnSchema, Config, Rule, Schema, TableSchema};
use crate::run::{
    another_run_refused, check_target_columns, check_target_empty, copy_tables, dependency_order,
    relay, Catalog, DbError, Progress, Side, Summary,
};
use crate::transform::Transformer;
use postgres::{Client, NoTls};
use std::io::{BufRead, Write};

/// How a run treats the databases.
#[derive(Debug, Clone)]
pub struct Options {
    /// The schema (namespace) whose tables are copied, in both databases (default `public`).
    pub schema: String,
    /// Empty the target's tables first (one `TRUNCATE`, in the run's transaction) instead of
    /// refusing to write into tables that hold rows.
    pub truncate: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            schema: "public".to_owned(),
            truncate: false,
        }
    }
}

/// Bytes written to the target per `COPY` message.
const WRITE_BUFFER: usize = 1 << 16;

/// Chunks transformed ahead of the target.
const CHUNKS_IN_FLIGHT: usize = 8;

/// Opens a connection to `url` (a `postgres://` URL or `key=value` pairs).
pub fn connect(url: &str, side: Side) -> Result<Client, DbError> {
    Client::connect(url, NoTls).map_err(|e| database_error(side, None, &e))
}

/// The tables of `schema` (ordinary and partitioned; not partitions, views or generated
/// columns) with their columns' types, NOT NULL, single-column unique indexes and foreign
/// keys, in dependency order. The unique indexes and foreign keys of a partition count as its
/// root parent's (many schemas declare them on each partition, not on the parent): the copy
/// writes through the parent, and the partitions check them. A unique index of one partition
/// keeps values distinct there only, but a rule that could make them collide fails the same.
pub fn schema(client: &mut Client, schema: &str) -> Result<Schema, DbError> {
    let err = |e: postgres::Error| database_error(Side::Source, None, &e);
    let mut catalog = Catalog::default();
    for row in client
        .query(
            "SELECT c.relname::text, a.attname::text,
                    CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod)
                         ELSE format_type(a.atttypid, a.atttypmod) END,
                    a.attnotnull
             FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid
             JOIN pg_type t ON t.oid = a.atttypid
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
             ORDER BY c.relname, a.attnum",
            &[&schema],
        )
        .map_err(err)?
    {
        catalog.column(
            row.get(0),
            ColumnSchema {
                name: row.get(1),
                type_name: Some(row.get(2)),
                not_null: row.get(3),
                ..ColumnSchema::default()
            },
        );
    }
    for row in client
        .query(
            "SELECT c.relname::text, a.attname::text
             FROM pg_index i
             JOIN pg_class c ON c.oid = COALESCE(pg_partition_root(i.indrelid), i.indrelid)
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
             WHERE n.nspname = $1 AND i.indisunique AND i.indnkeyatts = 1",
            &[&schema],
        )
        .map_err(err)?
    {
        catalog.unique(row.get(0), row.get(1));
    }
    for row in client
        .query(
            "SELECT cl.relname::text, a.attname::text, pc.relname::text, pa.attname::text
             FROM pg_constraint con
             JOIN pg_class cl ON cl.oid = COALESCE(pg_partition_root(con.conrelid), con.conrelid)
             JOIN pg_namespace n ON n.oid = cl.relnamespace
             JOIN pg_class pc ON pc.oid = COALESCE(pg_partition_root(con.confrelid), con.confrelid)
             JOIN pg_namespace pn ON pn.oid = pc.relnamespace
             CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(child, parent)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.child
             JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.parent
             WHERE con.contype = 'f' AND n.nspname = $1 AND pn.nspname = $1",
            &[&schema],
        )
        .map_err(err)?
    {
        catalog.references(row.get(0), row.get(1), row.get(2), row.get(3));
    }
    Ok(catalog.schema())
}

/// Up to `limit` rows of `table` as text (NULL as an empty string), for `plan`.
pub fn sample(
    client: &mut Client,
    schema: &str,
    table: &TableSchema,
    limit: usize,
) -> Result<Vec<Vec<String>>, DbError> {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{}::text", quote(&c.name)))
        .collect();
    let sql = format!(
        "SELECT {} FROM {}.{} LIMIT {limit}",
        columns.join(", "),
        quote(schema),
        quote(&table.name)
    );
    let rows = client
        .query(sql.as_str(), &[])
        .map_err(|e| database_error(Side::Source, Some(&table.name), &e))?;
    Ok(rows
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| row.get::<_, Option<String>>(i).unwrap_or_default())
                .collect()
        })
        .collect())
}

/// Calls `each` with the values (NULL as `None`) of `columns` of every row of `table`,
/// streamed (for the k-anonymity report of an anonymised copy). Returns the rows seen.
pub fn scan(
    client: &mut Client,
    schema: &str,
    table: &str,
    columns: &[String],
    each: &mut dyn FnMut(&[Option<String>]),
) -> Result<u64, DbError> {
    let list: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    // Through a query, so a partitioned table reads its partitions' rows.
    let sql = format!(
        "COPY (SELECT {} FROM {}.{}) TO STDOUT",
        list.join(", "),
        quote(schema),
        quote(table)
    );
    let err = |e: postgres::Error| database_error(Side::Source, Some(table), &e);
    let mut reader = client.copy_out(sql.as_str()).map_err(err)?;
    let mut line = Vec::new();
    let mut values: Vec<Option<String>> = Vec::with_capacity(columns.len());
    let mut rows = 0;
    while read_line(&mut reader, &mut line, table)? {
        rows += 1;
        values.clear();
        for field in fields(&line) {
            values.push(decode(field).map(|v| String::from_utf8_lossy(&v).into_owned()));
        }
        each(&values);
    }
    Ok(rows)
}

/// Anonymises the tables of the source database into the target's: checks the config against
/// the source's schema (failing closed), checks the target has every table and column and holds
/// no rows in them (or empties them, see [`Options::truncate`]), then copies every table in
/// dependency order inside one target transaction, committed only when every row of every table
/// went through. The source is read in one repeatable-read snapshot, so the tables agree.
pub fn anonymise(
    config: &Config,
    transformer: &Transformer,
    source_url: &str,
    target_url: &str,
    options: &Options,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<Summary>, DbError> {
    let mut source = connect(source_url, Side::Source)?;
    let mut target = connect(target_url, Side::Target)?;
    let src_err = |e: postgres::Error| database_error(Side::Source, None, &e);
    if identity(&mut source, Side::Source)? == identity(&mut target, Side::Target)? {
        return Err(DbError::Refused(
            "the source and the target are the same database: the copy needs another one".into(),
        ));
    }
    // As pg_dump does: the tables are locked against schema changes before the snapshot is
    // taken, so the columns the config is checked against are the columns `COPY` reads.
    let listed = table_names(&mut source, &options.schema)?;
    let mut begin = String::from(
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
         SET LOCAL DateStyle = ISO; SET LOCAL IntervalStyle = iso_8601;
         SET LOCAL extra_float_digits = 3;",
    );
    if !listed.is_empty() {
        let qualified: Vec<String> = listed
            .iter()
            .map(|t| format!("{}.{}", quote(&options.schema), quote(t)))
            .collect();
        begin.push_str(&format!(
            "LOCK TABLE {} IN ACCESS SHARE MODE;",
            qualified.join(", ")
        ));
    }
    source.batch_execute(&begin).map_err(src_err)?;
    let schema_ = schema(&mut source, &options.schema)?;
    let mut found: Vec<&str> = schema_.tables.iter().map(|t| t.name.as_str()).collect();
    found.sort_unstable();
    let mut listed_sorted: Vec<&str> = listed.iter().map(String::as_str).collect();
    listed_sorted.sort_unstable();
    if found != listed_sorted {
        return Err(DbError::Refused(
            "the source's tables changed while the run started (a table was created, renamed or dropped): run it again".into(),
        ));
    }
    let plan = config.check(&schema_)?;
    let (tables, cyclic) = dependency_order(schema_.tables, &config.virtual_keys);

    // Read committed whatever the server's default: the check for rows, made once the run
    // holds the target, sees what any writer it waited for committed.
    let mut tx = target
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::ReadCommitted)
        .start()
        .map_err(|e| database_error(Side::Target, None, &e))?;
    prepare_target(&mut tx, &options.schema, &tables, options.truncate)?;
    crate::run::hold_after_target_check();
    if !cyclic.is_empty() {
        // Deferrable foreign keys of a cycle are checked at commit, once every table is in.
        tx.batch_execute("SET CONSTRAINTS ALL DEFERRED")
            .map_err(|e| database_error(Side::Target, None, &e))?;
    }

    let summaries = copy_tables(&plan, &tables, |table, rules| {
        let estimate: f32 = source
            .query_one(
                "SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relname = $2",
                &[&options.schema, &table.name],
            )
            .map_err(src_err)?
            .get(0);
        copy_table(
            &mut source,
            &mut tx,
            &options.schema,
            table,
            rules,
            transformer,
            estimate.max(0.0) as u64,
            progress,
        )
    })?;
    copy_sequences(&mut source, &mut tx, &options.schema)?;
    tx.commit()
        .map_err(|e| database_error(Side::Target, None, &e))?;
    // The source transaction only read; closing the connection ends it.
    Ok(summaries)
}

/// The names of the tables of `schema` that a copy reads, sorted.
fn table_names(client: &mut Client, schema: &str) -> Result<Vec<String>, DbError> {
    Ok(client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
             ORDER BY c.relname COLLATE \"C\"",
            &[&schema],
        )
        .map_err(|e| database_error(Side::Source, None, &e))?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

/// What tells one database from every other: its server's start time, its name and its oid.
fn identity(client: &mut Client, side: Side) -> Result<String, DbError> {
    client
        .query_one(
            "SELECT pg_postmaster_start_time()::text || '/' || current_database() || '/'
                    || (SELECT oid FROM pg_database WHERE datname = current_database())::text",
            &[],
        )
        .map(|row| row.get(0))
        .map_err(|e| database_error(side, None, &e))
}

/// Checks the target has every table and column the copy writes, and that those tables hold
/// no rows (or truncates them).
fn prepare_target(
    tx: &mut postgres::Transaction<'_>,
    schema_name: &str,
    tables: &[TableSchema],
    truncate: bool,
) -> Result<(), DbError> {
    let err = |e: postgres::Error| database_error(Side::Target, None, &e);
    let found = tx
        .query(
            "SELECT c.relname::text, a.attname::text
             FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
               AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''",
            &[&schema_name],
        )
        .map_err(err)?;
    check_target_columns(tables, found.iter().map(|row| (row.get(0), row.get(1))))?;
    let names: Vec<String> = tables
        .iter()
        .map(|t| format!("{}.{}", quote(schema_name), quote(&t.name)))
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    claim_target(tx, schema_name, &names, truncate)?;
    if truncate {
        let outside = empty_referencing_tables(tx, schema_name, tables)?;
        return tx
            .batch_execute(&format!(
                "TRUNCATE {}",
                [names, outside].concat().join(", ")
            ))
            .map_err(err);
    }
    let probe: Vec<String> = tables
        .iter()
        .zip(&names)
        .map(|(t, name)| {
            format!(
                "SELECT {} WHERE EXISTS (SELECT 1 FROM {name})",
                literal(&t.name)
            )
        })
        .collect();
    let occupied: Vec<String> = tx
        .query(probe.join(" UNION ALL ").as_str(), &[])
        .map_err(err)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    check_target_empty(&occupied)
}

/// The tables outside the copy (another schema's, say) whose foreign keys reference a copied
/// table, qualified and quoted: `TRUNCATE` refuses to empty a referenced table alone. Each is
/// locked against writers and must be empty, so truncating it with the copy changes nothing;
/// one that holds rows makes the run refuse, naming it (its rows would lose their parents).
fn empty_referencing_tables(
    tx: &mut postgres::Transaction<'_>,
    schema_name: &str,
    tables: &[TableSchema],
) -> Result<Vec<String>, DbError> {
    let err = |e: postgres::Error| database_error(Side::Target, None, &e);
    let copied: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    // Partitions count as their root table on both sides of a key (the root of a table outside
    // any partition tree is NULL: the table itself).
    let rows = tx
        .query(
            "SELECT DISTINCT cn.nspname::text, c.relname::text, p.relname::text
             FROM pg_constraint k
             JOIN pg_class c ON c.oid = COALESCE(pg_partition_root(k.conrelid), k.conrelid)
             JOIN pg_namespace cn ON cn.oid = c.relnamespace
             JOIN pg_class p ON p.oid = COALESCE(pg_partition_root(k.confrelid), k.confrelid)
             JOIN pg_namespace pn ON pn.oid = p.relnamespace
             WHERE k.contype = 'f' AND pn.nspname = $1 AND p.relname = ANY($2)
               AND NOT (cn.nspname = $1 AND c.relname = ANY($2))
             ORDER BY 1, 2, 3",
            &[&schema_name, &copied],
        )
        .map_err(err)?;
    let mut outside = Vec::new();
    for row in rows {
        let (schema, table, referenced): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        let name = format!("{}.{}", quote(&schema), quote(&table));
        tx.batch_execute(&format!("LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE"))
            .map_err(err)?;
        let occupied = !tx
            .query(format!("SELECT 1 FROM {name} LIMIT 1").as_str(), &[])
            .map_err(err)?
            .is_empty();
        if occupied {
            return Err(DbError::Refused(format!(
                "--truncate cannot empty `{referenced}`: `{schema}.{table}`, which this run does \
                 not copy, references it and holds rows (they would lose their parents); empty \
                 it first, or run without --truncate into an empty target"
            )));
        }
        if !outside.contains(&name) {
            outside.push(name);
        }
    }
    Ok(outside)
}

/// Holds the target for this run until its transaction ends, so that what the run checks of
/// it (no rows) stays true until the commit. Another run into the same schema is refused at
/// once, by a transaction-level advisory lock keyed on the schema: waiting for it would only
/// end in finding its rows, or (with `truncate`) in replacing its copy with a second one. Then
/// the `tables` (`names`, qualified) are locked against every other writer, waiting for those
/// at work: in SHARE ROW EXCLUSIVE mode, which lets the application read them meanwhile, or
/// ACCESS EXCLUSIVE for `truncate` (what `TRUNCATE` takes: taken here, in one order, rather
/// than upgraded later). Both locks end with the transaction, committed or not.
fn claim_target(
    tx: &mut postgres::Transaction<'_>,
    schema_name: &str,
    names: &[String],
    truncate: bool,
) -> Result<(), DbError> {
    let err = |e: postgres::Error| database_error(Side::Target, None, &e);
    let free: bool = tx
        .query_one(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('anonymise run into ' || $1, 0))",
            &[&schema_name],
        )
        .map_err(err)?
        .get(0);
    if !free {
        return Err(another_run_refused());
    }
    // Sorted: runs whose tables overlap lock them in the same order.
    let mut sorted = names.to_vec();
    sorted.sort_unstable();
    let mode = if truncate {
        "ACCESS EXCLUSIVE"
    } else {
        "SHARE ROW EXCLUSIVE"
    };
    tx.batch_execute(&format!("LOCK TABLE {} IN {mode} MODE", sorted.join(", ")))
        .map_err(err)
}

/// Sets the target's sequences as the source's are (read in the run's snapshot), as `pg_dump`
/// does, then moves each serial and identity sequence past the largest key the copy wrote, so
/// the application's next insert collides with no copied row.
fn copy_sequences(
    source: &mut Client,
    tx: &mut postgres::Transaction<'_>,
    schema_name: &str,
) -> Result<(), DbError> {
    let src_err = |e: postgres::Error| database_error(Side::Source, None, &e);
    let tgt_err = |e: postgres::Error| database_error(Side::Target, None, &e);
    let sequences: Vec<String> = source
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relkind = 'S'",
            &[&schema_name],
        )
        .map_err(src_err)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    for sequence in sequences {
        let qualified = format!("{}.{}", quote(schema_name), quote(&sequence));
        let state = source
            .query_one(
                format!("SELECT last_value, is_called FROM {qualified}").as_str(),
                &[],
            )
            .map_err(src_err)?;
        let (last, called): (i64, bool) = (state.get(0), state.get(1));
        tx.execute(
            "SELECT setval(c.oid, $3, $4) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'S'",
            &[&schema_name, &sequence, &last, &called],
        )
        .map_err(tgt_err)?;
    }
    let owned = tx
        .query(
            "SELECT s.oid::regclass::text, c.oid::regclass::text, a.attname::text
             FROM pg_depend d
             JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
             JOIN pg_class c ON c.oid = d.refobjid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
             WHERE d.deptype IN ('a', 'i') AND n.nspname = $1",
            &[&schema_name],
        )
        .map_err(tgt_err)?;
    for row in owned {
        let (sequence, table, column): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        let column = quote(&column);
        // `sequence` and `table` are the catalog's own quoted names.
        tx.query(
            format!(
                "SELECT setval('{seq}'::regclass, m) FROM (SELECT max({column})::bigint AS m FROM {table}) AS t
                 WHERE m > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {sequence})",
                seq = sequence.replace('\'', "''")
            )
            .as_str(),
            &[],
        )
        .map_err(|e| database_error(Side::Target, Some(&table), &e))?;
    }
    Ok(())
}

/// Streams one table from `source` into `target` through `rules`.
#[allow(clippy::too_many_arguments)]
fn copy_table(
    source: &mut Client,
    target: &mut postgres::Transaction<'_>,
    schema_name: &str,
    table: &TableSchema,
    rules: &[Rule],
    transformer: &Transformer,
    estimate: u64,
    progress: &mut dyn FnMut(&Progress),
) -> Result<u64, DbError> {
    let name = table.name.as_str();
    let list: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
    let qualified = format!("{}.{}", quote(schema_name), quote(name));
    let list = list.join(", ");
    let src_err = |e: postgres::Error| database_error(Side::Source, Some(name), &e);
    let tgt_err = |e: postgres::Error| database_error(Side::Target, Some(name), &e);
    let partitioned: bool = source
        .query_one(
            "SELECT c.relkind = 'p' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2",
            &[&schema_name, &name],
        )
        .map_err(src_err)?
        .get(0);
    let mut writer = target
        .copy_in(format!("COPY {qualified} ({list}) FROM STDIN").as_str())
        .map_err(tgt_err)?;
    let report = |rows: u64, done: bool| Progress::rows(name, rows, estimate, done);
    let write_failed = |e: std::io::Error| io_error(Side::Target, name, &e);
    // A partitioned table holds no rows itself: its partitions' rows are read through a query
    // (`COPY` of the table would refuse), and written back through the parent.
    let copy_out = if partitioned {
        format!("COPY (SELECT {list} FROM {qualified}) TO STDOUT")
    } else {
        format!("COPY {qualified} ({list}) TO STDOUT")
    };
    // Read and transformed on another thread, handed over in 64 KiB chunks, written on this one.
    let rows = relay(
        CHUNKS_IN_FLIGHT,
        move |chunks| {
            let mut reader = source.copy_out(copy_out.as_str()).map_err(src_err)?;
            let all_kept = rules.iter().all(|r| *r == Rule::Keep);
            let mut line = Vec::with_capacity(256);
            let mut out = Vec::with_capacity(WRITE_BUFFER + 4096);
            let mut rows = 0u64;
            while read_line(&mut reader, &mut line, name)? {
                rows += 1;
                if all_kept {
                    out.extend_from_slice(&line);
                } else {
                    transform_line(&line, rules, transformer, &mut out).map_err(
                        |(column, source)| DbError::Transform {
                            table: name.to_owned(),
                            row: rows,
                            column: table.columns[column].name.clone(),
                            source: Box::new(source),
                        },
                    )?;
                }
                if out.len() >= WRITE_BUFFER {
                    let full = std::mem::replace(&mut out, Vec::with_capacity(WRITE_BUFFER + 4096));
                    if chunks.send((full, rows)).is_err() {
                        // The writer stopped; its error is the one reported.
                        return Ok(rows);
                    }
                }
            }
            let _ = chunks.send((out, rows));
            Ok(rows)
        },
        |chunk: Vec<u8>| writer.write_all(&chunk).map_err(write_failed),
        &mut |rows| progress(&report(rows, false)),
    )?;
    let count = writer.finish().map_err(tgt_err)?;
    debug_assert_eq!(count, rows);
    progress(&report(rows, true));
    Ok(rows)
}

/// Transforms one `COPY` text line (with its newline) into `out`; on error, the column index.
fn transform_line(
    line: &[u8],
    rules: &[Rule],
    transformer: &Transformer,
    out: &mut Vec<u8>,
) -> Result<(), (usize, crate::transform::TransformError)> {
    let start = out.len();
    let mut fields = fields(line);
    for (i, rule) in rules.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        let field = fields.next().unwrap_or(b"\\N");
        if *rule == Rule::Keep {
            out.extend_from_slice(field);
            continue;
        }
        let value = decode(field);
        let value = match &value {
            None => None,
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => Some(text),
                Err(_) => {
                    out.truncate(start);
                    return Err((
                        i,
                        crate::transform::TransformError::NotText { bytes: bytes.len() },
                    ));
                }
            },
        };
        match transformer.apply(rule, value) {
            Ok(Some(v)) => encode(v.as_bytes(), out),
            Ok(None) => out.extend_from_slice(b"\\N"),
            Err(e) => {
                out.truncate(start);
                return Err((i, e));
            }
        }
    }
    out.push(b'\n');
    Ok(())
}

/// Reads the next `COPY` text line of `table` (with its newline) from the source into `line`;
/// false at the end.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>, table: &str) -> Result<bool, DbError> {
    line.clear();
    let n = reader
        .read_until(b'\n', line)
        .map_err(|e| io_error(Side::Source, table, &e))?;
    Ok(n > 0)
}

/// The raw fields of a `COPY` text line (its newline dropped).
fn fields(line: &[u8]) -> std::slice::Split<'_, u8, impl FnMut(&u8) -> bool> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.split(|b| *b == b'\t')
}

/// A `COPY` text field's value: `None` for `\N`, escapes resolved.
fn decode(field: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    if field == b"\\N" {
        return None;
    }
    if !field.contains(&b'\\') {
        return Some(std::borrow::Cow::Borrowed(field));
    }
    let mut value = Vec::with_capacity(field.len());
    let mut bytes = field.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            value.push(b);
            continue;
        }
        let Some(escaped) = bytes.next() else {
            value.push(b'\\');
            break;
        };
        match escaped {
            b'b' => value.push(8),
            b'f' => value.push(12),
            b'n' => value.push(b'\n'),
            b'r' => value.push(b'\r'),
            b't' => value.push(b'\t'),
            b'v' => value.push(11),
            b'0'..=b'7' => {
                let mut code = u32::from(escaped - b'0');
                for _ in 0..2 {
                    match bytes.peek() {
                        Some(d @ b'0'..=b'7') => {
                            code = code * 8 + u32::from(d - b'0');
                            bytes.next();
                        }
                        _ => break,
                    }
                }
                value.push(code as u8);
            }
            b'x' => {
                let mut code = 0u32;
                let mut digits = 0;
                while digits < 2 {
                    match bytes.peek().and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            code = code * 16 + d;
                            bytes.next();
                            digits += 1;
                        }
                        None => break,
                    }
                }
                if digits == 0 {
                    value.push(b'x');
                } else {
                    value.push(code as u8);
                }
            }
            other => value.push(other),
        }
    }
    Some(std::borrow::Cow::Owned(value))
}

/// Appends `value` as a `COPY` text field.
fn encode(value: &[u8], out: &mut Vec<u8>) {
    for &b in value {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.push(b),
        }
    }
}

/// `name` as a quoted identifier.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A database error without anything that could hold a value: the server's message, except for
/// data errors (SQLSTATE class 22), whose messages quote the value; never the detail, hint or
/// context (a unique violation's detail shows the key).
pub fn database_error(side: Side, table: Option<&str>, error: &postgres::Error) -> DbError {
    let message = match error.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let mut message = if code.starts_with("22") {
                format!("a value was refused (SQLSTATE {code})")
            } else {
                format!("{} (SQLSTATE {code})", db.message())
            };
            if let Some(column) = db.column() {
                message.push_str(&format!(", column `{column}`"));
            }
            if let Some(constraint) = db.constraint() {
                if !message.contains(constraint) {
                    message.push_str(&format!(", constraint `{constraint}`"));
                }
            }
            if let (None, Some(t)) = (table, db.table()) {
                message.push_str(&format!(", table `{t}`"));
            }
            message
        }
        // A connection error says why only in its causes ("Connection refused"): none of them
        // holds a value or a password.
        None => {
            let mut message = error.to_string();
            let mut cause = std::error::Error::source(error);
            while let Some(e) = cause {
                message.push_str(": ");
                message.push_str(&e.to_string());
                cause = e.source();
            }
            message
        }
    };
    DbError::Database {
        side,
        table: table.map(str::to_owned),
        message,
    }
}

fn io_error(side: Side, table: &str, error: &std::io::Error) -> DbError {
    let message = match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<postgres::Error>())
    {
        Some(pg) => match database_error(side, Some(table), pg) {
            DbError::Database { message, .. } => message,
            other => other.to_string(),
        },
        None => error.to_string(),
    };
    DbError::Database {
        side,
        table: Some(table.to_owned()),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_fields_round_trip_through_decode_and_encode() {
        let values: [&[u8]; 5] = [b"plain", b"tab\there", b"back\\slash", b"new\nline\r", b""];
        for value in values {
            let mut field = Vec::new();
            encode(value, &mut field);
            assert!(!field.contains(&b'\t') && !field.contains(&b'\n'));
            assert_eq!(decode(&field).unwrap().as_ref(), value);
        }
        assert!(decode(b"\\N").is_none());
        assert_eq!(decode(b"\\101\\x42\\q").unwrap().as_ref(), b"ABq");
    }

    #[test]
    fn a_line_keeps_kept_fields_byte_for_byte_and_nulls_stay_null() {
        let t = Transformer::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let mut out = Vec::new();
        transform_line(
            b"7\talice@example.com\t\\N\ta\\tb\n",
            &[Rule::Keep, Rule::Pseudonym, Rule::Pseudonym, Rule::Keep],
            &t,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, b"7\to3prswyu57qbfdzez7uwmpdgty\t\\N\ta\\tb\n");
    }
}
