//! Run state: where runs are journaled, how one executor holds a run, and how operators
//! reach a run from another process.
//!
//! The embedded store is a local directory (default `.rollc/`, see [`local`]). A run's
//! state is its journal ([`crate::runtime::event::Record`]s, one JSON object per line) plus
//! the strategy and fleet it was started with ([`RunMeta`]); everything else is rebuilt by
//! replaying the journal.

pub mod any;
pub mod kube;
pub mod local;

use std::future::Future;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ir;
use crate::runtime::core::Intent;
use crate::runtime::event::Record;

pub use any::{AnyLock, AnyStore};
pub use kube::KubeStore;
pub use local::{LocalStore, RunLock};

/// A run store problem.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StoreError {
    /// A file of the store could not be read or written.
    #[error("cannot {action} `{path}`")]
    #[diagnostic(
        code(rollc::store::io),
        help("check that the state directory (`--state`) is writable")
    )]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// An object of the store is not what rollc wrote.
    #[error("`{path}` is corrupt: {message}")]
    #[diagnostic(
        code(rollc::store::corrupt),
        help("it was changed by something other than rollc; restore it or start a new run")
    )]
    Corrupt {
        /// The file or object.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Another executor drives the run.
    #[error("run `{run}` is being driven by {holder}")]
    #[diagnostic(
        code(rollc::store::locked),
        help(
            "one executor drives a run at a time; operator commands (`rollc status`, `pause`, `promote`, ...) work while it runs, or stop that process first"
        )
    )]
    Locked {
        /// The run.
        run: String,
        /// Who holds it.
        holder: String,
    },
    /// No run with that id (or no run at all).
    #[error("{message}")]
    #[diagnostic(
        code(rollc::store::no_run),
        help(
            "start one with `rollc apply FILE --fleet sim:FLEET`, or pass `--state DIR` if it lives elsewhere"
        )
    )]
    NoRun {
        /// What was looked for.
        message: String,
    },
    /// The store's API failed (a Kubernetes store).
    #[error("{message}")]
    #[diagnostic(code(rollc::store::api), help("{help}"))]
    Api {
        /// What failed.
        message: String,
        /// What to do.
        help: String,
    },
}

/// Where runs are kept: the seam between the executor (and the operator commands) and a
/// storage backend. Every method is `async` because a store may be remote.
pub trait RunStore {
    /// The lock on one run, held while the value lives.
    type Lock: RunLockGuard;
    /// Appends to one run's journal.
    type Appender: JournalAppender;

    /// Creates a run and makes it the current one.
    fn create(&self, meta: &RunMeta) -> impl Future<Output = Result<(), StoreError>>;
    /// The current run's id.
    fn current(&self) -> impl Future<Output = Result<String, StoreError>>;
    /// Whether a run with this id exists.
    fn exists(&self, id: &str) -> impl Future<Output = Result<bool, StoreError>>;
    /// A run's metadata.
    fn meta(&self, id: &str) -> impl Future<Output = Result<RunMeta, StoreError>>;
    /// Takes the run's lock for `holder`, or says who holds it.
    fn lock(&self, id: &str, holder: &str) -> impl Future<Output = Result<Self::Lock, StoreError>>;
    /// Who holds the run's lock, if anyone.
    fn holder(&self, id: &str) -> impl Future<Output = Result<Option<String>, StoreError>>;
    /// The run's journal, in order.
    fn journal(&self, id: &str) -> impl Future<Output = Result<Vec<Record>, StoreError>>;
    /// An appender for the run's journal; with `durable`, appends reach stable storage.
    fn appender(
        &self,
        id: &str,
        durable: bool,
    ) -> impl Future<Output = Result<Self::Appender, StoreError>>;
    /// Leaves an operator request for the run's executor.
    fn send(&self, run: &str, intent: &IntentFile) -> impl Future<Output = Result<(), StoreError>>;
    /// The requests waiting, oldest first.
    fn intents(&self, run: &str) -> impl Future<Output = Result<Vec<IntentFile>, StoreError>>;
    /// Records what came of a request and removes it.
    fn answer(
        &self,
        run: &str,
        id: &str,
        answer: &Answer,
    ) -> impl Future<Output = Result<(), StoreError>>;
    /// The answer to a request, once there is one.
    fn answer_of(
        &self,
        run: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<Answer>, StoreError>>;
    /// Withdraws a request nobody took (false when an executor took it first).
    fn withdraw(&self, run: &str, id: &str) -> impl Future<Output = Result<bool, StoreError>>;
}

/// A held run lock.
pub trait RunLockGuard: Sized {
    /// Why the lock was lost (a lease another executor took over), if it was.
    fn lost(&self) -> Option<String>;

