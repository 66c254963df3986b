//! The hand-written fast parser (`src/syntax/fast.rs`) against pest and lowering: wherever the
//! fast parser reads a file, its AST must be exactly the one pest and lowering build (spans
//! included) and they must report nothing; wherever it gives up, `parse` must be exactly
//! `parse_with_pest`, diagnostics and all.
//!
//! Inputs: every `.rollout` file of the repository (examples, stdlib, test cases, clean or
//! not), generated files in the style of the benchmarks, and proptest mutations of the
//! examples: token edits, byte edits, and layout edits (whitespace, comments, line endings and
//! byte-order marks between tokens), which keep most files valid and move every span.
//!
//! Run with `cargo test --test fast_parse`; set `PROPTEST_CASES` to run more (or fewer) cases.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::{Index, select};
use rollc::source::FileId;
use rollc::syntax::{parse, parse_fast, parse_with_pest};

const FILE: FileId = FileId(3);

/// Cases per strategy unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 1000;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Compares the two parsers on `src`; returns whether the fast parser read it.
fn compare(src: &str) -> Result<bool, String> {
    let slow = parse_with_pest(FILE, src);
    let whole = parse(FILE, src);
    if whole.ast != slow.ast || whole.diagnostics != slow.diagnostics {
        return Err(format!(
            "`parse` differs from `parse_with_pest`\n--- parse: {:#?}\n--- pest: {:#?}",
            (&whole.ast, &whole.diagnostics),
            (&slow.ast, &slow.diagnostics)
        ));
    }
    match parse_fast(src) {
        None => Ok(false),
        Some(_) if !slow.diagnostics.is_empty() => Err(format!(
            "the fast parser read a file pest and lowering diagnose: {:#?}",
            slow.diagnostics
        )),
        Some(fast) if Some(&fast) != slow.ast.as_ref() => Err(format!(
            "ASTs differ\n--- fast: {fast:#?}\n--- pest: {:#?}",
            slow.ast
        )),
        Some(_) => Ok(true),
    }
}

fn check(src: &str) -> Result<bool, TestCaseError> {
    compare(src).map_err(|e| TestCaseError::fail(format!("{e}\n--- input: {src:?}")))
}

fn rollout_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rollout_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rollout") {
            out.push(path);
        }
    }
}

fn repository_files() -> Vec<(PathBuf, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    for dir in ["examples", "stdlib", "tests/cases"] {
        rollout_files(&root.join(dir), &mut paths);
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
            (path, text)
        })
        .collect()
}

