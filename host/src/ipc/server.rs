//! Serves CLI requests on the host's Unix socket until shutdown.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use systemprompt_module_sdk::CommandError;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use super::{Request, Response};
use crate::bus::{CallRequest, CommandBus};

/// Binds the socket (replacing a stale one: the caller holds the data-dir lock).
pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let listener =
        UnixListener::bind(path).map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Accepts connections until `shutdown` is cancelled.
pub async fn serve(listener: UnixListener, bus: Arc<CommandBus>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let bus = bus.clone();
                    tokio::spawn(async move {
                        if let Err(error) = connection(stream, bus).await {
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

async fn connection(stream: UnixStream, bus: Arc<CommandBus>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        let response = match serde_json::from_str::<Request>(&line) {
            Err(error) => Response {
                ok: false,
                result: None,
                error: Some(CommandError::invalid_params(format!("malformed request: {error}"))),
            },
            Ok(request) => handle(&bus, request).await,
        };
        let mut bytes = serde_json::to_vec(&response).unwrap_or_else(|_| br#"{"ok":false}"#.to_vec());
        bytes.push(b'\n');
        write.write_all(&bytes).await?;
    }
    Ok(())
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
        cancel: None,
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
