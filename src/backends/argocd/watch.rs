//! The background tasks that feed the backend: a `kube::runtime::watcher` on the target
//! Applications and one on the cluster Secrets, each forwarding its events into one channel,
//! and the writes started from `poll` (an operation that had to wait for another to finish).
//!
//! The watcher resumes a dropped watch from the last `resourceVersion`, re-lists after
//! `410 Gone` (an `Init` … `InitDone` sequence, after which the store is replaced and every
//! tracked cluster re-judged), and backs off exponentially on errors (5xx, 429, refused
//! connections), which are forwarded as notices.

use futures::StreamExt;
use jiff::Timestamp;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;

use super::app::Application;
use super::error::chain;
use super::secret::ClusterSecret;
use super::write::{WriteError, Written};
use crate::fleet::SECRET_TYPE_LABEL;

/// Something for `poll` to take in.
pub enum Msg {
    /// An Application event.
    App(Box<Event<Application>>),
    /// A cluster Secret event.
    Secret(Box<Event<ClusterSecret>>),
    /// A watch failed (it retries by itself).
    WatchError {
        /// Which watch.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// A deferred write finished.
    Wrote {
        /// The cluster.
        cluster: String,
        /// The Application.
        app: String,
        /// The request it was for (its time).
        at: Timestamp,
        /// What happened.
        result: Result<Written, WriteError>,
    },
}

/// Starts the two watches; they run until aborted.
pub fn spawn(
    client: &kube::Client,
    app_namespace: &str,
    app_labels: Option<String>,
    secret_namespace: &str,
    tx: &UnboundedSender<Msg>,
) -> Vec<AbortHandle> {
    let apps: Api<Application> = Api::namespaced(client.clone(), app_namespace);
    let mut config = watcher::Config::default();
    if let Some(labels) = &app_labels {
        config = config.labels(labels);
    }
    let app_task = forward(
        watcher::watcher(apps, config).default_backoff(),
        tx.clone(),
        "Applications",
        |e| Msg::App(Box::new(e)),
    );
    let secrets: Api<ClusterSecret> = Api::namespaced(client.clone(), secret_namespace);
    let config = watcher::Config::default().labels(&format!("{SECRET_TYPE_LABEL}=cluster"));
    let secret_task = forward(
        watcher::watcher(secrets, config).default_backoff(),
        tx.clone(),
        "cluster Secrets",
        |e| Msg::Secret(Box::new(e)),
    );
    vec![
        tokio::spawn(app_task).abort_handle(),
        tokio::spawn(secret_task).abort_handle(),
    ]
}

async fn forward<K>(
    stream: impl futures::Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static,
    tx: UnboundedSender<Msg>,
    what: &'static str,
    wrap: fn(Event<K>) -> Msg,
) {
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        let msg = match item {
            Ok(event) => wrap(event),
            Err(e) => Msg::WatchError {
                what,
                message: chain(&e),
            },
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}
