//! The seam between the executor and the fleet it drives: the [`Backend`] trait and the
//! facts a backend reports. The simulated fleet ([`sim`]) implements it; the Argo CD
//! backend (kube-rs) plugs into the same trait.
//!
//! A backend is passive: the executor calls it, and it never decides anything about the
//! rollout. Every call takes the executor's `now` so that a simulated backend runs on the
//! same (possibly virtual) clock as the executor without a clock of its own.

pub mod any;
pub mod argocd;
pub mod sim;

use std::future::Future;

use jiff::Timestamp;

use crate::fleet::Cluster;

/// A request to sync every target Application on one cluster at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRequest {
    /// The cluster's name.
    pub cluster: String,
    /// The revision to sync to (the run's pinned revision, or on rollback the cluster's
    /// previous revision).
    pub revision: String,
    /// The run, for the sync's `info` (who started it and why).
    pub run: String,
    /// The stage, for the sync's `info`.
    pub stage: String,
    /// When the executor decided to sync: status older than this says nothing about this
    /// sync.
    pub at: Timestamp,
}

/// What a backend tells the executor about a cluster it was asked to sync, judged against
/// the latest [`SyncRequest`] for that cluster (status that predates it is never reported).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterStatus {
    /// The sync is running, or the cluster is not yet healthy.
    Progressing,
    /// Every target Application finished the sync with phase `Succeeded`, is `Synced` at
    /// the requested revision and `Healthy`.
    Healthy,
    /// After the sync, health went `Degraded` or `Missing` (also after having been
    /// healthy).
    Degraded {
        /// What the backend saw, for the operator.
        reason: String,
    },
    /// The sync operation failed or errored.
    SyncFailed {
        /// The operation's message.
        reason: String,
    },
}

/// A fact a backend observed.
#[derive(Clone, Debug, PartialEq)]
pub enum Observed {
    /// A synced cluster's status changed.
    Status {
        /// The cluster.
        cluster: String,
        /// When the change happened (at or before the `now` of the poll).
        at: Timestamp,
        /// The new status.
        status: ClusterStatus,
    },
    /// A cluster joined the fleet.
    Joined(Cluster),
    /// A cluster left the fleet.
    Left {
        /// The cluster's name.
        cluster: String,
    },
    /// A cluster's labels changed (the cluster with its new labels).
    Relabeled(Cluster),
    /// The source's head moved to a new revision.
    Revision(String),
}

/// A backend failure the executor reports and, where it can, retries.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend cannot be reached right now; retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    /// The request was refused and retrying will not help (e.g. an operation is already
    /// running on an Application, or the cluster is unknown).
    #[error("{0}")]
    Refused(String),
}

/// A fleet the executor can drive.
///
/// The methods are `async` because a real backend talks to an API server; a simulated one
/// answers at once. Implementations are used through generics, so they need not be
/// object-safe.
pub trait Backend {
    /// The clusters that have target Applications, with their labels, as of `now`.
    fn inventory(
        &mut self,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Cluster>, BackendError>>;

    /// The revision a new run pins: what the source's head resolves to at `now`.
    fn head_revision(
        &mut self,
        now: Timestamp,
    ) -> impl Future<Output = Result<String, BackendError>>;

    /// The revision `cluster` runs at `now`, before this sync (for rollback and `undo`);
    /// `None` when it has never been synced.
    fn deployed_revision(
        &mut self,
        cluster: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<String>, BackendError>>;

    /// Starts a sync. Status about it then arrives through [`Backend::poll`].
    fn sync(&mut self, request: &SyncRequest) -> impl Future<Output = Result<(), BackendError>>;

    /// Takes over a sync an earlier executor started before it stopped: from now on its
    /// status is reported through [`Backend::poll`] as if this process had started it. Never
    /// starts a second sync for the request; but a backend that can tell the sync was never
    /// started (the executor stopped between journaling it and asking for it) starts it now,
    /// since that is the same sync, not a new one.
    fn adopt(&mut self, request: &SyncRequest) -> impl Future<Output = Result<(), BackendError>>;

    /// What changed up to `now`, oldest first; each fact is reported once.
    fn poll(&mut self, now: Timestamp) -> Vec<Observed>;

    /// When the backend will next have something to report by itself (a simulated fleet's
    /// next scheduled change); `None` when it reports only what the outside world does.
    fn next_wakeup(&self) -> Option<Timestamp>;

    /// Resolves when [`Backend::poll`] may have something new from the outside world (a
    /// watch event). A backend without an outside world never resolves.
    fn changed(&mut self) -> impl Future<Output = ()>;

    /// Things the operator should know that are not facts for the executor (e.g. a sync
    /// someone else started that rollc waits for), each returned once.
    fn notices(&mut self) -> Vec<String> {
        Vec::new()
    }
}
