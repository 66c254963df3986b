//! The planner and `rollc plan`: golden plans of every example against the example fleet
//! (table and JSON, through the binary), the planner's rules on small hand-built
//! strategies (rounding, spread, `limit ... per`, in-flight caps, requeue, holds), the
//! Mermaid chart's structure, `--diff`, IR input, exit codes, and agreement with
//! `check --fleet`.
//!
//! Run with `cargo test --test plan`; review snapshot changes with `cargo insta review`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rollc::fleet::{Cluster, Fleet};
use rollc::ir::{self, Attr, Count, Limit, MaxInFlight, OrderBy, Requeue, Selector};
use rollc::plan::{self, Options, Plan, StagePlan};
use serde_json::Value;

// ----- helpers -----

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rollc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run rollc")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}

fn examples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(manifest().join("examples"))
        .expect("examples/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rollout"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no examples found");
    names
}

fn cluster(name: &str, labels: &[(&str, &str)]) -> Cluster {
    Cluster::new(
        name,
        format!("https://{name}.example.com"),
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn label(key: &str, value: &str) -> Selector {
    Selector::Eq {
        key: Attr::Label(key.into()),
        value: value.into(),
    }
}

/// A stage with every field at its default.
fn stage(name: &str, select: Selector) -> ir::Stage {
    ir::Stage::new(name, select)
}

fn strategy(stages: Vec<ir::Stage>) -> ir::Strategy {
    ir::Strategy {
        version: ir::VERSION.into(),
        source: "test.rollout".into(),
        rollouts: vec![ir::Rollout {
            name: "r".into(),
            target: ir::Target::AppSet {
                name: "app".into(),
                namespace: "argocd".into(),
                project: None,
            },
            on_new_revision: ir::NewRevisionPolicy::Queue,
            stages,
        }],
    }
}

fn plan_of(stages: Vec<ir::Stage>, clusters: Vec<Cluster>) -> Vec<StagePlan> {
    let plan = plan::plan(&strategy(stages), &Fleet::new(clusters));
    plan.rollouts
        .into_iter()
        .next()
        .expect("one rollout")
        .stages
}

/// Ten clusters `c0`..`c9` in regions `a` (c0–c4) and `b` (c5–c9).
fn ten() -> Vec<Cluster> {
    (0..10)
        .map(|i| {
            cluster(
                &format!("c{i}"),
                &[("region", if i < 5 { "a" } else { "b" })],
            )
        })
        .collect()
}

// ----- golden plans of the examples -----

#[test]
fn golden_example_plans() {
    let root = manifest();
    for name in examples() {
        let file = format!("examples/{name}");
        let stem = name.trim_end_matches(".rollout");
        for (format, ext) in [("table", "txt"), ("json", "json")] {
            let out = rollc_in(
                &root,
                &[
                    "plan",
                    &file,
                    "--fleet",
                    "examples/fleet.yaml",
                    "-o",
                    format,
                ],
            );
            assert_exit(&out, 0);
            assert!(stderr(&out).is_empty(), "{name}: stderr: {}", stderr(&out));
            let text = stdout(&out);
            if format == "json" {
                let plan: Plan = serde_json::from_str(&text).expect("the plan reads back");
                assert_eq!(
                    serde_json::to_string_pretty(&plan).expect("json") + "\n",
                    text,
                    "{name}: JSON does not round-trip"
                );
            }
            insta::assert_snapshot!(format!("{stem}.{ext}"), text);
        }
    }
}

/// The JSON contract of the issue, field by field.
#[test]
fn json_contract() {
    let out = rollc_in(
        &manifest(),
        &[
            "plan",
            "examples/skyscanner.rollout",
            "--fleet",
            "examples/fleet.yaml",
            "--output",
            "json",
        ],
    );
    assert_exit(&out, 0);
    let v: Value = serde_json::from_str(&stdout(&out)).expect("json");
    let rollout = &v["rollouts"][0];
    assert_eq!(rollout["name"], "my-app-set");
    assert!(rollout["uncovered"].is_array());
    let canary = &rollout["stages"][0];
    assert_eq!(canary["name"], "canary in EMEA");
    assert_eq!(canary["limit"], 2);
    assert_eq!(canary["batch"], 2);
    // Two EMEA clusters from two different regions, started together.
    let clusters: Vec<&str> = canary["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .map(|c| c.as_str().expect("name"))
        .collect();
    assert_eq!(clusters, ["prod-euc1-01", "prod-euw1-01"]);
    assert_eq!(canary["waves"], serde_json::json!([clusters]));
    assert!(canary["deferred"].is_array());
    // A stage without a limit has `"limit": null`, not a missing field.
    let euw1 = &rollout["stages"][1];
    assert!(euw1.get("limit").is_some_and(Value::is_null));
    // eu-west-1: 5 clusters, the canary took one; `batch 25%` of 4 is 1; the drained
    // prod-euw1-03 is deferred to the end.
    assert_eq!(euw1["batch"], 1);
    assert_eq!(euw1["deferred"], serde_json::json!(["prod-euw1-03"]));
    let last = euw1["clusters"]
        .as_array()
        .expect("clusters")
        .last()
        .cloned();
    assert_eq!(last, Some(Value::from("prod-euw1-03")));
    assert_eq!(v["sync_time_seconds"], 300);
}

// ----- the planner's rules -----

#[test]
fn limit_and_batch_round_by_the_rule() {
    /// `limit`, `batch` → expected limit, clusters taken, batch.
    type Case = (Option<Count>, Count, Option<u64>, usize, u64);
    // §6 worked examples, on 10 candidates.
    let cases: &[Case] = &[
        (None, Count::Percent(25), None, 10, 2),
        (None, Count::Percent(5), None, 10, 1),
        (Some(Count::Percent(25)), Count::Percent(25), Some(2), 2, 1),
        (Some(Count::Percent(50)), Count::Percent(100), Some(5), 5, 5),
        (Some(Count::Int(3)), Count::Percent(50), Some(3), 3, 1),
        (Some(Count::Int(20)), Count::Int(1), Some(10), 10, 1),
        (Some(Count::Int(0)), Count::Int(1), Some(0), 0, 0),
        (None, Count::Int(0), None, 10, 0),
    ];
    for &(limit, batch, want_limit, want_clusters, want_batch) in cases {
        let mut s = stage("s", Selector::All);
        s.limit = limit.map(|count| Limit { count, per: None });
        s.batch = batch;
        let p = &plan_of(vec![s], ten())[0];
        let case = format!("limit {limit:?} batch {batch:?}");
        assert_eq!(p.limit, want_limit, "{case}");
        assert_eq!(p.clusters.len(), want_clusters, "{case}");
        assert_eq!(p.batch, want_batch, "{case}");
        assert_eq!(p.candidates, 10, "{case}");
        let hold = matches!(limit, Some(Count::Int(0))) || batch == Count::Int(0);
        assert_eq!(p.hold, hold, "{case}");
        if hold {
            assert!(p.waves.is_empty(), "{case}: a hold has no waves");
        }
    }
}

#[test]
fn a_limit_leaves_the_rest_to_later_stages() {
    let mut canary = stage("canary", Selector::All);
    canary.limit = Some(Limit {
        count: Count::Int(2),
        per: None,
    });
    let rest = stage("rest", label("region", "b"));
    let plans = plan_of(vec![canary, rest], ten());
    assert_eq!(plans[0].clusters, ["c0", "c1"]);
    assert_eq!(plans[1].clusters, ["c5", "c6", "c7", "c8", "c9"]);
    let plan = plan::plan(
        &strategy(vec![stage("only b", label("region", "b"))]),
        &Fleet::new(ten()),
    );
    assert_eq!(plan.rollouts[0].uncovered, ["c0", "c1", "c2", "c3", "c4"]);
}

#[test]
fn limit_two_spread_by_region_takes_two_regions() {
    let mut s = stage("canary", Selector::All);
    s.limit = Some(Limit {
        count: Count::Int(2),
        per: None,
    });
    s.batch = Count::Int(2);
    s.spread_by = Some("region".into());
    let p = &plan_of(vec![s], ten())[0];
    assert_eq!(p.clusters, ["c0", "c5"]);
    assert_eq!(p.waves, [vec!["c0", "c5"]]);
}

#[test]
fn spread_alternates_then_runs_out() {
    let mut clusters = ten();
    clusters.push(cluster("x1", &[]));
    clusters.push(cluster("x2", &[("region", "a")]));
    let mut s = stage("all", Selector::All);
    s.spread_by = Some("region".into());
    let p = &plan_of(vec![s], clusters)[0];
    // a: c0..c4, x2; b: c5..c9; unlabelled: x1 (visited last).
    assert_eq!(
        p.clusters,
        [
            "c0", "c5", "x1", "c1", "c6", "c2", "c7", "c3", "c8", "c4", "c9", "x2"
        ]
    );
}

#[test]
fn limit_per_key_with_percentages_per_group() {
    let mut clusters = ten();
    clusters.push(cluster("n1", &[]));
    let mut s = stage("per region", Selector::All);
    s.limit = Some(Limit {
        count: Count::Percent(40),
        per: Some("region".into()),
    });
    let p = &plan_of(vec![s], clusters)[0];
    // 40% of 5 is 2 per region; the unlabelled group of 1 gets at least 1.
    assert_eq!(p.clusters, ["c0", "c1", "c5", "c6", "n1"]);
    assert_eq!(p.limit, Some(5));
}

#[test]
fn order_by_label_numeric_desc_missing_last() {
    let clusters = vec![
        cluster("a", &[("weight", "2")]),
        cluster("b", &[("weight", "10")]),
        cluster("c", &[]),
        cluster("d", &[("weight", "10")]),
    ];
    let mut s = stage("s", Selector::All);
    s.order_by = OrderBy {
        key: Attr::Label("weight".into()),
        descending: true,
    };
    let p = &plan_of(vec![s], clusters)[0];
    assert_eq!(p.clusters, ["b", "d", "a", "c"]);
}

#[test]
fn max_in_flight_waves_let_later_clusters_through() {
    // Zones: c0 z1, c1 z1, c2 z2, c3 z1, c4 z2, c5 z3; batch 3, one per zone.
    let zones = ["z1", "z1", "z2", "z1", "z2", "z3"];
    let clusters: Vec<Cluster> = zones
        .iter()
        .enumerate()
        .map(|(i, z)| cluster(&format!("c{i}"), &[("zone", z)]))
        .collect();
    let mut s = stage("s", Selector::All);
    s.batch = Count::Int(3);
    s.max_in_flight = Some(MaxInFlight {
        count: 1,
        per: "zone".into(),
    });
    let p = &plan_of(vec![s], clusters)[0];
    assert_eq!(
        p.waves,
        [vec!["c0", "c2", "c5"], vec!["c1", "c4"], vec!["c3"]]
    );
    // `clusters` is the start order: the waves one after another.
    assert_eq!(p.clusters, ["c0", "c2", "c5", "c1", "c4", "c3"]);
}

#[test]
fn requeue_defers_to_the_end_in_waves_of_their_own() {
    let mut clusters = ten();
    clusters[1].labels.insert("drained".into(), "true".into());
    clusters[6].labels.insert("drained".into(), "true".into());
    let mut s = stage("s", Selector::All);
    s.batch = Count::Int(4);
    s.requeue = Some(Requeue {
        when: label("drained", "true"),
        attempts: 3,
        every_seconds: 900,
    });
    let p = &plan_of(vec![s], clusters)[0];
    assert_eq!(p.deferred, ["c1", "c6"]);
    assert_eq!(
        p.waves,
        [
            vec!["c0", "c2", "c3", "c4"],
            vec!["c5", "c7", "c8", "c9"],
            vec!["c1", "c6"]
        ]
    );
    // Deferred clusters keep their place in the limit: a limit of 2 takes c0 and c1 even
    // though c1 is drained.
    let mut clusters = ten();
    clusters[1].labels.insert("drained".into(), "true".into());
    let mut s = stage("s", Selector::All);
    s.limit = Some(Limit {
        count: Count::Int(2),
        per: None,
    });
    s.requeue = Some(Requeue {
        when: label("drained", "true"),
        attempts: 3,
        every_seconds: 900,
    });
    let p = &plan_of(vec![s], clusters)[0];
    assert_eq!(p.clusters, ["c0", "c1"]);
    assert_eq!(p.waves, [vec!["c0"], vec!["c1"]]);
}

#[test]
fn estimate_counts_waves_bakes_and_metric_windows() {
    let mut s = stage("s", Selector::All);
    s.batch = Count::Int(4); // 10 clusters: 3 waves
    s.bake_each_seconds = 60;
    s.bake_seconds = 3600;
    s.gates = vec![
        ir::Gate::Metric {
            url: "https://prom".into(),
            query: "up".into(),
            comparison: ir::Comparison::Below,
            threshold: 1.0,
            window_seconds: 600,
            every_seconds: 60,
        },
        ir::Gate::Approval { reason: None },
    ];
    let second = stage("second", Selector::All); // takes nothing
    let plan = plan::plan_with(
        &strategy(vec![s, second]),
        &Fleet::new(ten()),
        Options {
            sync_time_seconds: 120,
        },
    );
    let r = &plan.rollouts[0];
    assert_eq!(r.stages[0].estimated_seconds, 3 * (120 + 60) + 3600 + 600);
    assert_eq!(r.stages[1].start_seconds, r.stages[0].estimated_seconds);
    assert_eq!(r.stages[1].estimated_seconds, 0);
    assert_eq!(r.estimated_seconds, 3 * 180 + 4200);
    assert_eq!(plan.sync_time_seconds, 120);
}

#[test]
fn plans_are_deterministic_whatever_the_fleet_order() {
    let mut s = stage("s", Selector::All);
    s.spread_by = Some("region".into());
    s.batch = Count::Percent(30);
    let forward = plan_of(vec![s.clone()], ten());
    let mut reversed = ten();
    reversed.reverse();
    assert_eq!(forward, plan_of(vec![s], reversed));
}

#[test]
fn holds_and_empty_stages_in_the_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("fleet.yaml"), DIFF_FLEET).expect("write");
    std::fs::write(
        dir.path().join("s.rollout"),
        r#"rollout "web" {
  target appset "web"
  stage "held" { select region == "a"; batch 0 }
  stage "nothing" { select region == "zz" }
  stage "limit hold" { select all; limit 0 }
  stage "rest" { select all; batch 50%; bake 10m; gate approval "ok?" }
}
"#,
    )
    .expect("write");
    let out = rollc_in(dir.path(), &["plan", "s.rollout", "--fleet", "fleet.yaml"]);
    assert_exit(&out, 0);
    // The approval after the last stage is a warning, shown on stderr only.
    assert!(stderr(&out).contains("warning[R0310]"), "{}", stderr(&out));
    insta::assert_snapshot!("holds.txt", stdout(&out));
}

