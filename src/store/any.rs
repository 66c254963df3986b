//! One type for whichever store a command was pointed at (`--state DIR` or
//! `--store kubernetes`), so the command line is written once; the executor itself stays
//! generic over [`RunStore`].

use super::kube::{KubeAppender, KubeLock, KubeStore};
use super::local::{Appender, LocalStore, RunLock};
use super::{Answer, IntentFile, JournalAppender, RunLockGuard, RunMeta, RunStore, StoreError};
use crate::runtime::event::Record;

/// A run store chosen at run time.
#[derive(Clone, Debug)]
pub enum AnyStore {
    /// A local directory.
    Local(LocalStore),
    /// ConfigMaps and Leases in a Kubernetes namespace.
    Kubernetes(Box<KubeStore>),
}

/// The lock of an [`AnyStore`].
#[derive(Debug)]
pub enum AnyLock {
    /// A local file lock.
    Local(RunLock),
    /// A Kubernetes Lease.
    Kubernetes(Box<KubeLock>),
}

/// The journal appender of an [`AnyStore`].
#[derive(Debug)]
pub enum AnyAppender {
    /// A local journal file.
    Local(Appender),
    /// Journal ConfigMaps.
    Kubernetes(Box<KubeAppender>),
}

impl RunLockGuard for AnyLock {
    fn lost(&self) -> Option<String> {
        match self {
            AnyLock::Local(l) => l.lost(),
            AnyLock::Kubernetes(l) => l.lost(),
        }
    }

    async fn release(self) {
        match self {
            AnyLock::Local(l) => l.release().await,
            AnyLock::Kubernetes(l) => (*l).release().await,
        }
    }
}

impl JournalAppender for AnyAppender {
    async fn append(&mut self, records: &[Record]) -> Result<(), StoreError> {
        match self {
            AnyAppender::Local(a) => JournalAppender::append(a, records).await,
            AnyAppender::Kubernetes(a) => JournalAppender::append(&mut **a, records).await,
        }
    }
}

/// Calls the same method on whichever store this is.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Local($s) => $call,
            AnyStore::Kubernetes($s) => {
                let $s: &KubeStore = $s;
                $call
            }
        }
    };
}

impl RunStore for AnyStore {
    type Lock = AnyLock;
    type Appender = AnyAppender;

    async fn create(&self, meta: &RunMeta) -> Result<(), StoreError> {
        each!(self, s => RunStore::create(s, meta).await)
    }

    async fn current(&self) -> Result<String, StoreError> {
        each!(self, s => RunStore::current(s).await)
    }

    async fn exists(&self, id: &str) -> Result<bool, StoreError> {
        each!(self, s => RunStore::exists(s, id).await)
    }

    async fn meta(&self, id: &str) -> Result<RunMeta, StoreError> {
        each!(self, s => RunStore::meta(s, id).await)
    }

    async fn lock(&self, id: &str, holder: &str) -> Result<AnyLock, StoreError> {
        match self {
            AnyStore::Local(s) => RunStore::lock(s, id, holder).await.map(AnyLock::Local),
            AnyStore::Kubernetes(s) => RunStore::lock(&**s, id, holder)
                .await
                .map(|l| AnyLock::Kubernetes(Box::new(l))),
        }
    }

    async fn holder(&self, id: &str) -> Result<Option<String>, StoreError> {
        each!(self, s => RunStore::holder(s, id).await)
    }

    async fn journal(&self, id: &str) -> Result<Vec<Record>, StoreError> {
        each!(self, s => RunStore::journal(s, id).await)
    }

    async fn appender(&self, id: &str, durable: bool) -> Result<AnyAppender, StoreError> {
        match self {
            AnyStore::Local(s) => RunStore::appender(s, id, durable)
                .await
                .map(AnyAppender::Local),
            AnyStore::Kubernetes(s) => RunStore::appender(&**s, id, durable)
                .await
                .map(|a| AnyAppender::Kubernetes(Box::new(a))),
        }
    }

    async fn send(&self, run: &str, intent: &IntentFile) -> Result<(), StoreError> {
        each!(self, s => RunStore::send(s, run, intent).await)
    }

    async fn intents(&self, run: &str) -> Result<Vec<IntentFile>, StoreError> {
        each!(self, s => RunStore::intents(s, run).await)
    }

    async fn answer(&self, run: &str, id: &str, answer: &Answer) -> Result<(), StoreError> {
        each!(self, s => RunStore::answer(s, run, id, answer).await)
    }

    async fn answer_of(&self, run: &str, id: &str) -> Result<Option<Answer>, StoreError> {
        each!(self, s => RunStore::answer_of(s, run, id).await)
    }

    async fn withdraw(&self, run: &str, id: &str) -> Result<bool, StoreError> {
        each!(self, s => RunStore::withdraw(s, run, id).await)
    }
}
