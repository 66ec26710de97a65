//! The `scheduler` module's commands, grouped by what they act on: `runs` (executions:
//! run, history, next, stats, validate).

pub mod runs;
