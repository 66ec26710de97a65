//! Adapts a [`Module`] to the C ABI: the `extern "C"` functions of a [`ModuleVTable`], the
//! per-library instance they drive, and the [`export_module!`](crate::export_module) macro.
//!
//! Invariants:
//! - Every `extern "C"` function catches unwinds; a panicking handler becomes a `panic`
//!   error result and the module keeps serving.
//! - Every call gets exactly one reply: a [`Reply`] dropped without a result sends an
//!   `internal` error.
//! - A library holds at most one initialised instance (libraries are never unloaded).

use std::any::Any;
use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::abi::{self, ModuleVTable, RawBytes, RawCallContext, RawReply};
use crate::error::{CommandError, ModuleError, code};
use crate::host::{CHost, Host, HostApi};
use crate::module::{Event, Module, ModuleContext};
use crate::router::{BoxFuture, Call, CallResult, Handler, Router};
use crate::wire::{DescribeResponse, InitRequest};

/// A test's completion: status and payload bytes.
type ReplyFn = Box<dyn FnOnce(u32, &[u8]) + Send>;

/// Where a call's result goes: the host's C callback, or a closure in tests.
pub(crate) enum ReplyTo {
    Raw(RawReply),
    Closure(ReplyFn),
}

/// A call's one reply. Dropped without a result, it sends an `internal` error.
pub(crate) struct Reply(Option<ReplyTo>);

// SAFETY: the ABI requires `RawReply::complete` to be callable from any thread.
unsafe impl Send for Reply {}

impl Reply {
    pub(crate) fn raw(raw: RawReply) -> Reply {
        Reply(Some(ReplyTo::Raw(raw)))
    }

    pub(crate) fn closure(done: impl FnOnce(u32, &[u8]) + Send + 'static) -> Reply {
        Reply(Some(ReplyTo::Closure(Box::new(done))))
    }

    pub(crate) fn send(mut self, result: CallResult) {
        self.complete(result);
    }

    fn complete(&mut self, result: CallResult) {
        let Some(to) = self.0.take() else { return };
        let (status, bytes) = match result {
            Ok(bytes) => (abi::STATUS_OK, bytes),
            Err(error) => (abi::STATUS_ERR, error.to_json_bytes()),
        };
        match to {
            // SAFETY: `raw` is taken out of the option, so it completes once; the bytes outlive
            // the call.
            ReplyTo::Raw(raw) => unsafe { (raw.complete)(raw.token, status, RawBytes::from_slice(&bytes)) },
            ReplyTo::Closure(done) => done(status, &bytes),
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.complete(Err(CommandError::internal("the handler dropped its reply without a result")));
    }
}

/// Turns a caught panic into the error a caller sees.
pub(crate) fn panic_error(context: &str, payload: Box<dyn Any + Send>) -> CommandError {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    CommandError::new(code::PANIC, format!("{context} panicked: {message}"))
}

/// A future that turns a panic while polling into an error.
struct CatchUnwind(BoxFuture<CallResult>, &'static str);

impl Future for CatchUnwind {
    type Output = CallResult;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CallResult> {
        let name = self.1;
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => Poll::Ready(Err(panic_error(name, payload))),
        }
    }
}

/// The per-call facts the host passes, borrowed for the duration of the call.
pub(crate) struct CallMeta<'a> {
    pub(crate) request_id: u64,
    pub(crate) timeout: Option<Duration>,
    pub(crate) caller: Cow<'a, str>,
    pub(crate) correlation_id: Cow<'a, str>,
    pub(crate) occurrence: &'a [u8],
}

type Inflight = Arc<Mutex<HashMap<u64, CancellationToken>>>;

/// A running module and everything its calls need.
pub(crate) struct Instance<M: Module> {
    module: Arc<M>,
    router: Router<M>,
    // Invariant: `Some` for the instance's whole life; taken only in `drop`.
    runtime: Option<tokio::runtime::Runtime>,
    inflight: Inflight,
}

