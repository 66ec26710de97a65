//! Scheduled HTTP requests through the real binary and the real http module, against a
//! server the test runs on loopback: the request carries the occurrence's Idempotency-Key,
//! a 503 is retried and a 404 is not, `Retry-After` holds the retry back, and denied
//! addresses are refused (a literal at create, a name that resolves to one at run time).

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use blackbox::{HostSpec, TestHost, wait_for};
use serde_json::Value;

/// One request the server received: when, and its head (request line and headers, the
/// header names lowercased).
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    line: String,
    headers: Vec<(String, String)>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP/1.1 server answering each request with the next scripted response
/// (status and extra headers; the last one repeats), one connection per request.
struct Server {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    fn start(script: Vec<(u16, Vec<(&'static str, &'static str)>)>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            for (index, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut headers = Vec::new();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.trim_end().split_once(':') {
                        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                    }
                }
                log.lock().unwrap().push(Received { at: Instant::now(), line: line.trim_end().to_owned(), headers });
                let (status, extra) = &script[index.min(script.len() - 1)];
                let mut response = format!("HTTP/1.1 {status} Scripted\r\nconnection: close\r\ncontent-length: 2\r\n");
                for (name, value) in extra {
                    response.push_str(&format!("{name}: {value}\r\n"));
                }
                response.push_str("\r\nok");
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Server { port, received }
    }

    fn url(&self, host: &str) -> String {
        format!("http://{host}:{}/hook", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn host(extra_config: &str) -> TestHost {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "modules/scheduler".into(), "modules/http".into()],
        extra_config: extra_config.to_owned(),
        ..HostSpec::default()
    });
    host.start();
    host
}

fn create(host: &TestHost, name: &str, url: &str, extra: &[&str]) {
    let mut args = vec!["scheduler:create", "--name", name, "--url", url, "--method", "POST", "--schedule", "manual"];
    args.extend_from_slice(extra);
    host.cli(&args).assert_code(0);
}

/// The task's executions, oldest first, once `count` of them have ended.
fn ended(host: &TestHost, name: &str, count: usize) -> Vec<Value> {
    wait_for(&format!("{count} ended executions of {name}"), Duration::from_secs(20), || {
        let mut executions = host.json(&["scheduler:history", "--task", name]).as_array()?.clone();
        executions.reverse();
        let done = executions.iter().all(|e| !matches!(e["status"].as_str(), Some("queued" | "running")));
        (done && executions.len() == count).then_some(executions)
    })
}

#[test]
fn the_request_carries_the_occurrences_idempotency_key() {
    let server = Server::start(vec![(200, vec![])]);
    let host = host("");
    create(&host, "hook", &server.url("127.0.0.1"), &[]);
    host.cli(&["scheduler:run", "--id", "hook", "--wait"]).assert_code(0);
    let execution = &ended(&host, "hook", 1)[0];
    assert_eq!(execution["status"], "completed");
    assert_eq!(execution["output"]["status"], 200);
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].line, "POST /hook HTTP/1.1");
    let key = format!("{}:{}", execution["task_id"].as_str().unwrap(), execution["scheduled_for"].as_str().unwrap());
    assert_eq!(received[0].header("idempotency-key"), Some(key.as_str()));
    assert_eq!(execution["idempotency_key"], key);
    assert_eq!(execution["schedule_id"], execution["task_id"]);
}

#[test]
fn a_503_then_a_200_is_one_retry_and_completes() {
    let server = Server::start(vec![(503, vec![]), (200, vec![])]);
    let host = host("");
    create(&host, "flaky", &server.url("127.0.0.1"), &["--retries", "3", "--retry-delay-ms", "100"]);
    host.cli(&["scheduler:run", "--id", "flaky", "--wait"]).assert_code(0);
    let executions = ended(&host, "flaky", 2);
    let statuses: Vec<&str> = executions.iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["failed", "completed"]);
    assert!(executions[0]["error"].as_str().unwrap().contains("503"), "{}", executions[0]["error"]);
    assert_eq!(server.received().len(), 2);
    let keys: Vec<Option<String>> =
        server.received().iter().map(|r| r.header("idempotency-key").map(str::to_owned)).collect();
    assert_eq!(keys[0], keys[1], "a retry is the same occurrence");
}

#[test]
fn a_404_fails_without_a_retry() {
    let server = Server::start(vec![(404, vec![])]);
    let host = host("");
    create(&host, "missing", &server.url("127.0.0.1"), &["--retries", "3", "--retry-delay-ms", "100"]);
    host.cli(&["scheduler:run", "--id", "missing", "--wait"]).assert_code(1);
    // A retry is written with the failure, in one transaction: none now means none ever.
    let executions = ended(&host, "missing", 1);
    assert_eq!(executions[0]["status"], "failed");
    assert_eq!(executions[0]["output"]["status"], 404);
    assert_eq!(server.received().len(), 1);
}

#[test]
fn retry_after_2_holds_the_retry_back_at_least_two_seconds() {
    let server = Server::start(vec![(429, vec![("retry-after", "2")]), (200, vec![])]);
    let host = host("");
    create(&host, "limited", &server.url("127.0.0.1"), &["--retries", "3", "--retry-delay-ms", "100"]);
    host.cli(&["scheduler:run", "--id", "limited", "--wait"]).assert_code(0);
    let received = server.received();
    assert_eq!(received.len(), 2);
    let gap = received[1].at.duration_since(received[0].at);
    assert!(gap >= Duration::from_secs(2), "the retry came after {gap:?}");
}

#[test]
fn a_denied_address_is_refused_at_create_and_a_name_resolving_to_one_at_run_time() {
    let server = Server::start(vec![(200, vec![])]);
    let host = host("modules:\n  http:\n    deniedNetworks: ['127.0.0.0/8', '::1/128', '169.254.0.0/16']\n");
    let out = host.cli(&[
        "scheduler:create",
        "--name",
        "metadata",
        "--url",
        "http://169.254.169.254/latest",
        "--schedule",
        "5m",
    ]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("deniedNetworks"), "{}", out.stderr);
    assert_eq!(host.json(&["scheduler:list"]), serde_json::json!([]));
    // `localhost` is a name: it passes the create check and is refused once resolved.
    create(&host, "local", &server.url("localhost"), &["--retries", "3"]);
    host.cli(&["scheduler:run", "--id", "local", "--wait"]).assert_code(1);
    let executions = ended(&host, "local", 1);
    assert_eq!(executions[0]["status"], "failed");
    assert!(executions[0]["error"].as_str().unwrap().starts_with("refused: "), "{}", executions[0]["error"]);
    assert!(server.received().is_empty(), "nothing reached the server");
}
