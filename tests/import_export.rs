//! `rollc import` and `rollc export`, end to end through the binary: the Skyscanner sample
//! ProgressiveRollout and a RollingSync ApplicationSet import to source that checks cleanly
//! and plans as the original intends; import → check → export gives back the RollingSync
//! steps; unknown fields and malformed input are reported at their lines; every example
//! exports with the expected diagnostics.
//!
//! Inputs live in `tests/data/import/` (YAML) and `tests/data/export/`; outputs are insta
//! snapshots in `tests/snapshots/`. Run with `cargo test --test import_export`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rollc::check::Root;
use rollc::diagnostics::{Data, Diagnostic, Severity};
use rollc::hir;
use rollc::resolve::InMemory;
use rollc::source::FileId;
use serde_json::Value;

// ----- helpers -----

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `rollc ARGS` in the crate directory, so paths in the output are the relative ones
/// given here.
fn rollc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollc"))
        .args(["--color", "never"])
        .args(args)
        .current_dir(manifest())
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run rollc")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// Exit code, standard output and standard error, for a snapshot.
fn transcript(out: &Output) -> String {
    format!(
        "----- exit: {}\n----- stdout\n{}----- stderr\n{}",
        out.status.code().map_or("signal".into(), |c| c.to_string()),
        stdout(out),
        stderr(out)
    )
}

#[track_caller]
fn assert_exit(out: &Output, expected: i32) {
    assert_eq!(
        out.status.code(),
        Some(expected),
        "exit code\n{}",
        transcript(out)
    );
}

/// Checks `source` in memory as `name`, asserting it has no diagnostic at all, and returns
/// its checked program.
#[track_caller]
fn checks_cleanly(source: &str, name: &str) -> hir::Program {
    let checked = rollc::import::verify(source, Path::new(name));
    let rendered = rollc::diagnostics::render::human(&checked.diagnostics, &checked.sources, false);
    assert!(
        checked.diagnostics.is_empty(),
        "the imported source does not check cleanly:\n{rendered}\n{source}"
    );
    checked
        .programs
        .into_iter()
        .next()
        .flatten()
        .expect("a program")
}

fn example_fleet() -> rollc::fleet::Fleet {
    let text = std::fs::read_to_string(manifest().join("examples/fleet.yaml")).expect("fleet");
    rollc::fleet::parse(FileId(0), &text).expect("the example fleet parses")
}

/// The R0405 notes of `rollc check --fleet examples/fleet.yaml` for `source`: each stage's
/// counts after rounding, by stage name.
fn stage_counts(source: &str) -> Vec<(String, u64, u64, u64, Option<u64>, u64)> {
    let mut files = InMemory::new();
    files.insert("strategy.rollout", source.as_bytes().to_vec());
    let fleet = std::fs::read(manifest().join("examples/fleet.yaml")).expect("fleet");
    files.insert("fleet.yaml", fleet);
    let checked = rollc::check::check_with_fleet(
        &files,
        &[Root::file("strategy.rollout")],
        Some(Path::new("fleet.yaml")),
    );
    checked
        .diagnostics
        .iter()
        .filter_map(|d: &Diagnostic| match &d.data {
            Some(Data::StageCounts {
                stage,
                selected,
                candidates,
                clusters,
                limit,
                batch,
                ..
            }) => Some((
                stage.clone(),
                *selected,
                *candidates,
                *clusters,
                *limit,
                *batch,
            )),
            _ => None,
        })
        .collect()
}

/// `rollc plan --output json` of a file against the example fleet, or `None` while the
/// planner command is not there yet.
fn plan_json(path: &Path) -> Option<Value> {
    let out = rollc(&[
        "plan",
        path.to_str().expect("UTF-8 path"),
        "--fleet",
        "examples/fleet.yaml",
        "--output",
        "json",
    ]);
    if out.status.code() == Some(2) && stderr(&out).contains("being written") {
        return None;
    }
    assert_exit(&out, 0);
    Some(serde_json::from_str(&stdout(&out)).expect("plan JSON"))
}

/// The stages of the first rollout of a plan, without the rollout-specific names.
fn planned_stages(plan: &Value) -> Vec<Value> {
    plan["rollouts"][0]["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s["name"], "clusters": s["clusters"], "batch": s["batch"],
                "limit": s["limit"], "waves": s["waves"], "deferred": s["deferred"],
            })
        })
        .collect()
}

