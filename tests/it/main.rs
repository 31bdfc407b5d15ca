//! The one integration-test binary: every test starts the real application (Rocket's local
//! client, no mocks) on its own SQLite file in a temporary directory.

mod common;

mod admin_api;
mod cli;
mod discovery;
mod durability;
mod errors;
mod isolation;
mod okta;
mod secrets;
mod tenants;
mod tokens;
