//! The planner: a compiled strategy ([`ir::Strategy`]) bound to a fleet inventory, giving
//! the exact plan an operator reviews before anything moves. Deterministic: the same
//! strategy and fleet always give the same plan, byte for byte.
//!
//! For each rollout, stages are planned in order. For one stage:
//!
//! 1. **Candidates.** The clusters its `select` matches ([`matches`], Kubernetes label
//!    semantics) that no earlier stage took. The first stage that takes a cluster owns it.
//! 2. **Order.** Candidates are sorted by `order by` (default: cluster name). A label
//!    compares numerically when every present value is an integer, as text otherwise;
//!    clusters without the label come last in either direction; ties go by cluster name.
//!    With `spread by KEY` the order then goes round-robin across KEY's values: groups
//!    sorted by value, clusters without KEY one group visited last, members in the order
//!    above.
//! 3. **Limit**, in that order, so `limit 2 spread by region` takes clusters of two
//!    different regions when there are two. `limit COUNT` keeps the first COUNT of the
//!    candidates; `limit N per KEY` the first N of each value of KEY (clusters without KEY
//!    are one group), a percentage taken of each group. Clusters a limit leaves stay
//!    candidates of later stages.
//! 4. **Requeue.** The clusters it takes that match `requeue when` now are deferred: still
//!    the stage's, started after all the others (listed in `deferred`).
//! 5. **Start order.** The clusters it takes, in the stage order again (spread applied
//!    afresh, so a `limit ... per` that dropped clusters still alternates domains), the
//!    deferred ones after the others.
//! 6. **Batch and waves.** `batch` is resolved against the clusters the stage takes
//!    (default 1). Every sync is assumed to take the same time (`--sync-time`), so the
//!    sliding window runs in waves of at most `batch` clusters; `max in flight N per KEY`
//!    caps each wave per value of KEY, and a cluster whose group is full waits for a later
//!    wave while later clusters that fit start (see [`waves`]). Deferred clusters start in
//!    waves of their own after the others. `clusters` lists the stage in start order: its
//!    waves one after the other.
//!
//! **Rounding.** A count P% of N is ⌊P × N / 100⌋, but at least 1 above 0%; an integer
//! above N means all N ([`rounded`]). An explicit `0` (or `0%`) as `limit` or `batch` is a
//! manual hold (`hold`): with `limit 0` the stage takes nothing, with `batch 0` it starts
//! nothing until an operator promotes, so it has no waves.
//!
//! **Estimated duration** of a stage: waves × (sync time + `bake each`) + `bake` + the
//! window of every metric gate. It leaves out what cannot be known in advance: approval
//! gates and holds (operator time), time windows, webhook latency, retries and the
//! requeue interval (deferred clusters are assumed ready when their turn comes). A stage
//! that takes no cluster still counts its bake and gates. A rollout's estimate is the sum
//! of its stages'.
//!
//! Clusters no stage takes are listed as `uncovered`, in fleet order.
//!
//! The cost is O(stages × clusters × selector size) to match (against label columns of
//! interned values, see the `index` module), plus O(n log n) per stage for the clusters it
//! considers; memory is linear in the fleet.

mod diff;
mod index;
mod order;
pub mod render;
mod select;
mod waves;

use serde::{Deserialize, Serialize};

pub use diff::{
    ClusterChange, Diff, DiffKind, Place, RolloutDiff, RolloutStatus, StageChange, StageCounts,
    diff,
};
pub use select::matches;

use crate::fleet::Fleet;
use crate::ir::{self, Count, Gate};
use index::Index;

/// The sync time assumed when none is given: 5 minutes.
pub const DEFAULT_SYNC_SECONDS: u64 = 5 * 60;

/// Rounds `count` for a base of `n` clusters: a percentage rounds down but is at least 1
/// above 0%; an integer above `n` means all `n`.
pub fn rounded(count: Count, n: u64) -> u64 {
    match count {
        Count::Int(k) => k.min(n),
        Count::Percent(0) => 0,
        Count::Percent(p) => (u64::from(p) * n / 100).max(1).min(n),
    }
}

/// Whether `count` is written as zero: a manual hold.
fn is_zero(count: Count) -> bool {
    matches!(count, Count::Int(0) | Count::Percent(0))
}

/// How to plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// How long every sync is assumed to take, in seconds.
    pub sync_time_seconds: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            sync_time_seconds: DEFAULT_SYNC_SECONDS,
        }
    }
}

