//! Issue 8, the host's side: the socket (deleted, over-long or non-UTF-8 lines, impostors),
//! the data dir (modes, links, who may write to it) and the CLI's messages (hyphenated
//! values, malformed JSON, a host it cannot reach).
//!
//! Tests that need a second local user create one with `useradd` (unique per run, removed
//! with `userdel` when the test ends); they run only as root and are skipped with a stated
//! reason otherwise.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use blackbox::{CliOutput, HostSpec, TestHost, peak_rss_kib};
use serde_json::{Value, json};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Polls `condition` every 20 ms until it holds; panics with `what` after `limit`.
fn wait_for(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `serve` in the foreground where it must refuse to start: its output once it exited,
/// or a failure (after killing it) when it is still running after 30 s.
fn serve_refused(host: &TestHost) -> CliOutput {
    let mut child = host.cli_command().arg("serve").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("serve did not refuse to start within 30s:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status().unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// One request line and its response line, on a raw connection.
fn exchange(reader: &mut BufReader<UnixStream>, line: &[u8]) -> Value {
    reader.get_mut().write_all(line).unwrap();
    let mut response = String::new();
    reader.read_line(&mut response).unwrap();
    assert!(!response.is_empty(), "the host closed the connection without answering");
    serde_json::from_str(&response).unwrap()
}

fn raw_connection(host: &TestHost) -> BufReader<UnixStream> {
    let stream = UnixStream::connect(host.data_dir().join("host.sock")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    BufReader::new(stream)
}

const ECHO_AFTER: &[u8] = b"{\"command\":\"system:echo\",\"payload\":{\"message\":\"after\"}}\n";

// Item 9: a deleted socket.

#[test]
fn a_deleted_socket_is_bound_again_and_the_cli_reaches_and_stops_the_host() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let socket = host.data_dir().join("host.sock");
    std::fs::remove_file(&socket).unwrap();
    let asked = Instant::now();
    let out = host.cli(&["system:echo", "--message", "back", "--format", "json"]);
    out.assert_code(0);
    assert_eq!(out.json(), json!({"message": "back"}));
    assert!(asked.elapsed() < Duration::from_secs(5), "took {:?}", asked.elapsed());
    wait_for(Duration::from_secs(5), "the warning in the log", || {
        host.log().contains("The socket file disappeared or was replaced; bound it again.")
    });
    let stopped = host.stop();
    stopped.assert_code(0);
    assert_eq!(stopped.stdout.trim(), "host stopped");
}

#[test]
fn a_socket_replaced_by_a_plain_file_is_bound_again() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let socket = host.data_dir().join("host.sock");
    std::fs::remove_file(&socket).unwrap();
    std::fs::write(&socket, b"not a socket").unwrap();
    wait_for(Duration::from_secs(5), "a socket at host.sock again", || UnixStream::connect(&socket).is_ok());
    assert_eq!(host.json(&["system:echo", "--message", "x"])["message"], "x");
}

#[test]
fn a_host_that_runs_but_cannot_be_reached_is_named_by_pid_and_stop_does_not_claim_success() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let pid = host.pid().unwrap();
    // Stopped, the host cannot re-bind its socket: it runs, holds the lock, and is unreachable.
    signal(pid, "STOP");
    std::fs::remove_file(host.data_dir().join("host.sock")).unwrap();
    let stop = host.cli(&["stop"]);
    let echo = host.cli(&["system:echo", "--message", "x"]);
    signal(pid, "CONT");
    for out in [&stop, &echo] {
        out.assert_code(3);
        assert!(!out.stdout.contains("no host is running"), "{}", out.stdout);
        let expected = format!("a host is running for data dir {} (pid {pid})", host.data_dir().display());
        assert!(out.stderr.contains(&expected), "{}", out.stderr);
        assert!(out.stderr.contains(&format!("`kill {pid}`")), "{}", out.stderr);
    }
    // Resumed, it re-binds the socket and stops on request.
    host.stop().assert_code(0);
}

// Items 10 and 11: what arrives on the socket.

#[test]
fn a_request_line_over_the_limit_gets_an_error_naming_it_and_memory_stays_bounded() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let pid = host.pid().unwrap();
    let mut conn = raw_connection(&host);
    let before = peak_rss_kib(pid);
    let chunk = vec![b'x'; 1024 * 1024];
    for _ in 0..64 {
        conn.get_mut().write_all(&chunk).unwrap();
    }
    let refused = exchange(&mut conn, b"\n");
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_params", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("request line too long: the limit is 8388608 bytes"), "{message}");
    let grown = peak_rss_kib(pid).saturating_sub(before);
    assert!(grown < 32 * 1024, "a 64 MiB line grew the host's peak RSS by {grown} KiB");
    // The same connection serves the next request.
    assert_eq!(exchange(&mut conn, ECHO_AFTER)["result"]["message"], "after");
}

