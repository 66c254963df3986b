//! The run journal's records: every decision the executor makes and every fact it acts on,
//! in order. The journal is the run's only state: replaying it ([`super::core::Run::apply`])
//! rebuilds the run exactly, and `--events FILE` writes the same records as JSON lines.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One journal record: when, its place in the journal, and what happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Run time (virtual in a simulation), RFC 3339.
    pub time: Timestamp,
    /// The record's position in the journal, from 0.
    pub seq: u64,
    /// The run it belongs to.
    pub run: String,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// What happened. Serialised with its kind in `kind` and its fields beside it, so an event
/// line reads `{"time":…,"seq":…,"run":…,"kind":"cluster_healthy","stage":…,"cluster":…}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A run began: the revision it pins for every cluster.
    RunStarted {
        /// The rollout.
        rollout: String,
        /// The pinned revision.
        revision: String,
        /// The revision most of the run's clusters ran before (what `undo` returns to).
        previous_revision: Option<String>,
        /// The clusters in the fleet when the run began.
        fleet_clusters: u64,
    },
    /// The clusters a stage takes, fixed when the run begins (its plan).
    StagePlanned {
        /// The stage.
        stage: String,
        /// Its clusters in start order, each with the revision it ran before the run.
        clusters: Vec<PlannedCluster>,
        /// `batch` after rounding.
        batch: u64,
        /// `tolerate` after rounding.
        tolerate: u64,
        /// A manual hold (`limit 0` or `batch 0`).
        hold: bool,
    },
    /// An executor took over the run (at the start, and after every restart).
    ExecutorAttached {
        /// Who: process, host and user.
        holder: String,
    },
    /// A stage began.
    StageStarted {
        /// The stage.
        stage: String,
    },
    /// A sync was triggered. Journaled before the backend is asked.
    ClusterSyncStarted {
        /// The stage.
        stage: String,
        /// The cluster.
        cluster: String,
        /// The revision synced to.
        revision: String,
        /// What the cluster ran before.
        previous_revision: Option<String>,
        /// A rollback sync (to `revision`, the cluster's previous revision).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        rollback: bool,
        /// The cluster's value of the stage's `max in flight ... per KEY` label, whose cap
        /// it counts against while in flight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
    /// A cluster finished its sync and is healthy at the revision.
    ClusterHealthy {
        /// The stage.
        stage: String,
        /// The cluster.
        cluster: String,
        /// The revision.
        revision: String,
    },
    /// A cluster stayed healthy for its stage's `bake each` and leaves its batch slot.
    ClusterBaked {
        /// The stage.
        stage: String,
        /// The cluster.
        cluster: String,
    },
    /// A cluster failed: its sync failed, it turned unhealthy, it missed its deadline, or it
    /// still needed requeueing after the last attempt.
    ClusterFailed {
        /// The stage.
        stage: String,
        /// The cluster.
        cluster: String,
        /// The revision it was synced to, if a sync started.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revision: Option<String>,
        /// Why.
        reason: String,
    },
    /// A cluster matched the stage's `requeue when` at its turn: skipped, checked again at
    /// `next_check`.
    ClusterRequeued {
        /// The stage.
        stage: String,
        /// The cluster.
        cluster: String,
        /// How many checks found it still matching (0 when first skipped).
        attempt: u64,
        /// When it is checked again.
        next_check: Timestamp,
    },
    /// A cluster joined the fleet during the run.
    ClusterJoined {
        /// The cluster.
        cluster: String,
        /// The stage that will update it; `None` when its stage had already started or no
        /// stage selects it (the next run updates it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
        /// What it ran when it joined.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_revision: Option<String>,
    },
    /// A cluster left the fleet during the run; it is no longer waited for.
    ClusterLeft {
        /// The cluster.
        cluster: String,
        /// Its stage, if it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
    },
    /// The stage's clusters are done; its bake began.
    BakeStarted {
        /// The stage.
        stage: String,
        /// When the bake ends.
        until: Timestamp,
    },
    /// The bake was served without a cluster turning unhealthy.
    BakeFinished {
        /// The stage.
        stage: String,
    },
    /// A gate began.
    GateStarted {
        /// The stage.
        stage: String,
        /// The gate's position in the stage, from 0.
        gate: usize,
        /// `webhook`, `metric` or `approval`.
        gate_kind: String,
    },
    /// One request of a webhook or metric gate is due (the result follows as `gate_checked`).
    GateProbe {
        /// The stage.
        stage: String,
        /// The gate.
        gate: usize,
        /// The request's number within the gate, from 1.
        attempt: u64,
    },
    /// A request of a gate answered without settling the gate.
    GateChecked {
        /// The stage.
        stage: String,
        /// The gate.
        gate: usize,
        /// The request's number.
        attempt: u64,
        /// A metric's value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<f64>,
        /// The error, when the request failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// When the next request is due.
        next_at: Timestamp,
    },
    /// A gate passed.
    GatePassed {
        /// The stage.
        stage: String,
        /// The gate.
        gate: usize,
        /// Who passed an approval (`promote`), if it was one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// A gate failed.
    GateFailed {
        /// The stage.
        stage: String,
        /// The gate.
        gate: usize,
        /// Why.
        reason: String,
    },
    /// The stage is done: every cluster healthy (or failed within `tolerate`), baked and
    /// gated.
    StageCompleted {
        /// The stage.
        stage: String,
        /// Clusters updated.
        done: u64,
        /// Clusters that failed (within tolerance).
        failed: u64,
    },
    /// The stage failed beyond its tolerance; its failure policy acts next.
    StageFailed {
        /// The stage.
        stage: String,
        /// Why.
        reason: String,
        /// `pause`, `abort` or `rollback`.
        policy: String,
    },
    /// The run waits for an operator.
    Paused {
        /// The stage it is in, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
        /// Why: `operator`, `hold`, `failure`.
        reason: String,
        /// Details for the operator.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// An operator resumed the run.
    Resumed {
        /// Who.
        by: String,
    },
    /// An operator promoted the run: the current approval, hold or pause is passed; with
    /// `full`, every later bake, approval and hold is skipped too (health never is).
    Promoted {
        /// Who.
        by: String,
        /// `promote --full`.
        full: bool,
    },
    /// An operator retried a failed, paused or aborted run: its failed clusters are synced
    /// again.
    Retried {
        /// Who.
        by: String,
        /// The clusters reset for another sync.
        clusters: Vec<String>,
    },
    /// Rollback began: the run's updated clusters go back to their previous revisions,
    /// newest first, under each stage's batch limits.
    RollbackStarted {
        /// How many clusters will be rolled back.
        clusters: u64,
    },
    /// Every rollback sync has ended.
    RollbackFinished {
        /// Clusters rolled back.
        done: u64,
        /// Rollback syncs that failed.
        failed: u64,
    },
    /// The source's head moved during the run.
    RevisionDetected {
        /// The new revision.
        revision: String,
        /// What the run does about it: `queue` (a new run after this one) or `restart`.
        policy: String,
    },
    /// An operator's request was handled (after the records it caused). Its id makes the
    /// handling happen once, even when the executor stops right after.
    OperatorRequest {
        /// The request's id.
        id: String,
        /// The command (`pause`, `promote --full`, ...).
        command: String,
        /// Who sent it.
        by: String,
        /// Whether it was carried out.
        accepted: bool,
        /// What happened, or why not.
        message: String,
    },
    /// Every stage completed.
    RunSucceeded {},
    /// The run ended unsuccessfully (a stage failed with policy `abort`, or after a
    /// rollback).
    RunFailed {
        /// Why.
        reason: String,
    },
    /// An operator aborted the run, or a new revision superseded it (`on new revision
    /// restart`).
    RunAborted {
        /// Who or what.
        by: String,
    },
}

/// A cluster of a stage's plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedCluster {
    /// The cluster's name.
    pub name: String,
    /// What it ran when the run began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

impl Event {
    /// The event's `kind` as written in the journal.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "run_started",
            Event::StagePlanned { .. } => "stage_planned",
            Event::ExecutorAttached { .. } => "executor_attached",
            Event::StageStarted { .. } => "stage_started",
            Event::ClusterSyncStarted { .. } => "cluster_sync_started",
            Event::ClusterHealthy { .. } => "cluster_healthy",
            Event::ClusterBaked { .. } => "cluster_baked",
            Event::ClusterFailed { .. } => "cluster_failed",
            Event::ClusterRequeued { .. } => "cluster_requeued",
            Event::ClusterJoined { .. } => "cluster_joined",
            Event::ClusterLeft { .. } => "cluster_left",
            Event::BakeStarted { .. } => "bake_started",
            Event::BakeFinished { .. } => "bake_finished",
            Event::GateStarted { .. } => "gate_started",
            Event::GateProbe { .. } => "gate_probe",
            Event::GateChecked { .. } => "gate_checked",
            Event::GatePassed { .. } => "gate_passed",
            Event::GateFailed { .. } => "gate_failed",
            Event::StageCompleted { .. } => "stage_completed",
            Event::StageFailed { .. } => "stage_failed",
            Event::Paused { .. } => "paused",
            Event::Resumed { .. } => "resumed",
            Event::Promoted { .. } => "promoted",
            Event::Retried { .. } => "retried",
            Event::RollbackStarted { .. } => "rollback_started",
            Event::RollbackFinished { .. } => "rollback_finished",
            Event::RevisionDetected { .. } => "revision_detected",
            Event::OperatorRequest { .. } => "operator_request",
            Event::RunSucceeded {} => "run_succeeded",
            Event::RunFailed { .. } => "run_failed",
            Event::RunAborted { .. } => "run_aborted",
        }
    }
}
