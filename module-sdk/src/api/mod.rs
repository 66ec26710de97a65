//! Typed requests and responses of the commands that ship with the host's own modules, so
//! a Rust module calls `host.call::<system::Echo>(..)` instead of hand-writing JSON.
//!
//! These types are the stable JSON interface: field names are the same for the CLI, the
//! module API and events.

pub mod scheduler;
pub mod system;
