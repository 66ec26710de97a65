//! The routing table from command names to typed handlers, and the per-call [`Call`]
//! context a handler sees.
//!
//! Two kinds of handler: `sync` runs inline on the caller's thread and must not block (the
//! fast path: no allocation beyond JSON); `spawn` runs a future on the module's runtime and
//! can be cancelled through [`Call::cancelled`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::error::CommandError;
use crate::module::{Command, Module};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The JSON bytes a handler produces, or its error.
pub(crate) type CallResult = Result<Vec<u8>, CommandError>;

type SyncFn<M> = dyn Fn(&M, &[u8], &Call) -> CallResult + Send + Sync;
type AsyncFn<M> =
    dyn Fn(Arc<M>, &[u8], Call) -> Result<BoxFuture<CallResult>, CommandError> + Send + Sync;

pub(crate) enum Handler<M> {
    Sync(Box<SyncFn<M>>),
    Async(Box<AsyncFn<M>>),
}

/// Who is calling, until when, and whether the call was cancelled.
#[derive(Debug, Clone)]
pub struct Call {
    pub(crate) request_id: u64,
    pub(crate) deadline: Option<Instant>,
    pub(crate) caller: String,
    pub(crate) correlation_id: String,
    pub(crate) cancel: CancellationToken,
}

impl Call {
    /// Unique per host process.
    pub fn request_id(&self) -> u64 {
        self.request_id
    }

    /// When the caller stops waiting, if it said.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The calling module, `cli`, `host`, or another caller name.
    pub fn caller(&self) -> &str {
        &self.caller
    }

    /// Shared by every call that belongs to the same piece of work.
    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// True once the host cancelled the call (deadline passed or caller gave up).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when the call is cancelled; use it in `tokio::select!`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses nothing.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// The token itself, to hand to spawned work.
    pub fn cancellation_token(&self) -> &CancellationToken {
        &self.cancel
    }
}

/// Every command a module owns, by name.
pub struct Router<M> {
    pub(crate) routes: HashMap<&'static str, Handler<M>>,
}

impl<M: Module> Default for Router<M> {
    fn default() -> Self {
        Router {
            routes: HashMap::new(),
        }
    }
}

fn decode<P: serde::de::DeserializeOwned>(name: &str, payload: &[u8]) -> Result<P, CommandError> {
    let payload: &[u8] = if payload.is_empty() { b"{}" } else { payload };
    serde_json::from_slice(payload)
        .map_err(|error| CommandError::invalid_params(format!("{name}: {error}")))
}

fn encode<O: serde::Serialize>(name: &str, output: &O) -> CallResult {
    serde_json::to_vec(output)
        .map_err(|error| CommandError::internal(format!("{name}: output is not JSON: {error}")))
}

impl<M: Module> Router<M> {
    fn insert(&mut self, name: &'static str, handler: Handler<M>) {
        let namespace_ok = name
            .split_once(':')
            .is_some_and(|(namespace, command)| namespace == M::NAME && !command.is_empty());
        assert!(
            namespace_ok,
            "command {name} must be named `{}:<command>`",
            M::NAME
        );
        let previous = self.routes.insert(name, handler);
        assert!(previous.is_none(), "command {name} is routed twice");
    }

    /// Routes `C` to a handler that runs inline on the caller's thread. It must not block.
    ///
    /// # Panics
    ///
    /// When `C::NAME` is outside the module's namespace or routed twice (a bug in `routes`).
    pub fn sync<C, F>(&mut self, handler: F) -> &mut Self
    where
        C: Command,
        F: Fn(&M, C::Params, &Call) -> Result<C::Output, CommandError> + Send + Sync + 'static,
    {
        let handler = move |module: &M, payload: &[u8], call: &Call| {
            let params = decode::<C::Params>(C::NAME, payload)?;
            encode(C::NAME, &handler(module, params, call)?)
        };
        self.insert(C::NAME, Handler::Sync(Box::new(handler)));
        self
    }

    /// Routes `C` to an async handler that runs on the module's runtime.
    ///
    /// # Panics
    ///
    /// When `C::NAME` is outside the module's namespace or routed twice (a bug in `routes`).
    pub fn spawn<C, F, Fut>(&mut self, handler: F) -> &mut Self
    where
        C: Command,
        F: Fn(Arc<M>, C::Params, Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<C::Output, CommandError>> + Send + 'static,
    {
        let handler = move |module: Arc<M>, payload: &[u8], call: Call| {
            let params = decode::<C::Params>(C::NAME, payload)?;
            let fut = handler(module, params, call);
            let fut: BoxFuture<CallResult> = Box::pin(async move { encode(C::NAME, &fut.await?) });
            Ok(fut)
        };
        self.insert(C::NAME, Handler::Async(Box::new(handler)));
        self
    }

    /// The names routed, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.routes.keys().copied().collect();
        names.sort_unstable();
        names
    }
}
