//! What unauthenticated floods may cost: metrics labels and the request log's disk.
