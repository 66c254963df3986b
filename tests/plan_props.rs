//! Property tests of the planner on random fleets and random strategies (built as IR values,
//! no parsing): ownership, rounding, waves, caps, spread, requeue, determinism and the JSON
//! round trip. Each property is checked against a small independent model where one is
//! simpler than the planner (candidates, rounding, groups).
//!
//! Run with `cargo test --test plan_props` (a few seconds in debug).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use rollc::fleet::{Cluster, Fleet};
use rollc::ir::{self, Attr, Count, Limit, MaxInFlight, OrderBy, Requeue, Selector};
use rollc::plan::{self, Options, Plan, rounded};

const KEYS: [&str; 3] = ["region", "zone", "ring"];

fn label_value(key: &'static str) -> impl Strategy<Value = Option<String>> {
    let values: Vec<String> = match key {
        "region" => vec!["a".into(), "b".into(), "c".into()],
        "zone" => (0..5).map(|z| format!("z{z}")).collect(),
        // Mostly integers (numeric order) and now and then a word (text order).
        _ => vec!["0".into(), "1".into(), "2".into(), "10".into(), "x".into()],
    };
    prop_oneof![
        1 => Just(None),
        4 => prop::sample::select(values).prop_map(Some),
    ]
}

fn arb_cluster() -> impl Strategy<Value = (String, BTreeMap<String, String>)> {
    (
        prop::sample::select(vec!["p", "q", "s"]),
        label_value("region"),
        label_value("zone"),
        label_value("ring"),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(prefix, region, zone, ring, drained)| {
            let mut labels = BTreeMap::new();
            for (k, v) in [("region", region), ("zone", zone), ("ring", ring)] {
                if let Some(v) = v {
                    labels.insert(k.to_string(), v);
                }
            }
            if drained {
                labels.insert("drained".into(), "true".into());
            }
            (prefix.to_string(), labels)
        })
}

fn arb_fleet() -> impl Strategy<Value = Fleet> {
    prop::collection::vec(arb_cluster(), 0..60).prop_map(|specs| {
        // Unique names whose order is not the fleet order.
        let clusters = specs
            .into_iter()
            .enumerate()
            .map(|(i, (prefix, labels))| {
                let name = format!("{prefix}-{:02}", (i * 37) % 101);
                Cluster::new(name.clone(), format!("https://{name}"), labels)
            })
            .collect();
        Fleet::new(clusters)
    })
}

fn arb_key() -> impl Strategy<Value = String> {
    prop::sample::select(KEYS.to_vec()).prop_map(String::from)
}

fn arb_leaf() -> impl Strategy<Value = Selector> {
    let region = || prop::sample::select(vec!["a", "b", "c"]).prop_map(String::from);
    prop_oneof![
        Just(Selector::All),
        region().prop_map(|value| Selector::Eq {
            key: Attr::Label("region".into()),
            value
        }),
        region().prop_map(|value| Selector::Ne {
            key: Attr::Label("region".into()),
            value
        }),
        prop::collection::btree_set(region(), 1..3).prop_map(|v| Selector::In {
            key: Attr::Label("region".into()),
            values: v.into_iter().collect()
        }),
        prop::collection::btree_set(region(), 1..3).prop_map(|v| Selector::NotIn {
            key: Attr::Label("region".into()),
            values: v.into_iter().collect()
        }),
        arb_key().prop_map(|key| Selector::Has { key }),
        prop::sample::select(vec!["p-*", "*1", "q-?5"]).prop_map(|p| Selector::Matches {
            key: Attr::Name,
            pattern: p.into()
        }),
    ]
}

fn arb_selector() -> impl Strategy<Value = Selector> {
    arb_leaf().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(|s| Selector::Not { inner: Box::new(s) }),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|all| Selector::And { all }),
            prop::collection::vec(inner, 2..4).prop_map(|any| Selector::Or { any }),
        ]
    })
}

fn arb_count(max_int: u64) -> impl Strategy<Value = Count> {
    prop_oneof![
        (0..=max_int).prop_map(Count::Int),
        (0u8..=100).prop_map(Count::Percent),
        // The edges of the rounding rule.
        prop::sample::select(vec![1u8, 99, 100]).prop_map(Count::Percent),
    ]
}

