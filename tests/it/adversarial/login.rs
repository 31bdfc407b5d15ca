//! Password hashing and the admin login limit under a burst.
