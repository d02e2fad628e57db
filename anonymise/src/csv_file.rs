//! CSV to CSV: one file is one table (named after the file), its header the columns. Rows
//! stream through in constant memory; the output appears only when every row went through.

use crate::config::{ColumnSchema, Config, ConfigError, Rule, Schema, TableSchema};
use crate::run::{copy_tables, Progress, Summary, NOTHING_WRITTEN};
use crate::transform::{TransformError, Transformer};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Why a CSV run stopped. Nothing is left at the output path.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The config does not match the file's columns.
    #[error("{}", .0.message(NOTHING_WRITTEN))]
    Config(#[from] ConfigError),
    /// A value could not be transformed (the message never holds the value).
    #[error("row {row}, column `{column}`: {source}; nothing was written")]
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
    /// The first row of a file is not a header row: a cell looks like data, or is empty, or
    /// repeats another's name. Only the cell's position and shape are named, never its text.
    #[error("{path}: the first row is not a header row: its cell {cell} {shape}; CSV files need a header row that names each column once (add one)")]
    Header {
        /// The file.
        path: String,
        /// The 1-based position of the cell in the first row.
        cell: usize,
        /// What the cell looks like (`is a number`, `is empty`, ..).
        shape: String,
    },
    /// The run cannot go on as asked: two inputs would be one table or one output, an output
    /// is an input or already exists, or an input changed since it was checked.
    #[error("{0}; nothing was written")]
    Refused(String),
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

/// The table a CSV file holds: named after the file's stem, its header the columns. A first
/// row that does not look like a header (see [`check_header`]) is refused.
pub fn schema_of(path: &Path) -> Result<TableSchema, CsvError> {
    let csv_err = |source| CsvError::Csv {
        path: path.display().to_string(),
        source,
    };
    let mut reader = reader(path)?;
    let headers = reader.headers().map_err(csv_err)?;
    check_header(path, headers)?;
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

/// [`schema_of`], every row of the file read to check that it parses (its quoting, see
/// [`QuoteCheck`], and each row's number of fields): what `check` and `plan` read, so they
/// refuse what a run would.
pub fn check_file(path: &Path) -> Result<TableSchema, CsvError> {
    let table = schema_of(path)?;
    let mut reader = reader(path)?;
    let mut record = csv::ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|source| CsvError::Csv {
            path: path.display().to_string(),
            source,
        })?
    {}
    Ok(table)
}

/// A CSV reader of `path` whose quoting is checked as it reads (see [`QuoteCheck`]); the first
/// row is the header.
pub fn reader(path: &Path) -> Result<csv::Reader<QuoteCheck<File>>, CsvError> {
    let file = File::open(path).map_err(|source| CsvError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(csv::Reader::from_reader(QuoteCheck::new(file)))
}

/// Checks a CSV's quoting as its bytes pass, in the dialect every reader here uses (the csv
/// crate's default: `,` between values, `"` around one, `""` for a quote inside it), and
/// fails where the csv crate would read on leniently: a quote still open at the end of the
/// file (the rest of the file would be one value, copied under that value's rule) and text
/// after the quote that closes a value (a writer that did not double its quotes; the values
/// after it would shift). The error is `InvalidData` naming the line, never the text.
#[derive(Debug)]
pub struct QuoteCheck<R> {
    inner: R,
    state: Quoting,
    /// The 1-based line being read.
    line: u64,
    /// The line of the quote that opened the value being read, when it is quoted.
    opened: u64,
}

/// Where the reader is, as the csv crate's parser would be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// At the start of a value.
    Start,
    /// In a value that did not start with a quote (a quote in it is text).
    Bare,
    /// In a quoted value.
    Quoted,
    /// After a quote in a quoted value: it closed the value, or a second quote follows.
    QuoteInQuoted,
}

impl<R> QuoteCheck<R> {
    /// Checks the quoting of what `inner` reads.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            state: Quoting::Start,
            line: 1,
            opened: 0,
        }
    }

    /// Moves past `bytes`, failing at the first one the quoting does not allow.
    fn scan(&mut self, bytes: &[u8]) -> io::Result<()> {
        for &b in bytes {
            let ends_value = b == b',' || b == b'\n' || b == b'\r';
            self.state = match (self.state, b) {
                (Quoting::Start, b'"') => {
                    self.opened = self.line;
                    Quoting::Quoted
                }
                (Quoting::Quoted, b'"') => Quoting::QuoteInQuoted,
                (Quoting::QuoteInQuoted, b'"') | (Quoting::Quoted, _) => Quoting::Quoted,
                (Quoting::Start | Quoting::Bare | Quoting::QuoteInQuoted, _) if ends_value => {
                    Quoting::Start
                }
                (Quoting::Start | Quoting::Bare, _) => Quoting::Bare,
                (Quoting::QuoteInQuoted, _) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "line {}: text after the quote that closes a value (a quote inside a quoted value is written twice: \"\")",
                            self.line
                        ),
                    ))
                }
            };
            if b == b'\n' {
                self.line += 1;
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for QuoteCheck<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.state == Quoting::Quoted {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "line {}: a quote opens a value and is never closed (the rest of the file would be that value); close it, or double a quote that is part of the value",
                    self.opened
                ),
            ));
        }
        self.scan(&buf[..n])?;
        Ok(n)
    }
}

