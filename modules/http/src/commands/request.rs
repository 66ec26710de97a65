//! `http:request`: sends one request within the call's deadline and cancellation, keeps
//! the status, selected headers and the first `maxBodyBytes` of the body, writes the body
//! and a summary line to the execution's log, and classifies a failure for the scheduler:
//! 429, 5xx, connect errors and timeouts are transient (with `Retry-After` as the hint),
//! other unexpected statuses and refusals permanent.
//!
//! Invariants: request header values (an `Authorization`) are never logged nor echoed; the
//! URL is shown without credentials and with its query replaced (queries carry tokens);
//! the log is flushed before the reply.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_api::{KEPT_RESPONSE_HEADERS, RequestOutput, RequestParams};
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderValue};
use scheduler_api::logs::{AppendLogs, AppendLogsParams, LogLineInput, LogStream};
use systemprompt_module_sdk::{Call, CallOptions, CommandError, Occurrence};

use crate::Http;
use crate::commands::prepare::{Prepared, prepare};
use crate::policy::REFUSED_MARK;

/// When neither the task nor the caller bounds the request.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest log line; longer ones arrive split.
const MAX_LINE_CHARS: usize = 4096;
/// The most body lines sent to the log.
const MAX_LOG_LINES: usize = 1000;

pub(crate) async fn run(
    module: Arc<Http>,
    params: RequestParams,
    call: Call<'static>,
) -> Result<RequestOutput, CommandError> {
    let prepared = prepare(&module.policy, &params)?;
    let shown = shown_url(&prepared.url);
    let occurrence = call.occurrence();
    let timeout = timeout_of(params.timeout_ms, call.deadline());
    let request = build(&module, &params, prepared.clone_parts(), occurrence.as_ref(), timeout);
    let started = Instant::now();
    let result = tokio::select! {
        result = tokio::time::timeout(timeout, send(request, module.config.max_body_bytes)) => match result {
            Ok(result) => result,
            Err(_) => Err(transport_error("timeout", format!("{} {shown} timed out after {} ms", prepared.method, timeout.as_millis()))),
        },
        () = call.cancelled() => Err(CommandError::new("cancelled", format!("{} {shown} was cancelled", prepared.method))),
    };
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (result, summary) = match result {
        Ok(response) => {
            let summary = format!("{} {shown} -> {} ({duration_ms} ms)", prepared.method, response.status);
            (Ok(response), summary)
        }
        Err(error) => {
            let summary = format!("{} {shown} failed: {}", prepared.method, error.message);
            (Err(error), summary)
        }
    };
    let result = result.map(|response| response.into_output(duration_ms));
    if let Some(occurrence) = &occurrence {
        write_log(&module, &call, occurrence, result.as_ref().ok(), &summary, module.config.max_body_bytes).await;
    }
    tracing::info!(request_id = call.request_id(), method = %prepared.method, url = %shown, duration_ms, ok = result.is_ok(), "HTTP request done.");
    let output = result?;
    judge(&prepared, &shown, output)
}

impl Prepared {
    fn clone_parts(&self) -> (reqwest::Method, Url, HeaderMap) {
        (self.method.clone(), self.url.clone(), self.headers.clone())
    }
}

/// The sooner of the task's timeout and the call's deadline.
fn timeout_of(timeout_ms: Option<u64>, deadline: Option<Instant>) -> Duration {
    let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    match (timeout_ms.map(Duration::from_millis), remaining) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => DEFAULT_TIMEOUT,
    }
}

fn build(
    module: &Http,
    params: &RequestParams,
    (method, url, mut headers): (reqwest::Method, Url, HeaderMap),
    occurrence: Option<&Occurrence>,
    timeout: Duration,
) -> reqwest::RequestBuilder {
    if let Some(occurrence) = occurrence
        && !headers.contains_key("idempotency-key")
        && let Ok(key) = HeaderValue::from_str(&occurrence.idempotency_key)
    {
        // The same for every attempt of one occurrence, so the server can deduplicate a retry.
        headers.insert("idempotency-key", key);
    }
    let mut request = module.client.request(method, url).headers(headers).timeout(timeout);
    if let Some(body) = &params.body {
        request = request.body(body.clone());
    } else if let Some(json) = &params.json {
        request = request.json(json);
    }
    request
}

/// A response read up to the body cap.
struct Response {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    truncated: bool,
}

impl Response {
    fn into_output(self, duration_ms: u64) -> RequestOutput {
        let (body, body_base64) = match std::str::from_utf8(&self.body) {
            Ok(text) => (text.to_owned(), false),
            // A cut in the middle of a character is still text.
            Err(error) if self.truncated && error.error_len().is_none() => {
                (String::from_utf8_lossy(&self.body[..error.valid_up_to()]).into_owned(), false)
            }
            Err(_) => (base64(&self.body), true),
        };
        RequestOutput {
            status: self.status,
            headers: self.headers,
            body,
            body_base64,
            truncated: self.truncated,
            duration_ms,
        }
    }
}

