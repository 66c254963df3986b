//! The operator commands: `status`, `pause`, `resume`, `promote`, `abort`, `retry`,
//! `undo`. They act on the stored run, so they work from any terminal: while an executor
//! drives the run they leave a request it picks up within a second and wait for its
//! answer; when nothing drives it they take the run's lock and act themselves (and
//! `resume`, `promote`, `retry` and `undo` then drive the run, unless `--detach`).

use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use jiff::Timestamp;
use serde::Serialize;

use super::apply::{
    DriveArgs, RunError, StoreArgs, block_on, clock_for, drive_stored, finish, new_run_id,
    open_store, replay, sim_origin_of, start_and_drive,
};
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, report};
use crate::runtime::core::{ClusterState, Run, StageState};
use crate::store::{
    Answer, AnyLock, AnyStore, IntentFile, IntentKind, JournalAppender, RunLockGuard, RunMeta,
    RunStore, StoreError, whoami,
};

/// How long a command waits for a running executor to answer: longer than a Kubernetes
/// lease lasts, so that a request to an executor that died is taken over (the holder's lease
/// runs out first) rather than given up.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// Which run.
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// The run (default: the latest).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `rollc status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub which: RunArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = StatusOutput::Table)]
    pub output: StatusOutput,
}

/// How `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusOutput {
    /// A table for people.
    Table,
    /// JSON for tools.
    Json,
}

/// Arguments of the commands that may drive the run afterwards.
#[derive(Debug, Args)]
pub struct SteerArgs {
    /// The run (default: the latest).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Only record the request; do not drive the run from this process.
    #[arg(long)]
    pub detach: bool,
    #[command(flatten)]
    pub drive: DriveArgs,
}

/// Arguments of `rollc undo`.
#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The run to undo (default: the latest).
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// The revision to return to (default: what most clusters ran before the run).
    #[arg(long, value_name = "REV")]
    pub to_revision: Option<String>,
    #[command(flatten)]
    pub drive: DriveArgs,
}

async fn run_id(store: &AnyStore, run: &Option<String>) -> Result<String, StoreError> {
    match run {
        Some(id) => store.meta(id).await.map(|m| m.id),
        None => store.current().await,
    }
}

/// A run as stored: its metadata and its replayed state.
async fn load(store: &AnyStore, run: &Option<String>) -> Result<(RunMeta, Run), RunError> {
    let id = run_id(store, run).await?;
    let meta = store.meta(&id).await?;
    let run = replay(store, &meta).await?;
    Ok((meta, run))
}

/// `rollc status`.
pub(super) fn status(args: &StatusArgs, stderr_color: bool) -> u8 {
    let result = block_on(async {
        let store = open_store(&args.which.store).await?;
        let (meta, run) = load(&store, &args.which.run).await?;
        let holder = store.holder(&meta.id).await?;
        Ok::<_, RunError>((meta, run, holder))
    });
    let (meta, run, holder) = match result {
        Ok(r) => r,
        Err(e) => {
            report(e, stderr_color);
            return EXIT_USAGE;
        }
    };
    let report = StatusReport::new(&meta, &run, holder);
    let text = match args.output {
        StatusOutput::Json => {
            let mut t = serde_json::to_string_pretty(&report).expect("status serialises");
            t.push('\n');
            t
        }
        StatusOutput::Table => report.table(),
    };
    print!("{text}");
    EXIT_OK
}

/// What `status --output json` prints.
#[derive(Debug, Serialize)]
struct StatusReport {
    run: String,
    rollout: String,
    state: String,
    revision: String,
    previous_revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    paused: Option<PauseReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<String>,
    executor: Option<String>,
    pending_revision: Option<String>,
    started: Option<Timestamp>,
    time: Option<Timestamp>,
    fleet: String,
    stages: Vec<StageReport>,
}

#[derive(Debug, Serialize)]
struct PauseReport {
    reason: String,
    detail: Option<String>,
}

