//! End-to-end tests of the `rollc` binary: exit codes, output formats, directory walking,
//! unreadable and odd inputs, `explain`, colour, `--version` and `--help`.
//!
//! Every test works in its own temporary directory and passes relative paths, so file names
//! in the output are predictable. Run with `cargo test --test cli`.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

// ----- helpers -----

/// Runs `rollc ARGS` in `dir` with `NO_COLOR` unset (stdout is a pipe, so `auto` is off).
fn rollc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollc"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run rollc")
}

/// Runs `rollc ARGS` somewhere that does not matter.
fn rollc(args: &[&str]) -> Output {
    rollc_in(&std::env::temp_dir(), args)
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("rollc exited by a signal")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// Asserts the exit code, showing both streams when it differs.
#[track_caller]
fn assert_exit(out: &Output, expected: i32) {
    assert_eq!(
        out.status.code(),
        Some(expected),
        "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A temporary directory holding `files` (relative path, contents); parents are created.
fn project(files: &[(&str, &[u8])]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, contents) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }
    dir
}

/// `check --format json` output, parsed.
fn json(dir: &Path, args: &[&str]) -> (Output, Vec<Value>) {
    let mut all = vec!["check", "--format", "json", "--color", "never"];
    all.extend_from_slice(args);
    let out = rollc_in(dir, &all);
    let text = stdout(&out);
    let diags: Vec<Value> = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{text}\n{}", stderr(&out)));
    (out, diags)
}

/// 1-based line and column (in characters) of byte `offset` in `src`: the reference that the
/// renderers' numbers are compared with.
fn line_col(src: &str, offset: usize) -> (u64, u64) {
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = src[line_start..offset].chars().count() + 1;
    (line as u64, column as u64)
}

/// The byte range of the `nth` occurrence of `needle` in `src`.
fn find(src: &str, needle: &str, nth: usize) -> (usize, usize) {
    let start = src
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{needle}` #{nth} not in source"))
        .0;
    (start, start + needle.len())
}

fn codes(diags: &[Value]) -> Vec<&str> {
    diags.iter().map(|d| d["code"].as_str().unwrap()).collect()
}

fn files(diags: &[Value]) -> Vec<&str> {
    diags.iter().map(|d| d["file"].as_str().unwrap()).collect()
}

/// A clean file.
const CLEAN: &str = "/// The smallest useful strategy.
rollout \"clean\" {
  target appset \"clean\"
  stage \"all\" { select all; batch 10% }
}
";

/// A file with four syntax errors of four kinds. `ré` puts a two-byte character before the
/// first one, so its column (28) is one less than its byte offset in the line.
const MIXED: &str = "rollout \"mixed\" {
  target appset \"mixed\"
  stage \"ré\" { select area = \"emea\" }
  stage \"t\" { select zone == \"x\" && area == \"y\"; bake 30min }
  stage \"u\" { select all; batch 10%; maxUnavailable: 2 }
}
";

/// The codes [`MIXED`] produces, in source order, with the text each primary span covers.
const MIXED_EXPECTED: &[(&str, &str)] = &[
    ("R0005", "="),
    ("R0006", "&&"),
    ("R0008", "30min"),
    ("R0007", "maxUnavailable:"),
];

/// A syntax error in a file named `name`, with a rollout named after it (two rollouts with
/// one name would be an error of their own).
fn broken(name: &str) -> String {
    format!(
        "rollout \"{name}\" {{\n  target appset \"{name}\"\n  stage \"s\" {{ select area = \"emea\" }}\n}}\n"
    )
}

/// A file whose only problem is a warning (R0309, a rollout without stages).
const WARNING_ONLY: &str = "rollout \"idle\" {\n  target appset \"idle\"\n}\n";

// ----- exit codes -----

#[test]
fn clean_file_exits_0() {
    let dir = project(&[("clean.rollout", CLEAN.as_bytes())]);
    let out = rollc_in(dir.path(), &["check", "clean.rollout"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "checked 1 file: no problems found\n");
    assert_eq!(stderr(&out), "");
}

#[test]
fn file_with_errors_exits_1() {
    let dir = project(&[("mixed.rollout", MIXED.as_bytes())]);
    let out = rollc_in(dir.path(), &["check", "--color", "never", "mixed.rollout"]);
    assert_exit(&out, 1);
    assert_eq!(stderr(&out), "", "diagnostics go to stdout");
}

#[test]
fn missing_path_exits_2_with_a_miette_error() {
    let dir = project(&[]);
    let out = rollc_in(dir.path(), &["check", "--color", "never", "nope.rollout"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("rollc::io"), "miette code missing:\n{err}");
    assert!(err.contains("cannot read `nope.rollout`"), "{err}");
    assert!(err.contains("help:"), "{err}");
    assert!(!err.contains('\x1b'), "--color never on stderr:\n{err}");
}

#[test]
fn missing_path_next_to_a_good_one_still_exits_2() {
    let dir = project(&[("bad.rollout", broken("bad").as_bytes())]);
    let (out, diags) = json(dir.path(), &["bad.rollout", "nope.rollout"]);
    assert_exit(&out, 2);
    // The readable file is still checked and reported.
    assert_eq!(codes(&diags), ["R0005"]);
    assert!(stderr(&out).contains("nope.rollout"));
}

#[test]
fn unknown_flag_exits_2() {
    let out = rollc(&["check", "--bogus"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--bogus"), "{}", stderr(&out));
    let out = rollc(&["--bogus"]);
    assert_exit(&out, 2);
    let out = rollc(&["frobnicate"]);
    assert_exit(&out, 2);
}

#[test]
fn unknown_format_exits_2() {
    let dir = project(&[("clean.rollout", CLEAN.as_bytes())]);
    let out = rollc_in(dir.path(), &["check", "--format", "xml", "clean.rollout"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("xml"), "{err}");
    for format in ["human", "json", "github", "sarif"] {
        assert!(
            err.contains(format),
            "possible values should be listed:\n{err}"
        );
    }
    assert_eq!(stdout(&out), "");
}

#[test]
fn no_subcommand_exits_2() {
    assert_exit(&rollc(&[]), 2);
}

// ----- output formats -----

/// Checks the JSON fields of every diagnostic of [`MIXED`] against the source.
#[test]
fn json_format_fields_and_positions() {
    let dir = project(&[("mixed.rollout", MIXED.as_bytes())]);
    let (out, diags) = json(dir.path(), &["mixed.rollout"]);
    assert_exit(&out, 1);
    let expected: Vec<&str> = MIXED_EXPECTED.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes(&diags), expected);

    for (diag, (code, text)) in diags.iter().zip(MIXED_EXPECTED) {
        let (start, end) = find(MIXED, text, 0);
        assert_eq!(diag["severity"], "error", "{code}");
        assert!(!diag["message"].as_str().unwrap().is_empty(), "{code}");
        assert_eq!(diag["file"], "mixed.rollout", "{code}");
        assert_eq!(diag["span"]["start"], start, "{code}: {diag:#}");
        assert_eq!(diag["span"]["end"], end, "{code}: {diag:#}");
        let (line, column) = line_col(MIXED, start);
        let (end_line, end_column) = line_col(MIXED, end);
        assert_eq!(
            [
                &diag["line"],
                &diag["column"],
                &diag["end_line"],
                &diag["end_column"]
            ],
            [line, column, end_line, end_column],
            "{code}"
        );
        let labels = diag["labels"].as_array().expect("labels is an array");
        assert!(!labels.is_empty(), "{code}");
        assert_eq!(labels[0]["style"], "primary", "{code}");
        assert_eq!(labels[0]["span"], diag["span"], "{code}");
        assert_eq!(labels[0]["line"], line, "{code}");
        assert_eq!(labels[0]["column"], column, "{code}");
        assert!(diag["help"].is_string() || diag["help"].is_null(), "{code}");
        assert!(diag["notes"].is_array(), "{code}");
        for suggestion in diag["suggestions"].as_array().expect("suggestions") {
            let start = suggestion["span"]["start"].as_u64().unwrap() as usize;
            let end = suggestion["span"]["end"].as_u64().unwrap() as usize;
            assert!(start <= end && end <= MIXED.len(), "{code}: {suggestion:#}");
            assert_eq!(suggestion["file"], "mixed.rollout");
            let (line, column) = line_col(MIXED, start);
            assert_eq!(
                [&suggestion["line"], &suggestion["column"]],
                [line, column],
                "{code}"
            );
            assert!(suggestion["replacement"].is_string(), "{code}");
            assert!(suggestion["message"].is_string(), "{code}");
        }
    }

    // The first one in detail: `=` on line 3 is the 28th character but the 29th byte.
    let first = &diags[0];
    assert_eq!([&first["line"], &first["column"]], [3, 28]);
    assert_eq!([&first["end_line"], &first["end_column"]], [3, 29]);
    let line3 = MIXED.match_indices('\n').nth(1).unwrap().0 + 1;
    assert_eq!(
        first["span"]["start"],
        line3 + 28,
        "the 29th byte of line 3"
    );
    assert!(first["help"].as_str().is_some_and(|h| h.contains("==")));
    let suggestion = &first["suggestions"][0];
    assert_eq!(suggestion["replacement"], "==");
    assert_eq!(suggestion["span"], first["span"]);
    // `&&` → `and`.
    assert_eq!(diags[1]["suggestions"][0]["replacement"], "and");
}

#[test]
fn json_format_on_a_clean_file_prints_an_empty_array() {
    let dir = project(&[("clean.rollout", CLEAN.as_bytes())]);
    let out = rollc_in(dir.path(), &["check", "--format", "json", "clean.rollout"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim(), "[]");
}

/// The message as GitHub's workflow-command data encoding writes it.
fn github_escape(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[test]
fn github_format_is_one_workflow_command_per_diagnostic() {
    let dir = project(&[("mixed.rollout", MIXED.as_bytes())]);
    let (_, diags) = json(dir.path(), &["mixed.rollout"]);
    let out = rollc_in(
        dir.path(),
        &["check", "--format", "github", "mixed.rollout"],
    );
    assert_exit(&out, 1);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), MIXED_EXPECTED.len(), "{text}");
    assert!(text.ends_with('\n'));

    let first = "::error file=mixed.rollout,line=3,col=28,endLine=3,endColumn=29,title=R0005::";
    assert!(lines[0].starts_with(first), "{}", lines[0]);

    for (line, diag) in lines.iter().zip(&diags) {
        let prefix = format!(
            "::error file=mixed.rollout,line={},col={},endLine={},endColumn={},title={}::",
            diag["line"],
            diag["column"],
            diag["end_line"],
            diag["end_column"],
            diag["code"].as_str().unwrap()
        );
        let message = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("expected `{prefix}...`, got\n{line}"));
        let mut expected = github_escape(diag["message"].as_str().unwrap());
        if let Some(help) = diag["help"].as_str() {
            expected.push_str("%0Ahelp: ");
            expected.push_str(&github_escape(help));
        }
        assert!(message.starts_with(&expected), "{message}\nvs\n{expected}");
    }
}

#[test]
fn github_format_reports_warnings_as_warnings() {
    let dir = project(&[("idle.rollout", WARNING_ONLY.as_bytes())]);
    let out = rollc_in(dir.path(), &["check", "--format", "github", "idle.rollout"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.starts_with("::warning file=idle.rollout,line=1,col=9,"),
        "{text}"
    );
    assert!(text.contains(",title=R0309::"), "{text}");
}

#[test]
fn sarif_format() {
    let dir = project(&[("mixed.rollout", MIXED.as_bytes())]);
    let (_, diags) = json(dir.path(), &["mixed.rollout"]);
    let out = rollc_in(dir.path(), &["check", "--format", "sarif", "mixed.rollout"]);
    assert_exit(&out, 1);
    let log: Value = serde_json::from_str(&stdout(&out)).expect("SARIF is JSON");
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif"));
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "rollc");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), diags.len());
    for (result, diag) in results.iter().zip(&diags) {
        assert_eq!(result["ruleId"], diag["code"]);
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            rules[index]["id"], diag["code"],
            "ruleIndex points at its rule"
        );
        assert_eq!(result["level"], "error");
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "mixed.rollout");
        let region = &location["region"];
        assert_eq!(region["startLine"], diag["line"]);
        assert_eq!(region["startColumn"], diag["column"]);
        assert_eq!(region["endLine"], diag["end_line"]);
        assert_eq!(region["endColumn"], diag["end_column"]);
        assert_eq!(region["byteOffset"], diag["span"]["start"]);
        assert!(
            result["message"]["text"]
                .as_str()
                .unwrap()
                .starts_with(diag["message"].as_str().unwrap())
        );
    }
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startColumn"],
        28
    );
}

#[test]
fn sarif_format_on_a_clean_file_has_no_results() {
    let dir = project(&[("clean.rollout", CLEAN.as_bytes())]);
    let out = rollc_in(dir.path(), &["check", "--format", "sarif", "clean.rollout"]);
    assert_exit(&out, 0);
    let log: Value = serde_json::from_str(&stdout(&out)).expect("SARIF is JSON");
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"][0]["results"], serde_json::json!([]));
}

#[test]
fn human_format() {
    let dir = project(&[("mixed.rollout", MIXED.as_bytes())]);
    let out = rollc_in(dir.path(), &["check", "--color", "never", "mixed.rollout"]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    for (code, _) in MIXED_EXPECTED {
        assert!(
            text.contains(&format!("error[{code}]")),
            "{code} missing:\n{text}"
        );
    }
    assert!(text.contains("mixed.rollout:3:28"), "{text}");
    assert!(text.contains("mixed.rollout:4:34"), "{text}");
    assert!(
        text.contains("select area = \"emea\""),
        "source snippet:\n{text}"
    );
    assert!(
        text.trim_end().ends_with("error: 4 errors emitted"),
        "{text}"
    );
    // The same command with `--format human` spelled out.
    let explicit = rollc_in(
        dir.path(),
        &[
            "check",
            "--format",
            "human",
            "--color",
            "never",
            "mixed.rollout",
        ],
    );
    assert_eq!(stdout(&explicit), text);
}

#[test]
fn human_format_counts_files_and_warnings() {
    let dir = project(&[
        ("a.rollout", CLEAN.as_bytes()),
        ("b.rollout", WARNING_ONLY.as_bytes()),
    ]);
    let out = rollc_in(dir.path(), &["check", "--color", "never", "."]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("warning[R0309]"), "{text}");
    assert!(text.contains("./b.rollout:1:9"), "{text}");
    assert!(
        text.trim_end().ends_with("warning: 1 warning emitted"),
        "{text}"
    );
}

// ----- paths -----

#[test]
fn directories_are_searched_recursively_in_sorted_order() {
    let dir = project(&[
        ("strategies/z.rollout", broken("z").as_bytes()),
        ("strategies/a.rollout", broken("a").as_bytes()),
        ("strategies/m/inner.rollout", broken("inner").as_bytes()),
        (
            "strategies/m/deeper/x/deep.rollout",
            broken("deep").as_bytes(),
        ),
        ("strategies/b.rollout", broken("b").as_bytes()),
        // Not `.rollout`: ignored, whatever is inside.
        ("strategies/notes.txt", b"}}}"),
        ("strategies/a.rollout.bak", b"}}}"),
        ("strategies/rollout", b"}}}"),
        // Hidden directories and files are skipped.
        ("strategies/.git/hooks/x.rollout", b"}}}"),
        ("strategies/.hidden.rollout", b"}}}"),
        ("strategies/m/.cache/y.rollout", b"}}}"),
    ]);
    let (out, diags) = json(dir.path(), &["strategies"]);
    assert_exit(&out, 1);
    assert_eq!(
        files(&diags),
        [
            "strategies/a.rollout",
            "strategies/b.rollout",
            "strategies/m/deeper/x/deep.rollout",
            "strategies/m/inner.rollout",
            "strategies/z.rollout",
        ]
    );
    assert!(codes(&diags).iter().all(|c| *c == "R0005"), "{diags:#?}");

    // Human output counts the same five files.
    let dir2 = project(&[
        ("s/z.rollout", CLEAN.replace("clean", "z").as_bytes()),
        ("s/n/a.rollout", CLEAN.replace("clean", "a").as_bytes()),
        ("s/.hidden/h.rollout", b"}}}"),
    ]);
    let out = rollc_in(dir2.path(), &["check", "s"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "checked 2 files: no problems found\n");
}

#[test]
fn current_directory_is_the_default() {
    let dir = project(&[("sub/clean.rollout", CLEAN.as_bytes())]);
    let out = rollc_in(dir.path(), &["check"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "checked 1 file: no problems found\n");
    let bad = project(&[("bad.rollout", broken("bad").as_bytes())]);
    let (out, diags) = json(bad.path(), &[]);
    assert_exit(&out, 1);
    assert_eq!(files(&diags), ["./bad.rollout"]);
}

#[test]
fn directory_without_rollout_files_exits_2() {
    let dir = project(&[
        ("empty/readme.md", b"# nothing here"),
        ("empty/.hidden/x.rollout", b"rollout"),
    ]);
    let out = rollc_in(dir.path(), &["check", "--color", "never", "empty"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("no `.rollout` files found in `empty`"),
        "{err}"
    );
    fs::create_dir(dir.path().join("void")).unwrap();
    let out = rollc_in(dir.path(), &["check", "void"]);
    assert_exit(&out, 2);
}

#[test]
fn several_paths_are_checked_in_argument_order() {
    let dir = project(&[
        ("b.rollout", broken("b").as_bytes()),
        ("clean.rollout", CLEAN.as_bytes()),
        ("dir/a.rollout", broken("a").as_bytes()),
    ]);
    let (out, diags) = json(dir.path(), &["b.rollout", "clean.rollout", "dir"]);
    assert_exit(&out, 1);
    assert_eq!(files(&diags), ["b.rollout", "dir/a.rollout"]);
    let out = rollc_in(dir.path(), &["check", "clean.rollout", "clean.rollout"]);
    assert_exit(&out, 0);
}

#[test]
fn a_file_passed_by_name_needs_no_rollout_extension() {
    let dir = project(&[("strategy.txt", broken("txt").as_bytes())]);
    let (out, diags) = json(dir.path(), &["strategy.txt"]);
    assert_exit(&out, 1);
    assert_eq!(files(&diags), ["strategy.txt"]);
}

// ----- unreadable and unusual files -----

/// Whether this process can read `path` (root ignores file modes).
fn readable(path: &Path) -> bool {
    fs::read(path).is_ok()
}

#[cfg(unix)]
#[test]
fn unreadable_file_exits_2_naming_the_path() {
    use std::os::unix::fs::PermissionsExt;
    let dir = project(&[("locked.rollout", CLEAN.as_bytes())]);
    let locked = dir.path().join("locked.rollout");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    let name = if readable(&locked) {
        // Running as root: modes do not stop reads. A symlink to itself fails to open
        // (ELOOP) whoever we are.
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink("loop.rollout", dir.path().join("loop.rollout")).unwrap();
        "loop.rollout"
    } else {
        "locked.rollout"
    };
    let out = rollc_in(dir.path(), &["check", "--color", "never", name]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot read `{name}`")), "{err}");
    assert!(err.contains("rollc::io"), "{err}");
}

#[cfg(unix)]
#[test]
fn unreadable_directory_exits_2_naming_the_path() {
    use std::os::unix::fs::PermissionsExt;
    let dir = project(&[
        ("tree/ok.rollout", CLEAN.as_bytes()),
        ("tree/sub/x.rollout", CLEAN.as_bytes()),
    ]);
    let sub = dir.path().join("tree/sub");
    fs::set_permissions(&sub, fs::Permissions::from_mode(0o000)).unwrap();
    let blocked = fs::read_dir(&sub).is_err();
    if blocked {
        let out = rollc_in(dir.path(), &["check", "--color", "never", "tree"]);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains("tree/sub"), "{}", stderr(&out));
    }
    fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(unix)]
#[test]
fn dangling_symlink_exits_2() {
    let dir = project(&[]);
    std::os::unix::fs::symlink("missing-target", dir.path().join("dangling.rollout")).unwrap();
    let out = rollc_in(
        dir.path(),
        &["check", "--color", "never", "dangling.rollout"],
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("dangling.rollout"),
        "{}",
        stderr(&out)
    );
}

/// A read that fails after `metadata` succeeded: reading offset 0 of a process's own memory
/// is an I/O error (EIO) even for root.
#[cfg(target_os = "linux")]
#[test]
fn read_error_after_open_exits_2() {
    let dir = project(&[]);
    std::os::unix::fs::symlink("/proc/self/mem", dir.path().join("mem.rollout")).unwrap();
    let out = rollc_in(dir.path(), &["check", "--color", "never", "mem.rollout"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("cannot read `mem.rollout`"), "{err}");
}

/// Runs `rollc` and kills it after `limit`; `None` when it had to be killed.
fn run_with_timeout(dir: &Path, args: &[&str], limit: Duration) -> Option<Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollc"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rollc");
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().expect("wait").is_some() {
            return Some(child.wait_with_output().expect("output"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// A FIFO (or any non-regular file) should be refused, not opened: opening a FIFO for reading
/// blocks until a writer appears, so `rollc check` hangs forever today.
#[cfg(unix)]
#[test]
fn fifo_is_refused_not_read() {
    let dir = project(&[]);
    let status = Command::new("mkfifo")
        .arg(dir.path().join("pipe.rollout"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let out = run_with_timeout(
        dir.path(),
        &["check", "--color", "never", "pipe.rollout"],
        Duration::from_secs(5),
    )
    .expect("rollc check on a FIFO hung");
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("pipe.rollout"));
}

/// A symlink back to its own directory makes the walk visit the same files again under
/// longer and longer names until the OS gives up (40 levels), so a clean tree reports 40
/// duplicate-rollout errors. The walk should not follow directory symlinks (or should visit
/// each real directory once).
#[cfg(unix)]
#[test]
fn directory_symlink_loop_is_visited_once() {
    let dir = project(&[("tree/clean.rollout", CLEAN.as_bytes())]);
    std::os::unix::fs::symlink(".", dir.path().join("tree/again")).unwrap();
    let out = rollc_in(dir.path(), &["check", "--color", "never", "tree"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "checked 1 file: no problems found\n");
}

/// When the only file cannot be read (it exists, but reading it fails), the human output
/// still says `checked 0 files: no problems found` on stdout, next to the error on stderr.
#[cfg(target_os = "linux")]
#[test]
fn no_success_message_when_nothing_was_read() {
    let dir = project(&[]);
    std::os::unix::fs::symlink("/proc/self/mem", dir.path().join("mem.rollout")).unwrap();
    let out = rollc_in(dir.path(), &["check", "--color", "never", "mem.rollout"]);
    assert_exit(&out, 2);
    assert!(
        !stdout(&out).contains("no problems found"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn non_utf8_file_reports_r0018_at_the_bad_byte() {
    // The bad byte follows `é` (two bytes, one column) on line 3.
    let mut bytes =
        b"rollout \"bytes\" {\n  target appset \"bytes\"\n  stage \"\xc3\xa9\" { batch 10".to_vec();
    let bad = bytes.len();
    bytes.extend_from_slice(b"\xff }\n}\n");
    let dir = project(&[("latin1.rollout", &bytes)]);
    let (out, diags) = json(dir.path(), &["latin1.rollout"]);
    assert_exit(&out, 1);
    assert_eq!(codes(&diags), ["R0018"], "{diags:#?}");
    let diag = &diags[0];
    assert_eq!(diag["file"], "latin1.rollout");
    assert_eq!(diag["span"]["start"], bad);
    let line3 = b"  stage \"\xc3\xa9\" { batch 10";
    let column = String::from_utf8_lossy(line3).chars().count() + 1;
    assert_eq!([&diag["line"], &diag["column"]], [3, column as u64]);
    assert_eq!(diag["column"], 23);
    assert!(
        diag["message"]
            .as_str()
            .unwrap()
            .contains(&format!("byte {bad}")),
        "{diag:#}"
    );
}

#[test]
fn file_over_4_gib_reports_r0021_without_reading_it() {
    let dir = project(&[]);
    let path = dir.path().join("huge.rollout");
    let file = fs::File::create(&path).unwrap();
    // Sparse: no disk space is used, and reading it would take far longer than allowed here.
    file.set_len(4 * 1024 * 1024 * 1024 + 1).unwrap();
    drop(file);
    let start = Instant::now();
    let (out, diags) = json(dir.path(), &["huge.rollout"]);
    let elapsed = start.elapsed();
    assert_exit(&out, 1);
    assert_eq!(codes(&diags), ["R0021"]);
    assert_eq!(diags[0]["file"], "huge.rollout");
    assert_eq!([&diags[0]["line"], &diags[0]["column"]], [1, 1]);
    assert!(
        diags[0]["message"].as_str().unwrap().contains("4294967297"),
        "{:#}",
        diags[0]
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "took {elapsed:?}: was the file read?"
    );
}

// ----- --deny-warnings -----

#[test]
fn deny_warnings_fails_on_warnings_only() {
    let dir = project(&[
        ("clean.rollout", CLEAN.as_bytes()),
        ("idle.rollout", WARNING_ONLY.as_bytes()),
        ("bad.rollout", broken("bad").as_bytes()),
    ]);
    let check = |args: &[&str]| {
        let mut all = vec!["check", "--format", "json"];
        all.extend_from_slice(args);
        code(&rollc_in(dir.path(), &all))
    };
    // A warning alone passes, unless warnings are denied.
    let (_, diags) = json(dir.path(), &["idle.rollout"]);
    assert_eq!(codes(&diags), ["R0309"]);
    assert_eq!(diags[0]["severity"], "warning");
    assert_eq!(check(&["idle.rollout"]), 0);
    assert_eq!(check(&["--deny-warnings", "idle.rollout"]), 1);
    // A clean file passes and an error fails either way.
    assert_eq!(check(&["clean.rollout"]), 0);
    assert_eq!(check(&["--deny-warnings", "clean.rollout"]), 0);
    assert_eq!(check(&["bad.rollout"]), 1);
    assert_eq!(check(&["--deny-warnings", "bad.rollout"]), 1);
    // The flag may come after the paths, and does not change the output.
    let plain = rollc_in(dir.path(), &["check", "--format", "json", "idle.rollout"]);
    let denied = rollc_in(
        dir.path(),
        &[
            "check",
            "--format",
            "json",
            "idle.rollout",
            "--deny-warnings",
        ],
    );
    assert_eq!(stdout(&plain), stdout(&denied));
    assert_exit(&denied, 1);
}

// ----- explain -----

#[test]
fn explain_prints_the_explanation() {
    let out = rollc(&["explain", "R0005"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.starts_with("# R0005"), "{text}");
    assert!(text.contains("=="), "{text}");
    assert!(text.ends_with('\n'));
    let lower = rollc(&["explain", "r0005"]);
    assert_exit(&lower, 0);
    assert_eq!(stdout(&lower), text);
}

#[test]
fn explain_unknown_code_exits_2_with_help() {
    let out = rollc(&["explain", "--color", "never", "R9999"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("unknown diagnostic code"), "{err}");
    assert!(err.contains("`R9999`"), "{err}");
    assert!(err.contains("rollc explain --list"), "{err}");
    assert_eq!(stdout(&out), "");
    // A near miss gets a suggestion.
    let out = rollc(&["explain", "--color", "never", "R00005"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("did you mean `R0005`?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn explain_list_shows_every_code() {
    let out = rollc(&["explain", "--list"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let ids: Vec<&str> = text
        .lines()
        .map(|line| line.split_whitespace().next().unwrap_or(""))
        .collect();
    let expected: Vec<&str> = rollc::diagnostics::Code::ALL
        .iter()
        .map(|c| c.id())
        .collect();
    assert_eq!(ids, expected);
    assert!(ids.contains(&"R0001") && ids.contains(&"R0021"));
    // Every listed code has an explanation.
    for code in rollc::diagnostics::Code::ALL {
        assert!(
            code.explanation().starts_with(&format!("# {}", code.id())),
            "{} explanation does not start with its heading",
            code.id()
        );
    }
    assert_exit(&rollc(&["explain", "--list", "R0005"]), 2);
}

// ----- colour, version, help -----

#[test]
fn color_always_and_never() {
    let dir = project(&[("mixed.rollout", MIXED.as_bytes())]);
    let always = rollc_in(dir.path(), &["check", "--color", "always", "mixed.rollout"]);
    assert_exit(&always, 1);
    assert!(
        stdout(&always).contains("\x1b["),
        "no ANSI escapes with --color always"
    );
    let never = rollc_in(dir.path(), &["check", "--color", "never", "mixed.rollout"]);
    assert_exit(&never, 1);
    assert!(
        !stdout(&never).contains('\x1b'),
        "ANSI escapes with --color never"
    );
    // `auto` with stdout a pipe: no colour.
    let auto = rollc_in(dir.path(), &["check", "mixed.rollout"]);
    assert!(!stdout(&auto).contains('\x1b'), "ANSI escapes when piped");
    assert_eq!(stdout(&auto), stdout(&never));
    // The option is global: it may come before the subcommand.
    let before = rollc_in(dir.path(), &["--color", "always", "check", "mixed.rollout"]);
    assert_eq!(stdout(&before), stdout(&always));
    // Machine formats never colour.
    let json = rollc_in(
        dir.path(),
        &[
            "check",
            "--color",
            "always",
            "--format",
            "json",
            "mixed.rollout",
        ],
    );
    assert!(!stdout(&json).contains('\x1b'));
    // Invalid choice.
    assert_exit(&rollc(&["--color", "sometimes", "explain", "R0005"]), 2);
}

#[test]
fn version_and_help() {
    let out = rollc(&["--version"]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out).trim(),
        format!("rollc {}", env!("CARGO_PKG_VERSION"))
    );
    let out = rollc(&["--help"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("Usage: rollc"), "{text}");
    assert!(text.contains("check") && text.contains("explain"), "{text}");
    let out = rollc(&["check", "--help"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    for flag in ["--format", "--deny-warnings", "--color"] {
        assert!(
            text.contains(flag),
            "{flag} missing from `check --help`:\n{text}"
        );
    }
}

// ----- the shipped examples -----

#[test]
fn examples_check_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = rollc_in(root, &["check", "--color", "never", "examples"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("no problems found"),
        "{}",
        stdout(&out)
    );
    let (out, diags) = json(root, &["examples"]);
    assert_exit(&out, 0);
    assert_eq!(diags, Vec::<Value>::new());
}