fn temp_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write temp file");
    path
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("valid YAML")
}

// ----- import: ProgressiveRollout -----

#[test]
fn import_skyscanner_sample() {
    let out = rollc(&["import", "tests/data/import/skyscanner.yaml"]);
    assert_exit(&out, 0);
    insta::assert_snapshot!(transcript(&out));
    checks_cleanly(&stdout(&out), "imported.rollout");
}

/// The imported sample compiles to the same stages as the hand translation in
/// `examples/skyscanner.rollout`, and binds to the example fleet the same way.
#[test]
fn imported_skyscanner_sample_plans_as_the_original_intends() {
    let imported = stdout(&rollc(&["import", "tests/data/import/skyscanner.yaml"]));
    let program = checks_cleanly(&imported, "imported.rollout");
    let example_text =
        std::fs::read_to_string(manifest().join("examples/skyscanner.rollout")).expect("example");
    let example = checks_cleanly(&example_text, "skyscanner.rollout");

    // The IR of both: every stage field, defaults applied, selectors normalised.
    let ours = rollc::ir::compile(&program, "imported.rollout");
    let theirs = rollc::ir::compile(&example, "skyscanner.rollout");
    assert_eq!(ours.rollouts.len(), 1);
    assert_eq!(ours.rollouts[0].target, theirs.rollouts[0].target);
    assert_eq!(ours.rollouts[0].stages, theirs.rollouts[0].stages);

    // Stage by stage as the spec says: maxClusters → limit, maxUnavailable → batch,
    // topologyKey → spread by, requeue → requeue.
    let stages = &ours.rollouts[0].stages;
    let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["canary in EMEA", "eu-west-1", "eu-central-1"]);
    assert_eq!(
        stages[0].limit.as_ref().map(|l| l.count),
        Some(rollc::ir::Count::Int(2))
    );
    assert_eq!(stages[0].batch, rollc::ir::Count::Int(2));
    assert_eq!(stages[0].spread_by.as_deref(), Some("region"));
    for stage in &stages[1..] {
        assert_eq!(stage.limit, None, "maxClusters 100% is no limit");
        assert_eq!(stage.batch, rollc::ir::Count::Percent(25));
        assert_eq!(stage.spread_by, None);
    }
    for stage in stages {
        let requeue = stage.requeue.as_ref().expect("requeue");
        assert_eq!((requeue.attempts, requeue.every_seconds), (5, 30 * 60));
    }

    // Against the example fleet: the same counts after rounding (two EMEA canaries in two
    // regions, then eu-west-1 and eu-central-1 one at a time).
    let counts = stage_counts(&imported);
    assert_eq!(counts, stage_counts(&example_text));
    assert_eq!(counts[0], ("canary in EMEA".into(), 10, 10, 2, Some(2), 2));

    // And the same plan, once `rollc plan` is there.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_file(&dir, "imported.rollout", &imported);
    if let Some(plan) = plan_json(&path) {
        let example = plan_json(Path::new("examples/skyscanner.rollout")).expect("plan");
        assert_eq!(planned_stages(&plan), planned_stages(&example));
        assert_eq!(
            plan["rollouts"][0]["uncovered"],
            example["rollouts"][0]["uncovered"]
        );
    }
}

// ----- import: RollingSync -----

#[test]
fn import_rollingsync_appset() {
    let out = rollc(&["import", "tests/data/import/rollingsync.yaml"]);
    assert_exit(&out, 0);
    insta::assert_snapshot!(transcript(&out));
    checks_cleanly(&stdout(&out), "imported.rollout");
}

/// Whether a cluster's labels (standing in for its Application's, as the import assumes)
/// satisfy a RollingSync step: Argo CD's `In` needs the label, `NotIn` matches without it.
fn step_matches(step: &Value, labels: &BTreeMap<String, String>) -> bool {
    let exprs = step["matchExpressions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    exprs.iter().all(|e| {
        let values: Vec<&str> = e["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|v| v.as_str().expect("string value"))
            .collect();
        let value = labels.get(e["key"].as_str().expect("key"));
        match e["operator"].as_str() {
            Some("In") => value.is_some_and(|v| values.contains(&v.as_str())),
            Some("NotIn") => value.is_none_or(|v| !values.contains(&v.as_str())),
            other => panic!("operator {other:?}"),
        }
    })
}