// ----- mermaid -----

#[test]
fn mermaid_gantt_structure() {
    let out = rollc_in(
        &manifest(),
        &[
            "plan",
            "examples/canary-per-region.rollout",
            "--fleet",
            "examples/fleet.yaml",
            "-o",
            "mermaid",
        ],
    );
    assert_exit(&out, 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "gantt");
    assert!(
        lines
            .iter()
            .any(|l| l.trim() == "dateFormat YYYY-MM-DD HH:mm:ss")
    );
    assert!(lines.iter().any(|l| l.trim().starts_with("axisFormat ")));
    let sections: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix("section "))
        .collect();
    assert_eq!(sections.len(), 8, "a section per stage: {sections:?}");
    assert_eq!(sections[0], "staging");
    // Every task line is `NAME :[tags, ]ID, START, END` with no raw `:`, `#` or `;` in
    // the name, and ids are unique.
    let mut ids = std::collections::HashSet::new();
    let mut milestones = 0;
    for line in &lines[1..] {
        let t = line.trim();
        if ["title ", "dateFormat ", "axisFormat ", "section "]
            .iter()
            .any(|k| t.starts_with(k))
        {
            assert!(!t.contains(['#', ';']) || t.contains("#58;") || t.contains("#35;"));
            continue;
        }
        let (name, data) = t.split_once(" :").expect("task line");
        assert!(!name.contains(':') && !name.contains(';'), "{t}");
        let parts: Vec<&str> = data.split(", ").collect();
        if parts[0] == "milestone" {
            milestones += 1;
        }
        assert!(
            ids.insert(parts[parts.len() - 3].to_string()),
            "duplicate id: {t}"
        );
        assert!(
            parts[parts.len() - 1] >= parts[parts.len() - 2],
            "ends before it starts: {t}"
        );
    }
    // The canary stage's webhook gate is a milestone; its metric gate a bar.
    assert!(milestones >= 1);
    assert!(text.contains("metric gate below 0.01 for 15m :crit, "));
}