#[test]
fn the_request_line_limit_comes_from_the_host_config() {
    let mut host = TestHost::new(HostSpec { extra_config: "max_request_bytes: 4096".into(), ..HostSpec::default() });
    host.start();
    let mut conn = raw_connection(&host);
    let mut line = vec![b' '; 5000];
    line.push(b'\n');
    let refused = exchange(&mut conn, &line);
    assert!(refused["error"]["message"].as_str().unwrap().contains("the limit is 4096 bytes"), "{refused}");
    assert_eq!(exchange(&mut conn, ECHO_AFTER)["result"]["message"], "after");
}

#[test]
fn invalid_utf8_gets_an_error_and_the_next_request_on_the_connection_is_served() {
    let mut host = TestHost::new(HostSpec::default());
    host.start();
    let mut conn = raw_connection(&host);
    let refused = exchange(&mut conn, b"{\"command\":\"system:echo\",\"payload\":{\"message\":\"\xff\xfe\"}}\n");
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_params", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("request is not valid UTF-8 (invalid byte at offset 47)"), "{message}");
    assert_eq!(exchange(&mut conn, ECHO_AFTER)["result"]["message"], "after");
}

// Item 12: modes.

/// Every file and directory under `dir` with its mode.
fn modes_under(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = vec![(dir.to_path_buf(), mode(dir))];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(modes_under(&path));
        } else {
            out.push((path.clone(), mode(&path)));
        }
    }
    out
}

#[test]
fn a_fresh_data_dir_is_private_and_so_is_every_file_the_host_and_scheduler_create() {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "modules/scheduler".into()],
        ..HostSpec::default()
    });
    std::fs::remove_dir(host.data_dir()).unwrap();
    host.start();
    host.json(&["scheduler:create", "--name", "secret", "--command", "system:health", "--schedule", "manual"]);
    let data = host.data_dir();
    let modes = modes_under(&data);
    let names: Vec<String> = modes.iter().map(|(p, _)| p.strip_prefix(&data).unwrap().display().to_string()).collect();
    for expected in ["", "logs", "logs/systemprompt.log", "host.pid", "host.sock", "host.lock", "scheduler.db"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
    assert!(names.iter().any(|n| n.starts_with("scheduler.db-")), "no WAL or journal: {names:?}");
    for (path, mode) in &modes {
        let wanted = if std::fs::metadata(path).unwrap().is_dir() { 0o700 } else { 0o600 };
        assert_eq!(*mode, wanted, "{} has mode {mode:04o}", path.display());
    }
}

#[test]
fn an_existing_data_dir_and_file_readable_by_others_are_warned_about_at_start() {
    let mut host = TestHost::new(HostSpec::default());
    let data = host.data_dir();
    chmod(&data, 0o755);
    let db = data.join("scheduler.db");
    std::fs::write(&db, b"").unwrap();
    chmod(&db, 0o644);
    host.start();
    let output = host.serve_output();
    assert!(
        output.contains(&format!("data dir {} is readable by other users (mode 0755)", data.display())),
        "{output}"
    );
    assert!(output.contains(&format!("{} is readable by other users (mode 0644)", db.display())), "{output}");
    assert!(host.log().contains("is readable by other users (mode 0644)"), "{}", host.log());
}

// Item 13: links and who may write to the data dir.

fn outside_target(host: &TestHost) -> PathBuf {
    let target = host.data_dir().parent().unwrap().join("precious.txt");
    std::fs::write(&target, b"precious\n").unwrap();
    target
}

