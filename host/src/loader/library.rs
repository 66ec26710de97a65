//! One module library, loaded and checked: the ABI handshake, and safe wrappers around the
//! calls of its [`ModuleVTable`].
//!
//! Invariants:
//! - Nothing in a library is called before its `abi_version` and `size` were checked.
//! - A library is never unloaded (glibc may not unload libraries with thread-local
//!   destructors, and a module's threads may still run): the handle is leaked on purpose.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use systemprompt_module_sdk::CommandError;
use systemprompt_module_sdk::abi::{self, HostVTable, ModuleVTable, RawBytes, RawCallContext, RawReply};
use systemprompt_module_sdk::manifest::Manifest;
use systemprompt_module_sdk::wire::DescribeResponse;

/// Where a module is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ModuleState {
    /// Loaded and checked; not initialised.
    Loaded = 0,
    /// `init` succeeded.
    Initialised = 1,
    /// `start` succeeded; calls are served.
    Started = 2,
    /// `stop` was called.
    Stopped = 3,
    /// `init` or `start` failed.
    Failed = 4,
}

impl ModuleState {
    fn from_u8(n: u8) -> ModuleState {
        match n {
            0 => ModuleState::Loaded,
            1 => ModuleState::Initialised,
            2 => ModuleState::Started,
            3 => ModuleState::Stopped,
            _ => ModuleState::Failed,
        }
    }

    /// The name shown by `systemprompt modules`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModuleState::Loaded => "loaded",
            ModuleState::Initialised => "initialised",
            ModuleState::Started => "started",
            ModuleState::Stopped => "stopped",
            ModuleState::Failed => "failed",
        }
    }
}

/// A loaded module library with its manifest.
pub struct LoadedModule {
    /// The manifest the library was found through.
    pub manifest: Manifest,
    /// The manifest's path.
    pub manifest_path: PathBuf,
    /// The library file loaded.
    pub library_path: PathBuf,
    /// The module-sdk version the library was built with.
    pub sdk_version: String,
    table: &'static ModuleVTable,
    state: AtomicU8,
}

// SAFETY: the table is immutable static data in a library that is never unloaded, and the
// ABI requires every module function to be callable from any thread.
unsafe impl Send for LoadedModule {}
// SAFETY: as above.
unsafe impl Sync for LoadedModule {}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule").field("name", &self.manifest.name).field("state", &self.state()).finish()
    }
}

/// The ABI version a library declares, read without trusting anything else in it.
fn check_table(path: &Path, table: *const ModuleVTable) -> Result<&'static ModuleVTable, String> {
    if table.is_null() {
        return Err(format!("{}: the entry point returned no module table", path.display()));
    }
    // SAFETY: every ABI version starts the table with `abi_version: u32, size: u32`; reading
    // those two fields is valid for a library built for any version.
    let (version, size) = unsafe {
        let header = table.cast::<u32>();
        (header.read(), header.add(1).read())
    };
    if version != abi::ABI_VERSION {
        return Err(format!(
            "{}: the library speaks module ABI v{version}, this host speaks v{}; rebuild the module against this \
             host's module-sdk",
            path.display(),
            abi::ABI_VERSION
        ));
    }
    let expected = std::mem::size_of::<ModuleVTable>();
    if (size as usize) < expected {
        return Err(format!(
            "{}: the module table is {size} bytes, ABI v{version} needs {expected}; the library is corrupt or built \
             for another ABI",
            path.display()
        ));
    }
    // SAFETY: version and size match this host's ABI, and the table is static in the library,
    // which is never unloaded.
    Ok(unsafe { &*table })
}

/// A blocking reply: for lifecycle calls, which the host makes from blocking threads.
struct BlockingReply(std::sync::mpsc::SyncSender<(u32, Vec<u8>)>);

unsafe extern "C" fn complete_blocking(token: *mut c_void, status: u32, payload: RawBytes) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: made by `Box::into_raw` in `blocking_call`; called once per the ABI.
        let reply = unsafe { Box::from_raw(token.cast::<BlockingReply>()) };
        // SAFETY: the payload is valid for this call.
        let _ = reply.0.send((status, unsafe { payload.as_slice() }.to_vec()));
    }));
}

/// How long a lifecycle call (describe, init, start, stop) may take.
const LIFECYCLE_TIMEOUT: Duration = Duration::from_secs(60);

fn blocking_call(what: &str, call: impl FnOnce(RawReply)) -> Result<Vec<u8>, CommandError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let token = Box::into_raw(Box::new(BlockingReply(tx))).cast::<c_void>();
    call(RawReply { token, complete: complete_blocking });
    match rx.recv_timeout(LIFECYCLE_TIMEOUT) {
        Ok((abi::STATUS_OK, bytes)) => Ok(bytes),
        Ok((_, bytes)) => Err(CommandError::from_json_bytes(&bytes)),
        Err(_) => Err(CommandError::new(
            systemprompt_module_sdk::error::code::TIMEOUT,
            format!("{what} did not complete within {LIFECYCLE_TIMEOUT:?}"),
        )),
    }
}

