//! End to end through the built binary against the fake Argo CD (real Kubernetes HTTP,
//! RBAC from deploy/rbac.yaml, an emulated application controller): an ApplicationSet over
//! 24 clusters rolled in waves with batch limits, a per-zone cap, requeue of a drained
//! cluster, bakes, a failing cluster within `tolerate`; then a rollback; with the run state
//! in Kubernetes (ConfigMaps and a Lease) and operator commands from another process.
//!
//! Every test also checks what must never happen: a request outside the Role, a cluster
//! Secret's `config` appearing anywhere rollc writes, an Application polled instead of
//! watched, a sync at another revision than the pinned one.

#[path = "support/fake_argocd/mod.rs"]
mod fake_argocd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use fake_argocd::{FakeArgoCd, Kind, Options, secret_marker};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/argocd_e2e")
        .join(name)
}

struct World {
    fake: FakeArgoCd,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    clusters: Vec<String>,
}

fn world(options: Options) -> World {
    let fleet = fake_argocd::load_fleet(&data("fleet.yaml")).unwrap();
    let clusters = fleet.clusters.iter().map(|c| c.name.clone()).collect();
    let fake = FakeArgoCd::start_in_thread(&fleet, options).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&kubeconfig).unwrap();
    World {
        fake,
        dir,
        kubeconfig,
        clusters,
    }
}

/// Sim minutes run in 100 ms.
fn options() -> Options {
    Options {
        speed: 600.0,
        ..Options::default()
    }
}

impl World {
    fn rollc(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_rollc"))
            .current_dir(self.dir.path())
            .env("ROLLC_NO_BARS", "1")
            .env("NO_COLOR", "1")
            // Nothing from the machine's own kubeconfig.
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .args(args)
            .args(["--kubeconfig", self.kubeconfig.to_str().unwrap()])
            .output()
            .unwrap()
    }