/// Every cluster of the example fleet lands in the stage of the step RollingSync would put
/// its Application in, and each stage's batch is the step's `maxUpdate` (100% when unset).
#[test]
fn imported_rollingsync_plans_as_the_original_intends() {
    let text = std::fs::read_to_string(manifest().join("tests/data/import/rollingsync.yaml"))
        .expect("input");
    let steps = yaml(&text)["spec"]["strategy"]["rollingSync"]["steps"]
        .as_array()
        .expect("steps")
        .clone();
    let imported = stdout(&rollc(&["import", "tests/data/import/rollingsync.yaml"]));
    let program = checks_cleanly(&imported, "imported.rollout");
    let rollout = &program.rollouts[0];
    assert_eq!(rollout.stages.len(), steps.len());

    // Which step (stage) takes each cluster: the first that selects it, on both sides.
    let fleet = example_fleet();
    let mut owners: BTreeMap<String, Option<usize>> = BTreeMap::new();
    for cluster in &fleet.clusters {
        let argo = (0..steps.len()).find(|&s| step_matches(&steps[s], &cluster.labels));
        let ours = (0..rollout.stages.len()).find(|&s| {
            let select = rollout.stages[s].select.as_ref().expect("select");
            rollc::fleet::matches(select, cluster)
        });
        assert_eq!(ours, argo, "cluster `{}`", cluster.name);
        owners.insert(cluster.name.clone(), ours);
    }
    // The steps are not vacuous: every step owns something in the example fleet.
    for s in 0..steps.len() {
        assert!(
            owners.values().any(|o| *o == Some(s)),
            "step {} is empty",
            s + 1
        );
    }

    // `rollc plan` agrees, once it is there.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_file(&dir, "imported.rollout", &imported);
    if let Some(plan) = plan_json(&path) {
        for (s, stage) in planned_stages(&plan).iter().enumerate() {
            let mut planned: Vec<&str> = stage["clusters"]
                .as_array()
                .expect("clusters")
                .iter()
                .map(|c| c.as_str().expect("name"))
                .collect();
            planned.sort_unstable();
            let expected: Vec<&str> = owners
                .iter()
                .filter(|(_, o)| **o == Some(s))
                .map(|(name, _)| name.as_str())
                .collect();
            assert_eq!(planned, expected, "stage {}", s + 1);
        }
    }

    let ir = rollc::ir::compile(&program, "imported.rollout");
    for (stage, step) in ir.rollouts[0].stages.iter().zip(&steps) {
        let expected = match &step["maxUpdate"] {
            Value::Null => rollc::ir::Count::Percent(100),
            Value::Number(n) => rollc::ir::Count::Int(n.as_u64().expect("count")),
            Value::String(p) => {
                rollc::ir::Count::Percent(p.trim_end_matches('%').parse().expect("percentage"))
            }
            other => panic!("maxUpdate {other}"),
        };
        assert_eq!(stage.batch, expected, "stage `{}`", stage.name);
        assert_eq!(stage.limit, None);
    }
}

