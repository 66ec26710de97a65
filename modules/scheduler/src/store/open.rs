//! The one way a store is opened from config: the database location picks the backend.
//!
//! `databasePath` is a file path (relative to the data dir) or a `sqlite:` URL
//! (`sqlite:jobs.db`, `sqlite:///var/lib/jobs.db`) for SQLite, the default; `postgres://`
//! (or `postgresql://`) names a PostgreSQL database, refused by this version with
//! [`StoreError::Unsupported`]; any other `scheme://` is refused as unknown. Nothing here
//! knows a backend's internals beyond its `open`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{SqliteStore, Store, StoreError};

/// Where the store lives, by backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (not built in this version).
    Postgres(String),
}

impl Location {
    /// The location `databasePath` names (`None`: `<data_dir>/scheduler.db`); relative
    /// paths are taken from `data_dir`.
    pub fn from_config(configured: Option<&Path>, data_dir: &Path) -> Result<Location, StoreError> {
        let Some(configured) = configured else {
            return Ok(Location::Sqlite(data_dir.join("scheduler.db")));
        };
        let resolve = |path: &Path| if path.is_absolute() { path.to_owned() } else { data_dir.join(path) };
        let Some(text) = configured.to_str() else {
            return Ok(Location::Sqlite(resolve(configured)));
        };
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Location::Postgres(text.to_owned()));
        }
        if let Some(rest) = text.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(StoreError::Unsupported(format!("'{text}' names no SQLite file")));
            }
            return Ok(Location::Sqlite(resolve(Path::new(path))));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(StoreError::Unsupported(format!(
                "unknown database scheme '{scheme}' in '{text}': give a file path, a sqlite: URL or a postgres:// URL"
            )));
        }
        Ok(Location::Sqlite(resolve(configured)))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// The URL without its password (`postgres://user:secret@host` → `postgres://user:***@host`).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

/// Opens the store at `location`. Blocking: call it at start-up, before serving.
pub fn open(location: &Location) -> Result<Arc<dyn Store>, StoreError> {
    match location {
        Location::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path)?)),
        Location::Postgres(_) => Err(StoreError::Unsupported(format!(
            "the PostgreSQL store is not built in this version (databasePath '{location}'); use a file path or a sqlite: URL"
        ))),
    }
}
