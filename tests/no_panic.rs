//! `rollc::syntax::parse` and the whole `check` pipeline (imports, names, templates, types,
//! lints, `--fleet` checks) must never panic, whatever the input, and every span they report
//! must point inside its file on character boundaries (renderers and editors slice with them).
//!
//! Five proptest strategies, 2,000 cases each (10,000 per `cargo test` run):
//!
//! * arbitrary bytes, made into a string lossily;
//! * strings over a rollout-ish alphabet (keywords, punctuation, numbers, durations, strings,
//!   newlines);
//! * token-level mutations of `examples/*.rollout` (delete, duplicate, swap, insert, truncate);
//! * byte-level mutations of the same examples (cutting through multi-byte characters too);
//! * semantic mutations: names, values, labels and selectors of the examples replaced by
//!   others of the wrong type or range, so the input parses and the later phases see it.
//!
//! Deeply nested and very long inputs are run directly, on the test thread's own stack, to
//! show that the pre-scan's depth limit keeps pest and the lowering out of stack overflows.
//!
//! Run with `cargo test --test no_panic`; set `PROPTEST_CASES` to run more (or fewer) cases.

use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;
use rollc::check::{Root, check_with_fleet};
use rollc::diagnostics::Diagnostic;
use rollc::resolve::InMemory;
use rollc::source::{FileId, Span};
use rollc::syntax::{Parsed, parse};

/// Cases per strategy unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 2000;

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

const FILE: FileId = FileId(7);

// ----- checking one input -----

fn check_span(src: &str, span: Span, what: &str, diag: &Diagnostic) -> Result<(), String> {
    let (start, end) = (span.start as usize, span.end as usize);
    if start > end {
        return Err(format!(
            "{what} span {start}..{end} is reversed in {diag:#?}"
        ));
    }
    if end > src.len() {
        return Err(format!(
            "{what} span {start}..{end} ends past the source ({} bytes) in {diag:#?}",
            src.len()
        ));
    }
    if !src.is_char_boundary(start) || !src.is_char_boundary(end) {
        return Err(format!(
            "{what} span {start}..{end} is not on char boundaries in {diag:#?}"
        ));
    }
    Ok(())
}

/// Parses `src` and checks every diagnostic, label and suggestion span.
fn check_str(src: &str) -> Result<Parsed, String> {
    let parsed = parse(FILE, src);
    for diag in &parsed.diagnostics {
        if diag.file != FILE {
            return Err(format!("diagnostic in the wrong file: {diag:#?}"));
        }
        check_span(src, diag.span, "diagnostic", diag)?;
        if diag.labels.is_empty() {
            return Err(format!("diagnostic without labels: {diag:#?}"));
        }
        for label in &diag.labels {
            if label.file != FILE {
                return Err(format!("label in the wrong file: {diag:#?}"));
            }
            check_span(src, label.span, "label", diag)?;
        }
        for suggestion in &diag.suggestions {
            if suggestion.file != FILE {
                return Err(format!("suggestion in the wrong file: {diag:#?}"));
            }
            check_span(src, suggestion.span, "suggestion", diag)?;
        }
    }
    Ok(parsed)
}

fn check(src: &str) -> Result<(), TestCaseError> {
    check_str(src)
        .map(drop)
        .and_then(|()| pipeline(src))
        .map_err(|e| TestCaseError::fail(format!("{e}\n--- input ({} bytes):\n{src:?}", src.len())))
}

/// A local module the inputs may import, and the example fleet.
const LIB: &str = "let soak = 30m\nlet emea = area == \"emea\"\ntemplate two(sel: selector, n: count = 1) { stage \"a\" { select sel; limit n } stage \"b\" { select sel } }\n";

/// A small fleet: the pipeline runs for every case, so it is kept cheap to read.
const FLEET: &str = "clusters:\n  - { name: a, server: \"https://a\", labels: { area: emea, region: eu-west-1, ring: \"0\" } }\n  - { name: b, server: \"https://b\", labels: { area: amer, region: us-east-1, drained: \"true\" } }\n  - { name: c, server: \"https://c\", labels: { region: eu-west-1 } }\n";

