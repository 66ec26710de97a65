//! Tidy: every Rust file of this crate (sources, tests, fuzz target) opens with a `//!` doc
//! saying what it is for.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && path.file_name().is_some_and(|name| name != "target") {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "fuzz/fuzz_targets"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() >= 10, "found only {files:?}");
    let missing: Vec<&PathBuf> =
        files.iter().filter(|path| !std::fs::read_to_string(path).is_ok_and(|text| text.starts_with("//!"))).collect();
    assert!(missing.is_empty(), "files without a leading //! doc: {missing:?}");
}
