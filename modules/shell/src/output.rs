//! A job's output: its two pipes read concurrently line by line, and the lines sent to the
//! scheduler's execution log (`scheduler:append-logs`) in batches, under a per-execution
//! cap.
//!
//! Memory is bounded whatever the child prints: a reader holds at most one line
//! (`maxLineBytes`; a longer line is sent split) and the lines of one pipe read (64 KiB),
//! the channel to the collector holds `CHANNEL_READS` such reads (at worst, 64 Ki empty
//! lines each: about 2 MiB), a batch is flushed at [`BATCH_LINES`] lines or
//! [`BATCH_BYTES`] bytes, and beyond `maxOutputBytes` lines are only counted. The pipes are always drained
//! to their end, so a child never blocks on a full pipe because its log is full. One batch
//! is in flight while the next one fills (so reading and the log's writes overlap, in
//! order: a batch is sent only once the one before it is stored); when the next one is full
//! too, readers wait (backpressure on the child) rather than drop lines below the cap.
//! Invalid UTF-8 is replaced (U+FFFD).
//!
//! A call with no occurrence (a run by hand) sends nothing: its last lines are kept as
//! tails for the output instead.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use scheduler_api::logs::{AppendLogs, AppendLogsParams, LogLineInput, LogStream};
use systemprompt_module_sdk::{CallOptions, Command, CommandError, Host};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

/// A batch is sent when it holds this many lines...
pub(crate) const BATCH_LINES: usize = 4096;
/// ... or this many bytes ...
pub(crate) const BATCH_BYTES: usize = 1024 * 1024;
/// ... or this long after the previous flush.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Pipe reads (each the lines of up to 64 KiB) waiting between the readers and the collector.
const CHANNEL_READS: usize = 4;
/// Bytes a reader asks of its pipe at a time.
const READ_BYTES: usize = 64 * 1024;
/// A tail line is cut to this many bytes (it goes into error messages).
const TAIL_LINE_BYTES: usize = 512;

/// One line read from a pipe.
pub(crate) type Line = (LogStream, String);

/// The channel the two readers send to: the lines of one read at a time (one message per
/// read rather than per line keeps the channel's cost out of short lines' way).
pub(crate) fn channel() -> (mpsc::Sender<Vec<Line>>, mpsc::Receiver<Vec<Line>>) {
    mpsc::channel(CHANNEL_READS)
}

/// Reads `reader` to its end, sending each line (without its `\n`, at most `max_line`
/// bytes) as `stream`. Returns the bytes read. Stops sending, but keeps reading, when the
/// collector is gone.
///
/// # Cancel safety
///
/// Not cancel safe: a dropped future loses the partial line it holds. It is run as a task
/// and ends on its own when every writer of the pipe has exited.
pub(crate) async fn read_lines<R: AsyncRead + Unpin>(
    reader: R,
    stream: LogStream,
    max_line: usize,
    tx: mpsc::Sender<Vec<Line>>,
) -> u64 {
    let max_line = max_line.max(1);
    let mut reader = BufReader::with_capacity(READ_BYTES, reader);
    let mut pending: Vec<u8> = Vec::with_capacity(256);
    let mut lines = Vec::new();
    let mut total = 0u64;
    let mut open = true;
    loop {
        let buf = match reader.fill_buf().await {
            Ok([]) => break,
            Ok(buf) => buf,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                tracing::warn!(?stream, %error, "Reading a job's output failed.");
                break;
            }
        };
        let mut rest = buf;
        // Invariant: `pending` is shorter than `max_line` here, so every step uses a byte.
        while !rest.is_empty() {
            let room = max_line - pending.len();
            let window = &rest[..rest.len().min(room)];
            let (used, complete) = match window.iter().position(|&b| b == b'\n') {
                Some(at) => {
                    pending.extend_from_slice(&window[..at]);
                    (at + 1, true)
                }
                None => {
                    pending.extend_from_slice(window);
                    (window.len(), pending.len() >= max_line)
                }
            };
            rest = &rest[used..];
            if complete && open {
                lines.push((stream, take_line(&mut pending)));
            } else if complete {
                pending.clear();
            }
        }
        let used = buf.len();
        reader.consume(used);
        total += used as u64;
        if !lines.is_empty() {
            open = tx.send(std::mem::take(&mut lines)).await.is_ok();
        }
    }
    if !pending.is_empty() && open {
        let _ = tx.send(vec![(stream, take_line(&mut pending))]).await;
    }
    total
}

