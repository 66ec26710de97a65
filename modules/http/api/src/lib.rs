//! The typed commands of the http module: `http:request` (one HTTP request for a task) and
//! `http:check-task` (the scheduler's create-time check of a task's data).
//!
//! Invariant: the output never carries a request header (an `Authorization` the task set
//! stays out of outputs, errors and logs); only the selected response headers listed in
//! [`KEPT_RESPONSE_HEADERS`] are kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use systemprompt_module_sdk::Command;

/// The response headers kept in the output: what a person or a retry policy needs to read
/// the result (its type and size, where a redirect pointed, when to retry, which request
/// the server logged, the cache validators). `set-cookie` is left out: it carries secrets.
pub const KEPT_RESPONSE_HEADERS: [&str; 8] =
    ["content-type", "content-length", "location", "retry-after", "date", "etag", "last-modified", "x-request-id"];

/// `http:request`: sends one request and replies its status, headers and the start of its
/// body. An unexpected status is an error whose `details` are the same output.
pub enum Request {}

/// An accepted status: a code (`204`) or a class (`"2xx"`), or a code as a string (`"404"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StatusPattern {
    /// One code.
    Code(u16),
    /// `"2xx"`-style class or a code in a string.
    Text(String),
}

/// Parameters of [`Request`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestParams {
    /// The method; `GET` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The `http` or `https` URL.
    pub url: String,
    /// Request headers (values are never logged nor echoed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A text body; not with `json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A JSON body (sent with `content-type: application/json`); not with `body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<serde_json::Value>,
    /// The request's timeout; the call's deadline wins when sooner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Accepted statuses; `["2xx"]` when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_status: Vec<StatusPattern>,
}

/// What [`Request`] answers (and, for an unexpected status, the error's `details`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestOutput {
    /// The response status.
    pub status: u16,
    /// The kept response headers ([`KEPT_RESPONSE_HEADERS`]), by lower-case name.
    pub headers: BTreeMap<String, String>,
    /// The start of the body: UTF-8 text, or base64 when `body_base64`.
    pub body: String,
    /// `body` is base64 because the bytes were not UTF-8.
    pub body_base64: bool,
    /// The body was longer than the module's `maxBodyBytes` and was cut there.
    pub truncated: bool,
    /// From sending the request to the end of the kept body.
    pub duration_ms: u64,
}

impl Command for Request {
    const NAME: &'static str = "http:request";
    type Params = RequestParams;
    type Output = RequestOutput;
}

/// `http:check-task`: refuses, with `invalid_params` stating the rule, a task whose data
/// `http:request` would refuse (see `scheduler_api::logs::CHECK_TASK`).
pub enum CheckTask {}

impl Command for CheckTask {
    const NAME: &'static str = "http:check-task";
    type Params = scheduler_api::logs::CheckTaskParams;
    type Output = scheduler_api::logs::CheckTaskOutput;
}
