//! The systemprompt host: loads modules described by `module.yaml`, runs the command bus
//! and the event bus, serves the CLI, and is the CLI.
//!
//! - [`config`]: `config/systemprompt.yaml` and environment overrides.
//! - [`loader`]: manifests, libraries, the ABI handshake, dependency order.
//! - [`bus`]: the command bus (deadlines, cancellation, unknown-command suggestions) and
//!   [`bus::events`], the event bus.
//! - [`host`]: a running host and its `host:*` commands.
//! - [`ipc`]: the CLI's socket protocol; [`daemon`]: serving in the foreground;
//!   [`datadir`]: who may own the data dir and how the host's files in it are opened.
//! - [`http`]: the HTTP API, a door onto the bus; [`tokens`]: who may use it.
//! - [`cli`]: the command line.
//!
//! Architecture Invariant: the host knows no module by name; everything a module offers
//! comes from its manifest and its ABI table.

pub mod bus;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod datadir;
pub mod host;
mod host_table;
pub mod http;
pub mod ipc;
pub mod loader;
pub mod logging;
pub mod tokens;
