//! The adversarial suite of the hardening review: requests an attacker or a runaway IdP could
//! send, against the spawned binary where the point is a process-wide bound (RSS, disk, time)
//! and against the in-process app where it is an answer. Each test names the review item it
//! guards.

mod edge;
mod filters;
mod log;
mod login;
mod writer;
