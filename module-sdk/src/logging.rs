//! Forwards a module library's `tracing` events to the host's subscriber.
//!
//! Each library links its own `tracing`, whose global dispatcher is separate from the
//! host's; without this, a module's `tracing::info!` would go nowhere. Spans are not
//! forwarded (only events, formatted as `message key=value …`).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Metadata, Subscriber};

use crate::abi::level;
use crate::host::HostApi;

struct HostSubscriber {
    api: Arc<dyn HostApi>,
    max: Level,
    next_span: AtomicU64,
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

fn to_abi_level(level: &Level) -> u32 {
    match *level {
        Level::ERROR => level::ERROR,
        Level::WARN => level::WARN,
        Level::INFO => level::INFO,
        Level::DEBUG => level::DEBUG,
        Level::TRACE => level::TRACE,
    }
}

impl Subscriber for HostSubscriber {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed).max(1))
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let metadata = event.metadata();
        self.api.log(to_abi_level(metadata.level()), metadata.target(), &fields.0);
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// Installs the forwarder as this library's global subscriber. A second call (a second
/// instance in the same library) keeps the first.
pub(crate) fn install(api: Arc<dyn HostApi>, max_level: &str) {
    let max = max_level.parse::<Level>().unwrap_or(Level::INFO);
    let subscriber = HostSubscriber { api, max, next_span: AtomicU64::new(1) };
    let _ = tracing::subscriber::set_global_default(subscriber);
}
