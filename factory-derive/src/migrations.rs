//! `embed_migrations!`: Diesel's embedded migrations plus a hash of their files, which names
//! the template database per-test databases are cloned from.

use proc_macro2::TokenStream;
use quote::quote;
use std::path::{Path, PathBuf};

/// Expands `embed_migrations!("dir")` (relative to the crate's `Cargo.toml`, as Diesel's).
pub fn expand(input: TokenStream) -> TokenStream {
    let lit: syn::LitStr = match syn::parse2(input) {
        Ok(lit) => lit,
        Err(e) => {
            return syn::Error::new(
                e.span(),
                "embed_migrations! takes the migrations directory as a string literal, \
                 relative to Cargo.toml: embed_migrations!(\"migrations\")",
            )
            .to_compile_error()
        }
    };
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let hash = match hash_dir(&root.join(lit.value())) {
        Ok(hash) => hash,
        Err(message) => {
            // Name the directory as written (relative to Cargo.toml), not where it resolved.
            let message =
                message.replace(&root.join(lit.value()).display().to_string(), &lit.value());
            return syn::Error::new(lit.span(), message).to_compile_error();
        }
    };
    quote! {
        ::factory_core::cleanup::Migrations::new(&diesel_migrations::embed_migrations!(#lit))
            .with_hash(#hash)
    }
}

/// FNV-1a over every migration's directory name and file contents, in name order; twelve hex
/// digits.
fn hash_dir(dir: &Path) -> Result<String, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot read the migrations directory {}: {e}",
            dir.display()
        )
    })?;
    let mut migrations: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    migrations.sort();
    if migrations.is_empty() {
        return Err(format!("no migrations in {}", dir.display()));
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes.iter().chain(b"\n") {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for migration in migrations {
        feed(migration.file_name().unwrap_or_default().as_encoded_bytes());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&migration)
            .map_err(|e| format!("cannot read {}: {e}", migration.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            feed(file.file_name().unwrap_or_default().as_encoded_bytes());
            feed(
                &std::fs::read(&file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?,
            );
        }
    }
    Ok(format!("{:012x}", hash >> 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_the_files() {
        let dir =
            std::env::temp_dir().join(format!("factory-derive-migrations-{}", std::process::id()));
        let one = dir.join("2026-01-01-000000_one");
        std::fs::create_dir_all(&one).unwrap();
        std::fs::write(one.join("up.sql"), "CREATE TABLE a (id INTEGER);").unwrap();
        let first = hash_dir(&dir).unwrap();
        assert_eq!(first.len(), 12);
        assert_eq!(hash_dir(&dir).unwrap(), first);
        std::fs::write(one.join("up.sql"), "CREATE TABLE a (id BIGINT);").unwrap();
        assert_ne!(
            hash_dir(&dir).unwrap(),
            first,
            "an edited migration is a new hash"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(hash_dir(&dir).is_err());
    }
}