#[derive(Debug, Serialize)]
struct StageReport {
    name: String,
    status: String,
    done: u64,
    total: u64,
    in_flight: u64,
    failed: u64,
    requeued: u64,
    left: u64,
    batch: u64,
    /// The gate or bake in progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<String>,
    failed_clusters: Vec<String>,
}

impl StatusReport {
    fn new(meta: &RunMeta, run: &Run, executor: Option<String>) -> StatusReport {
        let stages = run
            .stages
            .iter()
            .enumerate()
            .map(|(s, st)| {
                let count = |f: fn(&ClusterState) -> bool| {
                    st.clusters
                        .iter()
                        .filter(|&&c| f(&run.clusters[c].state))
                        .count() as u64
                };
                let status = match &st.state {
                    StageState::Waiting => "waiting",
                    StageState::Rolling if st.hold => "hold",
                    StageState::Rolling => "rolling",
                    StageState::Baking { .. } => "baking",
                    StageState::Gates(_) => "gate",
                    StageState::Completed => "completed",
                    StageState::Failed { .. } => "failed",
                };
                let current = match &st.state {
                    StageState::Baking { until } => Some(format!(
                        "bake until {}",
                        until.strftime("%Y-%m-%d %H:%M:%SZ")
                    )),
                    StageState::Gates(g) => run.rollout.stages[s].gates.get(g.index).map(|gate| {
                        let kind = match gate {
                            crate::ir::Gate::Approval { .. } => "approval (rollc promote)",
                            other => crate::runtime::core::gate_kind(other),
                        };
                        format!("gate {} {kind}", g.index + 1)
                    }),
                    StageState::Failed { reason, .. } => Some(reason.clone()),
                    _ => None,
                };
                StageReport {
                    name: st.name.clone(),
                    status: status.into(),
                    done: st.done,
                    total: st.clusters.len() as u64,
                    in_flight: count(|c| {
                        matches!(
                            c,
                            ClusterState::Syncing { .. } | ClusterState::Baking { .. }
                        )
                    }),
                    failed: st.failed,
                    requeued: count(|c| matches!(c, ClusterState::Requeued { .. })),
                    left: st.left,
                    batch: st.batch,
                    current,
                    failed_clusters: st
                        .clusters
                        .iter()
                        .filter(|&&c| matches!(run.clusters[c].state, ClusterState::Failed { .. }))
                        .map(|&c| run.clusters[c].cluster.name.clone())
                        .collect(),
                }
            })
            .collect();
        let outcome = match &run.phase {
            crate::runtime::core::Phase::Failed { reason } => Some(reason.clone()),
            crate::runtime::core::Phase::Aborted { by } => Some(format!("aborted by {by}")),
            _ => None,
        };
        StatusReport {
            run: run.id.clone(),
            rollout: run.rollout.name.clone(),
            state: run.phase_name().into(),
            revision: run.revision.clone(),
            previous_revision: run.previous_revision.clone(),
            paused: run.paused.as_ref().map(|p| PauseReport {
                reason: p.reason.clone(),
                detail: p.detail.clone(),
            }),
            outcome,
            executor,
            pending_revision: run.pending_revision.clone(),
            started: run.started,
            time: run.last_time,
            fleet: meta.fleet.clone(),
            stages,
        }
    }

