//! Scheduling policy as pure functions over domain types: what an occurrence does when the
//! task is busy (`overlap`), when its instant was missed (`misfire`), whether and when a
//! failed attempt is retried (`retry`), what a manual run does (`manual`), and when a once
//! task is done (`once`).
//!
//! A store backend asks these functions and writes what they decide; it decides nothing
//! itself, so a second backend cannot drift from the first. The functions do no IO: facts
//! a decision may need from the database (is a run in the way, is one already waiting) are
//! passed as closures, called only on the branch that needs them, so the hot path (an idle
//! task's occurrence) costs no more queries than the decision requires. They take
//! references and return small values; only the misfire walk, off the hot path, allocates.

pub mod manual;
pub mod misfire;
pub mod once;
pub mod overlap;
pub mod retry;

#[cfg(test)]
mod tests;
