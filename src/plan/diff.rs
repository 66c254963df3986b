//! Comparing two plans (`rollc plan --diff OLD.json`): which clusters moved between stages
//! or waves, which appeared or disappeared, and which stages' counts changed, after a change
//! to the strategy or the fleet.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::{Plan, RolloutPlan, StagePlan};

/// The differences between an old plan and a new one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    /// One per rollout of either plan: the new plan's order, then rollouts only the old one
    /// has.
    pub rollouts: Vec<RolloutDiff>,
}

impl Diff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.rollouts
            .iter()
            .all(|r| r.status == RolloutStatus::Unchanged)
    }
}

/// What happened to one rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutDiff {
    /// The rollout's name.
    pub name: String,
    /// Added, removed, changed or unchanged.
    pub status: RolloutStatus,
    /// Clusters whose place changed, grouped by kind, by cluster name within a kind.
    /// Empty for an added or removed rollout.
    pub clusters: Vec<ClusterChange>,
    /// Stages added, removed, or whose counts changed, in the new plan's order, then the
    /// removed ones.
    pub stages: Vec<StageChange>,
    /// The estimated duration before and after, in seconds, when it changed.
    pub estimated_seconds: Option<[u64; 2]>,
}

/// What happened to a rollout as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutStatus {
    /// Only in the new plan.
    Added,
    /// Only in the old plan.
    Removed,
    /// In both, with differences.
    Changed,
    /// In both, the same clusters in the same places and the same counts.
    Unchanged,
}

/// A cluster whose place changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterChange {
    /// The cluster's name.
    pub cluster: String,
    /// How it changed.
    pub kind: DiffKind,
    /// Where it was; `null` when the old plan's fleet did not have it.
    pub from: Option<Place>,
    /// Where it is; `null` when the new plan's fleet does not have it.
    pub to: Option<Place>,
}

/// How a cluster's place changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    /// Another stage takes it (or none does now, or one does now).
    Stage,
    /// The same stage starts it in another wave.
    Wave,
    /// New in the fleet.
    Appeared,
    /// Gone from the fleet.
    Disappeared,
}

/// Where a plan puts a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// The stage that takes it; `null` when no stage does (uncovered).
    pub stage: Option<String>,
    /// Its wave, counting from 1; `null` when uncovered or the stage is on hold.
    pub wave: Option<u64>,
}

/// A stage added, removed, or with other counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageChange {
    /// The stage's name.
    pub stage: String,
    /// Its counts before; `null` when it is new.
    pub from: Option<StageCounts>,
    /// Its counts after; `null` when it was removed.
    pub to: Option<StageCounts>,
}

/// The counts of a stage that a reviewer compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageCounts {
    /// How many clusters it updates.
    pub clusters: u64,
    /// How many waves.
    pub waves: u64,
    /// `batch` after rounding.
    pub batch: u64,
    /// `limit` after rounding.
    pub limit: Option<u64>,
    /// A manual hold.
    pub hold: bool,
}

fn counts(s: &StagePlan) -> StageCounts {
    StageCounts {
        clusters: s.clusters.len() as u64,
        waves: s.waves.len() as u64,
        batch: s.batch,
        limit: s.limit,
        hold: s.hold,
    }
}

/// Every cluster's place in `rollout`. A cluster a hand-edited plan lists twice keeps its
/// first place.
fn places(rollout: &RolloutPlan) -> HashMap<&str, Place> {
    let mut out: HashMap<&str, Place> = HashMap::new();
    for stage in &rollout.stages {
        for (w, wave) in stage.waves.iter().enumerate() {
            for c in wave {
                out.entry(c).or_insert_with(|| Place {
                    stage: Some(stage.name.clone()),
                    wave: Some(w as u64 + 1),
                });
            }
        }
        // On a hold the clusters have no wave.
        for c in &stage.clusters {
            out.entry(c).or_insert_with(|| Place {
                stage: Some(stage.name.clone()),
                wave: None,
            });
        }
    }
    for c in &rollout.uncovered {
        out.entry(c).or_insert(Place {
            stage: None,
            wave: None,
        });
    }
    out
}

/// Compares `old` with `new`.
pub fn diff(old: &Plan, new: &Plan) -> Diff {
    let old_by_name: HashMap<&str, &RolloutPlan> =
        old.rollouts.iter().map(|r| (r.name.as_str(), r)).collect();
    let new_names: BTreeSet<&str> = new.rollouts.iter().map(|r| r.name.as_str()).collect();
    let mut rollouts = Vec::new();
    for r in &new.rollouts {
        rollouts.push(match old_by_name.get(r.name.as_str()) {
            Some(o) => rollout_diff(o, r),
            None => RolloutDiff {
                name: r.name.clone(),
                status: RolloutStatus::Added,
                clusters: Vec::new(),
                stages: Vec::new(),
                estimated_seconds: None,
            },
        });
    }
    for o in &old.rollouts {
        if !new_names.contains(o.name.as_str()) {
            rollouts.push(RolloutDiff {
                name: o.name.clone(),
                status: RolloutStatus::Removed,
                clusters: Vec::new(),
                stages: Vec::new(),
                estimated_seconds: None,
            });
        }
    }
    Diff { rollouts }
}

fn rollout_diff(old: &RolloutPlan, new: &RolloutPlan) -> RolloutDiff {
    let (before, after) = (places(old), places(new));
    let names: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
    let mut clusters = Vec::new();
    for name in names {
        let (from, to) = (before.get(name), after.get(name));
        let kind = match (from, to) {
            (None, Some(_)) => DiffKind::Appeared,
            (Some(_), None) => DiffKind::Disappeared,
            (Some(f), Some(t)) if f.stage != t.stage => DiffKind::Stage,
            (Some(f), Some(t)) if f.wave != t.wave => DiffKind::Wave,
            _ => continue,
        };
        clusters.push(ClusterChange {
            cluster: name.to_string(),
            kind,
            from: from.cloned(),
            to: to.cloned(),
        });
    }
    // Stable: by kind, names already sorted within each.
    clusters.sort_by_key(|c| c.kind);

    let old_stages: BTreeMap<&str, &StagePlan> =
        old.stages.iter().map(|s| (s.name.as_str(), s)).collect();
    let new_stages: BTreeSet<&str> = new.stages.iter().map(|s| s.name.as_str()).collect();
    let mut stages = Vec::new();
    for s in &new.stages {
        let before = old_stages.get(s.name.as_str()).map(|o| counts(o));
        let after = Some(counts(s));
        if before != after {
            stages.push(StageChange {
                stage: s.name.clone(),
                from: before,
                to: after,
            });
        }
    }
    for o in &old.stages {
        if !new_stages.contains(o.name.as_str()) {
            stages.push(StageChange {
                stage: o.name.clone(),
                from: Some(counts(o)),
                to: None,
            });
        }
    }
    let estimated_seconds = (old.estimated_seconds != new.estimated_seconds)
        .then_some([old.estimated_seconds, new.estimated_seconds]);
    let order_changed = old
        .stages
        .iter()
        .map(|s| &s.name)
        .ne(new.stages.iter().map(|s| &s.name));
    let status = if clusters.is_empty()
        && stages.is_empty()
        && estimated_seconds.is_none()
        && !order_changed
    {
        RolloutStatus::Unchanged
    } else {
        RolloutStatus::Changed
    };
    RolloutDiff {
        name: new.name.clone(),
        status,
        clusters,
        stages,
        estimated_seconds,
    }
}
