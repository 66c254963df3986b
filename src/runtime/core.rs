//! The executor's decisions: a run as a deterministic state machine over journal records.
//!
//! [`Run::apply`] is the only way the run's state changes, and it is a pure function of the
//! record, so replaying a journal rebuilds a run exactly. Everything else — a tick of the
//! clock, a fact from the backend, an operator's intent, a gate's answer — *decides*: it
//! emits records, each applied at once and queued for the driver, which journals them
//! (flushed) before it acts on any of them (see [`super::drive`]).
//!
//! Decisions are cheap at any fleet size: the clusters waiting to start sit in per-group
//! queues (one group per value of a `max in flight ... per KEY` label), deadlines and
//! per-cluster bakes in heaps, so every decision costs O(log n).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};

use jiff::{SignedDuration, Timestamp};

use super::event::{Event, PlannedCluster, Record};
use super::window;
use crate::backends::{ClusterStatus, Observed};
use crate::fleet::Cluster;
use crate::ir::{self, Comparison, FailurePolicy, Gate};
use crate::plan;

/// The pause between a failed webhook attempt and the next.
pub const WEBHOOK_RETRY_SECONDS: i64 = 30;
/// How many metric queries in a row may fail (the query, not the threshold) before the gate
/// fails.
pub const METRIC_ERRORS: u32 = 3;

/// Where a run is.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// Not yet started (no `run_started` record).
    New,
    /// Going through the stages.
    Forward,
    /// Syncing updated clusters back to their previous revisions.
    RollingBack,
    /// Every stage completed.
    Succeeded,
    /// A stage failed (policy `abort`, or after a rollback).
    Failed {
        /// Why.
        reason: String,
    },
    /// Aborted by an operator or superseded by a new revision.
    Aborted {
        /// Who or what.
        by: String,
    },
}

impl Phase {
    /// Whether the run has ended.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Phase::Succeeded | Phase::Failed { .. } | Phase::Aborted { .. }
        )
    }
}

/// Why a run waits for an operator.
#[derive(Clone, Debug, PartialEq)]
pub struct Pause {
    /// `operator`, `hold`, `failure` or `window`.
    pub reason: String,
    /// Details for the operator.
    pub detail: Option<String>,
}

/// Where a stage is.
#[derive(Clone, Debug, PartialEq)]
pub enum StageState {
    /// Not started.
    Waiting,
    /// Starting and watching clusters.
    Rolling,
    /// Every cluster is done; baking until then.
    Baking {
        /// When the bake ends.
        until: Timestamp,
    },
    /// Running its gates.
    Gates(GateRun),
    /// Done.
    Completed,
    /// Failed beyond its tolerance; the failure policy acts (or has acted).
    Failed {
        /// Why.
        reason: String,
        /// Where it was when it failed, to go back to on `resume`.
        from: Box<StageState>,
    },
}

/// The gate a stage is at.
#[derive(Clone, Debug, PartialEq)]
pub struct GateRun {
    /// Its position in the stage.
    pub index: usize,
    /// When it started; `None` until `gate_started`.
    pub started: Option<Timestamp>,
    /// The requests made so far.
    pub attempts: u64,
    /// When the next request is due.
    pub next_at: Option<Timestamp>,
    /// A request was sent and its answer has not been recorded.
    pub outstanding: bool,
    /// Failed metric queries in a row.
    pub errors: u32,
}

impl GateRun {
    fn new(index: usize) -> GateRun {
        GateRun {
            index,
            started: None,
            attempts: 0,
            next_at: None,
            outstanding: false,
            errors: 0,
        }
    }
}

/// One stage of a run.
#[derive(Clone, Debug)]
pub struct StageRun {
    /// The stage's name.
    pub name: String,
    /// Its clusters (indices into [`Run::clusters`]), in start order.
    pub clusters: Vec<usize>,
    /// `batch` after rounding.
    pub batch: u64,
    /// `tolerate` after rounding.
    pub tolerate: u64,
    /// Failures an operator accepted with `resume`.
    pub accepted: u64,
    /// A manual hold not yet promoted.
    pub hold: bool,
    /// Where it is.
    pub state: StageState,
    /// Clusters in flight (syncing, or healthy and baking).
    pub in_flight: u64,
    /// Clusters done.
    pub done: u64,
    /// Clusters failed.
    pub failed: u64,
    /// Clusters that left the fleet.
    pub left: u64,
    /// Clusters not yet done, failed or gone.
    remaining: u64,
    queue: Queue,
    /// Requeued clusters by the time they are checked again.
    requeued: BTreeSet<(Timestamp, usize)>,
}

/// Where a cluster is in the run.
#[derive(Clone, Debug, PartialEq)]
pub enum ClusterState {
    /// Not in any stage of this run (joined too late, or no stage takes it).
    Unplanned,
    /// Waiting for its turn.
    Pending,
    /// Skipped by `requeue`; checked again at `next_check`.
    Requeued {
        /// Checks that found it still matching.
        attempt: u64,
        /// The next check.
        next_check: Timestamp,
    },
    /// Syncing, not yet healthy.
    Syncing {
        /// When the sync was triggered.
        since: Timestamp,
    },
    /// Healthy, serving its `bake each`.
    Baking {
        /// When the sync was triggered.
        since: Timestamp,
        /// When the bake ends.
        until: Timestamp,
    },
    /// Updated.
    Done,
    /// Failed.
    Failed {
        /// Why.
        reason: String,
    },
    /// Left the fleet.
    Left,
    /// Being synced back to its previous revision.
    RollingBack {
        /// When the rollback sync was triggered.
        since: Timestamp,
    },
    /// Back at its previous revision.
    RolledBack,
    /// Its rollback sync failed.
    RollbackFailed {
        /// Why.
        reason: String,
    },
}

/// One cluster of a run.
#[derive(Clone, Debug)]
pub struct ClusterRun {
    /// The cluster as last seen (name, server, labels).
    pub cluster: Cluster,
    /// Its stage.
    pub stage: Option<usize>,
    /// Where it is.
    pub state: ClusterState,
    /// What it ran before the run.
    pub previous: Option<String>,
    /// The value of the stage's `max in flight ... per KEY` label when it started.
    group: Option<String>,
    /// The order in which forward syncs started (for rollback, newest first).
    synced: Option<u64>,
}

/// Clusters waiting to start, in start order, grouped by the value of the stage's
/// `max in flight ... per KEY` label (one group without a cap).
#[derive(Clone, Debug, Default)]
struct Queue {
    groups: HashMap<Option<String>, VecDeque<(u64, usize)>>,
    next_pos: u64,
}

impl Queue {
    fn push(&mut self, group: Option<String>, cluster: usize) {
        let pos = self.next_pos;
        self.next_pos += 1;
        self.groups
            .entry(group)
            .or_default()
            .push_back((pos, cluster));
    }

    /// Groups the waiting clusters by `group`, keeping their order.
    fn regroup(&mut self, group: impl Fn(usize) -> Option<String>) {
        let mut all: Vec<(u64, usize)> = self.groups.drain().flat_map(|(_, m)| m).collect();
        all.sort_unstable();
        for (pos, c) in all {
            self.groups.entry(group(c)).or_default().push_back((pos, c));
        }
    }

