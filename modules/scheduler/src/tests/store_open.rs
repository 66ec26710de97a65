//! Opening an existing database file: a damaged, empty or foreign file is refused with a
//! message naming the file and what to do, and is left untouched (issue 8, item 5).

use std::path::{Path, PathBuf};

use crate::store::{SqliteStore, StoreError};

/// A sound scheduler database of many pages, written without WAL so the file on disk is
/// the whole database.
fn sound_database(dir: &Path) -> PathBuf {
    database(dir, "DELETE")
}

/// A sound database in `journal_mode` (`DELETE`, or `WAL` as the store writes it: closing
/// the last connection checkpoints the WAL into the file and removes it).
fn database(dir: &Path, journal_mode: &str) -> PathBuf {
    let path = dir.join("scheduler.db");
    let mut conn = rusqlite::Connection::open(&path).expect("open");
    conn.pragma_update(None, "journal_mode", journal_mode).expect("journal mode");
    crate::store::sqlite_internals::migrate(&mut conn).expect("migrate");
    let tx = conn.transaction().expect("tx");
    for n in 0..2_000 {
        tx.execute(
            "INSERT INTO audit_log (at, actor, action, task_id, details) VALUES (?1, 'test', 'create', ?2, ?3)",
            rusqlite::params![n, format!("task-{n}"), "x".repeat(200)],
        )
        .expect("insert");
    }
    tx.commit().expect("commit");
    drop(conn);
    path
}

fn digest(path: &Path) -> (u64, Vec<u8>) {
    let bytes = std::fs::read(path).expect("read");
    (bytes.len() as u64, bytes)
}

/// Opens `path`, expecting a refusal; checks the message names the file and the way out,
/// and that the file was not changed.
fn refused(path: &Path, says: &str) -> String {
    let before = digest(path);
    let error = SqliteStore::open(path).expect_err("a damaged file is refused");
    let message = error.to_string();
    assert!(matches!(error, StoreError::Damaged(_)), "{message}");
    assert!(message.contains(&path.display().to_string()), "names the file: {message}");
    assert!(message.contains(says), "says {says:?}: {message}");
    assert!(message.contains("restore") && message.contains("backup"), "says what to do: {message}");
    assert!(digest(path) == before, "the refused file is untouched");
    message
}

#[test]
fn a_sound_database_opens() {
    let dir = tempfile::tempdir().expect("dir");
    let path = sound_database(dir.path());
    SqliteStore::open(&path).expect("a sound file opens");
}

#[test]
fn a_sound_wal_database_closed_by_its_last_connection_opens() {
    let dir = tempfile::tempdir().expect("dir");
    let path = database(dir.path(), "WAL");
    assert!(!dir.path().join("scheduler.db-wal").exists(), "the WAL was checkpointed on close");
    SqliteStore::open(&path).expect("a sound WAL file opens");
}

#[test]
fn a_wal_database_truncated_by_1000_bytes_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = database(dir.path(), "WAL");
    let len = std::fs::metadata(&path).expect("meta").len();
    std::fs::OpenOptions::new().write(true).open(&path).expect("open").set_len(len - 1_000).expect("truncate");
    refused(&path, "is damaged");
}

#[test]
fn a_database_truncated_by_1000_bytes_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().expect("dir");
    let path = sound_database(dir.path());
    let len = std::fs::metadata(&path).expect("meta").len();
    std::fs::OpenOptions::new().write(true).open(&path).expect("open").set_len(len - 1_000).expect("truncate");
    refused(&path, "is damaged");
}

#[test]
fn a_database_with_an_overwritten_page_in_the_middle_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = sound_database(dir.path());
    let mut bytes = std::fs::read(&path).expect("read");
    let middle = (bytes.len() / 2 / 4096) * 4096;
    for (offset, byte) in bytes[middle..middle + 4096].iter_mut().enumerate() {
        // Deterministic noise: not a valid b-tree page.
        *byte = (offset as u8).wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(&path, &bytes).expect("write");
    refused(&path, "is damaged");
}

#[test]
fn an_existing_empty_database_file_is_refused_rather_than_taken_for_a_fresh_store() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("scheduler.db");
    std::fs::write(&path, b"").expect("write");
    let message = refused(&path, "is empty (0 bytes)");
    assert!(message.contains("move it aside"), "{message}");
    assert_eq!(std::fs::metadata(&path).expect("meta").len(), 0);
}

#[test]
fn a_file_that_is_not_a_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("scheduler.db");
    std::fs::write(&path, "tasks:\n  - name: backup\n".repeat(500)).expect("write");
    refused(&path, "is not a SQLite database");
}

#[test]
fn a_missing_database_file_is_created() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("nested").join("scheduler.db");
    SqliteStore::open(&path).expect("a missing file is created");
    assert!(path.exists());
}
