//! The C ABI between the host and a module library: plain `#[repr(C)]` tables of function
//! pointers, with bytes (JSON) in and out.
//!
//! This file is the protocol and nothing else: no IO, no allocation policy, no Rust types
//! beyond raw pointers cross it. The safe side lives in [`crate::export`] (module side) and
//! in the host crate.
//!
//! # Versioning
//!
//! A library exports one symbol, [`ENTRY_SYMBOL`], returning a pointer to a
//! [`ModuleVTable`]. Architecture Invariant: the first two fields of every table,
//! `abi_version` and `size`, never move, so a host can read them from a library built for
//! any version and refuse it with a message before calling anything else. Every change to
//! the layout or meaning of a table bumps [`ABI_VERSION`].
//!
//! # Calls and completion
//!
//! Every call that produces a result takes a [`RawReply`]; the callee calls
//! `reply.complete` exactly once, either before returning or later from any thread. The
//! payload bytes are only borrowed for the duration of `complete`. A status of
//! [`STATUS_OK`] carries the JSON result, [`STATUS_ERR`] a JSON [`crate::CommandError`].
//!
//! # Panics
//!
//! A panic must never unwind across these functions (it would abort the process): both
//! sides catch unwinds at every `extern "C"` entry point.

use std::ffi::c_void;

/// The ABI version this crate speaks. Bumped on any change to the tables below.
pub const ABI_VERSION: u32 = 2;

/// The ABI versions of this crate's history, by name, so a bump is a named decision.
pub mod version {
    /// The first ABI: JSON bytes, completion callbacks, cancel by request id.
    pub const JSON_CALLBACKS: u32 = 1;
    /// The call context carries the occurrence a call runs for ([`crate::occurrence`]).
    pub const OCCURRENCE: u32 = 2;
}

/// The symbol every module library exports (as `extern "C" fn() -> *const ModuleVTable`).
pub const ENTRY_SYMBOL: &str = "systemprompt_module_entry";

/// Completion status: the payload is the JSON result.
pub const STATUS_OK: u32 = 0;
/// Completion status: the payload is a JSON-encoded [`crate::CommandError`].
pub const STATUS_ERR: u32 = 1;

/// A borrowed byte slice crossing the boundary. Valid only for the duration of the call
/// that receives it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawBytes {
    /// Start of the bytes; may dangle when `len` is 0.
    pub ptr: *const u8,
    /// Number of bytes.
    pub len: usize,
}

impl RawBytes {
    /// Borrows a slice for the duration of a call.
    pub fn from_slice(bytes: &[u8]) -> RawBytes {
        RawBytes { ptr: bytes.as_ptr(), len: bytes.len() }
    }