/// Refuses a first row that is not a header row (a file without one would have its first
/// record taken for column names, and shown as such): a cell that looks like data (an email
/// address, all digits, a number, a date or time, digits and punctuation only), an empty cell,
/// or a cell that repeats another's name. The error names the cell's position and shape only.
pub fn check_header(path: &Path, headers: &csv::StringRecord) -> Result<(), CsvError> {
    for (i, cell) in headers.iter().enumerate() {
        let shape = data_shape(cell).map(str::to_owned).or_else(|| {
            headers
                .iter()
                .take(i)
                .position(|earlier| earlier == cell)
                .map(|j| format!("repeats the name of cell {}", j + 1))
        });
        if let Some(shape) = shape {
            return Err(CsvError::Header {
                path: path.display().to_string(),
                cell: i + 1,
                shape,
            });
        }
    }
    Ok(())
}

/// What a header cell looks like if it looks like a value rather than a column name: the one
/// predicate of every command that reads a CSV header (run, check, plan).
fn data_shape(cell: &str) -> Option<&'static str> {
    let cell = cell.trim();
    if cell.is_empty() {
        return Some("is empty");
    }
    if cell
        .find('@')
        .is_some_and(|at| cell[at + 1..].contains('.'))
    {
        return Some("looks like an email address (an @ with a dot after it)");
    }
    if cell.bytes().all(|b| b.is_ascii_digit()) {
        return Some("is all digits");
    }
    if let Some(shape) = text_shape(cell) {
        return Some(shape);
    }
    if !cell.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    if cell.replace(',', "").parse::<f64>().is_ok() {
        return Some("is a number");
    }
    // Digits and punctuation only, a `T` between a date and a time and a `Z` after it allowed.
    let numeric = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || b" +-./:,()".contains(&b))
    };
    let timeless = cell.strip_suffix('Z').unwrap_or(cell);
    let parts_numeric = match timeless.split_once('T') {
        Some((date, time)) => numeric(date) && numeric(time),
        None => numeric(timeless),
    };
    if !parts_numeric {
        return None;
    }
    Some(if cell.bytes().any(|b| b"-/:".contains(&b)) {
        "looks like a date or time"
    } else {
        "holds only digits and punctuation"
    })
}

/// What a cell of words looks like if it looks like a person's data: a street address (a house
/// number, then words: `12 Zor Street`, `221B Baker Street`), a postcode or code (every word
/// mixing letters and digits: `SW1A 1AA`), or free text (six words or more, or a sentence of
/// three or more ending in `.` or `!`; a question is a survey's column name).
fn text_shape(cell: &str) -> Option<&'static str> {
    let words: Vec<&str> = cell.split_whitespace().collect();
    let [first, rest @ ..] = words.as_slice() else {
        return None;
    };
    let digits = first.bytes().take_while(u8::is_ascii_digit).count();
    let house_number = digits > 0 && first.len() - digits <= 1;
    if house_number && rest.iter().any(|w| w.chars().any(char::is_alphabetic)) {
        return Some("looks like a street address (a number, then words)");
    }
    let mixed = |w: &&str| {
        w.bytes().all(|b| b.is_ascii_alphanumeric())
            && w.bytes().any(|b| b.is_ascii_digit())
            && w.bytes().any(|b| b.is_ascii_alphabetic())
    };
    if words.len() >= 2 && words.iter().all(mixed) {
        return Some("looks like a code or postcode (words of letters and digits)");
    }
    let sentence = words.len() >= 3 && (cell.ends_with('.') || cell.ends_with('!'));
    if sentence || (words.len() >= 6 && !cell.ends_with('?')) {
        return Some("looks like free text (a sentence, or six words or more)");
    }
    None
}

