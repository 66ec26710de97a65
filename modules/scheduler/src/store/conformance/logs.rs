//! Conformance behaviours of execution logs: batches, order, streams, the follow cursor,
//! tails, limits and retention.

use std::sync::Arc;

use super::{START, at, create, new_task};
use crate::store::{LogBatch, LogQuery, Store, StoreError};
use crate::task::{ExecutionId, LogLine, LogStream};

async fn execution(store: &Arc<dyn Store>, name: &str) -> ExecutionId {
    let task = create(store, new_task(name, "ok", "manual")).await;
    store.request_run(task.id.clone(), at(START)).await.expect("run").row.id
}

fn batch(execution_id: ExecutionId, when: &str, lines: &[(LogStream, &str)]) -> LogBatch {
    LogBatch {
        execution_id,
        at: at(when),
        lines: lines.iter().map(|(stream, line)| (*stream, (*line).to_owned())).collect(),
    }
}

fn texts(lines: &[LogLine]) -> Vec<(LogStream, &str)> {
    lines.iter().map(|line| (line.stream, line.line.as_str())).collect()
}

async fn read(store: &Arc<dyn Store>, query: LogQuery) -> Vec<LogLine> {
    store.logs(query).await.expect("logs")
}

/// Behaviour: the lines of batches come back in the order they were sent, with their
/// streams and arrival times, increasing ids, and only under their own execution.
pub async fn a_batch_is_read_back_in_order_with_its_streams_and_only_for_its_execution(store: Arc<dyn Store>) {
    let first = execution(&store, "first").await;
    let second = execution(&store, "second").await;
    let sent = [(LogStream::Stdout, "one"), (LogStream::Stderr, "two"), (LogStream::Stdout, "three")];
    assert_eq!(store.append_logs(batch(first, START, &sent)).await.expect("append"), 3);
    store.append_logs(batch(second, START, &[(LogStream::Stdout, "other")])).await.expect("append");
    store.append_logs(batch(first, "2027-03-14T07:00:01Z", &[(LogStream::System, "exit 0")])).await.expect("append");

    let lines = read(&store, LogQuery::all(first, 100)).await;
    assert_eq!(
        texts(&lines),
        [
            (LogStream::Stdout, "one"),
            (LogStream::Stderr, "two"),
            (LogStream::Stdout, "three"),
            (LogStream::System, "exit 0")
        ]
    );
    assert!(lines.windows(2).all(|pair| pair[0].id < pair[1].id), "ids increase: {lines:?}");
    assert!(lines.iter().all(|line| line.execution_id == first));
    assert_eq!(lines[0].at, at(START));
    assert_eq!(lines[3].at, at("2027-03-14T07:00:01Z"));
    assert_eq!(texts(&read(&store, LogQuery::all(second, 100)).await), [(LogStream::Stdout, "other")]);
}

/// Behaviour: a batch naming an execution that does not exist is `ExecutionNotFound` and
/// leaves no line behind.
pub async fn a_batch_for_an_unknown_execution_is_refused_and_writes_nothing(store: Arc<dyn Store>) {
    let unknown = ExecutionId(424_242);
    let refused = store.append_logs(batch(unknown, START, &[(LogStream::Stdout, "lost")])).await;
    assert!(matches!(refused, Err(StoreError::ExecutionNotFound(id)) if id == unknown), "{refused:?}");
    assert!(read(&store, LogQuery::all(unknown, 100)).await.is_empty());
}

