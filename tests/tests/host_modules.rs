//! Loading modules: what is refused, with which message, and that the rest still load.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] fns unwrap too")]

use blackbox::{HostSpec, TestHost};

fn skipped(host: &TestHost) -> Vec<String> {
    let status = host.json(&["status"]);
    status["skipped"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

fn loaded(host: &TestHost) -> Vec<String> {
    let listing = host.json(&["modules"]);
    listing["modules"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn a_library_built_for_another_abi_is_refused_and_the_others_load() {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "tests/fixtures/modules/bad-abi".into()],
        ..HostSpec::default()
    });
    host.start();
    let skipped = skipped(&host);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let expected = format!(
        "the library speaks module ABI v999, this host speaks v{}; rebuild the module against this host's module-sdk",
        systemprompt_module_sdk::abi::ABI_VERSION
    );
    assert!(skipped[0].ends_with(&expected), "{}", skipped[0]);
    assert!(skipped[0].contains("libbad_abi.so"), "{}", skipped[0]);
    assert_eq!(loaded(&host), ["system"]);
    host.json(&["system:echo"]);
}

#[test]
fn a_manifest_with_an_unknown_key_is_skipped_with_its_file_and_key() {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "tests/fixtures/modules/broken".into()],
        ..HostSpec::default()
    });
    host.start();
    let skipped = skipped(&host);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].contains("tests/fixtures/modules/broken/module.yaml:"), "{}", skipped[0]);
    assert!(skipped[0].contains("descripton"), "{}", skipped[0]);
    assert_eq!(loaded(&host), ["system"]);
}

#[test]
fn a_missing_library_is_skipped_with_where_it_was_looked_for() {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "tests/fixtures/modules/no-library".into()],
        ..HostSpec::default()
    });
    host.start();
    let skipped = skipped(&host);
    assert!(skipped[0].contains("library 'ghost' not found (looked for"), "{}", skipped[0]);
    assert!(skipped[0].contains("libghost.so"), "{}", skipped[0]);
}

#[test]
fn a_library_whose_name_differs_from_its_manifest_is_refused() {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "tests/fixtures/modules/name-mismatch".into()],
        ..HostSpec::default()
    });
    host.start();
    let skipped = skipped(&host);
    assert!(skipped[0].contains("the library is module 'recorder' but its manifest names 'picky'"), "{}", skipped[0]);
}

#[test]
fn a_module_declared_twice_keeps_the_first_and_names_both_files() {
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), "modules/system".into()],
        ..HostSpec::default()
    });
    host.start();
    let skipped = skipped(&host);
    assert!(skipped[0].contains("module 'system' is already declared by"), "{}", skipped[0]);
    assert_eq!(loaded(&host), ["system"]);
}

#[test]
fn an_unknown_module_config_key_in_the_config_file_names_the_file_and_key() {
    let mut host = TestHost::new(HostSpec {
        extra_config: "modules:\n  system:\n    verbose: true\n".into(),
        ..HostSpec::default()
    });
    host.start();
    let skipped = skipped(&host);
    let file = host.config_file().display().to_string();
    assert_eq!(skipped, [format!("{file}: modules.system: unknown key 'verbose' (the module takes no config keys)")]);
    let out = host.cli(&["system:echo"]);
    out.assert_code(1);
    assert!(out.stderr.contains("module system is failed, not serving system:echo"), "{}", out.stderr);
}

#[test]
fn a_module_requiring_a_missing_module_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("needy");
    std::fs::create_dir_all(&module).unwrap();
    std::fs::write(module.join("module.yaml"), "name: needy\nversion: 0.1.0\nlibrary: recorder\nrequires: [backup]\n")
        .unwrap();
    let mut host = TestHost::new(HostSpec {
        modules: vec!["modules/system".into(), module.display().to_string()],
        ..HostSpec::default()
    });
    host.start();
    let skipped = skipped(&host);
    assert!(skipped[0].ends_with("requires module 'backup', which is not loaded; skipped"), "{}", skipped[0]);
}

#[test]
fn every_module_manifest_of_the_repository_parses() {
    let root = blackbox::workspace_root();
    let mut checked = 0;
    // The fixtures under tests/fixtures/modules are broken on purpose; the product's are not.
    for entry in std::fs::read_dir(root.join("modules")).unwrap().flatten() {
        let file = entry.path().join("module.yaml");
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        let file = file.display().to_string();
        if let Err(error) = systemprompt_module_sdk::manifest::Manifest::parse(&file, &text) {
            panic!("{file} does not parse: {error}");
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} manifests found");
}
