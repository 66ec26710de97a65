//! Scheduler module: durable task store and the tick engine that fires tasks on time.
//!
//! The crate is split in layers, each with its own error type:
//! - [`config`]: the module configuration (`maxConcurrentTasks`, `tickInterval`, ...).
//! - [`clock`]: the injectable wall clock; tests travel in time with [`clock::TestClock`].
//! - [`task`]: domain types (tasks, executions, policies). They are not `Serialize`: the
//!   command handlers convert them to their own DTOs.
//! - [`policy`]: scheduling decisions (overlap, misfire, retry and backoff, manual runs,
//!   once completion) as pure functions; stores ask them and write what they decide.
//! - [`store`]: the [`store::Store`] trait and its SQLite implementation.
//! - [`engine`]: the tick engine and the [`engine::TaskBus`] seam the host wires to its
//!   command bus.
//!
//! - `module`: the [`Scheduler`] module the host loads; `commands/`: its `scheduler:*`
//!   handlers; `host_bus`: the [`engine::TaskBus`] over the host's command bus.
//!
//! Architecture Invariant: the store and the engine do not know the module SDK or the host;
//! their only way out to the rest of the system is [`engine::TaskBus`]. Only `module`,
//! `host_bus` and `commands` speak the SDK.
//!
//! Architecture Invariant: a store backend holds SQL only. Every scheduling decision
//! (overlap, misfire, retry and backoff, manual runs, once completion) is a [`policy`]
//! function, and every behaviour a backend must have is in the store conformance suite
//! (`store::conformance`, feature `testing`).
//!
//! Architecture Invariant: a task occurrence is claimed, its execution row written and the
//! task's next run advanced in one transaction, so a crash neither loses nor doubles it.
//!
//! # `task-event` payload
//! The engine publishes every execution event as `task-event`; its payload is
//! `scheduler_api::runs::TaskExecutionEvent` (built from the engine's [`engine::TaskEvent`]
//! in `host_bus`, the one conversion), documented field by field in the README (section
//! "Scheduler: runs"), whose table a test of `scheduler-api` checks against the type.
//!
//! # Task lifecycle events
//! The task commands publish `task-created`, `task-updated`, `task-paused`, `task-resumed`
//! and `task-deleted` with `scheduler_api::tasks::TaskLifecycleEvent`:
//! `{ task_id, name, tenant, task }`, where `task` is the `TaskView` the command returned.

pub mod clock;
mod commands;
pub mod config;
pub mod engine;
mod host_bus;
mod module;
pub mod policy;
pub mod store;
pub mod task;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

// Re-exports. Consider semver implications carefully.
pub use module::Scheduler;
pub use scheduler_schedule::{Schedule, ScheduleError, ScheduleKind, Timestamp};

#[cfg(test)]
mod tests;
