//! The simulated fleet through the public `Backend` API: each outcome's timeline at exact
//! times, drained clusters, every kind of event, supersession, rollback, adoption by a fresh
//! `Sim` after a crash, determinism, the example fleet, and 10,000 clusters.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use rollc::backends::sim::Sim;
use rollc::backends::{Backend, BackendError, ClusterStatus, Observed, SyncRequest};
use rollc::fleet::{self, Cluster, Fleet};
use rollc::source::FileId;

fn origin() -> Timestamp {
    "2026-03-01T09:00:00Z".parse().unwrap()
}

/// `origin + offset` (`"13m"`, `"1h30m"`).
fn t(offset: &str) -> Timestamp {
    let d: SignedDuration = offset.parse().unwrap();
    origin().checked_add(d).unwrap()
}

fn fleet(yaml: &str) -> Fleet {
    fleet::parse(FileId(0), yaml).unwrap_or_else(|d| panic!("{d:#?}"))
}

fn sim(yaml: &str) -> Sim {
    Sim::new(&fleet(yaml), origin()).unwrap_or_else(|e| panic!("{:#?}", e.problems))
}

/// One cluster `c` with this `sim` block, head r2, deployed r1.
fn one(sim_block: &str) -> Sim {
    sim(&format!(
        "clusters:\n  - name: c\n    server: https://c\n    labels: {{region: eu}}\n    sim: {sim_block}\n"
    ))
}

fn req(cluster: &str, revision: &str, at: Timestamp) -> SyncRequest {
    SyncRequest {
        cluster: cluster.into(),
        revision: revision.into(),
        run: "run-1".into(),
        stage: "canary".into(),
        at,
    }
}

fn status(cluster: &str, at: Timestamp, status: ClusterStatus) -> Observed {
    Observed::Status {
        cluster: cluster.into(),
        at,
        status,
    }
}

fn progressing(cluster: &str, at: Timestamp) -> Observed {
    status(cluster, at, ClusterStatus::Progressing)
}