    /// The earliest waiting cluster whose group has room, skipping (and dropping) entries
    /// `live` rejects.
    fn pick(
        &mut self,
        room: impl Fn(&Option<String>) -> bool,
        live: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let mut best: Option<(u64, &Option<String>)> = None;
        for (group, members) in &mut self.groups {
            while let Some(&(_, c)) = members.front() {
                if live(c) {
                    break;
                }
                members.pop_front();
            }
            if let Some(&(pos, _)) = members.front()
                && room(group)
                && best.is_none_or(|(p, _)| pos < p)
            {
                best = Some((pos, group));
            }
        }
        let group = best?.1.clone();
        let members = self.groups.get_mut(&group).expect("picked from it");
        let (_, c) = members.pop_front().expect("non-empty");
        if members.is_empty() {
            self.groups.remove(&group);
        }
        Some(c)
    }
}

/// The rollback in progress: stages in reverse order, each with its own limits.
#[derive(Clone, Debug, Default)]
struct Rollback {
    /// (stage, its clusters to roll back, newest first), latest stage first.
    groups: VecDeque<(usize, Queue)>,
    in_flight: u64,
    per_group: HashMap<Option<String>, u64>,
    done: u64,
    failed: u64,
    finished: bool,
}

/// What an operator asks of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Stop starting clusters, bakes and gates.
    Pause,
    /// Continue a paused run, accepting failures that paused it.
    Resume,
    /// Pass the current approval gate, hold, or pause; with `full`, skip every later bake,
    /// approval and hold too.
    Promote {
        /// `--full`.
        full: bool,
    },
    /// Stop the run and leave clusters as they are.
    Abort,
    /// Sync the current stage's failed clusters again and continue.
    Retry,
}

/// Why an operator's intent was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// What is wrong, lower-case.
    pub message: String,
}

fn refuse<T>(message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        message: message.into(),
    })
}

/// A gate request the driver must make.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// The stage.
    pub stage: usize,
    /// The gate's index in the stage.
    pub gate: usize,
    /// The request's number.
    pub attempt: u64,
    /// The instant it is made at (a metric query asks Prometheus about this instant).
    pub at: Timestamp,
}

/// A run: its strategy, its plan, and where every stage and cluster is.
#[derive(Clone, Debug)]
pub struct Run {
    /// The run's id.
    pub id: String,
    /// The rollout it executes.
    pub rollout: ir::Rollout,
    /// The pinned revision.
    pub revision: String,
    /// What most clusters ran before (for `undo`).
    pub previous_revision: Option<String>,
    /// Where it is.
    pub phase: Phase,
    /// Set while it waits for an operator.
    pub paused: Option<Pause>,
    /// `promote --full` was given.
    pub full: bool,
    /// The stages.
    pub stages: Vec<StageRun>,
    /// Every cluster it knows.
    pub clusters: Vec<ClusterRun>,
    /// The stage it is at.
    pub current: usize,
    /// A new revision seen during the run, for the run after it.
    pub pending_revision: Option<String>,
    /// When the run started.
    pub started: Option<Timestamp>,
    /// The time of the last record.
    pub last_time: Option<Timestamp>,
    /// The number of records so far.
    pub seq: u64,
    index: HashMap<String, usize>,
    rollback: Option<Rollback>,
    deadlines: BinaryHeap<Reverse<(Timestamp, usize)>>,
    bakes: BinaryHeap<Reverse<(Timestamp, usize)>>,
    hints: BinaryHeap<Reverse<Timestamp>>,
    syncs: u64,
    out: Vec<Record>,
    requests: std::collections::HashSet<String>,
}

impl Run {
    /// A run with nothing recorded yet.
    pub fn new(id: impl Into<String>, rollout: ir::Rollout) -> Run {
        Run {
            id: id.into(),
            rollout,
            revision: String::new(),
            previous_revision: None,
            phase: Phase::New,
            paused: None,
            full: false,
            stages: Vec::new(),
            clusters: Vec::new(),
            current: 0,
            pending_revision: None,
            started: None,
            last_time: None,
            seq: 0,
            index: HashMap::new(),
            rollback: None,
            deadlines: BinaryHeap::new(),
            bakes: BinaryHeap::new(),
            hints: BinaryHeap::new(),
            syncs: 0,
            out: Vec::new(),
            requests: Default::default(),
        }
    }

    /// Plans the run on `fleet` and records its start: the pinned revision, each stage's
    /// clusters with what they run now (`deployed`), and the executor.
    pub fn start(
        &mut self,
        now: Timestamp,
        fleet: &crate::fleet::Fleet,
        revision: &str,
        deployed: &HashMap<String, Option<String>>,
        holder: &str,
    ) {
        let plan = plan::plan_rollout(&self.rollout, fleet, plan::Options::default());
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for stage in &plan.stages {
            for name in &stage.clusters {
                if let Some(Some(rev)) = deployed.get(name) {
                    *counts.entry(rev.as_str()).or_default() += 1;
                }
            }
        }
        // The most common revision; ties go to the smallest, so the choice is stable.
        let previous = counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
            .map(|(rev, _)| rev.to_string());
        self.emit(
            now,
            Event::RunStarted {
                rollout: self.rollout.name.clone(),
                revision: revision.to_string(),
                previous_revision: previous,
                fleet_clusters: fleet.clusters.len() as u64,
            },
        );
        for (stage, planned) in self.rollout.stages.clone().iter().zip(plan.stages) {
            let tolerate = plan::rounded(stage.tolerate, planned.clusters.len() as u64);
            let clusters = planned
                .clusters
                .into_iter()
                .map(|name| PlannedCluster {
                    previous: deployed.get(&name).cloned().flatten(),
                    name,
                })
                .collect();
            self.emit(
                now,
                Event::StagePlanned {
                    stage: stage.name.clone(),
                    clusters,
                    batch: planned.batch,
                    tolerate,
                    hold: planned.hold,
                },
            );
        }
        self.set_inventory(&fleet.clusters);
        self.attach(now, holder);
    }

    /// Records that an executor took over the run.
    pub fn attach(&mut self, now: Timestamp, holder: &str) {
        self.emit(
            now,
            Event::ExecutorAttached {
                holder: holder.to_string(),
            },
        );
    }

    /// Gives the run the fleet's clusters as they are now (labels are facts of the moment,
    /// not part of the journal). Planned clusters missing from `clusters` have left.
    pub fn set_inventory(&mut self, clusters: &[Cluster]) {
        for c in clusters {
            if let Some(&i) = self.index.get(&c.name) {
                self.clusters[i].cluster = c.clone();
            }
        }
        // Queues replayed without labels are grouped afresh by the labels of now, in the
        // same order.
        for s in 0..self.stages.len() {
            let mut queue = std::mem::take(&mut self.stages[s].queue);
            queue.regroup(|c| self.group_of(s, c));
            self.stages[s].queue = queue;
        }
        if let Some(mut rb) = self.rollback.take() {
            for (s, queue) in &mut rb.groups {
                queue.regroup(|c| self.group_of(*s, c));
            }
            self.rollback = Some(rb);
        }
    }

    /// The planned clusters that are not in `clusters` and have not been seen to leave.
    pub fn missing_from(&self, clusters: &[Cluster]) -> Vec<String> {
        let present: std::collections::HashSet<&str> =
            clusters.iter().map(|c| c.name.as_str()).collect();
        self.clusters
            .iter()
            .filter(|c| c.state != ClusterState::Left && !present.contains(c.cluster.name.as_str()))
            .map(|c| c.cluster.name.clone())
            .collect()
    }

