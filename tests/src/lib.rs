//! Black-box test support: build the real binary and module libraries, run hosts on
//! temporary data dirs, and drive them through the CLI.
//!
//! Every test gets its own data dir and config file, so hosts never share a socket, lock,
//! log or database. A [`TestHost`] kills its host process when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The machine's wall time. The hosts under test run on the real clock, so a test that
/// compares with what they recorded (or seeds a store they read) needs it; everything else
/// reads time through a clock (clippy refuses direct wall-clock reads, see clippy.toml).
#[allow(clippy::disallowed_methods)]
pub fn wall_now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// Polls `probe` every 20 ms until it returns a value, and returns it; panics naming `what`
/// after `limit`. For outcomes the test waits on (a run recorded, a process gone), never
/// for the passing of time itself.
pub fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pids of every live process in process group `pgid`, read from `/proc` (a zombie
/// counts as gone: it runs nothing and holds nothing but its exit status).
pub fn process_group(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses.
            let Some((_, rest)) = stat.rsplit_once(") ") else { return false };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.first() != Some(&"Z") && fields.get(2).and_then(|pgrp| pgrp.parse::<u32>().ok()) == Some(pgid)
        })
        .collect()
}

/// The peak resident set of process `pid` in KiB (`VmHWM` of `/proc/<pid>/status`).
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process is alive");
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("a VmHWM line");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("VmHWM in kB")
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("invariant: tests/ sits in the workspace root").to_path_buf()
}

/// The target profile directory the running test was built into (`target/debug`, …).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("invariant: a test knows its own path");
    let deps = exe.parent().expect("invariant: test binaries live in target/<profile>/deps");
    deps.parent().expect("invariant: deps sits in the profile directory").to_path_buf()
}

/// The packages black-box tests need built: the host binary and every module library.
const PACKAGES: [&str; 7] = ["systemprompt", "system", "scheduler", "shell", "http-runner", "recorder", "bad-abi"];

