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

/// Files outside a `sys` seam that may hold `unsafe` code and `libc::` for good: mp-ipc's
/// ring copies (the byte copies into and out of shared memory are the ring's whole job).
const UNSAFE_ALLOWED: &[&str] = &["mp-ipc/src/ring.rs"];

/// Today's offenders of the seam rule: none (issue 8's "one OS seam per crate, and it is
/// true" landed). Kept, empty, for a file that must be tolerated for a while; an entry whose
/// file is clean fails the test, so the list cannot go stale.
const UNSAFE_OFFENDERS_TODAY: &[&str] = &[];

/// Whether `rel` is an OS seam: a `sys.rs` file or a file under a `sys/` directory.
fn is_seam(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    parts.last() == Some(&"sys.rs") || parts[..parts.len() - 1].contains(&"sys")
}

/// Whether `rel` is library or program code (under `src/` or `examples/`): the code the seam
/// rule is about. Tests and benches may call the OS to probe what the code did.
fn is_product_code(rel: &str) -> bool {
    rel.split('/')
        .rev()
        .skip(1)
        .any(|d| d == "src" || d == "examples")
}

/// What on a line of code breaks the seam rule: a `libc::` path or an `unsafe` block, fn,
/// impl, trait or extern block (what `#![deny(unsafe_code)]` refuses).
fn seam_violation(code: &str) -> Option<&'static str> {
    const UNSAFE_FORMS: &[&str] = &[
        concat!("unsafe", " {"),
        concat!("unsafe", " fn"),
        concat!("unsafe", " impl"),
        concat!("unsafe", " trait"),
        concat!("unsafe", " extern"),
    ];
    if contains_word(code, concat!("libc", "::")) {
        return Some("libc::");
    }
    UNSAFE_FORMS
        .iter()
        .copied()
        .find(|f| contains_word(code, f))
}

#[test]
fn os_calls_and_unsafe_live_only_in_the_sys_seams() {
    let mut findings = Vec::new();
    let mut tolerated = Vec::new();
    let mut offenders_seen = Vec::new();
    for f in source_files() {
        if f.is_test || !is_product_code(&f.rel) || is_seam(&f.rel) {
            continue;
        }
        if UNSAFE_ALLOWED.contains(&f.rel.as_str()) {
            continue;
        }
        let test_lines = cfg_test_lines(&f.lines);
        for (i, line) in f.lines.iter().enumerate() {
            if test_lines[i] || is_comment(line) {
                continue;
            }
            let Some(what) = seam_violation(code_part(line)) else {
                continue;
            };
            let finding = format!("{}:{}: `{what}` outside a sys seam", f.rel, i + 1);
            if UNSAFE_OFFENDERS_TODAY.contains(&f.rel.as_str()) {
                offenders_seen.push(f.rel.clone());
                tolerated.push(finding);
            } else {
                findings.push(finding);
            }
        }
    }
    if !tolerated.is_empty() {
        eprintln!(
            "tidy: {} tolerated seam finding(s) in UNSAFE_OFFENDERS_TODAY:\n  {}",
            tolerated.len(),
            tolerated.join("\n  ")
        );
    }
    for stale in UNSAFE_OFFENDERS_TODAY
        .iter()
        .filter(|o| !offenders_seen.iter().any(|s| s == *o))
    {
        findings.push(format!(
            "{stale}: clean now (or gone): remove it from UNSAFE_OFFENDERS_TODAY"
        ));
    }
    report("OS seam", findings);
}

/// One crate's module graph: each module (by path, `""` the crate root) and the modules its
/// code names through `crate::` or `super::` paths.
#[derive(Debug, Default)]
struct ModuleGraph {
    /// Module path -> the modules it uses (never itself, never the root).
    edges: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
}

/// The module path of a file relative to its crate's `src/` (`lib.rs` and `main.rs` are the
/// root, `a/mod.rs` is `a`, `a/b.rs` is `a::b`); `None` for a binary under `src/bin/`.
fn module_path(in_src: &str) -> Option<String> {
    let stem = in_src.strip_suffix(".rs")?;
    if stem.starts_with("bin/") {
        return None;
    }
    let stem = stem.strip_suffix("/mod").unwrap_or(stem);
    Some(match stem {
        "lib" | "main" => String::new(),
        s => s.replace('/', "::"),
    })
}