/// Every `.rollout` file of the repository; and every clean one must take the fast path
/// (the files in `tests/cases/ok` and the examples use every construct).
#[test]
fn repository_files_parse_the_same() {
    let files = repository_files();
    assert!(files.len() > 100, "found only {} files", files.len());
    let mut fast = 0;
    let mut missed = Vec::new();
    for (path, text) in &files {
        let read = compare(text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        fast += usize::from(read);
        if !read && parse_with_pest(FILE, text).diagnostics.is_empty() {
            missed.push(path.display().to_string());
        }
    }
    assert!(
        missed.is_empty(),
        "clean files the fast parser gave up on: {missed:#?}"
    );
    assert!(fast >= 20, "the fast parser read only {fast} files");
}

/// A tiny LCG, so generated files are the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Files in the style of the parse and check benchmarks, with more variety in expressions.
fn generated(seed: u64, rollouts: usize) -> String {
    let mut rng = Rng(seed);
    let mut out = String::from("// generated\nlet prod = env == \"prod\"\nlet soak = 30m\n");
    out.push_str("fleet {\n  /// Where.\n  label region: \"eu\" | \"us\"\n  label `x.io/tier`: string; label ring: int\n}\n");
    out.push_str("import \"std/rings\" as rings\n/// T.\ntemplate t(sel: selector, n: count = 25%, l: list<string> = [\"a\",], w: window = window Mon-Fri 09:00-17:00) {\n  for r in l { stage \"s ${r}\" { select sel and region == r; batch n; window allow w } }\n}\n");
    let selectors = [
        "env == \"prod\" and region == \"eu-west-1\"",
        "area == \"emea\" and not (tier == \"critical\" or ring in [\"0\", \"1\"])",
        "ring == \"1\" and `topology.kubernetes.io/zone` != \"eu-west-1a\"",
        "region in [\"a\", \"b\",] and env != \"staging\"",
        "not not has region and cluster.name matches \"prod-*\"",
        "prod or (a == \"1\" and b not in [\"x\"]) or all",
        "x == \"a\\\"b\\u{41}\\n${r}\" // trailing\n      and y == \"z\"",
        "cluster.server == \"https://x\" or rings.ring0",
        "(((a == \"1\")))",
    ];
    let durations = ["30s", "5m", "1h30m", "2d", "soak"];
    for n in 0..rollouts {
        out.push_str(&format!(
            "/// Rollout {n}.\n///\n/// More.\nrollout \"svc-{n}\" {{\n  target appset \"svc-{n}\" in \"argocd\" project \"p\"\n  revision pinned; on new revision restart\n  defaults {{ deadline 1h; requeue when drained == \"true\" attempts 3 every 5m; on failure abort }}\n"
        ));
        for s in 0..1 + rng.below(5) {
            out.push_str(&format!(
                "  // stage {s}\n  stage \"s{s}\" {{\n    select {}\n    batch {}\n",
                rng.pick(&selectors),
                rng.pick(&["1", "10%", "100%"])
            ));
            if rng.below(2) == 0 {
                out.push_str(&format!("    bake {}\n", rng.pick(&durations)));
            }
            if rng.below(3) == 0 {
                out.push_str("    bake each 1m; limit 2 per region; spread by `x.io/tier`\n");
            }
            if rng.below(3) == 0 {
                out.push_str("    max in flight 2 per region\n    order by cluster.name desc\n    tolerate 5%\n");
            }
            if rng.below(3) == 0 {
                out.push_str("    gate webhook \"https://h\" timeout 5m retries 3 insecure\n    gate approval \"ok\"\n    gate approval\n");
            }
            if rng.below(3) == 0 {
                out.push_str("    gate metric prometheus \"https://p\" query \"sum(x)\" above 0.5 for 10m every 1m\n");
            }
            if rng.below(3) == 0 {
                out.push_str("    window allow Mon-Thu, Sat 09:00-16:00 tz \"Europe/London\"\n    window deny 2026-12-20..2027-01-04\n    window deny 2026-02-28\n");
            }
            out.push_str("  }\n");
        }
        if rng.below(2) == 0 {
            out.push_str("  use t(prod, n = 10, l = [\"x\", \"y\"])\n  use rings.rings(all)\n");
        }
        out.push_str("}\n");
    }
    out
}

#[test]
fn generated_files_parse_the_same() {
    for seed in 0..20 {
        let src = generated(seed, 30);
        let read = compare(&src).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{src}"));
        assert!(read, "seed {seed}: the fast parser gave up on\n{src}");
    }
}

// ----- mutations -----

fn examples() -> &'static [String] {
    static EXAMPLES: OnceLock<Vec<String>> = OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let mut texts: Vec<String> = repository_files()
            .into_iter()
            .filter(|(path, _)| {
                let p = path.to_string_lossy();
                p.contains("/examples/") || p.contains("/stdlib/") || p.contains("/cases/ok/")
            })
            .map(|(_, text)| text)
            .collect();
        texts.push(generated(99, 3));
        texts
    })
}

/// Runs of identifier characters, runs of whitespace, and single other characters.
fn tokenize(src: &str) -> Vec<&str> {
    let class = |c: char| {
        if c.is_alphanumeric() || c == '_' {
            0
        } else if c.is_whitespace() {
            1
        } else {
            2
        }
    };
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut prev = None;
    for (i, c) in src.char_indices() {
        let this = class(c);
        if !(prev == Some(this) && this != 2) && i > start {
            tokens.push(&src[start..i]);
            start = i;
        }
        prev = Some(this);
    }
    if start < src.len() {
        tokens.push(&src[start..]);
    }
    tokens
}