/// The table name of a CSV file: its stem.
pub fn table_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Anonymises CSV files (one table each, named after the file) into `out_dir`, failing
/// closed: two inputs that would be one table (the same stem; so also two of one file name,
/// which would be one output) are refused, and so is an output that is one of the inputs or
/// already exists; the config is checked against every file's header (so a reference from one
/// file to another is checked too); `out_dir` is made if it does not exist (and removed again
/// if the run fails); each output goes to a temporary file (claimed, never
/// overwritten), and only when every row of every file went through are they renamed into
/// place. On any error nothing is left: neither a temporary file nor an output, even one
/// already renamed.
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
    let outputs = output_paths(inputs, &tables, out_dir)?;
    let schema = Schema { tables };
    let plan = config.check(&schema)?;
    let made = make_dirs(out_dir)?;
    // The schema's tables are the files', in their order: each file takes its own rules.
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut files = inputs.iter().zip(&outputs);
    let result = copy_tables(&plan, &schema.tables, |table, rules| {
        let (input, output) = files.next().expect("a file for every table");
        let pending = pending_path(output);
        let reader = File::open(input).map_err(|source| CsvError::Io {
            path: input.display().to_string(),
            source,
        })?;
        let writer = claim(&pending)?;
        staged.push((pending.clone(), output.clone()));
        let total_bytes = reader.metadata().map(|m| m.len()).unwrap_or(0);
        // The table starts: a progress bar's clock starts here, as the summary's does.
        progress(&Progress::bytes(&table.name, 0, total_bytes, 0, false));
        stream(
            table,
            rules,
            transformer,
            BufReader::with_capacity(1 << 16, reader),
            BufWriter::with_capacity(1 << 16, writer),
            (input, &pending),
            &mut |bytes, rows, done| {
                progress(&Progress::bytes(
                    &table.name,
                    bytes,
                    total_bytes,
                    rows,
                    done,
                ))
            },
        )
    });
    let result = result.and_then(|summaries| publish(&staged).map(|()| summaries));
    if result.is_err() {
        for (pending, _) in &staged {
            let _ = fs::remove_file(pending);
        }
        remove_dirs(&made);
    }
    result
}

/// Makes `dir` and its missing parents, for a run into a directory that does not exist yet;
/// returns the directories made, outermost first, for a failed run to remove again.
fn make_dirs(dir: &Path) -> Result<Vec<PathBuf>, CsvError> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && d.symlink_metadata().is_err())
        .collect();
    let mut made = Vec::new();
    for missing in missing.into_iter().rev() {
        match fs::create_dir(missing) {
            Ok(()) => made.push(missing.to_path_buf()),
            // Made by another process meanwhile: not this run's to remove.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && missing.is_dir() => {}
            Err(e) => {
                remove_dirs(&made);
                return Err(CsvError::Refused(format!(
                    "cannot make the output directory {}: {e}",
                    dir.display()
                )));
            }
        }
    }
    Ok(made)
}

/// Removes the directories [`make_dirs`] made, innermost first, each only if empty.
fn remove_dirs(made: &[PathBuf]) {
    for dir in made.iter().rev() {
        let _ = fs::remove_dir(dir);
    }
}

/// The output path of each input (`out_dir` and the input's file name), refusing two inputs
/// that would be one table or one output, an output that is an input, and one that exists.
fn output_paths(
    inputs: &[PathBuf],
    tables: &[TableSchema],
    out_dir: &Path,
) -> Result<Vec<PathBuf>, CsvError> {
    for (i, table) in tables.iter().enumerate() {
        if let Some(j) = tables[..i].iter().position(|t| t.name == table.name) {
            return Err(CsvError::Refused(format!(
                "{} and {} are both table `{}` (a file's table is named after its stem): rename one, or anonymise them in separate runs",
                inputs[j].display(),
                inputs[i].display(),
                table.name
            )));
        }
    }
    // One file name is one stem: two outputs of one path are two inputs of one table, refused.
    let outputs: Vec<PathBuf> = inputs
        .iter()
        .map(|input| out_dir.join(input.file_name().unwrap_or_default()))
        .collect();
    let io_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| CsvError::Io { path, source }
    };
    if out_dir.symlink_metadata().is_err() {
        // The run makes it (see `make_dirs`): it holds no input, and no output yet.
        return Ok(outputs);
    }
    let dir = fs::canonicalize(out_dir).map_err(io_err(out_dir))?;
    let sources = inputs
        .iter()
        .map(|input| fs::canonicalize(input).map_err(io_err(input)))
        .collect::<Result<Vec<_>, _>>()?;
    for (input, output) in inputs.iter().zip(&outputs) {
        let resolved = dir.join(output.file_name().unwrap_or_default());
        let resolved = fs::canonicalize(&resolved).unwrap_or(resolved);
        if let Some(source) = inputs.iter().zip(&sources).find(|(_, s)| **s == resolved) {
            return Err(CsvError::Refused(format!(
                "the output of {} would be {}, which is the input {}: choose an --out-dir that holds no input",
                input.display(),
                output.display(),
                source.0.display()
            )));
        }
    }
    let existing: Vec<String> = outputs
        .iter()
        .filter(|output| output.symlink_metadata().is_ok())
        .map(|output| output.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(CsvError::Refused(format!(
            "{} already exist{} (outputs are always new files; remove {} or choose another --out-dir)",
            existing.join(", "),
            if existing.len() == 1 { "s" } else { "" },
            if existing.len() == 1 { "it" } else { "them" }
        )));
    }
    Ok(outputs)
}

