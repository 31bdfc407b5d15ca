//! Pure SCIM protocol logic (RFC 7643 / RFC 7644): schemas, resource validation, the filter and
//! PATCH languages, listing and projection. Nothing here knows Rocket or SQL, so every rule can
//! be tested without a server.
pub mod attribute;
pub mod diagnosis;
pub mod error;
pub mod extension;
pub mod filter;
pub mod list;
pub mod patch;
pub mod path;
pub mod projection;
pub mod quirks;
pub mod redact;
pub mod resource;
pub mod schema;

pub use error::{ScimError, ScimType};

/// Folds a string for case-insensitive comparison (RFC 7643 §2.2 `caseExact: false`). Stored
/// keys, SQL (`scim_fold`) and in-memory matching all use this one function so they agree.
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}
