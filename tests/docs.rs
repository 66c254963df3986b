//! Every ```` ```rollout ```` block in the README and the language reference must check
//! cleanly through the binary, so the documentation cannot drift from the language.
//!
//! Reference snippets are often fragments (a target, a stage, a field). A block passes when
//! it checks as a whole file, inside a rollout, or inside a stage of a rollout (the wrappers
//! supply a `target` and `select all` where the fragment has none). A block that lists
//! alternatives of one field (`bake 90s`, `bake 30m`, ...) passes when each line does.

use std::path::Path;
use std::process::Command;

fn rollout_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in markdown.lines().enumerate() {
        match &mut current {
            None if line.trim_start() == "```rollout" => current = Some((n + 1, String::new())),
            Some(_) if line.trim_start() == "```" => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// The ways a fragment can be completed into a file.
fn contexts(text: &str) -> Vec<String> {
    vec![
        text.to_string(),
        format!("rollout \"doc\" {{\n target appset \"doc\"\n{text}}}\n"),
        format!("rollout \"doc\" {{\n{text}}}\n"),
        format!(
            "rollout \"doc\" {{\n target appset \"doc\"\n stage \"doc\" {{\n select all\n{text}}}\n}}\n"
        ),
        format!("rollout \"doc\" {{\n target appset \"doc\"\n stage \"doc\" {{\n{text}}}\n}}\n"),
        format!("rollout \"doc\" {{\n stage \"doc\" {{\n{text}}}\n}}\n"),
    ]
}

struct Checker {
    dir: tempfile::TempDir,
    n: usize,
}

impl Checker {
    /// The `rollc check` output when `source` fails, `None` when it passes.
    fn check(&mut self, source: &str) -> Option<String> {
        self.n += 1;
        let file = self.dir.path().join(format!("block-{}.rollout", self.n));
        std::fs::write(&file, source).expect("write block");
        let out = Command::new(env!("CARGO_BIN_EXE_rollc"))
            .args(["check", "--color", "never"])
            .arg(&file)
            .output()
            .expect("run rollc");
        (out.status.code() != Some(0)).then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `None` when some completion of `text` checks cleanly, else the first failure.
    fn fragment(&mut self, text: &str) -> Option<String> {
        let mut first = None;
        for source in contexts(text) {
            match self.check(&source) {
                None => return None,
                Some(out) => {
                    first.get_or_insert(out);
                }
            }
        }
        first
    }
}

fn check_blocks(doc: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let markdown = std::fs::read_to_string(root.join(doc)).expect("doc is readable");
    let blocks = rollout_blocks(&markdown);
    assert!(!blocks.is_empty(), "{doc} has no rollout blocks");
    let mut checker = Checker {
        dir: tempfile::tempdir().expect("temp dir"),
        n: 0,
    };
    let mut failures = Vec::new();
    for (line, text) in &blocks {
        let Some(whole) = checker.fragment(text) else {
            continue;
        };
        let each_line_passes = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
            .all(|l| checker.fragment(&format!("{l}\n")).is_none());
        if !each_line_passes {
            failures.push(format!("{doc}:{line}:\n{whole}"));
        }
    }
    assert!(
        failures.is_empty(),
        "blocks that do not check:\n{}",
        failures.join("\n")
    );
}

#[test]
fn readme_examples_check() {
    check_blocks("README.md");
}

#[test]
fn language_reference_examples_check() {
    check_blocks("docs/language.md");
}