fn pending_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Creates `pending`, which must not exist: one that does belongs to another run (or to one
/// that was interrupted), and is neither used nor removed.
fn claim(pending: &Path) -> Result<File, CsvError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(pending)
        .map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                CsvError::Refused(format!(
                    "{} exists: another run is writing it, or one was interrupted (remove it if none is running)",
                    pending.display()
                ))
            } else {
                CsvError::Io {
                    path: pending.display().to_string(),
                    source,
                }
            }
        })
}

/// Renames every staged file to its output, each output checked not to exist first (an output
/// is never overwritten). If one cannot be renamed, the outputs already renamed are removed,
/// and the staged files not yet renamed: either every output is there, or nothing is.
fn publish(staged: &[(PathBuf, PathBuf)]) -> Result<(), CsvError> {
    for (i, (pending, output)) in staged.iter().enumerate() {
        let renamed = if output.symlink_metadata().is_ok() {
            Err(CsvError::Refused(format!(
                "{} appeared during the run; it was left alone",
                output.display()
            )))
        } else {
            fs::rename(pending, output).map_err(|source| CsvError::Io {
                path: output.display().to_string(),
                source,
            })
        };
        if let Err(error) = renamed {
            for (_, done) in &staged[..i] {
                let _ = fs::remove_file(done);
            }
            for (left, _) in &staged[i..] {
                let _ = fs::remove_file(left);
            }
            return Err(error);
        }
    }
    Ok(())
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
    let mut reader = csv::Reader::from_reader(QuoteCheck::new(reader));
    // The file may have been replaced since its header was checked: its rules are the header's.
    let header = reader.headers().map_err(read_err)?;
    if !header
        .iter()
        .eq(table.columns.iter().map(|c| c.name.as_str()))
    {
        return Err(CsvError::Refused(format!(
            "{}: its header changed since it was checked; run again",
            input.display()
        )));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The records of `text` read through a [`QuoteCheck`], or the error's message.
    fn read(text: &str) -> Result<Vec<Vec<String>>, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(QuoteCheck::new(text.as_bytes()));
        reader
            .records()
            .map(|r| {
                r.map(|r| r.iter().map(str::to_owned).collect())
                    .map_err(|e| e.to_string())
            })
            .collect()
    }

    #[test]
    fn what_the_csv_writer_writes_reads_back_the_same() {
        let values = [
            vec!["a", "b,c", "say \"hi\""],
            vec!["", "line\nbreak", "\"\""],
            vec!["cr\r\nlf", "x\"y", "\""],
        ];
        let mut w = csv::Writer::from_writer(Vec::new());
        for row in &values {
            w.write_record(row).unwrap();
        }
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(read(&text).unwrap(), values);
        // A quote inside a value that was not quoted is text, as the csv crate reads it.
        assert_eq!(read("5'10\",x\r\n").unwrap(), [["5'10\"", "x"]]);
        assert_eq!(read("a,\"b\"\n").unwrap(), [["a", "b"]]);
    }

    #[test]
    fn a_quote_left_open_or_text_after_a_closing_quote_names_its_line() {
        for (text, line, problem) in [
            ("a,b\nc,\"d\ne,f\n", "line 2", "never closed"),
            ("a,b\n\"c,d\ne,f", "line 2", "never closed"),
            ("a,\"b\"\"\n", "line 1", "never closed"),
            ("a,b\nc,d\n\"e\"x,f\n", "line 3", "text after the quote"),
            ("a,\"b\" ,c\n", "line 1", "text after the quote"),
        ] {
            let error = read(text).unwrap_err();
            assert!(
                error.contains(line) && error.contains(problem),
                "{text:?}: {error}"
            );
        }
    }
}
