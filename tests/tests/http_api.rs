//! The HTTP API end to end: the real binary serving on a loopback port it picked (port 0),
//! called with a real HTTP client. Tokens come from the CLI, as a person makes them; the
//! store is checked through the scheduler's own database, opened read-only.
//!
//! What is asserted: no token, a wrong one or a revoked one is 401 and calls nothing; a
//! role below a command's access is 403; the schedule routes map onto the scheduler's
//! commands (create 201, trigger 202 at once, a missing task 404 in the one error shape);
//! a request that cannot be read (malformed JSON, too large, not JSON, an unknown query
//! parameter) is refused with its status and writes nothing.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use std::time::{Duration, Instant};

use blackbox::{HostSpec, TestHost, wait_for};
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

fn host(extra_config: &str) -> TestHost {
    let modules = ["modules/system", "modules/scheduler"].map(str::to_owned).to_vec();
    let mut host = TestHost::new(HostSpec { modules, extra_config: extra_config.to_owned(), ..HostSpec::default() });
    host.start();
    host
}

/// A client for `base`, sending `token` when given.
struct Api {
    base: String,
    token: Option<String>,
    client: Client,
}

impl Api {
    fn new(host: &TestHost, token: Option<&str>) -> Api {
        let client = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        Api { base: host.http_base(), token: token.map(str::to_owned), client }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    fn get(&self, path: &str) -> Response {
        self.request(reqwest::Method::GET, path).send().unwrap()
    }

    fn send(&self, method: &str, path: &str, body: &Value) -> Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.request(method, path).json(body).send().unwrap()
    }
}

/// The status and the JSON body of a response.
fn read(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}")))
}

/// Asserts the one error shape and returns its message.
fn error_of(status: StatusCode, body: &Value, expected: StatusCode) -> String {
    assert_eq!(status, expected, "{body}");
    let error = &body["error"];
    assert!(error["code"].is_string() && error.as_object().unwrap().contains_key("details"), "{body}");
    error["message"].as_str().unwrap().to_owned()
}

fn tasks_in_db(host: &TestHost) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        host.data_dir().join("scheduler.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row("SELECT COUNT(*) FROM scheduled_tasks", [], |row| row.get(0)).unwrap()
}

#[test]
fn without_a_valid_token_every_api_route_is_401_and_health_needs_none() {
    let host = host("");
    let anonymous = Api::new(&host, None);
    let (status, body) = read(anonymous.get("/api/v1/schedules"));
    let message = error_of(status, &body, StatusCode::UNAUTHORIZED);
    assert!(message.contains("systemprompt tokens:create --role admin"), "{message}");
    let (status, body) = read(anonymous.get("/healthz"));
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "alive"})));
    let (status, body) = read(anonymous.get("/readyz"));
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ready"], true);

    let secret = host.token("admin");
    let (status, _) = read(Api::new(&host, Some(&secret)).get("/api/v1/schedules"));
    assert_eq!(status, StatusCode::OK);
    let wrong = format!("{}0", &secret[..secret.len() - 1]);
    let (status, body) = read(Api::new(&host, Some(&wrong)).send("POST", "/api/v1/schedules", &json!({})));
    let message = error_of(status, &body, StatusCode::UNAUTHORIZED);
    assert_eq!(message, "the bearer token is not one of this host's tokens");

    let listed = host.json(&["tokens:list"]);
    let id = listed[0]["id"].as_str().unwrap();
    assert!(!listed.to_string().contains(&secret[12..]), "tokens:list shows no secret: {listed}");
    host.cli(&["tokens:revoke", "--id", id]).assert_code(0);
    let (status, body) = read(Api::new(&host, Some(&secret)).get("/api/v1/schedules"));
    assert_eq!(error_of(status, &body, StatusCode::UNAUTHORIZED), "the bearer token was revoked");
    let stored = std::fs::read_to_string(host.data_dir().join("tokens.json")).unwrap();
    assert!(!stored.contains(&secret[12..]), "only the secret's hash is stored");
}

