//! The module's handle on the host: dispatch commands, publish events, log.
//!
//! [`HostApi`] is the seam: in a loaded library it is the host's C table
//! ([`CHost`]); in tests it is a fake host ([`crate::testing`]). Module code only sees
//! [`Host`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::abi::{self, HostVTable, RawBytes, RawCallContext, RawReply};
use crate::error::CommandError;
use crate::module::Command;

/// Where a dispatched call's result goes.
pub type Completion = Box<dyn FnOnce(Result<Vec<u8>, CommandError>) + Send>;

/// A call a module makes on the bus.
#[derive(Debug, Clone)]
pub struct OutgoingCall<'a> {
    /// The calling module.
    pub caller: &'a str,
    /// Full command name.
    pub command: &'a str,
    /// JSON payload.
    pub payload: &'a [u8],
    /// How long the caller waits; `None` uses the host's default.
    pub timeout: Option<Duration>,
    /// Ties the call to the work that caused it.
    pub correlation_id: &'a str,
    /// The scheduled occurrence the call runs for, as JSON; empty for none.
    pub occurrence: &'a [u8],
}

/// What a host must offer a module.
pub trait HostApi: Send + Sync + 'static {
    /// Dispatches a call; `done` runs exactly once, on any thread. Returns an id for
    /// [`HostApi::cancel`] while the call is pending, 0 when it already completed.
    fn dispatch(&self, call: OutgoingCall<'_>, done: Completion) -> u64;
    /// Abandons a pending call; `done` then runs with a `cancelled` error.
    fn cancel(&self, call_id: u64);
    /// Publishes `name` from module `source`. Never blocks.
    fn publish(&self, source: &str, name: &str, payload: &[u8]);
    /// Logs through the host.
    fn log(&self, level: u32, target: &str, message: &str);
}

/// Options for [`Host::dispatch`].
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// How long to wait; `None` uses the host's default.
    pub timeout: Option<Duration>,
    /// Ties the call to the work that caused it.
    pub correlation_id: Option<String>,
    /// Abandons the call when cancelled: the handler is told to stop.
    pub cancel: Option<tokio_util::sync::CancellationToken>,
    /// The scheduled occurrence the call runs for, as JSON
    /// ([`crate::Occurrence::to_json_bytes`]); set by the scheduler's engine, passed on to
    /// the handler as [`crate::Call::occurrence`].
    pub occurrence: Option<Vec<u8>>,
}

impl CallOptions {
    /// Options for a call made while handling `call`: the same correlation id and
    /// occurrence, cancelled when `call` is, and the host's default deadline.
    pub fn on_behalf_of(call: &crate::Call<'_>) -> CallOptions {
        CallOptions {
            timeout: None,
            correlation_id: Some(call.correlation_id().to_owned()),
            cancel: Some(call.cancellation_token()),
            occurrence: call.occurrence_bytes().map(<[u8]>::to_vec),
        }
    }
}

/// The module's handle on the host. Cheap to clone.
#[derive(Clone)]
pub struct Host {
    api: Arc<dyn HostApi>,
    module: &'static str,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("module", &self.module).finish_non_exhaustive()
    }
}

impl Host {
    pub(crate) fn new(api: Arc<dyn HostApi>, module: &'static str) -> Host {
        Host { api, module }
    }

