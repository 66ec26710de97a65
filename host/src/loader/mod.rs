//! Finding, ordering and loading modules.
//!
//! [`discover`] reads manifests only (the CLI uses it to parse arguments without loading
//! code); [`load_all`] loads the libraries in dependency order. A module that breaks a rule
//! is skipped with a message naming its file and the rule; the others load.

mod library;
pub(crate) mod module_config;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use systemprompt_module_sdk::manifest::Manifest;

pub use library::{LoadedModule, ModuleState};

use crate::config::HostConfig;

/// A manifest found on disk.
#[derive(Debug, Clone)]
pub struct FoundModule {
    /// Its path.
    pub path: PathBuf,
    /// Its content.
    pub manifest: Manifest,
}

/// What discovery found and what it refused.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Valid manifests, unique by module name, in search order.
    pub modules: Vec<FoundModule>,
    /// One message per refused manifest.
    pub skipped: Vec<String>,
}

const MANIFEST: &str = "module.yaml";

fn manifest_files(dir: &Path) -> Vec<PathBuf> {
    let direct = dir.join(MANIFEST);
    if direct.is_file() {
        return vec![direct];
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> =
        entries.filter_map(Result::ok).map(|e| e.path().join(MANIFEST)).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// Reads every manifest under the configured module paths.
pub fn discover(config: &HostConfig) -> Discovery {
    let mut discovery = Discovery::default();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for dir in &config.module_paths {
        for path in manifest_files(dir) {
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(error) => {
                    discovery.skipped.push(format!("{}: cannot read: {error}", path.display()));
                    continue;
                }
            };
            let manifest = match Manifest::parse(&path.display().to_string(), &text) {
                Ok(manifest) => manifest,
                Err(error) => {
                    discovery.skipped.push(error.to_string());
                    continue;
                }
            };
            if config.disabled_modules.contains(&manifest.name) {
                continue;
            }
            if let Some(first) = seen.get(&manifest.name) {
                discovery.skipped.push(format!(
                    "{}: module '{}' is already declared by {}; skipped",
                    path.display(),
                    manifest.name,
                    first.display()
                ));
                continue;
            }
            seen.insert(manifest.name.clone(), path.clone());
            discovery.modules.push(FoundModule { path, manifest });
        }
    }
    discovery
}

/// Where to look for a manifest's library, most specific first.
fn library_candidates(found: &FoundModule, config: &HostConfig) -> Vec<PathBuf> {
    let file = libloading::library_filename(&found.manifest.library);
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = found.path.parent() {
        dirs.push(dir.to_path_buf());
    }
    // The host's own build directory first: a release host loads release modules.
    if let Some(dir) = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf)) {
        dirs.push(dir.clone());
        if dir.ends_with("deps") {
            dirs.extend(dir.parent().map(Path::to_path_buf));
        }
    }
    dirs.extend(config.library_paths.iter().cloned());
    dirs.into_iter().map(|dir| dir.join(&file)).collect()
}

