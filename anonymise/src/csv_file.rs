//! CSV to CSV: one file is one table (named after the file), its header the columns. Rows
//! stream through in constant memory; the output appears only when every row went through.

use crate::config::{ColumnSchema, Config, ConfigError, Rule, Schema, TableSchema};
use crate::run::{Progress, Summary, Unit};
use crate::transform::{TransformError, Transformer};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Why a CSV run stopped. Nothing is left at the output path.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The config does not match the file's columns.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A value could not be transformed (the message never holds the value).
    #[error("row {row}, column `{column}`: {source}")]
    Transform {
        /// The 1-based data row.
        row: u64,
        /// The column.
        column: String,
        /// Why.
        #[source]
        source: TransformError,
    },
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The CSV could not be parsed or written.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: csv::Error,
    },
}

/// The table a CSV file holds: named after the file's stem, its header the columns.
pub fn schema_of(path: &Path) -> Result<TableSchema, CsvError> {
    let csv_err = |source| CsvError::Csv {
        path: path.display().to_string(),
        source,
    };
    let mut reader = csv::Reader::from_path(path).map_err(csv_err)?;
    let headers = reader.headers().map_err(csv_err)?;
    Ok(TableSchema {
        name: table_name(path),
        columns: headers
            .iter()
            .map(|name| ColumnSchema {
                name: name.to_owned(),
                ..ColumnSchema::default()
            })
            .collect(),
    })
}

/// The table name of a CSV file: its stem.
pub fn table_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Anonymises CSV files (one table each, named after the file) into `out_dir`, failing
/// closed: the config is checked against every file's header first (so a reference from one
/// file to another is checked too), each output goes to a temporary file, and only when every
/// row of every file went through are they renamed into place; on any error nothing is left.
pub fn anonymise(
    config: &Config,
    transformer: &Transformer,
    inputs: &[PathBuf],
    out_dir: &Path,
) -> Result<Vec<Summary>, CsvError> {
    anonymise_with_progress(config, transformer, inputs, out_dir, &mut |_: &Progress| {})
}

/// [`anonymise`], reporting progress every few thousand rows and at the end of each table.
pub fn anonymise_with_progress(
    config: &Config,
    transformer: &Transformer,
    inputs: &[PathBuf],
    out_dir: &Path,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<Summary>, CsvError> {
    let tables = inputs
        .iter()
        .map(|input| schema_of(input))
        .collect::<Result<Vec<_>, _>>()?;
    let plan = config.check(&Schema {
        tables: tables.clone(),
    })?;
    let mut written: Vec<(PathBuf, PathBuf)> = Vec::new();
    let result = (|| {
        let mut summaries = Vec::new();
        for (input, table) in inputs.iter().zip(&tables) {
            let rules: Vec<Rule> = plan
                .table(&table.name)
                .unwrap_or_default()
                .iter()
                .map(|(_, rule)| rule.clone())
                .collect();
            let output = out_dir.join(input.file_name().unwrap_or_default());
            let pending = pending_path(&output);
            written.push((pending.clone(), output));
            let reader = File::open(input).map_err(|source| CsvError::Io {
                path: input.display().to_string(),
                source,
            })?;
            let writer = File::create(&pending).map_err(|source| CsvError::Io {
                path: pending.display().to_string(),
                source,
            })?;
            let total_bytes = reader.metadata().map(|m| m.len()).unwrap_or(0);
            let started = std::time::Instant::now();
            let mut report = |bytes: u64, rows: u64, done: bool| {
                progress(&Progress {
                    table: table.name.clone(),
                    position: bytes,
                    total: total_bytes,
                    unit: Unit::Bytes,
                    rows,
                    done,
                })
            };
            let rows = stream(
                table,
                &rules,
                transformer,
                BufReader::with_capacity(1 << 16, reader),
                BufWriter::with_capacity(1 << 16, writer),
                (input, &pending),
                &mut report,
            )?;
            summaries.push(Summary {
                table: table.name.clone(),
                rows,
                transformed_columns: rules.iter().filter(|r| **r != Rule::Keep).count(),
                elapsed: started.elapsed(),
            });
        }
        for (pending, output) in &written {
            fs::rename(pending, output).map_err(|source| CsvError::Io {
                path: output.display().to_string(),
                source,
            })?;
        }
        Ok(summaries)
    })();
    if result.is_err() {
        for (pending, _) in &written {
            let _ = fs::remove_file(pending);
        }
    }
    result
}

fn pending_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Copies rows from `reader` to `writer`, each column through its rule.
fn stream(
    table: &TableSchema,
    rules: &[Rule],
    transformer: &Transformer,
    reader: impl Read,
    writer: impl Write,
    (input, output): (&Path, &Path),
    progress: &mut dyn FnMut(u64, u64, bool),
) -> Result<u64, CsvError> {
    let read_err = |source| CsvError::Csv {
        path: input.display().to_string(),
        source,
    };
    let write_err = |source| CsvError::Csv {
        path: output.display().to_string(),
        source,
    };
    let mut reader = csv::Reader::from_reader(reader);
    let mut writer = csv::Writer::from_writer(writer);
    writer
        .write_record(table.columns.iter().map(|c| c.name.as_str()))
        .map_err(write_err)?;
    let mut record = csv::StringRecord::new();
    let mut out: Vec<String> = Vec::with_capacity(rules.len());
    let mut rows = 0;
    while reader.read_record(&mut record).map_err(read_err)? {
        rows += 1;
        if rows % 8192 == 0 {
            progress(reader.position().byte(), rows, false);
        }
        out.clear();
        for (i, rule) in rules.iter().enumerate() {
            let value = record.get(i).filter(|v| !v.is_empty());
            let value = transformer
                .apply(rule, value)
                .map_err(|source| CsvError::Transform {
                    row: rows,
                    column: table.columns[i].name.clone(),
                    source,
                })?;
            out.push(value.unwrap_or_default());
        }
        writer.write_record(&out).map_err(write_err)?;
    }
    progress(reader.position().byte(), rows, true);
    writer.flush().map_err(|source| CsvError::Io {
        path: output.display().to_string(),
        source,
    })?;
    Ok(rows)
}
