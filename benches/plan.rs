//! The planner at fleet scale: a 20-stage strategy (limits, `limit ... per`, spread,
//! per-zone in-flight caps, requeue, `order by` a numeric label) planned for 10,000 and
//! 100,000 generated clusters; then peak memory (VmHWM) of planning 10,000 to 100,000
//! clusters, each in a fresh process, to show it grows linearly.
//!
//! Run with:
//!
//! ```text
//! cargo bench --bench plan
//! cargo bench --bench plan -- 10000     # one size only
//! ```
//!
//! Targets: 10,000 clusters × 20 stages under 100 ms; 100,000 clusters under 1 s.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use rollc::fleet::{Cluster, Fleet};
use rollc::ir::{self, Attr, Count, Limit, MaxInFlight, OrderBy, Requeue, Selector};
use rollc::plan;

const AREAS: [&str; 3] = ["amer", "apac", "emea"];

/// `n` clusters over 24 regions in 3 areas, 3 zones a region, rings 0–9, staging and
/// prod, two tiers, a numeric `weight`, and 1% drained. Deterministic.
fn fleet(n: usize) -> Fleet {
    let clusters = (0..n)
        .map(|i| {
            // A multiplicative hash spreads labels without correlation to the index.
            let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16;
            let region = h % 24;
            let mut labels = BTreeMap::new();
            labels.insert("area".to_string(), AREAS[(region % 3) as usize].to_string());
            labels.insert("region".to_string(), format!("region-{region:02}"));
            labels.insert(
                "topology.kubernetes.io/zone".to_string(),
                format!(
                    "region-{region:02}{}",
                    ["a", "b", "c"][(h / 24 % 3) as usize]
                ),
            );
            labels.insert("ring".to_string(), (h / 72 % 10).to_string());
            let env = if (h / 720).is_multiple_of(20) {
                "staging"
            } else {
                "prod"
            };
            labels.insert("env".to_string(), env.to_string());
            let tier = if (h / 14_400).is_multiple_of(8) {
                "critical"
            } else {
                "standard"
            };
            labels.insert("tier".to_string(), tier.to_string());
            labels.insert("weight".to_string(), (h / 115_200 % 1000).to_string());
            if (h / 115_200_000).is_multiple_of(100) {
                labels.insert("drained".to_string(), "true".to_string());
            }
            let name = format!("cluster-{i:06}");
            let server = format!("https://{name}.k8s.example.com");
            Cluster::new(name, server, labels)
        })
        .collect();
    Fleet::new(clusters)
}

fn eq(key: &str, value: &str) -> Selector {
    Selector::Eq {
        key: Attr::Label(key.into()),
        value: value.into(),
    }
}

fn stage(name: String, select: Selector) -> ir::Stage {
    ir::Stage {
        bake_seconds: 3600,
        requeue: Some(Requeue {
            when: eq("drained", "true"),
            attempts: 3,
            every_seconds: 900,
        }),
        ..ir::Stage::new(name, select)
    }
}

