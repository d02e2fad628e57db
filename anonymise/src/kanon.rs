//! The k-anonymity report over a table's declared quasi-identifiers.
//!
//! Masking the direct identifiers (name, email, national id) is not enough: a combination such
//! as postcode + birth date + gender can still single a person out. The data is *k-anonymous*
//! over its quasi-identifiers when every combination of their values that occurs, occurs in at
//! least `k` records: the records sharing one combination form a *group* (an equivalence
//! class), and the smallest group decides.
//!
//! The report is built from the values the anonymiser *wrote* (already generalised: postcode to
//! district, birth date to year, ...), one record at a time, and only ever shows those values,
//! never anything it was not given.
//!
//! ```
//! use anonymise::kanon::Report;
//!
//! let qis = vec!["postcode".to_owned(), "birth_year".to_owned()];
//! let rows = [["SW1A", "1980"], ["SW1A", "1980"], ["M1", "1975"]];
//! let report = Report::build(&qis, rows.iter().map(|r| r.map(String::from).to_vec()), 2);
//! assert!(!report.passes());
//! assert_eq!(report.unique, 1);
//! assert_eq!(report.worst[0].values, ["M1", "1975"]);
//! ```
//!
//! # Records and NULL
//!
//! A record is a `Vec<String>` holding the values of the quasi-identifiers, in the order they
//! were declared. An empty string stands for NULL, as in the CSV the anonymiser writes (where
//! the `null` rule gives an empty field): NULLs are one value, and records whose quasi-identifier
//! is NULL group together like any other value (so a suppressed value helps anonymity, as it
//! should). The text report shows it as `(null)`.
//!
//! # Memory and time
//!
//! Only the groups are kept, never the records: each distinct value of each quasi-identifier
//! once, with a number, and a map from each combination of numbers that occurs to its count.
//! Everything else, including each quasi-identifier's contribution, is computed from that map by
//! projecting its keys. Memory grows with the number of distinct values and combinations, not
//! with the records: a million records over three quasi-identifiers peak at about 150 MB when
//! nearly every one is unique (raw data), and a few MB when they are generalised enough to fall
//! into some tens of thousands of groups. In a release build such a million records take about
//! 1.2 s when nearly all are unique and 0.2 s when generalised, on a modest machine.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// How many of the smallest groups a report lists by default.
pub const WORST: usize = 10;

/// Up to this `k`, the histogram lists every size from 1 to `k`, also those no group has.
const ALL_SIZES_UP_TO: usize = 20;

/// The groups of records over some quasi-identifiers, counted one record at a time; a
/// [`Report`] for any `k` is made from it. Use it when the records come from a fallible source
/// (a CSV reader, a database stream); [`Report::build`] when they are an iterator.
///
/// Each distinct value of each quasi-identifier is stored once, with a number; a group is the
/// combination of those numbers (see the module's "Memory and time").
#[derive(Debug, Clone)]
pub struct Tally {
    quasi_identifiers: Vec<String>,
    /// Per quasi-identifier: each distinct value and its number (0, 1, 2, .. in order of first
    /// appearance).
    values: Vec<HashMap<String, u32>>,
    /// Each combination of value numbers that occurs, and how many records have it.
    groups: Combinations,
    records: usize,
    /// The current record's value numbers (reused).
    key: Vec<u32>,
}

impl Tally {
    /// An empty tally over `quasi_identifiers` (their names, in the order of each record's
    /// values).
    pub fn new(quasi_identifiers: &[String]) -> Self {
        Self {
            quasi_identifiers: quasi_identifiers.to_vec(),
            values: vec![HashMap::new(); quasi_identifiers.len()],
            groups: Combinations::new(quasi_identifiers.len()),
            records: 0,
            key: Vec::with_capacity(quasi_identifiers.len()),
        }
    }

    /// Counts one record: the values of the quasi-identifiers, in order, an empty string for
    /// NULL. Owned strings are kept as they are when new; borrowed ones (`&str` fields of a CSV
    /// record) are copied only when new.
    ///
    /// # Panics
    ///
    /// If the record does not hold exactly one value per quasi-identifier (a bug of the caller,
    /// which picks the columns).
    pub fn add<S>(&mut self, record: impl IntoIterator<Item = S>)
    where
        S: AsRef<str> + Into<String>,
    {
        self.key.clear();
        let mut columns = self.values.iter_mut();
        for value in record {
            let Some(column) = columns.next() else {
                self.wrong_length();
            };
            let number = match column.get(value.as_ref()) {
                Some(&number) => number,
                None => {
                    let number = u32::try_from(column.len())
                        .expect("fewer than 2^32 distinct values per quasi-identifier");
                    column.insert(value.into(), number);
                    number
                }
            };
            self.key.push(number);
        }
        if self.key.len() != self.quasi_identifiers.len() {
            self.wrong_length();
        }
        self.records += 1;
        self.groups.add(&self.key);
    }

