//! System module.
