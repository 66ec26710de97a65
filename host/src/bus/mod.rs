//! The command bus: routes `namespace:command` calls with JSON payloads to the module that
//! owns them, or to the host's own `host:*` commands.
//!
//! Per call: a deadline, a cancellation token, a caller and a correlation id. At the
//! deadline (or on cancellation) the module is told to cancel the handler, and the bus waits
//! up to the cancel grace for the handler's own reply before answering the caller `timeout`
//! (or `cancelled`): a runner still stopping its child is not reported stopped while it
//! lives. The handler's late result is dropped; a handler that ignores cancellation holds
//! its caller at most deadline + grace. A handler that completes during the call (the
//! common, synchronous case) never touches a timer.

pub mod events;
pub mod suggest;

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use systemprompt_module_sdk::CommandError;
use systemprompt_module_sdk::abi::{self, RawBytes, RawCallContext, RawReply};
use systemprompt_module_sdk::error::code;
use systemprompt_module_sdk::host_commands::CommandLookup;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::loader::{LoadedModule, ModuleState};

/// The result of a call: JSON bytes or an error.
pub type CallResult = Result<Vec<u8>, CommandError>;

/// A command the host answers itself.
pub type BuiltinFn = Arc<dyn Fn(&[u8]) -> CallResult + Send + Sync>;

#[derive(Clone)]
enum Route {
    Module { module: Arc<LoadedModule>, timeout: Option<Duration> },
    Builtin(BuiltinFn),
}

/// One call on the bus.
#[derive(Debug, Clone, Default)]
pub struct CallRequest<'a> {
    /// Full command name.
    pub command: &'a str,
    /// JSON payload (empty means `{}`).
    pub payload: &'a [u8],
    /// Who calls: a module name, `cli`, `host`.
    pub caller: &'a str,
    /// Ties calls of one piece of work together.
    pub correlation_id: &'a str,
    /// The scheduled occurrence the call runs for (JSON, forwarded unread); empty for none.
    pub occurrence: &'a [u8],
    /// The deadline; `None` uses the command's declared timeout or the host default.
    pub timeout: Option<Duration>,
    /// Cancels the call early (the handler is told, the caller gets `cancelled`).
    pub cancel: Option<CancellationToken>,
}

/// The command bus. Routes are fixed once the host has loaded its modules.
pub struct CommandBus {
    routes: HashMap<String, Route>,
    next_request: AtomicU64,
    default_timeout: Duration,
    cancel_grace: Duration,
}

/// A call that did not complete synchronously.
pub struct PendingCall {
    rx: oneshot::Receiver<CallResult>,
    module: Arc<LoadedModule>,
    request_id: u64,
    timeout: Duration,
    grace: Duration,
    command: String,
    cancel: Option<CancellationToken>,
}

/// How a call started.
pub enum Started {
    /// Completed during the call.
    Ready(CallResult),
    /// Completes later; await [`PendingCall::wait`].
    Pending(PendingCall),
}

unsafe extern "C" fn complete_oneshot(token: *mut c_void, status: u32, payload: RawBytes) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: made by `Box::into_raw` in `CommandBus::start`; the module completes once.
        let tx = unsafe { Box::from_raw(token.cast::<oneshot::Sender<CallResult>>()) };
        // SAFETY: valid for the duration of this call.
        let bytes = unsafe { payload.as_slice() };
        let result =
            if status == abi::STATUS_OK { Ok(bytes.to_vec()) } else { Err(CommandError::from_json_bytes(bytes)) };
        // The receiver is gone when the caller timed out: the late reply is dropped.
        let _ = tx.send(result);
    }));
}

