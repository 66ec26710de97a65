//! The `scheduler` module's commands: [`tasks`] (list, get, create, update, delete, pause,
//! resume) and [`runs`] (run, history, next, stats, validate).
//!
//! Every type here is a wire DTO: the same JSON for the CLI (`--format json`), for modules
//! calling `host.call::<tasks::CreateTask>(..)`, and for the lifecycle events. The
//! scheduler's domain types stay unserialisable and are converted by hand at its edge.

pub mod runs;
pub mod tasks;