    /// Gives the run up now (dropping the lock also does, but a remote store may only
    /// notice when the lease runs out).
    fn release(self) -> impl Future<Output = ()> {
        async {}
    }
}

/// Appends journal records.
pub trait JournalAppender {
    /// Appends `records`, all or none, before returning.
    fn append(&mut self, records: &[Record]) -> impl Future<Output = Result<(), StoreError>>;
}

/// What a run was started with: enough for any process to resume it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// The run's id.
    pub id: String,
    /// When it was created (wall time).
    pub created: Timestamp,
    /// The strategy file or IR it came from, as given.
    pub source: String,
    /// The rollout it executes.
    pub rollout: ir::Rollout,
    /// The fleet, as given to `--fleet` (`sim:PATH` with an absolute path).
    pub fleet: String,
    /// Run time scale: `None` for virtual time, else real time this many times faster.
    pub speed: Option<f64>,
    /// Run time at the start.
    pub origin: Timestamp,
    /// Wall time at the start (for a scaled real clock).
    pub wall_origin: Timestamp,
    /// The revision to pin, when one was asked for (`--revision`, `undo`); else the
    /// fleet's head at the start.
    pub revision: Option<String>,
    /// The run this one undoes or follows, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    /// How the run reached Kubernetes, for `--fleet argocd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube: Option<KubeAccess>,
}

impl RunMeta {
    /// A run that follows this one (a queued revision, an undo): the same rollout, fleet and
    /// clock speed, pinned to `revision`, starting at run time `now`.
    pub fn follower(self, id: String, now: Timestamp, revision: String) -> RunMeta {
        RunMeta {
            id,
            created: Timestamp::now(),
            origin: now,
            wall_origin: Timestamp::now(),
            revision: Some(revision),
            follows: Some(self.id.clone()),
            ..self
        }
    }
}

/// How a run reached the Kubernetes API (what `--kubeconfig`, `--context` and
/// `--namespace` said), so that another command can reach it the same way.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KubeAccess {
    /// The kubeconfig file, if one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    /// The context, if one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Argo CD's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl From<&crate::cli::KubeArgs> for KubeAccess {
    fn from(args: &crate::cli::KubeArgs) -> KubeAccess {
        KubeAccess {
            kubeconfig: args.kubeconfig.as_ref().map(|p| {
                std::path::absolute(p)
                    .unwrap_or_else(|_| p.clone())
                    .display()
                    .to_string()
            }),
            context: args.context.clone(),
            namespace: Some(args.namespace.clone()),
        }
    }
}

/// An operator's request, as written to the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntentFile {
    /// A unique id (also the file's name).
    pub id: String,
    /// What is asked.
    pub intent: IntentKind,
    /// Who asked: user and host.
    pub by: String,
    /// When (wall time).
    pub at: Timestamp,
}

/// The operator requests an executor can receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentKind {
    /// `rollc pause`.
    Pause,
    /// `rollc resume`.
    Resume,
    /// `rollc promote`.
    Promote,
    /// `rollc promote --full`.
    PromoteFull,
    /// `rollc abort`.
    Abort,
    /// `rollc retry`.
    Retry,
}

impl IntentKind {
    /// The executor's form of the request.
    pub fn intent(self) -> Intent {
        match self {
            IntentKind::Pause => Intent::Pause,
            IntentKind::Resume => Intent::Resume,
            IntentKind::Promote => Intent::Promote { full: false },
            IntentKind::PromoteFull => Intent::Promote { full: true },
            IntentKind::Abort => Intent::Abort,
            IntentKind::Retry => Intent::Retry,
        }
    }

    /// The command that sends it.
    pub fn command(self) -> &'static str {
        match self {
            IntentKind::Pause => "pause",
            IntentKind::Resume => "resume",
            IntentKind::Promote => "promote",
            IntentKind::PromoteFull => "promote --full",
            IntentKind::Abort => "abort",
            IntentKind::Retry => "retry",
        }
    }
}

/// What came of an intent, written back for the operator who sent it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// Whether it was carried out.
    pub accepted: bool,
    /// What happened, or why not.
    pub message: String,
}

impl From<Result<String, crate::runtime::core::Refusal>> for Answer {
    /// What an executor (or a command acting alone) did with a request.
    fn from(result: Result<String, crate::runtime::core::Refusal>) -> Answer {
        match result {
            Ok(message) => Answer {
                accepted: true,
                message,
            },
            Err(refusal) => Answer {
                accepted: false,
                message: refusal.message,
            },
        }
    }
}

/// Who this process is, for locks and journal records: `user@host (pid N)`.
pub fn whoami() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host} (pid {})", std::process::id())
}
