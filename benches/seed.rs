//! Seeds a scimd database for the HTTP benchmark (benches/run.sh): 100,000 users and 1,000
//! groups, group 0 holding 50,000 members and the 999 others 10 each. Writes go straight
//! through the store API in one transaction, so seeding takes seconds instead of the minutes
//! 150,000 SCIM requests would. Writes the ids the wrk scripts need to a text file.
//! Run: `seed DB IDS_FILE` (by benches/run.sh); with no arguments (`cargo bench --bench seed`)
//! it seeds a temporary database and reports only how long seeding took.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;

use scimd::store::{Store, members, resources, tenants};

const USERS: usize = 100_000;
const GROUPS: usize = 1_000;
const BIG_GROUP: usize = 50_000;
const SMALL_GROUP: usize = 10;
const NOW: &str = "2026-01-01T00:00:00.000Z";

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let temp = tempfile::tempdir().expect("tempdir");
    let (db, ids_file) = match args.as_slice() {
        [db, ids] => (PathBuf::from(db), Some(PathBuf::from(ids))),
        _ => (temp.path().join("seed.db"), None),
    };
    let started = Instant::now();
    let store = Store::open(&db).expect("open store");
    let (user_ids, group_ids) = store
        .write_blocking(|tx| {
            tenants::ensure_default(tx, NOW)?;
            let mut users = Vec::with_capacity(USERS);
            for i in 0..USERS {
                // The shape of an Okta create (S06): name, emails, active.
                let doc = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("user{i}@example.com"),
                    "externalId": format!("ext{i}"),
                    "name": {"givenName": "Given", "familyName": format!("Family{i}")},
                    "displayName": format!("Given Family{i}"),
                    "emails": [{"value": format!("user{i}@example.com"), "type": "work", "primary": true}],
                    "active": true
                });
                let doc = doc.as_object().cloned().unwrap_or_default();
                let id = uuid::Uuid::new_v4().to_string();
                let row = resources::insert(tx, 1, "User", &id, &doc, None, NOW)?;
                users.push((id, row.seq));
            }
            let mut groups = Vec::with_capacity(GROUPS);
            for g in 0..GROUPS {
                let doc = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": format!("group{g}")
                });
                let doc = doc.as_object().cloned().unwrap_or_default();
                let id = uuid::Uuid::new_v4().to_string();
                let row = resources::insert(tx, 1, "Group", &id, &doc, None, NOW)?;
                let seqs: Vec<i64> = if g == 0 {
                    users[..BIG_GROUP].iter().map(|u| u.1).collect()
                } else {
                    let from = (g * SMALL_GROUP) % USERS;
                    users[from..from + SMALL_GROUP].iter().map(|u| u.1).collect()
                };
                members::add(tx, 1, row.seq, &seqs)?;
                groups.push(id);
            }
            Ok((users, groups))
        })
        .expect("seed");
    eprintln!(
        "seeded {USERS} users and {GROUPS} groups (one of {BIG_GROUP} members) in {:.1?}",
        started.elapsed()
    );
    if let Some(path) = ids_file {
        // Line 1: the big group; lines 2..=GROUPS: the small groups; then user i's id on
        // line GROUPS + 1 + i, so a script can pair an id with userName "user{i}@example.com".
        let mut out = String::with_capacity((GROUPS + USERS) * 37);
        for id in group_ids.iter().chain(user_ids.iter().map(|u| &u.0)) {
            let _ = writeln!(out, "{id}");
        }
        std::fs::write(&path, out).expect("write ids file");
    }
}
