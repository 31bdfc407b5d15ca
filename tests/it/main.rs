//! The one integration-test binary: every test starts the real application (Rocket's local
//! client, no mocks) on its own SQLite file in a temporary directory.

mod common;
mod server;

mod backup;
mod cli;
mod discovery;
mod durability;
mod errors;
mod okta;
mod packaging;
mod tenants;
mod tls;
