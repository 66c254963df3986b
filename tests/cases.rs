//! Data-directory tests: one generated test per `tests/cases/**/*.rollout`, run through the
//! built `rollc check` binary.
//!
//! Each case starts with a header comment naming what `check` must report:
//!
//! ```text
//! // expect: R0005 R0006     (these codes, in source order; repeat a code for each time)
//! // expect: ok              (no diagnostics at all)
//! // args: --fleet fleets/small.yaml   (optional second line: extra `check` arguments,
//!                                      paths relative to tests/cases)
//! ```
//!
//! The human rendering is snapshotted next to the source, Gleam-style, in
//! `tests/cases/snapshots/`, so a reviewer sees the input and the error together.

use std::path::Path;
use std::process::Command;

fn check_case(path: &Path, bytes: Vec<u8>) -> datatest_stable::Result<()> {
    // Cases may be deliberately invalid UTF-8 (R0018); the header is always ASCII.
    let src = String::from_utf8_lossy(&bytes).into_owned();
    let expected = expected_codes(&src).ok_or_else(|| {
        format!(
            "{}: first line must be `// expect: ok` or `// expect: RNNNN ...`",
            path.display()
        )
    })?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("tests/cases");
    let abs = manifest.join(path);
    let rel = abs.strip_prefix(&root).unwrap_or(&abs);

    let args = extra_args(&src);
    let json = run(&root, rel, "json", &args)?;
    let diags: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).map_err(|e| {
        format!(
            "`check --format json` printed invalid JSON ({e}):\n{}",
            json.stdout
        )
    })?;
    let codes: Vec<String> = diags
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("?").to_string())
        .collect();
    if codes != expected {
        return Err(format!(
            "expected {expected:?}, `rollc check` reported {codes:?}:\n{}",
            json.stdout
        )
        .into());
    }
    let has_error = diags.iter().any(|d| d["severity"] == "error");
    let want_exit = if has_error { 1 } else { 0 };
    if json.code != Some(want_exit) {
        return Err(format!("exit code {:?}, expected {want_exit}", json.code).into());
    }

    let human = run(&root, rel, "human", &args)?;
    let name = rel
        .with_extension("")
        .to_string_lossy()
        .replace(['/', '\\'], "__");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root.join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::assert_snapshot!(
            name,
            format!("----- SOURCE\n{src}\n----- rollc check\n{}", human.stdout)
        );
    });
    Ok(())
}

struct Output {
    stdout: String,
    code: Option<i32>,
}

fn run(root: &Path, rel: &Path, format: &str, args: &[String]) -> datatest_stable::Result<Output> {
    let out = Command::new(env!("CARGO_BIN_EXE_rollc"))
        .current_dir(root)
        .args(["check", "--color", "never", "--format", format])
        .args(args)
        .arg(rel)
        .output()?;
    if !out.stderr.is_empty() {
        return Err(format!(
            "unexpected stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(Output {
        stdout: String::from_utf8(out.stdout)?,
        code: out.status.code(),
    })
}

/// Extra `check` arguments from an `// args:` second line.
fn extra_args(src: &str) -> Vec<String> {
    src.lines()
        .nth(1)
        .and_then(|l| l.strip_prefix("// args:"))
        .map(|a| a.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The codes named in the `// expect:` header; empty for `ok`.
fn expected_codes(src: &str) -> Option<Vec<String>> {
    let header = src.lines().next()?.strip_prefix("// expect:")?.trim();
    if header == "ok" {
        return Some(Vec::new());
    }
    Some(header.split_whitespace().map(str::to_string).collect())
}

datatest_stable::harness! {
    { test = check_case, root = "tests/cases", pattern = r"\.rollout$" },
}
