//! SQLite: `INSERT .. RETURNING` (the bundled SQLite is newer than 3.35), multi-row batches.

use diesel::sqlite::{Sqlite, SqliteConnection};

// SQLITE_MAX_VARIABLE_NUMBER of SQLite 3.32 and later.
super::returning::returning_backend!(SqliteConnection, Sqlite, 32_766);