impl PendingCall {
    /// Waits for the result, the deadline, or cancellation.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future abandons the call without telling the module;
    /// use `CallRequest::cancel` to stop a call.
    pub async fn wait(self) -> CallResult {
        let PendingCall { mut rx, module, request_id, timeout, grace, command, cancel } = self;
        let cancelled = async {
            match &cancel {
                Some(token) => token.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let error = tokio::select! {
            result = tokio::time::timeout(timeout, &mut rx) => match result {
                Ok(Ok(result)) => return result,
                Ok(Err(_)) => return Err(CommandError::internal(format!("{command}: the module dropped the call"))),
                Err(_) => CommandError::new(code::TIMEOUT, format!("{command} timed out after {}", humanize(timeout))),
            },
            () = cancelled => CommandError::new(code::CANCELLED, format!("{command} was cancelled by its caller")),
        };
        module.cancel(request_id);
        // Wait for the handler to stop (its reply, whatever it says, is dropped), but no
        // longer than the grace: a handler ignoring cancellation is abandoned.
        if tokio::time::timeout(grace, rx).await.is_err() {
            tracing::warn!(command = %command, request_id, grace_ms = grace.as_millis(), "Handler did not stop within the cancel grace; abandoned.");
        }
        Err(error)
    }
}

/// `1.5s`, `250ms`: how deadlines are shown.
pub fn humanize(duration: Duration) -> String {
    if duration.as_millis() < 1000 {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

impl CommandBus {
    /// A bus over the commands of `modules` (as declared in their manifests) and `builtins`.
    pub fn new(modules: &[Arc<LoadedModule>], builtins: Vec<(String, BuiltinFn)>, default_timeout: Duration) -> Self {
        Self::with_cancel_grace(modules, builtins, default_timeout, Duration::from_secs(10))
    }

    /// A bus whose cancelled or timed-out calls wait up to `cancel_grace` for the handler
    /// to stop before their caller is answered.
    pub fn with_cancel_grace(
        modules: &[Arc<LoadedModule>],
        builtins: Vec<(String, BuiltinFn)>,
        default_timeout: Duration,
        cancel_grace: Duration,
    ) -> Self {
        let mut routes = HashMap::new();
        for module in modules {
            for spec in &module.manifest.commands {
                let name = format!("{}:{}", module.name(), spec.name);
                let timeout = spec.timeout_ms.map(Duration::from_millis);
                routes.insert(name, Route::Module { module: module.clone(), timeout });
            }
        }
        for (name, builtin) in builtins {
            routes.insert(name, Route::Builtin(builtin));
        }
        CommandBus { routes, next_request: AtomicU64::new(1), default_timeout, cancel_grace }
    }

    /// Every routed command name, sorted.
    pub fn command_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.routes.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Whether a command is routed.
    pub fn has_command(&self, name: &str) -> bool {
        self.routes.contains_key(name)
    }

    /// Who answers a routed command: its module's name, or `host` for the host's own
    /// commands; `None` when nothing routes it.
    pub fn owner(&self, name: &str) -> Option<&str> {
        match self.routes.get(name)? {
            Route::Module { module, .. } => Some(module.name()),
            Route::Builtin(_) => Some(CommandLookup::HOST),
        }
    }

    /// The answer of `host:command`: whether `name` is routed, by whom, and otherwise its
    /// close matches (as the unknown-command error names them).
    pub fn look_up(&self, name: &str) -> CommandLookup {
        if !self.has_command(name) {
            let known: Vec<&str> = self.routes.keys().map(String::as_str).collect();
            let suggestions = suggest::close_matches(name, &known).into_iter().map(str::to_owned).collect();
            return CommandLookup { found: false, owner: None, suggestions };
        }
        CommandLookup { found: true, owner: self.owner(name).map(str::to_owned), suggestions: Vec::new() }
    }

    /// Starts a call. Never blocks and needs no runtime; only a pending call needs one.
    pub fn start(&self, request: &CallRequest<'_>) -> Started {
        let Some(route) = self.routes.get(request.command) else {
            return Started::Ready(Err(suggest::unknown_command(
                request.command,
                self.routes.keys().map(String::as_str),
            )));
        };
        let (module, declared) = match route {
            Route::Builtin(builtin) => return Started::Ready(builtin(request.payload)),
            Route::Module { module, timeout } => (module, *timeout),
        };
        if module.state() != ModuleState::Started {
            return Started::Ready(Err(CommandError::new(
                code::UNAVAILABLE,
                format!("module {} is {}, not serving {}", module.name(), module.state().as_str(), request.command),
            )));
        }
        let timeout = request.timeout.or(declared).unwrap_or(self.default_timeout);
        let request_id = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = oneshot::channel::<CallResult>();
        let token = Box::into_raw(Box::new(tx)).cast::<c_void>();
        let context = RawCallContext {
            request_id,
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX).max(1),
            caller: RawBytes::from_slice(request.caller.as_bytes()),
            correlation_id: RawBytes::from_slice(request.correlation_id.as_bytes()),
            occurrence: RawBytes::from_slice(request.occurrence),
        };
        let payload: &[u8] = if request.payload.is_empty() { b"{}" } else { request.payload };
        module.call(&context, request.command, payload, RawReply { token, complete: complete_oneshot });
        match rx.try_recv() {
            Ok(result) => Started::Ready(result),
            Err(oneshot::error::TryRecvError::Closed) => {
                Started::Ready(Err(CommandError::internal(format!("{}: the module dropped the call", request.command))))
            }
            Err(oneshot::error::TryRecvError::Empty) => Started::Pending(PendingCall {
                rx,
                module: module.clone(),
                request_id,
                timeout,
                grace: self.cancel_grace,
                command: request.command.to_owned(),
                cancel: request.cancel.clone(),
            }),
        }
    }

    /// Calls a command and waits for its result.
    pub async fn call(&self, request: CallRequest<'_>) -> CallResult {
        match self.start(&request) {
            Started::Ready(result) => result,
            Started::Pending(pending) => pending.wait().await,
        }
    }

    /// Calls a command with a JSON value and decodes the JSON result.
    pub async fn call_json(
        &self,
        command: &str,
        payload: &serde_json::Value,
        caller: &str,
        timeout: Option<Duration>,
    ) -> Result<serde_json::Value, CommandError> {
        let payload = serde_json::to_vec(payload).map_err(|error| CommandError::invalid_params(error.to_string()))?;
        let bytes =
            self.call(CallRequest { command, payload: &payload, caller, timeout, ..CallRequest::default() }).await?;
        serde_json::from_slice(&bytes)
            .map_err(|error| CommandError::internal(format!("{command} returned malformed JSON: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{BuiltinFn, CommandBus};

    fn bus() -> CommandBus {
        let ok: BuiltinFn = Arc::new(|_: &[u8]| Ok(b"{}".to_vec()));
        let builtins = vec![("host:status".to_owned(), ok.clone()), ("host:modules".to_owned(), ok)];
        CommandBus::new(&[], builtins, Duration::from_secs(1))
    }

    #[test]
    fn a_routed_command_is_found_with_its_owner() {
        let lookup = bus().look_up("host:status");
        assert!(lookup.found);
        assert_eq!(lookup.owner.as_deref(), Some("host"));
        assert!(lookup.suggestions.is_empty());
    }

    #[test]
    fn an_unrouted_command_is_not_found_and_gets_the_close_matches_of_the_unknown_command_error() {
        let lookup = bus().look_up("host:statsu");
        assert_eq!((lookup.found, lookup.owner), (false, None));
        assert_eq!(lookup.suggestions, ["host:status"]);
        assert!(bus().look_up("backup:run").suggestions.is_empty());
    }
}