/// Orders modules so every module comes after the ones it requires (and `start_last`
/// modules after the rest). Modules whose requirements are missing or circular are refused.
fn order(modules: Vec<FoundModule>, skipped: &mut Vec<String>) -> Vec<FoundModule> {
    let mut pending: BTreeMap<String, FoundModule> =
        modules.into_iter().map(|m| (m.manifest.name.clone(), m)).collect();
    // Drop modules whose requirements are absent, repeatedly (a drop can orphan others).
    loop {
        let missing: Vec<(String, String)> = pending
            .values()
            .filter_map(|m| {
                m.manifest
                    .requires
                    .iter()
                    .find(|r| !pending.contains_key(*r))
                    .map(|r| (m.manifest.name.clone(), r.clone()))
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        for (name, requirement) in missing {
            if let Some(m) = pending.remove(&name) {
                skipped.push(format!(
                    "{}: requires module '{requirement}', which is not loaded; skipped",
                    m.path.display()
                ));
            }
        }
    }
    let mut ordered = Vec::new();
    let mut placed: HashSet<String> = HashSet::new();
    while !pending.is_empty() {
        let ready: Vec<&FoundModule> =
            pending.values().filter(|m| m.manifest.requires.iter().all(|r| placed.contains(r))).collect();
        // `start_last` modules wait while any other module can still be placed.
        let early: Vec<String> =
            ready.iter().filter(|m| !m.manifest.start_last).map(|m| m.manifest.name.clone()).collect();
        let ready: Vec<String> =
            if early.is_empty() { ready.iter().map(|m| m.manifest.name.clone()).collect() } else { early };
        if ready.is_empty() {
            let names: Vec<&String> = pending.keys().collect();
            for m in pending.values() {
                skipped.push(format!("{}: its requirements form a cycle among {names:?}; skipped", m.path.display()));
            }
            break;
        }
        for name in ready {
            if let Some(m) = pending.remove(&name) {
                placed.insert(name);
                ordered.push(m);
            }
        }
    }
    ordered
}

/// The modules that loaded, in dependency order, and a message for each one skipped.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Loaded libraries, dependencies first.
    pub modules: Vec<Arc<LoadedModule>>,
    /// One message per skipped module.
    pub skipped: Vec<String>,
}

/// Discovers, orders and loads every module.
pub fn load_all(config: &HostConfig) -> Loaded {
    let Discovery { modules, mut skipped } = discover(config);
    let ordered = order(modules, &mut skipped);
    let mut loaded: Vec<Arc<LoadedModule>> = Vec::new();
    for found in ordered {
        if let Some(requirement) =
            found.manifest.requires.iter().find(|r| !loaded.iter().any(|m| m.name() == r.as_str()))
        {
            skipped.push(format!(
                "{}: requires module '{requirement}', which failed to load; skipped",
                found.path.display()
            ));
            continue;
        }
        let candidates = library_candidates(&found, config);
        let Some(library) = candidates.iter().find(|p| p.is_file()).cloned() else {
            let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            skipped.push(format!(
                "{}: library '{}' not found (looked for {}); build it with `cargo build --workspace`",
                found.path.display(),
                found.manifest.library,
                looked.join(", ")
            ));
            continue;
        };
        match LoadedModule::load(found.manifest, found.path, library) {
            Ok(module) => loaded.push(Arc::new(module)),
            Err(message) => skipped.push(message),
        }
    }
    Loaded { modules: loaded, skipped }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use systemprompt_module_sdk::manifest::Manifest;

    use super::{FoundModule, order};

    fn found(name: &str, requires: &[&str], start_last: bool) -> FoundModule {
        let text = format!(
            "name: {name}\nversion: 0.1.0\nlibrary: {name}\nrequires: [{}]\nstart_last: {start_last}\n",
            requires.join(", ")
        );
        FoundModule {
            path: PathBuf::from(format!("{name}/module.yaml")),
            manifest: Manifest::parse(name, &text).unwrap(),
        }
    }

    fn names(modules: &[FoundModule]) -> Vec<&str> {
        modules.iter().map(|m| m.manifest.name.as_str()).collect()
    }

    #[test]
    fn dependencies_come_first_and_start_last_modules_after_the_rest() {
        let mut skipped = Vec::new();
        let modules =
            vec![found("scheduler", &[], true), found("api", &["scheduler"], false), found("system", &[], false)];
        assert_eq!(names(&order(modules, &mut skipped)), ["system", "scheduler", "api"]);
        assert!(skipped.is_empty());
    }

    #[test]
    fn a_cycle_is_refused_with_the_modules_in_it() {
        let mut skipped = Vec::new();
        let modules = vec![found("a", &["b"], false), found("b", &["a"], false), found("c", &[], false)];
        assert_eq!(names(&order(modules, &mut skipped)), ["c"]);
        assert_eq!(skipped.len(), 2);
        assert!(skipped[0].contains("its requirements form a cycle among [\"a\", \"b\"]"), "{}", skipped[0]);
    }
}
