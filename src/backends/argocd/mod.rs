//! The Argo CD backend: drives real Applications through the Kubernetes API of Argo CD's
//! control cluster (kube-rs), behind the executor's [`Backend`] seam.
//!
//! - **Inventory**: the clusters that have at least one target Application (owned by the
//!   target ApplicationSet, or matching the target's label selector; of the target's project
//!   if it names one), with the labels of their Argo CD cluster Secret. Of a Secret only its
//!   labels and `data.name` / `data.server` are read, into a type with no field for `config`
//!   ([`secret`]). `inventory` refuses while any target Application is auto-synced by Argo CD
//!   ([`ArgoCd::autosync_apps`], [`ArgoCd::check_autosync`]) or maps to no cluster.
//! - **Status** comes from two watches started by [`ArgoCd::connect`] (Applications,
//!   cluster Secrets), never from polling Applications; [`Backend::poll`] drains them and
//!   judges each tracked cluster ([`judge`]), reporting a cluster's status only when it
//!   changes, plus clusters joining, leaving and being relabelled.
//! - **Syncs** are written the way `argocd app sync` writes them ([`write`]): never over
//!   another operation (rollc waits for it to finish, through the watch, then writes its
//!   own), guarded by `resourceVersion` with a retry on conflict, and recognisable later by
//!   their `info`, so `sync` and `adopt` never start the same request twice.
//! - **Revisions**: [`Backend::head_revision`] is the revision Argo CD last compared every
//!   target Application with (`status.sync.revision`), which must agree; a new revision is
//!   reported when every target Application has been compared with the same new one.

pub mod app;
mod connect;
pub mod error;
pub mod inventory;
pub mod judge;
pub mod secret;
pub mod selector;
mod watch;
pub mod write;

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use kube::runtime::watcher::Event;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::AbortHandle;

use self::app::Application;
pub use self::error::ArgoCdError;
use self::inventory::{Mapping, is_target};
use self::judge::{Verdict, combine, judge};
use self::secret::ClusterSecret;
use self::watch::Msg;
use self::write::{WriteError, Written, ensure_operation};
use super::{Backend, BackendError, ClusterStatus, Observed, SyncRequest};
use crate::fleet::Cluster;
use crate::ir::Target;

/// The namespace Argo CD is installed in, unless told otherwise.
pub const DEFAULT_NAMESPACE: &str = "argocd";

/// How to reach Argo CD, and what the rollout targets.
#[derive(Clone, Debug, PartialEq)]
pub struct ArgoCdOptions {
    /// A kubeconfig file; `None` finds one as kubectl does (`KUBECONFIG`, `~/.kube/config`),
    /// or uses the in-cluster service account when there is none.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; `None` for its current context.
    pub context: Option<String>,
    /// The namespace of Argo CD's cluster Secrets (Argo CD's own namespace).
    pub namespace: String,
    /// The rollout's target: its namespace is where the Applications (and the ApplicationSet)
    /// are.
    pub target: Target,
}

impl ArgoCdOptions {
    /// Options for `target` with the current kubeconfig context and Argo CD in
    /// [`DEFAULT_NAMESPACE`].
    pub fn new(target: Target) -> ArgoCdOptions {
        ArgoCdOptions {
            kubeconfig: None,
            context: None,
            namespace: DEFAULT_NAMESPACE.into(),
            target,
        }
    }
}

/// The Argo CD backend. See the module docs.
pub struct ArgoCd {
    client: kube::Client,
    /// Where Argo CD's cluster Secrets are.
    namespace: String,
    /// Where the Applications are.
    app_namespace: String,
    target: Target,
    /// The target Applications, by name.
    apps: BTreeMap<String, Application>,
    /// The cluster Secrets, by Secret name.
    secrets: BTreeMap<String, ClusterSecret>,
    /// Objects listed since a watch (re-)started, until its `InitDone`.
    apps_relist: Option<BTreeMap<String, Application>>,
    secrets_relist: Option<BTreeMap<String, ClusterSecret>>,
    rx: UnboundedReceiver<Msg>,
    tx: UnboundedSender<Msg>,
    /// Messages taken by `changed` and not yet handled.
    buffered: VecDeque<Msg>,
    tasks: Vec<AbortHandle>,
    /// Something changed since the last judgement.
    dirty: bool,
    /// The target Applications mapped to clusters, while the stores are unchanged.
    mapping: Option<Mapping>,
    /// The unmappable Applications last told about.
    unmapped: Vec<String>,
    /// The clusters as last reported (after the first `inventory`).
    reported: Option<BTreeMap<String, Cluster>>,
    /// The revision every target Application was last seen compared with.
    head: Option<String>,
    tracked: BTreeMap<String, Tracked>,
    notices: Vec<String>,
    last_watch_error: Option<String>,
}

