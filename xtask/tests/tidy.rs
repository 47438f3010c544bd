//! Repo hygiene, checked as plain tests over every crate's sources (rust-analyzer's `tidy.rs`).
//!
//! Scope: every `.rs` file under a `src/`, `tests/`, `benches/` or `examples/` directory of the
//! workspace (skipping `target*` and hidden directories). Failures list `file:line`.

use std::fs;
use std::path::{Path, PathBuf};

/// The directories whose `.rs` files are checked.
const SOURCE_DIRS: &[&str] = &["src", "tests", "benches", "examples"];

/// The workspace root.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// One checked source file.
struct SourceFile {
    /// Path relative to the workspace root.
    rel: String,
    /// Its lines.
    lines: Vec<String>,
    /// Whether the whole file is test code (under `tests/`, or a `tests.rs` module).
    is_test: bool,
}

/// Every checked `.rs` file, sorted by path.
fn source_files() -> Vec<SourceFile> {
    let root = workspace_root();
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let rel_path = path.strip_prefix(&root).ok()?.to_path_buf();
            let components: Vec<String> = rel_path
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let dirs = &components[..components.len() - 1];
            if !dirs.iter().any(|d| SOURCE_DIRS.contains(&d.as_str())) {
                return None;
            }
            let is_test = dirs.iter().any(|d| d == "tests")
                || components.last().is_some_and(|f| f == "tests.rs");
            let text = fs::read_to_string(&path).ok()?;
            Some(SourceFile {
                rel: rel_path.display().to_string(),
                lines: text.lines().map(str::to_owned).collect(),
                is_test,
            })
        })
        .collect()
}

/// Collects `.rs` files under `dir`, skipping `target*`, hidden directories and `vendor/`
/// (patched third-party code, not ours).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !name.starts_with("target") && !name.starts_with('.') && name != "vendor" {
                walk(&path, out);
            }
        } else if kind.is_file() && name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// Whether a line is entirely a comment.
fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with("//")
}

/// The code part of a line: everything before a `//` comment (a rough cut: ignores `//`
/// inside string literals, which only ever hides text from the checks).
fn code_part(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Whether `code` contains `word` not preceded by an identifier character.
fn contains_word(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(i, _)| {
        code[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

/// Panics with a list of findings, if any.
fn report(what: &str, findings: Vec<String>) {
    assert!(
        findings.is_empty(),
        "{what}: {} finding(s):\n  {}\n",
        findings.len(),
        findings.join("\n  ")
    );
}

#[test]
fn every_file_starts_with_a_module_doc_line() {
    let files = source_files();
    assert!(!files.is_empty(), "tidy found no source files");
    let findings = files
        .iter()
        .filter(|f| !f.lines.first().is_some_and(|l| l.starts_with("//!")))
        .map(|f| format!("{}:1: first line is not a `//!` doc line", f.rel))
        .collect();
    report("module docs", findings);
}

#[test]
fn every_unsafe_has_a_safety_comment() {
    // Spelled in pieces so this file does not match itself.
    let block = concat!("unsafe", " {");
    let imp = concat!("unsafe", " impl");
    let mut findings = Vec::new();
    for f in source_files() {
        for (i, line) in f.lines.iter().enumerate() {
            if is_comment(line) {
                continue;
            }
            let code = code_part(line);
            if !(contains_word(code, block) || contains_word(code, imp)) {
                continue;
            }
            if !has_safety_comment(&f.lines, i) {
                findings.push(format!(
                    "{}:{}: `unsafe` without a `// SAFETY:` comment in the 3 lines above: {}",
                    f.rel,
                    i + 1,
                    line.trim()
                ));
            }
        }
    }
    report("SAFETY comments", findings);
}

/// Whether a comment within the 3 lines above line `i` is, or is part of a contiguous comment
/// block that contains, a `// SAFETY:` line (so a multi-line bulleted comment counts).
fn has_safety_comment(lines: &[String], i: usize) -> bool {
    let marker = concat!("// SAFETY", ":");
    for j in (i.saturating_sub(3)..i).rev() {
        if lines[j].contains(marker) {
            return true;
        }
        if is_comment(&lines[j]) {
            // Walk up the contiguous comment block this line belongs to.
            let mut k = j;
            while k > 0 && is_comment(&lines[k - 1]) {
                k -= 1;
                if lines[k].contains(marker) {
                    return true;
                }
            }
        }
    }
    false
}

#[test]
fn no_unfinished_or_debug_macros_in_non_test_code() {
    let banned = [
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("dbg", "!("),
    ];
    let mut findings = Vec::new();
    for f in source_files().into_iter().filter(|f| !f.is_test) {
        let test_lines = cfg_test_lines(&f.lines);
        for (i, line) in f.lines.iter().enumerate() {
            if test_lines[i] || is_comment(line) {
                continue;
            }
            let code = code_part(line);
            for b in banned {
                if contains_word(code, b) {
                    findings.push(format!("{}:{}: `{b}` in non-test code", f.rel, i + 1));
                }
            }
        }
    }
    report("unfinished code", findings);
}

/// Marks the lines of inline `#[cfg(test)] mod ... { ... }` blocks (by brace counting outside
/// line comments).
fn cfg_test_lines(lines: &[String]) -> Vec<bool> {
    let mut marks = vec![false; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "#[cfg(test)]" {
            i += 1;
            continue;
        }
        // Skip further attributes to the item.
        let mut j = i + 1;
        while j < lines.len() && lines[j].trim_start().starts_with("#[") {
            j += 1;
        }
        let item = lines.get(j).map(|l| l.trim_start()).unwrap_or("");
        let is_mod = item.starts_with("mod ") || item.starts_with("pub mod ");
        if !is_mod || !item.trim_end().ends_with('{') {
            i = j;
            continue;
        }
        let mut depth = 0i64;
        let mut k = j;
        while k < lines.len() {
            for c in code_part(&lines[k]).chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            marks[k] = true;
            if depth <= 0 {
                break;
            }
            k += 1;
        }
        marks[i..j].iter_mut().for_each(|m| *m = true);
        i = k + 1;
    }
    marks
}

#[test]
fn checkers_work_on_samples() {
    let lines = |s: &str| s.lines().map(str::to_owned).collect::<Vec<_>>();
    let ok = lines("// SAFETY:\n// - a\n// - b\n// - c\n// - d\nunsafe { x() }");
    assert!(has_safety_comment(&ok, 5));
    let ok = lines("// SAFETY: fine\nlet y =\n    unsafe { x() };");
    assert!(has_safety_comment(&ok, 2));
    let bad = lines("// SAFETY: far\na();\nb();\nc();\nunsafe { x() }");
    assert!(!has_safety_comment(&bad, 4));
    assert!(contains_word(
        "let x = unsafe { 1 };",
        concat!("unsafe", " {")
    ));
    assert!(!contains_word("not_unsafe { }", concat!("unsafe", " {")));
    let src = lines("fn a() {}\n#[cfg(test)]\nmod tests {\n    fn b() { c() }\n}\nfn d() {}");
    assert_eq!(
        cfg_test_lines(&src),
        vec![false, true, true, true, true, false]
    );
}
