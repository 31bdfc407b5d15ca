//! The command line (design.md "Command line"): serving, tokens, tenants, configuration and TLS
//! checks, backups and the container health probe. Machine-readable results go to stdout (so
//! `TOKEN=$(scimd token create …)` captures only the token); everything meant for a person goes
//! to stderr.

mod deleted;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

mod oauth;
mod webhook;

use crate::clock;
use crate::config::Config;
use crate::service::tenants as tenants_service;
use crate::service::tokens::{self, NewToken, Rotation};
use crate::service::{secure_defaults, token_addresses};
use crate::store::Store;
use crate::store::tenants::DEFAULT_SLUG;
use crate::store::tokens::TokenKind;

/// Writes a line of a command's result to stdout. A reader that stops early (`| head`,
/// `| grep -q`) is not a failure of the command, so a closed pipe ends the output quietly where
/// `println!` would panic; any other write error fails the command.
macro_rules! out {
    ($($arg:tt)*) => {
        write_out(format_args!($($arg)*))
    };
}

fn write_out(line: std::fmt::Arguments<'_>) -> Result<(), String> {
    match write_line(line) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write to standard output: {e}"))
        }
        _ => Ok(()),
    }
}

/// Writes a secret that is shown only once. Unlike other output, a secret nobody read is a
/// failure, even on a closed pipe: the admin must learn that it was created and lost.
fn write_secret(secret: &str, what: &str, remedy: &str) -> Result<(), String> {
    write_line(format_args!("{secret}"))
        .map_err(|e| format!("{what} could not be written to standard output ({e}); {remedy}"))
}

fn write_line(line: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").and_then(|()| stdout.flush())
}

