//! The event bus: publishers never wait; each subscriber has its own bounded queue.
//!
//! When a subscriber's queue is full, the event is dropped **for that subscriber only**
//! and counted in its `dropped` counter (shown by `host:status`); other subscribers and the
//! publisher are unaffected. Each subscriber sees events in publication order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use systemprompt_module_sdk::manifest::pattern_matches;
use tokio::sync::mpsc;

/// One published event.
#[derive(Debug)]
pub struct Event {
    /// Position in the host's publication order, from 1.
    pub seq: u64,
    /// Full name, `module:event`.
    pub name: String,
    /// JSON payload bytes.
    pub payload: Vec<u8>,
}

impl Event {
    /// The payload as a JSON value (`null` when malformed).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

struct Subscriber {
    name: String,
    patterns: Vec<String>,
    tx: mpsc::Sender<Arc<Event>>,
    dropped: AtomicU64,
}

/// A subscriber's counters.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriberStats {
    /// Who subscribed.
    pub name: String,
    /// What it subscribed to.
    pub patterns: Vec<String>,
    /// Events dropped because its queue was full.
    pub dropped: u64,
    /// Events waiting in its queue.
    pub queued: usize,
}

/// Events in order, for one subscriber.
pub struct Subscription {
    /// The queue; `None` from `recv` means the bus is gone.
    pub rx: mpsc::Receiver<Arc<Event>>,
}

/// The event bus.
pub struct EventBus {
    subscribers: RwLock<Vec<Arc<Subscriber>>>,
    seq: AtomicU64,
    capacity: usize,
}

impl EventBus {
    /// A bus whose subscribers each queue up to `capacity` events.
    pub fn new(capacity: usize) -> EventBus {
        EventBus { subscribers: RwLock::new(Vec::new()), seq: AtomicU64::new(0), capacity: capacity.max(1) }
    }

    /// Subscribes `name` to events matching any of `patterns` (exact names, or prefixes
    /// ending in `*`).
    pub fn subscribe(&self, name: &str, patterns: Vec<String>) -> Subscription {
        let (tx, rx) = mpsc::channel(self.capacity);
        let subscriber = Arc::new(Subscriber { name: name.to_owned(), patterns, tx, dropped: AtomicU64::new(0) });
        self.subscribers.write().unwrap_or_else(std::sync::PoisonError::into_inner).push(subscriber);
        Subscription { rx }
    }

    /// Publishes an event to every matching subscriber. Never blocks.
    pub fn publish(&self, name: String, payload: Vec<u8>) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let event = Arc::new(Event { seq, name, payload });
        let mut closed = false;
        {
            let subscribers = self.subscribers.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            for subscriber in subscribers.iter() {
                if !subscriber.patterns.iter().any(|p| pattern_matches(p, &event.name)) {
                    continue;
                }
                match subscriber.tx.try_send(event.clone()) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        let dropped = subscriber.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                        if dropped.is_power_of_two() {
                            tracing::warn!(subscriber = %subscriber.name, event = %event.name, dropped, "Event queue full; events dropped for this subscriber.");
                        }
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => closed = true,
                }
            }
        }
        if closed {
            self.subscribers.write().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|s| !s.tx.is_closed());
        }
    }

    /// How many events were published.
    pub fn published(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    /// Every live subscriber's counters.
    pub fn stats(&self) -> Vec<SubscriberStats> {
        self.subscribers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|s| SubscriberStats {
                name: s.name.clone(),
                patterns: s.patterns.clone(),
                dropped: s.dropped.load(Ordering::Relaxed),
                queued: s.tx.max_capacity() - s.tx.capacity(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::EventBus;

    #[tokio::test]
    async fn a_full_subscriber_drops_and_counts_while_others_and_the_publisher_go_on() {
        let bus = EventBus::new(2);
        let mut slow = bus.subscribe("slow", vec!["*".into()]);
        let mut fast = bus.subscribe("fast", vec!["a:*".into()]);
        for n in 0..5 {
            bus.publish(format!("a:{n}"), b"{}".to_vec());
            let event = fast.rx.recv().await.unwrap();
            assert_eq!(event.name, format!("a:{n}"));
        }
        let stats = bus.stats();
        assert_eq!(stats[0].dropped, 3);
        assert_eq!(stats[1].dropped, 0);
        assert_eq!(slow.rx.recv().await.unwrap().name, "a:0");
        assert_eq!(slow.rx.recv().await.unwrap().name, "a:1");
    }

    #[tokio::test]
    async fn subscribers_see_only_matching_events_in_order() {
        let bus = EventBus::new(16);
        let mut sub = bus.subscribe("s", vec!["scheduler:task-*".into()]);
        bus.publish("scheduler:task-created".into(), b"1".to_vec());
        bus.publish("system:ping".into(), b"2".to_vec());
        bus.publish("scheduler:task-deleted".into(), b"3".to_vec());
        assert_eq!(sub.rx.recv().await.unwrap().json(), 1);
        assert_eq!(sub.rx.recv().await.unwrap().json(), 3);
    }
}
