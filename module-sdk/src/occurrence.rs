//! The occurrence a call runs for: which task, which scheduled instant, which attempt.
//!
//! The scheduler's engine puts one on every call it makes for an execution; every other
//! caller (the CLI, a module calling another) leaves it out. It travels in the call context
//! (ABI v2, [`crate::abi::RawCallContext::occurrence`]) as JSON, next to the caller and the
//! correlation id, so any module can deduplicate work by [`Occurrence::idempotency_key`]
//! without the scheduler's types: a runner module links this crate, never `scheduler-api`.
//!
//! It lives here, not in a module's `api/` crate, because it describes the call itself (who
//! the work is for), as the caller and the correlation id do; the host forwards it as bytes
//! and never reads it.

use serde::{Deserialize, Serialize};

/// One execution of a scheduled task, as the command running it sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    /// The task's id (a UUID).
    pub task_id: String,
    /// The task's name, unique in its tenant.
    pub task_name: String,
    /// The task's tenant.
    pub tenant: String,
    /// The execution's id: one per attempt.
    pub execution_id: i64,
    /// The nominal instant this occurrence was scheduled for (RFC 3339, UTC); the same for
    /// every attempt of the occurrence, and the run's own start time for a manual run.
    pub scheduled_for: String,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// `schedule`, `manual`, `retry` or `catch-up`.
    pub trigger: String,
    /// `<task id>:<scheduled_for>`: the same for every attempt of one occurrence, different
    /// for every other occurrence, so a module that keeps the keys it has done can
    /// deduplicate a retried or re-delivered call.
    pub idempotency_key: String,
}

impl Occurrence {
    /// The idempotency key of an occurrence: `<task id>:<scheduled for>`.
    pub fn key_of(task_id: &str, scheduled_for: &str) -> String {
        format!("{task_id}:{scheduled_for}")
    }

    /// The JSON bytes that travel in the call context.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // Plain strings and numbers: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads the call context's bytes; `None` when empty or not an occurrence.
    pub fn from_json_bytes(bytes: &[u8]) -> Option<Occurrence> {
        if bytes.is_empty() {
            return None;
        }
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::Occurrence;

    #[test]
    fn an_occurrence_survives_the_call_context_and_an_empty_context_is_none() {
        let occurrence = Occurrence {
            task_id: "t1".into(),
            task_name: "nightly".into(),
            tenant: "default".into(),
            execution_id: 7,
            scheduled_for: "2027-01-05T02:00:00Z".into(),
            attempt: 2,
            trigger: "retry".into(),
            idempotency_key: Occurrence::key_of("t1", "2027-01-05T02:00:00Z"),
        };
        assert_eq!(occurrence.idempotency_key, "t1:2027-01-05T02:00:00Z");
        assert_eq!(Occurrence::from_json_bytes(&occurrence.to_json_bytes()), Some(occurrence));
        assert_eq!(Occurrence::from_json_bytes(b""), None);
        assert_eq!(Occurrence::from_json_bytes(b"{\"task_id\": 1}"), None);
    }
}
