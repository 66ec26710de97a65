//! In-process tests of the http module against the SDK's fake host and a real HTTP/1.1
//! server on 127.0.0.1 that each test starts (a bare tokio listener answering one canned
//! response per connection and recording every request head it received).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use systemprompt_module_sdk::testing::{FakeHost, ModuleTest};
use systemprompt_module_sdk::{CommandError, Occurrence, RetryHint};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Http;

const WAIT: Duration = Duration::from_secs(10);

/// A server answering every request with `status`, `headers` and `body`.
struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn serve(status: u16, headers: &[(&str, &str)], body: &str) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let mut response = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(body);
    let seen = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            seen.lock().unwrap().push(String::from_utf8_lossy(&head).to_lowercase());
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    Server { port, requests }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn occurrence() -> Occurrence {
    Occurrence {
        task_id: "0190c0de-0000-7000-8000-000000000001".into(),
        task_name: "ping".into(),
        tenant: "default".into(),
        execution_id: 42,
        scheduled_for: "2026-12-02T07:00:00Z".into(),
        attempt: 1,
        trigger: "schedule".into(),
        idempotency_key: "0190c0de-0000-7000-8000-000000000001:2026-12-02T07:00:00Z".into(),
    }
}

/// A module whose fake host records the lines sent to `scheduler:append-logs`.
fn module(config: Value) -> (ModuleTest<Http>, Arc<Mutex<Vec<Value>>>) {
    let host = FakeHost::default();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    host.on("scheduler:append-logs", move |params| {
        let mut sink = sink.lock().unwrap();
        let batch = params["lines"].as_array().cloned().unwrap_or_default();
        let appended = batch.len();
        sink.extend(batch.into_iter().map(|mut l| {
            l["execution_id"] = params["execution_id"].clone();
            l
        }));
        Ok(json!({ "appended": appended }))
    });
    (ModuleTest::with_host(config, host).unwrap(), lines)
}

async fn request(test: &ModuleTest<Http>, data: Value) -> Result<Value, CommandError> {
    test.call_for("http:request", &data, WAIT, Some(&occurrence())).await
}

#[tokio::test]
async fn a_request_for_an_occurrence_carries_its_idempotency_key_and_logs_the_body_and_status() {
    let server = serve(200, &[("content-type", "text/plain")], "line one\nline two\n").await;
    let (test, lines) = module(json!({}));
    let out = request(&test, json!({ "url": server.url("/ping?token=s3cret") })).await.unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(out["headers"]["content-type"], "text/plain");
    assert_eq!(out["body"], "line one\nline two\n");
    assert_eq!(out["truncated"], false);
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].contains(&format!("idempotency-key: {}", occurrence().idempotency_key.to_lowercase())),
        "{}",
        seen[0]
    );
    assert!(seen[0].contains("user-agent: systemprompt-http/"), "{}", seen[0]);
    let lines = lines.lock().unwrap().clone();
    let stdout: Vec<&str> =
        lines.iter().filter(|l| l["stream"] == "stdout").filter_map(|l| l["line"].as_str()).collect();
    assert_eq!(stdout, ["line one", "line two"]);
    let system = lines.iter().rfind(|l| l["stream"] == "system").unwrap();
    let system = system["line"].as_str().unwrap();
    assert!(system.starts_with("GET http://127.0.0.1:") && system.contains("-> 200"), "{system}");
    assert!(!system.contains("s3cret"), "the query is redacted: {system}");
    assert!(lines.iter().all(|l| l["execution_id"] == 42));
}

#[tokio::test]
async fn a_task_set_idempotency_key_wins_and_no_log_is_written_without_an_occurrence() {
    let server = serve(204, &[], "").await;
    let (test, lines) = module(json!({}));
    let data = json!({ "url": server.url("/"), "headers": { "Idempotency-Key": "mine" } });
    test.call_for("http:request", &data, WAIT, Some(&occurrence())).await.unwrap();
    test.call_json("http:request", &json!({ "url": server.url("/") }), WAIT).await.unwrap();
    let seen = server.requests();
    assert!(seen[0].contains("idempotency-key: mine"), "{}", seen[0]);
    assert!(!seen[1].contains("idempotency-key"), "{}", seen[1]);
    assert_eq!(lines.lock().unwrap().iter().filter(|l| l["stream"] == "system").count(), 1);
}

#[tokio::test]
async fn a_503_is_a_transient_error_with_the_response_as_details() {
    let server = serve(503, &[], "busy").await;
    let (test, _) = module(json!({}));
    let error = request(&test, json!({ "url": server.url("/") })).await.unwrap_err();
    assert_eq!(error.code, "http_status");
    assert!(!error.is_permanent());
    assert_eq!(error.retry, None);
    let details = error.details.unwrap();
    assert_eq!(details["status"], 503);
    assert_eq!(details["body"], "busy");
}

#[tokio::test]
async fn a_404_is_a_permanent_error() {
    let server = serve(404, &[], "no").await;
    let (test, _) = module(json!({}));
    let error = request(&test, json!({ "url": server.url("/") })).await.unwrap_err();
    assert_eq!(error.code, "http_status");
    assert!(error.is_permanent());
}

