//! The data dir's guards: who may own it, what it may be shared with, and how the host's
//! files in it are opened.
//!
//! The data dir holds task data (which may carry secrets), the logs and the CLI socket, so
//! it is private to the user who runs the host:
//!
//! - The process umask is `0o077` ([`private_umask`], set first thing by the binary), so
//!   everything the process creates, the scheduler's SQLite files included, is `0700`/`0600`.
//! - A host refuses a data dir that is owned by another user or writable by group or
//!   others ([`check`]): anyone who can write there can plant links and impostor sockets.
//!   It warns (and goes on) when the dir or a file in it is readable by others.
//! - The host's own files (lock, pid, log) are opened with `O_NOFOLLOW`
//!   ([`open_no_follow`]): a planted symbolic link is refused, never written through.
//!
//! It deliberately does not repair modes by itself: a warning names the `chmod` to run.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a data dir or one of the host's files is refused.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Another user could plant files in it.
    #[error(
        "refusing data dir {dir}: it is writable by {who} (mode {mode:04o}), so another user could plant links or an impostor socket in it; fix it with `chmod 700 {dir}`",
        dir = .dir.display()
    )]
    Writable {
        /// The data dir.
        dir: PathBuf,
        /// `group`, `others` or `group and others`.
        who: &'static str,
        /// Its permission bits.
        mode: u32,
    },
    /// It belongs to someone else.
    #[error(
        "refusing data dir {dir}: it is owned by uid {owner}, not by this user (uid {uid}); run the host as its owner, or use a data dir of your own (`--data-dir`)",
        dir = .dir.display()
    )]
    Owner {
        /// The data dir.
        dir: PathBuf,
        /// Its owner.
        owner: u32,
        /// Who runs the host.
        uid: u32,
    },
    /// A symbolic link where the host keeps one of its own files.
    #[error(
        "refusing to open {path}: it is a symbolic link, and the host never follows links in its data dir; remove it (`rm {path}`)",
        path = .path.display()
    )]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// Any other IO failure, with the path it concerns.
    #[error("{what} {path}: {source}", path = .path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Sets the process umask to `0o077`: what this process creates is private to its user.
pub fn private_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// The user this process runs as.
pub fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError {
    let path = path.to_path_buf();
    move |source| DataDirError::Io { what, path, source }
}

/// Creates the data dir (`0700`) when missing, refuses one another user could write to or
/// owns, and returns warnings for what in it is readable by others.
pub fn check(dir: &Path) -> Result<Vec<String>, DataDirError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("cannot create the data dir", dir))?;
    // The dir itself may be a link the user made (e.g. onto another disk): what counts is
    // the directory it names.
    let meta = std::fs::metadata(dir).map_err(io("cannot inspect the data dir", dir))?;
    let uid = effective_uid();
    if meta.uid() != uid {
        return Err(DataDirError::Owner { dir: dir.to_path_buf(), owner: meta.uid(), uid });
    }
    let mode = meta.permissions().mode() & 0o7777;
    let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => Some("group and others"),
        (true, false) => Some("group"),
        (false, true) => Some("others"),
        (false, false) => None,
    };
    if let Some(who) = who {
        return Err(DataDirError::Writable { dir: dir.to_path_buf(), who, mode });
    }
    let mut warnings = Vec::new();
    if mode & 0o044 != 0 {
        warnings.push(format!(
            "data dir {} is readable by other users (mode {mode:04o}); it holds task data and logs: `chmod 700 {}`",
            dir.display(),
            dir.display()
        ));
    }
    for folder in [dir.to_path_buf(), dir.join("logs")] {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            let mode = meta.permissions().mode() & 0o7777;
            let fix = if meta.is_dir() { "chmod 700" } else { "chmod 600" };
            if meta.file_type().is_symlink() {
                warnings.push(format!(
                    "{} is a symbolic link; the host never follows links in its data dir",
                    path.display()
                ));
            } else if mode & 0o044 != 0 {
                warnings.push(format!(
                    "{} is readable by other users (mode {mode:04o}): `{fix} {}`",
                    path.display(),
                    path.display()
                ));
            }
        }
    }
    Ok(warnings)
}

/// Creates `dir` (`0700`) unless it exists, refusing a symbolic link in its place.
pub fn create_private_dir(dir: &Path) -> Result<(), DataDirError> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() => Err(DataDirError::Symlink { path: dir.to_path_buf() }),
        Ok(_) => Ok(()),
        Err(_) => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io("cannot create the directory", dir)),
    }
}

/// Opens (creating `0600` when missing) one of the host's own files without following a
/// symbolic link at `path`. `options` says how (append, truncate, …).
pub fn open_no_follow(path: &Path, options: &mut OpenOptions) -> Result<File, DataDirError> {
    options
        .create(true)
        .mode(0o600)
        // std adds O_CLOEXEC itself. The flag's bits fit an i32 (it is 0o400000 on Linux).
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map_err(|source| {
            // ELOOP is how O_NOFOLLOW reports a link.
            if source.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                DataDirError::Symlink { path: path.to_path_buf() }
            } else {
                DataDirError::Io { what: "cannot open", path: path.to_path_buf(), source }
            }
        })
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::os::unix::fs::PermissionsExt;

    use super::{DataDirError, check, open_no_follow};

    #[test]
    fn a_missing_data_dir_is_created_private_to_its_user() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        assert!(check(&dir).unwrap().is_empty());
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_group_writable_data_dir_is_refused_with_the_chmod_that_fixes_it() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o770)).unwrap();
        let error = check(tmp.path()).unwrap_err();
        assert!(matches!(error, DataDirError::Writable { mode: 0o770, .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains("writable by group (mode 0770)"), "{message}");
        assert!(message.contains(&format!("`chmod 700 {}`", tmp.path().display())), "{message}");
    }

    #[test]
    fn a_readable_data_dir_and_file_give_warnings_naming_them() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let db = tmp.path().join("scheduler.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let warnings = check(tmp.path()).unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("is readable by other users (mode 0755)"), "{warnings:?}");
        assert!(warnings[1].contains(&format!("{} is readable by other users (mode 0644)", db.display())));
    }

    #[test]
    fn a_symbolic_link_is_refused_and_its_target_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        std::fs::write(&target, b"precious").unwrap();
        let link = tmp.path().join("host.pid");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let error = open_no_follow(&link, OpenOptions::new().write(true).truncate(true)).unwrap_err();
        assert!(matches!(error, DataDirError::Symlink { .. }), "{error}");
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    }
}
