//! `rollc apply`: compile (or read) a strategy and run it on a fleet, or resume the run of
//! it that a killed process left unfinished. Also the part every command that drives a run
//! shares (`resume`, `promote`, `retry`, `undo`): attach to a stored run and drive it.
//!
//! Exit codes: 0 the run succeeded; 1 it failed or was aborted (or the strategy has
//! errors); 3 it waits for an operator (pause, approval gate, hold); 2 usage or I/O errors.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;
use jiff::Timestamp;

use super::plan::{Stop, fleet as read_fleet, strategy};
use super::progress::{Bars, EventsFile, Lines};
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE, report};
use crate::backends::Backend;
use crate::backends::any::AnyBackend;
use crate::backends::argocd::{ArgoCd, ArgoCdOptions};
use crate::backends::sim::Sim;
use crate::ir;
use crate::runtime::clock::Clock;
use crate::runtime::core::Run;
use crate::runtime::drive::{Driver, Outcome};
use crate::source::SourceMap;
use crate::store::{
    AnyLock, AnyStore, KubeAccess, KubeStore, LocalStore, RunLockGuard, RunMeta, RunStore, whoami,
};

/// Exit code: the run waits for an operator.
pub const EXIT_WAITING: u8 = 3;

/// Where run state is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// A local directory (`--state`).
    Local,
    /// ConfigMaps and a Lease per run in the Argo CD namespace (`--namespace`), so
    /// operators can steer a run from any machine.
    Kubernetes,
}

/// How to reach the Kubernetes API of Argo CD's control cluster.
#[derive(Debug, Args, Clone, Default)]
pub struct KubeArgs {
    /// A kubeconfig file (default: as kubectl finds one; in a pod, its service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Argo CD's namespace: its cluster Secrets, and the Kubernetes run store.
    #[arg(long, value_name = "NS", default_value = crate::backends::argocd::DEFAULT_NAMESPACE)]
    pub namespace: String,
}

/// Where runs are kept.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Where run state is kept.
    #[arg(long, value_enum, default_value_t = StoreKind::Local)]
    pub store: StoreKind,
    /// The run-state directory, with `--store local`.
    #[arg(long, value_name = "DIR", default_value = ".rollc")]
    pub state: PathBuf,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// Opens the store the flags name.
pub(super) async fn open_store(args: &StoreArgs) -> Result<AnyStore, RunError> {
    Ok(match args.store {
        StoreKind::Local => AnyStore::Local(LocalStore::new(&args.state)),
        StoreKind::Kubernetes => {
            let client = crate::backends::argocd::client(
                args.kube.kubeconfig.as_deref(),
                args.kube.context.as_deref(),
            )
            .await?;
            AnyStore::Kubernetes(Box::new(KubeStore::new(client, &args.kube.namespace)))
        }
    })
}

/// Flags of every command that drives a run.
#[derive(Debug, Args, Clone)]
pub struct DriveArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Append every run event to FILE as one JSON object per line.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Keep running while the run waits for an operator (an approval gate, a hold or a
    /// pause) and pick up `rollc promote`/`resume` from other terminals, instead of exiting
    /// with code 3.
    #[arg(long)]
    pub wait: bool,
    /// Print only the outcome.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Print a line per cluster event too (the default for fleets of up to 200 clusters).
    #[arg(long)]
    pub verbose: bool,
}

