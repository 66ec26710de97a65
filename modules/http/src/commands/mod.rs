//! One file per command; `prepare` holds the checks `http:request` and `http:check-task`
//! share, so a task refused at create time is exactly one the runner would refuse.

pub(crate) mod check_task;
pub(crate) mod prepare;
pub(crate) mod request;
