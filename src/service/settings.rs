//! A tenant's settings: one typed model, stored as a JSON object on the tenant's row, that the
//! CLI (`scimd tenant set|show`), the admin API and the UI read and change. Keys a stored object
//! lacks take their defaults, so a new setting is a new field here (with its default and its
//! check in [`TenantSettings::validate`]) and nothing else: no migration, no new command.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::OpError;
use crate::scim::extension;
use crate::scim::schema::Registry;
use crate::store::Store;
use crate::store::tenants::{self, Tenant};

/// Every setting of a tenant, with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantSettings {
    /// Refuse attributes that no schema of the tenant declares (400 `invalidSyntax`) instead
    /// of ignoring them and reporting them in the request log.
    pub strict: bool,
    /// Behave as the SCIM 2.0 Interoperability Profile (draft-zollner-scim-interop-profile-01)
    /// requires: `strict` implied, path-less PATCH operations and values outside
    /// `canonicalValues` refused, `replace` of a whole complex attribute replaces it, and
    /// `interopProfileConformant: true` advertised. Off, IdPs' common deviations are accepted
    /// and recorded as quirks (README "Standards").
    pub interop_profile: bool,
    /// Take `password` in SCIM writes (stored as an argon2 hash for LDAP binds). Off, a write
    /// carrying one is refused and /Schemas leaves it out: IPSIE's successor profile forbids
    /// accepting passwords, at the price of LDAP binds for this tenant's users.
    pub accept_password: bool,
    /// Refuse SCIM bearer tokens on the tenant's SCIM API: only OAuth access tokens (from the
    /// tenant's token endpoint or an issuer it trusts) are taken, as IPSIE's SCIM profile
    /// requires (§3.2.1). Events tokens, which read the feed and not SCIM, are unaffected.
    pub require_oauth: bool,
    /// Refuse client secrets at the tenant's token endpoint: clients authenticate with a signed
    /// assertion (`private_key_jwt`, RFC 7523), as IPSIE's SCIM profile requires (§4).
    pub require_private_key_jwt: bool,
    /// The schema extensions the tenant declared, in RFC 7643 §7 form. Changed through
    /// `scimd tenant extension …` or `/api/tenants/<slug>/extensions`, which check stored data.
    pub extensions: Vec<Extension>,
    /// Days a deleted user or group stays restorable as a tombstone before it is pruned
    /// (issue 25).
    pub tombstone_retention_days: u32,
    /// Deletions plus deactivations within `alarm_window_secs` that raise a mass-change alarm;
    /// 0 turns the alarm off.
    pub alarm_threshold: u32,
    /// The sliding window of the mass-change alarm, in seconds.
    pub alarm_window_secs: u32,
    /// A throwaway tenant (a doctor's test tenant): deletions leave no tombstone and raise no
    /// alarm.
    pub ephemeral: bool,
    /// The base DN of the tenant's LDAP tree (`[ldap]`); unset, `dc=<slug>,dc=scimd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ldap_base_dn: Option<String>,
}

/// Defaults of the deletion-safety settings.
pub const DEFAULT_TOMBSTONE_RETENTION_DAYS: u32 = 30;
pub const DEFAULT_ALARM_THRESHOLD: u32 = 100;
pub const DEFAULT_ALARM_WINDOW_SECS: u32 = 600;
/// Settings not stored while at their default (see [`save`]).
const DEFAULTED_KEYS: &[&str] = &[
    "interop_profile",
    "accept_password",
    "require_oauth",
    "require_private_key_jwt",
    "tombstone_retention_days",
    "alarm_threshold",
    "alarm_window_secs",
    "ephemeral",
];
/// Bounds of the deletion-safety settings (README "Limits").
pub const MAX_TOMBSTONE_RETENTION_DAYS: u32 = 3650;
pub const ALARM_WINDOW_SECS: std::ops::RangeInclusive<u32> = 10..=86_400;

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            strict: false,
            interop_profile: false,
            accept_password: true,
            require_oauth: false,
            require_private_key_jwt: false,
            extensions: Vec::new(),
            tombstone_retention_days: DEFAULT_TOMBSTONE_RETENTION_DAYS,
            alarm_threshold: DEFAULT_ALARM_THRESHOLD,
            alarm_window_secs: DEFAULT_ALARM_WINDOW_SECS,
            ephemeral: false,
            ldap_base_dn: None,
        }
    }
}

/// One declared extension: the resource type it extends and its schema as declared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Extension {
    pub resource_type: String,
    pub schema: Value,
}