fn take_line(pending: &mut Vec<u8>) -> String {
    // Valid UTF-8 (nearly every line) is checked by the fast validator and copied once.
    let line = match std::str::from_utf8(pending) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(pending).into_owned(),
    };
    pending.clear();
    line
}

/// Where the lines go, and what is kept of them.
pub(crate) struct Collector {
    host: Host,
    // Invariant: `Some` exactly when the call runs for an execution (it has an occurrence).
    target: Option<(i64, CallOptions)>,
    max_output_bytes: u64,
    tail_lines: usize,
    kept_bytes: u64,
    dropped_bytes: u64,
    dropped_lines: u64,
    batch: Vec<LogLineInput>,
    batch_bytes: usize,
    /// Lines of `batch` the tails have seen.
    tails_seen: usize,
    stdout_tail: VecDeque<String>,
    stderr_tail: VecDeque<String>,
    failed_sends: u64,
    in_flight: Option<InFlight>,
}

/// A batch sent and not yet answered: the call and its line count.
type InFlight = (Pin<Box<dyn Future<Output = Result<Vec<u8>, CommandError>> + Send>>, usize);

/// What the collector kept, once the job is over.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub(crate) dropped_bytes: u64,
    pub(crate) stdout_tail: Vec<String>,
    pub(crate) stderr_tail: Vec<String>,
}

impl Collector {
    /// A collector sending to `execution_id`'s log with `options` (none: keep tails only).
    pub(crate) fn new(
        host: Host,
        target: Option<(i64, CallOptions)>,
        max_output_bytes: u64,
        tail_lines: usize,
    ) -> Collector {
        Collector {
            host,
            target,
            max_output_bytes,
            tail_lines,
            kept_bytes: 0,
            dropped_bytes: 0,
            dropped_lines: 0,
            batch: Vec::new(),
            batch_bytes: 0,
            tails_seen: 0,
            stdout_tail: VecDeque::new(),
            stderr_tail: VecDeque::new(),
            failed_sends: 0,
            in_flight: None,
        }
    }