/// The paths a line of code names through `crate::` or `super::`, crate-absolute, with the
/// members of `{...}` groups expanded one level (`crate::{a::X, b}` names `a::X` and `b`).
fn crate_paths(code: &str, module: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (prefix, base) in [
        ("crate::", String::new()),
        ("super::", parent_module(module)),
    ] {
        for (i, _) in code.match_indices(prefix) {
            let before = code[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue; // `foo::crate::` or `self::super::`: not a path start
            }
            let rest = &code[i + prefix.len()..];
            let join = |p: &str| {
                if base.is_empty() {
                    p.to_owned()
                } else {
                    format!("{base}::{p}")
                }
            };
            if let Some(group) = rest.strip_prefix('{') {
                let group = group.split('}').next().unwrap_or("");
                out.extend(group.split(',').map(|p| join(&path_head(p))));
            } else {
                out.push(join(&path_head(rest)));
            }
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// The leading `a::b::c` of `s` (identifiers and `::` only).
fn path_head(s: &str) -> String {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .map_or(s.len(), |(i, _)| i);
    s[..end].trim_end_matches(':').to_owned()
}

/// The parent of a module path (`a::b` -> `a`, `a` -> the root).
fn parent_module(module: &str) -> String {
    module
        .rsplit_once("::")
        .map_or(String::new(), |(p, _)| p.to_owned())
}

/// The longest module among `modules` that `path` starts with (`None`: the root, i.e. a
/// re-export of the crate root, which is no edge).
fn resolve<'a>(path: &str, modules: &'a std::collections::BTreeSet<String>) -> Option<&'a String> {
    modules
        .iter()
        .filter(|m| path == m.as_str() || path.starts_with(&format!("{m}::")))
        .max_by_key(|m| m.len())
}

impl ModuleGraph {
    /// The graph of one crate from its files: (path relative to `src/`, lines).
    fn build<'a>(files: impl IntoIterator<Item = (&'a str, &'a [String])>) -> ModuleGraph {
        let files: Vec<(String, &[String])> = files
            .into_iter()
            .filter_map(|(rel, lines)| module_path(rel).map(|m| (m, lines)))
            .collect();
        let modules: std::collections::BTreeSet<String> = files
            .iter()
            .map(|(m, _)| m.clone())
            .filter(|m| !m.is_empty())
            .collect();
        let mut graph = ModuleGraph::default();
        for (module, lines) in &files {
            let test_lines = cfg_test_lines(lines);
            let uses = graph.edges.entry(module.clone()).or_default();
            for (i, line) in lines.iter().enumerate() {
                if test_lines[i] || is_comment(line) {
                    continue;
                }
                for path in crate_paths(code_part(line), module) {
                    if let Some(target) = resolve(&path, &modules)
                        && target != module
                    {
                        uses.insert(target.clone());
                    }
                }
            }
        }
        graph
    }

    /// Every import circle: the strongly connected components of more than one module
    /// (Tarjan), each as its sorted modules, with one cycle through them for the message.
    fn circles(&self) -> Vec<(Vec<String>, Vec<String>)> {
        let names: Vec<&String> = self.edges.keys().collect();
        let index_of = |m: &String| names.iter().position(|n| *n == m);
        let succ: Vec<Vec<usize>> = names
            .iter()
            .map(|n| self.edges[*n].iter().filter_map(index_of).collect())
            .collect();
        let comps = strongly_connected(&succ);
        comps
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|mut comp| {
                // Start the reported cycle at the first module by name: stable messages.
                comp.sort_unstable();
                let mut members: Vec<String> = comp.iter().map(|&i| names[i].clone()).collect();
                members.sort();
                let cycle = one_cycle(&succ, &comp)
                    .into_iter()
                    .map(|i| names[i].clone())
                    .collect();
                (members, cycle)
            })
            .collect()
    }
}

/// Tarjan's strongly connected components of the graph `succ` (node -> successors).
fn strongly_connected(succ: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        succ: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        comps: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &s.succ[v] {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            s.comps.push(comp);
        }
    }
    let n = succ.len();
    let mut s = State {
        succ,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        comps: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.comps
}