    fn table(&self) -> String {
        let mut out = String::new();
        let prev = self
            .previous_revision
            .as_ref()
            .map(|p| format!(", from {p}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "run       {}  (rollout `{}`, revision {}{prev})\n",
            self.run, self.rollout, self.revision
        ));
        let mut state = self.state.clone();
        if let Some(p) = &self.paused {
            state.push_str(&format!(" ({})", p.reason));
            if let Some(d) = &p.detail {
                state.push_str(&format!(": {d}"));
            }
        }
        if let Some(o) = &self.outcome {
            state.push_str(&format!(": {o}"));
        }
        out.push_str(&format!("state     {state}\n"));
        out.push_str(&format!(
            "executor  {}\n",
            self.executor.as_deref().unwrap_or("none attached")
        ));
        if let Some(t) = self.time {
            out.push_str(&format!("time      {}\n", t.strftime("%Y-%m-%d %H:%M:%SZ")));
        }
        if let Some(r) = &self.pending_revision {
            out.push_str(&format!("next      revision {r} (seen during the run)\n"));
        }
        out.push('\n');
        let name_w = self
            .stages
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        out.push_str(&format!(
            "{:name_w$}  {:9}  {:>10}  {:>9}  {:>6}  {:>8}  {}\n",
            "STAGE", "STATUS", "DONE/TOTAL", "IN FLIGHT", "FAILED", "REQUEUED", "GATE/BAKE"
        ));
        for s in &self.stages {
            out.push_str(&format!(
                "{:name_w$}  {:9}  {:>10}  {:>9}  {:>6}  {:>8}  {}\n",
                s.name,
                s.status,
                format!("{}/{}", s.done, s.total),
                s.in_flight,
                s.failed,
                s.requeued,
                s.current.as_deref().unwrap_or("-")
            ));
        }
        let failed: Vec<String> = self
            .stages
            .iter()
            .flat_map(|s| s.failed_clusters.iter().cloned())
            .collect();
        if !failed.is_empty() {
            out.push_str(&format!("\nfailed clusters: {}\n", failed.join(", ")));
        }
        out
    }
}

/// A fresh, sortable request id.
fn request_id() -> String {
    let now = Timestamp::now();
    format!(
        "{}-{:09}-{}",
        now.as_second(),
        now.subsec_nanosecond(),
        std::process::id()
    )
}

/// `pause`, `abort`: record the request (through the executor if one runs).
pub(super) fn request_only(kind: IntentKind, which: &RunArgs, stderr_color: bool) -> u8 {
    block_on(async {
        let store = match open_store(&which.store).await {
            Ok(s) => s,
            Err(e) => {
                report(e, stderr_color);
                return EXIT_USAGE;
            }
        };
        match steer(&store, &which.run, kind).await {
            Ok(Steered::Answered(answer)) => print_answer(&answer),
            Ok(Steered::Locked { answer, lock, .. }) => {
                lock.release().await;
                print_answer(&answer)
            }
            Err(e) => {
                report(e, stderr_color);
                EXIT_USAGE
            }
        }
    })
}

fn print_answer(answer: &Answer) -> u8 {
    if answer.accepted {
        println!("{}", answer.message);
        EXIT_OK
    } else {
        eprintln!("refused: {}", answer.message);
        EXIT_FAILED
    }
}

/// What came of steering a run.
enum Steered {
    /// A running executor handled it.
    Answered(Answer),
    /// Nobody was driving the run: this process took the lock and handled it.
    Locked {
        answer: Answer,
        meta: Box<RunMeta>,
        run: Box<Run>,
        lock: AnyLock,
    },
}

