//! `rollc apply` and the operator commands as a user meets them: inputs (a `.rollout` file
//! or a compiled IR), plain progress lines when not on a terminal, and the errors and exit
//! codes for bad input of every kind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rollc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollc"))
        .current_dir(dir)
        .env("ROLLC_NO_BARS", "1")
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap()
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn example(name: &str) -> String {
    examples().join(name).display().to_string()
}

fn sim_fleet() -> String {
    format!("sim:{}", example("fleet.yaml"))
}

#[test]
fn progress_is_plain_timestamped_lines_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = rollc(
        dir.path(),
        &[
            "apply",
            &example("skyscanner.rollout"),
            "--fleet",
            &sim_fleet(),
            "--start",
            "2026-11-23T09:00:00Z",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() > 20);
    for line in &lines {
        let (time, rest) = line.split_once("  ").unwrap();
        time.parse::<jiff::Timestamp>()
            .unwrap_or_else(|e| panic!("`{time}` in {line:?}: {e}"));
        assert!(!rest.is_empty());
    }
    assert!(lines[0].starts_with("2026-11-23T09:00:00Z  run my-app-set-"));
    assert!(stdout.contains("stage `canary in EMEA` started: 2 clusters, batch 2"));
    assert!(stdout.contains("prod-euw1-03: requeued"));
    assert!(lines.last().unwrap().ends_with("succeeded"));
    // The state lives in `.rollc/` of the working directory by default.
    assert!(dir.path().join(".rollc/current").is_file());
}

#[test]
fn a_compiled_ir_runs_like_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let ir = dir.path().join("plan.json");
    let out = rollc(
        dir.path(),
        &[
            "compile",
            &example("rings.rollout"),
            "-o",
            ir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let run = |state: &str, file: &str| {
        let out = rollc(
            dir.path(),
            &[
                "apply",
                file,
                "--fleet",
                &sim_fleet(),
                "--state",
                state,
                "--start",
                "2026-11-23T09:00:00Z",
                "--events",
                &format!("{state}.jsonl"),
                "-q",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
        std::fs::read_to_string(dir.path().join(format!("{state}.jsonl")))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                // Only who ran it differs.
                v.as_object_mut().unwrap().remove("holder");
                v
            })
            .collect::<Vec<_>>()
    };
    let from_ir = run("a", ir.to_str().unwrap());
    let from_source = run("b", &example("rings.rollout"));
    assert_eq!(from_ir, from_source);
}

#[test]
fn a_finished_run_is_followed_by_a_new_one_and_an_unfinished_one_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let apply = |file: &str| {
        rollc(
            dir.path(),
            &[
                "apply",
                file,
                "--fleet",
                &sim_fleet(),
                "-q",
                "--start",
                "2026-11-23T09:00:00Z",
            ],
        )
    };
    let first = apply(&example("skyscanner.rollout"));
    assert_eq!(first.status.code(), Some(0));
    let current = || std::fs::read_to_string(dir.path().join(".rollc/current")).unwrap();
    let id1 = current();
    let second = apply(&example("skyscanner.rollout"));
    assert_eq!(second.status.code(), Some(0));
    let id2 = current();
    assert_ne!(id1, id2, "a succeeded run is not resumed");
    // A run waiting at an approval gate is unfinished: `apply` again continues it (and
    // stops at the same gate) instead of starting over.
    let waiting = apply(&example("approval-and-windows.rollout"));
    assert_eq!(waiting.status.code(), Some(3));
    let id3 = current();
    let again = apply(&example("approval-and-windows.rollout"));
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(current(), id3);
    let (_, stderr) = text(&again);
    assert!(stderr.contains("waits for `rollc promote`"), "{stderr}");
}