/// Arguments of `rollc apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A `.rollout` file or a compiled IR (`.json`).
    pub file: PathBuf,
    /// The fleet to drive: `argocd` for Argo CD through the Kubernetes API (`--kubeconfig`,
    /// `--context`, `--namespace`), or `sim:FILE` for the simulated fleet of a fleet file.
    #[arg(long, value_name = "FLEET")]
    pub fleet: String,
    /// Which rollout of the file to run (required when it has several).
    #[arg(long, value_name = "NAME")]
    pub rollout: Option<String>,
    /// Pin this revision instead of the fleet's current head.
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,
    /// Run a simulated fleet in real time, N times faster (default: virtual time, which
    /// finishes at once).
    #[arg(long, value_name = "N", value_parser = parse_speed)]
    pub speed: Option<f64>,
    /// Where a simulation's time starts (RFC 3339, e.g. `2026-11-23T09:00:00Z`); default
    /// now. Time windows are judged on this clock.
    #[arg(long, value_name = "TIME")]
    pub start: Option<Timestamp>,
    #[command(flatten)]
    pub drive: DriveArgs,
}

fn parse_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "`{text}` is not a speed; give a positive number such as 60"
        )),
    }
}

/// Problems of driving a run that are not source diagnostics.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub(super) enum RunError {
    /// `--fleet` names no backend rollc has.
    #[error("unknown fleet `{0}`")]
    #[diagnostic(
        code(rollc::apply::fleet),
        help(
            "use `--fleet sim:FILE` to run on the simulated fleet of a fleet file (e.g. `sim:examples/fleet.yaml`)"
        )
    )]
    UnknownFleet(String),
    /// The file has several rollouts and none was chosen, or the chosen one is missing.
    #[error("{message}")]
    #[diagnostic(code(rollc::apply::rollout), help("{help}"))]
    Rollout {
        /// What is wrong.
        message: String,
        /// The names there are.
        help: String,
    },
    /// Argo CD cannot be reached or refuses.
    #[error(transparent)]
    #[diagnostic(transparent)]
    ArgoCd(#[from] crate::backends::argocd::ArgoCdError),
    /// `--speed` or `--start` with a real fleet.
    #[error("`{0}` applies only to a simulated fleet")]
    #[diagnostic(
        code(rollc::apply::sim_only),
        help("Argo CD runs in real time; drop the flag, or use `--fleet sim:FILE`")
    )]
    SimOnly(&'static str),
    /// The fleet file's simulation blocks are wrong.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sim(#[from] crate::backends::sim::SimError),
    /// The backend failed.
    #[error("the fleet could not be read: {0}")]
    #[diagnostic(
        code(rollc::apply::backend),
        help("check the fleet and try again; the run is saved and resumes where it stopped")
    )]
    Backend(#[from] crate::backends::BackendError),
    /// The run store failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The executor stopped on an error.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Drive(#[from] crate::runtime::drive::DriveError),
    /// An unfinished run of this rollout exists with a different strategy.
    #[error(
        "run `{run}` of rollout `{rollout}` is unfinished ({state}) and was started from a different strategy"
    )]
    #[diagnostic(
        code(rollc::apply::unfinished),
        help(
            "`rollc resume` continues it as it was planned; `rollc abort` ends it so that `rollc apply` can start a new run"
        )
    )]
    Unfinished {
        /// The run.
        run: String,
        /// Its rollout.
        rollout: String,
        /// Where it is.
        state: String,
    },
    /// The events file cannot be written.
    #[error("cannot write events to `{path}`")]
    #[diagnostic(
        code(rollc::io),
        help("check that the directory exists and is writable")
    )]
    Events {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A stage's time windows cannot be evaluated (a hand-written IR).
    #[error("the windows of stage `{stage}` are invalid: {message}")]
    #[diagnostic(
        code(rollc::apply::windows),
        help("fix the strategy and compile it again with `rollc compile`")
    )]
    Windows {
        /// The stage.
        stage: String,
        /// What is wrong.
        message: String,
    },
    /// A revision to undo to is not known.
    #[error("{0}")]
    #[diagnostic(
        code(rollc::undo),
        help("give the revision with `rollc undo --to-revision REV`")
    )]
    NoPrevious(String),
}

