//! Pure SCIM protocol logic (RFC 7643 / RFC 7644): no Rocket, no SQL.
pub mod filter;
pub mod path;
