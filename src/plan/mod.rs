//! Binding a checked rollout to a fleet: which stage owns which cluster, in which order, and
//! the counts after the rounding rule.
//!
//! Ownership is decided stage by stage, in rollout order: a stage's candidates are the
//! clusters its `select` matches that no earlier stage took; it takes them all or, with a
//! `limit`, the first ones in its order. Clusters a limit leaves behind stay available to
//! later stages.

pub mod order;

use crate::fleet::{self, Cluster, Fleet};
use crate::hir::{Count, Rollout, Stage};

/// What one stage gets from the fleet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageShare {
    /// Indices (into the fleet) of every cluster the stage's `select` matches.
    pub selected: Vec<usize>,
    /// The selected clusters no earlier stage took.
    pub candidates: Vec<usize>,
    /// The clusters the stage updates, in start order.
    pub taken: Vec<usize>,
    /// `limit` after rounding (base: candidates), if the stage has one.
    pub limit: Option<u64>,
    /// `batch` after rounding (base: taken); 1 when unset.
    pub batch: u64,
}

/// A rollout bound to a fleet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ownership {
    /// One share per stage, in stage order.
    pub stages: Vec<StageShare>,
    /// For each fleet cluster, the stage that takes it.
    pub owner: Vec<Option<usize>>,
}

impl Ownership {
    /// Clusters no stage takes, as fleet indices in fleet order.
    pub fn uncovered(&self) -> Vec<usize> {
        self.owner
            .iter()
            .enumerate()
            .filter(|(_, o)| o.is_none())
            .map(|(i, _)| i)
            .collect()
    }
}

/// Decides which stage of `rollout` takes which cluster of `fleet`.
pub fn ownership(rollout: &Rollout, fleet: &Fleet) -> Ownership {
    let mut owner: Vec<Option<usize>> = vec![None; fleet.clusters.len()];
    let mut stages = Vec::with_capacity(rollout.stages.len());
    for (s, stage) in rollout.stages.iter().enumerate() {
        let selected: Vec<usize> = match &stage.select {
            Some(select) => (0..fleet.clusters.len())
                .filter(|&i| fleet::matches(select, &fleet.clusters[i]))
                .collect(),
            None => Vec::new(),
        };
        let candidates: Vec<usize> = selected
            .iter()
            .copied()
            .filter(|&i| owner[i].is_none())
            .collect();
        let (taken, limit) = take(stage, &fleet.clusters, &candidates);
        for &i in &taken {
            owner[i] = Some(s);
        }
        let batch = stage.batch.as_ref().map_or(1.min(taken.len() as u64), |b| {
            b.value.resolve(taken.len() as u64)
        });
        stages.push(StageShare {
            selected,
            candidates,
            taken,
            limit,
            batch,
        });
    }
    Ownership { stages, owner }
}

/// The clusters a stage takes from its candidates, in start order, and its rounded limit.
fn take(stage: &Stage, clusters: &[Cluster], candidates: &[usize]) -> (Vec<usize>, Option<u64>) {
    let ordered = order::order(stage, clusters, candidates);
    let Some(limit) = &stage.limit else {
        return (ordered, None);
    };
    let n = limit.count.value.resolve(candidates.len() as u64);
    match &limit.per {
        None => (ordered.into_iter().take(n as usize).collect(), Some(n)),
        Some(key) => {
            // `limit N per KEY`: N clusters for each value of KEY (clusters without it form
            // one group), percentages taken of each group.
            let mut per_group: std::collections::BTreeMap<Option<&str>, (u64, u64)> =
                Default::default();
            for &i in candidates {
                per_group
                    .entry(clusters[i].label(&key.value))
                    .or_default()
                    .1 += 1;
            }
            let mut taken = Vec::new();
            for i in ordered {
                let group = per_group.entry(clusters[i].label(&key.value)).or_default();
                let cap = limit.count.value.resolve(group.1);
                if group.0 < cap {
                    group.0 += 1;
                    taken.push(i);
                }
            }
            let total = taken.len() as u64;
            (taken, Some(total))
        }
    }
}

/// Rounds a count for a base of `n` clusters (see [`Count::resolve`]).
pub fn rounded(count: Count, n: u64) -> u64 {
    count.resolve(n)
}