#[test]
fn a_role_below_the_command_access_is_403_and_writes_nothing() {
    let host = host("");
    let admin = Api::new(&host, Some(&host.token("admin")));
    let viewer = Api::new(&host, Some(&host.token("viewer")));
    let operator = Api::new(&host, Some(&host.token("operator")));
    let task = json!({"name": "echo", "command": "system:echo", "schedule": "manual"});

    let (status, body) = read(viewer.send("POST", "/api/v1/schedules", &task));
    let message = error_of(status, &body, StatusCode::FORBIDDEN);
    assert_eq!(message, "scheduler:create needs a token with the role admin or higher; this token's role is viewer");
    assert_eq!(tasks_in_db(&host), 0);
    let (status, body) = read(admin.send("POST", "/api/v1/schedules", &task));
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let (status, body) = read(viewer.send("POST", "/api/v1/schedules/echo/trigger", &json!({})));
    error_of(status, &body, StatusCode::FORBIDDEN);
    let (status, body) = read(operator.send("POST", "/api/v1/schedules/echo/trigger", &json!({})));
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = read(viewer.get("/api/v1/schedules/echo"));
    assert_eq!((status, body["name"].clone()), (StatusCode::OK, json!("echo")));

    // Token management and shutdown are for the data dir's owner only, whatever the role.
    for command in ["tokens:create", "host:shutdown"] {
        let (status, body) =
            read(admin.send("POST", &format!("/api/v1/commands/{command}"), &json!({"role": "admin"})));
        let message = error_of(status, &body, StatusCode::FORBIDDEN);
        assert!(message.starts_with(&format!("{command} is only for the data dir's owner")), "{message}");
    }
    assert_eq!(host.json(&["tokens:list"]).as_array().unwrap().len(), 3);
}

#[test]
fn schedules_are_created_read_changed_triggered_and_deleted_over_http() {
    let host = host("");
    let api = Api::new(&host, Some(&host.token("admin")));
    let task = json!({"name": "nap", "command": "system:sleep", "schedule": "1h", "data": {"ms": 2000}});
    let (status, created) = read(api.send("POST", "/api/v1/schedules", &task));
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(host.json(&["scheduler:get", "--id", "nap"])["id"], id.as_str(), "the CLI sees the same task");

    let (status, changed) = read(api.send("PATCH", &format!("/api/v1/schedules/{id}"), &json!({"schedule": "2h"})));
    assert_eq!((status, changed["schedule"].clone()), (StatusCode::OK, json!("2h")), "{changed}");

    // The trigger answers at once with the execution, while the job sleeps 2 s.
    let started = Instant::now();
    let (status, run) = read(api.send("POST", "/api/v1/schedules/nap/trigger", &json!({})));
    let answered = started.elapsed();
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert!(answered < Duration::from_secs(1), "the trigger waited for the job: {answered:?}");
    let execution = run["execution_id"].as_i64().unwrap();
    let (status, listed) = read(api.get("/api/v1/schedules/nap/executions?limit=5"));
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert!(listed.as_array().unwrap().iter().any(|e| e["id"] == execution), "{listed}");
    let (status, cancelled) = read(api.send("POST", &format!("/api/v1/executions/{execution}/cancel"), &json!({})));
    assert_eq!(status, StatusCode::OK, "{cancelled}");

    let (status, paused) = read(api.send("PUT", "/api/v1/schedules/nap", &json!({"enabled": false})));
    assert_eq!((status, paused["status"].clone()), (StatusCode::OK, json!("paused")), "{paused}");
    assert_eq!(host.json(&["scheduler:get", "--id", "nap"])["status"], "paused");
    let (status, resumed) = read(api.send("PATCH", "/api/v1/schedules/nap", &json!({"enabled": true, "retries": 1})));
    assert_eq!(
        (status, resumed["status"].clone(), resumed["retries"].clone()),
        (StatusCode::OK, json!("active"), json!(1))
    );

    let (status, next) = read(api.get("/api/v1/schedules/nap/next?count=3"));
    assert_eq!((status, next.as_array().map(Vec::len)), (StatusCode::OK, Some(3)), "{next}");
    let (status, _) = read(api.send("DELETE", "/api/v1/schedules/nap", &json!({})));
    assert_eq!(status, StatusCode::OK);
    let (status, body) = read(api.get("/api/v1/schedules/nap"));
    let message = error_of(status, &body, StatusCode::NOT_FOUND);
    assert!(message.contains("nap"), "{message}");
    assert_eq!(tasks_in_db(&host), 0);
}

