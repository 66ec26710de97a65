//! The routing table from command names to typed handlers, and the per-call [`Call`]
//! context a handler sees.
//!
//! Two kinds of handler: `sync` runs inline on the caller's thread and must not block (the
//! fast path: no allocation beyond JSON); `spawn` runs a future on the module's runtime and
//! can be cancelled through [`Call::cancelled`].

use std::borrow::Cow;
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

type SyncFn<M> = dyn Fn(&M, &[u8], &Call<'_>) -> CallResult + Send + Sync;
type AsyncFn<M> = dyn Fn(Arc<M>, &[u8], Call<'static>) -> Result<BoxFuture<CallResult>, CommandError> + Send + Sync;

pub(crate) enum Handler<M> {
    Sync(Box<SyncFn<M>>),
    Async(Box<AsyncFn<M>>),
}

/// Who is calling, until when, and whether the call was cancelled.
///
/// A `sync` handler sees a `Call` borrowing the host's bytes (no allocation on the fast
/// path); a `spawn` handler gets an owned `Call<'static>`.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub(crate) request_id: u64,
    pub(crate) deadline: Option<Instant>,
    pub(crate) caller: Cow<'a, str>,
    pub(crate) correlation_id: Cow<'a, str>,
    // The occurrence's JSON as the host passed it (empty: not a scheduled execution); parsed
    // only when a handler asks, so the fast path stays allocation-free.
    pub(crate) occurrence: Cow<'a, [u8]>,
    // Invariant: `Some` for `spawn` handlers; `None` for `sync` handlers, which run to
    // completion inline and so cannot be cancelled (this keeps the fast path allocation-free).
    pub(crate) cancel: Option<CancellationToken>,
}

impl Call<'_> {
    /// Unique per host process.
    pub fn request_id(&self) -> u64 {
        self.request_id
    }

    /// When the caller stops waiting. `None` for `sync` handlers (they run to completion
    /// inline) and for callers without a deadline.
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

    /// The scheduled occurrence this call runs for (task, instant, attempt, idempotency
    /// key), when the scheduler's engine made the call; `None` for every other caller.
    pub fn occurrence(&self) -> Option<crate::Occurrence> {
        crate::Occurrence::from_json_bytes(&self.occurrence)
    }

    /// The occurrence as the host passed it (JSON), to forward unread.
    pub(crate) fn occurrence_bytes(&self) -> Option<&[u8]> {
        (!self.occurrence.is_empty()).then_some(&*self.occurrence)
    }

    /// True once the host cancelled the call (deadline passed or caller gave up).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(CancellationToken::is_cancelled)
    }

    /// Completes when the call is cancelled; use it in `tokio::select!`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses nothing.
    pub async fn cancelled(&self) {
        match &self.cancel {
            Some(token) => token.cancelled().await,
            None => std::future::pending().await,
        }
    }

    /// An owned copy, to move into spawned work.
    pub fn into_owned(self) -> Call<'static> {
        Call {
            request_id: self.request_id,
            deadline: self.deadline,
            caller: Cow::Owned(self.caller.into_owned()),
            correlation_id: Cow::Owned(self.correlation_id.into_owned()),
            occurrence: Cow::Owned(self.occurrence.into_owned()),
            cancel: self.cancel,
        }
    }

    /// The token itself, to hand to spawned work (`spawn` handlers only; a `sync` handler
    /// gets a token that is never cancelled).
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone().unwrap_or_default()
    }
}

/// Every command a module owns, by name.
pub struct Router<M> {
    pub(crate) routes: HashMap<&'static str, Handler<M>>,
}

impl<M: Module> Default for Router<M> {
    fn default() -> Self {
        Router { routes: HashMap::new() }
    }
}

fn decode<P: serde::de::DeserializeOwned>(name: &str, payload: &[u8]) -> Result<P, CommandError> {
    let payload: &[u8] = if payload.is_empty() { b"{}" } else { payload };
    serde_json::from_slice(payload).map_err(|error| CommandError::invalid_params(format!("{name}: {error}")))
}

fn encode<O: serde::Serialize>(name: &str, output: &O) -> CallResult {
    serde_json::to_vec(output).map_err(|error| CommandError::internal(format!("{name}: output is not JSON: {error}")))
}

impl<M: Module> Router<M> {
    fn insert(&mut self, name: &'static str, handler: Handler<M>) {
        let namespace_ok =
            name.split_once(':').is_some_and(|(namespace, command)| namespace == M::NAME && !command.is_empty());
        assert!(namespace_ok, "command {name} must be named `{}:<command>`", M::NAME);
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
        F: Fn(&M, C::Params, &Call<'_>) -> Result<C::Output, CommandError> + Send + Sync + 'static,
    {
        let handler = move |module: &M, payload: &[u8], call: &Call<'_>| {
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
        F: Fn(Arc<M>, C::Params, Call<'static>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<C::Output, CommandError>> + Send + 'static,
    {
        let handler = move |module: Arc<M>, payload: &[u8], call: Call<'static>| {
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
