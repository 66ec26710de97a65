//! One file per command of the shell module, and the rules both share (`rules.rs`).

pub(crate) mod check_task;
pub(crate) mod rules;
pub(crate) mod run;
