//! One file per command of the system module.

pub(crate) mod echo;
pub(crate) mod emit;
pub(crate) mod fail;
pub(crate) mod health;
pub(crate) mod panic;
pub(crate) mod sleep;
