//! The tidy check: every `.rs` file of the repository (sources, tests, benches, fixtures,
//! fuzz targets, xtask itself) opens with a `//!` doc saying what it is for.
//!
//! One check, two callers: `cargo xtask tidy` (and `cargo xtask test`) and the unit test
//! below, which `cargo test --workspace` / `cargo nextest run --workspace` run, so a plain
//! test run enforces it too. Hidden directories and `target/` are not walked.

use std::path::Path;

/// The files under `root` (relative paths, sorted) whose first non-blank text is not `//!`.
pub(crate) fn undocumented(root: &Path) -> std::io::Result<Vec<String>> {
    let mut missing = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                let text = std::fs::read_to_string(&path)?;
                if !text.trim_start().starts_with("//!") {
                    missing.push(path.strip_prefix(root).unwrap_or(&path).display().to_string());
                }
            }
        }
    }
    missing.sort();
    Ok(missing)
}

/// Fails with the list of undocumented files.
pub(crate) fn check(root: &Path) -> anyhow::Result<()> {
    let missing = undocumented(root)?;
    anyhow::ensure!(
        missing.is_empty(),
        "files without a `//!` doc saying what they are for:\n  {}",
        missing.join("\n  ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rust_file_of_the_repository_starts_with_a_doc_saying_what_it_is_for() {
        let root = crate::root();
        let missing = undocumented(&root).expect("walk the repository");
        assert!(missing.is_empty(), "files without a leading //! doc: {missing:?}");
    }

    #[test]
    fn a_file_without_a_leading_doc_is_reported() {
        let dir = tempdir();
        std::fs::create_dir_all(dir.join("src")).expect("mkdir");
        std::fs::create_dir_all(dir.join("target")).expect("mkdir");
        std::fs::write(dir.join("src/good.rs"), "\n//! Documented.\nfn f() {}\n").expect("write");
        std::fs::write(dir.join("src/bad.rs"), "// A plain comment.\nfn f() {}\n").expect("write");
        std::fs::write(dir.join("target/built.rs"), "fn generated() {}\n").expect("write");
        assert_eq!(undocumented(&dir).expect("walk"), vec![format!("src{}bad.rs", std::path::MAIN_SEPARATOR)]);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    /// A fresh directory under the system temp dir (xtask has no tempfile dependency).
    fn tempdir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-tidy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }
}
