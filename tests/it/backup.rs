//! `scimd backup FILE` (issue 9 §6): a consistent copy taken while the server is writing, and
//! the restore procedure the README gives (stop, copy, start) bringing the data back.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::server::{create_user, free_port, scimd, start, token, user_exists, wait_for_acks};

fn run_backup(dir: &Path, file: &Path) -> std::process::Output {
    scimd(dir).arg("backup").arg(file).output().expect("backup")
}

/// The ids of the users in a backup file, after checking the file's integrity.
fn users_in(file: &Path) -> Vec<String> {
    let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok", "{}", file.display());
    let mut stmt = conn
        .prepare("SELECT id FROM resources WHERE resource_type = 'User'")
        .expect("prepare");
    stmt.query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("ids")
}

#[test]
fn backups_taken_under_write_load_are_consistent_snapshots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = token(dir.path());
    let server = start(dir.path(), free_port());
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    const WORKERS: usize = 3;
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (acked, stop, base, token) = (
                acked.clone(),
                stop.clone(),
                server.base.clone(),
                token.clone(),
            );
            std::thread::spawn(move || {
                for i in 0..20_000 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let id = create_user(&base, &token, &format!("w{w}-{i}@backup.test"))
                        .expect("create under load");
                    acked.lock().expect("lock").push(id);
                }
            })
        })
        .collect();
    wait_for_acks(&acked, 30);
    let mut snapshots = Vec::new();
    for n in 0..3 {
        let before = acked.lock().expect("lock").clone();
        let file = dir.path().join(format!("backup-{n}.db"));
        let out = run_backup(dir.path(), &file);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let after = acked.lock().expect("lock").len();
        snapshots.push((file, before, after));
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    let total = acked.lock().expect("lock").len();
    let mut counts = Vec::new();
    for (file, before, after) in &snapshots {
        let ids = users_in(file);
        // Everything acknowledged before the backup began is in it; nothing beyond what was
        // acknowledged by its end, plus at most one in-flight create per worker.
        for id in before {
            assert!(ids.contains(id), "{id} missing from {}", file.display());
        }
        assert!(
            ids.len() <= after + WORKERS,
            "{} users in {} but only {after} acknowledged by then",
            ids.len(),
            file.display()
        );
        counts.push(ids.len());
    }
    assert!(
        counts.windows(2).all(|w| w[0] < w[1]),
        "the server kept writing between backups: {counts:?} of {total}"
    );
}

#[test]
fn restore_is_stop_copy_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = token(dir.path());
    let mut server = start(dir.path(), free_port());
    let kept = create_user(&server.base, &token, "kept@restore.test").expect("create");
    let file = dir.path().join("nightly.db");
    let out = run_backup(dir.path(), &file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lost = create_user(&server.base, &token, "after@restore.test").expect("create");
    assert!(server.terminate().success());

    // The README's restore: copy the backup over the database and drop any WAL left beside it.
    let db = dir.path().join("scimd.db");
    std::fs::copy(&file, &db).expect("copy");
    for leftover in ["scimd.db-wal", "scimd.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(leftover));
    }
    let server = start(dir.path(), free_port());
    assert!(user_exists(&server.base, &token, &kept), "restored user");
    assert!(
        !user_exists(&server.base, &token, &lost),
        "a user created after the backup is not in it"
    );
}

#[test]
fn backup_refuses_to_overwrite_or_to_copy_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("b.db");
    let out = run_backup(dir.path(), &file);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not exist"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("scimd.db").exists(), "backup created a db");

    token(dir.path());
    std::fs::write(&file, "precious").expect("write");
    let out = run_backup(dir.path(), &file);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "precious");
}

/// Issue 20, item 10: a missing destination directory is named as such (it was "unable to open
/// database: /nonexistent/.x.db.partial"), and the closing line gives the whole restore,
/// removing the WAL files included.
#[test]
fn backup_names_a_missing_directory_and_the_whole_restore() {
    let dir = tempfile::tempdir().expect("tempdir");
    token(dir.path());
    let missing = dir.path().join("no-such-dir").join("b.db");
    let out = run_backup(dir.path(), &missing);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the directory")
            && err.contains("no-such-dir")
            && err.contains("does not exist"),
        "{err}"
    );
    assert!(!err.contains(".partial"), "{err}");
    let out = run_backup(dir.path(), &dir.path().join("b.db"));
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("scimd.db-wal") && said.contains("scimd.db-shm"),
        "{said}"
    );
}