/// Runs `rollc apply`.
pub(super) fn run(args: &ApplyArgs, stderr_color: bool) -> u8 {
    let mut sources = SourceMap::default();
    let strategy = match strategy(&args.file, &mut sources, stderr_color) {
        Ok(s) => s,
        Err(Stop(code)) => return code,
    };
    let rollout = match pick_rollout(&strategy, args.rollout.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            report(e, stderr_color);
            return EXIT_USAGE;
        }
    };
    let fleet = match fleet_spec(args) {
        Ok(f) => f,
        Err(e) => {
            report(e, stderr_color);
            return EXIT_USAGE;
        }
    };
    // Read a fleet file now so that its problems are reported before anything is stored.
    if let Some(path) = fleet.strip_prefix("sim:")
        && let Err(Stop(code)) = read_fleet(Path::new(path), &mut sources, stderr_color)
    {
        return code;
    }
    let result = block_on(async {
        let store = open_store(&args.drive.store).await?;
        // A run of this rollout left unfinished (a killed process) is resumed, not restarted.
        if let Ok(id) = store.current().await
            && let Ok(meta) = store.meta(&id).await
            && meta.rollout.name == rollout.name
        {
            let run = replay(&store, &meta).await?;
            if !run.phase.is_terminal() {
                if meta.rollout != rollout {
                    return Err(RunError::Unfinished {
                        run: id,
                        rollout: rollout.name.clone(),
                        state: run.phase_name().into(),
                    });
                }
                let lock = store.lock(&id, &whoami()).await?;
                return drive_stored(&store, &meta, lock, run, &args.drive, None).await;
            }
        }
        let now = Timestamp::now();
        let origin = args
            .start
            .unwrap_or_else(|| now.round(jiff::Unit::Second).unwrap_or(now));
        let argocd = fleet == "argocd";
        let meta = RunMeta {
            id: new_run_id(&store, &rollout.name, origin).await?,
            created: now,
            source: args.file.display().to_string(),
            rollout,
            fleet,
            // Argo CD runs on the wall clock.
            speed: if argocd { Some(1.0) } else { args.speed },
            origin,
            wall_origin: now,
            revision: args.revision.clone(),
            follows: None,
            kube: argocd.then(|| KubeAccess::from(&args.drive.store.kube)),
        };
        start_and_drive(&store, meta, &args.drive, origin).await
    });
    finish(result, stderr_color)
}

/// Prints an outcome and gives its exit code.
pub(super) fn finish(result: Result<Outcome, RunError>, stderr_color: bool) -> u8 {
    match result {
        Ok(Outcome::Succeeded) => EXIT_OK,
        Ok(Outcome::Failed { .. } | Outcome::Aborted { .. }) => EXIT_FAILED,
        Ok(Outcome::Waiting { reason }) => {
            eprintln!(
                "waiting for an operator: {reason}\n  `rollc status` shows the run; `rollc promote` or `rollc resume` continues it"
            );
            EXIT_WAITING
        }
        Err(e) => {
            let code = match e {
                RunError::Unfinished { .. } | RunError::Rollout { .. } => EXIT_USAGE,
                _ => EXIT_USAGE,
            };
            report(e, stderr_color);
            code
        }
    }
}

/// Runs `future` to completion on a single-threaded runtime: the executor is one task; gate
/// requests are the only concurrency, and they are I/O-bound.
pub(super) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
        .block_on(future)
}