/// Builds the binary and the module libraries once per test process (cargo makes this a
/// no-op when they are fresh). `SYSTEMPROMPT_TEST_PREBUILT=1` skips it when the runner
/// built the workspace already.
pub fn ensure_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        if std::env::var_os("SYSTEMPROMPT_TEST_PREBUILT").is_some() {
            return;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command.current_dir(workspace_root()).arg("build").arg("--quiet");
        for package in PACKAGES {
            command.args(["-p", package]);
        }
        if profile_dir().ends_with("release") {
            command.arg("--release");
        }
        let output = command.output().expect("cargo runs");
        assert!(
            output.status.success(),
            "building the binary and modules failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

/// The `systemprompt` binary.
pub fn binary() -> PathBuf {
    ensure_built();
    profile_dir().join("systemprompt")
}

/// A module directory of the repository (`modules/system`) or of the fixtures
/// (`tests/fixtures/recorder`).
pub fn module_dir(relative: &str) -> PathBuf {
    workspace_root().join(relative)
}

/// What a CLI invocation returned.
#[derive(Debug)]
pub struct CliOutput {
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CliOutput {
    fn from(output: Output) -> CliOutput {
        CliOutput {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Standard output parsed as JSON; panics with both streams when it is not. A followed
    /// command (the CLI's follow protocol) prints its items first, one JSON object per line:
    /// this is the last value, its result or error; [`CliOutput::json_values`] has them all.
    pub fn json(&self) -> serde_json::Value {
        self.json_values().pop().unwrap_or_else(|| panic!("stdout is empty\nstderr:\n{}", self.stderr))
    }

    /// Every JSON value on standard output, in order.
    pub fn json_values(&self) -> Vec<serde_json::Value> {
        serde_json::Deserializer::from_str(&self.stdout)
            .into_iter::<serde_json::Value>()
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    /// Panics with both streams unless the exit code is `code`.
    pub fn assert_code(&self, code: i32) -> &CliOutput {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// A host on its own temporary data dir, with its own config file.
pub struct TestHost {
    dir: tempfile::TempDir,
    child: Option<Child>,
    extra_env: Vec<(String, String)>,
}

/// What a test host loads and how.
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// Module directories (relative to the workspace root).
    pub modules: Vec<String>,
    /// Extra lines for the config file (YAML, top level).
    pub extra_config: String,
    /// Whether the CLI may start the host by itself.
    pub autostart: bool,
}

impl Default for HostSpec {
    fn default() -> Self {
        HostSpec { modules: vec!["modules/system".into()], extra_config: String::new(), autostart: false }
    }
}

impl TestHost {
    /// A host that is not started yet.
    pub fn new(spec: HostSpec) -> TestHost {
        ensure_built();
        let dir = tempfile::Builder::new().prefix("sp-").tempdir().expect("a temp dir");
        let modules: Vec<String> = spec.modules.iter().map(|m| format!("  - {}", module_dir(m).display())).collect();
        let config = format!(
            "log_level: debug\nautostart: {}\nmodule_paths:\n{}\nlibrary_paths:\n  - {}\n{}\n",
            spec.autostart,
            modules.join("\n"),
            profile_dir().display(),
            spec.extra_config
        );
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        std::fs::write(dir.path().join("systemprompt.yaml"), config).expect("config file");
        TestHost { dir, child: None, extra_env: Vec::new() }
    }

    /// Sets an environment variable for the host and every CLI call.
    pub fn env(&mut self, name: &str, value: &str) -> &mut TestHost {
        self.extra_env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The data dir.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The config file.
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("systemprompt.yaml")
    }

    fn command(&self) -> Command {
        let mut command = Command::new(binary());
        command
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--config")
            .arg(self.config_file())
            .env_remove("SYSTEMPROMPT_DATA_DIR")
            .env_remove("SYSTEMPROMPT_CONFIG")
            .env_remove("SYSTEMPROMPT_AUTOSTART")
            .env_remove("SYSTEMPROMPT_MODULE_PATH")
            // Hosts of parallel tests must not fight over one port.
            .env("SYSTEMPROMPT_HTTP_BIND", "127.0.0.1:0")
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null());
        for (name, value) in &self.extra_env {
            command.env(name, value);
        }
        command
    }

    /// The CLI command as [`TestHost::cli`] runs it (data dir, config, environment), for a
    /// test that needs to change how it runs (e.g. as another user).
    pub fn cli_command(&self) -> Command {
        self.command()
    }

    /// The pid of the serving process, when started by [`TestHost::start`].
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts `systemprompt serve` and waits until it answers.
    pub fn start(&mut self) -> &mut TestHost {
        self.start_with_env(&[])
    }

    /// Like [`TestHost::start`], with extra environment variables for the serving process
    /// only (not for CLI calls), e.g. `LD_PRELOAD` of libfaketime.
    pub fn start_with_env(&mut self, env: &[(&str, &str)]) -> &mut TestHost {
        let log = std::fs::File::create(self.dir.path().join("serve.out")).expect("log file");
        let err = log.try_clone().expect("log file");
        let mut command = self.command();
        command.envs(env.iter().copied());
        let child = command.arg("serve").stdout(log).stderr(err).spawn().expect("serve starts");
        self.child = Some(child);
        self.wait_until_serving();
        self
    }

    /// Waits until the socket accepts connections (or the host died).
    pub fn wait_until_serving(&mut self) {
        let started = Instant::now();
        let socket = self.data_dir().join("host.sock");
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("the host exited with {status} before serving:\n{}", self.serve_output());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the host did not serve within 30s:\n{}",
                self.serve_output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What `serve` printed.
    pub fn serve_output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.out")).unwrap_or_default()
    }

    /// The host's log file.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("logs").join("systemprompt.log")).unwrap_or_default()
    }

    /// Runs the CLI with `args`.
    pub fn cli(&self, args: &[&str]) -> CliOutput {
        CliOutput::from(self.command().args(args).output().expect("the CLI runs"))
    }

    /// Runs the CLI on a pseudo-terminal (through util-linux `script`), typing `input`: for
    /// the interactive form and confirmations. Output is what the terminal showed.
    pub fn cli_on_terminal(&self, args: &[&str], input: &str) -> CliOutput {
        let quote = |word: &str| format!("'{}'", word.replace('\'', "'\\''"));
        let command = self.command();
        let mut line: Vec<String> = vec![quote(&command.get_program().to_string_lossy())];
        line.extend(command.get_args().map(|a| quote(&a.to_string_lossy())));
        line.extend(args.iter().map(|a| quote(a)));
        let mut script = Command::new("script");
        script
            .args(["-qec", &line.join(" "), "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in command.get_envs() {
            match value {
                Some(value) => script.env(name, value),
                None => script.env_remove(name),
            };
        }
        let mut child = script.spawn().expect("script runs");
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin.write_all(input.as_bytes()).expect("typing into the terminal");
        }
        CliOutput::from(child.wait_with_output().expect("script ends"))
    }

    /// Runs the CLI and parses `--format json` output, asserting success.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.cli(&all);
        out.assert_code(0);
        out.json()
    }

    /// The base URL of the serving host's HTTP API (`http://127.0.0.1:PORT`), from the
    /// `http.addr` file it writes once it listens.
    pub fn http_base(&self) -> String {
        let addr = wait_for("the host to write http.addr", Duration::from_secs(10), || {
            std::fs::read_to_string(self.data_dir().join("http.addr")).ok().filter(|text| text.ends_with('\n'))
        });
        format!("http://{}", addr.trim())
    }

    /// Creates an API token with `role` through the CLI and returns its secret.
    pub fn token(&self, role: &str) -> String {
        let made = self.json(&["tokens:create", "--role", role]);
        made["secret"].as_str().expect("tokens:create shows the secret").to_owned()
    }

    /// The serving process, when started by [`TestHost::start`].
    pub fn child(&mut self) -> Option<&mut Child> {
        self.child.as_mut()
    }

    /// Kills the host with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the host through the CLI and waits for the process to exit.
    pub fn stop(&mut self) -> CliOutput {
        let out = self.cli(&["stop"]);
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        out
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.kill();
            return;
        }
        // A host started by CLI auto-start is not our child: stop it through its pid file,
        // which only a live host keeps (it removes it when it stops).
        if let Ok(pid) = std::fs::read_to_string(self.data_dir().join("host.pid"))
            && let Ok(pid) = pid.trim().parse::<i32>()
        {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).stderr(Stdio::null()).status();
        }
    }
}