    /// The name of the module holding this handle.
    pub fn module_name(&self) -> &'static str {
        self.module
    }

    /// Dispatches `command` with raw JSON bytes and returns a future of the result bytes.
    ///
    /// The call starts here, not when the future is first polled: a caller that starts
    /// many calls at one instant (the scheduler's engine) sends them all before awaiting any.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the result; the command itself runs on until it ends
    /// or its deadline passes. To stop the command, cancel `options.cancel` instead.
    pub fn dispatch_bytes(
        &self,
        command: &str,
        payload: &[u8],
        options: &CallOptions,
    ) -> impl Future<Output = Result<Vec<u8>, CommandError>> + Send + 'static {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let call = OutgoingCall {
            caller: self.module,
            command,
            payload,
            timeout: options.timeout,
            correlation_id: options.correlation_id.as_deref().unwrap_or(""),
            occurrence: options.occurrence.as_deref().unwrap_or_default(),
        };
        let call_id = self.api.dispatch(
            call,
            Box::new(move |result| {
                let _ = tx.send(result);
            }),
        );
        let api = self.api.clone();
        let cancel = options.cancel.clone().filter(|_| call_id != 0);
        async move {
            let lost = || Err(CommandError::internal("the host dropped a call without a result"));
            let Some(cancel) = cancel else {
                return rx.await.unwrap_or_else(|_| lost());
            };
            let mut rx = rx;
            tokio::select! {
                result = &mut rx => result.unwrap_or_else(|_| lost()),
                () = cancel.cancelled() => {
                    api.cancel(call_id);
                    // The host completes the call with `cancelled` (or its real result, if it
                    // finished first).
                    rx.await.unwrap_or_else(|_| lost())
                }
            }
        }
    }

    /// Dispatches `command` with a JSON value and waits for the JSON result.
    pub async fn dispatch(
        &self,
        command: &str,
        payload: &serde_json::Value,
        options: &CallOptions,
    ) -> Result<serde_json::Value, CommandError> {
        let payload = serde_json::to_vec(payload)
            .map_err(|error| CommandError::invalid_params(format!("payload is not JSON: {error}")))?;
        let bytes = self.dispatch_bytes(command, &payload, options).await?;
        serde_json::from_slice(&bytes)
            .map_err(|error| CommandError::internal(format!("{command} returned malformed JSON: {error}")))
    }

    /// Calls a typed command.
    pub async fn call<C: Command>(&self, params: &C::Params) -> Result<C::Output, CommandError> {
        self.call_with::<C>(params, &CallOptions::default()).await
    }

    /// Calls a typed command with options.
    pub async fn call_with<C: Command>(
        &self,
        params: &C::Params,
        options: &CallOptions,
    ) -> Result<C::Output, CommandError> {
        let payload = serde_json::to_vec(params)
            .map_err(|error| CommandError::invalid_params(format!("{}: {error}", C::NAME)))?;
        let bytes = self.dispatch_bytes(C::NAME, &payload, options).await?;
        serde_json::from_slice(&bytes)
            .map_err(|error| CommandError::internal(format!("{} returned unexpected JSON: {error}", C::NAME)))
    }

    /// Publishes event `name` (local to this module; subscribers see `module:name`).
    pub fn publish(&self, name: &str, payload: &impl Serialize) {
        match serde_json::to_vec(payload) {
            Ok(bytes) => self.api.publish(self.module, name, &bytes),
            Err(error) => self.api.log(
                abi::level::ERROR,
                self.module,
                &format!("event {name} dropped: payload is not JSON: {error}"),
            ),
        }
    }
}

/// The host's C table, as a [`HostApi`].
pub(crate) struct CHost {
    table: *const HostVTable,
}

// SAFETY: the host promises its table and `ctx` are valid for the process lifetime and that
// its functions are thread-safe (ABI contract in `abi.rs`).
unsafe impl Send for CHost {}
// SAFETY: as above.
unsafe impl Sync for CHost {}

impl CHost {
    /// # Safety
    ///
    /// `table` must be a host table that lives for the rest of the process.
    pub(crate) unsafe fn new(table: *const HostVTable) -> CHost {
        CHost { table }
    }

    fn table(&self) -> &HostVTable {
        // SAFETY: guaranteed by `new`'s contract.
        unsafe { &*self.table }
    }
}

unsafe extern "C" fn complete_boxed(token: *mut std::ffi::c_void, status: u32, payload: RawBytes) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `token` was made by `Box::into_raw` in `CHost::dispatch` and the host calls
        // this exactly once.
        let done = unsafe { Box::from_raw(token.cast::<Completion>()) };
        // SAFETY: the host keeps the payload alive for the duration of this call.
        let bytes = unsafe { payload.as_slice() };
        let result =
            if status == abi::STATUS_OK { Ok(bytes.to_vec()) } else { Err(CommandError::from_json_bytes(bytes)) };
        done(result);
    }));
}

impl HostApi for CHost {
    fn dispatch(&self, call: OutgoingCall<'_>, done: Completion) -> u64 {
        let token = Box::into_raw(Box::new(done)).cast::<std::ffi::c_void>();
        let timeout_ms = call.timeout.map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1));
        let context = RawCallContext {
            request_id: 0,
            timeout_ms,
            caller: RawBytes::from_slice(call.caller.as_bytes()),
            correlation_id: RawBytes::from_slice(call.correlation_id.as_bytes()),
            occurrence: RawBytes::from_slice(call.occurrence),
        };
        let table = self.table();
        // SAFETY: the table is valid (see `new`); every pointer passed lives across the call.
        unsafe {
            (table.dispatch)(
                table.ctx,
                &context,
                RawBytes::from_slice(call.command.as_bytes()),
                RawBytes::from_slice(call.payload),
                RawReply { token, complete: complete_boxed },
            )
        }
    }

    fn cancel(&self, call_id: u64) {
        let table = self.table();
        // SAFETY: the table is valid (see `new`).
        unsafe { (table.cancel)(table.ctx, call_id) }
    }

    fn publish(&self, source: &str, name: &str, payload: &[u8]) {
        let table = self.table();
        // SAFETY: the table is valid (see `new`); the slices live across the call.
        unsafe {
            (table.publish)(
                table.ctx,
                RawBytes::from_slice(source.as_bytes()),
                RawBytes::from_slice(name.as_bytes()),
                RawBytes::from_slice(payload),
            );
        }
    }

    fn log(&self, level: u32, target: &str, message: &str) {
        let table = self.table();
        // SAFETY: the table is valid (see `new`); the slices live across the call.
        unsafe {
            (table.log)(
                table.ctx,
                level,
                RawBytes::from_slice(target.as_bytes()),
                RawBytes::from_slice(message.as_bytes()),
            );
        }
    }
}