/// Twenty stages: staging, a canary per region, early adopters by name glob, ten rings
/// spread by region with a zone cap, critical clusters per area by weight, and the rest.
fn strategy() -> ir::Strategy {
    let mut stages = Vec::new();
    let mut s = stage("staging".into(), eq("env", "staging"));
    s.batch = Count::Percent(100);
    stages.push(s);
    let mut s = stage("canary per region".into(), eq("env", "prod"));
    s.limit = Some(Limit {
        count: Count::Int(1),
        per: Some("region".into()),
    });
    s.batch = Count::Int(6);
    s.spread_by = Some("area".into());
    stages.push(s);
    let mut s = stage(
        "early adopters".into(),
        Selector::Matches {
            key: Attr::Name,
            pattern: "cluster-*7".into(),
        },
    );
    s.limit = Some(Limit {
        count: Count::Percent(25),
        per: None,
    });
    s.batch = Count::Int(10);
    stages.push(s);
    for ring in 0..10 {
        let mut s = stage(
            format!("ring {ring}"),
            Selector::And {
                all: vec![
                    eq("ring", &ring.to_string()),
                    Selector::Ne {
                        key: Attr::Label("tier".into()),
                        value: "critical".into(),
                    },
                ],
            },
        );
        s.batch = Count::Percent(10);
        s.spread_by = Some("region".into());
        s.max_in_flight = Some(MaxInFlight {
            count: 2,
            per: "topology.kubernetes.io/zone".into(),
        });
        s.bake_each_seconds = 600;
        stages.push(s);
    }
    for area in AREAS {
        for half in 0..2 {
            let mut s = stage(
                format!("critical {area} {half}"),
                Selector::And {
                    all: vec![eq("area", area), eq("tier", "critical")],
                },
            );
            s.limit = Some(Limit {
                count: Count::Percent(50),
                per: None,
            });
            s.order_by = OrderBy {
                key: Attr::Label("weight".into()),
                descending: true,
            };
            s.batch = Count::Int(20);
            stages.push(s);
        }
    }
    let mut s = stage("rest".into(), Selector::All);
    s.batch = Count::Percent(5);
    s.spread_by = Some("topology.kubernetes.io/zone".into());
    stages.push(s);
    assert_eq!(stages.len(), 20);
    ir::Strategy {
        version: ir::VERSION.into(),
        source: "bench.rollout".into(),
        rollouts: vec![ir::Rollout {
            name: "bench".into(),
            target: ir::Target::AppSet {
                name: "bench".into(),
                namespace: "argocd".into(),
                project: None,
            },
            on_new_revision: ir::NewRevisionPolicy::Queue,
            stages,
        }],
    }
}

/// A field of `/proc/self/status` in KiB (Linux only).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

const CHILD: &str = "ROLLC_PLAN_BENCH_CLUSTERS";

/// In a fresh process: build the fleet, note the resident peak, plan, note it again.
fn child(n: usize) {
    let fleet = fleet(n);
    let strategy = strategy();
    let before = status_kib("VmHWM:").unwrap_or(0);
    let start = Instant::now();
    let plan = plan::plan(&strategy, &fleet);
    let elapsed = start.elapsed();
    let after = status_kib("VmHWM:").unwrap_or(0);
    let covered: usize = plan.rollouts[0]
        .stages
        .iter()
        .map(|s| s.clusters.len())
        .sum();
    println!("{n} {before} {after} {} {covered}", elapsed.as_micros());
}

/// Peak memory at several fleet sizes, each planned in its own process so peaks do not
/// carry over.
fn memory() {
    println!("\npeak resident memory (VmHWM), one process per size:");
    println!("  clusters  fleet built  after plan  plan's share  per cluster  plan time");
    let exe = std::env::current_exe().expect("the bench binary");
    for n in [10_000usize, 25_000, 50_000, 100_000] {
        let out = Command::new(&exe)
            .env(CHILD, n.to_string())
            .output()
            .expect("run the bench binary");
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<u64> = text
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() < 5 {
            println!("  {n:>8}  (no figures: {text})");
            continue;
        }
        let plan_kib = f[2].saturating_sub(f[1]);
        println!(
            "  {:>8}  {:>8} KiB  {:>7} KiB  {:>8} KiB  {:>7} B  {:>6.1} ms",
            f[0],
            f[1],
            f[2],
            plan_kib,
            plan_kib * 1024 / f[0].max(1),
            f[3] as f64 / 1000.0
        );
    }
}

fn bench(c: &mut Criterion) {
    let strategy = strategy();
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    for n in [10_000usize, 100_000] {
        let fleet = fleet(n);
        group.bench_with_input(BenchmarkId::new("20 stages", n), &fleet, |b, fleet| {
            b.iter(|| plan::plan(black_box(&strategy), black_box(fleet)))
        });
    }
    group.finish();
}

fn main() {
    if let Ok(n) = std::env::var(CHILD) {
        child(n.parse().expect("a cluster count"));
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
    // Only on a full run (`cargo bench --bench plan`), not under `cargo test --benches`.
    if std::env::args().any(|a| a == "--bench") {
        memory();
    }
}