#[test]
fn mermaid_escapes_colons_and_hashes() {
    assert_eq!(
        plan::render::mermaid_escape("eu: #1; 50%"),
        "eu#58; #35;1#59; 50#37;"
    );
    let mut s = stage("stage: #1", Selector::All);
    s.bake_seconds = 60;
    let plan = plan::plan(&strategy(vec![s]), &Fleet::new(ten()));
    let chart = plan::render::mermaid(&plan);
    assert!(chart.contains("  section stage#58; #35;1\n"), "{chart}");
}

// ----- --diff -----

const DIFF_FLEET: &str = "clusters:
  - { name: a1, server: https://a1, labels: { region: a, ring: \"1\" } }
  - { name: a2, server: https://a2, labels: { region: a, ring: \"2\" } }
  - { name: b1, server: https://b1, labels: { region: b, ring: \"1\" } }
  - { name: b2, server: https://b2, labels: { region: b, ring: \"2\" } }
";

const DIFF_V1: &str = r#"rollout "web" {
  target appset "web"
  stage "ring 1" { select ring == "1" }
  stage "rest" { select all; batch 2 }
}
"#;

/// a2 joins the first stage; the first stage's batch makes b1 move up from wave 2.
const DIFF_V2: &str = r#"rollout "web" {
  target appset "web"
  stage "ring 1" { select ring == "1" or cluster.name == "a2"; batch 3 }
  stage "rest" { select all; batch 2 }
}
"#;

#[test]
fn diff_shows_the_moved_clusters() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("fleet.yaml"), DIFF_FLEET).expect("write");
    std::fs::write(dir.path().join("s.rollout"), DIFF_V1).expect("write");
    let old = rollc_in(
        dir.path(),
        &["plan", "s.rollout", "--fleet", "fleet.yaml", "-o", "json"],
    );
    assert_exit(&old, 0);
    std::fs::write(dir.path().join("old.json"), old.stdout).expect("write");

    // Unchanged: says so.
    let same = rollc_in(
        dir.path(),
        &[
            "plan",
            "s.rollout",
            "--fleet",
            "fleet.yaml",
            "--diff",
            "old.json",
        ],
    );
    assert_exit(&same, 0);
    assert!(stdout(&same).starts_with("no changes"), "{}", stdout(&same));

    std::fs::write(dir.path().join("s.rollout"), DIFF_V2).expect("write");
    // A new cluster too: c1 appears.
    let fleet2 =
        format!("{DIFF_FLEET}  - {{ name: c1, server: https://c1, labels: {{ ring: \"2\" }} }}\n");
    std::fs::write(dir.path().join("fleet.yaml"), fleet2).expect("write");
    let text = rollc_in(
        dir.path(),
        &[
            "plan",
            "s.rollout",
            "--fleet",
            "fleet.yaml",
            "--diff",
            "old.json",
        ],
    );
    assert_exit(&text, 0);
    insta::assert_snapshot!("diff.txt", stdout(&text));

    let json = rollc_in(
        dir.path(),
        &[
            "plan",
            "s.rollout",
            "--fleet",
            "fleet.yaml",
            "--diff",
            "old.json",
            "-o",
            "json",
        ],
    );
    assert_exit(&json, 0);
    let diff: plan::Diff = serde_json::from_str(&stdout(&json)).expect("diff json");
    let changes: Vec<(&str, plan::DiffKind)> = diff.rollouts[0]
        .clusters
        .iter()
        .map(|c| (c.cluster.as_str(), c.kind))
        .collect();
    assert_eq!(
        changes,
        [
            ("a2", plan::DiffKind::Stage),
            ("b1", plan::DiffKind::Wave),
            ("c1", plan::DiffKind::Appeared),
        ]
    );
    let a2 = &diff.rollouts[0].clusters[0];
    assert_eq!(
        a2.from.as_ref().and_then(|p| p.stage.as_deref()),
        Some("rest")
    );
    assert_eq!(
        a2.to.as_ref().and_then(|p| p.stage.as_deref()),
        Some("ring 1")
    );
}

