//! PostgreSQL: `INSERT .. RETURNING`, multi-row batches.

use diesel::pg::{Pg, PgConnection};

// The wire protocol counts bind parameters in an i16.
super::returning::returning_backend!(PgConnection, Pg, 65_535);
