//! The connection edge: slow clients, very long URLs, file permissions.