#[test]
fn a_request_that_cannot_be_read_is_refused_with_its_status_and_writes_nothing() {
    let host = host("http:\n  max_body_bytes: 2048\n");
    let api = Api::new(&host, Some(&host.token("admin")));
    let post = |body: &'static str, content_type: &str| {
        api.request(reqwest::Method::POST, "/api/v1/schedules")
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap()
    };
    let (status, body) = read(post(r#"{"name": "x", "#, "application/json"));
    let message = error_of(status, &body, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("malformed JSON at line 1 column 14"), "{message}");
    let (status, body) = read(post(r#"{"name": "x"}"#, "text/plain"));
    error_of(status, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = json!({"name": "big", "command": "system:echo", "schedule": "5m", "data": {"blob": "x".repeat(4096)}});
    let (status, body) = read(api.send("POST", "/api/v1/schedules", &big));
    assert!(error_of(status, &body, StatusCode::PAYLOAD_TOO_LARGE).contains("http.max_body_bytes"));
    let (status, body) = read(api.get("/api/v1/schedules?colour=red"));
    assert!(error_of(status, &body, StatusCode::BAD_REQUEST).starts_with("unknown query parameter 'colour'"));
    let (status, body) = read(api.send(
        "POST",
        "/api/v1/schedules",
        &json!({"name": "bad", "command": "system:echo", "schedule": "61 * * * *"}),
    ));
    error_of(status, &body, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = read(api.get("/api/v1/nothing-here"));
    error_of(status, &body, StatusCode::NOT_FOUND);
    assert_eq!(tasks_in_db(&host), 0, "nothing was written");
}

#[test]
fn readyz_fails_while_the_scheduler_cannot_work_and_its_status_says_why() {
    let mut host = host("");
    let api = Api::new(&host, Some(&host.token("viewer")));
    let (status, body) = read(api.get("/api/v1/scheduler/status"));
    assert_eq!(
        (status, body["engine"].clone(), body["store"].clone()),
        (StatusCode::OK, json!("running"), json!("reachable"))
    );
    host.stop().assert_code(0);

    // A store the scheduler cannot open: the module fails to start, the host serves on.
    let db = host.data_dir().join("scheduler.db");
    std::fs::write(&db, b"this is not a SQLite database, and the scheduler must not serve it").unwrap();
    host.start();
    let (status, body) = read(Api::new(&host, None).get("/readyz"));
    assert_eq!((status, body["ready"].clone()), (StatusCode::SERVICE_UNAVAILABLE, json!(false)), "{body}");
    let scheduler = body["checks"].as_array().unwrap().iter().find(|c| c["module"] == "scheduler").unwrap();
    assert_eq!(scheduler["state"], "failed", "{body}");
    let (status, _) = read(Api::new(&host, None).get("/healthz"));
    assert_eq!(status, StatusCode::OK, "alive, though not ready");
}

#[test]
fn the_bound_address_is_in_http_addr_and_status_and_a_network_address_is_refused() {
    let mut host = host("");
    let base = host.http_base();
    assert!(base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"), "{base}");
    let status = host.json(&["status"]);
    assert_eq!(status["http"], base.as_str(), "{status}");
    host.stop().assert_code(0);
    wait_for("http.addr removed", Duration::from_secs(10), || {
        (!host.data_dir().join("http.addr").exists()).then_some(())
    });

    let refused = host.cli_command().env("SYSTEMPROMPT_HTTP_BIND", "0.0.0.0:0").arg("serve").output().unwrap();
    assert_ne!(refused.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("SYSTEMPROMPT_HTTP_BIND is 0.0.0.0:0, which is not a loopback address"), "{stderr}");
}
