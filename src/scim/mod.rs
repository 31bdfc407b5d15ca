//! Pure SCIM protocol logic (RFC 7643 / RFC 7644): schemas, resource validation, the filter and
//! PATCH languages, listing and projection. Nothing here knows Rocket or SQL, so every rule can
//! be tested without a server.
pub mod error;
pub mod filter;
pub mod patch;
pub mod path;
pub mod resource;
pub mod schema;

pub use error::{ScimError, ScimType};
