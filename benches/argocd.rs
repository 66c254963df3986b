//! The Argo CD backend at fleet scale: the release `rollc` binary rolls an ApplicationSet
//! over N clusters (one Application each) on the fake Argo CD, and the fake counts every
//! API request. A run must make O(N) writes and O(1) list/watch calls, with no per-cluster
//! polling; the harness fails otherwise, and prints the requests by verb and resource, the
//! wall time and rollc's peak memory (VmHWM, sampled while it runs).
//!
//! Run with:
//!
//! ```text
//! cargo bench --bench argocd            # 1,000 clusters
//! cargo bench --bench argocd -- 2000    # other sizes
//! ```

#[path = "../tests/support/fake_argocd/mod.rs"]
mod fake_argocd;

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::{Duration, Instant};

use fake_argocd::{FakeArgoCd, Options};
use rollc::fleet::{Cluster, Fleet};

/// `n` clusters over 12 regions, rings 0–2, a sync of one simulated minute.
fn fleet(n: usize) -> Fleet {
    let clusters = (0..n)
        .map(|i| {
            let labels = BTreeMap::from([
                ("region".to_string(), format!("region-{:02}", i % 12)),
                (
                    "ring".to_string(),
                    match i % 20 {
                        0 => "0",
                        1..=5 => "1",
                        _ => "2",
                    }
                    .to_string(),
                ),
            ]);
            Cluster::new(
                format!("c{i:05}"),
                format!("https://c{i:05}.k8s.example.com"),
                labels,
            )
        })
        .collect();
    let mut fleet = Fleet::new(clusters);
    fleet.defaults = Some(serde_json::json!({
        "sync": "1m", "outcome": "healthy", "revision": "b2b2b2b", "deployed": "a1a1a1a"
    }));
    fleet
}

const STRATEGY: &str = r#"
rollout "scale" {
  target appset "guestbook" in "argocd"
  defaults { deadline 5m }
  stage "ring 0" { select ring == "0"  batch 25% }
  stage "ring 1" { select ring == "1"  batch 25%  spread by region }
  stage "ring 2" { select ring == "2"  batch 20% }
}
"#;

fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn run(n: usize) {
    let fake = FakeArgoCd::start_in_thread(
        &fleet(n),
        Options {
            // A simulated minute in 10 ms.
            speed: 6000.0,
            ..Options::default()
        },
    )
    .expect("the fake Argo CD starts");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&kubeconfig).unwrap();
    let strategy = dir.path().join("scale.rollout");
    std::fs::write(&strategy, STRATEGY).unwrap();

    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollc"))
        .current_dir(dir.path())
        .env("KUBECONFIG", &kubeconfig)
        .args([
            "apply",
            strategy.to_str().unwrap(),
            "--fleet",
            "argocd",
            "-q",
        ])
        .args(["--kubeconfig", kubeconfig.to_str().unwrap()])
        .spawn()
        .expect("rollc starts");
    let mut peak = 0;
    let status = loop {
        if let Some(p) = peak_kib(child.id()) {
            peak = peak.max(p);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = started.elapsed();
    assert!(status.success(), "the {n}-cluster run failed");

    let requests = fake.requests();
    let mut by: HashMap<(String, String), usize> = HashMap::new();
    for r in &requests {
        let resource = r.resource.clone().unwrap_or_else(|| r.path.clone());
        *by.entry((r.verb.clone(), resource)).or_default() += 1;
    }
    let count = |verb: &str, resource: &str| {
        by.get(&(verb.to_string(), resource.to_string()))
            .copied()
            .unwrap_or(0)
    };
    let writes = count("patch", "applications") + count("update", "applications");
    let lists = count("list", "applications") + count("list", "secrets");
    let watches = count("watch", "applications") + count("watch", "secrets");
    let gets = count("get", "applications");
    println!(
        "{n:>6} clusters: {:>7.1} s wall, rollc peak {:>6.1} MB, {} requests: {writes} Application writes, {gets} Application GETs, {lists} lists, {watches} watches",
        wall.as_secs_f64(),
        peak as f64 / 1024.0,
        requests.len(),
    );
    let mut rows: Vec<_> = by.into_iter().collect();
    rows.sort();
    for ((verb, resource), n) in rows {
        println!("        {n:>6}  {verb} {resource}");
    }
    assert_eq!(writes, n, "one operation written per Application");
    assert!(gets <= n + 10, "{gets} GETs: Applications were polled");
    assert!(lists <= 10, "{lists} lists: O(1) expected");
    assert!(watches <= 20, "{watches} watches: O(1) expected");
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    for n in if sizes.is_empty() { vec![1000] } else { sizes } {
        run(n);
    }
}
