//! Gates inside a run, end to end through the binary: `rollc apply` on a simulated fleet
//! whose stage has a webhook gate (a real HTTP server on 127.0.0.1) and a metric gate (a
//! real Prometheus, backfilled with a known series). The run's virtual clock starts inside
//! the backfilled data, so each metric sample is a query at the run's time.

// Shared with tests/gates.rs, which uses parts this file does not.
#[allow(dead_code)]
#[path = "support/prometheus.rs"]
mod prometheus;
#[allow(dead_code)]
#[path = "support/webhook_server.rs"]
mod webhook_server;

use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use prometheus::Prometheus;
use webhook_server::{Reply, Server};

/// Where the backfilled series starts.
const T0: &str = "2026-11-02T09:00:00Z";

/// `rollc_e2e_error_ratio{app="search"}`: 0.002 every minute for an hour from T0, then 0.05
/// (an incident) for another hour.
fn series() -> String {
    let t0: Timestamp = T0.parse().unwrap();
    let mut text = String::new();
    text.push_str("# HELP rollc_e2e_error_ratio Share of failed requests.\n");
    text.push_str("# TYPE rollc_e2e_error_ratio gauge\n");
    for minute in 0..=120 {
        let t = t0 + SignedDuration::from_mins(minute);
        let value = if minute < 60 { 0.002 } else { 0.05 };
        text.push_str(&format!(
            "rollc_e2e_error_ratio{{app=\"search\"}} {value} {}\n",
            t.as_second()
        ));
    }
    text.push_str("# EOF\n");
    text
}

const FLEET: &str = r#"
defaults:
  revision: "b2"
  deployed: "b1"
  sync: 4m
clusters:
  - {name: canary-1, server: "https://c1.example.com", labels: {ring: "0"}}
  - {name: canary-2, server: "https://c2.example.com", labels: {ring: "0"}}
  - {name: rest-1, server: "https://r1.example.com", labels: {ring: "1"}}
  - {name: rest-2, server: "https://r2.example.com", labels: {ring: "1"}}
"#;

fn strategy(webhook: &str, prometheus: &str) -> String {
    format!(
        r#"
rollout "gated" {{
  target appset "gated" in "argocd"
  stage "canary" {{
    select ring == "0"
    batch 100%
    on failure abort
    gate webhook "{webhook}/smoke" timeout 5s retries 1 insecure
    gate metric prometheus "{prometheus}" query "sum(rollc_e2e_error_ratio{{app=\"search\"}})" below 0.01 for 10m every 1m
  }}
  stage "rest" {{
    select ring != "0"
    batch 2
  }}
}}
"#
    )
}

/// Runs `rollc apply` in `dir` (off the async runtime, so the webhook server keeps
/// answering); returns the exit code and the events.
async fn apply(dir: &Path, start: Timestamp) -> (i32, Vec<Value>) {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rollc"))
            .arg("apply")
            .arg(dir.join("s.rollout"))
            .arg("--fleet")
            .arg(format!("sim:{}", dir.join("fleet.yaml").display()))
            .arg("--state")
            .arg(dir.join("state"))
            .arg("--events")
            .arg(dir.join("events.jsonl"))
            .arg("--start")
            .arg(start.to_string())
            .arg("-q")
            .output()
            .unwrap();
        let events = std::fs::read_to_string(dir.join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), events)
    })
    .await
    .unwrap()
}