/// scimd: a self-hosted SCIM 2.0 server for Okta, Microsoft Entra ID, OneLogin, JumpCloud and
/// Google Workspace.
#[derive(Debug, Parser)]
#[command(name = "scimd", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (default: /etc/scimd/scimd.toml if it exists). SCIMD_* environment
    /// variables override it.
    #[arg(long, global = true, value_name = "FILE", env = "SCIMD_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no command is given).
    Serve,
    /// Create, list and revoke SCIM bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Create and list tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage web UI admin accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Validate the configuration, TLS files included, and print it as scimd will use it.
    CheckConfig,
    /// Write a consistent copy of the database to FILE while scimd keeps serving.
    Backup {
        /// Where to write the copy; must not exist yet.
        file: PathBuf,
    },
    /// Ask the running server's /healthz; exit 0 if it answers 200, 1 otherwise (the
    /// container HEALTHCHECK).
    Health,
    /// Read the SCIM request log: what each IdP request did, and why a failed one failed.
    #[command(subcommand)]
    Log(LogCommand),
    /// Read the events feed: what changed in the directory, in order, as applications see it.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Check that this deployment will work with an IdP: configuration, TLS, the plain-HTTP
    /// rule, database, disk, backlogs, backups, tokens and the clock, each with the fix when
    /// it fails. Exit status 1 when a check fails (warnings do not fail).
    Doctor {
        /// Print the report as JSON (for monitoring).
        #[arg(long)]
        json: bool,
        /// Skip the end-to-end self-test (the Okta and Entra flows replayed through
        /// public_url in a throwaway tenant), e.g. for a monitoring probe every minute.
        #[arg(long)]
        no_self_test: bool,
    },
    /// Manage webhooks: push a tenant's events to an HTTPS endpoint, signed (Standard Webhooks).
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// OAuth 2.0 clients of a tenant's token endpoint (client credentials, private_key_jwt).
    #[command(subcommand)]
    Oauth(oauth::OauthCommand),
    /// Print every user and group of a tenant as JSON lines (one SCIM resource a line, as GET
    /// returns it, no secrets), consistent as of one commit, for audits and migrations.
    Export {
        /// The tenant to export.
        #[arg(long, default_value = crate::store::tenants::DEFAULT_SLUG)]
        tenant: String,
    },
    /// Deleted users and groups: list, restore, erase; mass-change alarms and their revert.
    #[command(subcommand)]
    Deleted(deleted::DeletedCommand),
    /// The read-only LDAP directory (`[ldap]`): service accounts and the values applications
    /// need.
    #[command(subcommand)]
    Ldap(crate::ldap::cli::LdapCommand),
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// The newest events of a tenant, oldest first; with --follow, then each new one as it is
    /// committed.
    Tail {
        /// The tenant whose events to show.
        #[arg(long, default_value = crate::store::tenants::DEFAULT_SLUG)]
        tenant: String,
        /// How many of the newest events to show first.
        #[arg(long, short = 'n', default_value_t = 20)]
        lines: u32,
        /// Start after this cursor (an event's seq) instead of with the newest.
        #[arg(long)]
        after: Option<i64>,
        /// Keep waiting for new events (Ctrl-C to stop).
        #[arg(long, short = 'f')]
        follow: bool,
        /// Print each event's JSON as the feed serves it, one a line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// The newest requests, newest first, with the diagnosis of failures.
    List {
        /// Only failed requests (status 400 and above).
        #[arg(long)]
        errors: bool,
        /// Only this tenant's requests.
        #[arg(long)]
        tenant: Option<String>,
        /// Only the request with this X-Request-Id (the IdP's own, or the one scimd answered
        /// with), to match an IdP's log line to scimd's entry.
        #[arg(long)]
        request_id: Option<String>,
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Print the admin API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One request with its (redacted) bodies and diagnosis, as JSON.
    Show {
        /// The entry id (first column of `scimd log list`).
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Give an admin a new generated password, printed alone on stdout once; ends its sessions.
    ResetPassword {
        /// The admin account.
        #[arg(default_value = crate::service::admins::INITIAL_ADMIN)]
        username: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; prints the secret alone on stdout, once.
    Create {
        /// A name telling which integration uses the token, e.g. okta-prod.
        #[arg(long)]
        name: String,
        /// Tenant the token belongs to.
        #[arg(long, default_value = DEFAULT_SLUG)]
        tenant: String,
        /// Lifetime, e.g. 30m, 12h, 90d, or `never`. Without it: the install's default (365d
        /// on a database created since secure defaults; never on an older one).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
        /// Client addresses the token may be used from: CIDR ranges or addresses, comma
        /// separated (e.g. your IdP's published ranges). Without it: any address.
        #[arg(long, value_name = "RANGES")]
        allow_from: Vec<String>,
        /// Allow only GET and POST /.search.
        #[arg(long, conflicts_with = "events")]
        read_only: bool,
        /// A token for an application that follows the tenant's events feed
        /// (`GET /t/<tenant>/events`): it can read events and nothing else.
        #[arg(long)]
        events: bool,
    },
    /// List tokens (never their secrets).
    List {
        /// Only this tenant's tokens.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a token by id or name; requests with it get 401 from then on.
    Revoke {
        /// Token id or name.
        token: String,
        /// Tenant of the token, when names repeat across tenants.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Show or change the client addresses a token may be used from (requests from elsewhere
    /// get 403).
    Addresses {
        /// Token id or name.
        token: String,
        /// Tenant of the token, when names repeat across tenants.
        #[arg(long)]
        tenant: Option<String>,
        /// The new list: CIDR ranges or addresses, comma separated; replaces the old list.
        #[arg(long, value_name = "RANGES", conflicts_with = "any")]
        set: Vec<String>,
        /// Accept the token from any address again.
        #[arg(long)]
        any: bool,
    },
    /// Replace a token without downtime: prints the new secret (named NAME-2, then NAME-3…)
    /// alone on stdout; the old token keeps working until the overlap ends.
    Rotate {
        /// Token id or name.
        token: String,
        /// Tenant of the token, when names repeat across tenants.
        #[arg(long)]
        tenant: Option<String>,
        /// How long the old token keeps working, e.g. 0s, 1h, 24h.
        #[arg(long, value_name = "DURATION", default_value = "24h")]
        overlap: String,
        /// Lifetime of the new token (default: the old token's lifetime, if it had one).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant served at /t/SLUG/scim/v2.
    Create {
        /// Lowercase letters, digits and hyphens.
        slug: String,
        /// Human-readable name.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List tenants and their SCIM base paths.
    List,
    /// Show a tenant's settings (strict mode, declared schema extensions).
    Show {
        slug: String,
        /// Print the settings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change settings: `scimd tenant set acme strict=true`, `interop_profile=true` (the SCIM
    /// 2.0 Interoperability Profile; README "Standards").
    Set {
        slug: String,
        /// KEY=VALUE pairs; values are JSON when they read as JSON (true, 3), text otherwise.
        #[arg(required = true, value_name = "KEY=VALUE")]
        assignments: Vec<String>,
    },
    /// Declare, list and remove a tenant's custom schema extensions.
    #[command(subcommand)]
    Extension(ExtensionCommand),
}

#[derive(Debug, Subcommand)]
pub enum ExtensionCommand {
    /// Declare an extension (RFC 7643 §7 schema JSON), or change the one with the same id.
    Add {
        slug: String,
        /// The resource type it extends: User or Group.
        #[arg(long, value_name = "TYPE")]
        resource_type: String,
        /// The schema JSON (`-` reads standard input).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// List the extensions a tenant declares.
    List {
        slug: String,
        /// Print the declarations as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an extension; refused while resources hold values for it.
    Remove { slug: String, urn: String },
}

fn extension(store: &Store, config: &Config, cmd: ExtensionCommand) -> Result<(), String> {
    use crate::service::extensions;
    match cmd {
        ExtensionCommand::Add {
            slug,
            resource_type,
            file,
        } => {
            let text = if file.as_os_str() == "-" {
                let mut t = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut t)
                    .map_err(|e| format!("cannot read the schema from standard input: {e}"))?;
                t
            } else {
                std::fs::read_to_string(&file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?
            };
            let schema: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not JSON: {e}", file.display()))?;
            let e = extensions::declare(
                store,
                &slug,
                &resource_type,
                schema,
                config.limits.extensions(),
            )?;
            out!("{}", e.id)?;
            eprintln!(
                "tenant \"{slug}\" declares {} for {} ({}); it is in /Schemas and /ResourceTypes now",
                e.id,
                e.resource_type,
                e.attributes.join(", ")
            );
            Ok(())
        }
        ExtensionCommand::List { slug, json } => {
            let all = extensions::list(store, &slug)?;
            if json {
                let schemas: Vec<&serde_json::Value> = all.iter().map(|e| &e.schema).collect();
                return out!(
                    "{}",
                    serde_json::to_string_pretty(&schemas).unwrap_or_default()
                );
            }
            for e in all {
                out!(
                    "{}  ({})  {}",
                    e.id,
                    e.resource_type,
                    e.attributes.join(", ")
                )?;
            }
            Ok(())
        }
        ExtensionCommand::Remove { slug, urn } => {
            let e = extensions::remove(store, &slug, &urn)?;
            eprintln!("tenant \"{slug}\" no longer declares {}", e.id);
            Ok(())
        }
    }
}

/// Logs to stderr; `RUST_LOG` sets the filter (default: scimd at `info`, Rocket at `warn`).
pub fn init_tracing() {
    use std::io::IsTerminal;
    use tracing_subscriber::prelude::*;
    // Rocket's per-request lines would repeat what the request log records; keep its warnings.
    // An empty RUST_LOG counts as unset (systemd units and shells often export it empty).
    let chosen = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok());
    let verbose = chosen.is_some();
    let filter = chosen.unwrap_or_else(|| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(filter)
        .with_filter(tracing_subscriber::filter::filter_fn(move |meta| {
            may_log(meta.target(), *meta.level()) && (verbose || !is_routine(meta.target()))
        }));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// The log filter when RUST_LOG is unset: scimd's own lines (start, stop, real problems).
/// Rocket's are off: at warn and error it reports routine events (a guard refusing a
/// request, a HEAD answered by a GET route, a catcher answering a 404), which the request log
/// records better, and what it reports of real problems reaches scimd's own lines too (a
/// failed launch is returned to `serve`, a panicking handler ends in the 500 responder, which
/// logs at error).
const DEFAULT_LOG_FILTER: &str = "info,rocket=off,hyper=off";

/// Rocket's indented sub-lines and its route-guard notes (targets ending in `::_`, also under
/// scimd's own module paths, where Rocket's code generation emits them): routine, kept only
/// when RUST_LOG asks for them.
fn is_routine(target: &str) -> bool {
    target == "_" || target.ends_with("::_")
}

/// Whatever RUST_LOG says, events that can hold secrets are dropped: Rocket's debug line
/// "received request" dumps every header, Authorization (bearer tokens) and Cookie (admin
/// sessions) included, and hyper's trace output can hold raw header bytes (design.md
/// "Errors"). A cap, not a level: it never turns on what RUST_LOG left off.
fn may_log(target: &str, level: tracing::Level) -> bool {
    let under = |prefix: &str| {
        target == prefix
            || target
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with("::"))
    };
    !(under("rocket::server") && level > tracing::Level::INFO
        || under("hyper") && level > tracing::Level::DEBUG)
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::CheckConfig => check_config(&config),
        Command::Backup { file } => backup(&config, &file),
        Command::Health => health(&config),
        Command::Doctor { json, no_self_test } => return doctor(&config, json, !no_self_test),
        Command::Token(cmd) => open(&config).and_then(|store| token(&store, cmd)),
        Command::Tenant(cmd) => open(&config).and_then(|store| tenant(&store, &config, cmd)),
        Command::Log(cmd) => open(&config).and_then(|store| log(&store, cmd)),
        Command::Events(cmd) => open(&config).and_then(|store| events(&store, cmd)),
        Command::Webhook(cmd) => open(&config).and_then(|store| webhook::run(&store, &config, cmd)),
        Command::Oauth(cmd) => open(&config).and_then(|store| oauth::run(&store, &config, cmd)),
        Command::Export { tenant } => {
            open(&config).and_then(|store| export(&store, &config, &tenant))
        }
        Command::Deleted(cmd) => open(&config).and_then(|store| deleted::run(&store, &config, cmd)),
        Command::Ldap(cmd) => open(&config).and_then(|store| crate::ldap::cli::run(&store, cmd)),
        Command::Admin(AdminCommand::ResetPassword { username }) => {
            open(&config).and_then(|store| reset_password(&store, &config.database, &username))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => fail(&msg),
    }
}

/// `scimd doctor`: the report on stdout (text or JSON); exit status 1 when a check failed.
fn doctor(config: &Config, json: bool, self_test: bool) -> ExitCode {
    let report = crate::service::doctor::run(config, self_test);
    let printed = if json {
        serde_json::to_string_pretty(&report)
            .map_err(|e| e.to_string())
            .and_then(|j| out!("{j}"))
    } else {
        print_report(&report)
    };
    if let Err(e) = printed {
        return fail(&e);
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_report(report: &crate::service::doctor::Report) -> Result<(), String> {
    use crate::service::doctor::Outcome;
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for check in &report.checks {
        let mark = match check.outcome {
            Outcome::Pass => "✔",
            Outcome::Warn => "!",
            Outcome::Fail => "✖",
        };
        out!("{mark} {:width$}  {}", check.name, check.detail)?;
        if let Some(fix) = &check.fix {
            out!("  {:width$}  fix: {fix}", "")?;
        }
    }
    out!(
        "{} passed, {} warned, {} failed",
        report.count(Outcome::Pass),
        report.count(Outcome::Warn),
        report.count(Outcome::Fail)
    )
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

fn open(config: &Config) -> Result<Store, String> {
    crate::open_store(config)
        .map_err(|e| format!("cannot open database {}: {e}", config.database.display()))
}

/// Checks `[tls]`, if set, printing the expiry and key-permission warnings; the error is the admin's to fix.
fn check_tls(config: &Config) -> Result<Option<crate::tls::TlsSummary>, String> {
    let Some(tls) = &config.tls else {
        return Ok(None);
    };
    let summary = crate::tls::check(tls, clock::now()).map_err(|e| e.to_string())?;
    if let Some(warning) = &summary.warning {
        eprintln!("warning: {warning}");
    }
    if let Some(warning) = crate::tls::key_exposure(tls) {
        tracing::warn!("{warning}");
    }
    Ok(Some(summary))
}

fn serve(config: Config) -> Result<(), String> {
    // TLS files and the database are checked before the port is bound, so a mistake in either
    // is reported precisely instead of as a failed launch.
    check_tls(&config)?;
    open(&config)?;
    let base = served_base(&config);
    let ui = config.ui_listener().base();
    eprintln!(
        "scimd {} serving {base}/scim/v2, web UI at {ui}/ (database {})",
        env!("CARGO_PKG_VERSION"),
        config.database.display()
    );
    let listeners = crate::listeners(config)?;
    rocket::execute(launch_all(listeners))?;
    eprintln!("scimd stopped; database closed");
    Ok(())
}

/// Runs every listener until one stops, then stops the others. Rocket stops on SIGTERM (and
/// Ctrl-C), each listener on its own signal handler: it stops accepting, lets in-flight
/// requests finish within the shutdown grace period, then returns here. A listener that fails
/// (its port taken) stops the rest, so scimd never half-runs. Dropping the returned instances
/// drops the store's pools, which closes every SQLite connection; every write answered with
/// 2xx was committed before its answer, so nothing is left to flush.
async fn launch_all(listeners: Vec<rocket::Rocket<rocket::Build>>) -> Result<(), String> {
    let mut ignited = Vec::with_capacity(listeners.len());
    for listener in listeners {
        ignited.push(
            listener
                .ignite()
                .await
                .map_err(|e| format!("server stopped: {e}"))?,
        );
    }
    let stops: Vec<rocket::Shutdown> = ignited.iter().map(|l| l.shutdown()).collect();
    let running: Vec<_> = ignited
        .into_iter()
        .map(|listener| {
            let stops = stops.clone();
            rocket::tokio::spawn(async move {
                let result = listener
                    .launch()
                    .await
                    .map_err(|e| format!("server stopped: {e}"));
                stops.into_iter().for_each(rocket::Shutdown::notify);
                result.map(drop)
            })
        })
        .collect();
    let mut outcome = Ok(());
    for run in running {
        let result = run
            .await
            .map_err(|e| format!("server stopped: {e}"))
            .and_then(|r| r);
        outcome = outcome.and(result);
    }
    outcome
}

fn check_config(config: &Config) -> Result<(), String> {
    let tls = check_tls(config)?;
    let text = effective_toml(config)?;
    out!("{text}")?;
    for w in config.warnings() {
        eprintln!("warning: {}: {}; fix: {}", w.key, w.detail, w.fix);
    }
    if let Some(tls) = tls {
        eprintln!(
            "TLS: certificate for {} ({} in the chain) valid until {}; the key matches it",
            tls.subject,
            tls.chain_len,
            clock::timestamp(tls.not_after)
        );
    }
    eprintln!("configuration is valid");
    Ok(())
}

/// Where clients reach this server: `public_url`, else the (public) listening address.
fn served_base(config: &Config) -> String {
    config.listener().base()
}

fn export(store: &Store, config: &Config, slug: &str) -> Result<(), String> {
    let lookup = slug.to_owned();
    let tenant = store
        .read_blocking(move |c| crate::store::tenants::by_slug(c, &lookup))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("there is no tenant \"{slug}\"; `scimd tenant list` shows them"))?;
    let scope = crate::service::Scope {
        schemas: crate::service::settings::registry_of(&tenant),
        tenant_id: tenant.id,
        base_url: crate::service::tokens::scim_base(&served_base(config), &tenant.slug),
        tenant_slug: tenant.slug,
        actor: None,
        history_value_cap: config.history.max_value_bytes,
        strict: false,
        interop_profile: false,
        accept_password: true,
        ephemeral: false,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let count = crate::service::export::export(store, &scope, |resource| {
        serde_json::to_writer(&mut out, resource)?;
        out.write_all(b"\n")
    })?;
    out.flush()
        .map_err(|e| format!("cannot write to standard output: {e}"))?;
    eprintln!(
        "exported {} users and {} groups of tenant \"{slug}\"",
        count.users, count.groups
    );
    Ok(())
}

fn backup(config: &Config, file: &Path) -> Result<(), String> {
    // Opening would create an empty database; a backup of nothing is a mistake to report.
    if !config.database.exists() {
        return Err(format!(
            "database {} does not exist; check `database` in the configuration (or --config)",
            config.database.display()
        ));
    }
    // Named here, before SQLite reports the temporary file it could not create.
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(format!(
            "cannot write {}: the directory {} does not exist; create it or choose another path",
            file.display(),
            dir.display()
        ));
    }
    let store = open(config)?;
    store
        .backup(file)
        .map_err(|e| format!("backup failed: {e}"))?;
    if let Err(e) = crate::service::doctor::record_backup(&store, file) {
        eprintln!(
            "warning: the backup is complete, but its time could not be recorded for `scimd doctor`: {e}"
        );
    }
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let db = config.database.display();
    eprintln!(
        "backed up {db} to {} ({size} bytes); to restore: stop scimd, copy it over {db}, remove {db}-wal and {db}-shm, start scimd",
        file.display()
    );
    Ok(())
}

/// `scimd health`: one HTTP/1.1 GET /healthz to the configured port, over TLS when `[tls]` is
/// set. A wildcard listen address is probed on loopback.
fn health(config: &Config) -> Result<(), String> {
    const TIMEOUT: Duration = Duration::from_secs(5);
    let ip = match config.address {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        other => other,
    };
    let addr = SocketAddr::new(ip, config.port);
    let unhealthy = |e: &dyn std::fmt::Display| format!("unhealthy: {addr}: {e}");
    let tcp = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| unhealthy(&e))?;
    tcp.set_read_timeout(Some(TIMEOUT))
        .and_then(|()| tcp.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| unhealthy(&e))?;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut response = Vec::new();
    match &config.tls {
        None => {
            let mut tcp = tcp;
            tcp.write_all(request.as_bytes())
                .and_then(|()| tcp.read_to_end(&mut response))
                .map_err(|e| unhealthy(&e))?;
        }
        Some(tls) => {
            let client = crate::tls::pinned_client(tls).map_err(|e| e.to_string())?;
            let conn =
                rustls::ClientConnection::new(client, ip.into()).map_err(|e| unhealthy(&e))?;
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            stream
                .write_all(request.as_bytes())
                .map_err(|e| unhealthy(&e))?;
            // Rocket may close without a TLS close_notify; what was read until then counts.
            if let Err(e) = stream.read_to_end(&mut response)
                && response.is_empty()
            {
                return Err(unhealthy(&e));
            }
        }
    }
    let head = String::from_utf8_lossy(&response);
    let status_line = head.lines().next().unwrap_or_default();
    if status_line.starts_with("HTTP/1.1 200") || status_line.starts_with("HTTP/1.0 200") {
        eprintln!("healthy: {addr} answered {status_line}");
        Ok(())
    } else {
        Err(unhealthy(&format!("/healthz answered {status_line:?}")))
    }
}

/// The effective configuration, as TOML (no secrets are part of it).
/// The effective configuration as TOML that `--config` reads back to the same settings
/// (secrets shown as `[redacted]`). TOML has no null, so unset options are listed as comments.
fn effective_toml(config: &Config) -> Result<String, String> {
    let text = toml::to_string(config)
        .map_err(|e| format!("cannot render the configuration as TOML: {e}"))?;
    let unset: Vec<String> = match serde_json::to_value(config) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter(|(_, v)| v.is_null())
            .map(|(k, _)| format!("# {k} is not set"))
            .collect(),
        _ => Vec::new(),
    };
    Ok(if unset.is_empty() {
        text
    } else {
        format!("{}\n{text}", unset.join("\n"))
    })
}

/// How often `scimd events tail --follow` looks for new events (it runs beside the server, so
/// it cannot be woken by the server's commits).
const FOLLOW_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

fn events(store: &Store, cmd: EventsCommand) -> Result<(), String> {
    let EventsCommand::Tail {
        tenant,
        lines,
        after,
        follow,
        json,
    } = cmd;
    let mut cursor = after;
    loop {
        let batch = crate::service::events::tail(store, &tenant, cursor, lines.max(1))?;
        for e in &batch {
            let line = if json {
                e.body.clone()
            } else {
                crate::service::events::describe(&e.body)
            };
            // A closed pipe (`| head`) ends the command quietly.
            if write_line(format_args!("{line}")).is_err() {
                return Ok(());
            }
            cursor = Some(e.seq);
        }
        if !follow {
            return Ok(());
        }
        if cursor.is_none() {
            cursor = Some(0);
        }
        if batch.len() < lines.max(1) as usize {
            std::thread::sleep(FOLLOW_INTERVAL);
        }
    }
}

fn log(store: &Store, cmd: LogCommand) -> Result<(), String> {
    use crate::service::request_log::{self, MAX_PER_PAGE, SearchParams};
    match cmd {
        LogCommand::List {
            errors,
            tenant,
            request_id,
            limit,
            json,
        } => {
            let page = request_log::search(
                store,
                &SearchParams {
                    tenant,
                    request_id,
                    status: errors.then(|| "errors".to_owned()),
                    per_page: Some(limit.clamp(1, MAX_PER_PAGE)),
                    ..SearchParams::default()
                },
            )?;
            if json {
                out!(
                    "{}",
                    serde_json::to_string_pretty(&page).map_err(|e| e.to_string())?
                )?;
                return Ok(());
            }
            for e in &page.items {
                let token = e.token.as_ref().map_or("-", |t| t.name.as_str());
                out!(
                    "{:>7}  {}  {:<8} {:<9} {} {:<6} {}{}",
                    e.id,
                    e.time,
                    e.tenant,
                    e.idp,
                    e.status,
                    e.method,
                    e.path,
                    e.query
                        .as_ref()
                        .map_or_else(String::new, |q| format!("?{q}"))
                )?;
                if let Some(d) = &e.diagnosis {
                    out!("         token {token}: {} — {}", d.title, d.fix)?;
                }
            }
            eprintln!("{} of {} entries", page.items.len(), page.total);
            Ok(())
        }
        LogCommand::Show { id } => {
            let entry = request_log::show(store, id)?;
            out!(
                "{}",
                serde_json::to_string_pretty(&entry).map_err(|e| e.to_string())?
            )?;
            Ok(())
        }
    }
}

fn token(store: &Store, cmd: TokenCommand) -> Result<(), String> {
    match cmd {
        TokenCommand::Create {
            name,
            tenant,
            expires_in,
            allow_from,
            read_only,
            events,
        } => {
            let expires_in = secure_defaults::token_lifetime(store, expires_in.as_deref())?;
            let allowed_addresses = token_addresses::parse(&allow_from)?;
            let issued = tokens::issue(
                store,
                &NewToken {
                    tenant_slug: &tenant,
                    name: &name,
                    read_only,
                    kind: if events {
                        TokenKind::Events
                    } else {
                        TokenKind::Scim
                    },
                    expires_in,
                    allowed_addresses,
                },
            )?;
            let t = &issued.token;
            write_secret(
                &issued.secret,
                &format!("the secret of new token \"{}\" (id {})", t.name, t.id),
                &format!(
                    "the token exists: revoke it with `scimd token revoke {}` and create another",
                    t.id
                ),
            )?;
            eprintln!(
                "created token \"{}\" (id {}, tenant {tenant}{}{}{}); it is shown only once, store it in the IdP now",
                t.name,
                t.id,
                t.expires.as_ref().map_or_else(
                    || ", never expires".to_owned(),
                    |e| format!(", expires {e}")
                ),
                if t.allowed_addresses.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", only from {}",
                        token_addresses::list_text(&t.allowed_addresses)
                    )
                },
                match (t.kind, t.read_only) {
                    (TokenKind::Events, _) => ", events feed only",
                    (_, true) => ", read-only",
                    _ => "",
                }
            );
            Ok(())
        }
        TokenCommand::List { tenant } => {
            let listed = tokens::list(store, tenant.as_deref())?;
            out!(
                "{:<36}  {:<16}  {:<10}  {:<13}  {:<24}  {:<24}  {:<9}  LAST USED",
                "ID",
                "NAME",
                "TENANT",
                "PREFIX",
                "CREATED",
                "EXPIRES",
                "STATUS"
            )?;
            for l in listed {
                let t = &l.token;
                let mut status = l.status.to_owned();
                if let Some(by) = &l.replaced_by_name {
                    status = format!(
                        "{status} (by {by}, until {})",
                        t.overlap_until.as_deref().unwrap_or("?")
                    );
                }
                if t.read_only {
                    status.push_str(" read-only");
                }
                if t.kind == TokenKind::Events {
                    status.push_str(" events");
                }
                if !t.allowed_addresses.is_empty() {
                    status.push_str(" from ");
                    status.push_str(&token_addresses::list_text(&t.allowed_addresses));
                }
                let used = t.last_used.as_deref().map_or_else(
                    || "never".to_owned(),
                    |at| {
                        format!(
                            "{at} from {} ({})",
                            t.last_used_ip.as_deref().unwrap_or("?"),
                            t.last_used_agent.as_deref().unwrap_or("no User-Agent")
                        )
                    },
                );
                out!(
                    "{:<36}  {:<16}  {:<10}  {:<13}  {:<24}  {:<24}  {status:<9}  {used}",
                    t.id,
                    t.name,
                    l.tenant,
                    t.prefix,
                    t.created,
                    t.expires.as_deref().unwrap_or("never"),
                )?;
            }
            Ok(())
        }
        TokenCommand::Addresses {
            token,
            tenant,
            set,
            any,
        } => token_addresses_command(store, &token, tenant.as_deref(), &set, any),
        TokenCommand::Revoke { token, tenant } => {
            let t = tokens::revoke(store, tenant.as_deref(), &token)?;
            eprintln!(
                "revoked token \"{}\" ({}); requests using it now get 401",
                t.name, t.id
            );
            Ok(())
        }
        TokenCommand::Rotate {
            token,
            tenant,
            overlap,
            expires_in,
        } => {
            let rotated = tokens::rotate(
                store,
                &Rotation {
                    tenant_slug: tenant.as_deref(),
                    id_or_name: &token,
                    overlap: tokens::parse_duration(&overlap)?,
                    expires_in: expires_in
                        .as_deref()
                        .map(tokens::parse_duration)
                        .transpose()?,
                },
            )?;
            let new = &rotated.new.token;
            write_secret(
                &rotated.new.secret,
                &format!("the secret of new token \"{}\" (id {})", new.name, new.id),
                &format!(
                    "the old token keeps working until the overlap ends: revoke the new one with `scimd token revoke {}` and rotate again",
                    new.id
                ),
            )?;
            eprintln!(
                "created token \"{}\" (id {}) to replace \"{}\", which keeps working until {}; the new secret is shown only once, put it in the IdP now",
                rotated.new.token.name,
                rotated.new.token.id,
                rotated.old.name,
                rotated.old.overlap_until.as_deref().unwrap_or("now")
            );
            Ok(())
        }
    }
}

/// `scimd token addresses`: prints the token's allowlist, after replacing it when asked.
fn token_addresses_command(
    store: &Store,
    token: &str,
    tenant: Option<&str>,
    set: &[String],
    any: bool,
) -> Result<(), String> {
    let row = if any || !set.is_empty() {
        let list = token_addresses::parse(set)?;
        if list.is_empty() && !any {
            return Err("--set needs at least one range; use --any to accept every address".into());
        }
        token_addresses::set(store, tenant, token, list)?
    } else {
        let tenant_id = match tenant {
            Some(slug) => Some(
                tenants_service::list(store)?
                    .into_iter()
                    .find(|t| t.slug == slug)
                    .ok_or_else(|| {
                        format!("there is no tenant \"{slug}\"; `scimd tenant list` shows them")
                    })?
                    .id,
            ),
            None => None,
        };
        let wanted = token.to_owned();
        store
            .read_blocking(move |c| crate::store::tokens::find(c, &wanted, tenant_id))
            .map_err(|e| match e {
                crate::store::StoreError::NotFound => {
                    format!("no token has the id or name \"{token}\" (see `scimd token list`)")
                }
                other => other.to_string(),
            })?
    };
    for net in &row.allowed_addresses {
        out!("{net}")?;
    }
    if row.allowed_addresses.is_empty() {
        eprintln!("token \"{}\" is accepted from any address", row.name);
    } else {
        eprintln!(
            "token \"{}\" is accepted only from {}",
            row.name,
            token_addresses::list_text(&row.allowed_addresses)
        );
    }
    Ok(())
}

fn reset_password(store: &Store, database: &Path, username: &str) -> Result<(), String> {
    let password = crate::service::admins::reset_password(store, username)?;
    if username == crate::service::admins::INITIAL_ADMIN {
        crate::store::files::forget_initial_password(database);
    }
    write_secret(
        &password,
        &format!("the new password of admin \"{username}\""),
        "it is set and the admin's sessions were ended: run reset-password again",
    )?;
    eprintln!(
        "set a new password for admin \"{username}\"; it is shown only once, and its sessions were ended"
    );
    Ok(())
}

fn tenant(store: &Store, config: &Config, cmd: TenantCommand) -> Result<(), String> {
    match cmd {
        TenantCommand::Show { slug, json } => {
            let s = crate::service::settings::show(store, &slug)?;
            if json {
                return out!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
            }
            out!("tenant {slug}")?;
            out!("  strict      {}", s.strict)?;
            out!(
                "  passwords   {}",
                if s.accept_password {
                    "accepted (stored hashed, for LDAP binds)"
                } else {
                    "refused (accept_password = false)"
                }
            )?;
            out!(
                "  credentials {}",
                match (s.require_oauth, s.require_private_key_jwt) {
                    (false, false) => "SCIM tokens and OAuth access tokens",
                    (true, false) => "OAuth access tokens only (require_oauth = true)",
                    (false, true) => {
                        "SCIM tokens and OAuth access tokens; OAuth clients sign assertions (require_private_key_jwt = true)"
                    }
                    (true, true) => {
                        "OAuth access tokens only, clients sign assertions (require_oauth, require_private_key_jwt)"
                    }
                }
            )?;
            out!(
                "  profile     {}",
                if s.interop_profile {
                    "SCIM Interoperability Profile (interop_profile = true; strict implied)"
                } else {
                    "none (interop_profile = false: IdP quirks accepted)"
                }
            )?;
            out!(
                "  deleted     restorable {} days; alarm at {} removals within {} s{}",
                s.tombstone_retention_days,
                s.alarm_threshold,
                s.alarm_window_secs,
                if s.ephemeral {
                    " (ephemeral: neither)"
                } else {
                    ""
                }
            )?;
            out!("  extensions  {}", s.extensions.len())?;
            for e in crate::service::extensions::list(store, &slug)? {
                out!(
                    "    {}  ({})  {}",
                    e.id,
                    e.resource_type,
                    e.attributes.join(", ")
                )?;
            }
            Ok(())
        }
        TenantCommand::Set { slug, assignments } => {
            let mut changes = serde_json::Map::new();
            for a in &assignments {
                let (k, v) = crate::service::settings::parse_assignment(a)?;
                changes.insert(k, v);
            }
            let s = crate::service::settings::set(store, &slug, changes)?;
            eprintln!(
                "tenant \"{slug}\" now has strict = {}, interop_profile = {}",
                s.strict, s.interop_profile
            );
            Ok(())
        }
        TenantCommand::Extension(cmd) => extension(store, config, cmd),
        TenantCommand::Create { slug, display_name } => {
            let t = tenants_service::create(store, &slug, display_name.as_deref())?;
            out!("{}", t.slug)?;
            eprintln!(
                "created tenant \"{}\"; its SCIM base path is {}",
                t.slug,
                tokens::scim_base("", &t.slug)
            );
            Ok(())
        }
        TenantCommand::List => {
            let all = tenants_service::list(store)?;
            out!(
                "{:<24}  {:<32}  {:<24}  SCIM BASE PATH",
                "SLUG",
                "DISPLAY NAME",
                "CREATED"
            )?;
            for t in all {
                out!(
                    "{:<24}  {:<32}  {:<24}  {}",
                    t.slug,
                    t.display_name,
                    t.created,
                    tokens::scim_base("", &t.slug)
                )?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::may_log;

    #[test]
    fn header_dumping_events_are_capped_whatever_rust_log_says() {
        assert!(may_log("rocket::server", Level::INFO));
        assert!(!may_log("rocket::server", Level::DEBUG));
        assert!(!may_log("rocket::server::_", Level::TRACE));
        assert!(may_log("hyper::proto", Level::DEBUG));
        assert!(!may_log("hyper::proto::h1", Level::TRACE));
        assert!(
            may_log("hyper_util", Level::TRACE),
            "only hyper itself is capped"
        );
        assert!(may_log("scimd::store", Level::TRACE));
    }
}