#[test]
fn diff_reads_a_plan_reduced_to_the_contract() {
    let old = r#"{"rollouts":[{"name":"web","stages":[{"name":"ring 1","clusters":["a1"],
        "batch":1,"limit":null,"waves":[["a1"]],"deferred":[]}],"uncovered":["gone"]}]}"#;
    let old: Plan = serde_json::from_str(old).expect("the contract alone reads");
    let new = plan::plan(
        &strategy(vec![stage("ring 1", Selector::All)]),
        &Fleet::new(vec![cluster("a1", &[])]),
    );
    let mut new = new;
    new.rollouts[0].name = "web".into();
    let diff = plan::diff(&old, &new);
    let kinds: Vec<plan::DiffKind> = diff.rollouts[0].clusters.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [plan::DiffKind::Disappeared]);
}

// ----- inputs and exit codes -----

#[test]
fn ir_input_plans_like_the_source() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = manifest();
    let strategy_file = root.join("examples/rings.rollout");
    let checked = rollc::check::check(
        &rollc::resolve::FileSystem,
        &[rollc::check::Root::file(&strategy_file)],
    );
    let program = checked.programs[0].as_ref().expect("program");
    let ir = ir::compile(program, "examples/rings.rollout");
    std::fs::write(dir.path().join("rings.json"), ir.to_json()).expect("write");
    let fleet = root.join("examples/fleet.yaml");
    let fleet = fleet.to_str().expect("utf-8 path");
    let from_ir = rollc_in(
        dir.path(),
        &["plan", "rings.json", "--fleet", fleet, "-o", "json"],
    );
    assert_exit(&from_ir, 0);
    let from_source = rollc_in(
        dir.path(),
        &[
            "plan",
            strategy_file.to_str().expect("utf-8 path"),
            "--fleet",
            fleet,
            "-o",
            "json",
        ],
    );
    assert_exit(&from_source, 0);
    assert_eq!(stdout(&from_ir), stdout(&from_source));

    // Another version is refused with exit 1 and a message naming the file.
    let other = ir.to_json().replace(ir::VERSION, "rollc.dev/strategy/v9");
    std::fs::write(dir.path().join("v9.json"), other).expect("write");
    let out = rollc_in(dir.path(), &["plan", "v9.json", "--fleet", fleet]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("`v9.json`"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rollc.dev/strategy/v9"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn exit_codes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::write(d.join("fleet.yaml"), DIFF_FLEET).expect("write");
    std::fs::write(d.join("ok.rollout"), DIFF_V1).expect("write");
    std::fs::write(
        d.join("bad.rollout"),
        "rollout \"x\" {\n  target appset \"x\"\n  stage \"s\" { select ring = \"1\" }\n}\n",
    )
    .expect("write");
    std::fs::write(d.join("broken.yaml"), "clusters:\n  - { name: a }\n").expect("write");
    std::fs::write(d.join("junk.json"), "{ not json").expect("write");

    let ok = rollc_in(d, &["plan", "ok.rollout", "--fleet", "fleet.yaml"]);
    assert_exit(&ok, 0);
    assert!(stdout(&ok).contains("rollout `web`"));

    // Errors in the strategy: diagnostics as `check` prints them, on stderr; exit 1.
    let bad = rollc_in(d, &["plan", "bad.rollout", "--fleet", "fleet.yaml"]);
    assert_exit(&bad, 1);
    assert!(stderr(&bad).contains("error[R0005]"), "{}", stderr(&bad));
    assert!(stdout(&bad).is_empty());

    // A malformed fleet: diagnostics with file and line; exit 1.
    let broken = rollc_in(d, &["plan", "ok.rollout", "--fleet", "broken.yaml"]);
    assert_exit(&broken, 1);
    assert!(
        stderr(&broken).contains("broken.yaml:2"),
        "{}",
        stderr(&broken)
    );

    // Unreadable files: exit 2.
    for args in [
        ["plan", "missing.rollout", "--fleet", "fleet.yaml"],
        ["plan", "ok.rollout", "--fleet", "missing.yaml"],
        ["plan", "missing.json", "--fleet", "fleet.yaml"],
    ] {
        let out = rollc_in(d, &args);
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("cannot read `missing."),
            "{}",
            stderr(&out)
        );
    }
    let out = rollc_in(
        d,
        &[
            "plan",
            "ok.rollout",
            "--fleet",
            "fleet.yaml",
            "--diff",
            "missing.json",
        ],
    );
    assert_exit(&out, 2);

    // Not an IR, not a plan: exit 1.
    let out = rollc_in(d, &["plan", "junk.json", "--fleet", "fleet.yaml"]);
    assert_exit(&out, 1);
    let out = rollc_in(
        d,
        &[
            "plan",
            "ok.rollout",
            "--fleet",
            "fleet.yaml",
            "--diff",
            "junk.json",
        ],
    );
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("is not a plan"), "{}", stderr(&out));

    // Bad usage: exit 2.
    let out = rollc_in(
        d,
        &[
            "plan",
            "ok.rollout",
            "--fleet",
            "fleet.yaml",
            "--sync-time",
            "5",
        ],
    );
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("no unit"), "{}", stderr(&out));
    let out = rollc_in(
        d,
        &[
            "plan",
            "ok.rollout",
            "--fleet",
            "fleet.yaml",
            "--diff",
            "x.json",
            "-o",
            "mermaid",
        ],
    );
    assert_exit(&out, 2);

    // --sync-time is recorded and used.
    let out = rollc_in(
        d,
        &[
            "plan",
            "ok.rollout",
            "--fleet",
            "fleet.yaml",
            "--sync-time",
            "1h30m",
            "-o",
            "json",
        ],
    );
    assert_exit(&out, 0);
    let v: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(v["sync_time_seconds"], 5400);
}