/// A strategy bound to a fleet: what `rollc plan --output json` prints.
///
/// The documented contract is `{"rollouts":[{"name","stages":[{"name","clusters","batch",
/// "limit","waves","deferred"}],"uncovered"}]}`; the other fields are extras, and default
/// when absent so that a plan reduced to the contract still reads (for `--diff`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The assumed duration of every sync, in seconds.
    #[serde(default)]
    pub sync_time_seconds: u64,
    /// How many clusters the fleet has.
    #[serde(default)]
    pub fleet_clusters: u64,
    /// One per rollout, in strategy order.
    pub rollouts: Vec<RolloutPlan>,
}

/// One rollout's plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutPlan {
    /// The rollout's name.
    pub name: String,
    /// Its stages, in run order.
    pub stages: Vec<StagePlan>,
    /// Clusters no stage takes, in fleet order: never updated.
    pub uncovered: Vec<String>,
    /// The estimated duration of the whole rollout, in seconds.
    #[serde(default)]
    pub estimated_seconds: u64,
}

/// One stage's plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StagePlan {
    /// The stage's name.
    pub name: String,
    /// The clusters it updates, in start order (its waves one after another; deferred
    /// clusters last).
    pub clusters: Vec<String>,
    /// `batch` after rounding (base: `clusters`).
    pub batch: u64,
    /// `limit` after rounding (base: `candidates`); for `limit N per KEY` the total taken.
    /// `null` without a limit.
    pub limit: Option<u64>,
    /// The clusters started together, assuming equal sync times. Empty on a hold.
    pub waves: Vec<Vec<String>>,
    /// The clusters matching `requeue when` now, started after the others.
    pub deferred: Vec<String>,
    /// How many clusters its `select` matches.
    #[serde(default)]
    pub selected: u64,
    /// How many of those no earlier stage took.
    #[serde(default)]
    pub candidates: u64,
    /// `batch` as written (`{"int": N}` or `{"percent": P}`).
    #[serde(default = "default_batch")]
    pub batch_count: Count,
    /// `limit` as written, if any.
    #[serde(default)]
    pub limit_count: Option<Count>,
    /// The label of `limit N per KEY`.
    #[serde(default)]
    pub limit_per: Option<String>,
    /// The per-label in-flight cap.
    #[serde(default)]
    pub max_in_flight: Option<ir::MaxInFlight>,
    /// A manual hold (`limit 0` or `batch 0`): the run stops here until promoted.
    #[serde(default)]
    pub hold: bool,
    /// Soak after the stage, in seconds.
    #[serde(default)]
    pub bake_seconds: u64,
    /// Per-cluster soak, in seconds.
    #[serde(default)]
    pub bake_each_seconds: u64,
    /// The gates after the stage and its bake, in order.
    #[serde(default)]
    pub gates: Vec<GatePlan>,
    /// How many time windows restrict when its clusters start (not in the estimate).
    #[serde(default)]
    pub windows: u64,
    /// When the stage starts, in seconds after the rollout starts (by the estimate).
    #[serde(default)]
    pub start_seconds: u64,
    /// The stage's estimated duration, in seconds.
    #[serde(default)]
    pub estimated_seconds: u64,
}

fn default_batch() -> Count {
    Count::Int(1)
}

/// A gate, as the plan shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GatePlan {
    /// `webhook`, `metric` or `approval`.
    pub kind: GateKind,
    /// What it checks: the URL, the condition, or the approver's question.
    pub detail: String,
    /// The time it adds to the estimate (a metric gate's window), in seconds.
    pub seconds: u64,
}

/// The kind of a gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    /// A 2xx response passes.
    Webhook,
    /// A Prometheus query against a threshold over a window.
    Metric,
    /// Waits for `rollc promote`.
    Approval,
}

/// A rollout bound to a fleet by cluster index: the planner's decisions before names are
/// attached. `check --fleet` reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    /// One per stage, in stage order.
    pub stages: Vec<StageBinding>,
    /// For each fleet cluster, the stage that takes it.
    pub owner: Vec<Option<usize>>,
}

impl Binding {
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

/// What one stage gets from the fleet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageBinding {
    /// How many clusters its `select` matches.
    pub selected: usize,
    /// How many of those no earlier stage took.
    pub candidates: usize,
    /// The clusters it updates (fleet indices), in start order; deferred ones last.
    pub taken: Vec<usize>,
    /// The end (exclusive) of each wave in `taken`; empty on a hold.
    pub wave_ends: Vec<usize>,
    /// How many of the last clusters of `taken` are deferred by `requeue`.
    pub deferred: usize,
    /// `limit` after rounding, if the stage has one (for `per`: the total taken).
    pub limit: Option<u64>,
    /// `batch` after rounding (base: `taken`).
    pub batch: u64,
    /// A manual hold: `limit 0`, `batch 0` (or a cap of 0 in a hand-written IR).
    pub hold: bool,
}

