//! Scenario tests of the runtime through the real binary: `rollc apply` on a simulated fleet
//! (`tests/runtime/*.fleet.yaml`) in virtual time, operator commands from other processes,
//! and the event log (`--events`) read back and checked.
//!
//! Every scenario's log goes through [`check_invariants`], which replays it and checks what
//! must hold for any run (batch and per-key caps, stage order, bakes and gates before the
//! next stage, the pinned revision, at most one sync per cluster and revision, nothing
//! starting while paused, time and `seq` in order); each test then asserts its own
//! behaviour, at exact virtual times where the semantics fix them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use rollc::ir;
use rollc::runtime::event::{Event, Record};

const BIN: &str = env!("CARGO_BIN_EXE_rollc");
/// A Monday.
const START: &str = "2026-11-23T09:00:00Z";

// ---- running the binary ---------------------------------------------------------------------

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/runtime")
        .join(name)
}

fn ts(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("bad timestamp {text}: {e}"))
}

/// `START + offset` (`"5m"`, `"1h30m"`).
fn at(offset: &str) -> Timestamp {
    let d: SignedDuration = offset
        .parse()
        .unwrap_or_else(|e| panic!("bad offset {offset}: {e}"));
    ts(START).checked_add(d).unwrap()
}

/// What a command did.
#[derive(Debug)]
struct Exit {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Exit {
    fn of(output: std::process::Output) -> Exit {
        Exit {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    fn expect(&self, code: i32) -> &Exit {
        assert_eq!(
            self.code, code,
            "exit code {} (expected {code})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Standard error with every run of whitespace made one space (error reports wrap).
    fn stderr_flat(&self) -> String {
        self.stderr.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// A scenario: a strategy and a fleet, and a state directory and events file of its own.
struct World {
    dir: tempfile::TempDir,
    strategy: PathBuf,
    fleet: PathBuf,
    rollout: ir::Rollout,
    labels: HashMap<String, BTreeMap<String, String>>,
}

impl World {
    fn new(strategy: &str, fleet: &str) -> World {
        let strategy = fixture(strategy);
        let fleet = fixture(fleet);
        let out = Exit::of(
            Command::new(BIN)
                .args(["--color", "never", "compile"])
                .arg(&strategy)
                .output()
                .expect("rollc runs"),
        );
        out.expect(0);
        let compiled: ir::Strategy = serde_json::from_str(&out.stdout).expect("the IR parses");
        let rollout = compiled.rollouts.into_iter().next().expect("one rollout");
        let text = std::fs::read_to_string(&fleet).expect("the fleet file reads");
        let parsed = rollc::fleet::parse(rollc::source::FileId(0), &text)
            .unwrap_or_else(|d| panic!("the fleet file parses: {d:#?}"));
        let mut labels: HashMap<String, BTreeMap<String, String>> = parsed
            .clusters
            .iter()
            .map(|c| (c.name.clone(), c.labels.clone()))
            .collect();
        // Clusters that join later, with their labels.
        for event in parsed
            .events
            .as_ref()
            .and_then(|e| e.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(join) = event.get("join")
                && let Some(name) = join.get("name").and_then(|n| n.as_str())
            {
                let l = join
                    .get("labels")
                    .and_then(|l| l.as_object())
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                            .collect()
                    })
                    .unwrap_or_default();
                labels.insert(name.to_string(), l);
            }
        }
        World {
            dir: tempfile::tempdir().expect("a temporary directory"),
            strategy,
            fleet,
            rollout,
            labels,
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn events_path(&self) -> PathBuf {
        self.dir.path().join("events.jsonl")
    }

    fn apply_args(&self, start: &str) -> Vec<String> {
        vec![
            "--color".into(),
            "never".into(),
            "apply".into(),
            self.strategy.display().to_string(),
            "--fleet".into(),
            format!("sim:{}", self.fleet.display()),
            "--state".into(),
            self.state().display().to_string(),
            "--events".into(),
            self.events_path().display().to_string(),
            "--start".into(),
            start.into(),
            "-q".into(),
        ]
    }

    /// `rollc apply` from [`START`].
    fn apply(&self) -> Exit {
        self.apply_at(START)
    }

    fn apply_at(&self, start: &str) -> Exit {
        Exit::of(
            Command::new(BIN)
                .args(self.apply_args(start))
                .output()
                .expect("rollc runs"),
        )
    }

    /// `rollc CMD --state DIR ARGS...` (`status`, `pause`, `abort`).
    fn rollc(&self, cmd: &str, args: &[&str]) -> Exit {
        Exit::of(
            Command::new(BIN)
                .args(["--color", "never", cmd, "--state"])
                .arg(self.state())
                .args(args)
                .output()
                .expect("rollc runs"),
        )
    }

    /// A command that drives the run afterwards (`resume`, `promote`, `retry`, `undo`):
    /// also writes to the events file.
    fn steer(&self, cmd: &str, args: &[&str]) -> Exit {
        let events = self.events_path().display().to_string();
        let mut all = vec!["--events", events.as_str(), "-q"];
        all.extend_from_slice(args);
        self.rollc(cmd, &all)
    }

    /// `rollc status --output json`.
    fn status(&self) -> serde_json::Value {
        let out = self.rollc("status", &["--output", "json"]);
        out.expect(0);
        serde_json::from_str(&out.stdout).expect("status is JSON")
    }

    /// The events file as written so far, unchecked.
    fn raw_log(&self) -> Log {
        let text = std::fs::read_to_string(self.events_path()).unwrap_or_default();
        let records = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str::<Record>(l)
                    .unwrap_or_else(|e| panic!("an event line does not parse ({e}): {l}"))
            })
            .collect();
        Log { records }
    }

    /// The events file, checked against the general invariants.
    fn log(&self) -> Log {
        let log = self.raw_log();
        assert!(!log.records.is_empty(), "the events file is empty");
        check_invariants(&log, &self.rollout);
        log
    }
}

// ---- reading the event log ------------------------------------------------------------------

/// The records of an events file.
struct Log {
    records: Vec<Record>,
}

/// A `cluster_sync_started` record.
#[derive(Debug, Clone, PartialEq)]
struct Sync {
    time: Timestamp,
    stage: String,
    cluster: String,
    revision: String,
    rollback: bool,
}

fn cluster_of(event: &Event) -> Option<&str> {
    match event {
        Event::ClusterSyncStarted { cluster, .. }
        | Event::ClusterHealthy { cluster, .. }
        | Event::ClusterBaked { cluster, .. }
        | Event::ClusterFailed { cluster, .. }
        | Event::ClusterRequeued { cluster, .. }
        | Event::ClusterJoined { cluster, .. }
        | Event::ClusterLeft { cluster, .. } => Some(cluster),
        _ => None,
    }
}

fn stage_of(event: &Event) -> Option<&str> {
    match event {
        Event::StagePlanned { stage, .. }
        | Event::StageStarted { stage }
        | Event::ClusterSyncStarted { stage, .. }
        | Event::ClusterHealthy { stage, .. }
        | Event::ClusterBaked { stage, .. }
        | Event::ClusterFailed { stage, .. }
        | Event::ClusterRequeued { stage, .. }
        | Event::BakeStarted { stage, .. }
        | Event::BakeFinished { stage }
        | Event::GateStarted { stage, .. }
        | Event::GateProbe { stage, .. }
        | Event::GateChecked { stage, .. }
        | Event::GatePassed { stage, .. }
        | Event::GateFailed { stage, .. }
        | Event::StageCompleted { stage, .. }
        | Event::StageFailed { stage, .. } => Some(stage),
        Event::ClusterJoined { stage, .. }
        | Event::ClusterLeft { stage, .. }
        | Event::Paused { stage, .. } => stage.as_deref(),
        _ => None,
    }
}

impl Log {
    /// The run ids, in order of appearance.
    fn runs(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for r in &self.records {
            if !ids.contains(&r.run) {
                ids.push(r.run.clone());
            }
        }
        ids
    }

    /// The records of one run.
    fn run(&self, id: &str) -> Log {
        Log {
            records: self
                .records
                .iter()
                .filter(|r| r.run == id)
                .cloned()
                .collect(),
        }
    }

    /// The log of the `n`th run (from 0).
    fn nth_run(&self, n: usize) -> Log {
        let ids = self.runs();
        self.run(ids.get(n).unwrap_or_else(|| panic!("no run {n}: {ids:?}")))
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.records.iter().map(|r| r.event.kind()).collect()
    }

    fn of_kind(&self, kind: &str) -> Vec<&Record> {
        self.records
            .iter()
            .filter(|r| r.event.kind() == kind)
            .collect()
    }

    fn count(&self, kind: &str) -> usize {
        self.of_kind(kind).len()
    }

    /// The only record of `kind`.
    #[track_caller]
    fn one(&self, kind: &str) -> &Record {
        let found = self.of_kind(kind);
        assert_eq!(found.len(), 1, "expected one `{kind}`: {}", self.dump());
        found[0]
    }

    /// The last record of `kind`.
    #[track_caller]
    fn last(&self, kind: &str) -> &Record {
        self.of_kind(kind)
            .last()
            .copied()
            .unwrap_or_else(|| panic!("no `{kind}`: {}", self.dump()))
    }

    /// The times of the records of `kind` about `cluster`.
    fn times(&self, kind: &str, cluster: &str) -> Vec<Timestamp> {
        self.records
            .iter()
            .filter(|r| r.event.kind() == kind && cluster_of(&r.event) == Some(cluster))
            .map(|r| r.time)
            .collect()
    }

    /// The time of the only record of `kind` about `cluster`.
    #[track_caller]
    fn time(&self, kind: &str, cluster: &str) -> Timestamp {
        let t = self.times(kind, cluster);
        assert_eq!(
            t.len(),
            1,
            "expected one `{kind}` of `{cluster}`: {}",
            self.dump()
        );
        t[0]
    }

    /// The time of the only record of `kind` about stage `stage`.
    #[track_caller]
    fn stage_time(&self, kind: &str, stage: &str) -> Timestamp {
        let t: Vec<Timestamp> = self
            .records
            .iter()
            .filter(|r| r.event.kind() == kind && stage_of(&r.event) == Some(stage))
            .map(|r| r.time)
            .collect();
        assert_eq!(
            t.len(),
            1,
            "expected one `{kind}` of stage `{stage}`: {}",
            self.dump()
        );
        t[0]
    }

    fn syncs(&self) -> Vec<Sync> {
        self.records
            .iter()
            .filter_map(|r| match &r.event {
                Event::ClusterSyncStarted {
                    stage,
                    cluster,
                    revision,
                    rollback,
                    ..
                } => Some(Sync {
                    time: r.time,
                    stage: stage.clone(),
                    cluster: cluster.clone(),
                    revision: revision.clone(),
                    rollback: *rollback,
                }),
                _ => None,
            })
            .collect()
    }

    /// (cluster, start time) of the forward syncs, in order.
    fn starts(&self) -> Vec<(String, Timestamp)> {
        self.syncs()
            .into_iter()
            .filter(|s| !s.rollback)
            .map(|s| (s.cluster, s.time))
            .collect()
    }

    /// The clusters of the forward syncs of `stage`, in order.
    fn started_in(&self, stage: &str) -> Vec<String> {
        self.syncs()
            .into_iter()
            .filter(|s| !s.rollback && s.stage == stage)
            .map(|s| s.cluster)
            .collect()
    }

    /// A stage's planned clusters and batch.
    #[track_caller]
    fn planned(&self, stage: &str) -> (Vec<String>, u64) {
        self.records
            .iter()
            .find_map(|r| match &r.event {
                Event::StagePlanned {
                    stage: s,
                    clusters,
                    batch,
                    ..
                } if s == stage => {
                    Some((clusters.iter().map(|c| c.name.clone()).collect(), *batch))
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("stage `{stage}` was not planned: {}", self.dump()))
    }

    fn pinned(&self) -> String {
        match &self.one("run_started").event {
            Event::RunStarted { revision, .. } => revision.clone(),
            _ => unreachable!(),
        }
    }

    /// The log, one line per record, for failure messages.
    fn dump(&self) -> String {
        let mut out = String::from("\n");
        for r in &self.records {
            out.push_str(&format!(
                "  {} {:>3} {}\n",
                r.time,
                r.seq,
                serde_json::to_string(&r.event).unwrap_or_default()
            ));
        }
        out
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

// ---- the general invariants -----------------------------------------------------------------

/// Checks what must hold in every run of every scenario (see the module documentation).
fn check_invariants(log: &Log, rollout: &ir::Rollout) {
    for w in log.records.windows(2) {
        assert!(
            w[1].time >= w[0].time,
            "time went backwards at seq {} of run {}: {}",
            w[1].seq,
            w[1].run,
            log.dump()
        );
    }
    let runs = log.runs();
    // Runs follow one another; they do not interleave.
    let order: Vec<&str> = log.records.iter().map(|r| r.run.as_str()).collect();
    let mut seen_end: HashSet<&str> = HashSet::new();
    for w in order.windows(2) {
        if w[0] != w[1] {
            seen_end.insert(w[0]);
            assert!(
                !seen_end.contains(w[1]),
                "run {} continues after run {} began: {}",
                w[1],
                w[0],
                log.dump()
            );
        }
    }
    for id in runs {
        let run = log.run(&id);
        for (i, r) in run.records.iter().enumerate() {
            assert_eq!(
                r.seq,
                i as u64,
                "seq of run {id} does not increase by 1: {}",
                run.dump()
            );
        }
        RunCheck::new(rollout, &run).check();
    }
}

/// The replay of one run's log that checks the invariants.
struct RunCheck<'a> {
    rollout: &'a ir::Rollout,
    log: &'a Log,
    pinned: Option<String>,
    stages: Vec<String>,
    batch: Vec<u64>,
    hold: Vec<bool>,
    /// Each cluster's stage and previous revision.
    owner: HashMap<String, (usize, Option<String>)>,
    started: Vec<bool>,
    current: Option<usize>,
    completed: Vec<bool>,
    in_flight: Vec<BTreeSet<String>>,
    bake_until: Vec<Option<Timestamp>>,
    bake_done: Vec<bool>,
    gates_passed: Vec<BTreeSet<usize>>,
    /// The group journaled with each cluster's latest sync.
    groups: HashMap<String, Option<String>>,
    /// Syncs per (cluster, revision).
    syncs: HashMap<(String, String), u32>,
    /// Extra syncs allowed by `retried`.
    retries: HashMap<String, u32>,
    /// Forward syncs per stage, in order (for the rollback order).
    forward: Vec<Vec<String>>,
    rolling_back: bool,
    rollback_in_flight: BTreeSet<String>,
    rollback_stage: Option<usize>,
    rolled_back: Vec<Vec<String>>,
    full: bool,
    paused: bool,
    terminal: bool,
}

impl<'a> RunCheck<'a> {
    fn new(rollout: &'a ir::Rollout, log: &'a Log) -> RunCheck<'a> {
        let n = rollout.stages.len();
        RunCheck {
            rollout,
            log,
            groups: HashMap::new(),
            pinned: None,
            stages: Vec::new(),
            batch: Vec::new(),
            hold: Vec::new(),
            owner: HashMap::new(),
            started: vec![false; n],
            current: None,
            completed: vec![false; n],
            in_flight: vec![BTreeSet::new(); n],
            bake_until: vec![None; n],
            bake_done: vec![false; n],
            gates_passed: vec![BTreeSet::new(); n],
            syncs: HashMap::new(),
            retries: HashMap::new(),
            forward: vec![Vec::new(); n],
            rolling_back: false,
            rollback_in_flight: BTreeSet::new(),
            rollback_stage: None,
            rolled_back: vec![Vec::new(); n],
            full: false,
            paused: false,
            terminal: false,
        }
    }

    #[track_caller]
    fn fail(&self, r: &Record, what: &str) -> ! {
        panic!(
            "invariant broken at seq {} ({}) of run {}: {what}{}",
            r.seq,
            r.event.kind(),
            r.run,
            self.log.dump()
        )
    }

    fn stage(&self, r: &Record, name: &str) -> usize {
        self.stages
            .iter()
            .position(|s| s == name)
            .unwrap_or_else(|| self.fail(r, &format!("unknown stage `{name}`")))
    }

    /// The batch the stage may have in flight now: a hold released by `promote` (or skipped
    /// by `promote --full`) runs one at a time.
    fn effective_batch(&self, s: usize) -> u64 {
        if self.hold[s] && self.full {
            self.batch[s].max(1)
        } else {
            self.batch[s]
        }
    }

    /// Checks the stage's `max in flight N per KEY` over `set`, with each cluster counted in
    /// the group journaled with its sync (its label's value when it started).
    fn check_cap(&self, r: &Record, s: usize, cluster: &str, set: &BTreeSet<String>) {
        if let Some(cap) = &self.rollout.stages[s].max_in_flight {
            let (count, key) = (cap.count, &cap.per);
            let value = self.groups.get(cluster).cloned().flatten();
            let same = set
                .iter()
                .filter(|c| self.groups.get(*c).cloned().flatten() == value)
                .count() as u64;
            if same > count {
                self.fail(
                    r,
                    &format!(
                        "{same} clusters with {key}={value:?} in flight (max in flight {count} per {key}): {set:?}"
                    ),
                );
            }
        }
    }

    fn check(mut self) {
        let log = self.log;
        for r in &log.records {
            self.record(r);
        }
    }

    fn record(&mut self, r: &Record) {
        let kind = r.event.kind();
        if r.seq == 0 && kind != "run_started" {
            self.fail(r, "a run begins with `run_started`");
        }
        if self.paused
            && matches!(
                kind,
                "stage_started"
                    | "cluster_sync_started"
                    | "cluster_requeued"
                    | "bake_started"
                    | "bake_finished"
                    | "gate_started"
                    | "gate_probe"
                    | "stage_completed"
                    | "stage_failed"
                    | "rollback_started"
                    | "rollback_finished"
                    | "run_succeeded"
                    | "run_failed"
            )
        {
            self.fail(r, "a decision while the run is paused");
        }
        if self.terminal
            && !matches!(
                kind,
                "executor_attached"
                    | "operator_request"
                    | "retried"
                    | "cluster_healthy"
                    | "cluster_failed"
                    | "cluster_baked"
                    | "cluster_left"
                    | "cluster_joined"
            )
        {
            self.fail(r, "a decision after the run ended");
        }
        match &r.event {
            Event::RunStarted { revision, .. } => {
                if r.seq != 0 {
                    self.fail(r, "`run_started` twice");
                }
                self.pinned = Some(revision.clone());
            }
            Event::StagePlanned {
                stage,
                clusters,
                batch,
                hold,
                ..
            } => {
                let s = self.stages.len();
                if self.rollout.stages.get(s).map(|st| &st.name) != Some(stage) {
                    self.fail(r, "stages are planned in rollout order");
                }
                self.stages.push(stage.clone());
                self.batch.push(*batch);
                self.hold.push(*hold);
                for c in clusters {
                    if self
                        .owner
                        .insert(c.name.clone(), (s, c.previous.clone()))
                        .is_some()
                    {
                        self.fail(r, &format!("`{}` is planned in two stages", c.name));
                    }
                }
            }
            Event::StageStarted { stage } => {
                let s = self.stage(r, stage);
                if self.started[s] {
                    self.fail(r, "a stage started twice");
                }
                if (0..s).any(|e| !self.completed[e]) {
                    self.fail(r, "a stage started before an earlier one completed");
                }
                self.started[s] = true;
                self.current = Some(s);
            }
            Event::ClusterSyncStarted {
                stage,
                cluster,
                revision,
                rollback,
                group,
                ..
            } => {
                let s = self.stage(r, stage);
                self.groups.insert(cluster.clone(), group.clone());
                let Some((owner, previous)) = self.owner.get(cluster).cloned() else {
                    self.fail(r, "a sync of a cluster no stage owns");
                };
                if owner != s {
                    self.fail(r, "a cluster synced by a stage that does not own it");
                }
                let n = self
                    .syncs
                    .entry((cluster.clone(), revision.clone()))
                    .or_default();
                *n += 1;
                let n = *n;
                if n > 1 + self.retries.get(cluster).copied().unwrap_or(0) {
                    self.fail(r, &format!("`{cluster}` synced to {revision} {n} times"));
                }
                if *rollback {
                    if !self.rolling_back {
                        self.fail(r, "a rollback sync before `rollback_started`");
                    }
                    if previous.as_ref() != Some(revision) {
                        self.fail(r, "a rollback sync to another revision than the previous");
                    }
                    // Stages roll back latest first, one after the other.
                    if let Some(prev) = self.rollback_stage
                        && prev != s
                    {
                        if s > prev {
                            self.fail(r, "rollback went to a later stage");
                        }
                        if !self.rollback_in_flight.is_empty() {
                            self.fail(r, "rollback of a stage began before the later one ended");
                        }
                    }
                    self.rollback_stage = Some(s);
                    self.rollback_in_flight.insert(cluster.clone());
                    self.rolled_back[s].push(cluster.clone());
                    let batch = self.batch[s].max(1);
                    if self.rollback_in_flight.len() as u64 > batch {
                        self.fail(r, &format!("rollback exceeds the batch of {batch}"));
                    }
                    self.check_cap(r, s, cluster, &self.rollback_in_flight);
                } else {
                    if Some(revision) != self.pinned.as_ref() {
                        self.fail(r, "a sync to another revision than the pinned one");
                    }
                    if self.current != Some(s) || self.completed[s] {
                        self.fail(r, "a sync outside the current stage");
                    }
                    if self.bake_until[s].is_some() || self.bake_done[s] {
                        self.fail(r, "a sync after the stage began to bake");
                    }
                    self.in_flight[s].insert(cluster.clone());
                    self.forward[s].push(cluster.clone());
                    let batch = self.effective_batch(s);
                    if self.in_flight[s].len() as u64 > batch {
                        self.fail(
                            r,
                            &format!(
                                "{} clusters in flight, batch {batch}: {:?}",
                                self.in_flight[s].len(),
                                self.in_flight[s]
                            ),
                        );
                    }
                    self.check_cap(r, s, cluster, &self.in_flight[s]);
                }
            }
            Event::ClusterHealthy { cluster, .. } => {
                if self.rollback_in_flight.remove(cluster) {
                    return;
                }
                let bake_each = self
                    .owner
                    .get(cluster)
                    .map(|(s, _)| self.rollout.stages[*s].bake_each_seconds)
                    .unwrap_or(0);
                if bake_each == 0 || self.full {
                    self.leave_flight(cluster);
                }
            }
            Event::ClusterBaked { cluster, .. } => self.leave_flight(cluster),
            Event::ClusterFailed { cluster, .. } | Event::ClusterLeft { cluster, .. } => {
                self.rollback_in_flight.remove(cluster);
                self.leave_flight(cluster);
            }
            Event::ClusterJoined { cluster, stage, .. } => {
                if let Some(stage) = stage {
                    let s = self.stage(r, stage);
                    if self.completed[s] {
                        self.fail(r, "a joiner placed in a completed stage");
                    }
                    self.owner.insert(cluster.clone(), (s, None));
                }
            }
            Event::ClusterRequeued { stage, .. } => {
                let s = self.stage(r, stage);
                if self.current != Some(s) {
                    self.fail(r, "a requeue outside the current stage");
                }
            }
            Event::BakeStarted { stage, until } => {
                let s = self.stage(r, stage);
                if self.current != Some(s) || !self.in_flight[s].is_empty() {
                    self.fail(r, "a bake began while clusters of the stage are in flight");
                }
                if self.full {
                    self.fail(r, "a bake began after `promote --full`");
                }
                let bake = self.rollout.stages[s].bake_seconds as i64;
                if *until != r.time + SignedDuration::from_secs(bake) {
                    self.fail(r, &format!("the bake is not {bake}s long"));
                }
                self.bake_until[s] = Some(*until);
            }
            Event::BakeFinished { stage } => {
                let s = self.stage(r, stage);
                if self.current != Some(s) || !self.in_flight[s].is_empty() {
                    self.fail(
                        r,
                        "a bake finished while clusters of the stage are in flight",
                    );
                }
                if let Some(until) = self.bake_until[s]
                    && r.time < until
                    && !self.full
                {
                    self.fail(r, &format!("the bake ended before {until}"));
                }
                if self.bake_until[s].is_none()
                    && self.rollout.stages[s].bake_seconds > 0
                    && !self.full
                {
                    self.fail(r, "a bake finished that never started");
                }
                self.bake_done[s] = true;
                self.gates_passed[s].clear();
            }
            Event::GateStarted { stage, gate, .. } => {
                let s = self.stage(r, stage);
                if !self.bake_done[s] {
                    self.fail(r, "a gate began before the bake was served");
                }
                if (0..*gate).any(|g| !self.gates_passed[s].contains(&g)) {
                    self.fail(r, "a gate began before the gates before it passed");
                }
            }
            Event::GatePassed { stage, gate, .. } => {
                let s = self.stage(r, stage);
                self.gates_passed[s].insert(*gate);
            }
            Event::StageCompleted { stage, .. } => {
                let s = self.stage(r, stage);
                if self.current != Some(s) || !self.in_flight[s].is_empty() {
                    self.fail(r, "a stage completed with clusters in flight");
                }
                if !self.bake_done[s] {
                    self.fail(r, "a stage completed before its bake was served");
                }
                let gates = self.rollout.stages[s].gates.len();
                if (0..gates).any(|g| !self.gates_passed[s].contains(&g)) {
                    self.fail(r, "a stage completed before its gates passed");
                }
                self.completed[s] = true;
            }
            Event::Paused { .. } => self.paused = true,
            Event::Resumed { .. } => self.paused = false,
            Event::Promoted { full, .. } => {
                self.paused = false;
                if let Some(s) = self.current
                    && self.hold[s]
                {
                    self.batch[s] = self.batch[s].max(1);
                }
                self.full |= *full;
            }
            Event::Retried { clusters, .. } => {
                self.paused = false;
                self.terminal = false;
                for c in clusters {
                    *self.retries.entry(c.clone()).or_default() += 1;
                }
            }
            Event::RollbackStarted { .. } => {
                self.paused = false;
                self.rolling_back = true;
                for set in &mut self.in_flight {
                    set.clear();
                }
            }
            Event::RollbackFinished { .. } => {
                if !self.rollback_in_flight.is_empty() {
                    self.fail(r, "rollback finished with syncs in flight");
                }
                // Each stage's clusters went back newest first.
                for s in 0..self.stages.len() {
                    if self.rollout.stages[s].max_in_flight.is_some() {
                        continue;
                    }
                    let mut expected: Vec<String> = Vec::new();
                    for c in self.forward[s].iter().rev() {
                        let previous = self.owner.get(c).and_then(|o| o.1.clone());
                        if !expected.contains(c) && previous.is_some() && previous != self.pinned {
                            expected.push(c.clone());
                        }
                    }
                    let done: Vec<String> = self.rolled_back[s]
                        .iter()
                        .filter(|c| expected.contains(c))
                        .cloned()
                        .collect();
                    if done != expected {
                        self.fail(
                            r,
                            &format!(
                                "stage `{}` rolled back {done:?}, not newest first {expected:?}",
                                self.stages[s]
                            ),
                        );
                    }
                }
            }
            Event::RunSucceeded {} => {
                if self.completed.iter().any(|c| !c) {
                    self.fail(r, "the run succeeded with stages not completed");
                }
                self.terminal = true;
            }
            Event::RunFailed { .. } | Event::RunAborted { .. } => self.terminal = true,
            Event::ExecutorAttached { .. }
            | Event::GateProbe { .. }
            | Event::GateChecked { .. }
            | Event::GateFailed { .. }
            | Event::StageFailed { .. }
            | Event::RevisionDetected { .. }
            | Event::OperatorRequest { .. } => {}
        }
    }

    fn leave_flight(&mut self, cluster: &str) {
        for set in &mut self.in_flight {
            set.remove(cluster);
        }
    }
}

/// The `operator_request` records: (command, accepted, message).
fn requests(log: &Log) -> Vec<(String, bool, String)> {
    log.records
        .iter()
        .filter_map(|r| match &r.event {
            Event::OperatorRequest {
                command,
                accepted,
                message,
                ..
            } => Some((command.clone(), *accepted, message.clone())),
            _ => None,
        })
        .collect()
}

fn pause_reason(record: &Record) -> String {
    match &record.event {
        Event::Paused { reason, .. } => reason.clone(),
        other => panic!("not a pause: {other:?}"),
    }
}

// ---- the checker itself ---------------------------------------------------------------------

/// Runs [`check_invariants`] on a tampered copy of `log` (with `seq` renumbered) and returns
/// its complaint.
#[track_caller]
fn complaint(w: &World, log: &Log, tamper: impl FnOnce(&mut Vec<Record>)) -> String {
    let mut records = log.records.clone();
    tamper(&mut records);
    for (i, r) in records.iter_mut().enumerate() {
        r.seq = i as u64;
    }
    let tampered = Log { records };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_invariants(&tampered, &w.rollout)
    }));
    match result {
        Ok(()) => panic!("the checker accepted a broken log:{}", tampered.dump()),
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
    }
}

fn position(records: &[Record], kind: &str, cluster: &str) -> usize {
    records
        .iter()
        .position(|r| r.event.kind() == kind && cluster_of(&r.event) == Some(cluster))
        .unwrap_or_else(|| panic!("no `{kind}` of `{cluster}`"))
}

#[test]
fn the_invariant_checker_rejects_broken_logs() {
    let w = World::new("sliding.rollout", "sliding.fleet.yaml");
    w.apply().expect(0);
    let log = w.log();

    // A batch of 1 is exceeded by the log of a batch of 2.
    let c = complaint(&w, &log, |rs| {
        if let Event::StagePlanned { batch, .. } = &mut rs[1].event {
            *batch = 1;
        }
    });
    assert!(c.contains("in flight, batch 1"), "{c}");
    // A sync to another revision than the pinned one.
    let c = complaint(&w, &log, |rs| {
        let i = position(rs, "cluster_sync_started", "w5");
        if let Event::ClusterSyncStarted { revision, .. } = &mut rs[i].event {
            *revision = "r9".into();
        }
    });
    assert!(c.contains("pinned"), "{c}");
    // A cluster synced twice.
    let c = complaint(&w, &log, |rs| {
        let i = position(rs, "cluster_sync_started", "s3");
        let mut again = rs[i].clone();
        let end = rs.len() - 3;
        again.time = rs[end].time;
        rs.insert(end, again);
    });
    assert!(c.contains("synced to r2 2 times"), "{c}");
    // A start while paused.
    let c = complaint(&w, &log, |rs| {
        let i = position(rs, "cluster_sync_started", "w3");
        let mut pause = rs[i].clone();
        pause.event = Event::Paused {
            stage: Some("wide".into()),
            reason: "operator".into(),
            detail: None,
        };
        rs.insert(i, pause);
    });
    assert!(c.contains("paused"), "{c}");
    // The next stage starting before the previous one completed.
    let c = complaint(&w, &log, |rs| {
        rs.retain(|r| !matches!(&r.event, Event::StageCompleted { stage, .. } if stage == "wide"));
    });
    assert!(c.contains("before an earlier one completed"), "{c}");
    // Time going backwards, and a gap in `seq`.
    let c = complaint(&w, &log, |rs| {
        let i = position(rs, "cluster_healthy", "w8");
        rs[i].time = at("1m");
    });
    assert!(c.contains("time went backwards"), "{c}");
    let mut records = log.records.clone();
    records.remove(5);
    let gap = Log { records };
    let c = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_invariants(&gap, &w.rollout)
    }));
    assert!(c.is_err(), "a gap in seq was accepted");