    fn apply(&self, strategy: &str, extra: &[&str]) -> (Output, Vec<Value>) {
        let events = self.dir.path().join(format!("{strategy}.events.jsonl"));
        let mut args = vec![
            "apply",
            strategy,
            "--fleet",
            "argocd",
            "--store",
            "kubernetes",
            "--events",
            events.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let file = data(strategy);
        args[1] = file.to_str().unwrap();
        let out = self.rollc(&args);
        let events = std::fs::read_to_string(&events)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (out, events)
    }

    /// Everything rollc wrote or printed must be free of every Secret's credentials.
    fn assert_no_secret(&self, out: &Output) {
        let mut texts = vec![
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ];
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                texts.push(std::fs::read_to_string(&path).unwrap_or_default());
            }
        }
        for map in self.fake.list(Kind::ConfigMap) {
            texts.push(map.to_string());
        }
        for lease in self.fake.list(Kind::Lease) {
            texts.push(lease.to_string());
        }
        for cluster in &self.clusters {
            let marker = secret_marker(cluster);
            for text in &texts {
                assert!(!text.contains(&marker), "`config` of {cluster} leaked");
            }
        }
    }

    /// Every request rollc made was allowed by deploy/rbac.yaml, and Applications were
    /// watched, not polled.
    fn assert_requests(&self, syncs: usize) {
        let requests = self.fake.requests();
        let forbidden: Vec<String> = requests
            .iter()
            .filter(|r| r.status == 403 && r.resource.is_some())
            .map(|r| format!("{} {} {:?}", r.verb, r.path, r.resource))
            .collect();
        // The access review (a cluster-scoped POST outside the Role) may be refused; rollc
        // skips it. Nothing else may be.
        assert!(
            forbidden
                .iter()
                .all(|f| f.contains("selfsubjectaccessreviews")),
            "requests outside the Role: {forbidden:?}"
        );
        let watches = requests
            .iter()
            .filter(|r| r.verb == "watch" && r.resource.as_deref() == Some("applications"))
            .count();
        assert!(watches >= 1, "Applications were never watched");
        let gets = requests
            .iter()
            .filter(|r| r.verb == "get" && r.resource.as_deref() == Some("applications"))
            .count();
        // One GET before each write (plus conflict retries); never a GET per poll.
        assert!(
            gets <= 2 * syncs + 4,
            "{gets} GETs of Applications for {syncs} syncs: polled instead of watched"
        );
    }
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_appset_of_24_clusters_rolls_in_waves_with_every_limit_kept() {
    let w = world(options());
    let (out, events) = w.apply("strategy.rollout", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let head = w.fake.head();
    let started = of_kind(&events, "run_started");
    assert_eq!(started[0]["revision"], head.as_str());
    assert_eq!(started[0]["previous_revision"], "4a7c0de");

    // Every cluster synced once, at the pinned revision; the failing one within tolerance.
    let syncs = of_kind(&events, "cluster_sync_started");
    assert_eq!(syncs.len(), 24);
    assert!(syncs.iter().all(|e| e["revision"] == head.as_str()));
    let failed = of_kind(&events, "cluster_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["cluster"], "c17");
    assert_eq!(of_kind(&events, "cluster_healthy").len(), 23);
    // The drained cluster was requeued until it came back into service.
    assert!(
        of_kind(&events, "cluster_requeued")
            .iter()
            .any(|e| e["cluster"] == "c09")
    );

    // Batch and per-zone caps across the real, uneven sync times.
    let mut in_flight: Vec<String> = Vec::new();
    for e in &events {
        let cluster = e["cluster"].as_str().unwrap_or("").to_string();
        match e["kind"].as_str().unwrap() {
            "stage_started" => in_flight.clear(),
            "cluster_sync_started" => {
                in_flight.push(cluster);
                let stage = e["stage"].as_str().unwrap();
                let batch = if stage == "canary" { 2 } else { 5 };
                assert!(in_flight.len() <= batch, "{stage}: {in_flight:?}");
                if stage == "broad" {
                    let zone = |c: &str| c[1..].parse::<usize>().unwrap() % 3;
                    let z = zone(in_flight.last().unwrap());
                    assert_eq!(
                        in_flight.iter().filter(|c| zone(c) == z).count(),
                        1,
                        "two clusters of one zone in flight: {in_flight:?}"
                    );
                }
            }
            "cluster_healthy" | "cluster_failed" => in_flight.retain(|c| *c != cluster),
            _ => {}
        }
    }

    // What Argo CD saw: each Application synced by rollc at the pinned revision, with the
    // run and stage named, and the operation cleared afterwards.
    for cluster in &w.clusters {
        let app = w.fake.application(cluster).unwrap();
        assert!(app.get("operation").is_none_or(Value::is_null), "{cluster}");
        let op = &app["status"]["operationState"]["operation"];
        assert_eq!(op["sync"]["revision"], head.as_str(), "{cluster}");
        assert_eq!(op["initiatedBy"]["username"], "rollc", "{cluster}");
        let info = op["info"].to_string();
        assert!(
            info.contains(started[0]["run"].as_str().unwrap()),
            "{cluster}: {info}"
        );
        if cluster != "c17" {
            assert_eq!(
                app["status"]["sync"]["revision"],
                head.as_str(),
                "{cluster}"
            );
            assert_eq!(app["status"]["health"]["status"], "Healthy", "{cluster}");
        }
    }

    // The run lives in Kubernetes: `status` from another process (no local state at all).
    let status = w.rollc(&["status", "--store", "kubernetes", "--output", "json"]);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    let report: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(report["state"], "succeeded");
    assert_eq!(report["stages"][1]["failed_clusters"][0], "c17");
    assert!(!w.dir.path().join(".rollc").exists());
    let maps: Vec<String> = w
        .fake
        .list(Kind::ConfigMap)
        .iter()
        .map(|m| m["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(maps.iter().any(|m| m == "rollc-current"), "{maps:?}");
    assert!(maps.iter().any(|m| m.ends_with("-j0000")), "{maps:?}");
    assert!(!w.fake.list(Kind::Lease).is_empty());

    w.assert_no_secret(&out);
    w.assert_requests(24);
}

#[test]
fn a_failure_beyond_tolerance_rolls_updated_clusters_back() {
    let w = world(options());
    let (out, events) = w.apply("rollback.rollout", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(of_kind(&events, "rollback_started").len(), 1);
    let finished = of_kind(&events, "rollback_finished");
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["failed"], 0);
    let rollbacks: Vec<&Value> = of_kind(&events, "cluster_sync_started")
        .into_iter()
        .filter(|e| e["rollback"] == true)
        .collect();
    assert!(!rollbacks.is_empty());
    // Every cluster rolled back runs its previous revision again in Argo CD.
    for e in &rollbacks {
        assert_eq!(e["revision"], "4a7c0de");
        let cluster = e["cluster"].as_str().unwrap();
        let app = w.fake.application(cluster).unwrap();
        assert_eq!(
            app["status"]["operationState"]["operation"]["sync"]["revision"], "4a7c0de",
            "{cluster}"
        );
        assert_eq!(app["status"]["health"]["status"], "Healthy", "{cluster}");
    }
    // Newest first: the reverse of the order in which the forward syncs started.
    let forward: Vec<&str> = of_kind(&events, "cluster_sync_started")
        .iter()
        .filter(|e| e["rollback"] != true)
        .map(|e| e["cluster"].as_str().unwrap())
        .collect();
    let back: Vec<&str> = rollbacks
        .iter()
        .map(|e| e["cluster"].as_str().unwrap())
        .collect();
    let broad_back: Vec<&str> = back
        .iter()
        .copied()
        .filter(|c| c[1..].parse::<usize>().unwrap() >= 4)
        .collect();
    let broad_forward: Vec<&str> = forward
        .iter()
        .rev()
        .copied()
        .filter(|c| c[1..].parse::<usize>().unwrap() >= 4 && back.contains(c))
        .collect();
    assert_eq!(broad_back, broad_forward);
    assert_eq!(of_kind(&events, "run_failed").len(), 1);
    w.assert_no_secret(&out);
}

#[test]
fn apply_refuses_auto_synced_applications_with_the_fix() {
    let w = world(Options {
        autosync: fake_argocd::ClusterSet::Named(vec!["c03".into()]),
        ..options()
    });
    let (out, events) = w.apply("strategy.rollout", &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("guestbook-c03"), "{err}");
    assert!(err.contains("ignoreApplicationDifferences"), "{err}");
    assert!(events.is_empty());
    // Nothing was written to any Application.
    assert!(
        w.fake
            .requests()
            .iter()
            .all(|r| r.verb != "patch" && r.verb != "update"
                || r.resource.as_deref() != Some("applications"))
    );
}

impl World {
    /// `rollc status --store kubernetes --output json` from a process of its own (`Null`
    /// before there is a run).
    fn status(&self) -> Value {
        let out = self.rollc(&["status", "--store", "kubernetes", "--output", "json"]);
        if out.status.code() != Some(0) {
            assert!(stderr(&out).contains("no run"), "{}", stderr(&out));
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits (up to a minute) until `status` satisfies `ready`.
    fn wait_for(&self, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let status = self.status();
            if !status.is_null() && ready(&status) {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}: {status:#}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_rollc"))
            .current_dir(self.dir.path())
            .env("ROLLC_NO_BARS", "1")
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .args(["--kubeconfig", self.kubeconfig.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[test]
fn an_operator_on_another_machine_promotes_the_running_executor() {
    let w = world(options());
    let strategy = data("approval.rollout");
    let events = w.dir.path().join("events.jsonl");
    let mut apply = w.spawn(&[
        "apply",
        strategy.to_str().unwrap(),
        "--fleet",
        "argocd",
        "--store",
        "kubernetes",
        "--wait",
        "--events",
        events.to_str().unwrap(),
    ]);
    let status = w.wait_for("the approval gate", |s| {
        s["state"] == "waiting for approval"
    });
    // The executor is attached and named; the gate is shown.
    assert!(
        status["executor"].as_str().unwrap().contains("pid"),
        "{status:#}"
    );
    assert_eq!(
        status["stages"][0]["current"],
        "gate 1 approval (rollc promote)"
    );

    let promote = w.rollc(&["promote", "--store", "kubernetes"]);
    let said = String::from_utf8_lossy(&promote.stdout);
    assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
    assert!(said.contains("approved gate 1 of stage `canary`"), "{said}");

    let done = apply.wait().unwrap();
    let mut err = String::new();
    use std::io::Read;
    apply
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(done.code(), Some(0), "{err}");
    let events = w.events();
    let passed = of_kind(&events, "gate_passed");
    assert_eq!(passed.len(), 1);
    assert!(passed[0]["by"].as_str().unwrap().contains("pid"));
    assert!(
        of_kind(&events, "operator_request")
            .iter()
            .any(|e| e["command"] == "promote" && e["accepted"] == true)
    );
    assert_eq!(of_kind(&events, "run_succeeded").len(), 1);
}

#[test]
fn a_killed_executor_is_taken_over_when_its_lease_runs_out() {
    let w = world(options());
    let strategy = data("approval.rollout");
    let events = w.dir.path().join("events.jsonl");
    let ev = events.to_str().unwrap();
    // Up to the approval gate, then exit 3.
    let out = w.rollc(&[
        "apply",
        strategy.to_str().unwrap(),
        "--fleet",
        "argocd",
        "--store",
        "kubernetes",
        "--events",
        ev,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // `promote` drives the run from here; kill it in the middle of `broad`.
    let mut driver = w.spawn(&["promote", "--store", "kubernetes", "--events", ev]);
    w.wait_for("a few clusters of `broad`", |s| {
        s["stages"][1]["done"].as_u64().unwrap_or(0) >= 4
    });
    driver.kill().unwrap(); // SIGKILL: the lease is not given up
    driver.wait().unwrap();

    // Until the lease runs out, no other executor may drive the run.
    let early = w.rollc(&[
        "apply",
        strategy.to_str().unwrap(),
        "--fleet",
        "argocd",
        "--store",
        "kubernetes",
        "--events",
        ev,
    ]);
    let err = stderr(&early);
    assert_eq!(early.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is being driven by") && err.contains("pid"),
        "{err}"
    );

    // `resume` leaves its request for the holder; the holder is dead, so when its lease
    // runs out `resume` takes the run over and finishes it.
    let resumed = w.rollc(&["resume", "--store", "kubernetes", "--events", ev]);
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));

    let events = w.events();
    assert_eq!(of_kind(&events, "run_succeeded").len(), 1);
    let mut synced = std::collections::HashMap::new();
    for e in of_kind(&events, "cluster_sync_started") {
        *synced
            .entry(e["cluster"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(synced.len(), 24);
    assert!(
        synced.values().all(|&n| n == 1),
        "a cluster synced twice: {synced:?}"
    );
    // The Lease records the takeover.
    let lease = &w.fake.list(Kind::Lease)[0];
    assert!(
        lease["spec"]["leaseTransitions"].as_i64().unwrap_or(0) >= 1,
        "{lease:#}"
    );
    w.assert_no_secret(&out);
}

#[test]
fn an_operation_in_progress_is_waited_for_never_overwritten() {
    let w = world(options());
    let app = fake_argocd::app_name("guestbook", "c05");
    // Someone else's sync is running on c05 (the controller holds it until told to go on).
    w.fake.pause_controller(true);
    w.fake.start_foreign_sync(&app, "4a7c0de").unwrap();
    let strategy = data("foreign.rollout");
    let events = w.dir.path().join("events.jsonl");
    let mut apply = w.spawn(&[
        "apply",
        strategy.to_str().unwrap(),
        "--fleet",
        "argocd",
        "--store",
        "kubernetes",
        "--events",
        events.to_str().unwrap(),
    ]);
    // rollc has decided to sync c05 ...
    w.wait_for("the first stage", |s| s["stages"][0]["in_flight"] == 1);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // ... and has not touched the operation in progress.
    let ours = |w: &World| {
        w.fake
            .operation_writes()
            .into_iter()
            .filter(|(r, op)| {
                r.name.as_deref() == Some(app.as_str()) && op["initiatedBy"]["username"] == "rollc"
            })
            .count()
    };
    assert_eq!(ours(&w), 0, "rollc wrote over an operation in progress");
    let current = w.fake.application("c05").unwrap();
    assert_eq!(current["operation"]["initiatedBy"]["username"], "admin");
    let released_at = w.fake.requests().last().map_or(0, |r| r.at_ms);
    // Once that sync is over, rollc writes its own and the run completes.
    w.fake.pause_controller(false);
    let done = apply.wait().unwrap();
    assert_eq!(done.code(), Some(0));
    assert_eq!(ours(&w), 1);
    let (write, op) = w
        .fake
        .operation_writes()
        .into_iter()
        .find(|(r, op)| {
            r.name.as_deref() == Some(app.as_str()) && op["initiatedBy"]["username"] == "rollc"
        })
        .unwrap();
    assert!(write.at_ms >= released_at);
    assert_eq!(op["sync"]["revision"], w.fake.head().as_str());
    // rollc's sync, not the foreign one, is what the cluster was judged on.
    let app_now = w.fake.application("c05").unwrap();
    assert_eq!(
        app_now["status"]["sync"]["revision"],
        w.fake.head().as_str()
    );
    let events = w.events();
    assert_eq!(of_kind(&events, "run_succeeded").len(), 1);
}

#[test]
fn a_run_completes_through_injected_errors_throttling_and_dropped_watches() {
    use fake_argocd::Fault;
    let w = std::sync::Arc::new(world(options()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // About one request in ten fails (503 or 429 with Retry-After), and every open watch is
    // cut every 700 ms, while the run goes on.
    let chaos = {
        let (w, stop) = (w.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut next = 10;
            let mut tick = 0u64;
            let mut dropped = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let seen = w.fake.requests().len();
                if seen >= next {
                    w.fake.inject(if next % 20 == 0 {
                        Fault::too_many_requests(1)
                    } else {
                        Fault::status(503)
                    });
                    next = seen + 10;
                }
                tick += 1;
                if tick.is_multiple_of(35) {
                    dropped += w.fake.drop_watches();
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            dropped
        })
    };
    let (out, events) = w.apply("strategy.rollout", &[]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let dropped = chaos.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The faults happened ...
    let requests = w.fake.requests();
    let faulty = requests
        .iter()
        .filter(|r| r.status == 503 || r.status == 429)
        .count();
    assert!(
        faulty * 100 >= requests.len() * 5,
        "only {faulty} of {} requests failed",
        requests.len()
    );
    assert!(dropped >= 2, "only {dropped} watches were dropped");
    // ... and the run is exactly what it is without them.
    let head = w.fake.head();
    let mut synced = std::collections::HashMap::new();
    for e in of_kind(&events, "cluster_sync_started") {
        assert_eq!(e["revision"], head.as_str());
        *synced
            .entry(e["cluster"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(synced.len(), 24);
    assert!(synced.values().all(|&n| n == 1), "{synced:?}");
    assert_eq!(of_kind(&events, "cluster_failed").len(), 1);
    for cluster in w.clusters.iter().filter(|c| *c != "c17") {
        let app = w.fake.application(cluster).unwrap();
        assert_eq!(
            app["status"]["sync"]["revision"],
            head.as_str(),
            "{cluster}"
        );
    }
    // One write per Application, however many retries it took.
    let mut writes = std::collections::HashMap::new();
    for (r, op) in w.fake.operation_writes() {
        if r.status < 300 && op["initiatedBy"]["username"] == "rollc" {
            *writes.entry(r.name.clone().unwrap()).or_insert(0) += 1;
        }
    }
    assert_eq!(writes.len(), 24);
    assert!(writes.values().all(|&n| n == 1), "{writes:?}");
    w.assert_no_secret(&out);
}

#[test]
fn plan_on_the_live_fleet_warns_about_autosync() {
    let w = world(Options {
        autosync: fake_argocd::ClusterSet::Named(vec!["c03".into()]),
        ..options()
    });
    let strategy = data("strategy.rollout");
    let out = w.rollc(&[
        "plan",
        strategy.to_str().unwrap(),
        "--fleet",
        "argocd",
        "--output",
        "json",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning") && err.contains("`guestbook-c03`") && err.contains("refuses"),
        "{err}"
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stages = &plan["rollouts"][0]["stages"];
    assert_eq!(stages[0]["clusters"].as_array().unwrap().len(), 4);
    assert_eq!(stages[1]["clusters"].as_array().unwrap().len(), 20);
    assert_eq!(stages[1]["batch"], 5);
    // A preview writes nothing.
    assert!(w.fake.operation_writes().is_empty());
    assert!(w.fake.list(Kind::ConfigMap).is_empty());
}
