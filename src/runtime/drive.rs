//! The executor's loop: gathers facts (backend, operators, gates), lets the run decide,
//! journals the decisions, then acts on them, and waits on the clock for what comes next.
//!
//! The order inside one turn is what makes a run crash-safe: records are journaled and
//! flushed *before* the backend is asked to sync or a gate request is sent, so a process
//! killed at any instant leaves a journal that a new executor resumes from without syncing a
//! cluster twice (it hands syncs in flight to the backend with `adopt`) and without skipping
//! a bake or gate (their times are in the journal).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::task::JoinSet;

use super::clock::Clock;
use super::core::{ClusterState, Phase, Probe, Run};
use super::event::{Event, Record};
use crate::backends::{Backend, ClusterStatus, Observed, SyncRequest};
use crate::ir::Gate;
use crate::store::{Answer, JournalAppender, RunLockGuard, RunStore, StoreError};

/// How often operator requests are looked for, in wall time.
pub const INTENT_POLL: Duration = Duration::from_millis(200);
/// The timeout of one Prometheus query.
pub const METRIC_TIMEOUT: Duration = Duration::from_secs(30);

/// How a driven run ended (for now).
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every stage completed.
    Succeeded,
    /// The run failed.
    Failed {
        /// Why.
        reason: String,
    },
    /// An operator aborted it, or a new revision superseded it.
    Aborted {
        /// Who or what.
        by: String,
    },
    /// Nothing more happens until an operator acts (pause, approval gate, hold, or a cluster
    /// that will never finish by itself).
    Waiting {
        /// What it waits for.
        reason: String,
    },
}

/// Something that wants to see every record as it is journaled: the events file, the
/// progress display.
pub trait Observer {
    /// Called with each journaled batch, after it is flushed.
    fn records(&mut self, records: &[Record], run: &Run);

    /// Called with something the backend wants the operator to know that is not a fact of
    /// the run (e.g. a sync someone else started that rollc waits for).
    fn notice(&mut self, _time: Timestamp, _text: &str) {}
}

/// A failure that stops the executor (the run itself stays resumable).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DriveError {
    /// The journal could not be written: nothing was acted on.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] StoreError),
    /// Another executor took the run over (its lease expired while this one was stalled).
    #[error("this executor lost run `{run}`: {reason}")]
    #[diagnostic(
        code(rollc::run::lost),
        help("another executor drives the run now; `rollc status` shows which")
    )]
    Lost {
        /// The run.
        run: String,
        /// What happened.
        reason: String,
    },
}

/// Drives one run until it ends or waits for an operator.
pub struct Driver<'s, B: Backend, S: RunStore> {
    /// The run.
    pub run: Run,
    backend: B,
    clock: Clock,
    store: &'s S,
    lock: S::Lock,
    appender: S::Appender,
    observers: Vec<Box<dyn Observer + 's>>,
    probes: JoinSet<(Probe, Result<Option<f64>, String>)>,
    http: Option<Arc<super::probe::Http>>,
    wait_for_operator: bool,
    last_intents: Option<std::time::Instant>,
}

