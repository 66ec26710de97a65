//! The host side of the ABI: the [`HostVTable`] every module gets, through which it
//! dispatches commands, publishes events and logs.
//!
//! The table and its state are leaked on purpose: modules may hold the pointer for the rest
//! of the process.

use std::collections::{HashMap, HashSet};
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use systemprompt_module_sdk::abi::{self, HostVTable, RawBytes, RawCallContext, RawReply};
use systemprompt_module_sdk::manifest::pattern_matches;
use tokio_util::sync::CancellationToken;

use crate::bus::events::EventBus;
use crate::bus::{CallRequest, CallResult, CommandBus, Started};

struct HostState {
    bus: Arc<CommandBus>,
    // Pending module-originated calls, by the call id `dispatch` returned.
    pending: Mutex<HashMap<u64, CancellationToken>>,
    next_call: AtomicU64,
    events: Arc<EventBus>,
    runtime: tokio::runtime::Handle,
    emits: HashMap<String, Vec<String>>,
    warned: Mutex<HashSet<String>>,
}

/// A module's reply slot, sendable to the task that waits for a pending call.
struct ModuleReply(RawReply);

// SAFETY: the ABI requires `complete` to be callable from any thread.
unsafe impl Send for ModuleReply {}

impl ModuleReply {
    fn send(self, result: CallResult) {
        let (status, bytes) = match result {
            Ok(bytes) => (abi::STATUS_OK, bytes),
            Err(error) => (abi::STATUS_ERR, error.to_json_bytes()),
        };
        // SAFETY: the module gave us this reply for exactly one completion; the bytes live
        // across the call.
        unsafe { (self.0.complete)(self.0.token, status, RawBytes::from_slice(&bytes)) }
    }
}

fn text(bytes: RawBytes) -> String {
    // SAFETY: the module passes valid bytes for the duration of the call.
    String::from_utf8_lossy(unsafe { bytes.as_slice() }).into_owned()
}

unsafe extern "C" fn host_dispatch(
    ctx: *const c_void,
    call: *const RawCallContext,
    command: RawBytes,
    payload: RawBytes,
    reply: RawReply,
) -> u64 {
    let reply = ModuleReply(reply);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        // SAFETY: `ctx` is the leaked `HostState` of `host_table`; `call` is valid for this call.
        let (state, call) = unsafe { (&*ctx.cast::<HostState>(), &*call) };
        let command = text(command);
        let caller = text(call.caller);
        let correlation_id = text(call.correlation_id);
        // SAFETY: valid for the duration of this call.
        let (payload, occurrence) = unsafe { (payload.as_slice(), call.occurrence.as_slice()) };
        let cancel = CancellationToken::new();
        let request = CallRequest {
            command: &command,
            payload,
            caller: &caller,
            correlation_id: &correlation_id,
            occurrence,
            timeout: (call.timeout_ms > 0).then(|| Duration::from_millis(call.timeout_ms)),
            cancel: Some(cancel.clone()),
        };
        match state.bus.start(&request) {
            Started::Ready(result) => {
                reply.send(result);
                0
            }
            Started::Pending(pending) => {
                let call_id = state.next_call.fetch_add(1, Ordering::Relaxed);
                lock(&state.pending).insert(call_id, cancel);
                state.runtime.spawn(async move {
                    let result = pending.wait().await;
                    lock(&state.pending).remove(&call_id);
                    reply.send(result);
                });
                call_id
            }
        }
    }))
    .unwrap_or(0)
}

unsafe extern "C" fn host_cancel(ctx: *const c_void, call_id: u64) {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `ctx` is the leaked `HostState`.
        let state = unsafe { &*ctx.cast::<HostState>() };
        if let Some(token) = lock(&state.pending).remove(&call_id) {
            token.cancel();
        }
    });
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

unsafe extern "C" fn host_publish(ctx: *const c_void, source: RawBytes, name: RawBytes, payload: RawBytes) {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `ctx` is the leaked `HostState`.
        let state = unsafe { &*ctx.cast::<HostState>() };
        let (source, name) = (text(source), text(name));
        let declared = state.emits.get(&source).is_some_and(|emits| emits.iter().any(|p| pattern_matches(p, &name)));
        if !declared {
            let key = format!("{source}:{name}");
            if lock(&state.warned).insert(key) {
                tracing::warn!(module = %source, event = %name, "Module publishes an event its manifest does not declare under events.emits.");
            }
        }
        // SAFETY: valid for the duration of this call.
        let payload = unsafe { payload.as_slice() }.to_vec();
        state.events.publish(format!("{source}:{name}"), payload);
    });
}

unsafe extern "C" fn host_log(_ctx: *const c_void, level: u32, target: RawBytes, message: RawBytes) {
    let _ = std::panic::catch_unwind(|| {
        let (module, message) = (text(target), text(message));
        match level {
            abi::level::ERROR => tracing::error!(target: "module", module = %module, "{message}"),
            abi::level::WARN => tracing::warn!(target: "module", module = %module, "{message}"),
            abi::level::INFO => tracing::info!(target: "module", module = %module, "{message}"),
            abi::level::DEBUG => tracing::debug!(target: "module", module = %module, "{message}"),
            _ => tracing::trace!(target: "module", module = %module, "{message}"),
        }
    });
}

/// The leaked host table, shareable across threads.
#[derive(Clone, Copy)]
pub(crate) struct HostTable(&'static HostVTable);

impl HostTable {
    pub(crate) fn get(self) -> &'static HostVTable {
        self.0
    }
}

// SAFETY: the table is immutable, its state is `Sync`, and its functions are thread-safe.
unsafe impl Send for HostTable {}
// SAFETY: as above.
unsafe impl Sync for HostTable {}

/// Builds the table modules get. Leaked: it must outlive every module.
pub(crate) fn host_table(
    bus: Arc<CommandBus>,
    events: Arc<EventBus>,
    runtime: tokio::runtime::Handle,
    emits: HashMap<String, Vec<String>>,
) -> HostTable {
    let state: &'static HostState = Box::leak(Box::new(HostState {
        bus,
        pending: Mutex::new(HashMap::new()),
        next_call: AtomicU64::new(1),
        events,
        runtime,
        emits,
        warned: Mutex::new(HashSet::new()),
    }));
    HostTable(Box::leak(Box::new(HostVTable {
        abi_version: abi::ABI_VERSION,
        size: u32::try_from(std::mem::size_of::<HostVTable>()).unwrap_or(u32::MAX),
        ctx: std::ptr::from_ref(state).cast::<c_void>(),
        dispatch: host_dispatch,
        cancel: host_cancel,
        publish: host_publish,
        log: host_log,
    })))
}