fn healthy(cluster: &str, at: Timestamp) -> Observed {
    status(cluster, at, ClusterStatus::Healthy)
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ------------------------------------------------------------------------- outcomes

#[tokio::test]
async fn healthy_timeline() {
    let mut s = one("{sync: 3m}");
    assert_eq!(s.next_wakeup(), None);
    s.sync(&req("c", "r2", t("10m"))).await.unwrap();
    assert_eq!(s.next_wakeup(), Some(t("10m")));
    assert_eq!(s.poll(t("9m")), []);
    assert_eq!(s.poll(t("10m")), [progressing("c", t("10m"))]);
    assert_eq!(s.next_wakeup(), Some(t("13m")));
    assert_eq!(
        s.deployed_revision("c", t("12m")).await.unwrap().as_deref(),
        Some("r1")
    );
    assert_eq!(s.poll(t("12m59s")), []);
    assert_eq!(s.poll(t("1h")), [healthy("c", t("13m"))]);
    assert_eq!(s.poll(t("2h")), [], "each fact is reported once");
    assert_eq!(s.next_wakeup(), None);
    assert_eq!(
        s.deployed_revision("c", t("13m")).await.unwrap().as_deref(),
        Some("r2")
    );
}

#[tokio::test]
async fn degraded_deploys_the_revision() {
    let mut s = one("{sync: 3m, outcome: degraded}");
    s.sync(&req("c", "r2", t("0s"))).await.unwrap();
    let facts = s.poll(t("1h"));
    assert_eq!(facts.len(), 2, "{facts:?}");
    assert_eq!(facts[0], progressing("c", t("0s")));
    let Observed::Status {
        at,
        status: ClusterStatus::Degraded { reason },
        ..
    } = &facts[1]
    else {
        panic!("{facts:?}")
    };
    assert_eq!(*at, t("3m"));
    assert!(reason.contains("r2"), "{reason}");
    assert_eq!(
        s.deployed_revision("c", t("3m")).await.unwrap().as_deref(),
        Some("r2")
    );
}

#[tokio::test]
async fn sync_failed_keeps_the_old_revision() {
    let mut s = one("{sync: 3m, outcome: sync-failed}");
    s.sync(&req("c", "r2", t("0s"))).await.unwrap();
    let facts = s.poll(t("1h"));
    assert_eq!(facts.len(), 2, "{facts:?}");
    assert!(matches!(
        &facts[1],
        Observed::Status { at, status: ClusterStatus::SyncFailed { .. }, .. } if *at == t("3m")
    ));
    assert_eq!(
        s.deployed_revision("c", t("1h")).await.unwrap().as_deref(),
        Some("r1")
    );
}

#[tokio::test]
async fn never_healthy_stays_progressing() {
    let mut s = one("{sync: 3m, outcome: never-healthy}");
    s.sync(&req("c", "r2", t("0s"))).await.unwrap();
    assert_eq!(s.poll(t("10h")), [progressing("c", t("0s"))]);
    assert_eq!(s.next_wakeup(), None);
    assert_eq!(
        s.deployed_revision("c", t("2m")).await.unwrap().as_deref(),
        Some("r1")
    );
    assert_eq!(
        s.deployed_revision("c", t("3m")).await.unwrap().as_deref(),
        Some("r2")
    );
}

#[tokio::test]
async fn flap_degrades_then_recovers() {
    let mut s = one("{sync: 3m, outcome: flap, flap_after: 10m, flap_for: 1m}");
    s.sync(&req("c", "r2", t("0s"))).await.unwrap();
    let facts = s.poll(t("1h"));
    let times: Vec<(Timestamp, &str)> = facts
        .iter()
        .map(|f| match f {
            Observed::Status { at, status, .. } => (
                *at,
                match status {
                    ClusterStatus::Progressing => "progressing",
                    ClusterStatus::Healthy => "healthy",
                    ClusterStatus::Degraded { .. } => "degraded",
                    ClusterStatus::SyncFailed { .. } => "failed",
                },
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        times,
        [
            (t("0s"), "progressing"),
            (t("3m"), "healthy"),
            (t("13m"), "degraded"),
            (t("14m"), "healthy"),
        ]
    );
}

#[tokio::test]
async fn flap_defaults() {
    let mut s = one("{sync: 1m, outcome: flap}");
    s.sync(&req("c", "r2", t("0s"))).await.unwrap();
    let times: Vec<Timestamp> = s
        .poll(t("1h"))
        .iter()
        .map(|f| match f {
            Observed::Status { at, .. } => *at,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(times, [t("0s"), t("1m"), t("6m"), t("8m")]);
}

#[tokio::test]
async fn a_rollback_to_the_initial_revision_is_healthy() {
    let mut s = one("{sync: 2m, outcome: degraded}");
    s.sync(&req("c", "r2", t("0s"))).await.unwrap();
    s.poll(t("2m"));
    assert_eq!(
        s.deployed_revision("c", t("2m")).await.unwrap().as_deref(),
        Some("r2")
    );
    s.sync(&req("c", "r1", t("5m"))).await.unwrap();
    assert_eq!(
        s.poll(t("1h")),
        [progressing("c", t("5m")), healthy("c", t("7m"))]
    );
    assert_eq!(
        s.deployed_revision("c", t("7m")).await.unwrap().as_deref(),
        Some("r1")
    );
}

#[tokio::test]
async fn a_new_request_supersedes_the_old_timeline() {
    let mut s = one("{sync: 5m}");
    s.sync(&req("c", "r2", t("0s"))).await.unwrap();
    assert_eq!(s.poll(t("1m")), [progressing("c", t("0s"))]);
    s.sync(&req("c", "r3", t("2m"))).await.unwrap();
    // The first sync's `Healthy` at 5m is gone; the second runs from 2m.
    assert_eq!(s.next_wakeup(), Some(t("2m")));
    assert_eq!(
        s.poll(t("1h")),
        [progressing("c", t("2m")), healthy("c", t("7m"))]
    );
    // The superseded sync never deployed.
    assert_eq!(
        s.deployed_revision("c", t("6m")).await.unwrap().as_deref(),
        Some("r1")
    );
    assert_eq!(
        s.deployed_revision("c", t("7m")).await.unwrap().as_deref(),
        Some("r3")
    );
}

#[tokio::test]
async fn a_resent_request_replaces_itself() {
    let mut s = one("{sync: 5m}");
    let r = req("c", "r2", t("0s"));
    s.sync(&r).await.unwrap();
    s.adopt(&r).await.unwrap();
    assert_eq!(
        s.poll(t("1h")),
        [progressing("c", t("0s")), healthy("c", t("5m"))]
    );
}

#[tokio::test]
async fn unknown_clusters_are_refused() {
    let mut s = one("null");
    let err = s.sync(&req("nope", "r2", t("0s"))).await.unwrap_err();
    assert!(
        matches!(&err, BackendError::Refused(m) if m.contains("`nope`")),
        "{err}"
    );
    assert!(matches!(
        s.adopt(&req("nope", "r2", t("0s"))).await,
        Err(BackendError::Refused(_))
    ));
    assert!(matches!(
        s.deployed_revision("nope", t("0s")).await,
        Err(BackendError::Refused(_))
    ));
    assert_eq!(s.next_wakeup(), None);
}

#[tokio::test]
async fn never_synced_clusters_have_no_deployed_revision() {
    let mut s = one("{deployed: null}");
    assert_eq!(s.deployed_revision("c", t("0s")).await.unwrap(), None);
}

#[tokio::test]
async fn changed_never_resolves() {
    let mut s = one("null");
    let waited = tokio::time::timeout(std::time::Duration::from_millis(20), s.changed()).await;
    assert!(waited.is_err());
}

// ------------------------------------------------------------------------- the fleet over time

const TWO: &str = "clusters:
  - name: a
    server: https://a
    labels: {region: eu, drained: \"true\"}
    sim: {drained_until: 45m}
  - name: b
    server: https://b
    labels: {region: us}
";

fn names(clusters: &[Cluster]) -> Vec<&str> {
    clusters.iter().map(|c| c.name.as_str()).collect()
}

#[tokio::test]
async fn drained_until_removes_the_label() {
    let mut s = sim(TWO);
    assert_eq!(s.next_wakeup(), Some(t("45m")));
    let start = s.inventory(origin()).await.unwrap();
    assert_eq!(start[0].label("drained"), Some("true"));
    assert_eq!(s.poll(t("44m59s")), []);
    let facts = s.poll(t("45m"));
    let [Observed::Relabeled(a)] = &facts[..] else {
        panic!("{facts:?}")
    };
    assert_eq!(a.name, "a");
    assert_eq!(a.labels, labels(&[("region", "eu")]));
    assert_eq!(s.next_wakeup(), None);

    // A fresh sim asked for its inventory later sees the cluster undrained and does not
    // report the change again.
    let mut s = sim(TWO);
    let later = s.inventory(t("1h")).await.unwrap();
    assert_eq!(later[0].label("drained"), None);
    assert_eq!(s.next_wakeup(), None);
    assert_eq!(s.poll(t("2h")), []);
}

const EVENTS: &str = "defaults: {revision: r2, sync: 1m}
clusters:
  - name: a
    server: https://a
    labels: {region: eu, tier: gold}
  - name: b
    server: https://b
    labels: {region: us}
events:
  - {at: 2h, revision: r3}
  - {at: 30m, cluster: a, labels: {drained: \"true\", tier: null}}
  - {at: 1h, join: {name: c, server: https://c, labels: {region: ap}, sim: {sync: 10m}}}
  - {at: 90m, leave: b}
";

#[tokio::test]
async fn every_event_kind() {
    let mut s = sim(EVENTS);
    assert_eq!(s.head_revision(origin()).await.unwrap(), "r2");
    assert_eq!(names(&s.inventory(origin()).await.unwrap()), ["a", "b"]);

    let facts = s.poll(t("30m"));
    let [Observed::Relabeled(a)] = &facts[..] else {
        panic!("{facts:?}")
    };
    assert_eq!(a.labels, labels(&[("drained", "true"), ("region", "eu")]));

    let facts = s.poll(t("1h"));
    let [Observed::Joined(c)] = &facts[..] else {
        panic!("{facts:?}")
    };
    assert_eq!((c.name.as_str(), c.server.as_str()), ("c", "https://c"));
    assert_eq!(c.labels, labels(&[("region", "ap")]));

    assert_eq!(
        s.poll(t("90m")),
        [Observed::Left {
            cluster: "b".into()
        }]
    );
    assert_eq!(s.poll(t("2h")), [Observed::Revision("r3".into())]);
    assert_eq!(s.next_wakeup(), None);

    assert_eq!(s.head_revision(t("1h59m")).await.unwrap(), "r2");
    assert_eq!(s.head_revision(t("2h")).await.unwrap(), "r3");
    let inv = s.inventory(t("1h")).await.unwrap();
    assert_eq!(names(&inv), ["a", "b", "c"]);
    assert_eq!(inv[0].label("drained"), Some("true"));
    assert_eq!(inv[0].label("tier"), None);
    assert_eq!(names(&s.inventory(t("3h")).await.unwrap()), ["a", "c"]);
}

#[tokio::test]
async fn joined_and_departed_clusters() {
    let mut s = sim(EVENTS);
    // Not there yet, then there with its own sync time.
    let early = s.sync(&req("c", "r2", t("59m"))).await.unwrap_err();
    assert!(early.to_string().contains("joins"), "{early}");
    s.sync(&req("c", "r2", t("1h"))).await.unwrap();
    assert_eq!(
        s.deployed_revision("c", t("1h")).await.unwrap().as_deref(),
        Some("r1")
    );
    // `b` leaves mid-sync: nothing is reported about it from then on.
    s.sync(&req("b", "r2", t("89m30s"))).await.unwrap();
    let statuses: Vec<Observed> = s
        .poll(t("3h"))
        .into_iter()
        .filter(|o| matches!(o, Observed::Status { .. }))
        .collect();
    assert_eq!(
        statuses,
        [
            progressing("c", t("1h")),
            healthy("c", t("1h10m")),
            progressing("b", t("89m30s")),
        ]
    );
    let gone = s.sync(&req("b", "r2", t("2h"))).await.unwrap_err();
    assert!(matches!(gone, BackendError::Refused(_)));
    assert!(s.deployed_revision("b", t("2h")).await.is_err());
}

#[tokio::test]
async fn head_revision_folds_earlier_moves() {
    let mut s = sim(EVENTS);
    assert_eq!(s.head_revision(t("3h")).await.unwrap(), "r3");
    let facts = s.poll(t("3h"));
    assert!(
        !facts.contains(&Observed::Revision("r3".into())),
        "{facts:?}"
    );
    assert_eq!(
        facts.len(),
        3,
        "the cluster changes are still reported: {facts:?}"
    );
}

// ------------------------------------------------------------------------- crash and resume

const MIXED: &str = "defaults: {sync: 4m}
clusters:
  - name: a
    server: https://a
  - name: b
    server: https://b
    sim: {outcome: flap}
  - name: c
    server: https://c
    sim: {outcome: degraded, sync: 2m}
  - name: d
    server: https://d
    labels: {drained: \"true\"}
    sim: {drained_until: 20m, sync: 4m}
events:
  - {at: 10m, cluster: a, labels: {tier: gold}}
";

fn requests() -> Vec<SyncRequest> {
    vec![
        req("a", "r2", t("0s")),
        req("b", "r2", t("0s")),
        req("c", "r2", t("1m")),
        req("c", "r1", t("5m")),
        req("a", "r3", t("6m")),
        req("d", "r2", t("21m")),
    ]
}

#[tokio::test]
async fn a_fresh_sim_adopting_the_syncs_reports_the_same_facts() {
    // The original executor polls every minute, issuing each request at its time.
    let mut original = sim(MIXED);
    let mut seen = Vec::new();
    let mut pending = requests().into_iter().peekable();
    for minute in 0..=40 {
        let now = t(&format!("{minute}m"));
        while let Some(r) = pending.next_if(|r| r.at <= now) {
            original.sync(&r).await.unwrap();
        }
        seen.extend(original.poll(now));
    }
    assert!(seen.len() > 10, "{seen:?}");

    // A fresh sim, told about the same syncs in another order, reports the same facts
    // with the same times in one poll.
    let mut fresh = sim(MIXED);
    for r in requests().iter().rev() {
        fresh.adopt(r).await.unwrap();
    }
    assert_eq!(fresh.poll(t("40m")), seen);
    for name in ["a", "b", "c", "d"] {
        assert_eq!(
            fresh.deployed_revision(name, t("40m")).await.unwrap(),
            original.deployed_revision(name, t("40m")).await.unwrap(),
            "{name}"
        );
    }

    // Resumed mid-way: what comes after the crash is what the original reported after it.
    let crash = t("12m");
    let after: Vec<Observed> = {
        let mut replay = sim(MIXED);
        let mut out = Vec::new();
        for r in requests().iter().filter(|r| r.at <= crash) {
            replay.sync(r).await.unwrap();
        }
        replay.poll(crash);
        for r in requests().iter().filter(|r| r.at > crash) {
            out.extend(replay.poll(r.at - SignedDuration::from_secs(1)));
            replay.sync(r).await.unwrap();
        }
        out.extend(replay.poll(t("40m")));
        out
    };
    let mut resumed = sim(MIXED);
    for r in requests().iter().filter(|r| r.at <= crash) {
        resumed.adopt(r).await.unwrap();
    }
    let before = resumed.poll(crash);
    assert_eq!(before, seen[..before.len()]);
    let mut out = Vec::new();
    for r in requests().iter().filter(|r| r.at > crash) {
        out.extend(resumed.poll(r.at - SignedDuration::from_secs(1)));
        resumed.sync(r).await.unwrap();
    }
    out.extend(resumed.poll(t("40m")));
    assert_eq!(out, after);
    assert_eq!([before, out].concat(), seen);
}

#[tokio::test]
async fn the_same_inputs_give_the_same_outputs() {
    async fn run() -> (Vec<Observed>, Vec<Option<Timestamp>>) {
        let mut s = sim(MIXED);
        let mut facts = Vec::new();
        let mut wakeups = Vec::new();
        for r in requests() {
            facts.extend(s.poll(r.at));
            s.sync(&r).await.unwrap();
            wakeups.push(s.next_wakeup());
        }
        while let Some(next) = s.next_wakeup() {
            facts.extend(s.poll(next));
            wakeups.push(s.next_wakeup());
        }
        (facts, wakeups)
    }
    assert_eq!(run().await, run().await);
}

#[tokio::test]
async fn simultaneous_facts_come_in_fleet_order() {
    let text = "clusters:
  - {name: x, server: https://x}
  - {name: y, server: https://y}
  - {name: z, server: https://z}
";
    let mut forward = sim(text);
    let mut backward = sim(text);
    for name in ["x", "y", "z"] {
        forward.sync(&req(name, "r2", t("0s"))).await.unwrap();
    }
    for name in ["z", "y", "x"] {
        backward.sync(&req(name, "r2", t("0s"))).await.unwrap();
    }
    let facts = forward.poll(t("1h"));
    assert_eq!(facts, backward.poll(t("1h")));
    assert_eq!(
        facts,
        [
            progressing("x", t("0s")),
            progressing("y", t("0s")),
            progressing("z", t("0s")),
            healthy("x", t("5m")),
            healthy("y", t("5m")),
            healthy("z", t("5m")),
        ]
    );
}

// ------------------------------------------------------------------------- the example fleet

#[tokio::test]
async fn the_example_fleet() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fleet.yaml"))
        .unwrap();
    let mut s = sim(&text);
    assert_eq!(s.head_revision(origin()).await.unwrap(), "a1f9c3e");
    let inventory = s.inventory(origin()).await.unwrap();
    assert_eq!(inventory.len(), 30);
    let drained: Vec<&str> = inventory
        .iter()
        .filter(|c| c.label("drained") == Some("true"))
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(drained, ["prod-euw1-03", "prod-use1-02", "prod-apse1-04"]);
    for c in &inventory {
        assert_eq!(
            s.deployed_revision(&c.name, origin())
                .await
                .unwrap()
                .as_deref(),
            Some("7d2b40c")
        );
    }
    // The drained clusters come back at 45m, 1h30m and 2h.
    let mut back = Vec::new();
    while let Some(next) = s.next_wakeup() {
        for fact in s.poll(next) {
            let Observed::Relabeled(c) = fact else {
                panic!("{fact:?}")
            };
            assert_eq!(c.label("drained"), None);
            back.push((next, c.name));
        }
    }
    assert_eq!(
        back,
        [
            (t("45m"), "prod-euw1-03".to_owned()),
            (t("1h30m"), "prod-use1-02".to_owned()),
            (t("2h"), "prod-apse1-04".to_owned()),
        ]
    );
    // Every cluster is healthy after its own sync time.
    s.sync(&req("staging-apne1", "a1f9c3e", t("3h")))
        .await
        .unwrap();
    s.sync(&req("prod-euw1-01", "a1f9c3e", t("3h")))
        .await
        .unwrap();
    assert_eq!(
        s.poll(t("4h")),
        [
            progressing("prod-euw1-01", t("3h")),
            progressing("staging-apne1", t("3h")),
            healthy("staging-apne1", t("3h1m30s")),
            healthy("prod-euw1-01", t("3h4m")),
        ]
    );
}

#[test]
fn problems_are_reported_together() {
    let fleet = fleet(
        "defaults: {outcome: healty}
clusters:
  - {name: a, server: https://a, sim: {snyc: 3m}}
events:
  - {at: 1h, leave: b}
",
    );
    let err = Sim::new(&fleet, origin()).unwrap_err();
    let lines: Vec<String> = err.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "defaults, `defaults.outcome`: unknown outcome `healty`",
            "cluster `a`, `sim.snyc`: unknown key `snyc`",
            "event 1, `leave`: no cluster `b` in the fleet",
        ]
    );
    assert_eq!(
        err.problems[0].help.as_deref(),
        Some("did you mean `healthy`?")
    );
    assert_eq!(
        err.problems[1].help.as_deref(),
        Some("did you mean `sync`?")
    );
}

// ------------------------------------------------------------------------- scale

#[tokio::test]
async fn ten_thousand_clusters() {
    const N: usize = 10_000;
    let clusters = (0..N)
        .map(|i| {
            let mut c = Cluster::new(
                format!("c{i:05}"),
                format!("https://c{i:05}.example"),
                labels(&[("region", ["eu", "us", "ap"][i % 3])]),
            );
            c.sim = Some(serde_json::json!({ "sync": format!("{}s", 60 + i % 600) }));
            c
        })
        .collect();
    let mut s = Sim::new(&Fleet::new(clusters), origin()).unwrap();
    assert_eq!(s.inventory(origin()).await.unwrap().len(), N);
    // One sync per cluster, ten per second of virtual time; poll at every wakeup.
    let mut last = origin();
    for i in 0..N {
        let at = origin() + SignedDuration::from_millis(100 * i as i64);
        s.sync(&req(&format!("c{i:05}"), "r2", at)).await.unwrap();
    }
    let mut progressing = vec![None; N];
    let mut healthy = vec![None; N];
    let mut polls = 0;
    while let Some(next) = s.next_wakeup() {
        polls += 1;
        for fact in s.poll(next) {
            let Observed::Status {
                cluster,
                at,
                status,
            } = fact
            else {
                panic!("{fact:?}")
            };
            assert!(at >= last, "facts come in time order");
            last = at;
            let i: usize = cluster[1..].parse().unwrap();
            let slot = match status {
                ClusterStatus::Progressing => &mut progressing[i],
                ClusterStatus::Healthy => &mut healthy[i],
                other => panic!("{other:?}"),
            };
            assert!(slot.replace(at).is_none(), "reported once: {cluster}");
        }
    }
    assert!(polls > 1);
    for i in 0..N {
        let start = origin() + SignedDuration::from_millis(100 * i as i64);
        assert_eq!(progressing[i], Some(start));
        let sync = SignedDuration::from_secs(60 + (i % 600) as i64);
        assert_eq!(healthy[i], Some(start + sync));
    }
    assert_eq!(
        s.deployed_revision("c09999", last)
            .await
            .unwrap()
            .as_deref(),
        Some("r2")
    );
}

#[tokio::test]
async fn the_documented_example() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/sim.md")).unwrap();
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let mut s = sim(&doc[start..end]);
    assert_eq!(s.head_revision(origin()).await.unwrap(), "a1f9c3e");
    assert_eq!(s.head_revision(t("3h")).await.unwrap(), "b52e917");
    let names = |cs: Vec<Cluster>| cs.into_iter().map(|c| c.name).collect::<Vec<_>>();
    assert_eq!(
        names(s.inventory(t("1h")).await.unwrap()),
        [
            "staging-euw1",
            "prod-euw1-01",
            "prod-euw1-02",
            "prod-euw1-03"
        ]
    );
    assert_eq!(
        names(s.inventory(t("2h")).await.unwrap()),
        ["staging-euw1", "prod-euw1-01", "prod-euw1-03"]
    );
}

#[tokio::test]
async fn restored_syncs_count_without_being_reported_again() {
    let mut original = sim(MIXED);
    let done = req("a", "r2", t("0s"));
    let running = req("c", "r2", t("10m"));
    original.sync(&done).await.unwrap();
    original.poll(t("10m"));
    original.sync(&running).await.unwrap();
    let after = original.poll(t("1h"));

    let mut fresh = sim(MIXED);
    assert_eq!(fresh.inventory(t("10m")).await.unwrap().len(), 4);
    fresh.restore(&done).unwrap();
    fresh.adopt(&running).await.unwrap();
    assert_eq!(
        fresh
            .deployed_revision("a", t("10m"))
            .await
            .unwrap()
            .as_deref(),
        Some("r2")
    );
    assert_eq!(fresh.poll(t("1h")), after);
    assert!(
        after
            .iter()
            .all(|o| !matches!(o, Observed::Status { cluster, .. } if cluster == "a")),
        "{after:?}"
    );

    // A restored sync is superseded like any other.
    let mut s = sim(MIXED);
    s.restore(&req("a", "r2", t("0s"))).unwrap();
    s.sync(&req("a", "r3", t("1m"))).await.unwrap();
    assert_eq!(
        s.deployed_revision("a", t("4m")).await.unwrap().as_deref(),
        Some("r1")
    );
    assert_eq!(
        s.deployed_revision("a", t("5m")).await.unwrap().as_deref(),
        Some("r3")
    );
    assert!(s.restore(&req("nope", "r2", t("0s"))).is_err());
}