impl<M: Module> Drop for Instance<M> {
    fn drop(&mut self) {
        // Dropping a runtime from inside another runtime panics; let it wind down instead.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

pub(crate) fn router_of<M: Module>() -> Router<M> {
    let mut router = Router::default();
    M::routes(&mut router);
    router
}

impl<M: Module> Instance<M> {
    pub(crate) fn new(request: InitRequest, api: Arc<dyn HostApi>) -> Result<Instance<M>, ModuleError> {
        let config: M::Config = serde_json::from_value(request.config)
            .map_err(|error| ModuleError::new(format!("invalid config for module {}: {error}", M::NAME)))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("{}-rt", M::NAME))
            .enable_all()
            .build()
            .map_err(|error| ModuleError::new(format!("cannot start the module runtime: {error}")))?;
        let cx = ModuleContext {
            host: Host::new(api, M::NAME),
            runtime: runtime.handle().clone(),
            data_dir: PathBuf::from(request.data_dir),
        };
        let router = router_of::<M>();
        let module = {
            // Entering lets `init` create tokio resources bound to the module's runtime.
            let _guard = runtime.enter();
            M::init(config, cx)?
        };
        Ok(Instance { module: Arc::new(module), router, runtime: Some(runtime), inflight: Arc::default() })
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("invariant: the runtime lives as long as the instance")
    }

    pub(crate) fn module(&self) -> &Arc<M> {
        &self.module
    }

    pub(crate) fn call(&self, meta: CallMeta<'_>, command: &str, payload: &[u8], reply: Reply) {
        let Some(handler) = self.router.routes.get(command) else {
            reply.send(Err(CommandError::new(
                code::UNKNOWN_COMMAND,
                format!("module {} has no command {command}", M::NAME),
            )));
            return;
        };
        let CallMeta { request_id, timeout, caller, correlation_id, occurrence } = meta;
        let occurrence = Cow::Borrowed(occurrence);
        match handler {
            Handler::Sync(handler) => {
                let call = Call { request_id, deadline: None, caller, correlation_id, occurrence, cancel: None };
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| handler(&self.module, payload, &call)))
                    .unwrap_or_else(|payload| Err(panic_error(command, payload)));
                reply.send(result);
            }
            Handler::Async(handler) => {
                let cancel = CancellationToken::new();
                let deadline = timeout.map(|t| Instant::now() + t);
                let call =
                    Call { request_id, deadline, caller, correlation_id, occurrence, cancel: Some(cancel.clone()) }
                        .into_owned();
                let started =
                    std::panic::catch_unwind(AssertUnwindSafe(|| handler(self.module.clone(), payload, call)));
                let future = match started {
                    Ok(Ok(future)) => future,
                    Ok(Err(error)) => return reply.send(Err(error)),
                    Err(payload) => return reply.send(Err(panic_error(command, payload))),
                };
                let name: &'static str =
                    self.router.routes.get_key_value(command).map(|(name, _)| *name).unwrap_or("command");
                let inflight = self.inflight.clone();
                if request_id != 0 {
                    lock(&inflight).insert(request_id, cancel);
                }
                self.runtime().spawn(async move {
                    let result = CatchUnwind(future, name).await;
                    if request_id != 0 {
                        lock(&inflight).remove(&request_id);
                    }
                    reply.send(result);
                });
            }
        }
    }

    pub(crate) fn cancel(&self, request_id: u64) {
        if let Some(token) = lock(&self.inflight).remove(&request_id) {
            token.cancel();
        }
    }

    pub(crate) fn start(&self) -> Result<(), ModuleError> {
        let _guard = self.runtime().enter();
        self.module.start()
    }

    pub(crate) fn stop(&self) {
        let _guard = self.runtime().enter();
        self.module.stop();
        for (_, token) in lock(&self.inflight).drain() {
            token.cancel();
        }
    }

    pub(crate) fn on_event(&self, name: &str, payload: &[u8]) {
        let payload = serde_json::from_slice(payload).unwrap_or(serde_json::Value::Null);
        let _guard = self.runtime().enter();
        self.module.on_event(Event { name: name.to_owned(), payload });
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the map inconsistent (single inserts and
    // removes), so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---- The library's one instance and the `extern "C"` functions over it. ----

static INSTANCE: OnceLock<Box<dyn Any + Send + Sync>> = OnceLock::new();

fn instance<M: Module>() -> Result<&'static Instance<M>, CommandError> {
    INSTANCE
        .get()
        .and_then(|it| it.downcast_ref::<Instance<M>>())
        .ok_or_else(|| CommandError::new(code::UNAVAILABLE, format!("module {} is not initialised", M::NAME)))
}

fn guarded(reply: Reply, context: &str, body: impl FnOnce() -> CallResult) {
    let result = std::panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|p| Err(panic_error(context, p)));
    reply.send(result);
}

fn ok_empty() -> CallResult {
    Ok(b"null".to_vec())
}

unsafe extern "C" fn describe<M: Module>(reply: RawReply) {
    guarded(Reply::raw(reply), "describe", || {
        let response = DescribeResponse {
            name: M::NAME.to_owned(),
            commands: router_of::<M>().names().into_iter().map(str::to_owned).collect(),
        };
        serde_json::to_vec(&response).map_err(|error| CommandError::internal(error.to_string()))
    });
}

