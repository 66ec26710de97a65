//! The rules a job must pass before it is started, shared by `shell:check-task` (at task
//! create/update) and `shell:run` (again at run time, so a config changed since is still
//! enforced): the data's shape, the program rules, the environment's names.
//!
//! A program is resolved to an absolute path on the child's `PATH` before it is judged, and
//! judged under both that path and its canonical path (symlinks followed), so `sh` cannot
//! slip past a rule for `/bin/sh`, nor `/usr/bin/sh` past one for `/bin/sh` on a merged-usr
//! system. Patterns are small globs: `*` matches within one path component, `**` across
//! components, `?` one character; a pattern without `/` is matched against file names.
//!
//! Deliberately not here: anything that starts a process.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use shell_api::{RunAs, RunParams};
use systemprompt_module_sdk::CommandError;

use crate::config::ShellConfig;

/// The shell a `script` runs through.
pub(crate) const SCRIPT_SHELL: &str = "/bin/sh";

/// What a job will run, once its params passed the rules.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// The absolute path to execute.
    pub(crate) program: PathBuf,
    /// Its argv after the program name.
    pub(crate) args: Vec<String>,
}

/// Checks everything that can be checked without starting the job and resolves the program.
/// Every refusal is `invalid_params` stating the rule, and permanent.
pub(crate) fn check(config: &ShellConfig, params: &RunParams) -> Result<Resolved, CommandError> {
    check_env(&params.env)?;
    if let Some(limits) = &params.limits
        && let Some(nice) = limits.nice
        && !(0..=19).contains(&nice)
    {
        return Err(refused(format!("limits.nice must be between 0 and 19, got {nice}")));
    }
    let (program, args) = match (&params.program, &params.script) {
        (Some(_), Some(_)) => return Err(refused("give either program or script, not both")),
        (None, None) => return Err(refused("give a program (with its args) or a script")),
        (None, Some(script)) => {
            if !config.allow_scripts {
                return Err(refused(
                    "scripts are disabled: this module runs programs with their argv, never through a shell, \
                     unless its config sets allowScripts: true",
                ));
            }
            if !params.args.is_empty() {
                return Err(refused("args go with program, not with script"));
            }
            (SCRIPT_SHELL.to_owned(), vec!["-c".to_owned(), script.clone()])
        }
        (Some(program), None) => (program.clone(), params.args.clone()),
    };
    if program.is_empty() || program.contains('\0') || args.iter().any(|arg| arg.contains('\0')) {
        return Err(refused("program and args must be non-empty text without NUL bytes"));
    }
    let path = params.env.get("PATH").map_or(config.path.as_str(), String::as_str);
    let program = resolve(&program, path)?;
    judge(config, &program)?;
    Ok(Resolved { program, args })
}

fn refused(message: impl Into<String>) -> CommandError {
    CommandError::invalid_params(format!("shell:run: {}", message.into())).permanent()
}

fn check_env(env: &BTreeMap<String, String>) -> Result<(), CommandError> {
    for (name, value) in env {
        if name.is_empty() || name.contains('=') || name.contains('\0') || value.contains('\0') {
            return Err(refused(format!("env name '{name}' is not a valid variable name (or its value holds NUL)")));
        }
        if name.starts_with("SYSTEMPROMPT_") {
            return Err(refused(format!("env name '{name}' is reserved: SYSTEMPROMPT_* is set by the runner")));
        }
    }
    Ok(())
}

/// Finds `program` as `execvp` would on `path`: a name with `/` is taken as is (relative
/// names are refused: the working directory is not the place to look programs up), a bare
/// name is the first executable file of that name on `path`.
pub(crate) fn resolve(program: &str, path: &str) -> Result<PathBuf, CommandError> {
    if program.contains('/') {
        let candidate = PathBuf::from(program);
        if !candidate.is_absolute() {
            return Err(refused(format!("program '{program}' must be a bare name or an absolute path")));
        }
        return Ok(candidate);
    }
    path.split(':')
        .filter(|dir| dir.starts_with('/'))
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| is_executable_file(candidate))
        .ok_or_else(|| {
            CommandError::new(
                shell_api::code::SPAWN_FAILED,
                format!("shell:run: program '{program}' not found on PATH {path}"),
            )
            .permanent()
        })
}

fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Applies `deniedPrograms` then `allowedPrograms` to the resolved path and its canonical
/// form: denied when either matches a denied pattern, allowed when either matches an
/// allowed one (or the allowed list is empty).
pub(crate) fn judge(config: &ShellConfig, program: &Path) -> Result<(), CommandError> {
    let mut names = vec![program.to_path_buf()];
    if let Ok(canonical) = std::fs::canonicalize(program)
        && canonical != program
    {
        names.push(canonical);
    }
    for name in &names {
        if let Some(pattern) = config.denied_programs.iter().find(|pattern| matches_program(pattern, name)) {
            return Err(refused(format!(
                "program {} is refused by deniedPrograms pattern '{pattern}'",
                name.display()
            )));
        }
    }
    let allowed = config.allowed_programs.is_empty()
        || names.iter().any(|name| config.allowed_programs.iter().any(|pattern| matches_program(pattern, name)));
    if !allowed {
        return Err(refused(format!(
            "program {} matches none of allowedPrograms ({})",
            program.display(),
            config.allowed_programs.join(", ")
        )));
    }
    Ok(())
}

fn matches_program(pattern: &str, program: &Path) -> bool {
    let text = program.to_string_lossy();
    if pattern.contains('/') {
        // A literal path is also compared canonically: on a merged-usr system `/bin/sh`
        // and `/usr/bin/sh` are one file, and a rule for one is a rule for the other.
        let literal = !pattern.contains(['*', '?']);
        glob(pattern.as_bytes(), text.as_bytes())
            || (literal
                && std::fs::canonicalize(pattern)
                    .is_ok_and(|canonical| std::fs::canonicalize(program).is_ok_and(|program| program == canonical)))
    } else {
        let name = program.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
        glob(pattern.as_bytes(), name.as_bytes())
    }
}

/// Matches `text` against `pattern`: `**` any bytes, `*` any bytes but `/`, `?` one byte
/// but `/`, anything else itself. Backtracking over the pattern; patterns are short config
/// strings and paths are short, so the worst case stays small.
pub(crate) fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern {
        [] => text.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        [b'*', rest @ ..] => {
            let component = text.iter().position(|&b| b == b'/').unwrap_or(text.len());
            (0..=component).any(|skip| glob(rest, &text[skip..]))
        }
        [b'?', rest @ ..] => matches!(text, [first, tail @ ..] if *first != b'/' && glob(rest, tail)),
        [literal, rest @ ..] => matches!(text, [first, tail @ ..] if first == literal && glob(rest, tail)),
    }
}

/// The ids a `run_as` resolves to.
#[derive(Debug, Clone)]
pub(crate) struct RunAsIds {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// The user's home directory (the child's `HOME`).
    pub(crate) home: String,
}

/// Resolves `run_as` against `/etc/passwd` and `/etc/group` (names or numeric ids). Refused
/// unless the host runs as root: only root can drop to another user, and a non-root host
/// silently running the job as itself would be a lie.
pub(crate) fn resolve_run_as(run_as: &RunAs) -> Result<RunAsIds, CommandError> {
    let euid = rustix::process::geteuid();
    if !euid.is_root() {
        return Err(refused(format!(
            "run_as needs the host to run as root (it runs as uid {}); remove run_as or run the host as root",
            euid.as_raw()
        )));
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    // name:password:uid:gid:gecos:home:shell
    let user = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() >= 7 && (fields[0] == run_as.user || fields[2] == run_as.user));
    let (uid, primary_gid, home) = match user {
        Some(fields) => (fields[2].parse().ok(), fields[3].parse().ok(), fields[5].to_owned()),
        None => (run_as.user.parse().ok(), None, "/".to_owned()),
    };
    let uid: u32 = uid.ok_or_else(|| refused(format!("run_as.user '{}' is no user of this system", run_as.user)))?;
    let gid = match &run_as.group {
        None => primary_gid,
        Some(group) => {
            let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
            // name:password:gid:members
            groups
                .lines()
                .map(|line| line.split(':').collect::<Vec<_>>())
                .find(|fields| fields.len() >= 3 && (fields[0] == group || fields[2] == group))
                .and_then(|fields| fields[2].parse().ok())
                .or_else(|| group.parse().ok())
        }
    };
    let gid =
        gid.ok_or_else(|| refused(format!("run_as: no group for '{}'; name one with run_as.group", run_as.user)))?;
    Ok(RunAsIds { uid, gid, home })
}

/// A task's working directory must be absolute (a relative one would depend on the host's).
pub(crate) fn check_cwd(cwd: &str) -> Result<PathBuf, CommandError> {
    let path = PathBuf::from(cwd);
    if !path.is_absolute() {
        return Err(refused(format!("cwd '{cwd}' must be an absolute path")));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn a_star_stays_in_its_component_and_a_double_star_crosses_them() {
        assert!(glob(b"/usr/bin/*", b"/usr/bin/python3"));
        assert!(!glob(b"/usr/*", b"/usr/bin/python3"));
        assert!(glob(b"/usr/**", b"/usr/bin/python3"));
        assert!(glob(b"python?", b"python3"));
        assert!(!glob(b"python?", b"python"));
        assert!(glob(b"*sh", b"bash"));
        assert!(!glob(b"sh", b"bash"));
    }
}