    /// Receives lines until both readers are done, flushing batches as they fill and every
    /// [`FLUSH_EVERY`].
    pub(crate) async fn collect(&mut self, mut rx: mpsc::Receiver<Vec<Line>>) {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                read = rx.recv() => match read {
                    Some(lines) => {
                        for (stream, line) in lines {
                            self.accept(stream, line);
                            if self.batch.len() >= BATCH_LINES || self.batch_bytes >= BATCH_BYTES {
                                self.flush().await;
                            }
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => self.flush().await,
            }
        }
    }

    fn accept(&mut self, stream: LogStream, line: String) {
        let cost = line.len() as u64 + 1;
        if self.kept_bytes + cost > self.max_output_bytes || self.dropped_lines > 0 {
            // Once the cap is hit, everything after is dropped, so the log is a prefix.
            self.dropped_bytes += cost;
            self.dropped_lines += 1;
            self.remember_batch();
            self.remember(stream, &line);
            return;
        }
        self.kept_bytes += cost;
        if self.target.is_some() {
            self.batch_bytes += line.len();
            self.batch.push(LogLineInput { stream, line });
        } else {
            self.remember(stream, &line);
        }
    }

    /// Keeps `line` as the newest of its stream's tail.
    fn remember(&mut self, stream: LogStream, line: &str) {
        let tail = match stream {
            LogStream::Stdout => &mut self.stdout_tail,
            LogStream::Stderr => &mut self.stderr_tail,
            LogStream::System => return,
        };
        if self.tail_lines > 0 {
            if tail.len() == self.tail_lines {
                tail.pop_front();
            }
            tail.push_back(cut(line, TAIL_LINE_BYTES));
        }
    }

    /// Brings the tails up to date with the batch's lines not yet seen by them: only the
    /// last `tail_lines` of each stream are copied, once per batch rather than per line.
    fn remember_batch(&mut self) {
        let unseen = &self.batch[self.tails_seen.min(self.batch.len())..];
        let (mut stdout, mut stderr) = (0, 0);
        let mut start = unseen.len();
        for (at, line) in unseen.iter().enumerate().rev() {
            let count = match line.stream {
                LogStream::Stdout => &mut stdout,
                LogStream::Stderr => &mut stderr,
                LogStream::System => continue,
            };
            if *count < self.tail_lines {
                *count += 1;
                start = at;
            }
            if stdout >= self.tail_lines && stderr >= self.tail_lines {
                break;
            }
        }
        let newest: Vec<(LogStream, String)> =
            unseen[start..].iter().map(|line| (line.stream, line.line.clone())).collect();
        self.tails_seen = self.batch.len();
        for (stream, line) in newest {
            self.remember(stream, &line);
        }
    }

    /// Adds a line of the runner's own (`system` stream); never capped.
    pub(crate) fn system(&mut self, line: String) {
        if self.target.is_some() {
            self.batch_bytes += line.len();
            self.batch.push(LogLineInput { stream: LogStream::System, line });
        }
    }

    /// Sends the batch once the one in flight is answered, and leaves it in flight. A
    /// failed send is logged and its lines lost: the job's outcome does not depend on its
    /// log.
    async fn flush(&mut self) {
        let Some((execution_id, options)) = self.target.clone() else {
            return;
        };
        if self.batch.is_empty() {
            return;
        }
        self.remember_batch();
        let lines = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        self.tails_seen = 0;
        let n_lines = lines.len();
        let params = AppendLogsParams { execution_id, lines };
        let payload = match serde_json::to_vec(&params) {
            Ok(payload) => payload,
            Err(error) => {
                tracing::warn!(execution_id, n_lines, %error, "Encoding a job's log lines failed; they are lost.");
                return;
            }
        };
        self.settle(execution_id).await;
        let call = self.host.dispatch_bytes(AppendLogs::NAME, &payload, &options);
        self.in_flight = Some((Box::pin(call), n_lines));
    }

    /// Waits for the batch in flight, if any.
    async fn settle(&mut self, execution_id: i64) {
        let Some((call, n_lines)) = self.in_flight.take() else {
            return;
        };
        if let Err(error) = call.await {
            self.failed_sends += 1;
            if self.failed_sends == 1 {
                tracing::warn!(execution_id, n_lines, %error, "Sending a job's log lines failed; they are lost.");
            }
        }
    }

    /// Ends the log: one `system` line for what the cap dropped, then the last flush (before
    /// the reply, so the log is complete when the execution is recorded).
    pub(crate) async fn finish(mut self) -> Collected {
        if self.dropped_lines > 0 {
            let line = format!(
                "output truncated: {} more lines ({} bytes) beyond maxOutputBytes ({}) were dropped",
                self.dropped_lines, self.dropped_bytes, self.max_output_bytes
            );
            self.system(line);
        }
        self.flush().await;
        if let Some((execution_id, _)) = &self.target {
            let execution_id = *execution_id;
            self.settle(execution_id).await;
        }
        Collected {
            dropped_bytes: self.dropped_bytes,
            stdout_tail: self.stdout_tail.into_iter().collect(),
            stderr_tail: self.stderr_tail.into_iter().collect(),
        }
    }
}

fn cut(line: &str, max: usize) -> String {
    if line.len() <= max {
        return line.to_owned();
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}