/// Runs the whole `check` pipeline on `src` (with a local import, the stdlib and a fleet) and
/// checks every span against the file it points into.
fn pipeline(src: &str) -> Result<(), String> {
    let mut fs = InMemory::new();
    let main = format!("import \"./lib.rollout\" as lib\n{src}");
    fs.insert("t/main.rollout", main);
    fs.insert("t/lib.rollout", LIB);
    fs.insert("t/fleet.yaml", FLEET);
    let checked = check_with_fleet(
        &fs,
        &[Root::file("t/main.rollout")],
        Some(std::path::Path::new("t/fleet.yaml")),
    );
    let within = |file: FileId, span: Span, what: &str, diag: &Diagnostic| -> Result<(), String> {
        let text = checked.sources.get(file).text();
        check_span(text, span, what, diag)
    };
    for diag in &checked.diagnostics {
        within(diag.file, diag.span, "diagnostic", diag)?;
        for label in &diag.labels {
            within(label.file, label.span, "label", diag)?;
        }
        for suggestion in &diag.suggestions {
            within(suggestion.file, suggestion.span, "suggestion", diag)?;
        }
    }
    // Every renderer must cope with whatever was found.
    let _ = rollc::diagnostics::render::human(&checked.diagnostics, &checked.sources, false);
    let _ = rollc::diagnostics::render::sarif(&checked.diagnostics, &checked.sources);
    Ok(())
}

// ----- the alphabet -----

const KEYWORDS: &[&str] = &[
    "rollout",
    "stage",
    "select",
    "batch",
    "bake",
    "each",
    "limit",
    "per",
    "spread",
    "by",
    "order",
    "asc",
    "desc",
    "max",
    "in",
    "flight",
    "tolerate",
    "deadline",
    "requeue",
    "when",
    "attempts",
    "every",
    "on",
    "failure",
    "rollback",
    "pause",
    "abort",
    "new",
    "revision",
    "queue",
    "restart",
    "pinned",
    "gate",
    "webhook",
    "timeout",
    "retries",
    "insecure",
    "metric",
    "prometheus",
    "query",
    "below",
    "above",
    "for",
    "approval",
    "window",
    "allow",
    "deny",
    "tz",
    "target",
    "appset",
    "apps",
    "where",
    "project",
    "defaults",
    "fleet",
    "label",
    "let",
    "template",
    "use",
    "import",
    "as",
    "and",
    "or",
    "not",
    "has",
    "matches",
    "all",
    "true",
    "false",
    "cluster",
    "expected",
    "string",
    "count",
    "duration",
    "Mon-Fri",
    "env",
    "region",
    "prod",
    "r",
    "x",
    "_",
];

const PUNCT: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    "`",
    ";",
    ":",
    "=",
    "==",
    "!=",
    "!",
    "&&",
    "||",
    "&",
    "|",
    "%",
    ".",
    "..",
    ",",
    "-",
    "/",
    "//",
    "///",
    "\\",
    "${",
    "<",
    ">",
    "#",
    "é",
    "\u{1F600}",
    "\r\n",
    "\t",
];

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(KEYWORDS).prop_map(str::to_owned),
        4 => select(PUNCT).prop_map(str::to_owned),
        2 => "[a-z_][a-z0-9_-]{0,6}",
        2 => "[0-9]{1,4}(%|s|m|h|d|ms|min|\\.5|h30m)?",
        1 => "[0-9]{1,2}:[0-9]{2}(-[0-9]{1,2}:[0-9]{2})?",
        1 => "[0-9]{4}-[0-9]{2}-[0-9]{2}(\\.\\.[0-9]{4}-[0-9]{2}-[0-9]{2})?",
        1 => "\"[a-z ${}\\\\n.=-]{0,8}\"",
        1 => "`[a-z./-]{0,10}`",
        1 => "// [a-z {}\"]{0,10}\n",
        3 => Just(" ".to_owned()),
        3 => Just("\n".to_owned()),
    ]
}

