//! The README documents the scheduler's wire shapes in tables; these tests check each table
//! against the type that defines the shape, so the two cannot drift: every field the type
//! writes is a row, in the order it is written, and every row is a field.
//!
//! The values are built as struct literals, so a new field fails to compile here until it
//! is given a value, and then fails the test until the README has its row.

use scheduler_api::runs::{ExecutionView, RunSource, TaskExecutionEvent};

const README: &str = include_str!("../../../../README.md");

/// The field names of the first table after the line containing `anchor`.
fn table_after(anchor: &str) -> Vec<String> {
    let start = README.find(anchor).unwrap_or_else(|| panic!("the README has no {anchor:?}"));
    README[start..]
        .lines()
        .skip_while(|line| !line.starts_with("| field |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cell = line.split('|').nth(1).expect("a row has a first cell").trim();
            cell.trim_matches('`').to_owned()
        })
        .collect()
}

fn fields(value: &impl serde::Serialize) -> Vec<String> {
    let written = serde_json::to_value(value).expect("a wire type writes JSON");
    written.as_object().expect("an object").keys().cloned().collect()
}

#[test]
fn the_readme_task_event_table_lists_every_field_of_the_event_in_order() {
    let event = TaskExecutionEvent {
        event: "retrying".to_owned(),
        task_id: "0199".to_owned(),
        name: "nightly".to_owned(),
        tenant: "default".to_owned(),
        execution_id: 7,
        scheduled_for: "2027-03-14T07:00:00Z".to_owned(),
        at: "2027-03-14T07:00:01Z".to_owned(),
        attempt: 1,
        trigger: "schedule".to_owned(),
        status: "queued".to_owned(),
        duration_ms: Some(1000),
        error: Some("failed: boom".to_owned()),
        retry_at: Some("2027-03-14T07:00:31Z".to_owned()),
        idempotency_key: "0199:2027-03-14T07:00:00Z".to_owned(),
    };
    assert_eq!(table_after("published as `scheduler:task-event`"), fields(&event));
}

#[test]
fn the_readme_execution_table_lists_every_field_of_an_execution_in_order() {
    let execution = ExecutionView {
        id: 7,
        task_id: "0199".to_owned(),
        task_name: "nightly".to_owned(),
        scheduled_for: "2027-03-14T07:00:00Z".to_owned(),
        trigger: "manual".to_owned(),
        attempt: 1,
        status: "completed".to_owned(),
        started_at: None,
        finished_at: None,
        duration_ms: None,
        output: None,
        exit_code: None,
        error: None,
        node: None,
        idempotency_key: "0199:2027-03-14T07:00:00Z".to_owned(),
        source: RunSource {
            source: RunSource::SCHEDULE.to_owned(),
            schedule_id: "0199".to_owned(),
            schedule_name: "nightly".to_owned(),
        },
    };
    assert_eq!(table_after("An execution (`history`"), fields(&execution));
}

#[test]
fn a_task_event_is_written_with_absent_values_as_null() {
    let event: TaskExecutionEvent = serde_json::from_value(serde_json::json!({
        "event": "executed", "task_id": "t", "name": "n", "tenant": "default", "execution_id": 1,
        "scheduled_for": "2027-03-14T07:00:00Z", "at": "2027-03-14T07:00:00Z", "attempt": 1,
        "trigger": "schedule", "status": "running", "duration_ms": null, "error": null, "retry_at": null,
        "idempotency_key": "t:2027-03-14T07:00:00Z"
    }))
    .unwrap();
    let written = serde_json::to_value(&event).unwrap();
    assert_eq!((&written["duration_ms"], &written["retry_at"]), (&serde_json::Value::Null, &serde_json::Value::Null));
}