unsafe extern "C" fn init<M: Module>(host: *const abi::HostVTable, config: RawBytes, reply: RawReply) {
    guarded(Reply::raw(reply), "init", || {
        // SAFETY: the host passes a valid slice for the duration of the call.
        let config = unsafe { config.as_slice() };
        let request: InitRequest = serde_json::from_slice(config)
            .map_err(|error| CommandError::invalid_params(format!("malformed init request: {error}")))?;
        // SAFETY: the ABI contract: the host table outlives every module.
        let api: Arc<dyn HostApi> = Arc::new(unsafe { CHost::new(host) });
        crate::logging::install(api.clone(), &request.log_level);
        let instance = Instance::<M>::new(request, api).map_err(|error| CommandError::failed(error.0))?;
        INSTANCE
            .set(Box::new(instance))
            .map_err(|_| CommandError::failed(format!("module {} is already initialised", M::NAME)))?;
        ok_empty()
    });
}

unsafe extern "C" fn start<M: Module>(reply: RawReply) {
    guarded(Reply::raw(reply), "start", || {
        instance::<M>()?.start().map_err(|error| CommandError::failed(error.0))?;
        ok_empty()
    });
}

unsafe extern "C" fn stop<M: Module>(reply: RawReply) {
    guarded(Reply::raw(reply), "stop", || {
        instance::<M>()?.stop();
        ok_empty()
    });
}

unsafe extern "C" fn call<M: Module>(
    context: *const RawCallContext,
    command: RawBytes,
    payload: RawBytes,
    reply: RawReply,
) {
    let reply = Reply::raw(reply);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(move || {
        // SAFETY: the host passes valid pointers for the duration of the call.
        let (context, command, payload) = unsafe { (&*context, command.as_slice(), payload.as_slice()) };
        let instance = match instance::<M>() {
            Ok(instance) => instance,
            Err(error) => return reply.send(Err(error)),
        };
        let Ok(command) = std::str::from_utf8(command) else {
            return reply.send(Err(CommandError::invalid_params("command name is not UTF-8")));
        };
        // SAFETY: as above.
        let (caller, correlation_id, occurrence) =
            unsafe { (context.caller.as_slice(), context.correlation_id.as_slice(), context.occurrence.as_slice()) };
        let meta = CallMeta {
            request_id: context.request_id,
            timeout: (context.timeout_ms > 0).then(|| Duration::from_millis(context.timeout_ms)),
            caller: String::from_utf8_lossy(caller),
            correlation_id: String::from_utf8_lossy(correlation_id),
            occurrence,
        };
        instance.call(meta, command, payload, reply);
    }));
    // A panic here happened outside any handler (the handler's own panics are caught in
    // `Instance::call`); the reply was dropped while unwinding and so already sent an error.
    drop(outcome);
}

unsafe extern "C" fn cancel<M: Module>(request_id: u64) {
    let _ = std::panic::catch_unwind(|| {
        if let Ok(instance) = instance::<M>() {
            instance.cancel(request_id);
        }
    });
}

unsafe extern "C" fn on_event<M: Module>(name: RawBytes, payload: RawBytes) {
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the host passes valid slices for the duration of the call.
        let (name, payload) = unsafe { (name.as_slice(), payload.as_slice()) };
        if let Ok(instance) = instance::<M>() {
            let name = String::from_utf8_lossy(name);
            instance.on_event(&name, payload);
        }
    }));
}

/// A module's table in a `static` (raw pointers are not `Sync` by themselves).
#[repr(transparent)]
pub struct StaticTable(ModuleVTable);

// SAFETY: the table is immutable and its pointers are to static data and functions.
unsafe impl Sync for StaticTable {}

const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

impl StaticTable {
    /// The table for module `M`.
    pub const fn of<M: Module>() -> StaticTable {
        StaticTable(ModuleVTable {
            abi_version: abi::ABI_VERSION,
            size: std::mem::size_of::<ModuleVTable>() as u32,
            name: RawBytes { ptr: M::NAME.as_ptr(), len: M::NAME.len() },
            sdk_version: RawBytes { ptr: SDK_VERSION.as_ptr(), len: SDK_VERSION.len() },
            describe: describe::<M>,
            init: init::<M>,
            start: start::<M>,
            stop: stop::<M>,
            call: call::<M>,
            cancel: cancel::<M>,
            on_event: on_event::<M>,
        })
    }

    /// The pointer the entry symbol returns.
    pub const fn as_ptr(&'static self) -> *const ModuleVTable {
        &self.0
    }
}

/// Exports a [`Module`] from a `cdylib`: defines the library's entry symbol.
///
/// ```text
/// systemprompt_module_sdk::export_module!(MyModule);
/// ```
#[macro_export]
macro_rules! export_module {
    ($module:ty) => {
        /// The library's entry point: returns the module's ABI table.
        #[unsafe(no_mangle)]
        pub extern "C" fn systemprompt_module_entry() -> *const $crate::abi::ModuleVTable {
            static TABLE: $crate::export::StaticTable = $crate::export::StaticTable::of::<$module>();
            TABLE.as_ptr()
        }
    };
}
