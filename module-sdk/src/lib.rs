//! Module SDK.
