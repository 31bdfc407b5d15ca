//! `scimd webhook …`: manage a tenant's webhook endpoints from the shell, beside a running
//! server (the database is shared; the server's delivery worker sees a change within a
//! second). The secret of `add` and `rotate-secret` goes alone to stdout, the rest to stderr.

use clap::Subcommand;

use super::{write_line, write_secret};
use crate::config::Config;
use crate::service::tokens::{DEFAULT_OVERLAP, parse_duration};
use crate::service::webhooks;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Add an endpoint; it receives the events committed from now on. Prints its signing
    /// secret (whsec_…) once.
    Add {
        #[arg(long, default_value = crate::store::tenants::DEFAULT_SLUG)]
        tenant: String,
        /// The receiver's URL (https://…).
        #[arg(long)]
        url: String,
        /// Only these event types, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        types: Vec<String>,
    },
    /// The endpoints, their state and backlog.
    List {
        #[arg(long)]
        tenant: Option<String>,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send a `webhook.test` event now and print the receiver's answer.
    Test { id: String },
    /// Deliver again the events after a cursor (default: resume where the endpoint stopped),
    /// and make the endpoint active.
    Replay {
        id: String,
        #[arg(long)]
        after: Option<i64>,
    },
    /// A new signing secret; the old one keeps signing for --overlap (default 24h).
    RotateSecret {
        id: String,
        #[arg(long)]
        overlap: Option<String>,
    },
    /// Stop deliveries until a replay.
    Disable { id: String },
    /// Remove the endpoint and its delivery attempts.
    Remove { id: String },
}

fn out(line: &str) -> Result<(), String> {
    match write_line(format_args!("{line}")) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write to standard output: {e}"))
        }
        _ => Ok(()),
    }
}

pub fn run(store: &Store, config: &Config, cmd: WebhookCommand) -> Result<(), String> {
    match cmd {
        WebhookCommand::Add { tenant, url, types } => {
            let created = webhooks::add(store, &config.webhooks, &tenant, &url, types)?;
            let w = &created.webhook;
            write_secret(
                &created.secret,
                &format!("the secret of new webhook {}", w.id),
                &format!(
                    "the webhook exists: `scimd webhook rotate-secret {}` makes a new secret",
                    w.id
                ),
            )?;
            eprintln!(
                "added webhook {} (tenant {tenant}) → {}; it receives events after {}. The secret is shown only once: give it to the receiver now",
                w.id, w.url, w.cursor
            );
            Ok(())
        }
        WebhookCommand::List { tenant, json } => {
            let listed = webhooks::list(store, tenant.as_deref())?;
            if json {
                return out(&serde_json::to_string_pretty(&listed).map_err(|e| e.to_string())?);
            }
            out(&format!(
                "{:<35}  {:<10}  {:<8}  {:>8}  {:>8}  URL",
                "ID", "TENANT", "STATE", "CURSOR", "BACKLOG"
            ))?;
            for l in &listed {
                let w = &l.webhook;
                out(&format!(
                    "{:<35}  {:<10}  {:<8}  {:>8}  {:>8}  {}{}",
                    w.id,
                    w.tenant,
                    w.state,
                    w.cursor,
                    l.backlog.events,
                    w.url,
                    w.state_reason
                        .as_ref()
                        .map_or_else(String::new, |r| format!("\n{:>37}{r}", ""))
                ))?;
            }
            Ok(())
        }
        WebhookCommand::Test { id } => {
            let a = webhooks::test(store, &config.webhooks, None, &id)?;
            out(&serde_json::to_string_pretty(&a).map_err(|e| e.to_string())?)?;
            if a.outcome == "delivered" {
                Ok(())
            } else {
                Err(format!(
                    "the receiver did not accept the test event ({})",
                    a.status
                        .map_or_else(|| a.excerpt.clone(), |s| format!("HTTP {s}"))
                ))
            }
        }
        WebhookCommand::Replay { id, after } => {
            let w = webhooks::replay(store, None, &id, after)?;
            eprintln!(
                "webhook {} is active and delivers the events after {}",
                w.id, w.cursor
            );
            Ok(())
        }
        WebhookCommand::RotateSecret { id, overlap } => {
            let overlap = overlap
                .as_deref()
                .map(parse_duration)
                .transpose()?
                .unwrap_or(DEFAULT_OVERLAP);
            let created = webhooks::rotate(store, None, &id, overlap)?;
            write_secret(
                &created.secret,
                &format!("the new secret of webhook {id}"),
                "rotate again to make another",
            )?;
            eprintln!(
                "webhook {id}: deliveries are signed with the new secret and, until {}, the old one too",
                created.webhook.previous_expires.as_deref().unwrap_or("?")
            );
            Ok(())
        }
        WebhookCommand::Disable { id } => {
            let w = webhooks::disable(store, None, &id)?;
            eprintln!(
                "webhook {} is disabled; `scimd webhook replay {}` resumes it",
                w.id, w.id
            );
            Ok(())
        }
        WebhookCommand::Remove { id } => {
            let w = webhooks::remove(store, None, &id)?;
            eprintln!("removed webhook {} ({})", w.id, w.url);
            Ok(())
        }
    }
}
