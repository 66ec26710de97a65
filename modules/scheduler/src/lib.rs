//! Scheduler module.