fn pick_rollout(strategy: &ir::Strategy, name: Option<&str>) -> Result<ir::Rollout, RunError> {
    let names = || {
        strategy
            .rollouts
            .iter()
            .map(|r| format!("`{}`", r.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(name) => strategy
            .rollouts
            .iter()
            .find(|r| r.name == name)
            .cloned()
            .ok_or_else(|| RunError::Rollout {
                message: format!("the strategy has no rollout `{name}`"),
                help: format!("its rollouts: {}", names()),
            }),
        None => match strategy.rollouts.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(RunError::Rollout {
                message: "the strategy has no rollout".into(),
                help: "add a `rollout \"NAME\" { ... }` block".into(),
            }),
            _ => Err(RunError::Rollout {
                message: "the strategy has several rollouts".into(),
                help: format!("choose one with `--rollout NAME`: {}", names()),
            }),
        },
    }
}

fn sim_path(fleet: &str) -> Result<PathBuf, RunError> {
    match fleet.strip_prefix("sim:") {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(RunError::UnknownFleet(fleet.to_string())),
    }
}

/// `--fleet` as stored in the run: `argocd`, or `sim:` with an absolute path.
fn fleet_spec(args: &ApplyArgs) -> Result<String, RunError> {
    if args.fleet == "argocd" {
        if args.speed.is_some() {
            return Err(RunError::SimOnly("--speed"));
        }
        if args.start.is_some() {
            return Err(RunError::SimOnly("--start"));
        }
        return Ok("argocd".into());
    }
    let path = sim_path(&args.fleet)?;
    Ok(format!("sim:{}", absolute(&path).display()))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A new run id: the rollout's name made safe for a file name, and the run's start time.
pub(super) async fn new_run_id(
    store: &AnyStore,
    rollout: &str,
    origin: Timestamp,
) -> Result<String, RunError> {
    let slug: String = rollout
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let slug = if slug.is_empty() {
        "run".to_string()
    } else {
        slug
    };
    let base = format!("{slug}-{}", origin.strftime("%Y%m%dT%H%M%SZ"));
    let mut id = base.clone();
    let mut n = 2;
    while store.exists(&id).await? {
        id = format!("{base}-{n}");
        n += 1;
    }
    Ok(id)
}

/// Replays a stored run's journal.
pub(super) async fn replay(store: &AnyStore, meta: &RunMeta) -> Result<Run, RunError> {
    let mut run = Run::new(meta.id.clone(), meta.rollout.clone());
    for record in store.journal(&meta.id).await? {
        run.apply(&record);
    }
    Ok(run)
}

/// The simulated fleet of a run, on its clock.
async fn sim_for(store: &AnyStore, meta: &RunMeta, sim_origin: Timestamp) -> Result<Sim, RunError> {
    let path = sim_path(&meta.fleet)?;
    let mut sources = SourceMap::default();
    let fleet = read_fleet(&path, &mut sources, false).map_err(|_| {
        RunError::Store(crate::store::StoreError::NoRun {
            message: format!(
                "the fleet file `{}` of run `{}` can no longer be read as a fleet",
                path.display(),
                meta.id
            ),
        })
    })?;
    let mut sim = Sim::new(&fleet, sim_origin)?;
    restore_history(&mut sim, store, meta).await;
    Ok(sim)
}

/// The backend of a run: its simulated fleet, or Argo CD (reached with this command's
/// Kubernetes flags when given, else those the run was started with).
async fn backend_for(
    store: &AnyStore,
    meta: &RunMeta,
    kube: &KubeArgs,
    sim_origin: Timestamp,
) -> Result<AnyBackend, RunError> {
    if meta.fleet != "argocd" {
        let sim = sim_for(store, meta, sim_origin).await?;
        return Ok(AnyBackend::Sim(Box::new(sim)));
    }
    let stored = meta.kube.clone().unwrap_or_default();
    let options = ArgoCdOptions {
        kubeconfig: kube
            .kubeconfig
            .clone()
            .or(stored.kubeconfig.map(PathBuf::from)),
        context: kube.context.clone().or(stored.context),
        namespace: if kube.namespace != crate::backends::argocd::DEFAULT_NAMESPACE {
            kube.namespace.clone()
        } else {
            stored.namespace.unwrap_or_else(|| kube.namespace.clone())
        },
        target: meta.rollout.target.clone(),
    };
    let mut argocd = ArgoCd::connect(&options).await?;
    argocd.check_autosync()?;
    Ok(AnyBackend::ArgoCd(Box::new(argocd)))
}

/// Tells a fresh simulated fleet about the syncs of this run's journal and of the runs
/// before it in the same simulated world, so that what each cluster runs is what those
/// syncs left (the syncs still in flight are adopted by the driver).
async fn restore_history(sim: &mut Sim, store: &AnyStore, meta: &RunMeta) {
    for run in chain(store, meta).await.iter().rev() {
        let Ok(journal) = store.journal(&run.id).await else {
            continue;
        };
        for record in journal {
            if let crate::runtime::event::Event::ClusterSyncStarted {
                stage,
                cluster,
                revision,
                ..
            } = record.event
            {
                // A cluster that is no longer in the fleet is refused; nothing to restore.
                let _ = sim.restore(&crate::backends::SyncRequest {
                    cluster,
                    revision,
                    run: record.run,
                    stage,
                    at: record.time,
                });
            }
        }
    }
}

/// The clock of a stored run: virtual from its last record (or its origin), or the scaled
/// wall clock it started on.
pub(super) fn clock_for(meta: &RunMeta, run: &Run) -> Clock {
    match meta.speed {
        None => Clock::virtual_at(run.last_time.unwrap_or(meta.origin)),
        Some(speed) => Clock::real_since(meta.origin, meta.wall_origin, speed),
    }
}

/// Creates a run, starts it on its fleet and drives it (and the runs a queued revision
/// makes follow it).
pub(super) async fn start_and_drive(
    store: &AnyStore,
    meta: RunMeta,
    drive: &DriveArgs,
    sim_origin: Timestamp,
) -> Result<Outcome, RunError> {
    let mut meta = meta;
    let mut backend = backend_for(store, &meta, &drive.store.kube, sim_origin).await?;
    loop {
        store.create(&meta).await?;
        let lock = store.lock(&meta.id, &whoami()).await?;
        let mut run = Run::new(meta.id.clone(), meta.rollout.clone());
        let clock = clock_for(&meta, &run);
        begin(&mut run, &mut backend, &meta, clock.now()).await?;
        let (outcome, run, back, clock) =
            drive_with(store, &meta, lock, run, backend, clock, drive, &[]).await?;
        backend = back;
        // A new revision seen during the run: `queue` runs it next; `restart` replaces the
        // run with one at the new revision.
        let follow = match (&outcome, &run.pending_revision) {
            (Outcome::Succeeded, Some(rev)) => Some(rev.clone()),
            (Outcome::Aborted { by }, Some(rev)) if by.starts_with("new revision") => {
                Some(rev.clone())
            }
            _ => None,
        };
        let Some(revision) = follow else {
            return Ok(outcome);
        };
        let now = clock.now();
        let id = new_run_id(store, &meta.rollout.name, now).await?;
        meta = meta.follower(id, now, revision);
    }
}

/// Plans a new run on the fleet as it is at `now` and records its start.
async fn begin(
    run: &mut Run,
    sim: &mut AnyBackend,
    meta: &RunMeta,
    now: Timestamp,
) -> Result<(), RunError> {
    let inventory = sim.inventory(now).await?;
    let revision = match &meta.revision {
        Some(r) => r.clone(),
        None => sim.head_revision(now).await?,
    };
    let mut deployed = HashMap::new();
    for c in &inventory {
        deployed.insert(c.name.clone(), sim.deployed_revision(&c.name, now).await?);
    }
    for stage in &meta.rollout.stages {
        if let Err(message) = crate::runtime::window::validate(&stage.windows) {
            return Err(RunError::Windows {
                stage: stage.name.clone(),
                message,
            });
        }
    }
    run.start(
        now,
        &crate::fleet::Fleet::new(inventory),
        &revision,
        &deployed,
        &whoami(),
    );
    Ok(())
}

/// Attaches to a stored run (already locked and replayed) and drives it.
pub(super) async fn drive_stored(
    store: &AnyStore,
    meta: &RunMeta,
    lock: AnyLock,
    mut run: Run,
    drive: &DriveArgs,
    request: Option<(&str, crate::store::IntentKind)>,
) -> Result<Outcome, RunError> {
    let sim_origin = sim_origin_of(store, meta).await;
    let mut sim = backend_for(store, meta, &drive.store.kube, sim_origin).await?;
    let clock = clock_for(meta, &run);
    let now = clock.now();
    if run.phase == crate::runtime::core::Phase::New {
        // Stopped before its start was journaled: start it now.
        begin(&mut run, &mut sim, meta, now).await?;
    } else {
        let inventory = sim.inventory(now).await?;
        run.set_inventory(&inventory);
        for gone in run.missing_from(&inventory) {
            run.observe(&crate::backends::Observed::Left { cluster: gone }, now);
        }
        run.attach(now, &whoami());
    }
    if let Some((id, kind)) = request {
        let _ = run.request(id, kind.command(), &kind.intent(), &whoami(), now);
    }
    let journal = store.journal(&meta.id).await?;
    let (outcome, ..) = drive_with(store, meta, lock, run, sim, clock, drive, &journal).await?;
    Ok(outcome)
}

/// The time zero of a run's simulated world: that of the first run in its chain (runs that
/// follow a queued revision or undo one live in the same simulated world).
pub(super) async fn sim_origin_of(store: &AnyStore, meta: &RunMeta) -> Timestamp {
    chain(store, meta)
        .await
        .last()
        .map_or(meta.origin, |first| first.origin)
}

/// A run and the runs it follows (a queued revision, an undo), newest first. A follower
/// whose metadata is gone ends the chain; a cycle (a store edited by hand) is cut.
async fn chain(store: &AnyStore, meta: &RunMeta) -> Vec<RunMeta> {
    let mut chain = vec![meta.clone()];
    let mut next = meta.follows.clone();
    while let Some(id) = next.take() {
        if chain.len() > 1000 || chain.iter().any(|m| m.id == id) {
            break;
        }
        let Ok(m) = store.meta(&id).await else {
            break;
        };
        next = m.follows.clone();
        chain.push(m);
    }
    chain
}

#[allow(clippy::too_many_arguments)]
async fn drive_with(
    store: &AnyStore,
    meta: &RunMeta,
    lock: AnyLock,
    run: Run,
    sim: AnyBackend,
    clock: Clock,
    drive: &DriveArgs,
    journal: &[crate::runtime::event::Record],
) -> Result<(Outcome, Run, AnyBackend, Clock), RunError> {
    let appender = store.appender(&meta.id, meta.speed.is_some()).await?;
    let clusters = run.clusters.len();
    let mut driver = Driver::new(run, sim, clock, store, lock, appender);
    driver.wait_for_operator(drive.wait);
    if let Some(path) = &drive.events {
        let events =
            EventsFile::open(path, &meta.id, journal).map_err(|source| RunError::Events {
                path: path.display().to_string(),
                source,
            })?;
        driver.observe_with(events);
    }
    if !drive.quiet {
        if std::io::stderr().is_terminal() && std::env::var_os("ROLLC_NO_BARS").is_none() {
            driver.observe_with(Bars::new());
        } else {
            driver.observe_with(Lines::new(
                std::io::stdout(),
                drive.verbose || clusters <= 200,
            ));
        }
    }
    driver.adopt().await?;
    let outcome = driver.drive().await?;
    let (run, sim, clock, lock) = driver.into_parts();
    lock.release().await;
    if drive.quiet {
        match &outcome {
            Outcome::Succeeded => println!("run {} succeeded", run.id),
            Outcome::Failed { reason } => println!("run {} failed: {reason}", run.id),
            Outcome::Aborted { by } => println!("run {} aborted by {by}", run.id),
            Outcome::Waiting { .. } => {}
        }
    }
    Ok((outcome, run, sim, clock))
}
