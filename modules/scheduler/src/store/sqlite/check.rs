//! The start-up check of an existing database file: before the store opens a file for
//! writing, it makes sure the file is a SQLite database that SQLite itself finds sound.
//!
//! What is refused (each with [`StoreError::Damaged`], a message naming the file and what to
//! do):
//! - an existing 0-byte file: an empty file is what a truncated or overwritten database
//!   looks like, so it is never taken for a fresh store (its tasks would silently be gone);
//! - a file that does not start with the SQLite header;
//! - a file for which `PRAGMA quick_check` reports anything but `ok`, or fails.
//!
//! A missing file is fine: the store creates it. The check reads only: it runs on a
//! read-only connection, which never checkpoints a leftover WAL into the file on close, so
//! a refused file is left byte for byte as it was.
//!
//! Why `quick_check` and not `integrity_check`: `quick_check` verifies every page's b-tree
//! structure, record format and the free list, which is what a truncation or overwritten
//! pages break, reading each page once (linear in the file size); it skips the
//! cross-check of every index entry against its table, which costs a lookup per row and is
//! what makes `integrity_check` slow on a large history. The number of reported problems is
//! bounded too ([`MAX_PROBLEMS`]), so a badly damaged file does not build a huge message.

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::store::StoreError;

/// Most problems `quick_check` reports (and the message quotes).
const MAX_PROBLEMS: u32 = 5;

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// What the user can do about a refused file; the same advice for every refusal.
fn advice(path: &Path) -> String {
    format!(
        "restore {} from a backup, or move it aside (keep it: `sqlite3 FILE .recover` may \
         save its tasks) to start with an empty store",
        path.display()
    )
}

/// Checks the database file at `path`, if there is one. `Ok` for a missing file.
pub(super) fn existing_database(path: &Path) -> Result<(), StoreError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(StoreError::Database(format!("cannot read {}: {error}", path.display())));
        }
    };
    let shown = path.display();
    if !meta.is_file() {
        return Err(StoreError::Damaged(format!(
            "the scheduler database {shown} is not a regular file; point databasePath at a file"
        )));
    }
    if meta.len() == 0 {
        return Err(StoreError::Damaged(format!(
            "the scheduler database {shown} is empty (0 bytes): an existing database is never \
             taken for a fresh store, since an empty file is what a truncated one looks like; {}",
            advice(path)
        )));
    }
    let mut header = [0_u8; 16];
    let read = std::fs::File::open(path).and_then(|mut file| file.read_exact(&mut header));
    if read.is_err() || &header != SQLITE_HEADER {
        return Err(StoreError::Damaged(format!(
            "the scheduler database {shown} is not a SQLite database (it does not start with \
             the SQLite header); {}",
            advice(path)
        )));
    }
    let problems = quick_check(path).map_err(|error| {
        StoreError::Damaged(format!(
            "the scheduler database {shown} is damaged (SQLite quick_check failed: {error}); {}",
            advice(path)
        ))
    })?;
    if !problems.is_empty() {
        return Err(StoreError::Damaged(format!(
            "the scheduler database {shown} is damaged (SQLite quick_check: {}); {}",
            problems.join("; "),
            advice(path)
        )));
    }
    Ok(())
}

/// Runs `PRAGMA quick_check` on a read-only connection; the problems found (empty when the
/// file is sound).
fn quick_check(path: &Path) -> Result<Vec<String>, rusqlite::Error> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let mut stmt = conn.prepare(&format!("PRAGMA quick_check({MAX_PROBLEMS})"))?;
    let rows = stmt.query_map([], |row| row.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows.into_iter().filter(|row| row != "ok").collect())
}
