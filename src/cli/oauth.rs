//! `scimd oauth client …`: register, list, rotate and revoke the OAuth 2.0 clients of a
//! tenant's token endpoint. `add` and `rotate` print one JSON object on stdout (client id,
//! secret shown once, token endpoint) so a script can read it; the rest goes to stderr.

use clap::{Subcommand, ValueEnum};

use super::write_secret;
use crate::config::Config;
use crate::service::oauth::{self, NewClient, Registered, Rotation};
use crate::service::tokens::{DEFAULT_OVERLAP, parse_duration};
use crate::store::Store;
use crate::store::oauth::Method;

#[derive(Debug, Subcommand)]
pub enum OauthCommand {
    /// OAuth 2.0 clients of a tenant (client credentials; authorization code with redirect URIs).
    #[command(subcommand)]
    Client(ClientCommand),
    /// External authorization servers whose JWT access tokens a tenant accepts.
    #[command(subcommand)]
    Issuer(IssuerCommand),
}

#[derive(Debug, Subcommand)]
pub enum IssuerCommand {
    /// Trust an issuer's JWT access tokens (signature by its JWKS, iss, aud, exp, scope scim).
    Add {
        #[arg(long, default_value = crate::store::tenants::DEFAULT_SLUG)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// The tokens' `iss`.
        #[arg(long)]
        issuer: String,
        #[arg(long, value_name = "URL")]
        jwks_uri: String,
        /// The `aud` required (default: the tenant's SCIM base URL).
        #[arg(long)]
        audience: Option<String>,
    },
    /// The trusted issuers.
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Stop trusting an issuer (id, name or issuer URL).
    Remove {
        issuer: String,
        #[arg(long)]
        tenant: Option<String>,
    },
}

fn issuer(store: &Store, config: &Config, cmd: IssuerCommand) -> Result<(), String> {
    use crate::service::oauth_external as external;
    match cmd {
        IssuerCommand::Add {
            tenant,
            name,
            issuer,
            jwks_uri,
            audience,
        } => {
            let row = external::add(
                store,
                &config.oauth,
                (&tenant, &name),
                (&issuer, &jwks_uri, audience.as_deref()),
            )?;
            eprintln!(
                "tenant {tenant} accepts JWT access tokens of \"{}\" ({}) with scope scim",
                row.name, row.issuer
            );
            Ok(())
        }
        IssuerCommand::List { tenant } => {
            for i in external::list(store, tenant.as_deref())? {
                println!(
                    "{:<20}  {:<40}  {}  aud={}",
                    i.name,
                    i.issuer,
                    i.jwks_uri,
                    i.audience.as_deref().unwrap_or("(the SCIM base URL)")
                );
            }
            Ok(())
        }
        IssuerCommand::Remove { issuer, tenant } => {
            let row = external::remove(store, tenant.as_deref(), &issuer)?;
            eprintln!(
                "removed trusted issuer \"{}\"; its tokens are refused from now on",
                row.name
            );
            Ok(())
        }
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AuthMethod {
    /// A client secret, sent with HTTP Basic or in the form (Entra, Okta).
    ClientSecret,
    /// A JWT signed with the client's private key (RFC 7523); give --public-key or --jwks-uri.
    PrivateKeyJwt,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client. Prints {client_id, client_secret, token_endpoint, scope} as JSON on
    /// stdout; the secret is shown only once.
    Add {
        #[arg(long, default_value = crate::store::tenants::DEFAULT_SLUG)]
        tenant: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value = "client-secret")]
        method: AuthMethod,
        /// File holding the client's public key(s): PEM, or a JWK Set (private_key_jwt).
        #[arg(long, value_name = "FILE")]
        public_key: Option<std::path::PathBuf>,
        /// The client's JWK Set URL (private_key_jwt), fetched and cached by scimd.
        #[arg(long, value_name = "URL")]
        jwks_uri: Option<String>,
        /// A redirect URI of the authorization code grant (repeatable), e.g. Okta's
        /// https://ORG.okta.com/admin/app/cpc/APP/oauth/callback; makes it an authorization
        /// code client (Okta's "OAuth 2" mode) instead of a client credentials one.
        #[arg(long = "redirect-uri", value_name = "URL")]
        redirect_uris: Vec<String>,
    },
    /// Replace a client's redirect URIs (none given: it becomes a client credentials client).
    RedirectUris {
        /// Id, client_id or name.
        client: String,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long = "redirect-uri", value_name = "URL")]
        redirect_uris: Vec<String>,
    },
    /// The clients, their status and live access tokens.
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A new secret (the previous one works for --overlap, default 24h), or new keys.
    Rotate {
        /// Id, client_id or name.
        client: String,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        overlap: Option<String>,
        #[arg(long, value_name = "FILE")]
        public_key: Option<std::path::PathBuf>,
        #[arg(long, value_name = "URL")]
        jwks_uri: Option<String>,
    },
    /// Revoke a client: its access tokens stop working at once.
    Revoke {
        /// Id, client_id or name.
        client: String,
        #[arg(long)]
        tenant: Option<String>,
    },
}

fn read_keys(file: Option<&std::path::Path>) -> Result<Option<String>, String> {
    file.map(|f| {
        std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))
    })
    .transpose()
}

