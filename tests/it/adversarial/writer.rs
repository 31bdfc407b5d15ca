//! What one token holder may cost everyone: large PATCHes, huge filters.