    /// The records decided since the last call, for the driver to journal and act on.
    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.out)
    }

    /// Decides and applies one record.
    fn emit(&mut self, now: Timestamp, event: Event) {
        // Journal times never go backwards, even when a fact arrives late.
        let time = self.last_time.map_or(now, |t| t.max(now));
        let record = Record {
            time,
            seq: self.seq,
            run: self.id.clone(),
            event,
        };
        self.apply(&record);
        self.out.push(record);
    }

    fn stage_index(&self, name: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.name == name)
    }

    fn ir_stage(&self, s: usize) -> &ir::Stage {
        &self.rollout.stages[s]
    }

    fn group_of(&self, s: usize, c: usize) -> Option<String> {
        let key = &self.ir_stage(s).max_in_flight.as_ref()?.per;
        self.clusters[c].cluster.label(key).map(str::to_string)
    }

    /// Applies one record: the only change of state there is. Unknown stage or cluster
    /// names (a journal edited by hand) are ignored rather than trusted.
    pub fn apply(&mut self, record: &Record) {
        let now = record.time;
        self.seq = record.seq + 1;
        self.last_time = Some(self.last_time.map_or(now, |t| t.max(now)));
        match &record.event {
            Event::RunStarted {
                revision,
                previous_revision,
                ..
            } => {
                self.phase = Phase::Forward;
                self.revision = revision.clone();
                self.previous_revision = previous_revision.clone();
                self.started = Some(now);
            }
            Event::StagePlanned {
                stage,
                clusters,
                batch,
                tolerate,
                hold,
            } => {
                let s = self.stages.len();
                let mut run = StageRun {
                    name: stage.clone(),
                    clusters: Vec::with_capacity(clusters.len()),
                    batch: *batch,
                    tolerate: *tolerate,
                    accepted: 0,
                    hold: *hold,
                    state: StageState::Waiting,
                    in_flight: 0,
                    done: 0,
                    failed: 0,
                    left: 0,
                    remaining: 0,
                    queue: Queue::default(),
                    requeued: BTreeSet::new(),
                };
                for pc in clusters {
                    let c = self.clusters.len();
                    self.index.insert(pc.name.clone(), c);
                    self.clusters.push(ClusterRun {
                        cluster: Cluster::new(pc.name.clone(), "", Default::default()),
                        stage: Some(s),
                        state: ClusterState::Pending,
                        previous: pc.previous.clone(),
                        group: None,
                        synced: None,
                    });
                    run.clusters.push(c);
                    run.remaining += 1;
                }
                self.stages.push(run);
            }
            Event::ExecutorAttached { .. } => {}
            Event::StageStarted { stage } => {
                let Some(s) = self.stage_index(stage) else {
                    return;
                };
                self.current = s;
                // The queue is built now, from the labels of this moment, so a cap groups
                // clusters by the values they have when the stage starts.
                self.stages[s].queue = self.pending_queue(s);
                self.stages[s].state = StageState::Rolling;
            }
            Event::ClusterSyncStarted {
                cluster,
                rollback,
                stage,
                group,
                ..
            } => {
                let (Some(&c), Some(s)) = (self.index.get(cluster), self.stage_index(stage)) else {
                    return;
                };
                // The group journaled with the decision: labels are not part of the
                // journal, so a replay must not look them up.
                let group = group.clone();
                if let Some(d) = self.ir_stage(s).deadline_seconds {
                    self.deadlines
                        .push(Reverse((now + SignedDuration::from_secs(d as i64), c)));
                }
                if *rollback {
                    let rb = self.rollback.get_or_insert_with(Rollback::default);
                    rb.in_flight += 1;
                    *rb.per_group.entry(group.clone()).or_default() += 1;
                    self.clusters[c].state = ClusterState::RollingBack { since: now };
                    self.clusters[c].group = group;
                    return;
                }
                let was = std::mem::replace(
                    &mut self.clusters[c].state,
                    ClusterState::Syncing { since: now },
                );
                if let ClusterState::Requeued { next_check, .. } = was {
                    self.stages[s].requeued.remove(&(next_check, c));
                }
                self.clusters[c].group = group;
                self.clusters[c].synced = Some(self.syncs);
                self.syncs += 1;
                self.stages[s].in_flight += 1;
            }
            Event::ClusterHealthy { cluster, .. } => {
                let Some(&c) = self.index.get(cluster) else {
                    return;
                };
                match self.clusters[c].state.clone() {
                    ClusterState::Syncing { since } => {
                        let s = self.clusters[c]
                            .stage
                            .expect("a syncing cluster has a stage");
                        let bake = self.ir_stage(s).bake_each_seconds;
                        if bake > 0 && !self.full {
                            let until = now + SignedDuration::from_secs(bake as i64);
                            self.clusters[c].state = ClusterState::Baking { since, until };
                            self.bakes.push(Reverse((until, c)));
                        } else {
                            self.finish(c, ClusterState::Done);
                        }
                    }
                    ClusterState::RollingBack { .. } => self.finish_rollback(c, None),
                    _ => {}
                }
            }
            Event::ClusterBaked { cluster, .. } => {
                if let Some(&c) = self.index.get(cluster)
                    && matches!(self.clusters[c].state, ClusterState::Baking { .. })
                {
                    self.finish(c, ClusterState::Done);
                }
            }
            Event::ClusterFailed {
                cluster, reason, ..
            } => {
                let Some(&c) = self.index.get(cluster) else {
                    return;
                };
                let failed = ClusterState::Failed {
                    reason: reason.clone(),
                };
                match self.clusters[c].state.clone() {
                    ClusterState::RollingBack { .. } => {
                        self.finish_rollback(c, Some(reason.clone()));
                    }
                    ClusterState::Done => {
                        // Turned unhealthy while its stage bakes.
                        let s = self.clusters[c].stage.expect("a done cluster has a stage");
                        self.clusters[c].state = failed;
                        self.stages[s].done -= 1;
                        self.stages[s].failed += 1;
                    }
                    ClusterState::Requeued { next_check, .. } => {
                        let s = self.clusters[c]
                            .stage
                            .expect("a requeued cluster has a stage");
                        self.stages[s].requeued.remove(&(next_check, c));
                        self.finish(c, failed);
                    }
                    ClusterState::Pending
                    | ClusterState::Syncing { .. }
                    | ClusterState::Baking { .. } => self.finish(c, failed),
                    _ => {}
                }
            }
            Event::ClusterRequeued {
                cluster,
                attempt,
                next_check,
                ..
            } => {
                let Some(&c) = self.index.get(cluster) else {
                    return;
                };
                let Some(s) = self.clusters[c].stage else {
                    return;
                };
                if let ClusterState::Requeued {
                    next_check: old, ..
                } = self.clusters[c].state
                {
                    self.stages[s].requeued.remove(&(old, c));
                }
                self.clusters[c].state = ClusterState::Requeued {
                    attempt: *attempt,
                    next_check: *next_check,
                };
                self.stages[s].requeued.insert((*next_check, c));
                self.hints.push(Reverse(*next_check));
            }
            Event::ClusterJoined {
                cluster,
                stage,
                previous_revision,
            } => {
                if self.index.contains_key(cluster) {
                    return;
                }
                let c = self.clusters.len();
                self.index.insert(cluster.clone(), c);
                let s = stage.as_deref().and_then(|n| self.stage_index(n));
                self.clusters.push(ClusterRun {
                    cluster: Cluster::new(cluster.clone(), "", Default::default()),
                    stage: s,
                    state: if s.is_some() {
                        ClusterState::Pending
                    } else {
                        ClusterState::Unplanned
                    },
                    previous: previous_revision.clone(),
                    group: None,
                    synced: None,
                });
                if let Some(s) = s {
                    self.stages[s].clusters.push(c);
                    self.stages[s].remaining += 1;
                    if self.stages[s].state != StageState::Waiting {
                        let group = self.group_of(s, c);
                        self.stages[s].queue.push(group, c);
                    }
                }
            }
            Event::ClusterLeft { cluster, .. } => {
                let Some(&c) = self.index.get(cluster) else {
                    return;
                };
                match self.clusters[c].state.clone() {
                    ClusterState::Requeued { next_check, .. } => {
                        let s = self.clusters[c]
                            .stage
                            .expect("a requeued cluster has a stage");
                        self.stages[s].requeued.remove(&(next_check, c));
                        self.finish(c, ClusterState::Left);
                    }
                    ClusterState::Pending
                    | ClusterState::Syncing { .. }
                    | ClusterState::Baking { .. } => self.finish(c, ClusterState::Left),
                    ClusterState::RollingBack { .. } => {
                        self.finish_rollback(c, Some("left the fleet".into()));
                        self.clusters[c].state = ClusterState::Left;
                    }
                    ClusterState::Unplanned => self.clusters[c].state = ClusterState::Left,
                    _ => {}
                }
            }
            Event::BakeStarted { stage, until } => {
                if let Some(s) = self.stage_index(stage) {
                    self.stages[s].state = StageState::Baking { until: *until };
                    self.hints.push(Reverse(*until));
                }
            }
            Event::BakeFinished { stage } => {
                if let Some(s) = self.stage_index(stage) {
                    self.stages[s].state = StageState::Gates(GateRun::new(0));
                }
            }
            Event::GateStarted { stage, gate, .. } => {
                if let Some(s) = self.stage_index(stage) {
                    let mut g = GateRun::new(*gate);
                    g.started = Some(now);
                    if !matches!(
                        self.ir_stage(s).gates.get(*gate),
                        Some(Gate::Approval { .. })
                    ) {
                        g.next_at = Some(now);
                    }
                    self.stages[s].state = StageState::Gates(g);
                }
            }
            Event::GateProbe { stage, attempt, .. } => {
                if let Some(s) = self.stage_index(stage)
                    && let StageState::Gates(g) = &mut self.stages[s].state
                {
                    g.attempts = *attempt;
                    g.outstanding = true;
                    g.next_at = None;
                }
            }
            Event::GateChecked {
                stage,
                error,
                next_at,
                ..
            } => {
                if let Some(s) = self.stage_index(stage)
                    && let StageState::Gates(g) = &mut self.stages[s].state
                {
                    g.outstanding = false;
                    g.next_at = Some(*next_at);
                    g.errors = if error.is_some() { g.errors + 1 } else { 0 };
                    self.hints.push(Reverse(*next_at));
                }
            }
            Event::GatePassed { stage, gate, .. } => {
                if let Some(s) = self.stage_index(stage) {
                    let next = gate + 1;
                    self.stages[s].state = StageState::Gates(GateRun::new(next));
                    if self.paused.as_ref().is_some_and(|p| p.reason == "approval") {
                        self.paused = None;
                    }
                }
            }
            Event::GateFailed { stage, reason, .. } => {
                if let Some(s) = self.stage_index(stage) {
                    let from = std::mem::replace(&mut self.stages[s].state, StageState::Waiting);
                    let from = match from {
                        // Resuming runs the gate again from the start.
                        StageState::Gates(g) => StageState::Gates(GateRun::new(g.index)),
                        other => other,
                    };
                    self.stages[s].state = StageState::Failed {
                        reason: reason.clone(),
                        from: Box::new(from),
                    };
                }
            }
            Event::StageCompleted { stage, .. } => {
                if let Some(s) = self.stage_index(stage) {
                    self.stages[s].state = StageState::Completed;
                    self.current = s + 1;
                }
            }
            Event::StageFailed { stage, reason, .. } => {
                if let Some(s) = self.stage_index(stage)
                    && !matches!(self.stages[s].state, StageState::Failed { .. })
                {
                    let from = std::mem::replace(&mut self.stages[s].state, StageState::Waiting);
                    self.stages[s].state = StageState::Failed {
                        reason: reason.clone(),
                        from: Box::new(from),
                    };
                }
            }
            Event::Paused { reason, detail, .. } => {
                self.paused = Some(Pause {
                    reason: reason.clone(),
                    detail: detail.clone(),
                });
            }
            Event::Resumed { .. } => {
                self.paused = None;
                self.unfail_current(true);
            }
            Event::Promoted { full, .. } => {
                self.full |= *full;
                self.paused = None;
                if let Some(st) = self.stages.get_mut(self.current) {
                    if st.hold {
                        st.hold = false;
                        st.batch = st.batch.max(1);
                    }
                    if let StageState::Baking { until } = &mut st.state
                        && *full
                    {
                        *until = now;
                    }
                }
                if *full {
                    // Bakes already running end now; health is still watched.
                    let baking: Vec<usize> = (0..self.clusters.len())
                        .filter(|&c| matches!(self.clusters[c].state, ClusterState::Baking { .. }))
                        .collect();
                    for c in baking {
                        if let ClusterState::Baking { since, .. } = self.clusters[c].state {
                            self.clusters[c].state = ClusterState::Baking { since, until: now };
                            self.bakes.push(Reverse((now, c)));
                        }
                    }
                }
                self.unfail_current(true);
            }
            Event::Retried { clusters, .. } => {
                let mut retried = BTreeSet::new();
                self.paused = None;
                if matches!(self.phase, Phase::Failed { .. } | Phase::Aborted { .. }) {
                    self.phase = Phase::Forward;
                }
                for name in clusters {
                    let Some(&c) = self.index.get(name) else {
                        continue;
                    };
                    let Some(s) = self.clusters[c].stage else {
                        continue;
                    };
                    if matches!(self.clusters[c].state, ClusterState::Failed { .. }) {
                        self.clusters[c].state = ClusterState::Pending;
                        let st = &mut self.stages[s];
                        st.failed -= 1;
                        st.remaining += 1;
                        retried.insert(s);
                    }
                }
                // The queues are rebuilt in start order, as when the stage started: a live
                // run has popped the clusters it started, a replayed one has not, and both
                // must start the same cluster next.
                for s in retried {
                    self.stages[s].queue = self.pending_queue(s);
                }
                self.unfail_current(false);
            }
            Event::RollbackStarted { .. } => {
                self.phase = Phase::RollingBack;
                self.paused = None;
                let mut rb = Rollback::default();
                for s in (0..self.stages.len()).rev() {
                    let mut updated: Vec<(u64, usize)> = self.stages[s]
                        .clusters
                        .iter()
                        .filter_map(|&c| Some((self.rollback_order(c)?, c)))
                        .collect();
                    if updated.is_empty() {
                        continue;
                    }
                    updated.sort_by_key(|&(synced, _)| Reverse(synced));
                    let mut queue = Queue::default();
                    for (_, c) in updated {
                        queue.push(self.group_of(s, c), c);
                    }
                    rb.groups.push_back((s, queue));
                }
                // Clusters still in flight forward no longer count against a stage.
                for st in &mut self.stages {
                    st.in_flight = 0;
                }
                self.rollback = Some(rb);
            }
            Event::RollbackFinished { .. } => {
                if let Some(rb) = &mut self.rollback {
                    rb.finished = true;
                }
            }
            Event::OperatorRequest { id, .. } => {
                self.requests.insert(id.clone());
            }
            Event::RevisionDetected { revision, .. } => {
                self.pending_revision = Some(revision.clone());
            }
            Event::RunSucceeded {} => self.phase = Phase::Succeeded,
            Event::RunFailed { reason } => {
                self.phase = Phase::Failed {
                    reason: reason.clone(),
                }
            }
            Event::RunAborted { by } => self.phase = Phase::Aborted { by: by.clone() },
        }
    }

    /// Stage `s`'s waiting clusters in start order, grouped by the labels they have now.
    fn pending_queue(&self, s: usize) -> Queue {
        let mut queue = Queue::default();
        for &c in &self.stages[s].clusters {
            if self.clusters[c].state == ClusterState::Pending {
                queue.push(self.group_of(s, c), c);
            }
        }
        queue
    }

    /// When this run started syncing cluster `c` (its place in the rollback, newest first),
    /// if a rollback would take it back: a sync started and it ran another revision before.
    fn rollback_order(&self, c: usize) -> Option<u64> {
        let cr = &self.clusters[c];
        let synced = cr.synced?;
        (*cr.previous.as_ref()? != self.revision).then_some(synced)
    }

    /// Ends a forward cluster's turn.
    fn finish(&mut self, c: usize, state: ClusterState) {
        let s = self.clusters[c].stage.expect("only staged clusters finish");
        let was = std::mem::replace(&mut self.clusters[c].state, state.clone());
        let st = &mut self.stages[s];
        if matches!(
            was,
            ClusterState::Syncing { .. } | ClusterState::Baking { .. }
        ) && self.phase == Phase::Forward
        {
            st.in_flight = st.in_flight.saturating_sub(1);
        }
        st.remaining = st.remaining.saturating_sub(1);
        match state {
            ClusterState::Done => st.done += 1,
            ClusterState::Failed { .. } => st.failed += 1,
            ClusterState::Left => st.left += 1,
            _ => {}
        }
    }

    fn finish_rollback(&mut self, c: usize, failure: Option<String>) {
        let group = self.clusters[c].group.clone();
        if let Some(rb) = &mut self.rollback {
            rb.in_flight = rb.in_flight.saturating_sub(1);
            if let Some(n) = rb.per_group.get_mut(&group) {
                *n = n.saturating_sub(1);
            }
            if failure.is_some() {
                rb.failed += 1;
            } else {
                rb.done += 1;
            }
        }
        self.clusters[c].state = match failure {
            None => ClusterState::RolledBack,
            Some(reason) => ClusterState::RollbackFailed { reason },
        };
    }

    /// Takes the current stage out of `Failed` (on resume, promote or retry). With
    /// `accept`, the failures so far are within its tolerance from now on.
    fn unfail_current(&mut self, accept: bool) {
        let Some(st) = self.stages.get_mut(self.current) else {
            return;
        };
        if let StageState::Failed { from, .. } = &st.state {
            st.state = (**from).clone();
            if accept {
                st.accepted = st.failed.saturating_sub(st.tolerate);
            }
        }
    }

    // ---- decisions ----------------------------------------------------------------------

    /// Makes every decision due at `now`.
    pub fn tick(&mut self, now: Timestamp) {
        // A bound against a bug looping forever; a decision always changes state.
        for _ in 0..10_000_000 {
            match self.decide(now) {
                Some(event) => self.emit(now, event),
                None => return,
            }
        }
        unreachable!("the executor decided ten million times without waiting");
    }

    fn decide(&mut self, now: Timestamp) -> Option<Event> {
        if self.phase.is_terminal() || self.phase == Phase::New {
            return None;
        }
        if let Some(event) = self.due_cluster_timer(now) {
            return Some(event);
        }
        if self.paused.is_some() {
            return None;
        }
        match self.phase {
            Phase::Forward => self.decide_forward(now),
            Phase::RollingBack => self.decide_rollback(now),
            _ => None,
        }
    }

    /// Deadlines and per-cluster bakes: facts that hold even while paused.
    fn due_cluster_timer(&mut self, now: Timestamp) -> Option<Event> {
        while let Some(&Reverse((at, c))) = self.deadlines.peek() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            let cr = &self.clusters[c];
            let since = match cr.state {
                ClusterState::Syncing { since }
                | ClusterState::Baking { since, .. }
                | ClusterState::RollingBack { since } => since,
                _ => continue,
            };
            let s = cr.stage?;
            let d = self.ir_stage(s).deadline_seconds?;
            if since + SignedDuration::from_secs(d as i64) != at {
                continue; // an earlier sync's deadline
            }
            let revision = match cr.state {
                ClusterState::RollingBack { .. } => cr.previous.clone(),
                _ => Some(self.revision.clone()),
            };
            return Some(Event::ClusterFailed {
                stage: self.stages[s].name.clone(),
                cluster: cr.cluster.name.clone(),
                revision,
                reason: format!(
                    "not synced and healthy within its deadline of {}",
                    crate::syntax::literal::format_duration(d)
                ),
            });
        }
        while let Some(&Reverse((at, c))) = self.bakes.peek() {
            if at > now {
                break;
            }
            self.bakes.pop();
            let cr = &self.clusters[c];
            if cr.state
                != (ClusterState::Baking {
                    since: match cr.state {
                        ClusterState::Baking { since, .. } => since,
                        _ => continue,
                    },
                    until: at,
                })
            {
                continue;
            }
            let s = cr.stage?;
            return Some(Event::ClusterBaked {
                stage: self.stages[s].name.clone(),
                cluster: cr.cluster.name.clone(),
            });
        }
        None
    }

    fn decide_forward(&mut self, now: Timestamp) -> Option<Event> {
        let s = self.current;
        let Some(st) = self.stages.get(s) else {
            return Some(Event::RunSucceeded {});
        };
        let name = st.name.clone();
        let stage = self.ir_stage(s).clone();
        match &st.state {
            StageState::Waiting => Some(Event::StageStarted { stage: name }),
            StageState::Failed { reason, .. } => {
                let reason = format!("stage `{name}` failed: {reason}");
                Some(match stage.on_failure {
                    FailurePolicy::Pause => Event::Paused {
                        stage: Some(name),
                        reason: "failure".into(),
                        detail: Some(reason),
                    },
                    FailurePolicy::Abort => Event::RunFailed { reason },
                    FailurePolicy::Rollback => {
                        let n = (0..self.clusters.len())
                            .filter(|&c| self.rollback_order(c).is_some())
                            .count();
                        Event::RollbackStarted { clusters: n as u64 }
                    }
                })
            }
            StageState::Rolling | StageState::Baking { .. }
                if st.failed > st.tolerate + st.accepted =>
            {
                Some(Event::StageFailed {
                    stage: name,
                    reason: format!(
                        "{} of {} clusters failed (tolerate {})",
                        st.failed,
                        st.clusters.len(),
                        st.tolerate
                    ),
                    policy: policy_name(stage.on_failure).into(),
                })
            }
            StageState::Rolling => {
                if st.hold && !self.full {
                    return Some(Event::Paused {
                        stage: Some(name),
                        reason: "hold".into(),
                        detail: Some(
                            "the stage is a manual hold (`limit 0` or `batch 0`); `rollc promote` releases it"
                                .into(),
                        ),
                    });
                }
                if let Some(event) = self.next_start(s, now) {
                    return Some(event);
                }
                let st = &self.stages[s];
                if st.remaining > 0 {
                    return None;
                }
                if stage.bake_seconds > 0 && !self.full {
                    Some(Event::BakeStarted {
                        stage: name,
                        until: now + SignedDuration::from_secs(stage.bake_seconds as i64),
                    })
                } else {
                    Some(Event::BakeFinished { stage: name })
                }
            }
            StageState::Baking { until } => {
                (self.full || now >= *until).then_some(Event::BakeFinished { stage: name })
            }
            StageState::Gates(g) => {
                let Some(gate) = stage.gates.get(g.index) else {
                    return Some(Event::StageCompleted {
                        stage: name,
                        done: st.done,
                        failed: st.failed,
                    });
                };
                let Some(_) = g.started else {
                    return Some(Event::GateStarted {
                        stage: name,
                        gate: g.index,
                        gate_kind: gate_kind(gate).into(),
                    });
                };
                match gate {
                    Gate::Approval { .. } if self.full => Some(Event::GatePassed {
                        stage: name,
                        gate: g.index,
                        by: Some("promote --full".into()),
                    }),
                    Gate::Approval { .. } => None,
                    _ => match g.next_at {
                        Some(at) if at <= now && !g.outstanding => Some(Event::GateProbe {
                            stage: name,
                            gate: g.index,
                            attempt: g.attempts + 1,
                        }),
                        _ => None,
                    },
                }
            }
            StageState::Completed => {
                // `current` moves past a completed stage when it completes; a journal that
                // says otherwise is stale state, not a decision.
                None
            }
        }
    }

    /// The next cluster to start or requeue in stage `s`, if a slot is free.
    fn next_start(&mut self, s: usize, now: Timestamp) -> Option<Event> {
        let stage = &self.rollout.stages[s];
        // A hold that `promote --full` skipped runs like a promoted one: one at a time.
        let batch = if self.stages[s].hold && self.full {
            self.stages[s].batch.max(1)
        } else {
            self.stages[s].batch
        };
        if self.stages[s].in_flight >= batch {
            return None;
        }
        if !stage.windows.is_empty() && !window::is_open(&stage.windows, now) {
            if let Some(at) = window::next_open(&stage.windows, now) {
                self.hints.push(Reverse(at));
            }
            return None;
        }
        let cap = stage
            .max_in_flight
            .as_ref()
            .map(|m| (m.per.clone(), m.count));
        let per_group = self.in_flight_per_group(s);
        let room = |g: &Option<String>| match &cap {
            None => true,
            Some((_, n)) => per_group.get(g).copied().unwrap_or(0) < *n,
        };
        let clusters = &self.clusters;
        let picked = self.stages[s]
            .queue
            .pick(room, |c| clusters[c].state == ClusterState::Pending);
        let stage_name = self.stages[s].name.clone();
        if let Some(c) = picked {
            let cr = &self.clusters[c];
            if let Some(rq) = &stage.requeue
                && plan::matches(&rq.when, &cr.cluster)
            {
                return Some(Event::ClusterRequeued {
                    stage: stage_name,
                    cluster: cr.cluster.name.clone(),
                    attempt: 0,
                    next_check: now + SignedDuration::from_secs(rq.every_seconds as i64),
                });
            }
            return Some(self.sync_event(s, c));
        }
        // The queue is empty (or every group is full): requeued clusters whose check is due.
        let due: Vec<usize> = self.stages[s]
            .requeued
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|&(_, c)| c)
            .collect();
        let rq = stage.requeue.as_ref()?;
        for c in due {
            let cr = &self.clusters[c];
            let ClusterState::Requeued { attempt, .. } = cr.state else {
                continue;
            };
            if plan::matches(&rq.when, &cr.cluster) {
                let attempt = attempt + 1;
                if attempt >= rq.attempts {
                    return Some(Event::ClusterFailed {
                        stage: stage_name,
                        cluster: cr.cluster.name.clone(),
                        revision: None,
                        reason: format!(
                            "still matched `requeue when` after {} attempts",
                            rq.attempts
                        ),
                    });
                }
                return Some(Event::ClusterRequeued {
                    stage: stage_name,
                    cluster: cr.cluster.name.clone(),
                    attempt,
                    next_check: now + SignedDuration::from_secs(rq.every_seconds as i64),
                });
            }
            if room(&self.group_of(s, c)) {
                return Some(self.sync_event(s, c));
            }
        }
        None
    }

    fn sync_event(&self, s: usize, c: usize) -> Event {
        let cr = &self.clusters[c];
        Event::ClusterSyncStarted {
            stage: self.stages[s].name.clone(),
            cluster: cr.cluster.name.clone(),
            revision: self.revision.clone(),
            previous_revision: cr.previous.clone(),
            rollback: false,
            group: self.group_of(s, c),
        }
    }

    fn in_flight_per_group(&self, s: usize) -> HashMap<Option<String>, u64> {
        let mut per = HashMap::new();
        if self.ir_stage(s).max_in_flight.is_none() {
            return per;
        }
        // Only the stage's in-flight clusters: at most `batch` of them.
        for &c in &self.stages[s].clusters {
            let cr = &self.clusters[c];
            if matches!(
                cr.state,
                ClusterState::Syncing { .. } | ClusterState::Baking { .. }
            ) {
                *per.entry(cr.group.clone()).or_default() += 1;
            }
        }
        per
    }

    fn decide_rollback(&mut self, _now: Timestamp) -> Option<Event> {
        let rb = self.rollback.as_mut()?;
        loop {
            let Some((s, queue)) = rb.groups.front_mut() else {
                if rb.in_flight > 0 {
                    return None;
                }
                let (done, failed) = (rb.done, rb.failed);
                if !rb.finished {
                    return Some(Event::RollbackFinished { done, failed });
                }
                let failed_stage = self
                    .stages
                    .iter()
                    .find_map(|st| match &st.state {
                        StageState::Failed { reason, .. } => {
                            Some(format!("stage `{}` failed: {reason}", st.name))
                        }
                        _ => None,
                    })
                    .unwrap_or_else(|| "a stage failed".into());
                let failures = if failed > 0 {
                    format!(" ({failed} rollback syncs failed)")
                } else {
                    String::new()
                };
                return Some(Event::RunFailed {
                    reason: format!("{failed_stage}; rolled back {done} clusters{failures}"),
                });
            };
            let s = *s;
            let stage = &self.rollout.stages[s];
            let batch = self.stages[s].batch.max(1);
            let cap = stage.max_in_flight.as_ref().map(|m| m.count);
            let per_group = &rb.per_group;
            let room =
                |g: &Option<String>| cap.is_none_or(|n| per_group.get(g).copied().unwrap_or(0) < n);
            let clusters = &self.clusters;
            // Replayed queues still hold what a live executor already took: skip whatever
            // is no longer waiting for its rollback.
            let live = |c: usize| {
                !matches!(
                    clusters[c].state,
                    ClusterState::Left
                        | ClusterState::RolledBack
                        | ClusterState::RollingBack { .. }
                        | ClusterState::RollbackFailed { .. }
                )
            };
            if queue.groups.is_empty() {
                if rb.in_flight > 0 {
                    return None; // the stage's rollback finishes before the one before it
                }
                rb.groups.pop_front();
                continue;
            }
            if rb.in_flight >= batch {
                return None;
            }
            let c = queue.pick(room, live)?;
            let cr = &self.clusters[c];
            return Some(Event::ClusterSyncStarted {
                stage: self.stages[s].name.clone(),
                cluster: cr.cluster.name.clone(),
                revision: cr.previous.clone().unwrap_or_default(),
                previous_revision: Some(self.revision.clone()),
                rollback: true,
                group: self.group_of(s, c),
            });
        }
    }

    // ---- inputs -------------------------------------------------------------------------

    /// Takes in a fact from the backend.
    pub fn observe(&mut self, observed: &Observed, now: Timestamp) {
        match observed {
            Observed::Status {
                cluster, status, ..
            } => {
                let Some(&c) = self.index.get(cluster) else {
                    return;
                };
                let cr = &self.clusters[c];
                let Some(s) = cr.stage else {
                    return;
                };
                let stage = self.stages[s].name.clone();
                let rolling_back = matches!(cr.state, ClusterState::RollingBack { .. });
                let revision = if rolling_back {
                    cr.previous.clone().unwrap_or_default()
                } else {
                    self.revision.clone()
                };
                let active = matches!(
                    cr.state,
                    ClusterState::Syncing { .. }
                        | ClusterState::Baking { .. }
                        | ClusterState::RollingBack { .. }
                );
                // A done cluster is still watched while its stage rolls and bakes.
                let watched = cr.state == ClusterState::Done
                    && self.phase == Phase::Forward
                    && matches!(
                        self.stages[s].state,
                        StageState::Rolling | StageState::Baking { .. }
                    );
                let name = cr.cluster.name.clone();
                let event = match status {
                    ClusterStatus::Progressing => None,
                    ClusterStatus::Healthy => matches!(
                        cr.state,
                        ClusterState::Syncing { .. } | ClusterState::RollingBack { .. }
                    )
                    .then(|| Event::ClusterHealthy {
                        stage,
                        cluster: name,
                        revision,
                    }),
                    ClusterStatus::Degraded { reason } | ClusterStatus::SyncFailed { reason } => {
                        (active || watched).then(|| Event::ClusterFailed {
                            stage,
                            cluster: name,
                            revision: Some(revision),
                            reason: reason.clone(),
                        })
                    }
                };
                if let Some(event) = event {
                    self.emit(now, event);
                }
            }
            Observed::Joined(cluster) => {
                if let Some(&c) = self.index.get(&cluster.name) {
                    self.clusters[c].cluster = cluster.clone();
                    return;
                }
                // Placed only where the plan's ownership rule would put it and its stage has
                // not begun its last decisions: the first stage that selects it, if that stage
                // has no limit (a limit was resolved when the run began) and is still
                // waiting or rolling.
                let owner = self
                    .rollout
                    .stages
                    .iter()
                    .position(|st| plan::matches(&st.select, cluster));
                let stage = owner.filter(|&s| {
                    self.phase == Phase::Forward
                        && self.rollout.stages[s].limit.is_none()
                        && s >= self.current
                        && matches!(
                            self.stages[s].state,
                            StageState::Waiting | StageState::Rolling
                        )
                });
                self.emit(
                    now,
                    Event::ClusterJoined {
                        cluster: cluster.name.clone(),
                        stage: stage.map(|s| self.stages[s].name.clone()),
                        previous_revision: None,
                    },
                );
                if let Some(&c) = self.index.get(&cluster.name) {
                    self.clusters[c].cluster = cluster.clone();
                }
            }
            Observed::Left { cluster } => {
                if let Some(&c) = self.index.get(cluster)
                    && self.clusters[c].state != ClusterState::Left
                {
                    let stage = self.clusters[c].stage.map(|s| self.stages[s].name.clone());
                    self.emit(
                        now,
                        Event::ClusterLeft {
                            cluster: cluster.clone(),
                            stage,
                        },
                    );
                }
            }
            Observed::Relabeled(cluster) => {
                if let Some(&c) = self.index.get(&cluster.name) {
                    self.clusters[c].cluster = cluster.clone();
                }
            }
            Observed::Revision(revision) => {
                if *revision != self.revision
                    && self.pending_revision.as_ref() != Some(revision)
                    && !self.phase.is_terminal()
                {
                    let policy = match self.rollout.on_new_revision {
                        ir::NewRevisionPolicy::Queue => "queue",
                        ir::NewRevisionPolicy::Restart => "restart",
                    };
                    self.emit(
                        now,
                        Event::RevisionDetected {
                            revision: revision.clone(),
                            policy: policy.into(),
                        },
                    );
                    if policy == "restart" {
                        self.emit(
                            now,
                            Event::RunAborted {
                                by: format!("new revision `{revision}` (on new revision restart)"),
                            },
                        );
                    }
                }
            }
        }
    }

    /// Takes in the answer to a gate request.
    pub fn probe_result(
        &mut self,
        probe: &Probe,
        result: Result<Option<f64>, String>,
        now: Timestamp,
    ) {
        let s = probe.stage;
        let Some(st) = self.stages.get(s) else {
            return;
        };
        let StageState::Gates(g) = &st.state else {
            return;
        };
        if g.index != probe.gate || !g.outstanding || g.attempts != probe.attempt {
            return; // a stale answer
        }
        let name = st.name.clone();
        let errors = g.errors;
        let started = g.started.unwrap_or(now);
        let event = match &self.rollout.stages[s].gates[probe.gate] {
            Gate::Webhook { retries, url, .. } => match result {
                Ok(_) => Event::GatePassed {
                    stage: name,
                    gate: probe.gate,
                    by: None,
                },
                Err(error) if probe.attempt > *retries => Event::GateFailed {
                    stage: name,
                    gate: probe.gate,
                    reason: format!(
                        "webhook `{}` failed {} times; last: {error}",
                        super::probe::redact(url),
                        probe.attempt
                    ),
                },
                Err(error) => Event::GateChecked {
                    stage: name,
                    gate: probe.gate,
                    attempt: probe.attempt,
                    value: None,
                    error: Some(error),
                    next_at: now + SignedDuration::from_secs(WEBHOOK_RETRY_SECONDS),
                },
            },
            Gate::Metric {
                query,
                comparison,
                threshold,
                window_seconds,
                every_seconds,
                ..
            } => {
                let next_at = now + SignedDuration::from_secs((*every_seconds).max(1) as i64);
                match result {
                    Ok(value) => {
                        let value = value.unwrap_or(f64::NAN);
                        let ok = match comparison {
                            Comparison::Below => value < *threshold,
                            Comparison::Above => value > *threshold,
                        };
                        if !ok {
                            Event::GateFailed {
                                stage: name,
                                gate: probe.gate,
                                reason: format!(
                                    "`{query}` was {value}, not {} {threshold}",
                                    match comparison {
                                        Comparison::Below => "below",
                                        Comparison::Above => "above",
                                    }
                                ),
                            }
                        } else if now >= started + SignedDuration::from_secs(*window_seconds as i64)
                        {
                            Event::GatePassed {
                                stage: name,
                                gate: probe.gate,
                                by: None,
                            }
                        } else {
                            Event::GateChecked {
                                stage: name,
                                gate: probe.gate,
                                attempt: probe.attempt,
                                value: Some(value),
                                error: None,
                                next_at,
                            }
                        }
                    }
                    Err(error) if errors + 1 >= METRIC_ERRORS => Event::GateFailed {
                        stage: name,
                        gate: probe.gate,
                        reason: format!("{METRIC_ERRORS} queries in a row failed; last: {error}"),
                    },
                    Err(error) => Event::GateChecked {
                        stage: name,
                        gate: probe.gate,
                        attempt: probe.attempt,
                        value: None,
                        error: Some(error),
                        next_at,
                    },
                }
            }
            Gate::Approval { .. } => return,
        };
        self.emit(now, event);
    }

    /// The gate requests sent and not answered: after a restart, the driver sends them again.
    pub fn outstanding_probes(&self) -> Vec<Probe> {
        let Some(st) = self.stages.get(self.current) else {
            return Vec::new();
        };
        match &st.state {
            StageState::Gates(g) if g.outstanding && !self.phase.is_terminal() => vec![Probe {
                stage: self.current,
                gate: g.index,
                attempt: g.attempts,
                at: self.last_time.unwrap_or_default(),
            }],
            _ => Vec::new(),
        }
    }

    /// The syncs triggered and not finished: after a restart the driver hands them to the
    /// backend to watch again.
    pub fn syncs_in_flight(&self) -> Vec<(usize, Timestamp, String)> {
        self.clusters
            .iter()
            .enumerate()
            .filter_map(|(c, cr)| match cr.state {
                ClusterState::Syncing { since } | ClusterState::Baking { since, .. } => {
                    Some((c, since, self.revision.clone()))
                }
                ClusterState::RollingBack { since } => {
                    Some((c, since, cr.previous.clone().unwrap_or_default()))
                }
                _ => None,
            })
            .collect()
    }

    /// Whether the operator request `id` was already handled.
    pub fn handled(&self, id: &str) -> bool {
        self.requests.contains(id)
    }

    /// Handles an operator's request once: its effect and an `operator_request` record.
    pub fn request(
        &mut self,
        id: &str,
        command: &str,
        intent: &Intent,
        by: &str,
        now: Timestamp,
    ) -> Result<String, Refusal> {
        let result = self.intent(intent, by, now);
        let (accepted, message) = match &result {
            Ok(m) => (true, m.clone()),
            Err(r) => (false, r.message.clone()),
        };
        self.emit(
            now,
            Event::OperatorRequest {
                id: id.to_string(),
                command: command.to_string(),
                by: by.to_string(),
                accepted,
                message,
            },
        );
        result
    }

    /// Takes in an operator's intent, or says why it does not apply now.
    pub fn intent(&mut self, intent: &Intent, by: &str, now: Timestamp) -> Result<String, Refusal> {
        let by = by.to_string();
        match intent {
            Intent::Pause => {
                if self.phase.is_terminal() {
                    return refuse(format!("the run has ended ({})", self.phase_name()));
                }
                if let Some(p) = &self.paused {
                    return refuse(format!("the run is already paused ({})", p.reason));
                }
                let stage = self.stages.get(self.current).map(|s| s.name.clone());
                self.emit(
                    now,
                    Event::Paused {
                        stage,
                        reason: "operator".into(),
                        detail: Some(format!("paused by {by}")),
                    },
                );
                Ok("paused: no new cluster, bake or gate starts until `rollc resume`".into())
            }
            Intent::Resume => {
                if self.phase.is_terminal() {
                    return refuse(format!(
                        "the run has ended ({}); `rollc retry` syncs its failed clusters again",
                        self.phase_name()
                    ));
                }
                if self.paused.is_none() {
                    // Also how a run whose executor stopped is continued: nothing to record.
                    return Ok("the run is not paused; continuing it".into());
                }
                self.emit(now, Event::Resumed { by });
                Ok("resumed".into())
            }
            Intent::Promote { full } => {
                if self.phase.is_terminal() {
                    return refuse(format!("the run has ended ({})", self.phase_name()));
                }
                let waiting = self.paused.is_some()
                    || self.waiting_approval().is_some()
                    || self.stages.get(self.current).is_some_and(|s| s.hold);
                if !waiting && !full {
                    return refuse(
                        "nothing to promote: no approval gate, hold or pause is waiting (`--full` skips every later bake, approval and hold)",
                    );
                }
                let approval = self.waiting_approval();
                self.emit(
                    now,
                    Event::Promoted {
                        by: by.clone(),
                        full: *full,
                    },
                );
                if let Some((s, gate)) = approval {
                    self.emit(
                        now,
                        Event::GatePassed {
                            stage: self.stages[s].name.clone(),
                            gate,
                            by: Some(by),
                        },
                    );
                    return Ok(format!(
                        "approved gate {} of stage `{}`",
                        gate + 1,
                        self.stages[s].name
                    ));
                }
                Ok(if *full {
                    "promoted fully: later bakes, approvals and holds are skipped".into()
                } else {
                    "promoted".into()
                })
            }
            Intent::Abort => {
                if self.phase.is_terminal() {
                    return refuse(format!("the run has ended ({})", self.phase_name()));
                }
                self.emit(now, Event::RunAborted { by });
                Ok("aborted: clusters are left as they are".into())
            }
            Intent::Retry => {
                if self.phase == Phase::RollingBack
                    || self.rollback.is_some() && self.phase.is_terminal()
                {
                    return refuse(
                        "the run was rolled back; start a new run with `rollc apply` instead",
                    );
                }
                if self.phase == Phase::Succeeded {
                    return refuse("the run succeeded; there is nothing to retry");
                }
                let stage_failed = self
                    .stages
                    .get(self.current)
                    .is_some_and(|s| matches!(s.state, StageState::Failed { .. }));
                let failed: Vec<String> = self
                    .stages
                    .get(self.current)
                    .map(|st| {
                        st.clusters
                            .iter()
                            .filter(|&&c| {
                                matches!(self.clusters[c].state, ClusterState::Failed { .. })
                            })
                            .map(|&c| self.clusters[c].cluster.name.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if failed.is_empty() && !stage_failed && !self.phase.is_terminal() {
                    return refuse(
                        "nothing to retry: the current stage has no failed cluster or gate",
                    );
                }
                let n = failed.len();
                self.emit(
                    now,
                    Event::Retried {
                        by,
                        clusters: failed,
                    },
                );
                Ok(format!("retrying {n} failed clusters"))
            }
        }
    }

    /// The approval gate waiting for `promote`, as (stage, gate).
    pub fn waiting_approval(&self) -> Option<(usize, usize)> {
        let st = self.stages.get(self.current)?;
        match &st.state {
            StageState::Gates(g) if g.started.is_some() => matches!(
                self.ir_stage(self.current).gates.get(g.index),
                Some(Gate::Approval { .. })
            )
            .then_some((self.current, g.index)),
            _ => None,
        }
    }

    /// Whether nothing can happen until an operator acts: paused, at an approval gate, or at
    /// a hold.
    pub fn waits_for_operator(&self) -> bool {
        !self.phase.is_terminal()
            && (self.paused.is_some() || (!self.full && self.waiting_approval().is_some()))
    }

    /// The next instant at which a decision may be due, if any.
    pub fn next_wakeup(&mut self, now: Timestamp) -> Option<Timestamp> {
        while self.hints.peek().is_some_and(|Reverse(t)| *t <= now) {
            self.hints.pop();
        }
        [
            self.deadlines.peek().map(|Reverse((t, _))| *t),
            self.bakes.peek().map(|Reverse((t, _))| *t),
            self.hints.peek().map(|Reverse(t)| *t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// A short name of the phase, for messages.
    pub fn phase_name(&self) -> &'static str {
        match self.phase {
            Phase::New => "new",
            Phase::Forward if self.paused.is_some() => "paused",
            Phase::Forward if !self.full && self.waiting_approval().is_some() => {
                "waiting for approval"
            }
            Phase::Forward => "running",
            Phase::RollingBack if self.paused.is_some() => "paused",
            Phase::RollingBack => "rolling back",
            Phase::Succeeded => "succeeded",
            Phase::Failed { .. } => "failed",
            Phase::Aborted { .. } => "aborted",
        }
    }

    /// The cluster index of `name`.
    pub fn cluster_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
}

fn policy_name(policy: FailurePolicy) -> &'static str {
    match policy {
        FailurePolicy::Pause => "pause",
        FailurePolicy::Abort => "abort",
        FailurePolicy::Rollback => "rollback",
    }
}

/// A gate's kind as events and `status` name it.
pub fn gate_kind(gate: &Gate) -> &'static str {
    match gate {
        Gate::Webhook { .. } => "webhook",
        Gate::Metric { .. } => "metric",
        Gate::Approval { .. } => "approval",
    }
}