/// One cycle inside the strongly connected component `comp`, from its first node back to
/// it (a breadth-first search that stays inside the component).
fn one_cycle(succ: &[Vec<usize>], comp: &[usize]) -> Vec<usize> {
    let start = comp[0];
    let mut came_from: std::collections::BTreeMap<usize, usize> = Default::default();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &succ[v] {
            if !comp.contains(&w) {
                continue;
            }
            if w == start {
                // Walk back from `v` to the start, then turn the walk around.
                let mut cycle = vec![start];
                let mut at = v;
                while at != start {
                    cycle.push(at);
                    at = came_from[&at];
                }
                cycle.push(start);
                cycle.reverse();
                return cycle;
            }
            if let std::collections::btree_map::Entry::Vacant(e) = came_from.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    comp.to_vec()
}

/// Today's import circles, by crate and modules, until the branches that break them land
/// (issue 8: "no import circle inside any crate"). **The lead empties this list when
/// merging**; an entry that no longer matches a circle fails the test, so it cannot go stale.
const CIRCLES_TODAY: &[(&str, &[&str])] = &[];

#[test]
fn no_import_circle_inside_any_crate() {
    let files = source_files();
    let mut crates: std::collections::BTreeMap<String, Vec<(String, &[String])>> =
        Default::default();
    for f in &files {
        // `<crate>/src/<path>`: the crate's library or program modules.
        let Some((krate, in_src)) = f.rel.split_once("/src/") else {
            continue;
        };
        if krate.contains('/') || f.is_test {
            continue;
        }
        crates
            .entry(krate.to_owned())
            .or_default()
            .push((in_src.to_owned(), &f.lines));
    }
    assert!(
        crates.contains_key("mp-sync"),
        "found the crates: {:?}",
        crates.keys()
    );
    let mut findings = Vec::new();
    let mut matched = vec![false; CIRCLES_TODAY.len()];
    for (krate, files) in &crates {
        let graph = ModuleGraph::build(files.iter().map(|(p, l)| (p.as_str(), *l)));
        for (members, cycle) in graph.circles() {
            let message = format!(
                "{krate}: import circle {} (modules {members:?})",
                cycle.join(" -> ")
            );
            let known = CIRCLES_TODAY
                .iter()
                .position(|(k, ms)| k == krate && members.iter().all(|m| ms.contains(&m.as_str())));
            match known {
                Some(i) => {
                    matched[i] = true;
                    eprintln!("tidy: tolerated (CIRCLES_TODAY): {message}");
                }
                None => findings.push(message),
            }
        }
    }
    for (i, (krate, members)) in CIRCLES_TODAY.iter().enumerate() {
        if !matched[i] {
            findings.push(format!(
                "{krate}: the circle {members:?} is gone: remove it from CIRCLES_TODAY"
            ));
        }
    }
    report("import circles", findings);
}

#[test]
fn seam_and_circle_checkers_work_on_samples() {
    assert!(is_seam("mp-sync/src/sys/futex.rs"));
    assert!(is_seam("mp-process/src/sys.rs"));
    assert!(!is_seam("mp-process/src/start/spawn.rs"));
    assert!(is_product_code("xtask/examples/drill/main.rs"));
    assert!(!is_product_code("mp-sync/tests/lock.rs"));
    assert_eq!(seam_violation("let x = libc::getpid();"), Some("libc::"));
    assert!(seam_violation(concat!("    unsafe", " { f() }")).is_some());
    assert!(seam_violation(concat!("pub unsafe", " fn f() {}")).is_some());
    assert_eq!(seam_violation("#![deny(unsafe_code)]"), None);
    assert_eq!(seam_violation("let my_libc::x = 1;"), None);

    assert_eq!(module_path("lib.rs").as_deref(), Some(""));
    assert_eq!(module_path("start/mod.rs").as_deref(), Some("start"));
    assert_eq!(module_path("start/fork.rs").as_deref(), Some("start::fork"));
    assert_eq!(module_path("bin/tool.rs"), None);
    assert_eq!(
        crate_paths("use crate::{error::Error, sys};", "a"),
        vec!["error::Error", "sys"]
    );
    assert_eq!(
        crate_paths("use super::handshake::Hello;", "start::fork"),
        vec!["start::handshake::Hello"]
    );
    assert_eq!(
        crate_paths("    crate::condition::wake_deferred();", "lock"),
        vec!["condition::wake_deferred"]
    );

    let lines = |s: &str| s.lines().map(str::to_owned).collect::<Vec<_>>();
    let lock = lines("use crate::condition::wake;\nuse crate::sys::Raw;");
    let condition = lines("//! doc\nuse crate::lock::Lock;");
    let sys = lines("use crate::Error; // the root: no edge");
    let tests_only = lines("#[cfg(test)]\nmod tests {\n    use crate::lock::Lock;\n}");
    let graph = ModuleGraph::build([
        ("lib.rs", &lock[..0]),
        ("lock.rs", &lock[..]),
        ("condition.rs", &condition[..]),
        ("sys/mod.rs", &sys[..]),
        ("event.rs", &tests_only[..]),
    ]);
    let circles = graph.circles();
    assert_eq!(circles.len(), 1, "{circles:?}");
    assert_eq!(circles[0].0, vec!["condition", "lock"]);
    assert_eq!(circles[0].1.first(), circles[0].1.last());
    assert_eq!(circles[0].1.len(), 3);

    // A three-module ring is reported as one circle through all three.
    let a = lines("use crate::b::X;");
    let b = lines("use crate::c::Y;");
    let c = lines("use crate::a::Z;");
    let ring = ModuleGraph::build([("a.rs", &a[..]), ("b.rs", &b[..]), ("c.rs", &c[..])]);
    let circles = ring.circles();
    assert_eq!(circles.len(), 1);
    assert_eq!(circles[0].1, vec!["a", "b", "c", "a"]);
}
