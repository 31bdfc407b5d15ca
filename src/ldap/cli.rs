//! `scimd ldap …`: the LDAP directory's service accounts (`account add|list|remove`) and the
//! values to paste into an application (`info`).

use std::io::Write;

use clap::Subcommand;

use crate::service::ldap;
use crate::store::Store;
use crate::store::tenants::DEFAULT_SLUG;

#[derive(Debug, Subcommand)]
pub enum LdapCommand {
    /// Service accounts that applications bind with (bind DN + secret, one tenant each).
    #[command(subcommand)]
    Account(AccountCommand),
    /// The base DN, bind DN pattern and filters of a tenant's directory, to paste into an
    /// application.
    Info {
        #[arg(long, default_value = DEFAULT_SLUG)]
        tenant: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create a service account; its secret is printed once on standard output.
    Add {
        /// The account's name: the cn of its bind DN (e.g. gitlab).
        name: String,
        #[arg(long, default_value = DEFAULT_SLUG)]
        tenant: String,
    },
    /// List service accounts (never their secrets).
    List {
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Remove a service account: its binds fail from now on.
    Remove {
        name: String,
        #[arg(long, default_value = DEFAULT_SLUG)]
        tenant: String,
    },
}

fn out(line: std::fmt::Arguments<'_>) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to standard output: {e}"))
}

/// Runs `scimd ldap …`.
pub fn run(store: &Store, cmd: LdapCommand) -> Result<(), String> {
    match cmd {
        LdapCommand::Account(AccountCommand::Add { name, tenant }) => {
            let issued = ldap::add_account(store, &tenant, &name)?;
            out(format_args!("{}", issued.secret)).map_err(|e| {
                format!("{e}; the account exists: remove it with `scimd ldap account remove {name} --tenant {tenant}` and add it again")
            })?;
            eprintln!(
                "created LDAP service account \"{name}\" of tenant {tenant}; bind DN: {}\nthe secret above is shown only once: store it in the application now",
                issued.bind_dn
            );
            Ok(())
        }
        LdapCommand::Account(AccountCommand::List { tenant }) => {
            let listed = ldap::list_accounts(store, tenant.as_deref())?;
            if listed.is_empty() {
                eprintln!("no LDAP service accounts; add one with `scimd ldap account add <name>`");
            }
            for a in listed {
                out(format_args!(
                    "{}\t{}\t{}\tcreated {}\tlast used {}",
                    a.tenant,
                    a.account.name,
                    a.bind_dn,
                    a.account.created,
                    a.account.last_used.as_deref().unwrap_or("never")
                ))?;
            }
            Ok(())
        }
        LdapCommand::Account(AccountCommand::Remove { name, tenant }) => {
            ldap::remove_account(store, &tenant, &name)?;
            eprintln!("removed LDAP service account \"{name}\" of tenant {tenant}");
            Ok(())
        }
        LdapCommand::Info { tenant } => {
            let dir = ldap::directory_of(store, &tenant)?;
            let b = &dir.base_dn;
            out(format_args!("base DN:       {b}"))?;
            out(format_args!(
                "users:         ou=people,{b}  (uid=<userName>)"
            ))?;
            out(format_args!(
                "groups:        ou=groups,{b}  (cn=<displayName>)"
            ))?;
            out(format_args!(
                "bind DN:       {}",
                ldap::account_dn(b, "<name>")
            ))?;
            out(format_args!(
                "user filter:   (&(objectClass=inetOrgPerson)(uid=%s))"
            ))?;
            out(format_args!(
                "group filter:  (&(objectClass=groupOfNames)(member=%s))"
            ))?;
            Ok(())
        }
    }
}