/// A cluster rollc synced and watches.
struct Tracked {
    request: SyncRequest,
    /// Its Applications at the time of the sync, and where rollc's write for each stands.
    apps: BTreeMap<String, AppWrite>,
    /// The status last reported.
    last: ClusterStatus,
}

/// Where rollc's operation on one Application stands.
#[derive(Clone, Debug, PartialEq)]
enum AppWrite {
    /// Written (or found already there).
    Done,
    /// Another operation runs; ours is written once the watch shows it finished. Who started
    /// it, and the Application's `resourceVersion` when it was seen (an older view of the
    /// Application from the watch says nothing).
    Waiting { by: String, seen: Option<String> },
    /// A deferred write is under way.
    Writing,
    /// The write failed for good.
    Failed(String),
}

impl Drop for ArgoCd {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A Kubernetes client found as kubectl finds one (an explicit kubeconfig, `KUBECONFIG`,
/// `~/.kube/config`, a context, or the in-cluster service account), for the other users of
/// the control cluster (the Kubernetes run store).
pub async fn client(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> Result<kube::Client, ArgoCdError> {
    let config = connect::load_config(kubeconfig, context).await?;
    kube::Client::try_from(config).map_err(|e| ArgoCdError::Kubeconfig {
        message: error::chain(&e),
        help: "check the kubeconfig's certificates and keys with `kubectl config view --raw`"
            .into(),
    })
}

impl ArgoCd {
    /// Connects to Argo CD's control cluster, checks that the target exists and that rollc
    /// may do what it needs to, lists the target Applications and cluster Secrets, and starts
    /// watching both.
    ///
    /// Requests made: GET the ApplicationSet (an `appset` target); LIST Applications in the
    /// target namespace (with the target's label selector where it translates); LIST Secrets
    /// labelled `argocd.argoproj.io/secret-type=cluster` in `options.namespace`; CREATE
    /// SelfSubjectAccessReviews for watch/get/patch Applications and watch Secrets; then the
    /// two watches (LIST + WATCH each).
    pub async fn connect(options: &ArgoCdOptions) -> Result<ArgoCd, ArgoCdError> {
        let config =
            connect::load_config(options.kubeconfig.as_deref(), options.context.as_deref()).await?;
        let server = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(|e| ArgoCdError::Kubeconfig {
            message: error::chain(&e),
            help: "check the kubeconfig's certificates and keys with `kubectl config view --raw`"
                .into(),
        })?;
        let (app_namespace, labels) = match &options.target {
            Target::AppSet {
                name, namespace, ..
            } => {
                connect::check_appset(&client, &server, namespace, name).await?;
                (namespace.clone(), None)
            }
            Target::Apps {
                selector,
                namespace,
                ..
            } => (namespace.clone(), selector::label_selector(selector)),
        };
        let listed =
            connect::list_apps(&client, &server, &app_namespace, labels.as_deref()).await?;
        let secrets = connect::list_secrets(&client, &server, &options.namespace).await?;
        connect::check_access(&client, &app_namespace, &options.namespace).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let tasks = watch::spawn(&client, &app_namespace, labels, &options.namespace, &tx);
        let mut backend = ArgoCd {
            client,
            namespace: options.namespace.clone(),
            app_namespace,
            target: options.target.clone(),
            apps: BTreeMap::new(),
            secrets: secrets
                .into_iter()
                .map(|s| (s.secret_name().to_string(), s))
                .collect(),
            apps_relist: None,
            secrets_relist: None,
            rx,
            tx,
            buffered: VecDeque::new(),
            tasks,
            dirty: true,
            mapping: None,
            unmapped: Vec::new(),
            reported: None,
            head: None,
            tracked: BTreeMap::new(),
            notices: Vec::new(),
            last_watch_error: None,
        };
        for app in listed {
            backend.put_app(app);
        }
        Ok(backend)
    }

    /// The clusters with target Applications, as they are now, for a preview (`rollc plan
    /// --fleet argocd`): unlike [`Backend::inventory`] it does not refuse auto-synced or
    /// unmappable Applications (the caller warns about them).
    pub fn clusters(&mut self) -> Vec<Cluster> {
        self.drain();
        self.mapping().clusters.values().cloned().collect()
    }

    /// The target Applications Argo CD auto-syncs (`spec.syncPolicy.automated` without
    /// `enabled: false`), by name. `inventory` refuses while there are any.
    pub fn autosync_apps(&mut self) -> Vec<String> {
        self.drain();
        self.apps
            .values()
            .filter(|a| a.autosync())
            .map(|a| a.name().to_string())
            .collect()
    }

    /// [`ArgoCdError::Autosync`] (with both fixes as help) when target Applications are
    /// auto-synced: for the CLI to show as a diagnostic before starting a run.
    pub fn check_autosync(&mut self) -> Result<(), ArgoCdError> {
        let apps = self.autosync_apps();
        if apps.is_empty() {
            Ok(())
        } else {
            Err(ArgoCdError::Autosync { apps })
        }
    }

    /// Things the operator should know that are not facts for the executor (an operation
    /// someone else started that rollc waits for, a watch that keeps failing, an Application
    /// that maps to no cluster), oldest first; each is returned once.
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// The target Applications of `cluster`, by name (empty for an unknown cluster).
    pub fn cluster_apps(&mut self, cluster: &str) -> Vec<String> {
        self.drain();
        self.mapping()
            .apps
            .get(cluster)
            .cloned()
            .unwrap_or_default()
    }

    /// Adds or replaces an Application in the store (or drops it if it is not a target).
    fn put_app(&mut self, app: Application) {
        self.mapping = None;
        let name = app.name().to_string();
        if is_target(&self.target, &app) {
            self.apps.insert(name, app);
        } else {
            self.apps.remove(&name);
        }
    }

    /// The target Applications mapped to clusters (computed again after a change).
    fn mapping(&mut self) -> &Mapping {
        self.mapping
            .get_or_insert_with(|| inventory::map(self.apps.values(), self.secrets.values()))
    }

    /// Takes in every message waiting, without judging.
    fn drain(&mut self) {
        while let Some(msg) = self.buffered.pop_front() {
            self.take(msg);
        }
        while let Ok(msg) = self.rx.try_recv() {
            self.take(msg);
        }
    }

    fn take(&mut self, msg: Msg) {
        match msg {
            Msg::App(event) => {
                self.dirty = true;
                self.mapping = None;
                self.last_watch_error = None;
                match *event {
                    Event::Apply(app) => self.put_app(app),
                    Event::Delete(app) => {
                        self.apps.remove(app.name());
                    }
                    Event::Init => self.apps_relist = Some(BTreeMap::new()),
                    Event::InitApply(app) => {
                        if is_target(&self.target, &app) {
                            self.apps_relist
                                .get_or_insert_default()
                                .insert(app.name().to_string(), app);
                        }
                    }
                    Event::InitDone => {
                        if let Some(relist) = self.apps_relist.take() {
                            self.apps = relist;
                        }
                    }
                }
            }
            Msg::Secret(event) => {
                self.dirty = true;
                self.mapping = None;
                match *event {
                    Event::Apply(s) => {
                        self.secrets.insert(s.secret_name().to_string(), s);
                    }
                    Event::Delete(s) => {
                        self.secrets.remove(s.secret_name());
                    }
                    Event::Init => self.secrets_relist = Some(BTreeMap::new()),
                    Event::InitApply(s) => {
                        self.secrets_relist
                            .get_or_insert_default()
                            .insert(s.secret_name().to_string(), s);
                    }
                    Event::InitDone => {
                        if let Some(relist) = self.secrets_relist.take() {
                            self.secrets = relist;
                        }
                    }
                }
            }
            Msg::WatchError { what, message } => {
                let notice = format!("watching {what} failed (retrying): {message}");
                if self.last_watch_error.as_ref() != Some(&notice) {
                    self.notices.push(notice.clone());
                    self.last_watch_error = Some(notice);
                }
            }
            Msg::Wrote {
                cluster,
                app,
                at,
                result,
            } => {
                self.dirty = true;
                let Some(tracked) = self
                    .tracked
                    .get_mut(&cluster)
                    .filter(|t| t.request.at == at)
                else {
                    return;
                };
                let state = match result {
                    Ok(Written::Now) | Ok(Written::Already) => AppWrite::Done,
                    Ok(Written::Busy { by, seen }) => AppWrite::Waiting { by, seen },
                    Err(WriteError::Refused(m)) => AppWrite::Failed(m),
                    Err(WriteError::Unavailable(f)) => AppWrite::Failed(format!(
                        "rollc's sync could not be written after the operation before it finished: {}",
                        f.message
                    )),
                };
                tracked.apps.insert(app, state);
            }
        }
    }

    /// Starts (or takes over) the sync of `request`: writes rollc's operation on each of the
    /// cluster's Applications where it is not there yet, and tracks the cluster.
    async fn start(&mut self, request: &SyncRequest) -> Result<(), BackendError> {
        self.drain();
        let apps = self
            .mapping()
            .apps
            .get(&request.cluster)
            .cloned()
            .ok_or_else(|| {
                BackendError::Refused(format!(
                    "cluster `{}` has no target Application (any more)",
                    request.cluster
                ))
            })?;
        let mut states = BTreeMap::new();
        for app in &apps {
            let state = match ensure_operation(&self.client, &self.app_namespace, app, request)
                .await
            {
                Ok(Written::Now) | Ok(Written::Already) => AppWrite::Done,
                Ok(Written::Busy { by, seen }) => {
                    self.notices.push(format!(
                        "Application `{app}` (cluster `{}`) has an operation started by {by}; rollc leaves it alone and starts its sync when it has finished",
                        request.cluster
                    ));
                    AppWrite::Waiting { by, seen }
                }
                Err(WriteError::Refused(m)) => {
                    self.tracked.remove(&request.cluster);
                    return Err(BackendError::Refused(m));
                }
                Err(WriteError::Unavailable(f)) => {
                    self.tracked.remove(&request.cluster);
                    // Honour Retry-After before the executor's next attempt.
                    if let Some(wait) = f.retry_after {
                        tokio::time::sleep(wait.min(Duration::from_secs(30))).await;
                    }
                    return Err(f.into_backend("sync", app, &self.app_namespace));
                }
            };
            states.insert(app.clone(), state);
        }
        self.tracked.insert(
            request.cluster.clone(),
            Tracked {
                request: request.clone(),
                apps: states,
                last: ClusterStatus::Progressing,
            },
        );
        self.dirty = true;
        Ok(())
    }

    /// Writes rollc's operation on `app` in the background (it waited for another one).
    fn spawn_write(&mut self, cluster: &str, app: &str, request: &SyncRequest) {
        let client = self.client.clone();
        let namespace = self.app_namespace.clone();
        let tx = self.tx.clone();
        let (cluster, app, request) = (cluster.to_string(), app.to_string(), request.clone());
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(500);
            let mut result = ensure_operation(&client, &namespace, &app, &request).await;
            for _ in 0..8 {
                let Err(WriteError::Unavailable(f)) = &result else {
                    break;
                };
                tokio::time::sleep(f.retry_after.unwrap_or(delay).min(Duration::from_secs(30)))
                    .await;
                delay = (delay * 2).min(Duration::from_secs(30));
                result = ensure_operation(&client, &namespace, &app, &request).await;
            }
            let _ = tx.send(Msg::Wrote {
                cluster,
                app,
                at: request.at,
                result,
            });
        });
    }

    /// The revision every target Application was last compared with, if they agree.
    fn agreed_revision(&self) -> Option<String> {
        let mut revisions = self.apps.values().map(Application::compared_revision);
        let first = revisions.next()??;
        revisions
            .all(|r| r == Some(first))
            .then(|| first.to_string())
    }

    /// Judges every tracked cluster and diffs the inventory: the facts since the last time.
    fn judge_all(&mut self, now: Timestamp) -> Vec<Observed> {
        let mut facts = Vec::new();
        self.mapping();
        let mapping = self.mapping.take().unwrap_or_default();
        for why in &mapping.unmapped {
            if !self.unmapped.contains(why) {
                self.notices
                    .push(format!("{why}: it is not part of the rollout"));
            }
        }
        self.unmapped.clone_from(&mapping.unmapped);
        if let Some(reported) = &mut self.reported {
            for name in reported.keys().cloned().collect::<Vec<_>>() {
                if !mapping.clusters.contains_key(&name) {
                    reported.remove(&name);
                    facts.push(Observed::Left { cluster: name });
                }
            }
            for (name, cluster) in &mapping.clusters {
                match reported.get(name) {
                    None => facts.push(Observed::Joined(cluster.clone())),
                    Some(old) if old != cluster => facts.push(Observed::Relabeled(cluster.clone())),
                    Some(_) => continue,
                }
                reported.insert(name.clone(), cluster.clone());
            }
        }
        let mut writes = Vec::new();
        for (cluster, tracked) in &mut self.tracked {
            let mut verdicts = Vec::new();
            for (name, state) in &mut tracked.apps {
                let Some(app) = self.apps.get(name) else {
                    continue; // deleted: it no longer counts
                };
                let verdict = match state {
                    AppWrite::Failed(m) => Verdict::SyncFailed(m.clone()),
                    AppWrite::Waiting { seen, .. }
                        if app.operation.is_none()
                            && newer(app.metadata.resource_version.as_deref(), seen.as_deref()) =>
                    {
                        *state = AppWrite::Writing;
                        writes.push((cluster.clone(), name.clone(), tracked.request.clone()));
                        judge(app, &tracked.request)
                    }
                    _ => judge(app, &tracked.request),
                };
                verdicts.push((name.as_str(), verdict));
            }
            let status = combine(verdicts);
            if status != tracked.last {
                tracked.last = status.clone();
                facts.push(Observed::Status {
                    cluster: cluster.clone(),
                    at: now,
                    status,
                });
            }
        }
        for (cluster, app, request) in writes {
            self.spawn_write(&cluster, &app, &request);
        }
        if self.reported.is_some()
            && let Some(head) = self.agreed_revision()
            && self.head.as_ref() != Some(&head)
        {
            self.head = Some(head.clone());
            facts.push(Observed::Revision(head));
        }
        self.mapping = Some(mapping);
        facts
    }
}

/// Whether resource version `current` is newer than `seen`: compared as numbers when both
/// are (as etcd's are), else as "different".
fn newer(current: Option<&str>, seen: Option<&str>) -> bool {
    match (current, seen) {
        (Some(c), Some(s)) => match (c.parse::<u64>(), s.parse::<u64>()) {
            (Ok(c), Ok(s)) => c > s,
            _ => c != s,
        },
        _ => true,
    }
}

fn list(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(5).map(|n| format!("`{n}`")).collect();
    match names.len().saturating_sub(5) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

impl Backend for ArgoCd {
    fn notices(&mut self) -> Vec<String> {
        self.take_notices()
    }

    /// The clusters with target Applications. Refuses while a target Application is
    /// auto-synced or maps to no cluster, or when there is no target Application at all.
    async fn inventory(&mut self, _now: Timestamp) -> Result<Vec<Cluster>, BackendError> {
        self.drain();
        self.check_autosync().map_err(BackendError::from)?;
        let mapping = self.mapping().clone();
        if !mapping.unmapped.is_empty() {
            return Err(BackendError::Refused(format!(
                "{}; fix the Applications' `spec.destination` or add the missing Argo CD cluster Secret",
                mapping.unmapped.join("; ")
            )));
        }
        if mapping.clusters.is_empty() {
            return Err(BackendError::Refused(match &self.target {
                Target::AppSet {
                    name,
                    namespace,
                    project,
                } => format!(
                    "ApplicationSet `{name}` owns no Application in namespace `{namespace}`{}; `kubectl get applications -n {namespace}` lists them",
                    project
                        .as_ref()
                        .map(|p| format!(" of project `{p}`"))
                        .unwrap_or_default()
                ),
                Target::Apps { namespace, .. } => format!(
                    "no Application in namespace `{namespace}` matches the rollout's target; `kubectl get applications -n {namespace} --show-labels` lists them"
                ),
            }));
        }
        self.head = self.agreed_revision();
        self.unmapped.clone_from(&mapping.unmapped);
        self.reported = Some(mapping.clusters.clone());
        Ok(mapping.clusters.into_values().collect())
    }

    /// The revision Argo CD last compared every target Application with
    /// (`status.sync.revision`: the resolved commit of `targetRevision`, which is the head
    /// of the source for a branch or `HEAD`). Every target Application must agree; otherwise
    /// (some have not been refreshed since a push, or they track different revisions) the
    /// run must be given one with `--revision`.
    async fn head_revision(&mut self, _now: Timestamp) -> Result<String, BackendError> {
        self.drain();
        let mut by_revision: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut unknown = Vec::new();
        for app in self.apps.values() {
            match app.compared_revision() {
                Some(r) => by_revision
                    .entry(r)
                    .or_default()
                    .push(app.name().to_string()),
                None => unknown.push(app.name().to_string()),
            }
        }
        if !unknown.is_empty() {
            return Err(BackendError::Refused(format!(
                "Argo CD has not compared {} with a revision yet (no `status.sync.revision`), so the revision to roll out is unknown: pass `--revision`",
                list(&unknown)
            )));
        }
        match by_revision.len() {
            0 => Err(BackendError::Refused(
                "there is no target Application to take the revision from: pass `--revision`"
                    .into(),
            )),
            1 => Ok(by_revision
                .into_keys()
                .next()
                .unwrap_or_default()
                .to_string()),
            _ => {
                let groups: Vec<String> = by_revision
                    .iter()
                    .map(|(r, apps)| format!("{r} ({})", list(apps)))
                    .collect();
                Err(BackendError::Refused(format!(
                    "the target Applications were compared with different revisions: {}; wait for Argo CD to refresh them (or refresh them: `argocd app get --refresh`), or pass `--revision`",
                    groups.join("; ")
                )))
            }
        }
    }

    /// What the cluster's Applications run: `status.sync.revision` when `Synced`, else the
    /// last `status.history` entry; the most common among the cluster's Applications (ties
    /// to the smallest), `None` when none was ever synced.
    async fn deployed_revision(
        &mut self,
        cluster: &str,
        _now: Timestamp,
    ) -> Result<Option<String>, BackendError> {
        self.drain();
        let names = self
            .mapping()
            .apps
            .get(cluster)
            .cloned()
            .unwrap_or_default();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for app in names.iter().filter_map(|n| self.apps.get(n)) {
            let synced = (app.status.sync.status.as_deref() == Some("Synced"))
                .then(|| app.compared_revision())
                .flatten();
            let last = || {
                app.status
                    .history
                    .iter()
                    .flatten()
                    .next_back()
                    .and_then(|h| h.revision.as_deref())
            };
            if let Some(r) = synced.or_else(last).filter(|r| !r.is_empty()) {
                *counts.entry(r).or_default() += 1;
            }
        }
        Ok(counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
            .map(|(r, _)| r.to_string()))
    }

    /// Writes rollc's operation on every Application of the cluster (see [`write`]); an
    /// Application with another operation gets it once that one has finished.
    async fn sync(&mut self, request: &SyncRequest) -> Result<(), BackendError> {
        self.start(request).await
    }

    /// Tracks the sync of `request` again after a restart. The operation is recognised by its
    /// `info`: running or finished, it is watched as if just started; an Application where it
    /// was never written (the executor stopped between journaling the sync and writing it)
    /// gets it now, which is the same sync, not a second one.
    async fn adopt(&mut self, request: &SyncRequest) -> Result<(), BackendError> {
        self.start(request).await
    }

    fn poll(&mut self, now: Timestamp) -> Vec<Observed> {
        self.drain();
        if !self.dirty {
            return Vec::new();
        }
        self.dirty = false;
        self.judge_all(now)
    }

    fn next_wakeup(&self) -> Option<Timestamp> {
        None
    }

    async fn changed(&mut self) {
        if !self.buffered.is_empty() {
            return;
        }
        match self.rx.recv().await {
            Some(msg) => self.buffered.push_back(msg),
            // Never: `self.tx` keeps the channel open.
            None => std::future::pending().await,
        }
    }
}

impl std::fmt::Debug for ArgoCd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArgoCd")
            .field("namespace", &self.namespace)
            .field("app_namespace", &self.app_namespace)
            .field("apps", &self.apps.len())
            .field("secrets", &self.secrets.len())
            .field("tracked", &self.tracked.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