impl StageBinding {
    /// The waves, as slices of `taken`.
    pub fn waves(&self) -> impl Iterator<Item = &[usize]> + '_ {
        let starts = std::iter::once(0).chain(self.wave_ends.iter().copied());
        starts
            .zip(self.wave_ends.iter().copied())
            .map(|(from, to)| &self.taken[from..to])
    }
}

/// Decides, by index, which stage of `rollout` takes which cluster of `fleet`, in which
/// order and waves.
pub fn bind(rollout: &ir::Rollout, fleet: &Fleet) -> Binding {
    bind_indexed(rollout, &Index::new(fleet, [rollout]))
}

fn bind_indexed(rollout: &ir::Rollout, index: &Index) -> Binding {
    let mut owner: Vec<Option<usize>> = vec![None; index.clusters.len()];
    let mut stages = Vec::with_capacity(rollout.stages.len());
    for (s, stage) in rollout.stages.iter().enumerate() {
        let select = index.compile(&stage.select);
        let mut selected = 0;
        // Walking in name order makes the candidates come out sorted by name.
        let mut candidates = Vec::new();
        for &i in &index.by_name {
            if select.matches(i) {
                selected += 1;
                if owner[i].is_none() {
                    candidates.push(i);
                }
            }
        }
        let n_candidates = candidates.len();
        let ordered = order::order(&stage.order_by, index, candidates);
        let spread = |list: &[usize]| match &stage.spread_by {
            Some(key) => order::spread(list, index, key),
            None => list.to_vec(),
        };
        let (taken_set, limit) = take(stage, index, &spread(&ordered));
        for &i in &taken_set {
            owner[i] = Some(s);
        }
        // The start order: the stage order restricted to what it takes, spread afresh, with
        // the clusters to requeue after the others.
        let requeue = stage.requeue.as_ref().map(|r| index.compile(&r.when));
        let (mut ready, mut later) = (Vec::new(), Vec::new());
        for &i in &ordered {
            if owner[i] == Some(s) {
                let deferred = requeue.as_ref().is_some_and(|r| r.matches(i));
                if deferred { &mut later } else { &mut ready }.push(i);
            }
        }
        let (ready, later) = (spread(&ready), spread(&later));
        let n = (ready.len() + later.len()) as u64;
        let batch = rounded(stage.batch, n);
        let cap = stage
            .max_in_flight
            .as_ref()
            .map(|m| (m.count, index.column(&m.per)));
        let hold = stage.limit.as_ref().is_some_and(|l| is_zero(l.count))
            || is_zero(stage.batch)
            || cap.is_some_and(|(c, _)| c == 0);
        let deferred = later.len();
        let (taken, wave_ends) = if hold {
            (ready.into_iter().chain(later).collect(), Vec::new())
        } else {
            let (mut taken, mut ends) = waves::waves(&ready, batch, cap);
            let (late, late_ends) = waves::waves(&later, batch, cap);
            let offset = taken.len();
            taken.extend(late);
            ends.extend(late_ends.into_iter().map(|e| e + offset));
            (taken, ends)
        };
        stages.push(StageBinding {
            selected,
            candidates: n_candidates,
            taken,
            wave_ends,
            deferred,
            limit,
            batch,
            hold,
        });
    }
    Binding { stages, owner }
}

/// The clusters a stage takes from its candidates (given in stage order, spread applied),
/// and its rounded limit.
fn take(stage: &ir::Stage, index: &Index, spread: &[usize]) -> (Vec<usize>, Option<u64>) {
    let Some(limit) = &stage.limit else {
        return (spread.to_vec(), None);
    };
    match &limit.per {
        None => {
            let n = rounded(limit.count, spread.len() as u64);
            (spread[..n as usize].to_vec(), Some(n))
        }
        Some(key) => {
            // `limit N per KEY`: N for each value of KEY (clusters without it are one
            // group), a percentage taken of each group's size.
            let col = index.column(key);
            let mut groups: Vec<(u64, u64)> = vec![(0, 0); col.groups()];
            for &i in spread {
                groups[col.group(i)].1 += 1;
            }
            let mut taken = Vec::new();
            for &i in spread {
                let (used, size) = &mut groups[col.group(i)];
                if *used < rounded(limit.count, *size) {
                    *used += 1;
                    taken.push(i);
                }
            }
            let total = taken.len() as u64;
            (taken, Some(total))
        }
    }
}