fn arb_stage(i: usize) -> impl Strategy<Value = ir::Stage> {
    (
        arb_selector(),
        prop::option::weighted(0.5, (arb_count(8), prop::option::of(arb_key()))),
        arb_count(6),
        prop::option::of(arb_key()),
        prop::option::weighted(0.4, (1u64..4, arb_key())),
        (
            prop::sample::select(vec![
                Attr::Name,
                Attr::Server,
                Attr::Label("ring".into()),
                Attr::Label("zone".into()),
            ]),
            any::<bool>(),
        ),
        prop::bool::weighted(0.4),
        (0u64..3, 0u64..3),
    )
        .prop_map(
            move |(select, limit, batch, spread_by, mif, (key, descending), requeue, bakes)| {
                ir::Stage {
                    name: format!("s{i}"),
                    select,
                    // The checker rejects `limit 0 per KEY`; keep to what it accepts.
                    limit: limit.map(|(count, per)| Limit {
                        count: match (count, &per) {
                            (Count::Int(0) | Count::Percent(0), Some(_)) => Count::Int(1),
                            (c, _) => c,
                        },
                        per,
                    }),
                    batch,
                    spread_by,
                    max_in_flight: mif.map(|(count, per)| MaxInFlight { count, per }),
                    order_by: OrderBy { key, descending },
                    bake_seconds: bakes.0 * 600,
                    bake_each_seconds: bakes.1 * 60,
                    deadline_seconds: None,
                    tolerate: Count::Int(0),
                    requeue: requeue.then(|| Requeue {
                        when: Selector::Eq {
                            key: Attr::Label("drained".into()),
                            value: "true".into(),
                        },
                        attempts: 3,
                        every_seconds: 900,
                    }),
                    gates: Vec::new(),
                    windows: Vec::new(),
                    on_failure: ir::FailurePolicy::Pause,
                }
            },
        )
}

fn arb_strategy() -> impl Strategy<Value = ir::Strategy> {
    (1usize..6)
        .prop_flat_map(|n| (0..n).map(arb_stage).collect::<Vec<_>>())
        .prop_map(|stages| ir::Strategy {
            version: ir::VERSION.into(),
            source: "random.rollout".into(),
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
        })
}