/// Plants `link` -> `target`, then checks that `serve` refuses to open the link and that
/// the target is unchanged.
fn assert_link_refused(host: &TestHost, target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
    let out = serve_refused(host);
    out.assert_code(1);
    let expected = format!("refusing to open {}: it is a symbolic link", link.display());
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(target).unwrap(), "precious\n");
}

#[test]
fn a_pid_file_that_is_a_symbolic_link_is_refused_and_its_target_left_unchanged() {
    let host = TestHost::new(HostSpec::default());
    let target = outside_target(&host);
    let link = host.data_dir().join("host.pid");
    assert_link_refused(&host, &target, &link);
}

#[test]
fn a_log_file_that_is_a_symbolic_link_is_refused_and_its_target_left_unchanged() {
    let host = TestHost::new(HostSpec::default());
    let target = outside_target(&host);
    std::fs::create_dir(host.data_dir().join("logs")).unwrap();
    let link = host.data_dir().join("logs").join("systemprompt.log");
    assert_link_refused(&host, &target, &link);
}

#[test]
fn a_group_writable_data_dir_is_refused_with_the_chmod_that_fixes_it() {
    let host = TestHost::new(HostSpec::default());
    let data = host.data_dir();
    chmod(&data, 0o775);
    let out = serve_refused(&host);
    out.assert_code(1);
    let dir = data.display();
    assert_eq!(
        out.stderr.trim(),
        format!(
            "error: refusing data dir {dir}: it is writable by group (mode 0775), so another user could plant links or an impostor socket in it; fix it with `chmod 700 {dir}`"
        )
    );
    assert!(!data.join("host.sock").exists() && !data.join("host.lock").exists());
}

/// A local user made for one test with `useradd`, removed with `userdel` when dropped.
struct LocalUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl LocalUser {
    /// A fresh user, or `None` (with the reason printed) when this test cannot make one.
    fn create(test: &str) -> Option<LocalUser> {
        let me = std::fs::metadata("/proc/self").unwrap().uid();
        if me != 0 {
            eprintln!("skipped {test}: it needs root to create a second local user with useradd (running as uid {me})");
            return None;
        }
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("sp{}x{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let made = Command::new("useradd")
            .args(["--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", &name])
            .status();
        match made {
            Ok(status) if status.success() => {}
            other => {
                eprintln!("skipped {test}: useradd {name} failed ({other:?})");
                return None;
            }
        }
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").arg(flag).arg(&name).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let (uid, gid) = (id("-u"), id("-g"));
        Some(LocalUser { name, uid, gid })
    }
}

impl Drop for LocalUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).stderr(Stdio::null()).status();
    }
}

#[test]
fn a_data_dir_owned_by_another_user_is_refused_before_anything_is_written_in_it() {
    let Some(user) = LocalUser::create("a_data_dir_owned_by_another_user_is_refused") else { return };
    let host = TestHost::new(HostSpec::default());
    let data = host.data_dir();
    chmod(&data, 0o700);
    std::os::unix::fs::chown(&data, Some(user.uid), Some(user.gid)).unwrap();
    let out = serve_refused(&host);
    out.assert_code(1);
    let expected = format!(
        "refusing data dir {}: it is owned by uid {}, not by this user (uid 0); run the host as its owner",
        data.display(),
        user.uid
    );
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0, "the host wrote in the refused dir");
}