/// Plans `strategy` for `fleet` with the default [`Options`].
pub fn plan(strategy: &ir::Strategy, fleet: &Fleet) -> Plan {
    plan_with(strategy, fleet, Options::default())
}

/// Plans `strategy` for `fleet`.
pub fn plan_with(strategy: &ir::Strategy, fleet: &Fleet, options: Options) -> Plan {
    let index = Index::new(fleet, &strategy.rollouts);
    Plan {
        sync_time_seconds: options.sync_time_seconds,
        fleet_clusters: fleet.clusters.len() as u64,
        rollouts: strategy
            .rollouts
            .iter()
            .map(|r| rollout_plan(r, &index, options))
            .collect(),
    }
}

/// Plans one rollout for `fleet`.
pub fn plan_rollout(rollout: &ir::Rollout, fleet: &Fleet, options: Options) -> RolloutPlan {
    rollout_plan(rollout, &Index::new(fleet, [rollout]), options)
}

fn rollout_plan(rollout: &ir::Rollout, index: &Index, options: Options) -> RolloutPlan {
    let binding = bind_indexed(rollout, index);
    let name = |i: usize| index.clusters[i].name.clone();
    let names = |list: &[usize]| list.iter().map(|&i| name(i)).collect::<Vec<_>>();
    let mut start = 0u64;
    let stages = rollout
        .stages
        .iter()
        .zip(&binding.stages)
        .map(|(stage, b)| {
            let gates: Vec<GatePlan> = stage.gates.iter().map(gate).collect();
            let per_wave = options
                .sync_time_seconds
                .saturating_add(stage.bake_each_seconds);
            let estimated = (b.wave_ends.len() as u64)
                .saturating_mul(per_wave)
                .saturating_add(stage.bake_seconds)
                .saturating_add(gates.iter().map(|g| g.seconds).sum());
            let plan = StagePlan {
                name: stage.name.clone(),
                clusters: names(&b.taken),
                batch: b.batch,
                limit: b.limit,
                waves: b.waves().map(names).collect(),
                deferred: names(&b.taken[b.taken.len() - b.deferred..]),
                selected: b.selected as u64,
                candidates: b.candidates as u64,
                batch_count: stage.batch,
                limit_count: stage.limit.as_ref().map(|l| l.count),
                limit_per: stage.limit.as_ref().and_then(|l| l.per.clone()),
                max_in_flight: stage.max_in_flight.clone(),
                hold: b.hold,
                bake_seconds: stage.bake_seconds,
                bake_each_seconds: stage.bake_each_seconds,
                gates,
                windows: stage.windows.len() as u64,
                start_seconds: start,
                estimated_seconds: estimated,
            };
            start = start.saturating_add(estimated);
            plan
        })
        .collect();
    RolloutPlan {
        name: rollout.name.clone(),
        stages,
        uncovered: names(&binding.uncovered()),
        estimated_seconds: start,
    }
}

fn gate(g: &Gate) -> GatePlan {
    use crate::syntax::literal::format_duration;
    match g {
        Gate::Webhook { url, .. } => GatePlan {
            kind: GateKind::Webhook,
            detail: url.clone(),
            seconds: 0,
        },
        Gate::Metric {
            comparison,
            threshold,
            window_seconds,
            ..
        } => GatePlan {
            kind: GateKind::Metric,
            detail: format!(
                "{} {threshold} for {}",
                match comparison {
                    ir::Comparison::Below => "below",
                    ir::Comparison::Above => "above",
                },
                format_duration(*window_seconds)
            ),
            seconds: *window_seconds,
        },
        Gate::Approval { reason } => GatePlan {
            kind: GateKind::Approval,
            detail: reason.clone().unwrap_or_default(),
            seconds: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_rule() {
        // The worked examples of docs/language.md §6.
        assert_eq!(rounded(Count::Percent(25), 10), 2);
        assert_eq!(rounded(Count::Percent(5), 10), 1);
        assert_eq!(rounded(Count::Percent(25), 2), 1);
        assert_eq!(rounded(Count::Percent(100), 5), 5);
        assert_eq!(rounded(Count::Percent(50), 3), 1);
        assert_eq!(rounded(Count::Int(20), 10), 10);
        assert_eq!(rounded(Count::Int(0), 10), 0);
        assert_eq!(rounded(Count::Percent(0), 10), 0);
        // Nothing to take is nothing, whatever the percentage.
        assert_eq!(rounded(Count::Percent(1), 0), 0);
    }
}