const INSERTS: &[&str] = &[
    " ",
    "\n",
    "\t",
    "\r\n",
    "// c\n",
    "/// d\n",
    "\u{FEFF}",
    ";",
    ",",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "\"",
    "`",
    "=",
    "==",
    "!=",
    "!",
    "&&",
    "||",
    ".",
    "..",
    "-",
    ":",
    "<",
    ">",
    "$",
    "${",
    "\\",
    "not",
    "in",
    "and",
    "or",
    "all",
    "has",
    "each",
    "per",
    "by",
    "tz",
    "for",
    "window",
    "cluster",
    "cluster.name",
    "x",
    "1",
    "1h",
    "25%",
    "1.5",
    "09:00",
    "Mon",
    "2026-01-01",
    "\u{0B}",
    "é",
];

/// Layout only: whitespace, comments and line endings between tokens.
const LAYOUT: &[&str] = &[
    "",
    " ",
    "  ",
    "\n",
    "\t",
    "\r\n",
    "\n\n",
    "// c\n",
    " // c { \" \n",
    "\n/// d\n",
    "\u{FEFF}",
];

#[derive(Debug, Clone)]
enum Edit {
    Delete(Index, u8),
    Duplicate(Index, u8),
    Insert(Index, &'static str),
    Layout(Index, &'static str),
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        2 => (any::<Index>(), 1u8..4).prop_map(|(at, n)| Edit::Delete(at, n)),
        1 => (any::<Index>(), 1u8..6).prop_map(|(at, n)| Edit::Duplicate(at, n)),
        3 => (any::<Index>(), select(INSERTS)).prop_map(|(at, t)| Edit::Insert(at, t)),
        4 => (any::<Index>(), select(LAYOUT)).prop_map(|(at, t)| Edit::Layout(at, t)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

/// Applies `edits` to the tokens of `src`. Layout edits replace a whitespace token (or insert
/// between two tokens when the one chosen is not whitespace).
fn mutate(src: &str, edits: &[Edit]) -> String {
    let mut tokens: Vec<String> = tokenize(src).into_iter().map(str::to_owned).collect();
    for e in edits {
        let len = tokens.len();
        let pos = |at: &Index| if len == 0 { 0 } else { at.index(len + 1) };
        match e {
            Edit::Delete(at, n) => {
                let start = pos(at);
                tokens.drain(start..(start + *n as usize).min(len));
            }
            Edit::Duplicate(at, n) => {
                let start = pos(at);
                let end = (start + *n as usize).min(len);
                let copy = tokens[start..end].to_vec();
                tokens.splice(end..end, copy);
            }
            Edit::Insert(at, text) => tokens.insert(pos(at), (*text).to_owned()),
            Edit::Layout(at, text) => {
                let at = pos(at);
                match tokens.get(at) {
                    Some(t) if t.trim().is_empty() => tokens[at] = (*text).to_owned(),
                    _ => tokens.insert(at, (*text).to_owned()),
                }
            }
            Edit::Truncate(at) => tokens.truncate(pos(at)),
        }
    }
    tokens.concat()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn token_edits_parse_the_same(
        which in any::<Index>(),
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let examples = examples();
        let src = mutate(&examples[which.index(examples.len())], &edits);
        check(&src)?;
    }

    /// Layout edits only: the file stays valid (but for a `///` line that ends up inside an
    /// expression, which is just a comment there), so the fast parser reads it and every span
    /// moves.
    #[test]
    fn layout_edits_parse_the_same(
        which in any::<Index>(),
        edits in proptest::collection::vec(
            (any::<Index>(), select(LAYOUT)).prop_map(|(at, t)| Edit::Layout(at, t)),
            1..20,
        ),
    ) {
        let examples = examples();
        let src = mutate(&examples[which.index(examples.len())], &edits);
        let read = check(&src)?;
        // Layout never makes a clean file one the fast parser gives up on.
        prop_assert!(
            read || !parse_with_pest(FILE, &src).diagnostics.is_empty(),
            "the fast parser gave up on a clean file: {src:?}"
        );
    }

    #[test]
    fn byte_edits_parse_the_same(
        which in any::<Index>(),
        at in any::<Index>(),
        byte in any::<u8>(),
        delete in any::<bool>(),
    ) {
        let examples = examples();
        let mut bytes = examples[which.index(examples.len())].clone().into_bytes();
        if !bytes.is_empty() {
            let i = at.index(bytes.len());
            if delete {
                bytes.remove(i);
            } else {
                bytes[i] = byte;
            }
        }
        let src = String::from_utf8_lossy(&bytes).into_owned();
        check(&src)?;
    }
}
