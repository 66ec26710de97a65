//! The store conformance suite (`store::conformance`) on SQLite: a fresh database file in
//! a temporary directory per behaviour, opened through `store::open` as the module does.

use crate::store::conformance::{FreshStore, StoreFactory};
use crate::store::{Location, StoreError, StoreFuture};

struct FreshSqlite;

impl StoreFactory for FreshSqlite {
    fn fresh(&self) -> StoreFuture<FreshStore> {
        Box::pin(async {
            let dir = tempfile::tempdir().map_err(|error| StoreError::Io(error.to_string()))?;
            let store = crate::store::open(&Location::Sqlite(dir.path().join("scheduler.db")))?;
            Ok(FreshStore { store, keep: Box::new(dir) })
        })
    }
}

crate::store_conformance!(FreshSqlite);
