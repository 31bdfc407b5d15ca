//! Files in the data directory and who may read them: the databases, their WAL and
//! shared-memory files, backups and the first admin password are private to the user scimd
//! runs as, whatever the umask (outside the packaged unit, a umask of 022 is common).

use std::path::{Path, PathBuf};

use super::{Result, StoreError};

/// Name of the file, beside the database, that holds the first admin password until the
/// admin signs in or resets it.
pub const INITIAL_PASSWORD_FILE: &str = "scimd-initial-admin-password";

/// Where the first admin password is written for the database at `database`.
pub fn initial_password_path(database: &Path) -> PathBuf {
    database.with_file_name(INITIAL_PASSWORD_FILE)
}

/// Writes the first admin password to its file (mode 0600), replacing any older one, and
/// returns the file's path. Journals and container logs keep stderr; a file can be deleted.
pub fn save_initial_password(database: &Path, password: &str) -> std::io::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = initial_password_path(database);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(format!("{password}\n").as_bytes())?;
    file.sync_all()?;
    Ok(path)
}

/// Removes the first admin password's file once that password stops mattering (the admin
/// signed in with it, or reset it). A missing file is the usual case.
pub fn forget_initial_password(database: &Path) {
    let path = initial_password_path(database);
    match std::fs::remove_file(&path) {
        Ok(()) => tracing::info!(
            "removed {}: the first admin password is no longer needed",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("cannot remove {}: {e}; delete it by hand", path.display()),
    }
}

/// Creates `path` as an empty file only its owner may read and write, whatever the umask; an
/// existing file is an error.
pub(crate) fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

/// Makes the database file `path` (created empty if missing) and its `-wal` / `-shm`
/// companions, where they exist, readable by their owner only: they hold password and token
/// hashes. SQLite creates the WAL and shared-memory files with the mode of the database file,
/// so a private database file keeps them private too; existing files created before this
/// rule (or by a copy) are narrowed here. An empty file is what SQLite expects of a new
/// database.
pub(crate) fn private_database(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |what: &str, p: &Path, e: std::io::Error| {
        StoreError::Internal(format!("cannot {what} {}: {e}", p.display()))
    };
    match create_private(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(fail("create", path, e)),
    }
    let companion = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let companions = [path.to_owned(), companion("-wal"), companion("-shm")];
    for file in &companions {
        let Ok(meta) = std::fs::metadata(file) else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode & 0o700))
                .map_err(|e| fail("make private (chmod go-rwx)", file, e))?;
            tracing::warn!(
                "{} was readable by other users (mode {:o}); made it private to its owner",
                file.display(),
                mode & 0o777
            );
        }
    }
    Ok(())
}