impl LoadedModule {
    /// Loads the library at `library_path` for `manifest` and checks the handshake: ABI
    /// version, table size, module name, and that it implements every declared command.
    pub fn load(manifest: Manifest, manifest_path: PathBuf, library_path: PathBuf) -> Result<LoadedModule, String> {
        // SAFETY: loading runs the library's initialisers; module libraries are trusted code
        // (phase 2 runs untrusted modules in a WASM sandbox instead).
        let library = unsafe { libloading::Library::new(&library_path) }
            .map_err(|error| format!("{}: cannot load library: {error}", library_path.display()))?;
        // SAFETY: the symbol's type is fixed by the ABI; it is only called after lookup.
        let entry: libloading::Symbol<'_, abi::EntryFn> = unsafe { library.get(abi::ENTRY_SYMBOL.as_bytes()) }
            .map_err(|_| {
                format!(
                    "{}: not a systemprompt module (no `{}` symbol; use export_module!)",
                    library_path.display(),
                    abi::ENTRY_SYMBOL
                )
            })?;
        // SAFETY: calling the entry point has no preconditions by the ABI.
        let table = check_table(&library_path, unsafe { entry() })?;
        // Never unload: see the module docs.
        std::mem::forget(library);

        // SAFETY: static UTF-8 bytes in the library, per the ABI.
        let name = String::from_utf8_lossy(unsafe { table.name.as_slice() }).into_owned();
        // SAFETY: as above.
        let sdk_version = String::from_utf8_lossy(unsafe { table.sdk_version.as_slice() }).into_owned();
        if name != manifest.name {
            return Err(format!(
                "{}: the library is module '{name}' but its manifest names '{}'",
                library_path.display(),
                manifest.name
            ));
        }
        let module = LoadedModule {
            manifest,
            manifest_path,
            library_path,
            sdk_version,
            table,
            state: AtomicU8::new(ModuleState::Loaded as u8),
        };
        let described = module.describe().map_err(|error| format!("{}: describe failed: {error}", module.name()))?;
        let missing: Vec<String> =
            module.manifest.command_names().filter(|c| !described.commands.contains(c)).collect();
        if !missing.is_empty() {
            return Err(format!(
                "{}: declares {} but the library does not implement {}",
                module.manifest_path.display(),
                missing.join(", "),
                if missing.len() == 1 { "it" } else { "them" }
            ));
        }
        let undeclared: Vec<&String> =
            described.commands.iter().filter(|c| !module.manifest.command_names().any(|d| &d == *c)).collect();
        if !undeclared.is_empty() {
            tracing::warn!(
                module = module.name(),
                ?undeclared,
                "The library implements commands its manifest does not declare; they cannot be called."
            );
        }
        Ok(module)
    }

    /// The module's name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// Where the module is in its life.
    pub fn state(&self) -> ModuleState {
        ModuleState::from_u8(self.state.load(Ordering::Acquire))
    }

    pub(crate) fn set_state(&self, state: ModuleState) {
        self.state.store(state as u8, Ordering::Release);
    }

    fn describe(&self) -> Result<DescribeResponse, CommandError> {
        // SAFETY: the table was checked; the reply is completed once by the callee.
        let bytes = blocking_call("describe", |reply| unsafe { (self.table.describe)(reply) })?;
        serde_json::from_slice(&bytes).map_err(|error| CommandError::internal(format!("malformed describe: {error}")))
    }

    /// Initialises the module. Blocks; call from a blocking thread.
    pub(crate) fn init(&self, host: &'static HostVTable, init_request: &[u8]) -> Result<(), CommandError> {
        // SAFETY: the host table is static; the request bytes live across the call.
        blocking_call("init", |reply| unsafe { (self.table.init)(host, RawBytes::from_slice(init_request), reply) })?;
        Ok(())
    }

    /// Starts the module. Blocks.
    pub(crate) fn start(&self) -> Result<(), CommandError> {
        // SAFETY: the table was checked.
        blocking_call("start", |reply| unsafe { (self.table.start)(reply) })?;
        Ok(())
    }

    /// Stops the module. Blocks.
    pub(crate) fn stop(&self) -> Result<(), CommandError> {
        // SAFETY: the table was checked.
        blocking_call("stop", |reply| unsafe { (self.table.stop)(reply) })?;
        Ok(())
    }

    /// Starts a call; `reply` completes now or later.
    pub(crate) fn call(&self, context: &RawCallContext, command: &str, payload: &[u8], reply: RawReply) {
        // SAFETY: the table was checked; every pointer lives across the call; the SDK catches
        // unwinds inside.
        unsafe {
            (self.table.call)(context, RawBytes::from_slice(command.as_bytes()), RawBytes::from_slice(payload), reply);
        }
    }

    /// Asks the module to stop the handler of `request_id`.
    pub(crate) fn cancel(&self, request_id: u64) {
        // SAFETY: the table was checked.
        unsafe { (self.table.cancel)(request_id) }
    }

    /// Delivers an event.
    pub(crate) fn deliver(&self, name: &str, payload: &[u8]) {
        // SAFETY: the table was checked; the slices live across the call.
        unsafe { (self.table.on_event)(RawBytes::from_slice(name.as_bytes()), RawBytes::from_slice(payload)) }
    }
}