fn setup(webhook: &str, prometheus: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.yaml"), FLEET).unwrap();
    std::fs::write(dir.path().join("s.rollout"), strategy(webhook, prometheus)).unwrap();
    dir
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

fn at(e: &Value) -> Timestamp {
    e["time"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn gates_pass_on_2xx_and_a_metric_that_holds_for_its_window() {
    let prom = Prometheus::start(&series());
    let hook = Server::start(Reply::Status(204, String::new())).await;
    let dir = setup(&hook.base, &prom.url);
    let start: Timestamp = T0.parse().unwrap();
    let (code, events) = apply(dir.path(), start).await;
    assert_eq!(code, 0, "{}", prom.log());

    // The webhook was posted once, with the gate's identity.
    let received = hook.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].path, "/smoke");
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body["stage"], "canary");
    assert_eq!(body["revision"], "b2");
    assert_eq!(body["gate"], 0);
    assert_eq!(body["run_id"], events[0]["run"]);

    // Both gates passed, the metric one after exactly its 10-minute window (11 samples at
    // 1-minute intervals from the gate's start).
    let passed = of_kind(&events, "gate_passed");
    assert_eq!(passed.len(), 2);
    let metric_start = of_kind(&events, "gate_started")
        .into_iter()
        .find(|e| e["gate"] == 1)
        .map(at)
        .unwrap();
    assert_eq!(metric_start, start + SignedDuration::from_mins(4));
    assert_eq!(
        at(passed[1]).duration_since(metric_start),
        SignedDuration::from_mins(10)
    );
    let samples = of_kind(&events, "gate_probe")
        .into_iter()
        .filter(|e| e["gate"] == 1)
        .count();
    assert_eq!(samples, 11);
    for checked in of_kind(&events, "gate_checked") {
        assert_eq!(checked["value"].as_f64(), Some(0.002));
    }
    // The next stage started only after both gates.
    let rest = of_kind(&events, "stage_started")
        .into_iter()
        .find(|e| e["stage"] == "rest")
        .map(at)
        .unwrap();
    assert!(rest >= at(passed[1]));
    assert_eq!(of_kind(&events, "run_succeeded").len(), 1);
}

#[tokio::test]
async fn a_metric_crossing_its_threshold_fails_the_gate_at_that_sample() {
    let prom = Prometheus::start(&series());
    let hook = Server::start(Reply::Status(200, "ok".into())).await;
    let dir = setup(&hook.base, &prom.url);
    // The gate starts at T0+54m; the incident begins at T0+60m.
    let start: Timestamp = T0.parse::<Timestamp>().unwrap() + SignedDuration::from_mins(50);
    let (code, events) = apply(dir.path(), start).await;
    assert_eq!(code, 1);
    let failed = of_kind(&events, "gate_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["gate"], 1);
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("0.05") && reason.contains("below 0.01"),
        "{reason}"
    );
    let incident: Timestamp = T0.parse::<Timestamp>().unwrap() + SignedDuration::from_mins(60);
    assert_eq!(at(failed[0]), incident);
    // `on failure abort`: the run failed and the next stage never started.
    assert_eq!(of_kind(&events, "run_failed").len(), 1);
    assert!(
        of_kind(&events, "stage_started")
            .iter()
            .all(|e| e["stage"] != "rest")
    );
}

#[tokio::test]
async fn a_failing_webhook_is_retried_then_fails_the_stage() {
    let prom = Prometheus::start(&series());
    let hook = Server::start(Reply::Status(500, "smoke suite red".into())).await;
    let dir = setup(&hook.base, &prom.url);
    let start: Timestamp = T0.parse().unwrap();
    let (code, events) = apply(dir.path(), start).await;
    assert_eq!(code, 1);
    // One attempt and one retry, 30 seconds apart.
    assert_eq!(hook.received().len(), 2);
    let probes: Vec<Timestamp> = of_kind(&events, "gate_probe").into_iter().map(at).collect();
    assert_eq!(probes.len(), 2);
    assert_eq!(
        probes[1].duration_since(probes[0]),
        SignedDuration::from_secs(30)
    );
    let failed = of_kind(&events, "gate_failed");
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("500") && reason.contains("smoke suite red") && reason.contains("2 times"),
        "{reason}"
    );
    // The metric gate never ran.
    assert!(
        of_kind(&events, "gate_started")
            .iter()
            .all(|e| e["gate"] == 0)
    );
}