#[test]
fn bad_input_gets_a_precise_error_and_the_right_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        path.display().to_string()
    };
    let skyscanner = example("skyscanner.rollout");

    // An unknown backend.
    let out = rollc(
        dir.path(),
        &["apply", &skyscanner, "--fleet", "examples/fleet.yaml"],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("unknown fleet `examples/fleet.yaml`"),
        "{stderr}"
    );
    assert!(stderr.contains("sim:FILE"), "{stderr}");

    // A strategy with errors: the diagnostics, exit 1, nothing stored.
    let broken = write(
        "broken.rollout",
        "rollout \"x\" {\n  target appset \"x\" in \"argocd\"\n  stage \"a\" { select env = \"prod\" }\n}\n",
    );
    let out = rollc(dir.path(), &["apply", &broken, "--fleet", &sim_fleet()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("R0"), "{stderr}");
    assert!(!dir.path().join(".rollc").exists());

    // Several rollouts and no `--rollout`; then an unknown one.
    let two = write(
        "two.rollout",
        "rollout \"a\" {\n  target appset \"a\" in \"argocd\"\n  stage \"s\" { select env == \"prod\" }\n}\nrollout \"b\" {\n  target appset \"b\" in \"argocd\"\n  stage \"s\" { select env == \"prod\" }\n}\n",
    );
    let out = rollc(dir.path(), &["apply", &two, "--fleet", &sim_fleet()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("several rollouts") && stderr.contains("`a`, `b`"),
        "{stderr}"
    );
    let out = rollc(
        dir.path(),
        &["apply", &two, "--fleet", &sim_fleet(), "--rollout", "c"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("no rollout `c`"));

    // A fleet file whose simulation blocks are wrong: every problem, with suggestions.
    let fleet = write(
        "fleet.yaml",
        "clusters:\n  - name: a\n    server: https://a.example.com\n    labels: {env: prod}\n    sim: {snyc: 3m, outcome: helthy}\n",
    );
    let one = write(
        "one.rollout",
        "rollout \"one\" {\n  target appset \"one\" in \"argocd\"\n  stage \"s\" { select env == \"prod\" }\n}\n",
    );
    let out = rollc(
        dir.path(),
        &["apply", &one, "--fleet", &format!("sim:{fleet}")],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("snyc") && stderr.contains("sync"),
        "{stderr}"
    );
    assert!(
        stderr.contains("helthy") && stderr.contains("healthy"),
        "{stderr}"
    );

    // A fleet file that is not there.
    let out = rollc(dir.path(), &["apply", &one, "--fleet", "sim:nowhere.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("nowhere.yaml"));

    // Operator commands without a run.
    for cmd in [
        "status", "pause", "resume", "promote", "abort", "retry", "undo",
    ] {
        let out = rollc(dir.path(), &[cmd, "--state", "empty"]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {stderr}");
        assert!(stderr.contains("no run in `empty`"), "{cmd}: {stderr}");
        assert!(stderr.contains("rollc apply"), "{cmd}: {stderr}");
    }

    // A journal changed by something other than rollc.
    let out = rollc(
        dir.path(),
        &[
            "apply",
            &one,
            "--fleet",
            &sim_fleet_for(dir.path()),
            "--state",
            "s",
            "-q",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let id = std::fs::read_to_string(dir.path().join("s/current")).unwrap();
    let journal = dir.path().join("s/runs").join(&id).join("journal.jsonl");
    let mut lines = std::fs::read_to_string(&journal).unwrap();
    lines.insert_str(0, "{\"not\": \"a record\"}\n");
    std::fs::write(&journal, lines).unwrap();
    let out = rollc(dir.path(), &["status", "--state", "s"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("journal.jsonl") && stderr.contains("corrupt"),
        "{stderr}"
    );
}

/// A one-cluster simulated fleet for `one.rollout`.
fn sim_fleet_for(dir: &Path) -> String {
    let path = dir.join("ok-fleet.yaml");
    std::fs::write(
        &path,
        "clusters:\n  - name: a\n    server: https://a.example.com\n    labels: {env: prod}\n",
    )
    .unwrap();
    format!("sim:{}", path.display())
}
