//! The executor at fleet scale: a 10,000-cluster simulated run in virtual time, journaled to
//! a local store, each size in a fresh process so that its peak memory (VmHWM) is its own.
//! With uniform sync times the simulated duration must equal the plan's ideal duration
//! (the executor adds no scheduling slack); the harness fails if it does not.
//!
//! Run with:
//!
//! ```text
//! cargo bench --bench run
//! cargo bench --bench run -- 25000     # other sizes
//! ```
//!
//! Targets: 10,000 clusters under 5 s wall and 300 MB peak memory.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::Instant;

use jiff::Timestamp;
use rollc::backends::Backend;
use rollc::backends::sim::Sim;
use rollc::fleet::{Cluster, Fleet};
use rollc::ir::{self, Count, Limit, MaxInFlight, Selector};
use rollc::plan;
use rollc::runtime::clock::Clock;
use rollc::runtime::core::Run;
use rollc::runtime::drive::{Driver, Outcome};
use rollc::store::{LocalStore, RunMeta};

const SYNC: &str = "4m";
const SYNC_SECONDS: u64 = 240;

/// `n` clusters over 12 regions × 3 zones, rings 0–3, every sync 4 minutes and healthy.
fn fleet(n: usize) -> Fleet {
    let mut clusters: Vec<Cluster> = (0..n)
        .map(|i| {
            let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16;
            let region = h % 12;
            let mut labels = BTreeMap::new();
            labels.insert("region".to_string(), format!("region-{region:02}"));
            labels.insert(
                "zone".to_string(),
                format!(
                    "region-{region:02}{}",
                    ["a", "b", "c"][(h / 12 % 3) as usize]
                ),
            );
            labels.insert("ring".to_string(), (h / 36 % 4).to_string());
            Cluster::new(
                format!("cluster-{i:06}"),
                format!("https://cluster-{i:06}.example.com"),
                labels,
            )
        })
        .collect();
    clusters.sort_by(|a, b| a.name.cmp(&b.name));
    let mut fleet = Fleet::new(clusters);
    fleet.defaults = Some(serde_json::json!({
        "sync": SYNC, "outcome": "healthy", "revision": "r2", "deployed": "r1"
    }));
    fleet
}

fn eq(key: &str, value: &str) -> Selector {
    Selector::Eq {
        key: ir::Attr::Label(key.into()),
        value: value.into(),
    }
}

/// Canary (one per region, spread), then rings 0–3 with percentages, zone caps and bakes.
fn rollout() -> ir::Rollout {
    let mut canary = ir::Stage::new("canary", Selector::All);
    canary.limit = Some(Limit {
        count: Count::Int(1),
        per: Some("region".into()),
    });
    canary.batch = Count::Int(4);
    canary.spread_by = Some("region".into());
    canary.bake_seconds = 3600;
    let mut stages = vec![canary];
    for (ring, batch, bake) in [
        ("0", 5, 1800),
        ("1", 10, 3600),
        ("2", 20, 3600),
        ("3", 25, 0),
    ] {
        let mut s = ir::Stage::new(format!("ring {ring}"), eq("ring", ring));
        s.batch = Count::Percent(batch);
        s.max_in_flight = Some(MaxInFlight {
            count: 40,
            per: "zone".into(),
        });
        s.bake_seconds = bake;
        s.bake_each_seconds = 120;
        stages.push(s);
    }
    ir::Rollout {
        name: "bench".into(),
        target: ir::Target::AppSet {
            name: "bench".into(),
            namespace: "argocd".into(),
            project: None,
        },
        on_new_revision: ir::NewRevisionPolicy::Queue,
        stages,
    }
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One simulated run of `n` clusters in this process; prints its figures.
fn child(n: usize) {
    let fleet = fleet(n);
    let rollout = rollout();
    let strategy = ir::Strategy {
        version: ir::VERSION.into(),
        source: "bench".into(),
        rollouts: vec![rollout.clone()],
    };
    let ideal = plan::plan_with(
        &strategy,
        &fleet,
        plan::Options {
            sync_time_seconds: SYNC_SECONDS,
        },
    )
    .rollouts[0]
        .estimated_seconds;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = LocalStore::new(dir.path());
    let origin: Timestamp = "2026-11-23T09:00:00Z".parse().unwrap();
    let meta = RunMeta {
        id: "bench".into(),
        created: origin,
        source: "bench".into(),
        rollout: rollout.clone(),
        fleet: "sim:generated".into(),
        speed: None,
        origin,
        wall_origin: origin,
        revision: None,
        follows: None,
        kube: None,
    };
    let start = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (outcome, simulated, records) = runtime.block_on(async {
        store.create(&meta).unwrap();
        let lock = store.lock("bench", "bench").unwrap();
        let mut sim = Sim::new(&fleet, origin).expect("a valid simulated fleet");
        let clock = Clock::virtual_at(origin);
        let inventory = sim.inventory(origin).await.unwrap();
        let head = sim.head_revision(origin).await.unwrap();
        let mut deployed = HashMap::new();
        for c in &inventory {
            deployed.insert(
                c.name.clone(),
                sim.deployed_revision(&c.name, origin).await.unwrap(),
            );
        }
        let mut run = Run::new("bench", rollout);
        run.start(origin, &Fleet::new(inventory), &head, &deployed, "bench");
        let appender = store.appender("bench", false).unwrap();
        let mut driver = Driver::new(run, sim, clock, &store, lock, appender);
        driver.flush().await.unwrap();
        let outcome = driver.drive().await.unwrap();
        let (run, _, clock, _) = driver.into_parts();
        let simulated = clock.now().duration_since(origin).as_secs() as u64;
        (outcome, simulated, run.seq)
    });
    let wall = start.elapsed();
    let peak = status_kib("VmHWM:").unwrap_or(0);
    assert_eq!(
        outcome,
        Outcome::Succeeded,
        "the benchmark run must succeed"
    );
    println!(
        "{n:>7} clusters: {:>8.1} ms wall, peak {:>6.1} MB, {records} journal records, simulated {simulated} s, plan ideal {ideal} s",
        wall.as_secs_f64() * 1000.0,
        peak as f64 / 1024.0,
    );
    assert_eq!(
        simulated, ideal,
        "with uniform sync times the simulated duration must equal the plan's ideal duration"
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        let n = args[pos + 1].parse().expect("a size");
        child(n);
        return;
    }
    let sizes: Vec<usize> = args
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect::<Vec<_>>()
        .into_iter()
        .chain(std::iter::empty())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000]
    } else {
        sizes
    };
    let exe = std::env::current_exe().expect("the bench binary");
    for n in sizes {
        let status = Command::new(&exe)
            .args(["--child", &n.to_string()])
            .status()
            .expect("the bench re-runs itself");
        assert!(status.success(), "the {n}-cluster run failed");
    }
}