    fn wrong_length(&self) -> ! {
        panic!(
            "a k-anonymity record must hold one value per quasi-identifier ({})",
            self.quasi_identifiers.join(", ")
        )
    }

    /// The number of records counted so far.
    pub fn records(&self) -> usize {
        self.records
    }

    /// The number of groups (distinct combinations) so far.
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// The report for `k`, listing the [`WORST`] smallest groups.
    pub fn report(&self, k: usize) -> Report {
        self.report_with_worst(k, WORST)
    }

    /// The report for `k` (0 is taken as 1), listing up to `worst` of the smallest groups.
    pub fn report_with_worst(&self, k: usize, worst: usize) -> Report {
        let k = k.max(1);
        let groups = Groups::new(self);
        // Size -> number of groups of that size: small (at most about sqrt(2 * records) sizes).
        let mut sizes: BTreeMap<usize, usize> = BTreeMap::new();
        for &size in &groups.sizes {
            *sizes.entry(size).or_insert(0) += 1;
        }
        let below: Vec<(usize, usize)> = sizes.range(..k).map(|(&s, &g)| (s, g)).collect();
        Report {
            quasi_identifiers: self.quasi_identifiers.clone(),
            k,
            records: self.records,
            groups: groups.sizes.len(),
            smallest: sizes.keys().next().copied(),
            histogram: histogram(&sizes, k),
            records_below_k: below.iter().map(|(s, g)| s * g).sum(),
            groups_below_k: below.iter().map(|(_, g)| g).sum(),
            unique: sizes.get(&1).copied().unwrap_or(0),
            worst: groups.smallest(self, &sizes, worst),
            contributions: groups.contributions(self, k),
        }
    }
}

/// Each combination of value numbers that occurs, and how many records have it: up to four
/// numbers packed in one `u128` (no allocation per group), more in a boxed slice.
#[derive(Debug, Clone)]
enum Combinations {
    Packed(HashMap<u128, usize>),
    Boxed(HashMap<Box<[u32]>, usize>),
}

impl Combinations {
    /// How many numbers a `u128` holds.
    const PACKED: usize = 4;

    fn new(width: usize) -> Self {
        if width <= Self::PACKED {
            Self::Packed(HashMap::new())
        } else {
            Self::Boxed(HashMap::new())
        }
    }

    fn add(&mut self, key: &[u32]) {
        match self {
            Self::Packed(counts) => {
                let packed = key
                    .iter()
                    .fold(0, |packed, &n| packed << 32 | u128::from(n));
                *counts.entry(packed).or_insert(0) += 1;
            }
            Self::Boxed(counts) => {
                if let Some(count) = counts.get_mut(key) {
                    *count += 1;
                } else {
                    counts.insert(key.into(), 1);
                }
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Packed(counts) => counts.len(),
            Self::Boxed(counts) => counts.len(),
        }
    }

    /// Calls `f` with each combination's numbers and count (`width` numbers each).
    fn for_each(&self, width: usize, mut f: impl FnMut(&[u32], usize)) {
        match self {
            Self::Packed(counts) => {
                let mut key = [0; Self::PACKED];
                for (&packed, &count) in counts {
                    let mut packed = packed;
                    for n in key[..width].iter_mut().rev() {
                        *n = packed as u32;
                        packed >>= 32;
                    }
                    f(&key[..width], count);
                }
            }
            Self::Boxed(counts) => {
                for (key, &count) in counts {
                    f(key, count);
                }
            }
        }
    }
}

/// The groups of a [`Tally`] laid out flat for the report: group `g`'s value numbers are
/// `numbers[g * width..][..width]`, its size `sizes[g]`.
struct Groups {
    width: usize,
    numbers: Vec<u32>,
    sizes: Vec<usize>,
}

impl Groups {
    fn new(tally: &Tally) -> Self {
        let width = tally.quasi_identifiers.len();
        let mut numbers = Vec::with_capacity(tally.groups.len() * width);
        let mut sizes = Vec::with_capacity(tally.groups.len());
        tally.groups.for_each(width, |key, size| {
            numbers.extend_from_slice(key);
            sizes.push(size);
        });
        Self {
            width,
            numbers,
            sizes,
        }
    }

    fn key(&self, group: usize) -> &[u32] {
        &self.numbers[group * self.width..][..self.width]
    }

