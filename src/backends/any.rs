//! One type for whichever backend `--fleet` chose, so the command line is written once; the
//! executor itself stays generic over [`Backend`].

use jiff::Timestamp;

use super::argocd::ArgoCd;
use super::sim::Sim;
use super::{Backend, BackendError, Observed, SyncRequest};
use crate::fleet::Cluster;

/// A backend chosen at run time.
#[derive(Debug)]
pub enum AnyBackend {
    /// The simulated fleet of a fleet file.
    Sim(Box<Sim>),
    /// Argo CD through the Kubernetes API.
    ArgoCd(Box<ArgoCd>),
}

/// Calls the same method on whichever backend this is.
macro_rules! each {
    ($self:ident, $b:ident => $call:expr) => {
        match $self {
            AnyBackend::Sim($b) => $call,
            AnyBackend::ArgoCd($b) => $call,
        }
    };
}

impl Backend for AnyBackend {
    async fn inventory(&mut self, now: Timestamp) -> Result<Vec<Cluster>, BackendError> {
        each!(self, b => b.inventory(now).await)
    }

    async fn head_revision(&mut self, now: Timestamp) -> Result<String, BackendError> {
        each!(self, b => b.head_revision(now).await)
    }

    async fn deployed_revision(
        &mut self,
        cluster: &str,
        now: Timestamp,
    ) -> Result<Option<String>, BackendError> {
        each!(self, b => b.deployed_revision(cluster, now).await)
    }

    async fn sync(&mut self, request: &SyncRequest) -> Result<(), BackendError> {
        each!(self, b => b.sync(request).await)
    }

    async fn adopt(&mut self, request: &SyncRequest) -> Result<(), BackendError> {
        each!(self, b => b.adopt(request).await)
    }

    fn poll(&mut self, now: Timestamp) -> Vec<Observed> {
        each!(self, b => b.poll(now))
    }

    fn next_wakeup(&self) -> Option<Timestamp> {
        each!(self, b => b.next_wakeup())
    }

    async fn changed(&mut self) {
        each!(self, b => b.changed().await)
    }

    fn notices(&mut self) -> Vec<String> {
        each!(self, b => b.notices())
    }
}
