//! Test support: run a module in-process against a fake host, through the same instance
//! code the C ABI drives (routing, panics, cancellation, deadlines), without a library.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{CommandError, ModuleError, code};
use crate::export::{CallMeta, Instance, Reply};
use crate::host::{Completion, HostApi, OutgoingCall};
use crate::host_commands::{CommandLookup, LookUpCommand, LookUpCommandParams};
use crate::module::{Command, Module};
use crate::wire::InitRequest;

type FakeHandler = Box<dyn Fn(serde_json::Value) -> Result<serde_json::Value, CommandError> + Send + Sync>;

/// A host that records what a module publishes and logs, and answers its calls with
/// handlers registered by the test.
#[derive(Default)]
pub struct FakeHost {
    handlers: Mutex<HashMap<String, FakeHandler>>,
    published: Mutex<Vec<(String, serde_json::Value)>>,
    logs: Mutex<Vec<String>>,
}

impl FakeHost {
    /// Answers `command` with `handler`.
    pub fn on(
        &self,
        command: &str,
        handler: impl Fn(serde_json::Value) -> Result<serde_json::Value, CommandError> + Send + Sync + 'static,
    ) {
        lock(&self.handlers).insert(command.to_owned(), Box::new(handler));
    }

    /// Answers the host's typed command lookup (`host:command`) as a host whose modules
    /// declare exactly `commands` would: found (owned by the command's namespace) or not
    /// found with no suggestions.
    pub fn declares(&self, commands: &[&str]) {
        let commands: Vec<String> = commands.iter().map(|c| (*c).to_owned()).collect();
        self.on(LookUpCommand::NAME, move |params| {
            let params: LookUpCommandParams =
                serde_json::from_value(params).map_err(|error| CommandError::invalid_params(error.to_string()))?;
            let owner = commands
                .iter()
                .find(|c| **c == params.name)
                .and_then(|c| c.split_once(':'))
                .map(|(namespace, _)| namespace.to_owned());
            let lookup = CommandLookup { found: owner.is_some(), owner, suggestions: Vec::new() };
            serde_json::to_value(lookup).map_err(|error| CommandError::internal(error.to_string()))
        });
    }