/// import → check → export gives back steps equivalent to the original: the same
/// expressions in the same order (single values come back as one-element lists) and the
/// same `maxUpdate` (unset comes back as its meaning, 100%).
#[test]
fn rollingsync_round_trip() {
    let original = std::fs::read_to_string(manifest().join("tests/data/import/rollingsync.yaml"))
        .expect("input");
    let imported = rollc(&["import", "tests/data/import/rollingsync.yaml"]);
    assert_exit(&imported, 0);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_file(&dir, "checkout.rollout", &stdout(&imported));

    let check = rollc(&["check", path.to_str().expect("UTF-8 path")]);
    assert_exit(&check, 0);

    let exported = rollc(&[
        "export",
        "--format",
        "rollingsync",
        path.to_str().expect("path"),
    ]);
    // The `maxUpdate: 0` step comes back with a warning about its hold, nothing else lost.
    assert_exit(&exported, 0);
    let err = stderr(&exported);
    assert!(err.contains("warning[R0503]"), "{err}");
    assert!(err.contains("note[R0504]"), "{err}");

    let normalise = |steps: &Value| -> Vec<Value> {
        steps
            .as_array()
            .expect("steps")
            .iter()
            .map(|s| {
                let max_update = match &s["maxUpdate"] {
                    Value::Null => Value::String("100%".into()),
                    v => v.clone(),
                };
                let exprs = s["matchExpressions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                serde_json::json!({ "matchExpressions": exprs, "maxUpdate": max_update })
            })
            .collect()
    };
    let before = yaml(&original)["spec"]["strategy"]["rollingSync"]["steps"].clone();
    let after_doc = yaml(&stdout(&exported));
    assert_eq!(after_doc["spec"]["strategy"]["type"], "RollingSync");
    let after = after_doc["spec"]["strategy"]["rollingSync"]["steps"].clone();
    assert_eq!(normalise(&after), normalise(&before));
}

// ----- import: problems -----

#[test]
fn unknown_fields_are_reported_with_their_lines() {
    let out = rollc(&["import", "tests/data/import/unknown-fields.yaml"]);
    // Warnings only: the rest is imported.
    assert_exit(&out, 0);
    let err = stderr(&out);
    for (path, line) in [
        ("spec.paused", 10),
        ("spec.stages[0].maxCluster", 13),
        ("spec.stages[0].foo", 15),
        ("spec.stages[0].requeue.backoff", 27),
    ] {
        assert!(
            err.contains(&format!("unsupported field `{path}`"))
                && err.contains(&format!("tests/data/import/unknown-fields.yaml:{line}:")),
            "`{path}` at line {line}:\n{err}"
        );
    }
    assert!(err.contains("did you mean `maxClusters`?"), "{err}");
    insta::assert_snapshot!(transcript(&out));
    checks_cleanly(&stdout(&out), "imported.rollout");
}

#[test]
fn malformed_yaml_is_an_error_at_its_line() {
    let out = rollc(&["import", "tests/data/import/malformed.yaml"]);
    assert_exit(&out, 1);
    assert!(stdout(&out).is_empty(), "nothing is imported");
    assert!(
        stderr(&out).contains("error[R0502]: the file is not valid YAML")
            && stderr(&out).contains("tests/data/import/malformed.yaml:7:"),
        "{}",
        stderr(&out)
    );
    insta::assert_snapshot!(transcript(&out));
}

#[test]
fn invalid_spec_errors_name_field_and_line() {
    let out = rollc(&["import", "tests/data/import/invalid.yaml"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).is_empty(),
        "a document with errors is not imported"
    );
    insta::assert_snapshot!(transcript(&out));
}

#[test]
fn every_supported_document_is_imported() {
    let out = rollc(&["import", "tests/data/import/multi.yaml"]);
    assert_exit(&out, 0);
    insta::assert_snapshot!(transcript(&out));
    let program = checks_cleanly(&stdout(&out), "imported.rollout");
    let names: Vec<&str> = program.rollouts.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["web", "web (2)"]);
}

#[test]
fn keywords_and_special_characters_are_quoted() {
    let out = rollc(&["import", "tests/data/import/keywords.yaml"]);
    assert_exit(&out, 0);
    insta::assert_snapshot!(transcript(&out));
    let program = checks_cleanly(&stdout(&out), "imported.rollout");
    assert_eq!(program.rollouts[0].name, "kw ${x} \"q\"");
    assert_eq!(program.rollouts[0].stages[0].name, "a ${b}");
}

#[test]
fn import_writes_the_output_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_path = dir.path().join("sky.rollout");
    let out = rollc(&[
        "import",
        "tests/data/import/skyscanner.yaml",
        "-o",
        out_path.to_str().expect("UTF-8 path"),
    ]);
    assert_exit(&out, 0);
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("wrote 1 rollout to"),
        "{}",
        stderr(&out)
    );
    let written = std::fs::read_to_string(&out_path).expect("written");
    let direct = stdout(&rollc(&["import", "tests/data/import/skyscanner.yaml"]));
    assert_eq!(written, direct);
}

#[test]
fn import_of_a_missing_file_is_a_usage_error() {
    let out = rollc(&["import", "tests/data/import/does-not-exist.yaml"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
}

#[test]
fn import_of_a_file_that_is_not_utf8_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("latin1.yaml");
    std::fs::write(&path, b"kind: \xff\n").expect("write");
    let out = rollc(&["import", path.to_str().expect("UTF-8 path")]);
    assert_exit(&out, 1);
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("error[R0018]"), "{}", stderr(&out));
}

#[test]
fn import_of_nothing_supported_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_file(
        &dir,
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    );
    let out = rollc(&["import", path.to_str().expect("UTF-8 path")]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("warning[R0501]") && err.contains("error[R0502]: nothing to import"),
        "{err}"
    );
}

// ----- export -----

