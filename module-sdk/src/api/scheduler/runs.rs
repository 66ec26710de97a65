//! The execution side of the `scheduler` module (run, history, next, stats, validate).
//!
//! Placeholder: the typed requests and responses of these commands live here once they are
//! written; task types are in [`super::tasks`].
