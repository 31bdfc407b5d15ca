//! Use cases between HTTP and the store: each validates its input with `crate::scim`, runs one
//! store transaction and returns a response model. No Rocket types appear here.

pub mod members;
pub mod passwords;
pub mod resources;
pub mod tokens;

/// Where a SCIM request operates: the tenant and the absolute base URL of its SCIM API (e.g.
/// `https://scim.example.com/t/acme/scim/v2`), used for `meta.location` and `$ref`.
#[derive(Debug, Clone)]
pub struct Scope {
    pub tenant_id: i64,
    pub tenant_slug: String,
    pub base_url: String,
}