// ----- agreement with check --fleet -----

#[test]
fn check_fleet_agrees_with_the_plan() {
    let root = manifest();
    for name in examples() {
        let file = format!("examples/{name}");
        let check = rollc_in(
            &root,
            &[
                "check",
                "--format",
                "json",
                "--fleet",
                "examples/fleet.yaml",
                &file,
            ],
        );
        let diags: Vec<Value> = serde_json::from_str(&stdout(&check)).expect("check json");
        let plan = rollc_in(
            &root,
            &[
                "plan",
                &file,
                "--fleet",
                "examples/fleet.yaml",
                "-o",
                "json",
            ],
        );
        let plan: Plan = serde_json::from_str(&stdout(&plan)).expect("plan json");
        let counts: Vec<&Value> = diags
            .iter()
            .filter(|d| d["code"] == "R0405")
            .map(|d| &d["data"])
            .collect();
        let stages: Vec<&StagePlan> = plan.rollouts.iter().flat_map(|r| &r.stages).collect();
        assert_eq!(counts.len(), stages.len(), "{name}");
        for (data, stage) in counts.iter().zip(stages) {
            assert_eq!(data["stage"], stage.name.as_str(), "{name}");
            assert_eq!(data["clusters"], stage.clusters.len() as u64, "{name}");
            assert_eq!(data["selected"], stage.selected, "{name}");
            assert_eq!(data["candidates"], stage.candidates, "{name}");
            assert_eq!(data["batch"], stage.batch, "{name}");
            assert_eq!(data["limit"], serde_json::json!(stage.limit), "{name}");
        }
    }
}
