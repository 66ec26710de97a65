//! The typed API of the `scheduler` module: its commands, [`tasks`] (list, get, create,
//! update, delete, pause, resume), [`runs`] (run, history, next, stats, validate) and
//! [`logs`] (append-logs, logs, and the `check-task` convention of runner modules), and
//! the payloads of the events it publishes (task lifecycle events in [`tasks`], the
//! execution event [`runs::TaskExecutionEvent`]).
//!
//! Every type here is a wire DTO: the same JSON for the CLI (`--format json`), for modules
//! calling `host.call::<tasks::CreateTask>(..)`, and for the events. The scheduler's domain
//! types stay unserialisable and are converted by hand at its edge.
//!
//! This crate depends on the SDK (for the `Command` trait) and serde only, so a module, a
//! test or a benchmark uses the scheduler's API without linking the scheduler, and the SDK
//! never changes when the scheduler's API does.

pub mod logs;
pub mod runs;
pub mod tasks;
