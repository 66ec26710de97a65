//! The log commands in-process (the SDK's fake host, no engine started): `append-logs`
//! writes a batch and refuses an unknown execution; `logs` reads by execution or a task's
//! latest run, filters and tails, and with `pages` answers the follow protocol (a cursor,
//! a wake-up on appended lines, the end once the execution has ended).

use std::time::Duration;

use scheduler_api::logs::{
    AppendLogs, AppendLogsParams, ExecutionLogs, ExecutionLogsParams, LogLineInput, LogLineView, LogPage, LogStream,
    LogsOutput,
};
use serde_json::json;
use systemprompt_module_sdk::testing::ModuleTest;

use crate::Scheduler;
use crate::config::SchedulerConfig;
use crate::task::{ExecutionId, NewTask, TaskSchedule};

const WAIT: Duration = Duration::from_secs(10);

fn module() -> ModuleTest<Scheduler> {
    ModuleTest::new(json!({})).expect("the scheduler builds with its defaults")
}

/// A manual task `name` and one queued run of it; the run's execution id.
async fn queued_run(test: &ModuleTest<Scheduler>, name: &str) -> i64 {
    let store = &test.module().store;
    let now = test.module().clock.now();
    let schedule = TaskSchedule::parse("manual", None, None, now).expect("manual");
    let task = NewTask::new(name, "system:health", schedule, &SchedulerConfig::default().task_defaults());
    let task = store.create_task(task, now).await.expect("created");
    store.request_run(task.id, now).await.expect("run").row.id.0
}

async fn append(test: &ModuleTest<Scheduler>, execution_id: i64, lines: &[(LogStream, &str)]) -> u64 {
    let lines = lines.iter().map(|(stream, line)| LogLineInput { stream: *stream, line: (*line).to_owned() }).collect();
    test.call::<AppendLogs>(&AppendLogsParams { execution_id, lines }, WAIT).await.expect("appended").appended
}

fn texts(lines: &[LogLineView]) -> Vec<&str> {
    lines.iter().map(|line| line.line.as_str()).collect()
}

async fn lines(test: &ModuleTest<Scheduler>, params: ExecutionLogsParams) -> Vec<LogLineView> {
    match test.call::<ExecutionLogs>(&params, WAIT).await.expect("logs") {
        LogsOutput::Lines(lines) => lines,
        LogsOutput::Page(page) => panic!("no pages were asked for, got {page:?}"),
    }
}

async fn page(test: &ModuleTest<Scheduler>, params: &ExecutionLogsParams) -> LogPage {
    match test.call::<ExecutionLogs>(params, WAIT).await.expect("logs") {
        LogsOutput::Page(page) => *page,
        LogsOutput::Lines(lines) => panic!("pages were asked for, got {lines:?}"),
    }
}

#[tokio::test]
async fn appended_lines_are_read_back_in_order_by_stream_and_tailed() {
    let test = module();
    let id = queued_run(&test, "talker").await;
    assert_eq!(append(&test, id, &[(LogStream::Stdout, "one"), (LogStream::Stderr, "two")]).await, 2);
    append(&test, id, &[(LogStream::Stdout, "three")]).await;
    let by_id = ExecutionLogsParams { execution: Some(id), ..ExecutionLogsParams::default() };
    assert_eq!(texts(&lines(&test, by_id.clone()).await), ["one", "two", "three"]);
    let stdout = ExecutionLogsParams { stream: Some(LogStream::Stdout), ..by_id.clone() };
    assert_eq!(texts(&lines(&test, stdout).await), ["one", "three"]);
    let tail = ExecutionLogsParams { tail: Some(1), ..by_id.clone() };
    assert_eq!(texts(&lines(&test, tail).await), ["three"]);
    let last = ExecutionLogsParams { task: Some("talker".into()), last: true, ..ExecutionLogsParams::default() };
    assert_eq!(lines(&test, last).await, lines(&test, by_id).await);
}

#[tokio::test]
async fn the_latest_execution_of_a_task_is_its_newest_row() {
    let test = module();
    let first = queued_run(&test, "twice").await;
    let store = &test.module().store;
    let task = store.get_execution(ExecutionId(first)).await.expect("get").expect("row").task_id;
    let second = store.request_run(task, test.module().clock.now()).await.expect("run").row.id.0;
    append(&test, first, &[(LogStream::Stdout, "old")]).await;
    append(&test, second, &[(LogStream::Stdout, "new")]).await;
    let last = ExecutionLogsParams { task: Some("twice".into()), last: true, ..ExecutionLogsParams::default() };
    let shown = lines(&test, last).await;
    assert_eq!((texts(&shown), shown[0].execution_id), (vec!["new"], second));
}

#[tokio::test]
async fn unknown_executions_and_incomplete_selections_are_refused() {
    let test = module();
    let params = AppendLogsParams {
        execution_id: 77,
        lines: vec![LogLineInput { stream: LogStream::Stdout, line: "x".into() }],
    };
    let error = test.call::<AppendLogs>(&params, WAIT).await.unwrap_err();
    assert_eq!((error.code.as_str(), error.message.as_str()), ("not_found", "execution 77 not found"));
    let unknown = ExecutionLogsParams { execution: Some(77), ..ExecutionLogsParams::default() };
    assert_eq!(test.call::<ExecutionLogs>(&unknown, WAIT).await.unwrap_err().code, "not_found");
    let no_last = ExecutionLogsParams { task: Some("talker".into()), ..ExecutionLogsParams::default() };
    let error = test.call::<ExecutionLogs>(&no_last, WAIT).await.unwrap_err();
    assert_eq!(error.code, "invalid_params");
    assert!(error.message.contains("--last"), "{}", error.message);
    let nothing = test.call::<ExecutionLogs>(&ExecutionLogsParams::default(), WAIT).await.unwrap_err();
    assert_eq!(nothing.code, "invalid_params");
}

#[tokio::test]
async fn a_followed_log_continues_after_its_cursor_and_ends_once_the_execution_has_ended() {
    let test = module();
    let id = queued_run(&test, "followed").await;
    append(&test, id, &[(LogStream::Stdout, "a"), (LogStream::Stdout, "b")]).await;
    let start =
        ExecutionLogsParams { execution: Some(id), follow: true, pages: true, ..ExecutionLogsParams::default() };
    let first = page(&test, &start).await;
    assert_eq!(texts(&first.items), ["a", "b"]);
    let next = first.next.expect("the execution has not ended");
    assert_eq!(next.after, Some(first.items[1].id));
    assert!(first.on_interrupt.expect("a hint").contains(&format!("--execution {id} --follow")));

    // A page that finds nothing waits; the batch appended meanwhile wakes it with the line.
    let (second, appended) = tokio::join!(page(&test, &next), append(&test, id, &[(LogStream::Stderr, "c")]));
    assert_eq!(appended, 1);
    let mut seen = texts(&second.items).into_iter().map(str::to_owned).collect::<Vec<_>>();
    let mut next = second.next.expect("still running");
    if seen.is_empty() {
        // The page's wait ended before the batch committed: the next page has it.
        let third = page(&test, &next).await;
        seen = texts(&third.items).into_iter().map(str::to_owned).collect();
        next = third.next.expect("still running");
    }
    assert_eq!(seen, ["c"]);

    let store = &test.module().store;
    assert!(store.cancel_queued(ExecutionId(id), test.module().clock.now()).await.expect("cancel"));
    let last = page(&test, &next).await;
    assert!(last.items.is_empty() && last.next.is_none(), "ended and every line returned: {last:?}");
}