#[tokio::test]
async fn an_expected_404_is_a_success() {
    let server = serve(404, &[], "").await;
    let (test, _) = module(json!({}));
    let out = request(&test, json!({ "url": server.url("/"), "expect_status": ["2xx", 404] })).await.unwrap();
    assert_eq!(out["status"], 404);
}

#[tokio::test]
async fn a_429_with_retry_after_2_hints_a_retry_after_two_seconds() {
    let server = serve(429, &[("retry-after", "2")], "").await;
    let (test, _) = module(json!({}));
    let error = request(&test, json!({ "url": server.url("/") })).await.unwrap_err();
    assert_eq!(error.retry, Some(RetryHint::AfterMs(2000)));
}

#[test]
fn retry_after_as_an_http_date_is_measured_from_the_response_date() {
    let delay = crate::commands::request::retry_after(
        "Wed, 02 Dec 2026 07:00:30 GMT",
        Some(&"Wed, 02 Dec 2026 07:00:00 GMT".to_owned()),
    );
    assert_eq!(delay, Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn a_name_resolving_into_a_denied_network_is_refused_before_any_connection() {
    let server = serve(200, &[], "").await;
    let (test, _) = module(json!({ "deniedNetworks": ["127.0.0.0/8", "::1/128"] }));
    let error = request(&test, json!({ "url": format!("http://localhost:{}/", server.port) })).await.unwrap_err();
    assert_eq!(error.code, "refused", "{error:?}");
    assert!(error.is_permanent());
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn the_cloud_metadata_address_is_refused_by_default() {
    let (test, _) = module(json!({}));
    let error = request(&test, json!({ "url": "http://169.254.169.254/latest/meta-data/" })).await.unwrap_err();
    assert_eq!(error.code, "invalid_params");
    assert!(error.message.contains("deniedNetworks"), "{}", error.message);
    assert!(error.is_permanent());
}

#[tokio::test]
async fn a_host_outside_allowed_hosts_is_refused() {
    let (test, _) = module(json!({ "allowedHosts": ["*.example.com"] }));
    let error = request(&test, json!({ "url": "http://127.0.0.1:9/" })).await.unwrap_err();
    assert!(error.message.contains("allowedHosts"), "{}", error.message);
}

#[tokio::test]
async fn the_body_is_capped_at_max_body_bytes_and_marked_truncated() {
    let server = serve(200, &[], &"x".repeat(5000)).await;
    let (test, lines) = module(json!({ "maxBodyBytes": 100 }));
    let out = request(&test, json!({ "url": server.url("/") })).await.unwrap();
    assert_eq!(out["truncated"], true);
    assert_eq!(out["body"].as_str().unwrap().len(), 100);
    assert!(lines.lock().unwrap().iter().any(|l| l["line"].as_str().unwrap().contains("truncated")));
}

#[tokio::test]
async fn an_authorization_header_is_sent_but_never_in_the_output_or_the_log() {
    let server = serve(401, &[], "denied").await;
    let (test, lines) = module(json!({}));
    let data = json!({ "url": server.url("/"), "headers": { "Authorization": "Bearer top-secret" } });
    let error = request(&test, data).await.unwrap_err();
    assert!(server.requests()[0].contains("authorization: bearer top-secret"));
    let everything = format!(
        "{}{}",
        serde_json::to_string(&error).unwrap(),
        serde_json::to_string(&*lines.lock().unwrap()).unwrap()
    );
    assert!(!everything.contains("top-secret"), "{everything}");
}

#[tokio::test]
async fn a_connection_refused_is_a_transient_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (test, _) = module(json!({}));
    let error = request(&test, json!({ "url": format!("http://127.0.0.1:{port}/") })).await.unwrap_err();
    assert_eq!(error.code, "connect_failed", "{error:?}");
    assert!(!error.is_permanent());
}

async fn check(test: &ModuleTest<Http>, data: Value) -> Result<Value, CommandError> {
    test.call_json("http:check-task", &json!({ "command": "http:request", "data": data }), WAIT).await
}

#[tokio::test]
async fn check_task_states_the_rule_a_task_breaks() {
    let (test, _) = module(json!({}));
    check(&test, json!({ "url": "https://example.com/", "method": "post", "json": {} })).await.unwrap();
    let both = check(&test, json!({ "url": "https://example.com/", "body": "a", "json": {} })).await.unwrap_err();
    assert!(both.message.contains("`body` and `json`"), "{}", both.message);
    let scheme = check(&test, json!({ "url": "ftp://example.com/" })).await.unwrap_err();
    assert!(scheme.message.contains("http or https"), "{}", scheme.message);
    let metadata = check(&test, json!({ "url": "http://[fd00:ec2::254]/" })).await.unwrap_err();
    assert!(metadata.message.contains("deniedNetworks"), "{}", metadata.message);
    let method = check(&test, json!({ "url": "https://example.com/", "method": "GE T" })).await.unwrap_err();
    assert!(method.message.contains("method"), "{}", method.message);
    for error in [both, scheme, metadata, method] {
        assert_eq!(error.code, "invalid_params");
    }
}