async fn send(request: reqwest::RequestBuilder, max_body: usize) -> Result<Response, CommandError> {
    let mut response = request.send().await.map_err(classify)?;
    let status = response.status().as_u16();
    let headers = kept_headers(response.headers());
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        let room = max_body - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            // The rest is not read: dropping the response closes the connection.
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response { status, headers, body, truncated })
}

fn kept_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    KEPT_RESPONSE_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?.to_str().ok()?;
            Some(((*name).to_owned(), value.to_owned()))
        })
        .collect()
}

fn transport_error(code: &str, message: String) -> CommandError {
    // No retry hint: transient, left to the task's retry policy.
    CommandError::new(code, message)
}

/// A reqwest error as a command error, without its URL (it may carry a query secret).
fn classify(error: reqwest::Error) -> CommandError {
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(&error);
    while let Some(e) = source {
        chain.push_str(&e.to_string());
        chain.push_str(": ");
        source = e.source();
    }
    if chain.contains(REFUSED_MARK) {
        let refused = chain.split(": ").find(|part| part.contains(REFUSED_MARK)).unwrap_or(REFUSED_MARK);
        return CommandError::new("refused", refused.to_owned()).permanent();
    }
    if error.is_redirect() {
        return CommandError::new("refused", format!("a redirect was refused: {}", error.without_url())).permanent();
    }
    if error.is_timeout() {
        return transport_error("timeout", format!("the request timed out: {}", error.without_url()));
    }
    let code = if error.is_connect() { "connect_failed" } else { "transport_failed" };
    let detail = error.source().map(ToString::to_string).unwrap_or_default();
    transport_error(code, format!("{}: {detail}", error.without_url()))
}

/// The expected status is the output; any other is an error carrying it as `details`.
fn judge(prepared: &Prepared, shown: &str, output: RequestOutput) -> Result<RequestOutput, CommandError> {
    let status = output.status;
    if prepared.expect.iter().any(|range| (range.0..=range.1).contains(&status)) {
        return Ok(output);
    }
    let retry_after = output.headers.get("retry-after").and_then(|v| retry_after(v, output.headers.get("date")));
    let details = serde_json::to_value(&output).unwrap_or_default();
    let error = CommandError::new(
        "http_status",
        format!("{} {shown} answered {status}, which the task does not expect", prepared.method),
    )
    .with_details(details);
    if status == 429 || status >= 500 {
        match retry_after {
            Some(delay) => Err(error.retry_after(delay)),
            None => Err(error),
        }
    } else {
        Err(error.permanent())
    }
}

/// `Retry-After` as a delay: seconds, or an HTTP-date measured from the response's `Date`
/// (the server's own clock, so no wall-clock read here) — or, without `Date`, from now.
pub(crate) fn retry_after(value: &str, date: Option<&String>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let parser = jiff::fmt::rfc2822::DateTimeParser::new();
    let at = parser.parse_timestamp(value).ok()?;
    let now = match date.and_then(|d| parser.parse_timestamp(d.trim()).ok()) {
        Some(now) => now,
        // Only when the server sent no `Date`: a retry delay does not need a test clock.
        #[allow(clippy::disallowed_methods)]
        None => jiff::Timestamp::now(),
    };
    let delay = at.duration_since(now);
    Some(Duration::try_from(delay).unwrap_or(Duration::ZERO))
}

/// The URL as shown in logs and errors: no user or password, the query replaced.
pub(crate) fn shown_url(url: &Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    if url.query().is_some() {
        shown.push_str("?<redacted>");
    }
    shown
}

async fn write_log(
    module: &Http,
    call: &Call<'static>,
    occurrence: &Occurrence,
    output: Option<&RequestOutput>,
    summary: &str,
    max_body: usize,
) {
    let mut lines = Vec::new();
    if let Some(output) = output {
        let text =
            if output.body_base64 { "<binary body, base64 in the output>".to_owned() } else { output.body.clone() };
        for line in text.lines() {
            let chars: Vec<char> = line.chars().collect();
            for piece in chars.chunks(MAX_LINE_CHARS) {
                lines.push(LogLineInput { stream: LogStream::Stdout, line: piece.iter().collect() });
            }
        }
        let cut = lines.len() > MAX_LOG_LINES;
        lines.truncate(MAX_LOG_LINES);
        if output.truncated || cut {
            lines.push(LogLineInput {
                stream: LogStream::System,
                line: format!("body truncated (first {max_body} bytes, at most {MAX_LOG_LINES} lines kept)"),
            });
        }
    }
    lines.push(LogLineInput { stream: LogStream::System, line: summary.to_owned() });
    let params = AppendLogsParams { execution_id: occurrence.execution_id, lines };
    if let Err(error) = module.host.call_with::<AppendLogs>(&params, &CallOptions::on_behalf_of(call)).await {
        // The request's result is still the truth; a missing log is not a reason to fail it.
        tracing::warn!(request_id = call.request_id(), execution_id = occurrence.execution_id, error = %error, "Could not write the execution log.");
    }
}

/// Standard base64 with padding, for a body that is not UTF-8.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
