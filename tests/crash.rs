//! Crash safety through the real binary: a run on a simulated fleet in scaled real time is
//! killed with SIGKILL at 50 or more random moments and continued each time by `rollc apply`
//! or `rollc resume`. Afterwards the run must have completed once, every cluster must have
//! been synced exactly once, and no batch limit, per-zone cap, bake or stage order may have
//! been broken across the restarts. The events file must hold every journal record exactly
//! once, in order.
//!
//! The moments are random; the seed is printed, and `ROLLC_CRASH_SEED=N` replays one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const KILLS: usize = 50;

fn rollc() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rollc"));
    cmd.env("ROLLC_NO_BARS", "1");
    cmd
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/crash")
        .join(name)
}

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn start(state: &Path, events: &Path, resume: bool) -> Child {
    let mut cmd = rollc();
    if resume {
        cmd.arg("resume");
    } else {
        cmd.arg("apply")
            .arg(data("strategy.rollout"))
            .arg("--fleet")
            .arg(format!("sim:{}", data("fleet.yaml").display()))
            .args(["--speed", "600"]);
    }
    cmd.arg("--state")
        .arg(state)
        .arg("--events")
        .arg(events)
        .arg("-q")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rollc starts")
}

#[test]
fn a_run_killed_fifty_times_completes_with_every_invariant_kept() {
    let seed = std::env::var("ROLLC_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed: {seed} (ROLLC_CRASH_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let events = dir.path().join("events.jsonl");

    let mut kills = 0;
    let mut restarts = 0;
    // The first process starts the run; later ones continue it, half with `apply` (which
    // resumes an unfinished run of the same rollout) and half with `resume`.
    let mut finished = None;
    while kills < KILLS {
        let resume = restarts > 0 && rng.next().is_multiple_of(2);
        let mut child = start(&state, &events, resume);
        restarts += 1;
        let deadline = Instant::now() + Duration::from_millis(rng.between(20, 250));
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                finished = Some((status, child));
                break;
            }
            if Instant::now() >= deadline {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if finished.is_some() {
            break;
        }
    }
    // However the loop ended, one more (unkilled) process drives the run to its end.
    let (status, child) = match finished {
        Some(f) => f,
        None => {
            let mut child = start(&state, &events, rng.next().is_multiple_of(2));
            let status = child.wait().unwrap();
            (status, child)
        }
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(
        kills >= KILLS,
        "the run finished after only {kills} kills; make it longer (seed {seed})"
    );
    assert_eq!(status.code(), Some(0), "the final process failed: {stderr}");

    let text = std::fs::read_to_string(&events).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad event line {l:?}: {e}")))
        .collect();
    check(&records, seed);
    // The journal and the events file agree record for record.
    let runs: HashSet<&str> = records.iter().map(|r| r["run"].as_str().unwrap()).collect();
    assert_eq!(runs.len(), 1, "one run, continued: {runs:?} (seed {seed})");
    let run = runs.into_iter().next().unwrap();
    let journal =
        std::fs::read_to_string(state.join("runs").join(run).join("journal.jsonl")).unwrap();
    let journal: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        journal, records,
        "the events file is the journal (seed {seed})"
    );
}

fn field<'a>(r: &'a Value, name: &str) -> &'a str {
    r[name].as_str().unwrap_or("")
}

fn check(records: &[Value], seed: u64) {
    let ctx = format!("(seed {seed})");
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seq"].as_u64(), Some(i as u64), "seq is contiguous {ctx}");
    }
    let times: Vec<jiff::Timestamp> = records
        .iter()
        .map(|r| field(r, "time").parse().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "time never goes back {ctx}"
    );
    let kinds = |k: &'static str| records.iter().filter(move |r| field(r, "kind") == k);
    assert_eq!(kinds("run_started").count(), 1, "{ctx}");
    assert_eq!(kinds("run_succeeded").count(), 1, "{ctx}");
    assert!(
        kinds("executor_attached").count() > 10,
        "restarts are journaled {ctx}"
    );
    let revision = field(kinds("run_started").next().unwrap(), "revision").to_string();
    assert_eq!(revision, "c0ffee2");

    // Each cluster synced exactly once, at the pinned revision, and healthy.
    let mut synced: HashMap<String, usize> = HashMap::new();
    for r in kinds("cluster_sync_started") {
        assert_eq!(field(r, "revision"), revision, "{ctx}");
        *synced.entry(field(r, "cluster").to_string()).or_default() += 1;
    }
    assert_eq!(synced.len(), 24, "{ctx}");
    assert!(
        synced.values().all(|&n| n == 1),
        "a cluster synced twice: {synced:?} {ctx}"
    );
    assert_eq!(kinds("cluster_healthy").count(), 24, "{ctx}");
    assert_eq!(kinds("cluster_failed").count(), 0, "{ctx}");

    // Windows and caps across restarts.
    let zone = |c: &str| {
        let n: usize = c.trim_start_matches("cluster-").parse().unwrap();
        n % 3
    };
    let batches: HashMap<String, u64> = kinds("stage_planned")
        .map(|r| (field(r, "stage").to_string(), r["batch"].as_u64().unwrap()))
        .collect();
    assert_eq!(batches["canary"], 2);
    assert_eq!(batches["rest"], 3);
    let mut in_flight: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    let mut stage_order = Vec::new();
    let mut completed = HashSet::new();
    let mut bake_until: HashMap<String, jiff::Timestamp> = HashMap::new();
    for (r, time) in records.iter().zip(&times) {
        let stage = field(r, "stage").to_string();
        let cluster = field(r, "cluster").to_string();
        match field(r, "kind") {
            "stage_started" => {
                if let Some(prev) = stage_order.last() {
                    assert!(
                        completed.contains(prev),
                        "`{stage}` began before `{prev}` ended {ctx}"
                    );
                }
                stage_order.push(stage);
            }
            "stage_completed" => {
                if let Some(until) = bake_until.get(&stage) {
                    assert!(time >= until, "the bake of `{stage}` was cut short {ctx}");
                }
                completed.insert(stage);
            }
            "bake_started" => {
                bake_until.insert(stage, field(r, "until").parse().unwrap());
            }
            "bake_finished" => {
                if let Some(until) = bake_until.get(&stage) {
                    assert!(time >= until, "the bake of `{stage}` was cut short {ctx}");
                }
            }
            "cluster_sync_started" => {
                let set = in_flight.entry(stage.clone()).or_default();
                set.insert(cluster.clone());
                assert!(
                    set.len() as u64 <= batches[&stage],
                    "`{stage}` had {} clusters in flight, batch {} {ctx}",
                    set.len(),
                    batches[&stage]
                );
                if stage == "rest" {
                    let z = zone(&cluster);
                    let same = set.iter().filter(|c| zone(c) == z).count();
                    assert!(same <= 1, "two clusters of zone {z} in flight {ctx}");
                }
            }
            // `rest` has `bake each`: a cluster holds its slot until baked.
            "cluster_healthy" if stage == "canary" => {
                in_flight.entry(stage).or_default().remove(&cluster);
            }
            "cluster_baked" | "cluster_failed" | "cluster_left" => {
                in_flight.entry(stage).or_default().remove(&cluster);
            }
            _ => {}
        }
    }
    assert_eq!(stage_order, ["canary", "rest"], "{ctx}");
    // The drained cluster was requeued until it came back, then synced.
    assert!(
        kinds("cluster_requeued").any(|r| field(r, "cluster") == "cluster-07"),
        "{ctx}"
    );
}