/// Hands `kind` to the executor driving the run, or, when none does, takes the run's lock
/// and applies it here.
async fn steer(
    store: &AnyStore,
    run: &Option<String>,
    kind: IntentKind,
) -> Result<Steered, RunError> {
    let id = run_id(store, run).await?;
    let meta = store.meta(&id).await?;
    loop {
        match store.lock(&id, &whoami()).await {
            Ok(lock) => {
                let mut run = replay(store, &meta).await?;
                let now = clock_for(&meta, &run).now();
                let result = run.request(
                    &request_id(),
                    kind.command(),
                    &kind.intent(),
                    &whoami(),
                    now,
                );
                let mut appender = store.appender(&id, true).await?;
                appender.append(&run.take_records()).await?;
                let answer = Answer::from(result);
                return Ok(Steered::Locked {
                    answer,
                    meta: Box::new(meta),
                    run: Box::new(run),
                    lock,
                });
            }
            Err(StoreError::Locked { holder, .. }) => {
                let intent = IntentFile {
                    id: request_id(),
                    intent: kind,
                    by: whoami(),
                    at: Timestamp::now(),
                };
                store.send(&id, &intent).await?;
                let deadline = Instant::now() + ANSWER_TIMEOUT;
                loop {
                    if let Some(answer) = store.answer_of(&id, &intent.id).await? {
                        return Ok(Steered::Answered(answer));
                    }
                    // Past the deadline, withdraw the request; if an executor took it just
                    // now, its answer is moments away.
                    if Instant::now() > deadline && store.withdraw(&id, &intent.id).await? {
                        return Err(RunError::Store(StoreError::NoRun {
                            message: format!(
                                "the executor of run `{id}` ({holder}) did not answer within {} s",
                                ANSWER_TIMEOUT.as_secs()
                            ),
                        }));
                    }
                    if store.holder(&id).await?.is_none() {
                        // The executor stopped; take over unless it answered on the way out.
                        if let Some(answer) = store.answer_of(&id, &intent.id).await? {
                            return Ok(Steered::Answered(answer));
                        }
                        if store.withdraw(&id, &intent.id).await? {
                            break;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// `resume`, `promote`, `retry`: handle the request, then drive the run from here when
/// nothing else does (unless `--detach`).
pub(super) fn request_and_drive(kind: IntentKind, args: &SteerArgs, stderr_color: bool) -> u8 {
    block_on(async {
        let store = match open_store(&args.drive.store).await {
            Ok(s) => s,
            Err(e) => {
                report(e, stderr_color);
                return EXIT_USAGE;
            }
        };
        let steered = match steer(&store, &args.run, kind).await {
            Ok(s) => s,
            Err(e) => {
                report(e, stderr_color);
                return EXIT_USAGE;
            }
        };
        match steered {
            Steered::Answered(answer) => print_answer(&answer),
            Steered::Locked {
                answer,
                meta,
                run,
                lock,
            } => {
                let code = print_answer(&answer);
                if code != EXIT_OK || args.detach || run.phase.is_terminal() {
                    lock.release().await;
                    return code;
                }
                let result = drive_stored(&store, &meta, lock, *run, &args.drive, None).await;
                finish(result, stderr_color)
            }
        }
    })
}

/// `rollc undo`: end the run if it is still going, then run the same rollout back to the
/// revision the fleet ran before it.
pub(super) fn undo(args: &UndoArgs, stderr_color: bool) -> u8 {
    block_on(async {
        let store = match open_store(&args.drive.store).await {
            Ok(s) => s,
            Err(e) => {
                report(e, stderr_color);
                return EXIT_USAGE;
            }
        };
        let (meta, run) = match load(&store, &args.run).await {
            Ok(r) => r,
            Err(e) => {
                report(e, stderr_color);
                return EXIT_USAGE;
            }
        };
        let Some(revision) = args.to_revision.clone().or(run.previous_revision.clone()) else {
            report(
                RunError::NoPrevious(format!(
                    "run `{}` recorded no previous revision to return to",
                    meta.id
                )),
                stderr_color,
            );
            return EXIT_USAGE;
        };
        if !run.phase.is_terminal() {
            match steer(&store, &Some(meta.id.clone()), IntentKind::Abort).await {
                Ok(Steered::Answered(a)) | Ok(Steered::Locked { answer: a, .. }) if a.accepted => {
                    println!("run {} aborted for undo", meta.id);
                }
                Ok(Steered::Answered(a)) | Ok(Steered::Locked { answer: a, .. }) => {
                    eprintln!("refused: {}", a.message);
                    return EXIT_FAILED;
                }
                Err(e) => {
                    report(e, stderr_color);
                    return EXIT_USAGE;
                }
            }
        }
        let now = match meta.speed {
            None => run.last_time.unwrap_or(meta.origin),
            Some(_) => Timestamp::now(),
        };
        // The undo lives in the same simulated world as the run it undoes.
        let sim_origin = sim_origin_of(&store, &meta).await;
        let id = match new_run_id(&store, &format!("{}-undo", meta.rollout.name), now).await {
            Ok(id) => id,
            Err(e) => {
                report(e, stderr_color);
                return EXIT_USAGE;
            }
        };
        let undo = meta.follower(id, now, revision);
        let result = start_and_drive(&store, undo, &args.drive, sim_origin).await;
        finish(result, stderr_color)
    })
}