impl Extension {
    /// The extension's URN (`schema.id`).
    pub fn id(&self) -> &str {
        self.schema
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// Keys `scimd tenant set` and `PATCH /api/tenants/<slug>/settings` change directly.
/// `extensions` is not one: its own commands check what stored data a change would touch.
const SCALAR_KEYS: &[&str] = &[
    "strict",
    "interop_profile",
    "accept_password",
    "require_oauth",
    "require_private_key_jwt",
    "tombstone_retention_days",
    "alarm_threshold",
    "alarm_window_secs",
    "ephemeral",
    "ldap_base_dn",
];

impl TenantSettings {
    /// Reads stored settings; keys missing take their defaults.
    pub fn parse(raw: &str) -> Result<Self, String> {
        serde_json::from_str(raw).map_err(|e| format!("the tenant's settings are unreadable: {e}"))
    }

    /// Checks the settings as a whole (each later key adds its own check here).
    pub fn validate(&self) -> Result<(), String> {
        for e in &self.extensions {
            extension::resource_type(&e.resource_type)?;
        }
        if !(1..=MAX_TOMBSTONE_RETENTION_DAYS).contains(&self.tombstone_retention_days) {
            return Err(format!(
                "tombstone_retention_days must be between 1 and {MAX_TOMBSTONE_RETENTION_DAYS}; deleted users and groups are kept that many days"
            ));
        }
        if !ALARM_WINDOW_SECS.contains(&self.alarm_window_secs) {
            return Err(format!(
                "alarm_window_secs must be between {} and {} seconds",
                ALARM_WINDOW_SECS.start(),
                ALARM_WINDOW_SECS.end()
            ));
        }
        if let Some(dn) = &self.ldap_base_dn {
            let well_formed = dn.split(',').all(|rdn| {
                rdn.split_once('=')
                    .is_some_and(|(a, v)| !a.trim().is_empty() && !v.trim().is_empty())
            });
            if !well_formed || dn.contains(['\\', '+', '"']) {
                return Err(format!(
                    "ldap_base_dn \"{dn}\" is not a plain DN such as dc=example,dc=com (attribute=value pairs separated by commas, no escapes)"
                ));
            }
        }
        Ok(())
    }

    /// The schemas the tenant serves. Declarations were checked when they were stored; one
    /// that no longer parses (a newer scimd's form) is left out and logged, not fatal.
    pub fn registry(&self) -> Arc<Registry> {
        if self.extensions.is_empty() {
            return Registry::core();
        }
        let unbounded = extension::ExtensionLimits {
            max_extensions: usize::MAX,
            max_attributes: usize::MAX,
            max_bytes: usize::MAX,
        };
        let mut parsed = Vec::new();
        for e in &self.extensions {
            let declared = extension::resource_type(&e.resource_type)
                .and_then(|rt| extension::parse(rt, &e.schema, &unbounded).map(|s| (rt.name, s)));
            match declared {
                Ok(d) => parsed.push(d),
                Err(err) => tracing::error!("extension {} is left out: {err}", e.id()),
            }
        }
        Arc::new(Registry::with_extensions(parsed))
    }
}

/// The schemas a tenant serves, from its stored settings.
pub fn registry_of(tenant: &Tenant) -> Arc<Registry> {
    // Most tenants declare nothing: no parsing on their requests.
    if !tenant.settings.contains("\"extensions\"") {
        return Registry::core();
    }
    match TenantSettings::parse(&tenant.settings) {
        Ok(s) => s.registry(),
        Err(e) => {
            tracing::error!("tenant {}: {e}", tenant.slug);
            Registry::core()
        }
    }
}

/// Whether the tenant refuses undeclared attributes.
pub fn strict_of(tenant: &Tenant) -> bool {
    tenant.settings.contains("\"strict\"")
        && TenantSettings::parse(&tenant.settings).is_ok_and(|s| s.strict)
}

/// Whether the tenant runs in Interoperability Profile mode (`interop_profile`); as cheap as
/// [`strict_of`] for the tenants that never named the key.
pub fn interop_profile_of(tenant: &Tenant) -> bool {
    tenant.settings.contains("\"interop_profile\"")
        && TenantSettings::parse(&tenant.settings).is_ok_and(|s| s.interop_profile)
}

/// Whether the tenant takes `password` in SCIM writes (`accept_password`, default true).
pub fn accepts_password(tenant: &Tenant) -> bool {
    !tenant.settings.contains("\"accept_password\"")
        || TenantSettings::parse(&tenant.settings).map_or(true, |s| s.accept_password)
}

/// Whether the tenant's SCIM API takes only OAuth access tokens (`require_oauth`).
pub fn requires_oauth(tenant: &Tenant) -> bool {
    tenant.settings.contains("\"require_oauth\"") && of(tenant).require_oauth
}

/// Whether the tenant's token endpoint refuses client secrets (`require_private_key_jwt`).
pub fn requires_private_key_jwt(tenant: &Tenant) -> bool {
    tenant.settings.contains("\"require_private_key_jwt\"") && of(tenant).require_private_key_jwt
}

/// Whether `tenant` is a throwaway one (`ephemeral`); cheap enough for every request, since
/// only a tenant whose settings name the key can be one.
pub fn ephemeral_of(tenant: &Tenant) -> bool {
    tenant.settings.contains("\"ephemeral\"") && of(tenant).ephemeral
}

/// A tenant's settings as stored; unreadable ones take the defaults (and are logged).
pub fn of(tenant: &Tenant) -> TenantSettings {
    TenantSettings::parse(&tenant.settings).unwrap_or_else(|e| {
        tracing::error!("tenant {}: {e}", tenant.slug);
        TenantSettings::default()
    })
}

/// A tenant's settings, loaded by slug.
pub fn show(store: &Store, slug: &str) -> Result<TenantSettings, OpError> {
    let (_, settings) = load(store, slug)?;
    Ok(settings)
}

fn load(store: &Store, slug: &str) -> Result<(Tenant, TenantSettings), OpError> {
    let owned = slug.to_owned();
    let tenant = store
        .read_blocking(move |c| tenants::by_slug(c, &owned))
        .map_err(|e| OpError::Internal(e.to_string()))?
        .ok_or_else(|| no_tenant(slug))?;
    let settings = TenantSettings::parse(&tenant.settings).map_err(OpError::Internal)?;
    Ok((tenant, settings))
}

/// Parses `key=value` as `scimd tenant set` takes it: the value is JSON when it reads as JSON
/// (`true`, `3`), a string otherwise.
pub fn parse_assignment(s: &str) -> Result<(String, Value), OpError> {
    let (key, value) = s.split_once('=').ok_or_else(|| {
        OpError::Invalid(format!(
            "\"{s}\" is not key=value; e.g. strict=true (keys: {})",
            SCALAR_KEYS.join(", ")
        ))
    })?;
    let value = serde_json::from_str(value.trim()).unwrap_or_else(|_| Value::String(value.into()));
    Ok((key.trim().to_owned(), value))
}

/// Changes the given keys, leaving the others as they are; all or nothing.
pub fn set(
    store: &Store,
    slug: &str,
    changes: Map<String, Value>,
) -> Result<TenantSettings, OpError> {
    if changes.is_empty() {
        return Err(OpError::Invalid(format!(
            "nothing to change; name at least one setting (keys: {})",
            SCALAR_KEYS.join(", ")
        )));
    }
    for key in changes.keys() {
        if key == "extensions" {
            return Err(OpError::Invalid(format!(
                "extensions are declared with `scimd tenant extension add {slug} …` (or POST /api/tenants/{slug}/extensions), which check the stored data a change would touch"
            )));
        }
        if !SCALAR_KEYS.contains(&key.as_str()) {
            return Err(OpError::Invalid(format!(
                "\"{key}\" is not a tenant setting; the settings are {}",
                SCALAR_KEYS.join(", ")
            )));
        }
    }
    // Each key alone first, so an error names the key it is about.
    for (key, value) in &changes {
        let alone = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
        if let Err(e) = serde_json::from_value::<TenantSettings>(alone) {
            return Err(OpError::Invalid(format!("setting {key}: {e}")));
        }
    }
    let owned_slug = slug.to_owned();
    store
        .write_blocking(move |tx| {
            let Some(tenant) = tenants::by_slug(tx, &owned_slug)? else {
                return Ok(Err(no_tenant(&owned_slug)));
            };
            let mut current: Map<String, Value> =
                serde_json::from_str(&tenant.settings).unwrap_or_default();
            current.extend(changes);
            let updated: TenantSettings = match serde_json::from_value(Value::Object(current)) {
                Ok(s) => s,
                Err(e) => return Ok(Err(OpError::Invalid(format!("settings: {e}")))),
            };
            if let Err(e) = updated.validate() {
                return Ok(Err(OpError::Invalid(e)));
            }
            save(tx, tenant.id, &updated)?;
            Ok(Ok(updated))
        })
        .map_err(|e| OpError::Internal(e.to_string()))?
}

/// Stores settings (inside the caller's write transaction).
pub(super) fn save(
    tx: &rusqlite::Connection,
    tenant_id: i64,
    settings: &TenantSettings,
) -> crate::store::Result<()> {
    let mut stored = serde_json::to_value(settings)?;
    // Deletion-safety keys at their defaults are left out: a stored object holds what was
    // chosen, and a later default applies to tenants that never chose.
    if let (Value::Object(stored), Value::Object(defaults)) = (
        &mut stored,
        serde_json::to_value(TenantSettings::default())?,
    ) {
        for key in DEFAULTED_KEYS {
            if stored.get(*key) == defaults.get(*key) {
                stored.remove(*key);
            }
        }
    }
    tenants::set_settings(tx, tenant_id, &stored.to_string())
}

pub(super) fn no_tenant(slug: &str) -> OpError {
    OpError::NotFound(format!(
        "there is no tenant \"{slug}\"; create it with `scimd tenant create {slug}`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_keys_take_defaults_and_unknown_ones_are_refused() {
        assert_eq!(
            TenantSettings::parse("{}").expect("empty"),
            TenantSettings::default()
        );
        assert!(
            TenantSettings::parse(r#"{"strict":true}"#)
                .expect("strict")
                .strict
        );
        let e = TenantSettings::parse(r#"{"strikt":true}"#).expect_err("typo");
        assert!(e.contains("strikt"), "{e}");
    }

    #[test]
    fn assignments_read_json_or_text() {
        let (k, v) = parse_assignment("strict=true").expect("ok");
        assert_eq!((k.as_str(), v), ("strict", Value::Bool(true)));
        assert!(parse_assignment("strict").is_err());
    }
}