impl<'s, B: Backend, S: RunStore> Driver<'s, B, S> {
    /// A driver for `run`, which has been started or replayed (and attached), holding its
    /// `lock`.
    pub fn new(
        run: Run,
        backend: B,
        clock: Clock,
        store: &'s S,
        lock: S::Lock,
        appender: S::Appender,
    ) -> Driver<'s, B, S> {
        Driver {
            run,
            backend,
            clock,
            store,
            lock,
            appender,
            observers: Vec::new(),
            probes: JoinSet::new(),
            http: None,
            wait_for_operator: false,
            last_intents: None,
        }
    }

    /// Adds an observer of journaled records.
    pub fn observe_with(&mut self, observer: impl Observer + 's) {
        self.observers.push(Box::new(observer));
    }

    /// Keep running while the run waits for an operator, picking up requests, instead of
    /// returning [`Outcome::Waiting`].
    pub fn wait_for_operator(&mut self, wait: bool) {
        self.wait_for_operator = wait;
    }

    /// The clock (for callers that need the run time).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The run, the backend, the clock and the lock back, when the driving is over.
    pub fn into_parts(self) -> (Run, B, Clock, S::Lock) {
        (self.run, self.backend, self.clock, self.lock)
    }

    /// Journals and acts on whatever the run has decided so far (the records of a start or
    /// an attach).
    pub async fn flush(&mut self) -> Result<(), DriveError> {
        let records = self.run.take_records();
        self.commit(records).await
    }

    /// Hands the syncs that were in flight when the last executor stopped to the backend,
    /// and sends again the gate requests it left unanswered.
    pub async fn adopt(&mut self) -> Result<(), DriveError> {
        for (c, at, revision) in self.run.syncs_in_flight() {
            let cr = &self.run.clusters[c];
            let request = SyncRequest {
                cluster: cr.cluster.name.clone(),
                revision,
                run: self.run.id.clone(),
                stage: cr
                    .stage
                    .map(|s| self.run.stages[s].name.clone())
                    .unwrap_or_default(),
                at,
            };
            if let Err(e) = self.backend.adopt(&request).await {
                let now = self.clock.now();
                self.run.observe(
                    &Observed::Status {
                        cluster: request.cluster.clone(),
                        at: now,
                        status: ClusterStatus::SyncFailed {
                            reason: format!("its sync could not be watched again: {e}"),
                        },
                    },
                    now,
                );
            }
        }
        for probe in self.run.outstanding_probes() {
            self.send_probe(probe);
        }
        self.flush().await
    }

    /// Runs until the run ends or waits for an operator.
    pub async fn drive(&mut self) -> Result<Outcome, DriveError> {
        loop {
            let now = self.clock.now();
            for fact in self.backend.poll(now) {
                self.run.observe(&fact, now);
            }
            for notice in self.backend.notices() {
                for o in &mut self.observers {
                    o.notice(now, &notice);
                }
            }
            if let Some(reason) = self.lock.lost() {
                return Err(DriveError::Lost {
                    run: self.run.id.clone(),
                    reason,
                });
            }
            let answers = self.take_intents(now).await?;
            while let Some(done) = self.probes.try_join_next() {
                self.probe_done(done, now);
            }
            self.run.tick(now);
            let records = self.run.take_records();
            let busy = !records.is_empty();
            self.commit(records).await?;
            for (id, answer) in answers {
                self.store.answer(&self.run.id, &id, &answer).await?;
            }
            if let Some(outcome) = self.ended() {
                return Ok(outcome);
            }
            if busy {
                continue;
            }
            // Nothing more to decide now: wait for the next thing that can happen.
            let wake = [
                self.run.next_wakeup(now),
                self.backend.next_wakeup().filter(|&t| t > now),
            ]
            .into_iter()
            .flatten()
            .min();
            // Whether anything is still in flight is a scan of the fleet: only asked when
            // the run waits for an operator.
            if !self.wait_for_operator
                && self.run.waits_for_operator()
                && self.probes.is_empty()
                && self.run.syncs_in_flight().is_empty()
            {
                return Ok(Outcome::Waiting {
                    reason: self.waiting_reason(),
                });
            }
            if self.clock.is_virtual() {
                if !self.probes.is_empty() {
                    // Virtual time stands still while a real request is out.
                    if let Some(done) = self.probes.join_next().await {
                        self.probe_done(done, self.clock.now());
                    }
                } else if let Some(at) = wake {
                    self.clock.advance_to(at);
                } else if self.wait_for_operator && self.run.waits_for_operator() {
                    tokio::time::sleep(INTENT_POLL).await;
                } else {
                    return Ok(Outcome::Waiting {
                        reason: self.stuck_reason(),
                    });
                }
            } else {
                let sleep = wake
                    .map(|at| self.clock.wall_until(at))
                    .unwrap_or(INTENT_POLL)
                    .min(INTENT_POLL);
                tokio::select! {
                    () = tokio::time::sleep(sleep) => {}
                    () = self.backend.changed() => {}
                    Some(done) = self.probes.join_next(), if !self.probes.is_empty() => {
                        let now = self.clock.now();
                        self.probe_done(done, now);
                    }
                }
            }
        }
    }

    /// Journals `records`, shows them, then acts on them.
    async fn commit(&mut self, records: Vec<Record>) -> Result<(), DriveError> {
        if records.is_empty() {
            return Ok(());
        }
        self.appender.append(&records).await?;
        for o in &mut self.observers {
            o.records(&records, &self.run);
        }
        for record in &records {
            self.act(record).await;
        }
        Ok(())
    }

    async fn act(&mut self, record: &Record) {
        match &record.event {
            Event::ClusterSyncStarted {
                stage,
                cluster,
                revision,
                ..
            } => {
                let request = SyncRequest {
                    cluster: cluster.clone(),
                    revision: revision.clone(),
                    run: self.run.id.clone(),
                    stage: stage.clone(),
                    at: record.time,
                };
                if let Err(e) = self.sync_with_retries(&request).await {
                    // The cluster fails through the normal path (tolerance, policy).
                    let now = self.clock.now();
                    self.run.observe(
                        &Observed::Status {
                            cluster: cluster.clone(),
                            at: now,
                            status: ClusterStatus::SyncFailed {
                                reason: format!("the sync could not be started: {e}"),
                            },
                        },
                        now,
                    );
                }
            }
            Event::GateProbe {
                stage,
                gate,
                attempt,
            } => {
                if let Some(s) = self.run.stages.iter().position(|st| st.name == *stage) {
                    self.send_probe(Probe {
                        stage: s,
                        gate: *gate,
                        attempt: *attempt,
                        at: record.time,
                    });
                }
            }
            _ => {}
        }
    }

    async fn sync_with_retries(
        &mut self,
        request: &SyncRequest,
    ) -> Result<(), crate::backends::BackendError> {
        let mut delay = Duration::from_millis(250);
        for attempt in 1.. {
            match self.backend.sync(request).await {
                Err(crate::backends::BackendError::Unavailable(_)) if attempt < 5 => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                other => return other,
            }
        }
        unreachable!("the loop returns")
    }

    fn send_probe(&mut self, probe: Probe) {
        let Some(gate) = self.run.rollout.stages[probe.stage]
            .gates
            .get(probe.gate)
            .cloned()
        else {
            return;
        };
        let http = match &self.http {
            Some(h) => h.clone(),
            None => match super::probe::Http::new() {
                Ok(h) => {
                    let h = Arc::new(h);
                    self.http = Some(h.clone());
                    h
                }
                Err(e) => {
                    let message = e.to_string();
                    self.probes.spawn(async move { (probe, Err(message)) });
                    return;
                }
            },
        };
        let call = super::probe::WebhookCall {
            run_id: self.run.id.clone(),
            rollout: self.run.rollout.name.clone(),
            stage: self.run.stages[probe.stage].name.clone(),
            revision: self.run.revision.clone(),
            gate: probe.gate,
        };
        self.probes.spawn(async move {
            let result = match &gate {
                Gate::Webhook {
                    url,
                    timeout_seconds,
                    ..
                } => http
                    .webhook(url, &call, Duration::from_secs(*timeout_seconds))
                    .await
                    .map(|()| None)
                    .map_err(|e| e.to_string()),
                Gate::Metric { url, query, .. } => http
                    .metric(url, query, probe.at, METRIC_TIMEOUT)
                    .await
                    .map(Some)
                    .map_err(|e| e.to_string()),
                Gate::Approval { .. } => Ok(None),
            };
            (probe, result)
        });
    }

    fn probe_done(
        &mut self,
        done: Result<(Probe, Result<Option<f64>, String>), tokio::task::JoinError>,
        now: Timestamp,
    ) {
        if let Ok((probe, result)) = done {
            self.run.probe_result(&probe, result, now);
        }
    }

    /// Operator requests waiting in the store, handled now; their answers are written after
    /// the records they cause are journaled.
    async fn take_intents(&mut self, now: Timestamp) -> Result<Vec<(String, Answer)>, DriveError> {
        if self.last_intents.is_some_and(|t| t.elapsed() < INTENT_POLL) {
            return Ok(Vec::new());
        }
        self.last_intents = Some(std::time::Instant::now());
        let mut answers = Vec::new();
        for request in self.store.intents(&self.run.id).await? {
            let answer = if self.run.handled(&request.id) {
                Answer {
                    accepted: true,
                    message: "handled".into(),
                }
            } else {
                Answer::from(self.run.request(
                    &request.id,
                    request.intent.command(),
                    &request.intent.intent(),
                    &request.by,
                    now,
                ))
            };
            answers.push((request.id, answer));
        }
        Ok(answers)
    }

    fn ended(&self) -> Option<Outcome> {
        match &self.run.phase {
            Phase::Succeeded => Some(Outcome::Succeeded),
            Phase::Failed { reason } => Some(Outcome::Failed {
                reason: reason.clone(),
            }),
            Phase::Aborted { by } => Some(Outcome::Aborted { by: by.clone() }),
            _ => None,
        }
    }

    fn waiting_reason(&self) -> String {
        if let Some(p) = &self.run.paused {
            return match &p.detail {
                Some(d) => format!("paused ({}): {d}", p.reason),
                None => format!("paused ({})", p.reason),
            };
        }
        if let Some((s, g)) = self.run.waiting_approval() {
            let reason = match &self.run.rollout.stages[s].gates[g] {
                Gate::Approval {
                    reason: Some(r), ..
                } => format!(": {r}"),
                _ => String::new(),
            };
            return format!(
                "approval gate of stage `{}` waits for `rollc promote`{reason}",
                self.run.stages[s].name
            );
        }
        "waiting for an operator".into()
    }

    fn stuck_reason(&self) -> String {
        let stuck: Vec<&str> = self
            .run
            .clusters
            .iter()
            .filter(|c| {
                matches!(
                    c.state,
                    ClusterState::Syncing { .. } | ClusterState::RollingBack { .. }
                )
            })
            .map(|c| c.cluster.name.as_str())
            .take(5)
            .collect();
        if stuck.is_empty() {
            "nothing more can happen by itself".into()
        } else {
            format!(
                "nothing more can happen by itself: `{}` never became healthy and the stage has no `deadline`; `rollc abort` or fix the cluster and wait",
                stuck.join("`, `")
            )
        }
    }
}