/// Every example exports: the steps on stdout, one warning per feature RollingSync cannot
/// express (naming the stages), the label assumption as a note, exit 0.
#[test]
fn export_examples() {
    let mut examples: Vec<PathBuf> = std::fs::read_dir(manifest().join("examples"))
        .expect("examples")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rollout"))
        .collect();
    examples.sort();
    assert!(!examples.is_empty());
    for path in examples {
        let name = path.file_stem().and_then(|n| n.to_str()).expect("name");
        let rel = format!("examples/{name}.rollout");
        let out = rollc(&["export", "--format", "rollingsync", &rel]);
        assert_exit(&out, 0);
        let doc = yaml(&stdout(&out));
        assert_eq!(doc["spec"]["strategy"]["type"], "RollingSync", "{rel}");
        let steps = doc["spec"]["strategy"]["rollingSync"]["steps"]
            .as_array()
            .expect("steps");
        assert!(!steps.is_empty(), "{rel}");
        let err = stderr(&out);
        assert!(
            err.contains("note[R0504]"),
            "{rel}: the label assumption:\n{err}"
        );
        assert!(!err.contains("error["), "{rel}:\n{err}");
        insta::assert_snapshot!(
            format!("export_{}", name.replace('-', "_")),
            transcript(&out)
        );
    }
}

/// The Skyscanner example loses exactly its limit, its spread and its requeue (the last in
/// `defaults`, so one warning names all three stages).
#[test]
fn export_names_each_lost_feature_and_stage() {
    let out = rollc(&[
        "export",
        "--format",
        "rollingsync",
        "examples/skyscanner.rollout",
    ]);
    assert_exit(&out, 0);
    let err = stderr(&out);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("warning[R0503]"))
        .collect();
    assert_eq!(
        warnings,
        [
            "warning[R0503]: RollingSync cannot express `requeue`: stages `canary in EMEA`, `eu-west-1`, `eu-central-1` lose it",
            "warning[R0503]: RollingSync cannot express `limit`: stage `canary in EMEA` loses it",
            "warning[R0503]: RollingSync cannot express `spread by`: stage `canary in EMEA` loses it",
        ]
    );
}

/// A stage whose selector RollingSync cannot express fails the export (exit 1), but the
/// other stages are still printed.
#[test]
fn export_of_an_unexpressible_stage_fails_but_prints_the_rest() {
    let out = rollc(&[
        "export",
        "--format",
        "rollingsync",
        "tests/data/export/unexpressible.rollout",
    ]);
    assert_exit(&out, 1);
    let doc = yaml(&stdout(&out));
    let steps = doc["spec"]["strategy"]["rollingSync"]["steps"]
        .as_array()
        .expect("steps");
    // "union" (an `or` of one label's values) and the template's two stages.
    assert_eq!(steps.len(), 3);
    assert_eq!(
        steps[0]["matchExpressions"][0]["values"],
        serde_json::json!(["a", "b", "c"])
    );
    let err = stderr(&out);
    for stage in ["either", "neg", "named"] {
        assert!(
            err.contains(&format!("error[R0505]: stage `{stage}` cannot be exported")),
            "{stage}:\n{err}"
        );
    }
    insta::assert_snapshot!(transcript(&out));
}

#[test]
fn export_of_a_file_with_errors_exports_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_file(
        &dir,
        "broken.rollout",
        "rollout \"x\" {\n  target appset \"x\"\n  stage \"a\" { select region = \"a\" }\n}\n",
    );
    let out = rollc(&[
        "export",
        "--format",
        "rollingsync",
        path.to_str().expect("path"),
    ]);
    assert_exit(&out, 1);
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("error[R0005]"), "{}", stderr(&out));
}

// ----- documentation -----

/// The ```rollout blocks of docs/import-export.md check cleanly.
#[test]
fn import_export_doc_examples_check() {
    let text = std::fs::read_to_string(manifest().join("docs/import-export.md")).expect("doc");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim_start() == "```rollout" => current = Some(String::new()),
            Some(_) if line.trim_start() == "```" => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    assert!(
        !blocks.is_empty(),
        "docs/import-export.md has no rollout blocks"
    );
    for block in &blocks {
        let checked = rollc::import::verify(block, Path::new("doc.rollout"));
        let errors: Vec<&Diagnostic> = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        assert!(
            errors.is_empty(),
            "a block of docs/import-export.md does not check:\n{block}"
        );
    }
}