fn cli_as(host: &TestHost, user: &LocalUser, args: &[&str]) -> CliOutput {
    let out = host.cli_command().args(args).uid(user.uid).gid(user.gid).output().unwrap();
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_cli_refuses_an_impostor_socket_planted_by_another_user_and_sends_it_nothing() {
    let Some(user) = LocalUser::create("the_cli_refuses_an_impostor_socket_planted_by_another_user") else { return };
    let host = TestHost::new(HostSpec::default());
    let data = host.data_dir();
    // The hostile setup of the issue: a data dir another user can write to.
    chmod(data.parent().unwrap(), 0o711);
    chmod(&data, 0o777);
    let socket = data.join("host.sock");
    let mut impostor = Command::new(env!("CARGO_BIN_EXE_impostor"))
        .arg(&socket)
        .uid(user.uid)
        .gid(user.gid)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(impostor.stdout.take().unwrap());
    let mut ready = String::new();
    stdout.read_line(&mut ready).unwrap();
    assert_eq!(ready.trim(), "listening");

    // The socket file is the other user's: refused before connecting.
    let by_owner = host.cli(&["system:echo", "--message", "password=hunter2"]);
    // The file made to look like ours (as root could be tricked into): refused by the
    // listener's credentials, after connecting and before sending.
    std::os::unix::fs::chown(&socket, Some(0), Some(0)).unwrap();
    let by_peer = host.cli(&["system:echo", "--message", "password=hunter2"]);
    // The impostor reports a connection once it has closed (the CLI has exited by now, and
    // the impostor's read times out after 2 s anyway), so this line is waited for, not raced.
    let mut seen = String::new();
    stdout.read_line(&mut seen).unwrap();
    let _ = impostor.kill();
    let _ = impostor.wait();
    let mut later = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut later).unwrap();

    let who = format!("uid {} ({})", user.uid, user.name);
    by_owner.assert_code(3);
    assert!(by_owner.stderr.contains(&format!("the socket belongs to {who}, not to you (uid 0 (root)) or root")));
    assert!(by_owner.stderr.contains("nothing was sent"), "{}", by_owner.stderr);
    by_peer.assert_code(3);
    assert!(by_peer.stderr.contains(&format!("runs as {who}, not as you")), "{}", by_peer.stderr);
    assert!(!by_owner.stdout.contains("impostor") && !by_peer.stdout.contains("impostor"));
    assert!(!seen.contains("hunter2"), "the impostor received the request: {seen}");
    assert_eq!(seen.trim(), "received 0 bytes:", "the peer check's connection, with nothing sent");
    assert!(later.is_empty(), "one connection only, yet the impostor also saw: {later}");
}

#[test]
fn stop_by_a_user_without_access_to_the_socket_says_permission_denied_and_fails() {
    let Some(user) = LocalUser::create("stop_by_a_user_without_access_to_the_socket") else { return };
    let mut host = TestHost::new(HostSpec::default());
    // The other user may read the config and modules, not the data dir.
    chmod(host.data_dir().parent().unwrap(), 0o711);
    chmod(&host.config_file(), 0o644);
    chmod(&host.data_dir(), 0o700);
    host.start();
    let out = cli_as(&host, &user, &["stop"]);
    out.assert_code(3);
    assert!(!out.stdout.contains("no host is running"), "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!(
            "permission denied on the host's socket {}: the data dir belongs to uid 0 (root) and you are uid {} ({})",
            host.data_dir().join("host.sock").display(),
            user.uid,
            user.name
        )),
        "{}",
        out.stderr
    );
    assert_eq!(host.json(&["system:echo", "--message", "still here"])["message"], "still here");
}

// Unclear errors.

#[test]
fn negative_numbers_reach_the_scheduler_which_states_its_rule() {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "modules/scheduler".into()],
        ..HostSpec::default()
    });
    host.start();
    let create = ["scheduler:create", "--name", "n", "--command", "system:health"];
    for (extra, rule) in [
        (["--schedule", "5m", "--retries", "-1"], "retries must be between 0 and 100"),
        (["--schedule", "5m", "--timeout-ms", "-1"], "timeout_ms must be between 1 and"),
        (["--schedule", "-5m", "--retries", "1"], "got '-5m'"),
    ] {
        let args: Vec<&str> = create.iter().chain(extra.iter()).copied().collect();
        let out = host.cli(&args);
        out.assert_code(2);
        assert!(!out.stderr.contains("unexpected argument"), "{}", out.stderr);
        assert!(out.stderr.contains(rule), "{extra:?}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    }
}

#[test]
fn malformed_json_of_120_kb_is_reported_by_position_with_a_short_excerpt() {
    let host = TestHost::new(HostSpec::default());
    let value = format!("{{\"payload\": \"{}\" oops}}", "y".repeat(120_000));
    let out = host.cli(&["system:emit", "--event", "e", "--payload", &value]);
    out.assert_code(2);
    assert!(out.stderr.len() < 1024, "{} bytes on stderr", out.stderr.len());
    assert!(
        out.stderr.contains("--payload must be valid JSON: expected `,` or `}` at line 1 column"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("yyyy\" oops}"), "{}", out.stderr);
}
