//! `rollc check --fleet`: coverage, overlaps, empty stages, labels outside the schema and
//! counts after rounding, through the binary, with expected results per cluster.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const FLEET: &str = r#"# Six clusters over two regions; `zone` only on some.
clusters:
  - { name: a1, server: "https://a1:6443", labels: { region: eu-west-1, zone: a, tier: web } }
  - { name: a2, server: "https://a2:6443", labels: { region: eu-west-1, zone: b, tier: web } }
  - { name: a3, server: "https://a3:6443", labels: { region: eu-west-1, tier: db } }
  - { name: b1, server: "https://b1:6443", labels: { region: us-east-1, zone: a, tier: web } }
  - { name: b2, server: "https://b2:6443", labels: { region: us-east-1, tier: batch } }
  - { name: c1, server: "https://c1:6443", labels: { region: ap-south-1, tier: web } }
"#;

fn run(dir: &Path, strategy: &str, fleet: &str) -> (Option<i32>, Vec<Value>, String) {
    std::fs::write(dir.join("s.rollout"), strategy).expect("write strategy");
    std::fs::write(dir.join("fleet.yaml"), fleet).expect("write fleet");
    let out = Command::new(env!("CARGO_BIN_EXE_rollc"))
        .current_dir(dir)
        .args([
            "check",
            "--format",
            "json",
            "--fleet",
            "fleet.yaml",
            "s.rollout",
        ])
        .output()
        .expect("run rollc");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let diags: Vec<Value> =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("json ({e}): {stdout}"));
    (
        out.status.code(),
        diags,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn with_code<'a>(diags: &'a [Value], code: &str) -> Vec<&'a Value> {
    diags.iter().filter(|d| d["code"] == code).collect()
}

fn clusters(d: &Value) -> Vec<&str> {
    d["data"]["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .map(|c| c.as_str().unwrap_or("?"))
        .collect()
}

#[test]
fn coverage_overlap_and_counts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let strategy = r#"rollout "r" {
  target appset "x"
  stage "canary" { select region == "eu-west-1"; limit 1; spread by zone }
  stage "web" { select tier == "web"; batch 50% }
  stage "eu" { select region == "eu-west-1" }
  stage "nothing" { select region == "sa-east-1" }
}
"#;
    let (code, diags, stderr) = run(dir.path(), strategy, FLEET);
    assert_eq!(
        code,
        Some(0),
        "warnings and notes only: {diags:#?} {stderr}"
    );

    // Counts after rounding, as data: canary takes 1 of 3 candidates; web takes a2 (a1 went
    // to the canary), b1, c1: 3 clusters, batch 50% of 3 = 1.
    let counts = with_code(&diags, "R0405");
    assert_eq!(counts.len(), 4);
    let canary = &counts[0]["data"];
    assert_eq!(
        (
            canary["stage"].as_str(),
            canary["candidates"].as_u64(),
            canary["clusters"].as_u64(),
            canary["limit"].as_u64()
        ),
        (Some("canary"), Some(3), Some(1), Some(1))
    );
    let web = &counts[1]["data"];
    assert_eq!(
        (
            web["selected"].as_u64(),
            web["clusters"].as_u64(),
            web["batch"].as_u64()
        ),
        (Some(4), Some(3), Some(1))
    );

    // `eu` overlaps `web` on a2 (web has no limit), but not the canary's a1 (a limit's
    // leftovers flow on by design).
    let overlaps = with_code(&diags, "R0402");
    assert_eq!(overlaps.len(), 1);
    assert_eq!(overlaps[0]["data"]["first"], "web");
    assert_eq!(overlaps[0]["data"]["second"], "eu");
    assert_eq!(clusters(overlaps[0]), ["a2"]);

    // `nothing` selects nothing; b2 is never updated.
    let empty = with_code(&diags, "R0403");
    assert_eq!(empty.len(), 1);
    assert!(
        empty[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("`nothing`")
    );
    let uncovered = with_code(&diags, "R0401");
    assert_eq!(uncovered.len(), 1);
    assert_eq!(clusters(uncovered[0]), ["b2"]);
}

#[test]
fn spread_takes_one_cluster_per_domain_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    // `limit 2 spread by region` takes two clusters from two different regions.
    let strategy = "rollout \"r\" {\n  target appset \"x\"\n  stage \"c\" { select all; limit 2; spread by region }\n}\n";
    let (_, diags, _) = run(dir.path(), strategy, FLEET);
    let uncovered = with_code(&diags, "R0401");
    // Regions sorted: ap-south-1 (c1), eu-west-1 (a1): those two are taken.
    let left = clusters(uncovered[0]);
    assert_eq!(left, ["a2", "a3", "b1", "b2"]);
}

#[test]
fn labels_outside_the_schema_point_into_the_fleet_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let strategy = r#"fleet {
  label region: "eu-west-1" | "us-east-1" | "ap-south-1"
  label tier: "web" | "db"
}
rollout "r" { target appset "x"; stage "all" { select all } }
"#;
    let (_, diags, _) = run(dir.path(), strategy, FLEET);
    let outside = with_code(&diags, "R0404");
    assert_eq!(outside.len(), 1, "{diags:#?}");
    assert!(
        outside[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("`batch`")
    );
    assert_eq!(outside[0]["file"], "fleet.yaml");
    assert_eq!(outside[0]["line"], 7, "points at b2's entry");
    assert_eq!(clusters(outside[0]), ["b2"]);
}

#[test]
fn malformed_and_missing_fleets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let strategy = "rollout \"r\" { target appset \"x\"; stage \"all\" { select all } }\n";
    let (code, diags, _) = run(
        dir.path(),
        strategy,
        "clusters:\n  - name: a\n    labels: { x: y }\n",
    );
    assert_eq!(code, Some(1));
    let invalid = with_code(&diags, "R0406");
    assert_eq!(invalid.len(), 1, "{diags:#?}");
    assert!(
        invalid[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("server")
    );
    assert_eq!(invalid[0]["file"], "fleet.yaml");

    let out = Command::new(env!("CARGO_BIN_EXE_rollc"))
        .current_dir(dir.path())
        .args(["check", "--fleet", "missing.yaml", "s.rollout"])
        .output()
        .expect("run rollc");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));
}

#[test]
fn every_example_against_the_example_fleet() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_rollc"))
        .current_dir(root)
        .args([
            "check",
            "--format",
            "json",
            "--fleet",
            "examples/fleet.yaml",
            "examples",
        ])
        .output()
        .expect("run rollc");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let diags: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert!(diags.iter().all(|d| d["severity"] != "error"));
    // Every stage of every example gets its counts.
    assert!(with_code(&diags, "R0405").len() >= 10);
}