    /// Every event published so far, as (full name, payload).
    pub fn published(&self) -> Vec<(String, serde_json::Value)> {
        lock(&self.published).clone()
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<String> {
        lock(&self.logs).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl HostApi for FakeHost {
    fn dispatch(&self, call: OutgoingCall<'_>, done: Completion) -> u64 {
        let handlers = lock(&self.handlers);
        let result = match handlers.get(call.command) {
            None => Err(CommandError::new(code::UNKNOWN_COMMAND, format!("unknown command {}", call.command))),
            Some(handler) => serde_json::from_slice(call.payload)
                .map_err(|error| CommandError::invalid_params(error.to_string()))
                .and_then(handler)
                .map(|value| serde_json::to_vec(&value).unwrap_or_default()),
        };
        drop(handlers);
        done(result);
        0
    }

    fn cancel(&self, _call_id: u64) {}

    fn publish(&self, source: &str, name: &str, payload: &[u8]) {
        let payload = serde_json::from_slice(payload).unwrap_or(serde_json::Value::Null);
        lock(&self.published).push((format!("{source}:{name}"), payload));
    }

    fn log(&self, _level: u32, target: &str, message: &str) {
        lock(&self.logs).push(format!("{target}: {message}"));
    }
}

/// A module running in-process for a test.
/// The host's default cancel grace, mirrored for in-process tests.
const DEFAULT_CANCEL_GRACE: Duration = Duration::from_secs(10);

pub struct ModuleTest<M: Module> {
    instance: Instance<M>,
    host: Arc<FakeHost>,
    next_request: AtomicU64,
    cancel_grace: Duration,
    // Held so the module's data directory outlives the test.
    _data_dir: Option<tempdir::TempDir>,
}

mod tempdir {
    //! A minimal temporary directory, to keep test support free of extra dependencies.
    use std::path::{Path, PathBuf};

    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new() -> std::io::Result<TempDir> {
            static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("module-test-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&path)?;
            Ok(TempDir(path))
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl<M: Module> ModuleTest<M> {
    /// Builds the module with `config` (the full config: tests state every key they rely on)
    /// on a fresh temporary data directory.
    pub fn new(config: serde_json::Value) -> Result<ModuleTest<M>, ModuleError> {
        ModuleTest::with_host(config, FakeHost::default())
    }

    /// Builds the module against a prepared fake host.
    pub fn with_host(config: serde_json::Value, host: FakeHost) -> Result<ModuleTest<M>, ModuleError> {
        let data_dir = tempdir::TempDir::new().map_err(ModuleError::new)?;
        let request =
            InitRequest { config, data_dir: data_dir.path().display().to_string(), log_level: "debug".to_owned() };
        let host = Arc::new(host);
        let instance = Instance::new(request, host.clone())?;
        Ok(ModuleTest {
            instance,
            host,
            next_request: AtomicU64::new(1),
            cancel_grace: DEFAULT_CANCEL_GRACE,
            _data_dir: Some(data_dir),
        })
    }

    /// How long a timed-out call waits for its cancelled handler to stop (the host's
    /// `cancel_grace_ms`; 10 s unless set).
    #[must_use]
    pub fn with_cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// The fake host.
    pub fn host(&self) -> &FakeHost {
        &self.host
    }

    /// The module itself.
    pub fn module(&self) -> &Arc<M> {
        self.instance.module()
    }

    /// Starts the module.
    pub fn start(&self) -> Result<(), ModuleError> {
        self.instance.start()
    }

    /// Stops the module.
    pub fn stop(&self) {
        self.instance.stop()
    }

    /// Delivers an event as the host would.
    pub fn deliver(&self, name: &str, payload: &serde_json::Value) {
        let bytes = serde_json::to_vec(payload).unwrap_or_default();
        self.instance.on_event(name, &bytes);
    }

    /// Calls a typed command and waits up to `timeout`, cancelling the handler at the
    /// deadline as the host does.
    pub async fn call<C: Command>(&self, params: &C::Params, timeout: Duration) -> Result<C::Output, CommandError> {
        let payload = serde_json::to_value(params).map_err(|error| CommandError::invalid_params(error.to_string()))?;
        let value = self.call_json(C::NAME, &payload, timeout).await?;
        serde_json::from_value(value).map_err(|error| CommandError::internal(error.to_string()))
    }

    /// Calls a command by name with a JSON payload.
    pub async fn call_json(
        &self,
        command: &str,
        payload: &serde_json::Value,
        timeout: Duration,
    ) -> Result<serde_json::Value, CommandError> {
        self.call_for(command, payload, timeout, None).await
    }

    /// Calls a command by name as the scheduler's engine does for an execution of
    /// `occurrence` (the handler reads it with `Call::occurrence`); `None` calls as any
    /// other caller.
    pub async fn call_for(
        &self,
        command: &str,
        payload: &serde_json::Value,
        timeout: Duration,
        occurrence: Option<&crate::Occurrence>,
    ) -> Result<serde_json::Value, CommandError> {
        let occurrence = occurrence.map(crate::Occurrence::to_json_bytes);
        let occurrence = occurrence.as_ref();
        let request_id = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<Vec<u8>, CommandError>>();
        let reply = Reply::closure(move |status, bytes| {
            let result = if status == crate::abi::STATUS_OK {
                Ok(bytes.to_vec())
            } else {
                Err(CommandError::from_json_bytes(bytes))
            };
            let _ = tx.send(result);
        });
        let meta = CallMeta {
            request_id,
            timeout: Some(timeout),
            caller: "test".into(),
            correlation_id: "".into(),
            occurrence: occurrence.map(Vec::as_slice).unwrap_or_default(),
        };
        let bytes = serde_json::to_vec(payload).map_err(|error| CommandError::invalid_params(error.to_string()))?;
        self.instance.call(meta, command, &bytes, reply);
        let mut rx = rx;
        let bytes = match tokio::time::timeout(timeout, &mut rx).await {
            Ok(Ok(result)) => result?,
            Ok(Err(_)) => return Err(CommandError::internal("reply lost")),
            Err(_) => {
                self.instance.cancel(request_id);
                // As the host's bus: wait (bounded) for the handler to stop, drop its reply.
                let _ = tokio::time::timeout(self.cancel_grace, rx).await;
                return Err(CommandError::new(code::TIMEOUT, format!("{command} timed out after {timeout:?}")));
            }
        };
        serde_json::from_slice(&bytes).map_err(|error| CommandError::internal(error.to_string()))
    }
}
