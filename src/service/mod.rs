//! Use cases between HTTP and the store: each validates its input with `crate::scim`, runs one
//! store transaction and returns a response model. No Rocket types appear here.

pub mod admins;
pub mod alarms;
pub mod browse;
pub mod deleted;
pub mod doctor;
pub mod events;
pub mod export;
pub mod extensions;
pub mod history;
pub mod ldap;
pub mod members;
pub mod oauth;
pub mod oauth_code;
pub mod oauth_external;
pub mod passwords;
pub mod rate_limit;
pub mod request_log;
pub mod resources;
pub mod secure_defaults;
pub mod selftest;
pub mod settings;
pub mod tenants;
pub mod token_addresses;
pub mod tokens;
pub mod usage;
pub mod verbatim;
pub mod webhooks;

/// Where a SCIM request operates: the tenant and the absolute base URL of its SCIM API (e.g.
/// `https://scim.example.com/t/acme/scim/v2`), used for `meta.location` and `$ref`.
#[derive(Debug, Clone)]
pub struct Scope {
    pub tenant_id: i64,
    pub tenant_slug: String,
    pub base_url: String,
    /// Who is acting (SCIM requests): recorded in the resource history.
    pub actor: Option<Actor>,
    /// Most bytes of JSON the history keeps of each before/after value
    /// (`history.max_value_bytes`).
    pub history_value_cap: usize,
    /// The tenant refuses attributes no schema defines (400 invalidSyntax) instead of
    /// ignoring and reporting them (tenant setting `strict`, issue 21).
    pub strict: bool,
    /// The tenant runs in SCIM 2.0 Interoperability Profile mode (tenant setting
    /// `interop_profile`, issue 27): `strict` and the profile's refusals apply.
    pub interop_profile: bool,
    /// The tenant takes `password` in SCIM writes (tenant setting `accept_password`).
    pub accept_password: bool,
    /// The schemas this tenant serves: the built-in ones and its declared extensions.
    pub schemas: std::sync::Arc<crate::scim::schema::Registry>,
    /// A throwaway tenant (`scimd doctor`'s self-test, tenant setting `ephemeral`): its writes
    /// append no events, so removing it takes nothing from the feed's sequence.
    pub ephemeral: bool,
}

impl Scope {
    /// A collector for one write's quirks under this tenant's policy (`strict`, implied by
    /// the Interoperability Profile, and the profile's own refusals).
    pub fn quirks(&self) -> crate::scim::quirks::Quirks {
        crate::scim::quirks::Quirks::new(self.strict || self.interop_profile)
            .with_profile(self.interop_profile)
            .with_password(self.accept_password)
    }
}

/// The token (never its secret) and IdP behind a SCIM write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub token_id: String,
    pub token_name: String,
    pub idp: String,
}

/// Why an operation of the CLI or admin API failed; the message is a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Internal(String),
}

impl From<OpError> for String {
    fn from(e: OpError) -> Self {
        e.to_string()
    }
}