    /// Up to `n` of the smallest groups, smallest first, ties in the order of their values.
    fn smallest(&self, tally: &Tally, sizes: &BTreeMap<usize, usize>, n: usize) -> Vec<Group> {
        if n == 0 {
            return Vec::new();
        }
        // The size of the n-th smallest group (or the largest, with fewer groups): only groups
        // up to that size can be listed.
        let mut seen = 0;
        let Some(cutoff) = sizes
            .iter()
            .find_map(|(&size, &groups)| {
                seen += groups;
                (seen >= n).then_some(size)
            })
            .or_else(|| sizes.keys().next_back().copied())
        else {
            return Vec::new();
        };
        // Each value by its number, to compare and show.
        let mut text: Vec<Vec<&str>> = Vec::with_capacity(tally.values.len());
        for column in &tally.values {
            let mut by_number = vec![""; column.len()];
            for (value, &number) in column {
                by_number[number as usize] = value;
            }
            text.push(by_number);
        }
        let order = |a: &usize, b: &usize| {
            self.sizes[*a].cmp(&self.sizes[*b]).then_with(|| {
                let (a, b) = (self.key(*a), self.key(*b));
                for (column, (x, y)) in a.iter().zip(b).enumerate() {
                    if x != y {
                        return text[column][*x as usize].cmp(text[column][*y as usize]);
                    }
                }
                Ordering::Equal
            })
        };
        let mut candidates: Vec<usize> = (0..self.sizes.len())
            .filter(|&g| self.sizes[g] <= cutoff)
            .collect();
        if candidates.len() > n {
            candidates.select_nth_unstable_by(n, order);
            candidates.truncate(n);
        }
        candidates.sort_unstable_by(order);
        candidates
            .into_iter()
            .map(|g| Group {
                values: self
                    .key(g)
                    .iter()
                    .enumerate()
                    .map(|(column, &number)| text[column][number as usize].to_owned())
                    .collect(),
                size: self.sizes[g],
            })
            .collect()
    }

    /// Each quasi-identifier's contribution, projected from the groups: see [`Contribution`].
    fn contributions(&self, tally: &Tally, k: usize) -> Vec<Contribution> {
        // Groups below this size are the ones that can reach k or stop being unique.
        let threshold = k.max(2);
        let small: Vec<usize> = (0..self.sizes.len())
            .filter(|&g| self.sizes[g] < threshold)
            .collect();
        let mut out = Vec::with_capacity(self.width);
        for (dropped, name) in tally.quasi_identifiers.iter().enumerate() {
            let mut contribution = Contribution {
                quasi_identifier: name.clone(),
                reaching_k: 0,
                no_longer_unique: 0,
            };
            if !small.is_empty() {
                let merged = match self.strides(tally, dropped) {
                    // The other columns' numbers as one integer, in mixed radix.
                    Some(strides) => {
                        let keys: Vec<u64> = self
                            .numbers
                            .chunks_exact(self.width)
                            .map(|key| key.iter().zip(&strides).map(|(&n, &s)| n as u64 * s).sum())
                            .collect();
                        merged_sizes(&self.sizes, |g| keys[g])
                    }
                    // Too many distinct values for that: the other columns' numbers, flat.
                    None => {
                        let width = self.width - 1;
                        let mut projected = Vec::with_capacity(self.sizes.len() * width);
                        for key in self.numbers.chunks_exact(self.width) {
                            projected.extend_from_slice(&key[..dropped]);
                            projected.extend_from_slice(&key[dropped + 1..]);
                        }
                        merged_sizes(&self.sizes, |g| &projected[g * width..][..width])
                    }
                };
                for &g in &small {
                    let (size, merged) = (self.sizes[g], merged[g]);
                    if size < k && merged >= k {
                        contribution.reaching_k += size;
                    }
                    if size == 1 && merged >= 2 {
                        contribution.no_longer_unique += 1;
                    }
                }
            }
            out.push(contribution);
        }
        // Stable: ties keep the declared order.
        out.sort_by(|a, b| {
            (b.reaching_k, b.no_longer_unique).cmp(&(a.reaching_k, a.no_longer_unique))
        });
        out
    }

