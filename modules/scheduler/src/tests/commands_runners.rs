//! `scheduler:create` for runner tasks through the module API: the `exec` and `url`
//! shorthands and the check-task convention (a runner refuses a task before anything is
//! written). The black-box tests in `tests/tests/runner_shell.rs` drive the real shell
//! module through the CLI.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use scheduler_api::tasks::{CreateTask, CreateTaskParams, ListTasks, ListTasksParams, UpdateTask, UpdateTaskParams};
use serde_json::json;
use systemprompt_module_sdk::CommandError;
use systemprompt_module_sdk::testing::{FakeHost, ModuleTest};

use crate::Scheduler;

const WAIT: Duration = Duration::from_secs(10);

/// The scheduler on a fresh data dir whose host declares the runners, with a
/// `shell:check-task` that refuses the program `rm` and records what it was asked.
fn scheduler() -> (ModuleTest<Scheduler>, Arc<Mutex<Vec<serde_json::Value>>>) {
    let host = FakeHost::default();
    host.declares(&["shell:run", "shell:check-task", "http:request", "system:echo"]);
    let checked = Arc::new(Mutex::new(Vec::new()));
    let seen = checked.clone();
    host.on("shell:check-task", move |params| {
        seen.lock().expect("lock").push(params.clone());
        if params["data"]["program"] == "rm" {
            return Err(CommandError::invalid_params("shell:run: program 'rm' is denied by deniedPrograms"));
        }
        Ok(json!({}))
    });
    (ModuleTest::with_host(json!({}), host).expect("the scheduler builds"), checked)
}

fn task(name: &str) -> CreateTaskParams {
    CreateTaskParams { name: name.to_owned(), schedule: "manual".to_owned(), ..CreateTaskParams::default() }
}

#[tokio::test]
async fn exec_is_split_into_program_and_args_and_merged_with_data() {
    let (module, checked) = scheduler();
    let params = CreateTaskParams {
        exec: Some(r#"pg_dump -Fc "my db" -f '/backups/a b.dump' plain\ space"#.to_owned()),
        data: Some(json!({"env": {"PGHOST": "db"}})),
        ..task("dump")
    };
    let created = module.call::<CreateTask>(&params, WAIT).await.expect("created");
    assert_eq!(created.command, "shell:run");
    let data = json!({
        "env": {"PGHOST": "db"},
        "program": "pg_dump",
        "args": ["-Fc", "my db", "-f", "/backups/a b.dump", "plain space"],
    });
    assert_eq!(created.data, data);
    let checked = checked.lock().expect("lock").clone();
    assert_eq!(checked, [json!({"command": "shell:run", "data": data})]);
}

#[tokio::test]
async fn url_becomes_an_http_request_with_get_by_default() {
    let (module, _) = scheduler();
    let get = CreateTaskParams { url: Some("http://127.0.0.1:9/hook".to_owned()), ..task("get") };
    let created = module.call::<CreateTask>(&get, WAIT).await.expect("created");
    assert_eq!(created.command, "http:request");
    assert_eq!(created.data, json!({"url": "http://127.0.0.1:9/hook", "method": "GET"}));
    let post = CreateTaskParams { method: Some("post".to_owned()), ..get.clone() };
    let created = module.call::<CreateTask>(&CreateTaskParams { name: "post".to_owned(), ..post }, WAIT).await;
    assert_eq!(created.expect("created").data["method"], "POST");
}

#[tokio::test]
async fn a_task_the_runner_refuses_is_not_written_and_the_error_is_the_runners() {
    let (module, _) = scheduler();
    let params = CreateTaskParams { exec: Some("rm -rf /srv".to_owned()), ..task("wipe") };
    let error = module.call::<CreateTask>(&params, WAIT).await.expect_err("refused");
    assert_eq!(error.code, "invalid_params");
    assert_eq!(error.message, "shell:run: program 'rm' is denied by deniedPrograms");
    assert!(module.call::<ListTasks>(&ListTasksParams::default(), WAIT).await.expect("list").is_empty());
}

#[tokio::test]
async fn an_update_of_the_data_is_checked_against_the_tasks_command() {
    let (module, checked) = scheduler();
    let created = CreateTaskParams { exec: Some("true".to_owned()), ..task("t") };
    let created = module.call::<CreateTask>(&created, WAIT).await.expect("created");
    let update = UpdateTaskParams {
        id: created.id.clone(),
        data: Some(json!({"program": "rm", "args": ["-rf", "/"]})),
        ..UpdateTaskParams::default()
    };
    let error = module.call::<UpdateTask>(&update, WAIT).await.expect_err("refused");
    assert_eq!(error.message, "shell:run: program 'rm' is denied by deniedPrograms");
    assert_eq!(checked.lock().expect("lock").len(), 2);
    let listed = module.call::<ListTasks>(&ListTasksParams::default(), WAIT).await.expect("list");
    assert_eq!(listed[0].data, json!({"program": "true", "args": []}));
}

#[tokio::test]
async fn the_shorthands_need_exactly_one_target_and_keep_their_own_fields() {
    let (module, _) = scheduler();
    let cases = [
        (task("none"), "give exactly one of command"),
        (
            CreateTaskParams { command: Some("system:echo".to_owned()), exec: Some("true".to_owned()), ..task("two") },
            "give exactly one of command",
        ),
        (CreateTaskParams { exec: Some("  ".to_owned()), ..task("empty") }, "exec must name a program"),
        (
            CreateTaskParams { exec: Some("echo 'open".to_owned()), ..task("quote") },
            "exec must be a command line with balanced quotes",
        ),
        (
            CreateTaskParams { method: Some("POST".to_owned()), exec: Some("true".to_owned()), ..task("m") },
            "method goes with url",
        ),
        (
            CreateTaskParams { exec: Some("true".to_owned()), data: Some(json!({"script": "rm -rf /"})), ..task("s") },
            "data must not set 'script' when exec is given",
        ),
    ];
    for (params, expected) in cases {
        let error = module.call::<CreateTask>(&params, WAIT).await.expect_err("refused");
        assert_eq!(error.code, "invalid_params");
        assert!(error.message.starts_with(expected), "{} -> {}", params.name, error.message);
    }
    assert!(module.call::<ListTasks>(&ListTasksParams::default(), WAIT).await.expect("list").is_empty());
}
