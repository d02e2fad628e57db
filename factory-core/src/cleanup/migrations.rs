//! The migrations a per-test database is built from, and the name that tells builds apart.

use diesel::backend::Backend;
use diesel::migration::{Migration, MigrationSource};
use diesel_migrations::EmbeddedMigrations;
use std::fmt;

/// Embedded Diesel migrations, for [`TestDbBuilder::migrations`](super::TestDbBuilder::migrations).
///
/// Per-test databases are built from a template named after a hash of the migrations. Made with
/// [`factory_core::embed_migrations!`](crate::embed_migrations), the hash covers the files'
/// contents: adding or editing a migration builds a new template. Made with [`Migrations::new`]
/// from Diesel's own `embed_migrations!`, the SQL is out of reach and the hash covers the
/// migrations' names (and [`with_version`](Self::with_version)): bump the version after
/// editing a migration in place.
///
/// ```
/// use factory_core::cleanup::Migrations;
///
/// static SHOP: Migrations = factory_core::embed_migrations!("../migrations/sqlite");
/// assert_eq!(SHOP.hash::<diesel::sqlite::Sqlite>().len(), 12);
/// ```
///
/// ```
/// use diesel_migrations::{embed_migrations, EmbeddedMigrations};
/// use factory_core::cleanup::Migrations;
///
/// static SQL: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
/// let migrations = Migrations::new(&SQL);
/// assert_eq!(migrations.hash::<diesel::sqlite::Sqlite>().len(), 12);
/// ```
#[derive(Clone, Copy)]
pub struct Migrations {
    source: &'static EmbeddedMigrations,
    version: &'static str,
    files_hash: Option<&'static str>,
}

impl fmt::Debug for Migrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Migrations")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Migrations {
    /// Migrations embedded with `diesel_migrations::embed_migrations!`.
    pub const fn new(source: &'static EmbeddedMigrations) -> Self {
        Self {
            source,
            version: "",
            files_hash: None,
        }
    }

    /// Names the migrations by `hash` (of their files) instead of their names:
    /// what [`embed_migrations!`](crate::embed_migrations) does.
    #[doc(hidden)]
    pub const fn with_hash(mut self, hash: &'static str) -> Self {
        self.files_hash = Some(hash);
        self
    }

    /// Mixes `version` into the hash: change it to rebuild templates after editing a
    /// migration in place.
    pub const fn with_version(mut self, version: &'static str) -> Self {
        self.version = version;
        self
    }

    /// Twelve hex digits naming this set of migrations: of their files' contents with
    /// [`embed_migrations!`](crate::embed_migrations), else FNV-1a of their names and version.
    pub fn hash<DB: Backend>(&self) -> String {
        if let (Some(hash), "") = (self.files_hash, self.version) {
            return hash.to_owned();
        }
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes.iter().chain(b"\n") {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        feed(b"factory-core template 1");
        feed(self.version.as_bytes());
        if let Some(files) = self.files_hash {
            feed(files.as_bytes());
            return format!("{:012x}", hash >> 16);
        }
        for migration in self.migrations::<DB>() {
            feed(migration.name().to_string().as_bytes());
        }
        format!("{:012x}", hash >> 16)
    }

    /// The migrations as Diesel runs them.
    pub(crate) fn source(&self) -> Source {
        Source(self.source)
    }

    fn migrations<DB: Backend>(&self) -> Vec<Box<dyn Migration<DB>>> {
        MigrationSource::<DB>::migrations(self.source).unwrap_or_default()
    }
}

/// A copy: what `#[factory_core::test(migrations = MIGRATIONS)]` passes as `&MIGRATIONS`.
impl From<&Migrations> for Migrations {
    fn from(migrations: &Migrations) -> Self {
        *migrations
    }
}

/// Diesel's own embedded migrations, as [`Migrations::new`] takes them.
impl From<&'static EmbeddedMigrations> for Migrations {
    fn from(source: &'static EmbeddedMigrations) -> Self {
        Self::new(source)
    }
}

/// A borrowed [`EmbeddedMigrations`] that Diesel's harness can take by value.
pub(crate) struct Source(&'static EmbeddedMigrations);

impl<DB: Backend> MigrationSource<DB> for Source {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<DB>>>> {
        MigrationSource::<DB>::migrations(self.0)
    }
}