    /// Each column's weight when the numbers of all columns but `dropped` (weight 0) are written
    /// as one `u64` in mixed radix; `None` when their distinct values are too many for that.
    fn strides(&self, tally: &Tally, dropped: usize) -> Option<Vec<u64>> {
        let mut strides = vec![0; self.width];
        let mut stride: u64 = 1;
        for (column, values) in tally.values.iter().enumerate().rev() {
            if column != dropped {
                strides[column] = stride;
                stride = stride.checked_mul(values.len() as u64)?;
            }
        }
        Some(strides)
    }
}

/// For every group, the size of the group it falls in when the groups with the same `key` are
/// merged (`sizes` are the groups' own sizes): the groups sorted by key, then each run summed.
fn merged_sizes<K: Ord>(sizes: &[usize], key: impl Fn(usize) -> K) -> Vec<usize> {
    let mut order: Vec<(K, usize)> = (0..sizes.len()).map(|g| (key(g), g)).collect();
    order.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut merged = vec![0; sizes.len()];
    for run in order.chunk_by(|a, b| a.0 == b.0) {
        let total = run.iter().map(|&(_, g)| sizes[g]).sum();
        for &(_, g) in run {
            merged[g] = total;
        }
    }
    merged
}

/// The histogram rows: every size 1..=k on its own (only those that occur when k is large),
/// then sizes above k in doubling buckets (k+1..=2k, 2k+1..=4k, ...) that hold groups.
fn histogram(sizes: &BTreeMap<usize, usize>, k: usize) -> Vec<SizeBucket> {
    let mut rows = Vec::new();
    let bucket = |min: usize, max: usize| {
        let mut row = SizeBucket {
            min,
            max,
            groups: 0,
            records: 0,
        };
        for (&size, &groups) in sizes.range(min..=max) {
            row.groups += groups;
            row.records += size * groups;
        }
        row
    };
    if k <= ALL_SIZES_UP_TO {
        rows.extend((1..=k).map(|size| bucket(size, size)));
    } else {
        rows.extend(sizes.range(..=k).map(|(&size, _)| bucket(size, size)));
    }
    let largest = sizes.keys().next_back().copied().unwrap_or(0);
    let mut min = k.saturating_add(1);
    let mut max = k.saturating_mul(2);
    while min <= largest {
        let row = bucket(min, max);
        if row.groups > 0 {
            rows.push(row);
        }
        if max == usize::MAX {
            break;
        }
        min = max + 1;
        max = max.saturating_mul(2);
    }
    rows
}

/// A k-anonymity report: how the records fall into groups over the quasi-identifiers, the
/// smallest groups, and which quasi-identifier makes records stand out most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The quasi-identifiers, in the order of each group's values.
    pub quasi_identifiers: Vec<String>,
    /// The k checked (at least 1).
    pub k: usize,
    /// The number of records.
    pub records: usize,
    /// The number of groups (equivalence classes: distinct combinations of values).
    pub groups: usize,
    /// The size of the smallest group; `None` without records.
    pub smallest: Option<usize>,
    /// Group sizes: see [`SizeBucket`]. Sizes 1 to k one by one (all of them up to k = 20, only
    /// those that occur above), then larger sizes in doubling buckets k+1..=2k, 2k+1..=4k, ...
    /// that hold groups.
    pub histogram: Vec<SizeBucket>,
    /// The number of records in groups smaller than k.
    pub records_below_k: usize,
    /// The number of groups smaller than k.
    pub groups_below_k: usize,
    /// The number of unique records (groups of one).
    pub unique: usize,
    /// The smallest groups (up to [`WORST`] by default), smallest first, ties in the order of
    /// their values, with the values as given.
    pub worst: Vec<Group>,
    /// Each quasi-identifier's contribution, largest first (see [`Contribution`]), ties in the
    /// declared order.
    pub contributions: Vec<Contribution>,
}

/// One row of the group-size histogram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeBucket {
    /// The smallest group size the row counts.
    pub min: usize,
    /// The largest group size the row counts (`min` for a single size).
    pub max: usize,
    /// The number of groups with a size in `min..=max`.
    pub groups: usize,
    /// The number of records in those groups.
    pub records: usize,
}

/// One group: a combination of quasi-identifier values and how many records have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The values, in the order of the quasi-identifiers (an empty string for NULL).
    pub values: Vec<String>,
    /// The number of records with exactly these values.
    pub size: usize,
}

/// How much one quasi-identifier makes records stand out, measured by dropping it: the records
/// are grouped over the *other* quasi-identifiers (groups can only merge), and the records that
/// then stop being at risk are counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contribution {
    /// The quasi-identifier.
    pub quasi_identifier: String,
    /// Records in groups smaller than k whose group, without this quasi-identifier, has at least
    /// k records: the records this column alone keeps below k. The ranking's key.
    pub reaching_k: usize,
    /// Unique records (groups of one) that, without this quasi-identifier, share their values
    /// with another record. Breaks ties of `reaching_k`, and is the only signal when k = 1.
    pub no_longer_unique: usize,
}

impl Report {
    /// The report for `k` (0 is taken as 1) over `quasi_identifiers`, from `records`: each the
    /// values of the quasi-identifiers in that order, an empty string for NULL. Lists up to
    /// [`WORST`] of the smallest groups.
    ///
    /// # Panics
    ///
    /// If a record does not hold exactly one value per quasi-identifier.
    pub fn build(
        quasi_identifiers: &[String],
        records: impl IntoIterator<Item = Vec<String>>,
        k: usize,
    ) -> Self {
        let mut tally = Tally::new(quasi_identifiers);
        for record in records {
            tally.add(record);
        }
        tally.report(k)
    }

    /// Whether the records are k-anonymous: every group has at least k records (true without
    /// records). A command exits non-zero when this is false.
    pub fn passes(&self) -> bool {
        match self.smallest {
            None => true,
            Some(smallest) => smallest >= self.k,
        }
    }
}

/// The longest value the text report prints in full; longer ones are cut, with `…`.
const CELL_CHARS: usize = 40;

