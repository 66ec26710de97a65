//! Tests of the scheduler crate: config, store and time-travel engine tests.
//!
//! Engine tests run on a paused tokio clock (`start_paused = true`) with a
//! [`TestClock`](crate::clock::TestClock) whose wall time follows tokio time, a
//! [`FakeBus`](crate::testing::FakeBus), and a real SQLite file wrapped in
//! [`PausedClockStore`](crate::testing::PausedClockStore). Nothing sleeps in real time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::clock::{Clock, TestClock};
use crate::config::SchedulerConfig;
use crate::engine::Engine;
use crate::store::{HistoryQuery, SqliteStore, Store};
use crate::task::{Execution, NewTask, Task, TaskSchedule};
use crate::testing::{Behaviour, FakeBus, PausedClockStore};

mod commands;
mod commands_audit;
mod commands_logs;
mod commands_runners;
mod commands_runs;
mod config;
mod engine_cancel;
mod engine_clock_jumps;
mod engine_failures;
mod engine_identity;
mod engine_policies;
mod engine_restarts;
mod engine_schedules;
mod engine_store_faults;
mod store;
mod store_conformance;
mod store_open;

pub(super) struct Harness {
    pub(super) dir: tempfile::TempDir,
    pub(super) clock: Arc<TestClock>,
    pub(super) bus: Arc<FakeBus>,
    pub(super) sqlite: Arc<SqliteStore>,
    pub(super) store: Arc<dyn Store>,
    /// The same store as `store`, for injecting faults.
    pub(super) faults: Arc<PausedClockStore>,
    pub(super) config: SchedulerConfig,
}

pub(super) fn at(text: &str) -> Timestamp {
    text.parse().expect("a valid instant")
}

pub(super) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Lets simulated time pass (the paused clock jumps from timer to timer).
pub(super) async fn pass(duration: Duration) {
    tokio::time::sleep(duration).await;
}

impl Harness {
    /// A fresh database and a clock starting at `start`; commands `ok` (succeeds) and
    /// `fail` (fails) are registered.
    pub(super) fn new(start: &str) -> Harness {
        let dir = tempfile::tempdir().expect("a temp dir");
        let clock = Arc::new(TestClock::at(start));
        let bus = Arc::new(FakeBus::new(clock.clone()));
        bus.on("ok", Behaviour::Succeed(serde_json::json!({"ok": true})));
        bus.on("fail", Behaviour::Fail("boom".to_owned()));
        let sqlite = Arc::new(SqliteStore::open(&dir.path().join("scheduler.db")).expect("open"));
        let faults = Arc::new(PausedClockStore::new(sqlite.clone()));
        let store: Arc<dyn Store> = faults.clone();
        Harness {
            dir,
            clock,
            bus,
            sqlite,
            store,
            faults,
            // The engine wakes at due times anyway; a long tick keeps simulated days cheap.
            config: SchedulerConfig { tick_interval: 60_000, ..SchedulerConfig::default() },
        }
    }

    pub(super) fn path(&self) -> PathBuf {
        self.dir.path().join("scheduler.db")
    }

    pub(super) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Starts an engine on this harness's store, bus and clock.
    pub(super) async fn start(&self) -> Engine {
        Engine::start(self.config.clone(), self.store.clone(), self.bus.clone(), self.clock.clone())
            .await
            .expect("engine starts")
    }

    /// Starts an engine on a second connection to the same file, as another process would.
    pub(super) async fn start_other(&self, node_id: &str, bus: Arc<FakeBus>) -> Engine {
        let sqlite = Arc::new(SqliteStore::open(&self.path()).expect("open"));
        let store: Arc<dyn Store> = Arc::new(PausedClockStore::new(sqlite));
        let config = SchedulerConfig { node_id: node_id.to_owned(), ..self.config.clone() };
        Engine::start(config, store, bus, self.clock.clone()).await.expect("engine starts")
    }

    pub(super) fn schedule(&self, text: &str) -> TaskSchedule {
        TaskSchedule::parse(text, None, None, self.now()).expect("a valid schedule")
    }

    pub(super) fn new_task(&self, name: &str, command: &str, schedule: &str) -> NewTask {
        NewTask::new(name, command, self.schedule(schedule), &self.config.task_defaults())
    }

    pub(super) async fn create(&self, name: &str, command: &str, schedule: &str) -> Task {
        self.create_with(name, command, schedule, |_| {}).await
    }

    pub(super) async fn create_with(
        &self,
        name: &str,
        command: &str,
        schedule: &str,
        change: impl FnOnce(&mut NewTask),
    ) -> Task {
        let mut task = self.new_task(name, command, schedule);
        change(&mut task);
        self.store.create_task(task, self.now()).await.expect("task created")
    }

    /// A task's executions, oldest first.
    pub(super) async fn executions(&self, task: &Task) -> Vec<Execution> {
        let mut rows = self
            .store
            .history(HistoryQuery { task_id: Some(task.id.clone()), limit: Some(1_000_000), ..HistoryQuery::default() })
            .await
            .expect("history");
        rows.reverse();
        rows
    }

    pub(super) async fn reload(&self, task: &Task) -> Task {
        self.store.get_task(crate::task::TaskKey::Id(task.id.clone())).await.expect("get").expect("the task exists")
    }
}
