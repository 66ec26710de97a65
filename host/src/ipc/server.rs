//! Serves CLI requests on the host's Unix socket until shutdown.
//!
//! - The socket file is watched: when it disappears or is replaced (someone deleted
//!   `host.sock`, or put another file there), the host binds it again within
//!   [`SOCKET_CHECK_INTERVAL`] and logs a warning, so a running host never becomes
//!   unreachable for good.
//! - A request line is read through a bounded reader: a line longer than
//!   `max_request_bytes` is discarded as it arrives (never buffered whole) and answered
//!   with an error naming the limit; a line that is not UTF-8 is answered with an error. In
//!   both cases the connection stays usable for the next line.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use systemprompt_module_sdk::CommandError;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use super::{Request, Response};
use crate::bus::{CallRequest, CommandBus};

/// How often the host checks that its socket file is still the one it bound.
pub const SOCKET_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The listening socket and the identity (device, inode) of the file it bound.
pub struct Listener {
    path: PathBuf,
    listener: UnixListener,
    // Invariant: the (dev, ino) of the socket file `listener` created at `path`.
    bound: (u64, u64),
}

impl Listener {
    /// Binds the socket at `path` (replacing whatever is there: the caller holds the
    /// data-dir lock, so it is a stale socket or something planted).
    pub fn bind(path: PathBuf) -> anyhow::Result<Listener> {
        if std::fs::symlink_metadata(&path).is_ok() {
            std::fs::remove_file(&path)
                .map_err(|error| anyhow::anyhow!("cannot remove the old socket {}: {error}", path.display()))?;
        }
        let listener = UnixListener::bind(&path)
            .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let bound = identity(&path)
            .ok_or_else(|| anyhow::anyhow!("the socket {} vanished right after binding it", path.display()))?;
        Ok(Listener { path, listener, bound })
    }

    /// Whether the file at the socket path is still the socket this listener bound.
    fn still_bound(&self) -> bool {
        identity(&self.path) == Some(self.bound)
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::symlink_metadata(path).ok().map(|meta| (meta.dev(), meta.ino()))
}

/// Accepts connections until `shutdown` is cancelled, re-binding the socket when its file
/// disappears or is replaced.
pub async fn serve(
    mut listener: Listener,
    bus: Arc<CommandBus>,
    shutdown: CancellationToken,
    max_request_bytes: usize,
) {
    let mut check = tokio::time::interval(SOCKET_CHECK_INTERVAL);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = check.tick() => {
                if !listener.still_bound() {
                    match Listener::bind(listener.path.clone()) {
                        Ok(rebound) => {
                            tracing::warn!(
                                socket = %rebound.path.display(),
                                "The socket file disappeared or was replaced; bound it again."
                            );
                            listener = rebound;
                        }
                        Err(error) => tracing::error!(
                            socket = %listener.path.display(),
                            %error,
                            "The socket file disappeared or was replaced, and binding it again failed; retrying."
                        ),
                    }
                }
            }
            accepted = listener.listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let bus = bus.clone();
                    tokio::spawn(async move {
                        if let Err(error) = connection(stream, bus, max_request_bytes).await {
                            tracing::debug!(%error, "CLI connection ended with an error.");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "Accepting a CLI connection failed.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// One line read from a connection.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A complete line (without its `\n` or `\r\n`), in the caller's buffer.
    Complete,
    /// A line longer than the limit; it was read to its end and thrown away.
    TooLong,
    /// The peer closed the connection.
    End,
}

/// Reads one line into `buf`, holding at most `max` bytes of it.
///
/// # Cancel safety
///
/// Not cancel safe: a cancelled read loses the part of the line consumed so far.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (too_long, buf.is_empty()) {
                (true, _) => Line::TooLong,
                (false, true) => Line::End,
                // A last line without its newline still counts.
                (false, false) => Line::Complete,
            });
        }
        let newline = available.iter().position(|&b| b == b'\n');
        let chunk = &available[..newline.unwrap_or(available.len())];
        if !too_long {
            if buf.len() + chunk.len() > max {
                too_long = true;
                buf.clear();
                buf.shrink_to(max.min(64 * 1024));
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let used = newline.map_or(available.len(), |at| at + 1);
        reader.consume(used);
        if newline.is_some() {
            if too_long {
                return Ok(Line::TooLong);
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Line::Complete);
        }
    }
}

fn refused(message: String) -> Response {
    Response { ok: false, result: None, error: Some(CommandError::invalid_params(message)) }
}

async fn connection(stream: UnixStream, bus: Arc<CommandBus>, max_request_bytes: usize) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        let response = match read_line(&mut reader, &mut line, max_request_bytes).await? {
            Line::End => return Ok(()),
            Line::TooLong => refused(format!(
                "request line too long: the limit is {max_request_bytes} bytes (max_request_bytes in the host config); the line was discarded"
            )),
            Line::Complete => match std::str::from_utf8(&line) {
                Err(error) => refused(format!(
                    "request is not valid UTF-8 (invalid byte at offset {}); requests are JSON lines in UTF-8",
                    error.valid_up_to()
                )),
                Ok(text) => match serde_json::from_str::<Request>(text) {
                    Err(error) => refused(format!("malformed request: {error}")),
                    Ok(request) => handle(&bus, request).await,
                },
            },
        };
        let mut bytes = serde_json::to_vec(&response).unwrap_or_else(|_| br#"{"ok":false}"#.to_vec());
        bytes.push(b'\n');
        write.write_all(&bytes).await?;
    }
}

async fn handle(bus: &CommandBus, request: Request) -> Response {
    let payload = match serde_json::to_vec(&request.payload) {
        Ok(payload) => payload,
        Err(error) => {
            return Response { ok: false, result: None, error: Some(CommandError::invalid_params(error.to_string())) };
        }
    };
    let call = CallRequest {
        command: &request.command,
        payload: &payload,
        caller: "cli",
        correlation_id: request.correlation_id.as_deref().unwrap_or(""),
        timeout: request.timeout_ms.map(Duration::from_millis),
        ..CallRequest::default()
    };
    match bus.call(call).await {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(result) => Response { ok: true, result: Some(result), error: None },
            Err(error) => Response {
                ok: false,
                result: None,
                error: Some(CommandError::internal(format!("{} returned malformed JSON: {error}", request.command))),
            },
        },
        Err(error) => Response { ok: false, result: None, error: Some(error) },
    }
}

#[cfg(test)]
mod tests {
    use super::{Line, read_line};

    async fn lines(input: &[u8], max: usize) -> Vec<(Line, Vec<u8>)> {
        // A tiny buffer makes lines span several reads.
        let mut reader = tokio::io::BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            let line = read_line(&mut reader, &mut buf, max).await.unwrap();
            if line == Line::End {
                return out;
            }
            out.push((line, buf.clone()));
        }
    }

    #[tokio::test]
    async fn a_line_over_the_limit_is_discarded_up_to_its_newline_and_the_next_line_is_read() {
        let got = lines(b"0123456789abcdef\nok\r\nlast", 10).await;
        assert_eq!(
            got,
            vec![(Line::TooLong, vec![]), (Line::Complete, b"ok".to_vec()), (Line::Complete, b"last".to_vec())]
        );
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_limit_is_accepted() {
        assert_eq!(lines(b"0123456789\n", 10).await, vec![(Line::Complete, b"0123456789".to_vec())]);
    }
}