fn origin(config: &Config) -> String {
    config
        .public_base()
        .map_or_else(|| config.listener().base(), str::to_owned)
}

fn print(config: &Config, slug: &str, r: &Registered, what: &str) -> Result<(), String> {
    let shown = serde_json::json!({
        "client_id": r.client.client_id,
        "client_secret": r.client_secret,
        "token_endpoint": oauth::token_endpoint(&origin(config), slug),
        "authorization_endpoint": (!r.client.redirect_uris.is_empty())
            .then(|| oauth::authorization_endpoint(&origin(config), slug)),
        "redirect_uris": r.client.redirect_uris,
        "scope": oauth::SCOPE,
        "method": r.client.method,
    });
    write_secret(
        &shown.to_string(),
        what,
        &format!(
            "rotate it with `scimd oauth client rotate {}`",
            r.client.name
        ),
    )
}

fn slug_of(store: &Store, tenant_id: i64) -> String {
    store
        .read_blocking(|c| crate::store::tenants::by_id(c, tenant_id))
        .map_or_else(|_| String::new(), |t| t.slug)
}

pub fn run(store: &Store, config: &Config, cmd: OauthCommand) -> Result<(), String> {
    let cmd = match cmd {
        OauthCommand::Client(c) => c,
        OauthCommand::Issuer(c) => return issuer(store, config, c),
    };
    match cmd {
        ClientCommand::Add {
            tenant,
            name,
            method,
            public_key,
            jwks_uri,
            redirect_uris,
        } => {
            let keys = read_keys(public_key.as_deref())?;
            let method = match method {
                AuthMethod::ClientSecret => Method::ClientSecret,
                AuthMethod::PrivateKeyJwt => Method::PrivateKeyJwt,
            };
            let r = oauth::add(
                store,
                &NewClient {
                    tenant_slug: &tenant,
                    name: &name,
                    method,
                    public_keys: keys.as_deref(),
                    jwks_uri: jwks_uri.as_deref(),
                    redirect_uris: &redirect_uris,
                },
                &config.oauth,
            )?;
            print(config, &tenant, &r, "the new client's credentials")?;
            eprintln!(
                "registered OAuth client \"{name}\" (tenant {tenant}, {}); access tokens live {} s",
                method.as_str(),
                config.oauth.access_token_lifetime_secs
            );
            Ok(())
        }
        ClientCommand::RedirectUris {
            client,
            tenant,
            redirect_uris,
        } => {
            let row = crate::service::oauth_code::set_redirect_uris(
                store,
                &config.oauth,
                (tenant.as_deref(), &client),
                &redirect_uris,
            )?;
            if row.redirect_uris.is_empty() {
                eprintln!(
                    "OAuth client \"{}\" has no redirect URI: it uses client credentials",
                    row.name
                );
            } else {
                eprintln!(
                    "OAuth client \"{}\" uses the authorization code grant; redirect URIs: {}",
                    row.name,
                    row.redirect_uris.join(" ")
                );
            }
            Ok(())
        }
        ClientCommand::List { tenant, json } => {
            let listed = oauth::list(store, tenant.as_deref())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&listed).map_err(|e| e.to_string())?
                );
                return Ok(());
            }
            println!(
                "{:<20}  {:<10}  {:<26}  {:<16}  {:<9}  {:>6}  LAST USED",
                "NAME", "TENANT", "CLIENT ID", "METHOD", "STATUS", "TOKENS"
            );
            for l in &listed {
                let c = &l.client;
                println!(
                    "{:<20}  {:<10}  {:<26}  {:<16}  {:<9}  {:>6}  {}",
                    c.name,
                    l.tenant,
                    c.client_id,
                    c.method.as_str(),
                    l.status,
                    l.live_tokens,
                    c.last_used.as_deref().unwrap_or("never")
                );
            }
            Ok(())
        }
        ClientCommand::Rotate {
            client,
            tenant,
            overlap,
            public_key,
            jwks_uri,
        } => {
            let keys = read_keys(public_key.as_deref())?;
            let overlap = overlap
                .as_deref()
                .map(parse_duration)
                .transpose()?
                .unwrap_or(DEFAULT_OVERLAP);
            let r = oauth::rotate(
                store,
                &Rotation {
                    tenant_slug: tenant.as_deref(),
                    wanted: &client,
                    overlap,
                    public_keys: keys.as_deref(),
                    jwks_uri: jwks_uri.as_deref(),
                },
                &config.oauth,
            )?;
            let slug = slug_of(store, r.client.tenant_id);
            print(config, &slug, &r, "the rotated client's credentials")?;
            eprintln!(
                "rotated OAuth client \"{}\"{}",
                r.client.name,
                r.client
                    .previous_until
                    .as_deref()
                    .map_or_else(String::new, |u| format!(
                        "; the previous secret works until {u}"
                    ))
            );
            Ok(())
        }
        ClientCommand::Revoke { client, tenant } => {
            let c = oauth::revoke(store, tenant.as_deref(), &client)?;
            eprintln!(
                "revoked OAuth client \"{}\" ({}); its access tokens no longer work",
                c.name, c.client_id
            );
            Ok(())
        }
    }
}