fn alphabet_source() -> impl Strategy<Value = String> {
    proptest::collection::vec(token(), 0..200).prop_map(|tokens| tokens.concat())
}

// ----- the examples and their mutations -----

fn examples() -> &'static [String] {
    static EXAMPLES: OnceLock<Vec<String>> = OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "rollout"))
            .collect();
        paths.sort();
        let texts: Vec<String> = paths
            .iter()
            .map(|path| std::fs::read_to_string(path).expect("example is UTF-8"))
            .collect();
        assert!(!texts.is_empty(), "no examples/*.rollout found");
        texts
    })
}

/// Splits a source into tokens: runs of identifier characters, runs of whitespace, and single
/// other characters. Concatenating the tokens gives the source back.
fn tokenize(src: &str) -> Vec<&str> {
    #[derive(PartialEq)]
    enum Class {
        Word,
        Space,
        Other,
    }
    let class = |c: char| {
        if c.is_alphanumeric() || c == '_' {
            Class::Word
        } else if c.is_whitespace() {
            Class::Space
        } else {
            Class::Other
        }
    };
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut prev: Option<Class> = None;
    for (i, c) in src.char_indices() {
        let this = class(c);
        let joins = prev
            .as_ref()
            .is_some_and(|p| *p == this && this != Class::Other);
        if !joins && i > start {
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

/// One edit of a sequence (of tokens or bytes). Positions are [`Index`]es, resolved against the
/// sequence's length when the edit is applied.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index, u8),
    Duplicate(Index, u8),
    Swap(Index, Index, u8),
    Insert(Index, String),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let insert = prop_oneof![
        select(KEYWORDS).prop_map(str::to_owned),
        select(PUNCT).prop_map(str::to_owned),
        token(),
    ];
    prop_oneof![
        3 => (any::<Index>(), 1u8..16).prop_map(|(at, n)| Mutation::Delete(at, n)),
        2 => (any::<Index>(), 1u8..16).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
        2 => (any::<Index>(), any::<Index>(), 1u8..16).prop_map(|(a, b, n)| Mutation::Swap(a, b, n)),
        3 => (any::<Index>(), insert).prop_map(|(at, text)| Mutation::Insert(at, text)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

/// Applies `m` to `items`; `insert` turns inserted text into items.
fn apply<T: Clone>(items: &mut Vec<T>, m: &Mutation, insert: impl Fn(&str) -> Vec<T>) {
    let len = items.len();
    // A position in `0..=len` and a range of at most `n` items starting there.
    let pos = |at: &Index| if len == 0 { 0 } else { at.index(len + 1) };
    let range = |at: &Index, n: u8| {
        let start = pos(at);
        start..(start + n as usize).min(len)
    };
    match m {
        Mutation::Delete(at, n) => {
            items.drain(range(at, *n));
        }
        Mutation::Duplicate(at, n) => {
            let r = range(at, *n);
            let copy: Vec<T> = items[r.clone()].to_vec();
            items.splice(r.end..r.end, copy);
        }
        Mutation::Swap(a, b, n) => {
            let (mut r1, mut r2) = (range(a, *n), range(b, *n));
            if r1.start > r2.start {
                std::mem::swap(&mut r1, &mut r2);
            }
            // Keep the ranges disjoint.
            r1.end = r1.end.min(r2.start);
            let first: Vec<T> = items[r1.clone()].to_vec();
            let second: Vec<T> = items[r2.clone()].to_vec();
            items.splice(r2, first);
            items.splice(r1, second);
        }
        Mutation::Insert(at, text) => {
            let at = pos(at);
            items.splice(at..at, insert(text));
        }
        Mutation::Truncate(at) => items.truncate(pos(at)),
    }
}

fn mutated_tokens() -> impl Strategy<Value = String> {
    (any::<Index>(), proptest::collection::vec(mutation(), 1..5)).prop_map(|(which, edits)| {
        let src = which.get(examples());
        let mut tokens: Vec<String> = tokenize(src).into_iter().map(str::to_owned).collect();
        for edit in &edits {
            apply(&mut tokens, edit, |text| vec![text.to_owned()]);
        }
        tokens.concat()
    })
}

fn mutated_bytes() -> impl Strategy<Value = String> {
    (any::<Index>(), proptest::collection::vec(mutation(), 1..5)).prop_map(|(which, edits)| {
        let mut bytes = which.get(examples()).as_bytes().to_vec();
        for edit in &edits {
            apply(&mut bytes, edit, |text| text.as_bytes().to_vec());
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Replacements that keep the syntax valid but break types, ranges, names or schemas.
const SEMANTIC: &[&str] = &[
    "0",
    "1",
    "0s",
    "1s",
    "0%",
    "100%",
    "7d",
    "0.5",
    "\"\"",
    "\"http://plain.example.com\"",
    "\"Mars/Olympus\"",
    "all",
    "[]",
    "[\"a\", 1]",
    "soak",
    "lib.soak",
    "lib.emea",
    "emea",
    "regions",
    "rings",
    "region",
    "`app.kubernetes.io/part-of`",
    "cluster.name",
    "area == \"emea\" and area == \"amer\"",
    "window Sat-Sun",
    "window 2026-12-24",
    "has drained",
    "not all",
    "r",
    "${r}",
];

/// Replaces up to four value-like tokens of an example with [`SEMANTIC`] ones.
fn semantic_mutations() -> impl Strategy<Value = String> {
    (
        any::<Index>(),
        proptest::collection::vec((any::<Index>(), select(SEMANTIC)), 1..5),
    )
        .prop_map(|(which, edits)| {
            let src = which.get(examples());
            let mut tokens: Vec<String> = tokenize(src).into_iter().map(str::to_owned).collect();
            let values: Vec<usize> = tokens
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    t.starts_with('"')
                        || t.starts_with(|c: char| c.is_ascii_digit())
                        || t.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                })
                .map(|(i, _)| i)
                .collect();
            if values.is_empty() {
                return tokens.concat();
            }
            for (at, replacement) in edits {
                tokens[*at.get(&values)] = replacement.to_string();
            }
            tokens.concat()
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn semantic_constructs(src in semantic_mutations()) {
        check(&src)?;
    }

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn rollout_alphabet(src in alphabet_source()) {
        check(&src)?;
    }

    #[test]
    fn example_token_mutations(src in mutated_tokens()) {
        check(&src)?;
    }

    #[test]
    fn example_byte_mutations(src in mutated_bytes()) {
        check(&src)?;
    }
}

// ----- fixed inputs -----

#[test]
fn tokenizer_round_trips_and_splits() {
    for src in examples() {
        assert_eq!(tokenize(src).concat(), *src);
    }
    assert_eq!(
        tokenize("select a==\"b c\"\n  é"),
        [
            "select", " ", "a", "=", "=", "\"", "b", " ", "c", "\"", "\n  ", "é"
        ]
    );
}

#[test]
fn examples_parse_cleanly() {
    for src in examples() {
        let parsed = check_str(src).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            parsed.diagnostics.is_empty(),
            "an example has diagnostics: {:#?}",
            parsed.diagnostics
        );
        assert!(parsed.ast.is_some());
    }
}

/// Parses `src` on this (test) thread and requires at least one diagnostic with `code`, or
/// any diagnostic when `code` is `None`.
fn expect_diagnostic(name: &str, src: &str, code: Option<&str>) {
    let parsed = check_str(src).unwrap_or_else(|e| panic!("{name}: {e}"));
    let codes: Vec<&str> = parsed.diagnostics.iter().map(|d| d.code.id()).collect();
    match code {
        Some(code) => assert!(
            codes.contains(&code),
            "{name}: expected {code}, got {codes:?}"
        ),
        None => assert!(!codes.is_empty(), "{name}: expected a diagnostic"),
    }
}

#[test]
fn deep_parentheses() {
    let open = "(".repeat(10_000);
    expect_diagnostic("( x 10000", &open, Some("R0019"));
    expect_diagnostic(
        "let x = ( x 10000",
        &format!("let x = {open}a{}", ")".repeat(10_000)),
        Some("R0019"),
    );
    expect_diagnostic("[ x 10000", &"[".repeat(10_000), Some("R0019"));
    expect_diagnostic("{ x 10000", &"{".repeat(10_000), Some("R0019"));
    expect_diagnostic(") x 10000", &")".repeat(10_000), Some("R0004"));
}

#[test]
fn deep_not() {
    let nots = "not ".repeat(100_000);
    expect_diagnostic("not x 100000", &nots, Some("R0019"));
    expect_diagnostic(
        "select not x 100000",
        &format!("rollout \"r\" {{ stage \"s\" {{ select {nots}a }} }}"),
        Some("R0019"),
    );
    let bangs = "!".repeat(100_000);
    expect_diagnostic("! x 100000", &format!("let x = {bangs}a"), Some("R0019"));
    expect_diagnostic(
        "! x 100",
        &format!("let x = {}a", "!".repeat(100)),
        Some("R0019"),
    );
    expect_diagnostic(
        "not ! ( mixed",
        &format!("let x = {}a", "not !(".repeat(10_000)),
        Some("R0019"),
    );
}

/// `n` operands joined with `and` where an expression belongs, plus an `or` chain.
fn and_chains(n: usize) {
    let chain = format!("{}a", "a and ".repeat(n - 1));
    let src = format!("let x = {chain}\n");
    let parsed = check_str(&src).unwrap_or_else(|e| panic!("let x = a and ...: {e}"));
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    // The AST (a flat `And` list or a deep tree) must also drop without overflowing.
    drop(parsed);
    let src = format!("rollout \"r\" {{\n  stage \"s\" {{ select {chain}; batch 1 }}\n}}\n");
    drop(check_str(&src).unwrap_or_else(|e| panic!("select a and ...: {e}")));
    let ors = format!("let x = {}a == \"b\"\n", "a == \"b\" or ".repeat(n - 1));
    drop(check_str(&ors).unwrap_or_else(|e| panic!("or chain: {e}")));
}

#[test]
fn long_and_chain() {
    // A bare expression is not a file: some diagnostic, no stack overflow.
    let chain = format!("{}a", "a and ".repeat(100_000));
    expect_diagnostic("a and x 100000", &chain, None);
    // Where an expression belongs the chain is lowered (this was quadratic once: minutes).
    and_chains(100_001);
}

#[test]
fn long_strings_and_lines() {
    let long = "x".repeat(1_000_000);
    drop(check_str(&format!("let s = \"{long}\"\n")).unwrap());
    expect_diagnostic(
        "unterminated long string",
        &format!("let s = \"{long}"),
        Some("R0002"),
    );
    expect_diagnostic(
        "long identifier",
        &format!("rollout \"r\" {{ {long} }}"),
        None,
    );
    drop(check_str(&format!("// {long}\nlet s = 1")).unwrap());
    let many_lines = "\n".repeat(1_000_000);
    drop(check_str(&many_lines).unwrap());
    let wide = "é".repeat(300_000);
    expect_diagnostic("multi-byte junk", &wide, None);
    drop(check_str(&format!("let s = \"{wide}\"\n")).unwrap());
    let list = format!("let l = [{}\"z\"]\n", "\"a\", ".repeat(100_000));
    drop(check_str(&list).unwrap());
}

#[test]
fn empty_and_tiny_inputs() {
    for src in [
        "", " ", "\n", "\r\n", "\u{feff}", "\0", "\"", "`", "{", "}", "/", "//", "\\",
    ] {
        check_str(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
    }
}