/// Behaviour: reading after a line's id returns exactly the lines written after it (the
/// cursor of a follow: nothing missed, nothing repeated).
pub async fn lines_after_a_cursor_are_only_the_newer_ones(store: Arc<dyn Store>) {
    let id = execution(&store, "followed").await;
    store.append_logs(batch(id, START, &[(LogStream::Stdout, "a"), (LogStream::Stdout, "b")])).await.expect("append");
    let seen = read(&store, LogQuery::all(id, 100)).await;
    let cursor = seen.last().expect("two lines").id;
    assert!(read(&store, LogQuery { after: Some(cursor), ..LogQuery::all(id, 100) }).await.is_empty());
    store.append_logs(batch(id, START, &[(LogStream::Stderr, "c")])).await.expect("append");
    let newer = read(&store, LogQuery { after: Some(cursor), ..LogQuery::all(id, 100) }).await;
    assert_eq!(texts(&newer), [(LogStream::Stderr, "c")]);
    let from_first = read(&store, LogQuery { after: Some(seen[0].id), ..LogQuery::all(id, 100) }).await;
    assert_eq!(texts(&from_first), [(LogStream::Stdout, "b"), (LogStream::Stderr, "c")]);
}

/// Behaviour: a stream filter returns that stream's lines only, in order.
pub async fn the_stream_filter_keeps_one_stream(store: Arc<dyn Store>) {
    let id = execution(&store, "streams").await;
    let sent = [(LogStream::Stdout, "out 1"), (LogStream::Stderr, "err 1"), (LogStream::Stdout, "out 2")];
    store.append_logs(batch(id, START, &sent)).await.expect("append");
    let only = |stream| LogQuery { stream: Some(stream), ..LogQuery::all(id, 100) };
    assert_eq!(
        texts(&read(&store, only(LogStream::Stdout)).await),
        [(LogStream::Stdout, "out 1"), (LogStream::Stdout, "out 2")]
    );
    assert_eq!(texts(&read(&store, only(LogStream::Stderr)).await), [(LogStream::Stderr, "err 1")]);
    assert!(read(&store, only(LogStream::System)).await.is_empty());
}

/// Behaviour: `tail N` keeps the last N lines that match (after the stream filter), still
/// oldest first; `limit` caps any read, keeping the oldest.
pub async fn tail_keeps_the_last_matching_lines_oldest_first_and_limit_caps_them(store: Arc<dyn Store>) {
    let id = execution(&store, "tailed").await;
    let sent = [
        (LogStream::Stdout, "1"),
        (LogStream::Stderr, "2"),
        (LogStream::Stdout, "3"),
        (LogStream::Stderr, "4"),
        (LogStream::Stdout, "5"),
    ];
    store.append_logs(batch(id, START, &sent)).await.expect("append");
    let tail = |n, stream| LogQuery { tail: Some(n), stream, ..LogQuery::all(id, 100) };
    assert_eq!(texts(&read(&store, tail(2, None)).await), [(LogStream::Stderr, "4"), (LogStream::Stdout, "5")]);
    assert_eq!(
        texts(&read(&store, tail(2, Some(LogStream::Stderr))).await),
        [(LogStream::Stderr, "2"), (LogStream::Stderr, "4")]
    );
    assert_eq!(read(&store, tail(10, None)).await.len(), 5, "a tail longer than the log is the whole log");
    assert_eq!(texts(&read(&store, LogQuery::all(id, 2)).await), [(LogStream::Stdout, "1"), (LogStream::Stderr, "2")]);
}

/// Behaviour: retention cleanup deletes the lines that arrived before its cutoff and keeps
/// the newer ones.
pub async fn retention_cleanup_deletes_old_log_lines_only(store: Arc<dyn Store>) {
    let id = execution(&store, "retained").await;
    store.append_logs(batch(id, START, &[(LogStream::Stdout, "old")])).await.expect("append");
    store.append_logs(batch(id, "2027-03-20T00:00:00Z", &[(LogStream::Stdout, "new")])).await.expect("append");
    let cleaned = store.cleanup(at("2027-03-15T00:00:00Z"), 100).await.expect("cleanup");
    assert_eq!(cleaned.logs, 1);
    assert_eq!(texts(&read(&store, LogQuery::all(id, 100)).await), [(LogStream::Stdout, "new")]);
}