    // A bake cut short, and gates skipped.
    let w = World::new("bake.rollout", "bake.fleet.yaml");
    w.apply().expect(0);
    let log = w.log();
    let c = complaint(&w, &log, |rs| {
        let i = rs
            .iter()
            .position(|r| r.event.kind() == "bake_started")
            .unwrap();
        if let Event::BakeStarted { until, .. } = &mut rs[i].event {
            *until = at("2h");
        }
    });
    assert!(c.contains("the bake is not 3600s long"), "{c}");
    let w = World::new("approval.rollout", "approval.fleet.yaml");
    w.apply().expect(3);
    w.steer("promote", &["--full"]).expect(0);
    let log = w.log();
    let c = complaint(&w, &log, |rs| {
        rs.retain(|r| !matches!(&r.event, Event::GatePassed { stage, .. } if stage == "mid"));
    });
    assert!(c.contains("before its gates passed"), "{c}");

    // A per-zone cap exceeded.
    let w = World::new("capped.rollout", "capped.fleet.yaml");
    w.apply().expect(0);
    let log = w.log();
    let c = complaint(&w, &log, |rs| {
        // z2 (zone a) starts with z1 instead of after it.
        let i = position(rs, "cluster_sync_started", "z2");
        let mut early = rs.remove(i);
        let j = position(rs, "cluster_sync_started", "z4");
        early.time = rs[j].time;
        rs.insert(j, early);
    });
    assert!(c.contains("max in flight 1 per zone"), "{c}");
}

// ---- 1. sliding window ----------------------------------------------------------------------

#[test]
fn sliding_window_refills_a_freed_slot_at_once_and_percentages_round() {
    let w = World::new("sliding.rollout", "sliding.fleet.yaml");
    w.apply().expect(0);
    let log = w.log();

    // 25% of 8 is 2; 10% of 3 is 0.3, raised to 1.
    assert_eq!(log.planned("wide").1, 2);
    assert_eq!(log.planned("small").1, 1);

    // w1 (10m) holds one slot; the other slot is refilled the moment its cluster is healthy.
    assert_eq!(
        log.time("cluster_sync_started", "w3"),
        log.time("cluster_healthy", "w2")
    );
    assert_eq!(
        log.time("cluster_sync_started", "w4"),
        log.time("cluster_healthy", "w3")
    );
    assert_eq!(
        log.time("cluster_sync_started", "w5"),
        log.time("cluster_healthy", "w4")
    );
    assert_eq!(
        log.time("cluster_sync_started", "w6"),
        log.time("cluster_healthy", "w1")
    );
    let expected = [
        ("w1", "0m"),
        ("w2", "0m"),
        ("w3", "2m"),
        ("w4", "5m"),
        ("w5", "9m"),
        ("w6", "10m"),
        ("w7", "14m"),
        ("w8", "15m"),
        ("s1", "20m"),
        ("s2", "25m"),
        ("s3", "30m"),
    ];
    let expected: Vec<(String, Timestamp)> = expected
        .iter()
        .map(|(c, t)| (c.to_string(), at(t)))
        .collect();
    assert_eq!(log.starts(), expected, "{}", log.dump());
    assert_eq!(log.stage_time("stage_completed", "wide"), at("20m"));
    assert_eq!(log.one("run_succeeded").time, at("35m"));
}

// ---- 2. caps, limits, spread ----------------------------------------------------------------

#[test]
fn max_in_flight_per_zone_caps_below_the_batch() {
    let w = World::new("capped.rollout", "capped.fleet.yaml");
    w.apply().expect(0);
    let log = w.log();
    // One per zone at a time even though the batch is 3: zone a's three clusters go one by
    // one, and the batch is never filled by a second cluster of a zone.
    let expected: Vec<(String, Timestamp)> = [
        ("z1", "0m"),
        ("z4", "0m"),
        ("z6", "0m"),
        ("z2", "5m"),
        ("z5", "5m"),
        ("z3", "10m"),
    ]
    .iter()
    .map(|(c, t)| (c.to_string(), at(t)))
    .collect();
    assert_eq!(log.starts(), expected, "{}", log.dump());
    assert_eq!(log.one("run_succeeded").time, at("15m"));
    // Each sync journals the zone it counts against.
    for r in log.of_kind("cluster_sync_started") {
        if let Event::ClusterSyncStarted { cluster, group, .. } = &r.event {
            assert_eq!(group.as_ref(), w.labels[cluster].get("zone"), "{cluster}");
        }
    }
}

#[test]
fn limits_take_part_of_a_selection_and_spread_alternates_regions() {
    let w = World::new("limits.rollout", "limits.fleet.yaml");
    w.apply().expect(0);
    let log = w.log();
    // `limit 2 spread by region`: one cluster from each of the first two regions.
    assert_eq!(log.planned("canary").0, names(&["a1", "e1"]));
    // `limit 1 per region` of what is left: one per region, and one of the clusters
    // without a region (they form a group of their own).
    assert_eq!(
        log.planned("per region").0,
        names(&["a2", "e2", "n1", "u1"])
    );
    // The rest, spread by region: eu and us alternate.
    assert_eq!(log.planned("rest").0, names(&["e3", "u2", "e4", "u3"]));
    assert_eq!(log.started_in("canary"), names(&["a1", "e1"]));
    assert_eq!(
        log.started_in("per region"),
        names(&["a2", "e2", "n1", "u1"])
    );
    assert_eq!(log.started_in("rest"), names(&["e3", "u2", "e4", "u3"]));
    // `batch 100%` of 4: all at once.
    assert_eq!(log.planned("rest").1, 4);
    for c in ["e3", "u2", "e4", "u3"] {
        assert_eq!(log.time("cluster_sync_started", c), at("30m"));
    }
    assert_eq!(log.count("cluster_sync_started"), 10);
}

// ---- 3. bakes -------------------------------------------------------------------------------

#[test]
fn bake_soaks_the_stage_and_bake_each_holds_the_slot() {
    let w = World::new("bake.rollout", "bake.fleet.yaml");
    w.apply().expect(0);
    let log = w.log();
    // The stage bake starts when the last cluster is healthy and lasts exactly 1h.
    let last_healthy = log.time("cluster_healthy", "s2");
    assert_eq!(last_healthy, at("8m"));
    let bake = log.one("bake_started");
    assert_eq!(bake.time, last_healthy);
    match &bake.event {
        Event::BakeStarted { until, .. } => assert_eq!(*until, at("1h8m")),
        _ => unreachable!(),
    }
    assert_eq!(log.stage_time("bake_finished", "soak"), at("1h8m"));
    assert_eq!(log.stage_time("stage_started", "each"), at("1h8m"));
    // `bake each 30m`: e1 keeps its slot until it has been healthy for 30m.
    assert_eq!(log.time("cluster_healthy", "e1"), at("1h13m"));
    assert_eq!(log.time("cluster_baked", "e1"), at("1h43m"));
    assert_eq!(log.time("cluster_sync_started", "e2"), at("1h43m"));
    assert_eq!(log.time("cluster_baked", "e2"), at("2h18m"));
    assert_eq!(log.stage_time("stage_completed", "each"), at("2h18m"));
}

#[test]
fn a_cluster_degrading_during_the_bake_fails_the_stage() {
    let w = World::new("flap.rollout", "flap.fleet.yaml");
    w.apply().expect(1);
    let log = w.log();
    assert_eq!(log.time("cluster_healthy", "f1"), at("10m"));
    assert_eq!(log.one("bake_started").time, at("10m"));
    // f1 degrades 20m after it was healthy, while the stage bakes until 1h10m.
    assert_eq!(log.time("cluster_failed", "f1"), at("30m"));
    assert_eq!(log.stage_time("stage_failed", "soak"), at("30m"));
    assert_eq!(log.count("bake_finished"), 0);
    assert_eq!(log.count("stage_completed"), 0);
    assert_eq!(log.one("run_failed").time, at("30m"));
}

// ---- 4. deadline ----------------------------------------------------------------------------

#[test]
fn a_cluster_that_never_turns_healthy_fails_at_its_deadline() {
    let w = World::new("deadline.rollout", "deadline.fleet.yaml");
    w.apply().expect(0);
    let log = w.log();
    let start = log.time("cluster_sync_started", "a1");
    assert_eq!(
        log.time("cluster_failed", "a1"),
        start + SignedDuration::from_mins(20)
    );
    match &log.one("cluster_failed").event {
        Event::ClusterFailed { reason, .. } => assert!(reason.contains("deadline"), "{reason}"),
        _ => unreachable!(),
    }
    // Its slot is free at once; the failure is tolerated.
    assert_eq!(log.time("cluster_sync_started", "b2"), at("20m"));
    match &log.one("stage_completed").event {
        Event::StageCompleted { done, failed, .. } => assert_eq!((*done, *failed), (1, 1)),
        _ => unreachable!(),
    }
}

#[test]
fn the_deadline_covers_bake_each_and_degrading_during_it_fails() {
    let w = World::new(
        "bake-each-deadline.rollout",
        "bake-each-deadline.fleet.yaml",
    );
    w.apply().expect(0);
    let log = w.log();
    // a1 is healthy at 15m, but its soak would end at 25m, after its 20m deadline.
    assert_eq!(log.time("cluster_healthy", "a1"), at("15m"));
    assert_eq!(log.time("cluster_failed", "a1"), at("20m"));
    assert_eq!(log.times("cluster_baked", "a1"), vec![]);
    // a2 degrades 5m into its 10m soak.
    assert_eq!(log.time("cluster_sync_started", "a2"), at("20m"));
    assert_eq!(log.time("cluster_healthy", "a2"), at("25m"));
    assert_eq!(log.time("cluster_failed", "a2"), at("30m"));
    // Each failure frees the slot at once.
    assert_eq!(log.time("cluster_sync_started", "a3"), at("30m"));
    assert_eq!(log.time("cluster_baked", "a3"), at("45m"));
    match &log.one("stage_completed").event {
        Event::StageCompleted { done, failed, .. } => assert_eq!((*done, *failed), (1, 2)),
        _ => unreachable!(),
    }
}

// ---- 5. requeue -----------------------------------------------------------------------------

#[test]
fn requeue_checks_every_interval_and_starts_a_cluster_back_in_service() {
    let w = World::new("requeue.rollout", "requeue-late.fleet.yaml");
    w.apply().expect(0);
    let log = w.log();
    // Skipped at its turn (at once: the batch has room), without holding a slot.
    let requeued: Vec<(Timestamp, u64, Timestamp)> = log
        .of_kind("cluster_requeued")
        .iter()
        .map(|r| match &r.event {
            Event::ClusterRequeued {
                attempt,
                next_check,
                ..
            } => (r.time, *attempt, *next_check),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        requeued,
        vec![
            (at("0m"), 0, at("30m")),
            (at("30m"), 1, at("1h")),
            (at("1h"), 2, at("1h30m")),
        ],
        "{}",
        log.dump()
    );
    // Back in service at 1h20m: started at the next check, the last attempt.
    assert_eq!(log.time("cluster_sync_started", "a1"), at("1h30m"));
    assert_eq!(log.one("run_succeeded").time, at("1h35m"));
}

#[test]
fn requeue_fails_a_cluster_still_drained_after_the_last_attempt() {
    let w = World::new("requeue.rollout", "requeue-never.fleet.yaml");
    w.apply().expect(1);
    let log = w.log();
    let checks: Vec<Timestamp> = log.times("cluster_requeued", "a1");
    assert_eq!(checks, vec![at("0m"), at("30m"), at("1h")]);
    let failed = log.one("cluster_failed");
    assert_eq!(failed.time, at("1h30m"));
    match &failed.event {
        Event::ClusterFailed {
            cluster, reason, ..
        } => {
            assert_eq!(cluster, "a1");
            assert!(reason.contains("requeue"), "{reason}");
            assert!(reason.contains('3'), "{reason}");
        }
        _ => unreachable!(),
    }
    assert!(log.times("cluster_sync_started", "a1").is_empty());
    assert_eq!(log.one("run_failed").time, at("1h30m"));
}

// ---- 6. tolerate and the failure policy -----------------------------------------------------

#[test]
fn tolerate_one_passes_a_stage_with_one_failure() {
    let w = World::new("tolerate-abort.rollout", "one-failure.fleet.yaml");
    w.apply().expect(0);
    let log = w.log();
    assert_eq!(log.time("cluster_failed", "bad1"), at("5m"));
    match &log.one("stage_completed").event {
        Event::StageCompleted { done, failed, .. } => assert_eq!((*done, *failed), (2, 1)),
        _ => unreachable!(),
    }
    assert_eq!(log.count("stage_failed"), 0);
}

#[test]
fn a_second_failure_pauses_and_resume_accepts_it() {
    let w = World::new("tolerate-pause.rollout", "two-failures.fleet.yaml");
    let out = w.apply();
    out.expect(3);
    assert!(
        out.stderr.contains("waiting for an operator"),
        "{}",
        out.stderr
    );
    let log = w.log();
    assert_eq!(log.stage_time("stage_failed", "all"), at("10m"));
    let paused = log.last("paused");
    assert_eq!(paused.time, at("10m"));
    assert_eq!(pause_reason(paused), "failure");
    assert_eq!(w.status()["paused"]["reason"], "failure");

    w.steer("resume", &[]).expect(0);
    let log = w.log();
    assert_eq!(log.count("resumed"), 1);
    assert_eq!(log.one("resumed").time, at("10m"));
    assert_eq!(log.time("cluster_sync_started", "ok1"), at("10m"));
    assert_eq!(log.time("cluster_sync_started", "ok2"), at("15m"));
    match &log.one("stage_completed").event {
        Event::StageCompleted { done, failed, .. } => assert_eq!((*done, *failed), (2, 2)),
        _ => unreachable!(),
    }
    assert_eq!(log.one("run_succeeded").time, at("20m"));
    assert!(requests(&log).contains(&("resume".into(), true, "resumed".into())));
}

#[test]
fn a_second_failure_with_on_failure_abort_fails_the_run() {
    let w = World::new("tolerate-abort.rollout", "two-failures.fleet.yaml");
    w.apply().expect(1);
    let log = w.log();
    assert_eq!(log.one("run_failed").time, at("10m"));
    assert_eq!(log.count("paused"), 0);
    assert!(log.times("cluster_sync_started", "ok1").is_empty());
    assert_eq!(w.status()["state"], "failed");
}

// ---- 7. rollback ----------------------------------------------------------------------------

#[test]
fn rollback_syncs_updated_clusters_back_newest_first_stage_by_stage() {
    let w = World::new("rollback.rollout", "rollback.fleet.yaml");
    w.apply().expect(1);
    let log = w.log();
    assert_eq!(log.time("cluster_failed", "p3"), at("15m"));
    let back: Vec<(String, String, Timestamp)> = log
        .syncs()
        .into_iter()
        .filter(|s| s.rollback)
        .map(|s| (s.cluster, s.revision, s.time))
        .collect();
    let expected: Vec<(String, String, Timestamp)> = [
        // The failed stage first, newest first, two at a time (its batch).
        ("p4", "r1", "15m"),
        ("p3", "r1", "15m"),
        ("p2", "r1", "20m"),
        ("p1", "r1", "20m"),
        // Then the stage before it, back to what that cluster ran before.
        ("c1", "r0", "25m"),
    ]
    .iter()
    .map(|(c, r, t)| (c.to_string(), r.to_string(), at(t)))
    .collect();
    assert_eq!(back, expected, "{}", log.dump());
    match &log.one("rollback_started").event {
        Event::RollbackStarted { clusters } => assert_eq!(*clusters, 5),
        _ => unreachable!(),
    }
    let finished = log.one("rollback_finished");
    assert_eq!(finished.time, at("30m"));
    match &finished.event {
        Event::RollbackFinished { done, failed } => assert_eq!((*done, *failed), (5, 0)),
        _ => unreachable!(),
    }
    let kinds = log.kinds();
    assert_eq!(
        &kinds[kinds.len() - 2..],
        ["rollback_finished", "run_failed"]
    );
}

// ---- 8. approval gates and promote ----------------------------------------------------------

#[test]
fn approval_gates_wait_for_promote_and_promote_full_skips_later_bakes() {
    let w = World::new("approval.rollout", "approval.fleet.yaml");
    let out = w.apply();
    out.expect(3);
    assert!(
        out.stderr.contains("SRE on call signs off"),
        "{}",
        out.stderr
    );
    let log = w.log();
    assert_eq!(log.stage_time("gate_started", "canary"), at("5m"));
    assert_eq!(log.count("stage_completed"), 0);

    let status = w.status();
    assert_eq!(status["state"], "waiting for approval");
    assert_eq!(status["stages"][0]["status"], "gate");
    assert!(
        status["stages"][0]["current"]
            .as_str()
            .is_some_and(|c| c.contains("approval")),
        "{status}"
    );
    assert_eq!(status["stages"][1]["status"], "waiting");

    // `promote` passes the gate; the run goes on to the next approval, after the 1h bake.
    let out = w.steer("promote", &[]);
    out.expect(3);
    assert!(
        out.stdout.contains("approved gate 1 of stage `canary`"),
        "{}",
        out.stdout
    );
    let log = w.log();
    let passed = log.of_kind("gate_passed");
    assert_eq!(passed.len(), 1);
    assert_eq!(passed[0].time, at("5m"));
    match &passed[0].event {
        Event::GatePassed { stage, by, .. } => {
            assert_eq!(stage, "canary");
            assert!(by.as_deref().is_some_and(|b| !b.is_empty()), "{by:?}");
        }
        _ => unreachable!(),
    }
    assert_eq!(log.stage_time("stage_started", "mid"), at("5m"));
    assert_eq!(log.stage_time("bake_finished", "mid"), at("1h10m"));
    assert_eq!(log.stage_time("gate_started", "mid"), at("1h10m"));

    // `promote --full` passes it, and skips every later bake and approval, but not health:
    // each cluster still takes its whole sync and is judged healthy.
    w.steer("promote", &["--full"]).expect(0);
    let log = w.log();
    assert!(
        log.of_kind("promoted")
            .iter()
            .any(|r| matches!(r.event, Event::Promoted { full: true, .. }))
    );
    assert_eq!(log.stage_time("stage_started", "late"), at("1h10m"));
    assert_eq!(log.time("cluster_healthy", "late-1"), at("1h15m"));
    let late_gate = log.last("gate_passed");
    assert_eq!(late_gate.time, at("1h15m"));
    match &late_gate.event {
        Event::GatePassed { stage, by, .. } => {
            assert_eq!(stage, "late");
            assert_eq!(by.as_deref(), Some("promote --full"));
        }
        _ => unreachable!(),
    }
    assert_eq!(log.stage_time("stage_started", "rest"), at("1h15m"));
    assert_eq!(log.time("cluster_healthy", "rest-1"), at("1h20m"));
    assert_eq!(log.time("cluster_healthy", "rest-2"), at("1h25m"));
    // Only mid's bake was served; no `bake each` either.
    assert_eq!(log.count("bake_started"), 1);
    assert_eq!(log.count("cluster_baked"), 0);
    assert_eq!(log.stage_time("stage_completed", "rest"), at("1h25m"));
    assert_eq!(log.one("run_succeeded").time, at("1h25m"));
}

// ---- 9. operator commands on a stored run ---------------------------------------------------

#[test]
fn pause_and_resume_a_run_nothing_drives() {
    let w = World::new("approval.rollout", "approval.fleet.yaml");
    w.apply().expect(3);
    // Nothing drives the run: `pause` takes its lock and records the pause itself.
    let out = w.rollc("pause", &[]);
    out.expect(0);
    assert!(out.stdout.contains("paused"), "{}", out.stdout);
    assert_eq!(w.status()["state"], "paused");
    assert_eq!(w.status()["paused"]["reason"], "operator");
    // Pausing twice is refused.
    let out = w.rollc("pause", &[]);
    out.expect(1);
    assert!(out.stderr.contains("already paused"), "{}", out.stderr);

    // `resume` lifts it and drives the run to its approval gate again.
    w.steer("resume", &[]).expect(3);
    let log = w.log();
    let paused = log.one("paused");
    assert_eq!(pause_reason(paused), "operator");
    assert_eq!(paused.time, at("5m"));
    assert_eq!(log.one("resumed").time, at("5m"));
    let reqs = requests(&log);
    assert_eq!(reqs[0].0, "pause");
    assert!(reqs[0].1);
    assert_eq!(reqs[1].0, "pause");
    assert!(!reqs[1].1);
    assert_eq!(reqs[2], ("resume".into(), true, "resumed".into()));

    // `resume` of a run that is not paused records nothing and just drives it on (it is how
    // a run whose executor stopped is continued): here, to the same approval gate.
    let out = w.steer("resume", &[]);
    out.expect(3);
    assert!(
        out.stdout.contains("the run is not paused; continuing it"),
        "{}",
        out.stdout
    );
    let log = w.log();
    assert_eq!(log.count("resumed"), 1);
    assert_eq!(log.count("gate_started"), 1);

    w.steer("promote", &[]).expect(3);
    w.steer("promote", &[]).expect(3);
    w.steer("promote", &[]).expect(0);
    let log = w.log();
    assert_eq!(log.count("run_succeeded"), 1);
    // Resuming a run that has ended is refused.
    let out = w.steer("resume", &[]);
    out.expect(1);
    assert!(
        out.stderr.contains("the run has ended (succeeded)"),
        "{}",
        out.stderr
    );
}

#[test]
fn abort_then_retry_syncs_the_failed_clusters_again() {
    let w = World::new("tolerate-pause.rollout", "two-failures.fleet.yaml");
    w.apply().expect(3);
    let out = w.rollc("abort", &[]);
    out.expect(0);
    assert!(out.stdout.contains("aborted"), "{}", out.stdout);
    assert_eq!(w.status()["state"], "aborted");

    // `retry` resets both failed clusters; they sync again, in the stage's order (and fail
    // again, as they always do in this fleet), which fails the stage again.
    let out = w.steer("retry", &[]);
    out.expect(3);
    assert!(
        out.stdout.contains("retrying 2 failed clusters"),
        "{}",
        out.stdout
    );
    let log = w.log();
    assert_eq!(log.count("run_aborted"), 1);
    let retried = log.one("retried");
    assert_eq!(retried.time, at("10m"));
    match &retried.event {
        Event::Retried { clusters, .. } => assert_eq!(*clusters, names(&["bad1", "bad2"])),
        _ => unreachable!(),
    }
    assert_eq!(
        log.times("cluster_sync_started", "bad1"),
        vec![at("0m"), at("10m")]
    );
    assert_eq!(
        log.times("cluster_sync_started", "bad2"),
        vec![at("5m"), at("15m")]
    );
    assert!(log.times("cluster_sync_started", "ok1").is_empty());
    assert_eq!(log.count("stage_failed"), 2);
    let paused = log.last("paused");
    assert_eq!(pause_reason(paused), "failure");
    assert_eq!(paused.time, at("20m"));
    assert_eq!(w.status()["paused"]["reason"], "failure");
}

#[test]
fn retry_syncs_in_the_same_order_whether_or_not_an_executor_runs() {
    // A retry that an executor running with `--wait` picks up...
    let live = World::new("tolerate-pause.rollout", "two-failures.fleet.yaml");
    let child = Command::new(BIN)
        .args(live.apply_args(START))
        .arg("--wait")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rollc starts");
    let mut child = Reap(child);
    assert!(
        wait_until(Duration::from_secs(30), || live.raw_log().count("paused")
            == 1),
        "the run did not pause: {}",
        live.raw_log().dump()
    );
    live.steer("retry", &[]).expect(0);
    assert!(
        wait_until(Duration::from_secs(30), || live.raw_log().count("paused")
            == 2),
        "the retried run did not pause again: {}",
        live.raw_log().dump()
    );
    live.rollc("abort", &[]).expect(0);
    assert!(wait_until(Duration::from_secs(30), || matches!(
        child.0.try_wait(),
        Ok(Some(_))
    )));
    // ...and one that a new process handles after replaying the journal.
    let replayed = World::new("tolerate-pause.rollout", "two-failures.fleet.yaml");
    replayed.apply().expect(3);
    replayed.steer("retry", &[]).expect(3);

    let (live, replayed) = (live.log(), replayed.log());
    let after_retry = |log: &Log| -> Vec<(String, Timestamp)> {
        let retried = log.one("retried").seq;
        log.records
            .iter()
            .filter(|r| r.seq > retried)
            .filter_map(|r| match &r.event {
                Event::ClusterSyncStarted { cluster, .. } => Some((cluster.clone(), r.time)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        after_retry(&live),
        after_retry(&replayed),
        "live:{}replayed:{}",
        live.dump(),
        replayed.dump()
    );
    assert_eq!(
        after_retry(&live),
        vec![
            ("bad1".to_string(), at("10m")),
            ("bad2".to_string(), at("15m"))
        ]
    );
}

#[test]
fn undo_rolls_a_finished_run_back_to_the_previous_revision() {
    let w = World::new("simple.rollout", "simple.fleet.yaml");
    w.apply().expect(0);
    let first = w.log().nth_run(0);
    assert_eq!(first.pinned(), "r2");
    match &first.one("run_started").event {
        Event::RunStarted {
            previous_revision, ..
        } => assert_eq!(previous_revision.as_deref(), Some("r1")),
        _ => unreachable!(),
    }

    w.steer("undo", &[]).expect(0);
    let log = w.log();
    let runs = log.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[1] != runs[0] && runs[1].contains("undo"), "{runs:?}");
    let undo = log.run(&runs[1]);
    assert_eq!(undo.pinned(), "r1");
    // What the clusters run now (r2) is what the undo itself would return to.
    match &undo.one("run_started").event {
        Event::RunStarted {
            previous_revision, ..
        } => assert_eq!(previous_revision.as_deref(), Some("r2")),
        _ => unreachable!(),
    }
    assert!(
        undo.of_kind("stage_planned")
            .iter()
            .all(|r| match &r.event {
                Event::StagePlanned { clusters, .. } =>
                    clusters.iter().all(|c| c.previous.as_deref() == Some("r2")),
                _ => unreachable!(),
            })
    );
    assert_eq!(
        undo.one("run_started").time,
        first.one("run_succeeded").time
    );
    // Every cluster the run updated goes back to r1.
    let mut back: Vec<String> = undo
        .syncs()
        .into_iter()
        .map(|s| {
            assert_eq!(s.revision, "r1");
            s.cluster
        })
        .collect();
    back.sort();
    assert_eq!(back, names(&["c1", "c2", "c3"]));
    assert_eq!(undo.count("run_succeeded"), 1);
}

#[test]
fn operator_commands_that_do_not_apply_are_refused() {
    // A cluster that never turns healthy and no deadline: the run stops, waiting.
    let w = World::new("simple.rollout", "stuck.fleet.yaml");
    let out = w.apply();
    out.expect(3);
    assert!(
        out.stderr.contains("never became healthy"),
        "{}",
        out.stderr
    );

    let out = w.steer("promote", &[]);
    out.expect(1);
    assert!(out.stderr.contains("nothing to promote"), "{}", out.stderr);
    let out = w.steer("retry", &[]);
    out.expect(1);
    assert!(out.stderr.contains("nothing to retry"), "{}", out.stderr);

    // A run that has ended.
    let done = World::new("simple.rollout", "simple.fleet.yaml");
    done.apply().expect(0);
    let out = done.steer("promote", &[]);
    out.expect(1);
    assert!(
        out.stderr.contains("the run has ended (succeeded)"),
        "{}",
        out.stderr
    );
    let out = done.rollc("pause", &[]);
    out.expect(1);
    assert!(out.stderr.contains("the run has ended"), "{}", out.stderr);
    let out = done.steer("retry", &[]);
    out.expect(1);
    assert!(out.stderr.contains("succeeded"), "{}", out.stderr);
    let out = done.steer("resume", &[]);
    out.expect(1);
    assert!(
        out.stderr.contains("the run has ended (succeeded)"),
        "{}",
        out.stderr
    );
    let out = done.rollc("abort", &[]);
    out.expect(1);
    assert!(out.stderr.contains("the run has ended"), "{}", out.stderr);
    let log = done.log();
    // Refusals are journaled, and change nothing.
    assert!(requests(&log).iter().all(|(_, accepted, _)| !accepted));
    assert_eq!(log.count("run_succeeded"), 1);
}

// ---- 10. windows ----------------------------------------------------------------------------

#[test]
fn an_allow_window_holds_starts_until_it_opens() {
    // Saturday 10:00 UTC: nothing starts until Monday 09:00 in Berlin (08:00 UTC).
    let w = World::new("window.rollout", "window.fleet.yaml");
    w.apply_at("2026-11-28T10:00:00Z").expect(0);
    let log = w.log();
    assert_eq!(
        log.stage_time("stage_started", "office hours"),
        ts("2026-11-28T10:00:00Z")
    );
    assert_eq!(
        log.time("cluster_sync_started", "c1"),
        ts("2026-11-30T08:00:00Z")
    );
    assert_eq!(
        log.time("cluster_sync_started", "c3"),
        ts("2026-11-30T08:10:00Z")
    );

    // Friday 16:50 in Berlin: two clusters fit before 17:00; the third waits for Monday.
    let w = World::new("window.rollout", "window.fleet.yaml");
    w.apply_at("2026-11-27T15:50:00Z").expect(0);
    let log = w.log();
    assert_eq!(
        log.time("cluster_sync_started", "c1"),
        ts("2026-11-27T15:50:00Z")
    );
    assert_eq!(
        log.time("cluster_sync_started", "c2"),
        ts("2026-11-27T15:55:00Z")
    );
    assert_eq!(
        log.time("cluster_healthy", "c2"),
        ts("2026-11-27T16:00:00Z")
    );
    assert_eq!(
        log.time("cluster_sync_started", "c3"),
        ts("2026-11-30T08:00:00Z")
    );
}

// ---- 11. a new revision during a run --------------------------------------------------------

#[test]
fn a_new_revision_is_queued_after_the_run() {
    let w = World::new("queue.rollout", "newrev.fleet.yaml");
    w.apply().expect(0);
    let log = w.log();
    let runs = log.runs();
    assert_eq!(runs.len(), 2, "{}", log.dump());
    let first = log.run(&runs[0]);
    let second = log.run(&runs[1]);
    let detected = first.one("revision_detected");
    assert_eq!(detected.time, at("10m"));
    match &detected.event {
        Event::RevisionDetected { revision, policy } => {
            assert_eq!((revision.as_str(), policy.as_str()), ("r3", "queue"));
        }
        _ => unreachable!(),
    }
    // The first run finishes at r2, then the second starts at r3.
    assert_eq!(first.pinned(), "r2");
    assert!(first.syncs().iter().all(|s| s.revision == "r2"));
    assert_eq!(first.one("run_succeeded").time, at("15m"));
    assert_eq!(second.pinned(), "r3");
    assert_eq!(second.one("run_started").time, at("15m"));
    match &second.one("run_started").event {
        Event::RunStarted {
            previous_revision, ..
        } => assert_eq!(previous_revision.as_deref(), Some("r2")),
        _ => unreachable!(),
    }
    assert_eq!(second.count("cluster_sync_started"), 3);
    assert_eq!(second.one("run_succeeded").time, at("30m"));
}

#[test]
fn a_new_revision_restarts_the_run() {
    let w = World::new("restart.rollout", "newrev.fleet.yaml");
    w.apply().expect(0);
    let log = w.log();
    let runs = log.runs();
    assert_eq!(runs.len(), 2, "{}", log.dump());
    let first = log.run(&runs[0]);
    let second = log.run(&runs[1]);
    let aborted = first.one("run_aborted");
    assert_eq!(aborted.time, at("10m"));
    match &aborted.event {
        Event::RunAborted { by } => assert!(by.contains("r3"), "{by}"),
        _ => unreachable!(),
    }
    assert!(first.times("cluster_sync_started", "c3").is_empty());
    assert_eq!(second.pinned(), "r3");
    assert_eq!(second.one("run_started").time, at("10m"));
    assert_eq!(second.started_in("all"), names(&["c1", "c2", "c3"]));
    assert_eq!(second.one("run_succeeded").time, at("25m"));
}

// ---- 12. clusters joining and leaving -------------------------------------------------------

#[test]
fn a_leaver_frees_its_slot_and_a_joiner_is_updated_by_its_stage() {
    let w = World::new("joinleave.rollout", "joinleave.fleet.yaml");
    w.apply().expect(0);
    let log = w.log();
    // a1 leaves while syncing: its slot goes to a3 at once, and it is not a failure.
    assert_eq!(log.time("cluster_left", "a1"), at("10m"));
    assert_eq!(log.time("cluster_sync_started", "a3"), at("10m"));
    assert_eq!(log.count("cluster_failed"), 0);
    // a4 joins while stage "one" still starts clusters: it takes the next free slot.
    // b3 joins while stage "two" waits: that stage takes it.
    let joined: Vec<(Timestamp, String, Option<String>)> = log
        .of_kind("cluster_joined")
        .iter()
        .map(|r| match &r.event {
            Event::ClusterJoined { cluster, stage, .. } => (r.time, cluster.clone(), stage.clone()),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        joined,
        vec![
            (at("12m"), "a4".to_string(), Some("one".to_string())),
            (at("15m"), "b3".to_string(), Some("two".to_string())),
        ]
    );
    assert_eq!(
        log.time("cluster_sync_started", "a4"),
        log.time("cluster_healthy", "a3")
    );
    assert_eq!(log.time("cluster_sync_started", "a4"), at("15m"));
    match &log.of_kind("stage_completed")[0].event {
        Event::StageCompleted {
            stage,
            done,
            failed,
        } => assert_eq!((stage.as_str(), *done, *failed), ("one", 3, 0)),
        _ => unreachable!(),
    }
    assert_eq!(log.stage_time("stage_completed", "one"), at("20m"));
    assert_eq!(log.started_in("two"), names(&["b1", "b2", "b3"]));
    assert_eq!(log.time("cluster_healthy", "b3"), at("35m"));
    assert_eq!(log.one("run_succeeded").time, at("35m"));
}

// ---- 13. manual hold ------------------------------------------------------------------------

#[test]
fn a_hold_waits_for_promote() {
    let w = World::new("hold.rollout", "hold.fleet.yaml");
    let out = w.apply();
    out.expect(3);
    assert!(out.stderr.contains("hold"), "{}", out.stderr);
    let log = w.log();
    assert_eq!(log.planned("held").1, 0);
    let paused = log.one("paused");
    assert_eq!(pause_reason(paused), "hold");
    assert_eq!(paused.time, at("5m"));
    assert!(log.started_in("held").is_empty());
    assert_eq!(w.status()["stages"][1]["status"], "hold");

    w.steer("promote", &[]).expect(0);
    let log = w.log();
    // Released, the stage runs one cluster at a time.
    assert_eq!(log.time("cluster_sync_started", "h1"), at("5m"));
    assert_eq!(log.time("cluster_sync_started", "h2"), at("10m"));
    assert_eq!(log.one("run_succeeded").time, at("15m"));
}

#[test]
fn a_limit_0_hold_takes_nothing_and_leaves_its_clusters_to_the_next_stage() {
    let w = World::new("limit-hold.rollout", "simple.fleet.yaml");
    w.apply().expect(3);
    let log = w.log();
    assert!(log.planned("none").0.is_empty());
    assert_eq!(log.planned("all").0, names(&["c1", "c2", "c3"]));
    assert_eq!(pause_reason(log.one("paused")), "hold");
    w.steer("promote", &[]).expect(0);
    let log = w.log();
    match &log.of_kind("stage_completed")[0].event {
        Event::StageCompleted { stage, done, .. } => {
            assert_eq!((stage.as_str(), *done), ("none", 0))
        }
        _ => unreachable!(),
    }
    // The deny window covers all of Monday 2026-11-23 (UTC): the first start is at midnight.
    assert_eq!(log.stage_time("stage_started", "all"), at("0m"));
    assert_eq!(
        log.time("cluster_sync_started", "c1"),
        ts("2026-11-24T00:00:00Z")
    );
    assert_eq!(log.one("run_succeeded").time, ts("2026-11-24T00:15:00Z"));
}

#[test]
fn promote_full_also_releases_a_later_hold() {
    let w = World::new("hold-after-gate.rollout", "hold.fleet.yaml");
    w.apply().expect(3);
    w.steer("promote", &["--full"]).expect(0);
    let log = w.log();
    assert_eq!(log.count("paused"), 0);
    assert_eq!(log.time("cluster_sync_started", "h1"), at("5m"));
    assert_eq!(log.time("cluster_sync_started", "h2"), at("10m"));
    assert_eq!(log.one("run_succeeded").time, at("15m"));
}

// ---- operators and a running executor -------------------------------------------------------

/// Kills the child on drop (a failed test must not leave an executor running).
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn operator_commands_reach_a_running_executor() {
    let w = World::new("live.rollout", "live.fleet.yaml");
    let child = Command::new(BIN)
        .args(w.apply_args(START))
        .args(["--speed", "600", "--wait"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rollc starts");
    let mut child = Reap(child);
    let pid = child.0.id();
    assert!(
        wait_until(Duration::from_secs(30), || w
            .raw_log()
            .count("cluster_sync_started")
            > 0),
        "the run did not start"
    );

    // A second `apply` of the same run is refused, naming the executor that holds it.
    let second = w.apply();
    second.expect(2);
    assert!(
        second.stderr_flat().contains(&format!("(pid {pid})")),
        "{}",
        second.stderr
    );

    // The executor answers requests: one that does not apply is refused.
    let out = w.steer("promote", &[]);
    out.expect(1);
    assert!(out.stderr.contains("nothing to promote"), "{}", out.stderr);

    // `pause` is picked up within a second.
    let asked = Instant::now();
    let out = w.rollc("pause", &[]);
    out.expect(0);
    let seen = wait_until(
        Duration::from_secs(1).saturating_sub(asked.elapsed()),
        || {
            let log = w.raw_log();
            log.count("paused") == 1
                && requests(&log)
                    .iter()
                    .any(|(command, accepted, _)| command == "pause" && *accepted)
        },
    );
    assert!(
        seen,
        "the pause was not picked up within a second: {}",
        w.raw_log().dump()
    );
    let paused_at = w.raw_log().one("paused").time;
    // While paused, nothing new starts (1.5 s is 15 virtual minutes).
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        matches!(child.0.try_wait(), Ok(None)),
        "apply --wait exited while paused"
    );
    assert!(
        w.raw_log().syncs().iter().all(|s| s.time <= paused_at),
        "a cluster started while paused"
    );

    let out = w.steer("resume", &[]);
    out.expect(0);
    assert!(out.stdout.contains("resumed"), "{}", out.stdout);

    assert!(
        wait_until(Duration::from_secs(120), || matches!(
            child.0.try_wait(),
            Ok(Some(_))
        )),
        "the run did not finish"
    );
    let status = child.0.wait().expect("the child ends");
    assert_eq!(status.code(), Some(0));
    let log = w.log();
    assert_eq!(log.count("run_succeeded"), 1);
    assert_eq!(log.count("cluster_healthy"), 6);
    let reqs: Vec<(String, bool)> = requests(&log).into_iter().map(|(c, a, _)| (c, a)).collect();
    assert_eq!(
        reqs,
        vec![
            ("promote".into(), false),
            ("pause".into(), true),
            ("resume".into(), true)
        ]
    );
    assert!(log.one("resumed").time >= paused_at);
}
