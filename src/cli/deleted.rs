//! `scimd deleted …` (issue 25): list a tenant's deleted users and groups, restore them, erase
//! one for a privacy request, and see or revert the mass-change alarms. Runs beside the server
//! on the same database; its writes go through the same batched service calls as the admin API.

use clap::Subcommand;

/// A line of the command's result on stdout; a closed pipe (`| head`) ends it quietly.
macro_rules! out {
    ($($arg:tt)*) => {
        super::write_out(format_args!($($arg)*))
    };
}

use crate::config::Config;
use crate::service::{Scope, alarms, deleted};
use crate::store::Store;

/// Who the command line acts as, in history and in the erase record.
const BY: &str = "cli";

#[derive(Debug, Subcommand)]
pub enum DeletedCommand {
    /// Deleted users and groups still restorable, newest deletion first.
    List {
        #[arg(long, default_value = crate::store::tenants::DEFAULT_SLUG)]
        tenant: String,
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// Restore deleted users or groups with their id, attributes and memberships (newest
    /// deletion first, whatever the order given: members deleted before their group rejoin it).
    Restore {
        #[arg(long, default_value = crate::store::tenants::DEFAULT_SLUG)]
        tenant: String,
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Erase a deleted person completely (privacy request): tombstone, history, event payloads
    /// and request-log bodies. Only the record that the erase happened remains.
    Erase {
        #[arg(long, default_value = crate::store::tenants::DEFAULT_SLUG)]
        tenant: String,
        id: String,
    },
    /// Mass-change alarms of a tenant, newest first.
    Alarms {
        #[arg(long, default_value = crate::store::tenants::DEFAULT_SLUG)]
        tenant: String,
    },
    /// Revert an alarm's burst: restore what it deleted, reactivate what it deactivated.
    Revert {
        #[arg(long, default_value = crate::store::tenants::DEFAULT_SLUG)]
        tenant: String,
        alarm: i64,
    },
    /// Close an alarm without reverting (the changes were intended).
    Dismiss {
        #[arg(long, default_value = crate::store::tenants::DEFAULT_SLUG)]
        tenant: String,
        alarm: i64,
    },
}

fn scope(store: &Store, config: &Config, slug: &str) -> Result<Scope, String> {
    let lookup = slug.to_owned();
    let tenant = store
        .read_blocking(move |c| crate::store::tenants::by_slug(c, &lookup))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("there is no tenant \"{slug}\"; `scimd tenant list` shows them"))?;
    Ok(Scope {
        schemas: crate::service::settings::registry_of(&tenant),
        tenant_id: tenant.id,
        base_url: crate::service::tokens::scim_base(&config.listener().base(), &tenant.slug),
        tenant_slug: tenant.slug,
        actor: None,
        history_value_cap: config.history.max_value_bytes,
        strict: false,
        interop_profile: false,
        accept_password: true,
        ephemeral: false,
    })
}

pub fn run(store: &Store, config: &Config, cmd: DeletedCommand) -> Result<(), String> {
    let batch = config.deletion.batch_rows;
    match cmd {
        DeletedCommand::List { tenant, json } => {
            let page = deleted::list(store, &scope(store, config, &tenant)?, None, u32::MAX)?;
            for d in &page.deleted {
                if json {
                    out!("{}", serde_json::to_string(d).unwrap_or_default())?;
                } else {
                    out!(
                        "{}  {:<5}  {:<36}  {}  (in {} groups{})",
                        d.deleted_at,
                        d.resource_type,
                        d.id,
                        d.name,
                        d.member_of,
                        if d.resource_type == "Group" {
                            format!(", {} members", d.members)
                        } else {
                            String::new()
                        }
                    )?;
                }
            }
            eprintln!(
                "{} deleted in tenant \"{tenant}\", each restorable for {} days after its deletion",
                page.deleted.len(),
                page.retention_days
            );
            Ok(())
        }
        DeletedCommand::Restore { tenant, ids } => {
            if ids.len() > config.deletion.max_restore_ids as usize {
                return Err(format!(
                    "{} ids given; one restore takes at most {} (deletion.max_restore_ids): restore them in several commands",
                    ids.len(),
                    config.deletion.max_restore_ids
                ));
            }
            let scope = scope(store, config, &tenant)?;
            let mut failed = 0;
            let results = rocket::execute(deleted::restore_many(store, &scope, &ids, BY, batch));
            for (_, outcome) in results {
                match outcome {
                    Ok(r) => out!(
                        "restored {} {} ({}), {} memberships{}",
                        r.resource_type,
                        r.id,
                        r.name,
                        r.memberships,
                        if r.memberships_skipped > 0 {
                            format!(", {} left out (gone since)", r.memberships_skipped)
                        } else {
                            String::new()
                        }
                    )?,
                    Err(e) => {
                        failed += 1;
                        eprintln!("error: {e}");
                    }
                }
            }
            if failed > 0 {
                return Err(format!("{failed} of {} not restored", ids.len()));
            }
            Ok(())
        }
        DeletedCommand::Erase { tenant, id } => {
            let scope = scope(store, config, &tenant)?;
            let e = rocket::execute(deleted::erase(store, &scope, &id, BY, batch, None))?;
            out!(
                "erased {} {}: tombstone {}, {} history changes, {} event payloads, {} request-log entries{}",
                e.resource_type,
                e.id,
                if e.tombstone {
                    "removed"
                } else {
                    "already gone"
                },
                e.history_rows,
                e.events,
                e.log_entries,
                if e.wal_truncated {
                    ""
                } else {
                    " (the WAL files are emptied at the next checkpoint: readers were busy)"
                }
            )?;
            Ok(())
        }
        DeletedCommand::Alarms { tenant } => {
            for a in alarms::list(store, &scope(store, config, &tenant)?, 100)? {
                out!(
                    "{:>5}  {}  {:<9}  {} deletions, {} deactivations (events {}..{}){}",
                    a.id,
                    a.raised_at,
                    a.state,
                    a.deletions,
                    a.deactivations,
                    a.first_seq,
                    a.last_seq,
                    a.resolved_by
                        .map(|b| format!("  by {b}"))
                        .unwrap_or_default()
                )?;
            }
            Ok(())
        }
        DeletedCommand::Revert { tenant, alarm } => {
            let scope = scope(store, config, &tenant)?;
            let r = rocket::execute(alarms::revert(store, &scope, alarm, BY, batch))?;
            out!(
                "alarm {alarm} reverted: {} restored, {} reactivated",
                r.restored.len(),
                r.reactivated.len()
            )?;
            for f in &r.refused {
                eprintln!("not brought back: {}: {}", f.id, f.reason);
            }
            Ok(())
        }
        DeletedCommand::Dismiss { tenant, alarm } => {
            let scope = scope(store, config, &tenant)?;
            rocket::execute(alarms::dismiss(store, &scope, alarm, BY))?;
            out!("alarm {alarm} dismissed")?;
            Ok(())
        }
    }
}
