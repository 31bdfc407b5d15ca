//! The one integration-test binary: every test starts the real application (Rocket's local
//! client, no mocks) on its own SQLite file in a temporary directory.

mod common;
mod server;

mod admin_api;
mod admin_listener;
mod adversarial;
mod backup;
mod cli;
mod deletion;
mod discovery;
mod doctor;
mod durability;
mod entra;
mod errors;
mod events;
mod extensions;
mod filter_roundtrip;
mod fuzz;
mod groups;
mod isolation;
mod ldap;
mod oauth;
mod okta;
mod others;
mod packaging;
mod profiles;
mod query;
mod quirks;
mod replay;
mod request_log;
mod secrets;
mod secure_defaults;
mod tenants;
mod tls;
mod tokens;
mod webhooks;
