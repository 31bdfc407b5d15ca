//! scimd: a self-hosted SCIM 2.0 service provider (RFC 7643 / RFC 7644).
pub mod scim;