/// A value as the text report prints it: `(null)` for NULL; quoted and escaped when it could
/// be mistaken for another value or would break the table (control characters, surrounding
/// spaces, the text `(null)` itself); cut when long.
fn cell(value: &str) -> String {
    if value.is_empty() {
        return "(null)".to_owned();
    }
    let shown = if value == "(null)"
        || value.starts_with('"')
        || value.trim() != value
        || value.chars().any(char::is_control)
    {
        format!("{value:?}")
    } else {
        value.to_owned()
    };
    if shown.chars().count() > CELL_CHARS {
        let mut cut: String = shown.chars().take(CELL_CHARS - 1).collect();
        cut.push('…');
        cut
    } else {
        shown
    }
}

/// A share of `total` as a percentage with one decimal (`<0.1%` rather than a misleading
/// `0.0%`).
fn percent(part: usize, total: usize) -> String {
    if total == 0 || part == 0 {
        return "0%".to_owned();
    }
    let share = part as f64 * 100.0 / total as f64;
    if share < 0.1 {
        "<0.1%".to_owned()
    } else {
        format!("{share:.1}%")
    }
}

/// Column alignment of a [`table`].
#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Right,
}

/// Writes rows (the first is the header) as an aligned table indented by two spaces, without
/// trailing spaces.
fn table(f: &mut fmt::Formatter<'_>, align: &[Align], rows: &[Vec<String>]) -> fmt::Result {
    let mut widths = vec![0; align.len()];
    for row in rows {
        for (width, text) in widths.iter_mut().zip(row) {
            *width = (*width).max(text.chars().count());
        }
    }
    for row in rows {
        let mut line = String::from(" ");
        for (i, text) in row.iter().enumerate() {
            let width = widths[i];
            match align[i] {
                Align::Right => line.push_str(&format!(" {text:>width$}")),
                Align::Left => line.push_str(&format!(" {text:<width$}")),
            }
            line.push(' ');
        }
        writeln!(f, "{}", line.trim_end())?;
    }
    Ok(())
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = self.k;
        writeln!(
            f,
            "k-anonymity over ({}), k = {k}: {}",
            self.quasi_identifiers.join(", "),
            if self.passes() { "PASS" } else { "FAIL" }
        )?;
        if self.records == 0 {
            return writeln!(f, "  no records");
        }
        let share = |part: usize, tail: String| {
            if part == 0 {
                String::new()
            } else {
                format!("{} of records{tail}", percent(part, self.records))
            }
        };
        let summary = [
            ("records".to_owned(), self.records, String::new()),
            ("groups".to_owned(), self.groups, String::new()),
            (
                "smallest group".to_owned(),
                self.smallest.unwrap_or(0),
                String::new(),
            ),
            (
                format!("records in groups < {k}"),
                self.records_below_k,
                share(
                    self.records_below_k,
                    format!(
                        ", in {} group{}",
                        self.groups_below_k,
                        if self.groups_below_k == 1 { "" } else { "s" }
                    ),
                ),
            ),
            (
                "unique records".to_owned(),
                self.unique,
                share(self.unique, String::new()),
            ),
        ];
        let rows: Vec<Vec<String>> = summary
            .into_iter()
            .map(|(label, value, note)| vec![label, value.to_string(), note])
            .collect();
        // No header: label, value, note.
        table(f, &[Align::Left, Align::Right, Align::Left], &rows)?;

        writeln!(f)?;
        writeln!(f, "group sizes")?;
        let mut rows = vec![vec![
            "size".to_owned(),
            "groups".to_owned(),
            "records".to_owned(),
        ]];
        for row in &self.histogram {
            let size = if row.min == row.max {
                row.min.to_string()
            } else {
                format!("{}-{}", row.min, row.max)
            };
            rows.push(vec![size, row.groups.to_string(), row.records.to_string()]);
        }
        table(f, &[Align::Right, Align::Right, Align::Right], &rows)?;

        if !self.worst.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "smallest groups ({} of {}, values as written)",
                self.worst.len(),
                self.groups
            )?;
            let mut header = vec!["size".to_owned()];
            header.extend(self.quasi_identifiers.iter().cloned());
            let mut rows = vec![header];
            for group in &self.worst {
                let mut row = vec![group.size.to_string()];
                row.extend(group.values.iter().map(|v| cell(v)));
                rows.push(row);
            }
            let mut align = vec![Align::Right];
            align.extend(self.quasi_identifiers.iter().map(|_| Align::Left));
            table(f, &align, &rows)?;
        }

        if self.records_below_k > 0 || self.unique > 0 {
            writeln!(f)?;
            writeln!(
                f,
                "what each quasi-identifier adds (records that would reach {k}, and unique records that would not be unique, if it were dropped)"
            )?;
            let mut rows = vec![vec![
                "quasi-identifier".to_owned(),
                format!("would reach {k}"),
                "would not be unique".to_owned(),
            ]];
            for c in &self.contributions {
                rows.push(vec![
                    c.quasi_identifier.clone(),
                    c.reaching_k.to_string(),
                    c.no_longer_unique.to_string(),
                ]);
            }
            table(f, &[Align::Left, Align::Right, Align::Right], &rows)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(qis: &[&str]) -> Vec<String> {
        qis.iter().map(|q| (*q).to_owned()).collect()
    }

    fn record(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    fn qis() -> Vec<String> {
        names(&["postcode", "birth_date", "gender"])
    }

    /// 30 people over (postcode, birth_date, gender): 25 in groups of at least 3, three unique
    /// (U1..U3) and one pair (P). Each of them shares postcode and gender with a larger group,
    /// so without birth_date all five reach k = 3; U3 also shares birth date and gender with a
    /// group, so without postcode it reaches 3 too. By district and year, every group has at
    /// least 3 records.
    fn people() -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut add = |n: usize, values: [&str; 3]| {
            for _ in 0..n {
                rows.push(record(&values));
            }
        };
        add(5, ["SW1A 1AA", "1980-05-14", "F"]); // G1
        add(4, ["SW1A 1AA", "1975-03-02", "M"]); // G2
        add(4, ["M1 1AE", "1990-07-21", "F"]); // G3
        add(3, ["M1 2AB", "1990-07-21", "M"]); // G4
        add(3, ["EH1 1YZ", "1985-12-01", "F"]); // G5
        add(3, ["EH1 2AA", "1962-08-30", "F"]); // G6
        add(3, ["M1 1AE", "1990-01-09", "M"]); // G7
        add(1, ["SW1A 1AA", "1980-11-02", "F"]); // U1: G1 but the date
        add(1, ["M1 1AE", "1990-03-15", "F"]); // U2: G3 but the date
        add(1, ["EH1 2AA", "1985-12-01", "F"]); // U3: G6 but the date, G5 but the postcode
        add(2, ["SW1A 1AA", "1975-09-09", "M"]); // P: G2 but the date
        rows
    }

    /// Postcode to its outward part (the district), date to its year.
    fn generalise(row: Vec<String>) -> Vec<String> {
        let district = row[0].split(' ').next().unwrap_or_default().to_owned();
        let year = row[1][..4].to_owned();
        vec![district, year, row[2].clone()]
    }

    #[test]
    fn finds_the_unique_records_and_the_column_that_makes_them_unique() {
        let rows = people();
        assert_eq!(rows.len(), 30);
        let report = Report::build(&qis(), rows, 3);
        println!("{report}");
        assert!(!report.passes());
        assert_eq!(report.records, 30);
        assert_eq!(report.groups, 11);
        assert_eq!(report.smallest, Some(1));
        assert_eq!(report.unique, 3);
        assert_eq!(report.records_below_k, 5);
        assert_eq!(report.groups_below_k, 4);

        // The smallest groups: exactly the three unique records, then the pair, then groups
        // that pass; ties in the order of the values.
        let below: Vec<(usize, Vec<String>)> = report
            .worst
            .iter()
            .filter(|g| g.size < 3)
            .map(|g| (g.size, g.values.clone()))
            .collect();
        assert_eq!(
            below,
            [
                (1, record(&["EH1 2AA", "1985-12-01", "F"])),
                (1, record(&["M1 1AE", "1990-03-15", "F"])),
                (1, record(&["SW1A 1AA", "1980-11-02", "F"])),
                (2, record(&["SW1A 1AA", "1975-09-09", "M"])),
            ]
        );
        assert_eq!(report.worst.len(), WORST);
        let sizes: Vec<usize> = report.worst.iter().map(|g| g.size).collect();
        assert_eq!(sizes, [1, 1, 1, 2, 3, 3, 3, 3, 4, 4]);
        assert_eq!(
            report.worst[4].values,
            record(&["EH1 1YZ", "1985-12-01", "F"])
        );

        // Without birth_date all five reach 3 and the three unique ones stop being unique.
        let ranking: Vec<(&str, usize, usize)> = report
            .contributions
            .iter()
            .map(|c| {
                (
                    c.quasi_identifier.as_str(),
                    c.reaching_k,
                    c.no_longer_unique,
                )
            })
            .collect();
        assert_eq!(
            ranking,
            [("birth_date", 5, 3), ("postcode", 1, 1), ("gender", 0, 0)]
        );

        // Histogram: sizes 1..=3 one by one, then 4-6 (and nothing larger).
        let rows: Vec<(usize, usize, usize, usize)> = report
            .histogram
            .iter()
            .map(|b| (b.min, b.max, b.groups, b.records))
            .collect();
        assert_eq!(
            rows,
            [(1, 1, 3, 3), (2, 2, 1, 2), (3, 3, 4, 12), (4, 6, 3, 13)]
        );
    }

    #[test]
    fn district_and_year_reach_k_3() {
        let report = Report::build(&qis(), people().into_iter().map(generalise), 3);
        println!("{report}");
        assert!(report.passes());
        assert_eq!(report.records, 30);
        assert_eq!(report.groups, 6);
        assert_eq!(report.smallest, Some(3));
        assert_eq!(report.unique, 0);
        assert_eq!(report.records_below_k, 0);
        assert_eq!(report.worst[0].values, record(&["EH1", "1962", "F"]));
        assert!(report.contributions.iter().all(|c| c.reaching_k == 0));
        // k = 4 is not reached: the 1962 group has 3 records.
        assert!(!Report::build(&qis(), people().into_iter().map(generalise), 4).passes());
    }

    #[test]
    fn the_order_of_the_records_does_not_matter() {
        let rows = people();
        let mut reversed = rows.clone();
        reversed.reverse();
        let mut interleaved: Vec<_> = rows.iter().step_by(2).cloned().collect();
        interleaved.extend(rows.iter().skip(1).step_by(2).cloned());
        let report = Report::build(&qis(), rows, 3);
        assert_eq!(report, Report::build(&qis(), reversed, 3));
        assert_eq!(report, Report::build(&qis(), interleaved, 3));
        assert_eq!(
            report.to_string(),
            Report::build(&qis(), people(), 3).to_string()
        );
    }

    #[test]
    fn empty_input_passes_with_no_groups() {
        let report = Report::build(&qis(), Vec::new(), 5);
        assert!(report.passes());
        assert_eq!(report.records, 0);
        assert_eq!(report.groups, 0);
        assert_eq!(report.smallest, None);
        assert_eq!(report.unique, 0);
        assert!(report.worst.is_empty());
        assert!(report.contributions.iter().all(|c| c.reaching_k == 0));
        assert_eq!(
            report.to_string(),
            "k-anonymity over (postcode, birth_date, gender), k = 5: PASS\n  no records\n"
        );
    }

    #[test]
    fn a_single_quasi_identifier() {
        let qis = names(&["postcode"]);
        let rows = ["A", "A", "A", "B", "C", "C"].map(|v| record(&[v]));
        let report = Report::build(&qis, rows.clone(), 2);
        assert!(!report.passes());
        assert_eq!(report.groups, 3);
        assert_eq!(report.unique, 1);
        assert_eq!(report.records_below_k, 1);
        assert_eq!(report.worst[0].values, ["B"]);
        // Without its only column all six records are one group.
        assert_eq!(report.contributions.len(), 1);
        assert_eq!(report.contributions[0].reaching_k, 1);
        assert_eq!(report.contributions[0].no_longer_unique, 1);
        assert!(Report::build(&qis, rows[..3].to_vec(), 3).passes());
        assert!(report.to_string().contains("  postcode  "));
    }

    #[test]
    fn k_1_always_passes() {
        let report = Report::build(&qis(), people(), 1);
        assert!(report.passes());
        assert_eq!(report.records_below_k, 0);
        // Unique records are still counted and attributed.
        assert_eq!(report.unique, 3);
        assert_eq!(report.contributions[0].quasi_identifier, "birth_date");
        assert_eq!(report.contributions[0].no_longer_unique, 3);
        assert_eq!(report.contributions[0].reaching_k, 0);
        // k = 0 is taken as 1.
        let zero = Report::build(&qis(), people(), 0);
        assert!(zero.passes());
        assert_eq!(zero.k, 1);
        let one_each = (0..10).map(|i| record(&[&i.to_string(), "x", "y"]));
        assert!(Report::build(&qis(), one_each, 1).passes());
    }

    #[test]
    fn nulls_group_together_and_are_shown_unambiguously() {
        let qis = names(&["postcode", "gender"]);
        let rows = vec![
            record(&["", "F"]),
            record(&["", "F"]),
            record(&["(null)", "F"]),
            record(&["line\nbreak", " M"]),
        ];
        let report = Report::build(&qis, rows, 2);
        assert_eq!(report.groups, 3);
        assert_eq!(report.worst[2].values, ["", "F"]);
        assert_eq!(report.worst[2].size, 2);
        let text = report.to_string();
        assert!(text.contains("\"(null)\""), "{text}");
        assert!(text.contains("\"line\\nbreak\"  \" M\""), "{text}");
        assert!(text.contains("2  (null)"), "{text}");
        assert_eq!(cell(&"x".repeat(100)).chars().count(), CELL_CHARS);
    }

    #[test]
    fn histogram_buckets_sizes_above_k_by_doubling() {
        let qis = names(&["q"]);
        let mut rows = Vec::new();
        for (value, size) in [("a", 1), ("b", 2), ("c", 3), ("d", 5), ("e", 9), ("f", 40)] {
            rows.extend(vec![record(&[value]); size]);
        }
        let report = Report::build(&qis, rows, 2);
        let rows: Vec<(usize, usize, usize, usize)> = report
            .histogram
            .iter()
            .map(|b| (b.min, b.max, b.groups, b.records))
            .collect();
        assert_eq!(
            rows,
            [
                (1, 1, 1, 1),
                (2, 2, 1, 2),
                (3, 4, 1, 3),
                (5, 8, 1, 5),
                (9, 16, 1, 9),
                (33, 64, 1, 40)
            ]
        );
        // A large k lists only the sizes that occur below it.
        let report = Report::build(&qis, vec![record(&["a"]); 7], 100);
        assert_eq!(report.histogram.len(), 1);
        assert_eq!(
            (report.histogram[0].min, report.histogram[0].groups),
            (7, 1)
        );
    }

    #[test]
    fn the_text_report_is_aligned() {
        let report = Report::build(&qis(), people(), 3);
        let text = report.to_string();
        assert!(text.starts_with("k-anonymity over (postcode, birth_date, gender), k = 3: FAIL\n"));
        assert!(text.lines().all(|l| l == l.trim_end()), "{text}");
        // Every row of the smallest-groups table puts birth_date in the same column.
        let start = text.find("smallest groups").expect("a worst table");
        let lines: Vec<&str> = text[start..].lines().skip(1).take(WORST + 1).collect();
        let column = lines[0].find("birth_date").expect("header");
        for line in &lines[1..] {
            assert!(line[column..].starts_with("19"), "{line}");
        }
    }

    #[test]
    #[should_panic(expected = "one value per quasi-identifier")]
    fn a_record_of_the_wrong_length_is_a_bug() {
        Report::build(&qis(), vec![record(&["SW1A", "1980"])], 3);
    }

    #[test]
    fn a_tally_reports_for_any_k() {
        let mut tally = Tally::new(&qis());
        for row in people() {
            tally.add(row);
        }
        assert_eq!((tally.records(), tally.groups()), (30, 11));
        assert_eq!(tally.report(3), Report::build(&qis(), people(), 3));
        assert!(tally.report(1).passes());
        assert_eq!(tally.report_with_worst(3, 2).worst.len(), 2);
        assert!(tally.report_with_worst(3, 0).worst.is_empty());
    }

    #[test]
    fn a_tally_takes_borrowed_fields() {
        let mut tally = Tally::new(&qis());
        for row in people() {
            let fields: Vec<&str> = row.iter().map(String::as_str).collect();
            tally.add(fields);
        }
        assert_eq!(tally.report(3), Report::build(&qis(), people(), 3));
    }

    #[test]
    #[should_panic(expected = "one value per quasi-identifier")]
    fn a_record_with_too_many_values_is_a_bug() {
        Tally::new(&names(&["postcode"])).add(["SW1A", "F"]);
    }

    /// Seven quasi-identifiers (combinations not packed in one integer), and so many distinct
    /// values that projecting away the first one cannot be written as one `u64`.
    #[test]
    fn many_quasi_identifiers_and_many_distinct_values() {
        let qis = names(&["kind", "a", "b", "c", "d", "e", "f"]);
        let mut tally = Tally::new(&qis);
        for i in 0..2000 {
            let v = i.to_string();
            tally.add(["x", &v, &v, &v, &v, &v, &v]);
        }
        // The first ten again, of another kind: without `kind` they are pairs.
        for i in 0..10 {
            let v = i.to_string();
            tally.add(["y", &v, &v, &v, &v, &v, &v]);
        }
        let groups = Groups::new(&tally);
        assert!(groups.strides(&tally, 0).is_none());
        assert!(groups.strides(&tally, 1).is_some());
        let report = tally.report(2);
        assert_eq!(
            (report.records, report.groups, report.unique),
            (2010, 2010, 2010)
        );
        let ranking: Vec<(&str, usize, usize)> = report
            .contributions
            .iter()
            .map(|c| {
                (
                    c.quasi_identifier.as_str(),
                    c.reaching_k,
                    c.no_longer_unique,
                )
            })
            .collect();
        assert_eq!(ranking[0], ("kind", 20, 20));
        assert!(ranking[1..].iter().all(|&(_, r, u)| r == 0 && u == 0));
        assert_eq!(ranking[1].0, "a");
        assert_eq!(report.worst[0].values, ["x", "0", "0", "0", "0", "0", "0"]);
        assert_eq!(
            report.worst[2].values,
            ["x", "10", "10", "10", "10", "10", "10"]
        );
    }

    #[test]
    fn no_quasi_identifiers_and_a_huge_k() {
        let report = Report::build(&[], vec![Vec::new(); 4], 3);
        assert!(report.passes());
        assert_eq!((report.groups, report.smallest), (1, Some(4)));
        assert!(report.contributions.is_empty());
        assert_eq!(
            report.worst,
            [Group {
                values: Vec::new(),
                size: 4
            }]
        );
        let huge = Report::build(&qis(), people(), usize::MAX);
        assert!(!huge.passes());
        assert_eq!(huge.records_below_k, 30);
        assert_eq!(huge.histogram.len(), 5);
        assert!(huge.to_string().contains("FAIL"));
    }
}
