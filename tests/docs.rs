//! Every ```` ```rollout ```` block in the README and the language reference must check
//! cleanly through the binary, so the documentation cannot drift from the grammar.
//!
//! Reference snippets are often fragments (a stage, a field); a block passes when it checks
//! as a whole file, inside a rollout, or inside a stage of a rollout; a block that lists
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

fn check_blocks(doc: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let markdown = std::fs::read_to_string(root.join(doc)).expect("doc is readable");
    let blocks = rollout_blocks(&markdown);
    assert!(!blocks.is_empty(), "{doc} has no rollout blocks");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut failures = Vec::new();
    for (line, text) in &blocks {
        let in_stage = |n: usize, body: &str| {
            format!("rollout \"doc-{n}\" {{\n stage \"doc\" {{\n{body}}}\n}}\n")
        };
        let each_line: String = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(n, l)| in_stage(n, &format!("{l}\n")))
            .collect();
        let contexts = [
            text.clone(),
            format!("rollout \"doc\" {{\n{text}}}\n"),
            in_stage(0, text),
            each_line,
        ];
        let mut first_output = None;
        let passes = contexts.iter().enumerate().any(|(i, source)| {
            let file = dir.path().join(format!("line-{line}-{i}.rollout"));
            std::fs::write(&file, source).expect("write block");
            let out = Command::new(env!("CARGO_BIN_EXE_rollc"))
                .args(["check", "--color", "never"])
                .arg(&file)
                .output()
                .expect("run rollc");
            first_output.get_or_insert_with(|| String::from_utf8_lossy(&out.stdout).into_owned());
            out.status.code() == Some(0)
        });
        if !passes {
            failures.push(format!("{doc}:{line}:\n{}", first_output.unwrap_or_default()));
        }
    }
    assert!(failures.is_empty(), "blocks that do not check:\n{}", failures.join("\n"));
}

#[test]
fn readme_examples_check() {
    check_blocks("README.md");
}

#[test]
fn language_reference_examples_check() {
    check_blocks("docs/language.md");
}