fn is_zero(c: Count) -> bool {
    matches!(c, Count::Int(0) | Count::Percent(0))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn planner_invariants(strategy in arb_strategy(), fleet in arb_fleet()) {
        let plan = plan::plan_with(&strategy, &fleet, Options { sync_time_seconds: 60 });
        let by_name: HashMap<&str, &Cluster> =
            fleet.clusters.iter().map(|c| (c.name.as_str(), c)).collect();
        let rollout = &plan.rollouts[0];
        let label = |name: &str, key: &str| by_name[name].label(key).map(str::to_string);

        // Every cluster is in exactly one stage or uncovered.
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &rollout.stages {
            for c in &s.clusters {
                *seen.entry(c).or_default() += 1;
            }
        }
        for c in &rollout.uncovered {
            *seen.entry(c).or_default() += 1;
        }
        prop_assert!(seen.values().all(|&n| n == 1), "a cluster twice: {seen:?}");
        prop_assert_eq!(seen.len(), fleet.clusters.len());
        let fleet_order: Vec<&str> = fleet
            .clusters
            .iter()
            .map(|c| c.name.as_str())
            .filter(|n| rollout.uncovered.iter().any(|u| u == n))
            .collect();
        prop_assert_eq!(&rollout.uncovered.iter().map(String::as_str).collect::<Vec<_>>(), &fleet_order);

        let mut taken: BTreeSet<&str> = BTreeSet::new();
        for (stage, s) in strategy.rollouts[0].stages.iter().zip(&rollout.stages) {
            // The model: candidates are the matches no earlier stage took.
            let candidates: Vec<&Cluster> = fleet
                .clusters
                .iter()
                .filter(|c| plan::matches(&stage.select, c) && !taken.contains(c.name.as_str()))
                .collect();
            let selected = fleet.clusters.iter().filter(|c| plan::matches(&stage.select, c)).count();
            prop_assert_eq!(s.selected, selected as u64);
            prop_assert_eq!(s.candidates, candidates.len() as u64);
            let names: BTreeSet<&str> = s.clusters.iter().map(String::as_str).collect();
            let cand_names: BTreeSet<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
            prop_assert!(names.is_subset(&cand_names));

            // Rounding: limit against the candidates (per group with `per`), batch against
            // what the stage takes.
            match &stage.limit {
                None => {
                    prop_assert_eq!(&names, &cand_names);
                    prop_assert_eq!(s.limit, None);
                }
                Some(Limit { count, per: None }) => {
                    let n = rounded(*count, candidates.len() as u64);
                    prop_assert_eq!(s.limit, Some(n));
                    prop_assert_eq!(s.clusters.len() as u64, n);
                    // Spread before the limit: as many domains as the limit allows.
                    if let Some(key) = &stage.spread_by {
                        let domains = |list: &mut dyn Iterator<Item = &str>| {
                            list.map(|c| label(c, key)).collect::<BTreeSet<_>>().len() as u64
                        };
                        let all = domains(&mut cand_names.iter().copied());
                        let got = domains(&mut s.clusters.iter().map(String::as_str));
                        prop_assert_eq!(got, all.min(n));
                    }
                }
                Some(Limit { count, per: Some(key) }) => {
                    let mut sizes: BTreeMap<Option<String>, (u64, u64)> = BTreeMap::new();
                    for c in &candidates {
                        sizes.entry(c.label(key).map(str::to_string)).or_default().0 += 1;
                    }
                    for c in &s.clusters {
                        sizes.get_mut(&label(c, key)).expect("a candidate's group").1 += 1;
                    }
                    for (group, (size, got)) in &sizes {
                        prop_assert_eq!(*got, rounded(*count, *size), "group {:?}", group);
                    }
                    prop_assert_eq!(s.limit, Some(s.clusters.len() as u64));
                }
            }
            prop_assert_eq!(s.batch, rounded(stage.batch, s.clusters.len() as u64));

            // Holds: no waves. Otherwise the waves are the start order, none above the
            // batch or a per-key cap.
            let hold = stage.limit.as_ref().is_some_and(|l| is_zero(l.count)) || is_zero(stage.batch);
            prop_assert_eq!(s.hold, hold);
            if hold {
                prop_assert!(s.waves.is_empty());
            } else {
                let flat: Vec<&String> = s.waves.iter().flatten().collect();
                prop_assert_eq!(flat, s.clusters.iter().collect::<Vec<_>>());
                for wave in &s.waves {
                    prop_assert!(!wave.is_empty());
                    prop_assert!(wave.len() as u64 <= s.batch);
                    if let Some(m) = &stage.max_in_flight {
                        let mut per: HashMap<Option<String>, u64> = HashMap::new();
                        for c in wave {
                            *per.entry(label(c, &m.per)).or_default() += 1;
                        }
                        prop_assert!(per.values().all(|&n| n <= m.count), "cap broken: {wave:?}");
                    }
                }
                // A wave below the batch is forced: the last one, or a cap blocks the rest.
                if stage.max_in_flight.is_none() {
                    let deferred_start = s.clusters.len() - s.deferred.len();
                    let mut start = 0;
                    for (w, wave) in s.waves.iter().enumerate() {
                        let end = start + wave.len();
                        let last_of_part = end == deferred_start || w + 1 == s.waves.len();
                        prop_assert!(wave.len() as u64 == s.batch || last_of_part);
                        start = end;
                    }
                }
            }

            // Requeue: exactly the matching clusters are deferred, and they come last, in
            // waves of their own.
            let drained: Vec<&String> = s
                .clusters
                .iter()
                .filter(|c| stage.requeue.is_some() && label(c, "drained").as_deref() == Some("true"))
                .collect();
            prop_assert_eq!(&s.deferred.iter().collect::<Vec<_>>(), &drained);
            prop_assert!(s.clusters.ends_with(&s.deferred));
            let mut start = 0;
            let first_deferred = s.clusters.len() - s.deferred.len();
            for wave in &s.waves {
                let end = start + wave.len();
                prop_assert!(end <= first_deferred || start >= first_deferred, "mixed wave");
                start = end;
            }

            // Spread alternates domains while more than one remains, in each part (ready,
            // deferred), where no per-key cap reorders the start.
            if let (Some(key), None) = (&stage.spread_by, &stage.max_in_flight) {
                for part in [&s.clusters[..first_deferred], &s.clusters[first_deferred..]] {
                    let domains: Vec<Option<String>> = part.iter().map(|c| label(c, key)).collect();
                    for i in 0..domains.len().saturating_sub(1) {
                        let rest: BTreeSet<&Option<String>> = domains[i..].iter().collect();
                        if rest.len() > 1 {
                            prop_assert_ne!(&domains[i], &domains[i + 1], "at {} in {:?}", i, part);
                        }
                    }
                }
            }
            taken.extend(names);
        }

        // The estimate adds up.
        let sum: u64 = rollout.stages.iter().map(|s| s.estimated_seconds).sum();
        prop_assert_eq!(rollout.estimated_seconds, sum);

        // The JSON round-trips.
        let json = serde_json::to_string(&plan).expect("serialise");
        let back: Plan = serde_json::from_str(&json).expect("deserialise");
        prop_assert_eq!(&back, &plan);
    }

    #[test]
    fn fleet_order_does_not_matter(strategy in arb_strategy(), fleet in arb_fleet(), seed in any::<u64>()) {
        let plan = plan::plan(&strategy, &fleet);
        let mut shuffled = fleet.clone();
        // A deterministic shuffle from the seed.
        let n = shuffled.clusters.len();
        let mut state = seed | 1;
        for i in (1..n).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.clusters.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let again = plan::plan(&strategy, &shuffled);
        // Everything but the uncovered list (in fleet order) is the same.
        prop_assert_eq!(&plan.rollouts[0].stages, &again.rollouts[0].stages);
        let a: BTreeSet<&String> = plan.rollouts[0].uncovered.iter().collect();
        let b: BTreeSet<&String> = again.rollouts[0].uncovered.iter().collect();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn a_plan_diffed_with_itself_is_empty(strategy in arb_strategy(), fleet in arb_fleet()) {
        let plan = plan::plan(&strategy, &fleet);
        prop_assert!(plan::diff(&plan, &plan).is_empty());
    }
}