    /// Views the bytes again.
    ///
    /// # Safety
    ///
    /// `ptr` must point to `len` readable bytes that outlive `'a`.
    pub unsafe fn as_slice<'a>(self) -> &'a [u8] {
        if self.len == 0 {
            &[]
        } else {
            // SAFETY: the caller guarantees `ptr`/`len` describe live bytes.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
}

/// The completion function of a [`RawReply`].
pub type CompleteFn = unsafe extern "C" fn(token: *mut c_void, status: u32, payload: RawBytes);

/// Where a result goes: called exactly once with `token`.
#[repr(C)]
#[derive(Debug)]
pub struct RawReply {
    /// Opaque to the callee; owned by whoever created the reply.
    pub token: *mut c_void,
    /// Consumes `token`. Safe to call from any thread.
    pub complete: CompleteFn,
}

/// Who is calling and until when.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawCallContext {
    /// Unique per host process; the key for `cancel`.
    pub request_id: u64,
    /// Milliseconds the caller will wait from the moment of the call; 0 means no deadline.
    pub timeout_ms: u64,
    /// The calling module's name, `cli`, `host` or another caller name.
    pub caller: RawBytes,
    /// An id shared by every call that belongs to the same piece of work.
    pub correlation_id: RawBytes,
    /// The scheduled occurrence the call runs for, as JSON ([`crate::occurrence::Occurrence`]);
    /// empty when the call is not a scheduled task's execution. Added in ABI 2.
    pub occurrence: RawBytes,
}

/// Log levels for [`HostVTable::log`], most severe first.
pub mod level {
    /// tracing's ERROR.
    pub const ERROR: u32 = 1;
    /// tracing's WARN.
    pub const WARN: u32 = 2;
    /// tracing's INFO.
    pub const INFO: u32 = 3;
    /// tracing's DEBUG.
    pub const DEBUG: u32 = 4;
    /// tracing's TRACE.
    pub const TRACE: u32 = 5;
}

/// What the host offers a module. The host keeps the table alive for the process lifetime.
#[repr(C)]
#[derive(Debug)]
pub struct HostVTable {
    /// Always [`ABI_VERSION`] of the host that built the table.
    pub abi_version: u32,
    /// `size_of::<HostVTable>()` on the host side.
    pub size: u32,
    /// Opaque host state passed back on every call.
    pub ctx: *const c_void,
    /// Dispatches `command` (JSON `payload`) on the bus on behalf of module `caller`.
    /// Returns a call id for `cancel` while the call is pending, or 0 when it completed
    /// during this call (`call.request_id` is ignored).
    pub dispatch: unsafe extern "C" fn(
        ctx: *const c_void,
        call: *const RawCallContext,
        command: RawBytes,
        payload: RawBytes,
        reply: RawReply,
    ) -> u64,
    /// Abandons a pending call made through `dispatch`: its handler is told to stop and the
    /// reply completes with `cancelled`. Unknown or finished ids are ignored.
    pub cancel: unsafe extern "C" fn(ctx: *const c_void, call_id: u64),
    /// Publishes event `name` (local to module `source`) with a JSON payload. Never blocks.
    pub publish: unsafe extern "C" fn(ctx: *const c_void, source: RawBytes, name: RawBytes, payload: RawBytes),
    /// Logs through the host's `tracing` subscriber.
    pub log: unsafe extern "C" fn(ctx: *const c_void, level: u32, target: RawBytes, message: RawBytes),
}

/// What a module library offers the host.
#[repr(C)]
#[derive(Debug)]
pub struct ModuleVTable {
    /// The [`ABI_VERSION`] the library was built with. Never moves.
    pub abi_version: u32,
    /// `size_of::<ModuleVTable>()` in the library. Never moves.
    pub size: u32,
    /// The module's name (UTF-8, static).
    pub name: RawBytes,
    /// The module-sdk version the library was built with (UTF-8, static).
    pub sdk_version: RawBytes,
    /// Replies with JSON `{"commands": [..names..]}`: what the library implements.
    pub describe: unsafe extern "C" fn(reply: RawReply),
    /// Builds the module from its JSON config; `host` outlives the module.
    pub init: unsafe extern "C" fn(host: *const HostVTable, config: RawBytes, reply: RawReply),
    /// Starts background work (after every module it depends on started).
    pub start: unsafe extern "C" fn(reply: RawReply),
    /// Stops background work; completes when the module is quiet.
    pub stop: unsafe extern "C" fn(reply: RawReply),
    /// Runs a command. Completes through `reply`, now or later.
    pub call: unsafe extern "C" fn(call: *const RawCallContext, command: RawBytes, payload: RawBytes, reply: RawReply),
    /// Asks the handler of `request_id` to stop; its reply is no longer awaited.
    pub cancel: unsafe extern "C" fn(request_id: u64),
    /// Delivers an event the module subscribed to (full name `module:event`).
    pub on_event: unsafe extern "C" fn(name: RawBytes, payload: RawBytes),
}

/// The type of [`ENTRY_SYMBOL`].
pub type EntryFn = unsafe extern "C" fn() -> *const ModuleVTable;
