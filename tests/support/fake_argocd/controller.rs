//! The Argo CD controllers, emulated: the application controller runs the sync an
//! Application's `operation` asks for (status `operationState`, `sync`, `health`,
//! `history`, then `operation` cleared, as `controller/appcontroller.go`
//! `setOperationState` does), and the ApplicationSet controller keeps one Application per
//! cluster Secret as the simulated fleet changes.
//!
//! Timing and outcomes come from rollc's simulator ([`rollc::backends::sim::Sim`]) on the
//! fleet file: a sync requested at sim time `T` on a cluster whose sync takes `S` runs the
//! operation (`Running`, health `Progressing`) from `T`. Its operation completes at `T+S/2`
//! (`Succeeded`, the revision deployed, `Synced`, health still `Progressing`), and health
//! settles at `T+S`: `healthy` → `Healthy`, `degraded` → `Degraded`, `never-healthy` →
//! stays `Progressing`, `flap` → `Healthy`, then `Degraded` and `Healthy` again. A
//! `sync-failed` cluster ends the operation at `T+S` with phase `Failed`, the old revision
//! still deployed and health back to what it was. A sync to a revision in the
//! Application's history (a rollback) always ends healthy. Sim time runs `speed` times
//! faster than real time from the moment the fake started.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use rollc::backends::sim::Sim;
use rollc::backends::{Backend, ClusterStatus, Observed, SyncRequest};
use rollc::fleet::Cluster;

use super::kinds::Kind;
use super::objects::{self, Destination};
use super::store::{Store, WriteOptions, timestamp};

/// Runs a simulator call, which never waits, to completion.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the simulator answered asynchronously"),
    }
}

/// Which clusters a per-cluster option applies to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ClusterSet {
    #[default]
    None,
    All,
    Named(Vec<String>),
}

impl ClusterSet {
    pub fn contains(&self, cluster: &str) -> bool {
        match self {
            ClusterSet::None => false,
            ClusterSet::All => true,
            ClusterSet::Named(names) => names.iter().any(|n| n == cluster),
        }
    }

    /// `all`, `none`, or a comma-separated list of cluster names.
    pub fn parse(text: &str) -> ClusterSet {
        match text.trim() {
            "" | "none" => ClusterSet::None,
            "all" | "*" => ClusterSet::All,
            list => ClusterSet::Named(
                list.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            ),
        }
    }
}

/// What the emulated controllers are configured with.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    pub namespace: String,
    pub appset: String,
    pub target_revision: String,
    pub speed: f64,
    pub pickup_delay: Duration,
    pub autosync: ClusterSet,
    pub destination_name: ClusterSet,
    pub trailing_slash: ClusterSet,
    pub synced_at_deployed: bool,
    pub revision_history_limit: usize,
}

#[derive(Clone, Debug)]
enum Step {
    /// The operation ends.
    Finish { succeeded: bool, message: String },
    /// Health changes.
    Health(String, String),
}

#[derive(Clone, Debug)]
struct AppSync {
    revision: String,
    steps: VecDeque<(Instant, Step)>,
    /// Health before the sync, restored when it fails.
    health_before: Value,
}

type AppKey = (String, String);

pub struct Controller {
    pub config: ControllerConfig,
    sim: Sim,
    origin: Timestamp,
    start: Instant,
    head: String,
    pub paused: bool,
    appset_uid: String,
    /// The clusters in the fleet now, by name.
    clusters: BTreeMap<String, Cluster>,
    /// Operations seen and not yet picked up, with when to pick them up.
    pending: BTreeMap<AppKey, Instant>,
    /// Syncs in progress (and health changes still to come after them).
    syncs: BTreeMap<AppKey, AppSync>,
}

impl Controller {
    /// Builds the controllers and seeds `store` with the fleet's Secrets, the
    /// ApplicationSet and its Applications, as they are at sim time zero.
    pub fn new(
        fleet: &rollc::fleet::Fleet,
        config: ControllerConfig,
        store: &mut Store,
    ) -> Result<Controller, String> {
        let origin = Timestamp::now();
        let mut sim =
            Sim::new(fleet, origin).map_err(|e| format!("invalid simulator blocks: {e}"))?;
        let inventory = ready(sim.inventory(origin)).map_err(|e| e.to_string())?;
        let head = ready(sim.head_revision(origin)).map_err(|e| e.to_string())?;
        let internal = WriteOptions {
            dry_run: false,
            internal: true,
        };
        let autosync_all = config.autosync == ClusterSet::All;
        let appset = store
            .create(
                Kind::ApplicationSet,
                &config.namespace,
                objects::applicationset(
                    &config.namespace,
                    &config.appset,
                    &config.target_revision,
                    autosync_all,
                ),
                internal,
            )
            .map_err(|e| e.message)?;
        let appset_uid = appset["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut controller = Controller {
            config,
            sim,
            origin,
            start: Instant::now(),
            head,
            paused: false,
            appset_uid,
            clusters: BTreeMap::new(),
            pending: BTreeMap::new(),
            syncs: BTreeMap::new(),
        };
        for cluster in inventory {
            controller.join(store, cluster, origin)?;
        }
        Ok(controller)
    }

    /// The source's head revision (what `targetRevision` resolves to).
    pub fn head(&self) -> &str {
        &self.head
    }

    /// Sim time at real instant `at`.
    pub fn sim_at(&self, at: Instant) -> Timestamp {
        let elapsed = at.saturating_duration_since(self.start).as_secs_f64() * self.config.speed;
        self.origin
            .checked_add(SignedDuration::from_secs_f64(elapsed))
            .unwrap_or(self.origin)
    }

    /// The real instant of sim time `t`.
    pub fn real_at(&self, t: Timestamp) -> Instant {
        let secs = t.duration_since(self.origin).as_secs_f64() / self.config.speed;
        self.start + Duration::from_secs_f64(secs.max(0.0))
    }

    pub fn app_name(&self, cluster: &str) -> String {
        objects::app_name(&self.config.appset, cluster)
    }

    /// The cluster an Application's destination names (by `server`, ignoring a trailing
    /// `/`, or by `name`).
    fn cluster_of(&self, app: &Value) -> Option<String> {
        let dest = app.pointer("/spec/destination")?;
        if let Some(server) = dest.get("server").and_then(Value::as_str) {
            let server = server.trim_end_matches('/');
            return self
                .clusters
                .values()
                .find(|c| c.server.trim_end_matches('/') == server)
                .map(|c| c.name.clone());
        }
        let name = dest.get("name").and_then(Value::as_str)?;
        self.clusters.contains_key(name).then(|| name.to_string())
    }

    /// What `targetRevision` resolves to: the head for a branch (`main`, `HEAD`, empty),
    /// else itself (a tag or commit).
    fn resolve(&self, target: &str) -> String {
        if target.is_empty() || target == "HEAD" || target == self.config.target_revision {
            self.head.clone()
        } else {
            target.to_string()
        }
    }

    /// `status.sync` for an Application that runs `deployed`. By default as Argo CD's
    /// refresh reports it: compared with what `targetRevision` resolves to now, `Synced`
    /// only when that is what runs. With `synced_at_deployed`, `Synced` at the deployed
    /// revision (and `OutOfSync` at `failed` after a failed sync).
    fn sync_block(&self, app: &Value, deployed: Option<&str>, failed: Option<&str>) -> Value {
        let target = app
            .pointer("/spec/source/targetRevision")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (status, revision) = if self.config.synced_at_deployed {
            match (failed, deployed) {
                (Some(rev), _) => ("OutOfSync", rev.to_string()),
                (None, Some(d)) => ("Synced", d.to_string()),
                (None, None) => ("OutOfSync", self.resolve(target)),
            }
        } else {
            let revision = self.resolve(target);
            let status = if deployed == Some(revision.as_str()) {
                "Synced"
            } else {
                "OutOfSync"
            };
            (status, revision)
        };
        json!({
            "status": status,
            "revision": revision,
            "comparedTo": {
                "source": app.pointer("/spec/source").cloned().unwrap_or(Value::Null),
                "destination": app.pointer("/spec/destination").cloned().unwrap_or(Value::Null),
            },
        })
    }

    /// The revision an Application runs: its latest history entry.
    fn deployed_of(app: &Value) -> Option<String> {
        app.pointer("/status/history")
            .and_then(Value::as_array)
            .and_then(|h| h.last())
            .and_then(|e| e.get("revision"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn internal() -> WriteOptions {
        WriteOptions {
            dry_run: false,
            internal: true,
        }
    }

    /// Writes `app` back (the controller patches without a resourceVersion precondition).
    fn write(&self, store: &mut Store, app: Value) {
        let ns = app["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = app["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let _ = store.update(
            Kind::Application,
            &ns,
            &name,
            app,
            None,
            false,
            Self::internal(),
        );
    }

    /// A cluster joins: its Secret and its Application.
    fn join(&mut self, store: &mut Store, cluster: Cluster, at: Timestamp) -> Result<(), String> {
        let ns = self.config.namespace.clone();
        let deployed = ready(self.sim.deployed_revision(&cluster.name, at)).unwrap_or(None);
        store
            .create(
                Kind::Secret,
                &ns,
                objects::cluster_secret(&ns, &cluster),
                Self::internal(),
            )
            .map_err(|e| e.message)?;
        let destination = if self.config.destination_name.contains(&cluster.name) {
            Destination::Name
        } else if self.config.trailing_slash.contains(&cluster.name) {
            Destination::ServerTrailingSlash
        } else {
            Destination::Server
        };
        let mut app = objects::application(
            &ns,
            &self.config.appset,
            &self.appset_uid,
            &cluster,
            destination,
            &self.config.target_revision,
            self.config.autosync.contains(&cluster.name),
        );
        self.clusters.insert(cluster.name.clone(), cluster.clone());
        let now = timestamp(Timestamp::now());
        // Deployed a while before the fake started, by an earlier manual sync.
        let earlier = timestamp(Timestamp::now() - SignedDuration::from_hours(1));
        let mut status = json!({
            "sync": self.sync_block(&app, deployed.as_deref(), None),
            "health": {"status": if deployed.is_some() { "Healthy" } else { "Missing" }, "lastTransitionTime": earlier},
            "reconciledAt": now,
            "sourceType": "Directory",
            "summary": {"images": ["gcr.io/heptio-images/ks-guestbook-demo:0.2"]},
            "controllerNamespace": ns,
        });
        if let Some(rev) = &deployed {
            let op = json!({
                "sync": {"revision": rev, "syncStrategy": {"hook": {}}},
                "initiatedBy": {"username": "admin"},
                "retry": {},
            });
            status["history"] = json!([{
                "id": 1,
                "revision": rev,
                "deployedAt": earlier,
                "deployStartedAt": earlier,
                "source": app["spec"]["source"],
                "initiatedBy": {"username": "admin"},
            }]);
            status["operationState"] = json!({
                "operation": op,
                "phase": "Succeeded",
                "message": "successfully synced (all tasks run)",
                "syncResult": {
                    "revision": rev,
                    "source": app["spec"]["source"],
                    "resources": objects::sync_resources("guestbook", "Synced", "deployment.apps/guestbook-ui configured"),
                },
                "startedAt": earlier,
                "finishedAt": earlier,
            });
        }
        app["status"] = status;
        store
            .create(Kind::Application, &ns, app, Self::internal())
            .map_err(|e| e.message)?;
        Ok(())
    }

    fn leave(&mut self, store: &mut Store, cluster: &str) {
        let ns = self.config.namespace.clone();
        let _ = store.delete(
            Kind::Secret,
            &ns,
            &objects::secret_name(cluster),
            None,
            Self::internal(),
        );
        for app in store.list(Kind::Application, Some(&ns)) {
            if self.cluster_of(&app).as_deref() == Some(cluster) {
                let name = app["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let _ = store.delete(Kind::Application, &ns, &name, None, Self::internal());
                self.syncs.remove(&(ns.clone(), name.clone()));
                self.pending.remove(&(ns.clone(), name));
            }
        }
        self.clusters.remove(cluster);
    }

    fn relabel(&mut self, store: &mut Store, cluster: Cluster) {
        let ns = self.config.namespace.clone();
        let name = objects::secret_name(&cluster.name);
        if let Some(mut secret) = store.get(Kind::Secret, &ns, &name).cloned() {
            secret["metadata"]["labels"] = objects::secret_labels(&cluster);
            let _ = store.update(
                Kind::Secret,
                &ns,
                &name,
                secret,
                None,
                false,
                Self::internal(),
            );
        }
        self.clusters.insert(cluster.name.clone(), cluster);
    }

    /// The source's head moves: every Application is refreshed against it, and those
    /// with automated sync start a sync to it.
    pub fn set_head(&mut self, store: &mut Store, revision: &str) {
        self.head = revision.to_string();
        let now = timestamp(Timestamp::now());
        for mut app in store.list(Kind::Application, None) {
            let deployed = Self::deployed_of(&app);
            let running = app.get("operation").is_some_and(|o| !o.is_null());
            if !self.config.synced_at_deployed {
                app["status"]["sync"] = self.sync_block(&app, deployed.as_deref(), None);
                app["status"]["reconciledAt"] = json!(now);
            }
            let automated = app
                .pointer("/spec/syncPolicy/automated")
                .is_some_and(|a| a.is_object() && a.get("enabled") != Some(&json!(false)));
            if automated && !running && deployed.as_deref() != Some(revision) {
                app["operation"] = json!({
                    "sync": {"revision": revision, "prune": true},
                    "initiatedBy": {"automated": true},
                    "retry": {"limit": 5},
                });
                let key = (
                    app["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    app["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                );
                self.pending
                    .insert(key, Instant::now() + self.config.pickup_delay);
            }
            self.write(store, app);
        }
    }

    /// Sets `operation` on an Application as another user would (`argocd app sync`).
    pub fn foreign_sync(
        &mut self,
        store: &mut Store,
        name: &str,
        revision: &str,
        user: &str,
    ) -> Result<(), String> {
        let ns = self.config.namespace.clone();
        let mut app = store
            .get(Kind::Application, &ns, name)
            .cloned()
            .ok_or_else(|| format!("no Application {name}"))?;
        app["operation"] = json!({
            "sync": {"revision": revision, "syncStrategy": {"hook": {}}},
            "initiatedBy": {"username": user},
            "info": [{"name": "Reason", "value": "started by another user (fake-argocd)"}],
            "retry": {},
        });
        if let Some(status) = app.get_mut("status").and_then(Value::as_object_mut) {
            status.remove("operationState");
        }
        store
            .update(
                Kind::Application,
                &ns,
                name,
                app,
                None,
                false,
                Self::internal(),
            )
            .map_err(|e| e.message)?;
        self.pending.insert(
            (ns, name.to_string()),
            Instant::now() + self.config.pickup_delay,
        );
        Ok(())
    }

    /// Does what is due at `now` and returns when to look again.
    pub fn tick(&mut self, store: &mut Store, now: Instant) -> Option<Instant> {
        // Operations clients wrote.
        for key in std::mem::take(&mut store.touched_apps) {
            let Some(app) = store.get(Kind::Application, &key.0, &key.1) else {
                continue;
            };
            let has_op = app.get("operation").is_some_and(|o| !o.is_null());
            let running = app
                .pointer("/status/operationState/phase")
                .and_then(Value::as_str)
                == Some("Running");
            if has_op && !running && !self.pending.contains_key(&key) {
                self.pending.insert(key, now + self.config.pickup_delay);
            }
        }
        if !self.paused {
            let due: Vec<AppKey> = self
                .pending
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(k, _)| k.clone())
                .collect();
            for key in due {
                self.pending.remove(&key);
                self.start_sync(store, &key, now);
            }
        }
        let keys: Vec<AppKey> = self.syncs.keys().cloned().collect();
        for key in keys {
            while let Some(sync) = self.syncs.get_mut(&key) {
                let Some((at, _)) = sync.steps.front() else {
                    self.syncs.remove(&key);
                    break;
                };
                if *at > now {
                    break;
                }
                let (_, step) = sync.steps.pop_front().expect("peeked");
                let sync = sync.clone();
                self.apply_step(store, &key, &sync, step);
            }
        }
        // The fleet's own changes.
        let sim_now = self.sim_at(now);
        for fact in self.sim.poll(sim_now) {
            match fact {
                Observed::Joined(cluster) => {
                    let _ = self.join(store, cluster, sim_now);
                }
                Observed::Left { cluster } => self.leave(store, &cluster),
                Observed::Relabeled(cluster) => self.relabel(store, cluster),
                Observed::Revision(revision) => self.set_head(store, &revision),
                Observed::Status { .. } => {}
            }
        }
        let mut next: Option<Instant> = self.sim.next_wakeup().map(|t| self.real_at(t));
        let mut consider = |t: Instant| {
            next = Some(next.map_or(t, |n| n.min(t)));
        };
        if !self.paused {
            self.pending.values().copied().for_each(&mut consider);
        }
        for sync in self.syncs.values() {
            if let Some((at, _)) = sync.steps.front() {
                consider(*at);
            }
        }
        if !store.touched_apps.is_empty() {
            consider(now);
        }
        next
    }

    /// The app controller picks up the operation: `Running`, and the timeline from the
    /// simulator.
    fn start_sync(&mut self, store: &mut Store, key: &AppKey, now: Instant) {
        let Some(mut app) = store.get(Kind::Application, &key.0, &key.1).cloned() else {
            return;
        };
        let Some(operation) = app.get("operation").filter(|o| !o.is_null()).cloned() else {
            return;
        };
        let started = timestamp(Timestamp::now());
        let target = app
            .pointer("/spec/source/targetRevision")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let revision = operation
            .pointer("/sync/revision")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .or_else(|| {
                operation
                    .pointer("/sync/revisions/0")
                    .and_then(Value::as_str)
            })
            .map(str::to_string)
            .unwrap_or_else(|| self.resolve(&target));
        let health_before = app
            .pointer("/status/health")
            .cloned()
            .unwrap_or_else(|| json!({"status": "Missing"}));
        app["status"]["operationState"] = json!({
            "operation": operation,
            "phase": "Running",
            "message": "one or more tasks are running",
            "startedAt": started,
        });
        app["status"]["reconciledAt"] = json!(started);
        let in_history = app
            .pointer("/status/history")
            .and_then(Value::as_array)
            .is_some_and(|h| {
                h.iter()
                    .any(|e| e.get("revision").and_then(Value::as_str) == Some(&revision))
            });
        let Some(cluster) = self.cluster_of(&app) else {
            let dest = app
                .pointer("/spec/destination")
                .cloned()
                .unwrap_or(Value::Null);
            self.write(store, app);
            let sync = AppSync {
                revision,
                steps: VecDeque::new(),
                health_before,
            };
            self.apply_step(
                store,
                key,
                &sync,
                Step::Finish {
                    succeeded: false,
                    message: format!(
                        "application destination spec for {} is invalid: unable to find \
                         destination server: there are no clusters with this URL or name: {dest}",
                        key.1
                    ),
                },
            );
            return;
        };
        let t = self.sim_at(now);
        let request = SyncRequest {
            cluster: cluster.clone(),
            revision: revision.clone(),
            run: "fake-argocd".into(),
            stage: key.1.clone(),
            at: t,
        };
        if let Err(e) = ready(self.sim.sync(&request)) {
            self.write(store, app);
            let sync = AppSync {
                revision,
                steps: VecDeque::new(),
                health_before,
            };
            self.apply_step(
                store,
                key,
                &sync,
                Step::Finish {
                    succeeded: false,
                    message: e.to_string(),
                },
            );
            return;
        }
        app["status"]["health"] = json!({"status": "Progressing", "lastTransitionTime": started});
        self.write(store, app);
        let steps = self.timeline(&request, in_history);
        self.syncs.insert(
            key.clone(),
            AppSync {
                revision,
                steps,
                health_before,
            },
        );
    }

    /// The steps of a sync started by `request`, from the simulator.
    fn timeline(&self, request: &SyncRequest, in_history: bool) -> VecDeque<(Instant, Step)> {
        let t = request.at;
        let far = t
            .checked_add(SignedDuration::from_hours(24 * 365 * 200))
            .unwrap_or(Timestamp::MAX);
        let mut probe = self.sim.clone();
        let facts: Vec<(Timestamp, ClusterStatus)> = probe
            .poll(far)
            .into_iter()
            .filter_map(|o| match o {
                Observed::Status {
                    cluster,
                    at,
                    status,
                } if cluster == request.cluster && at >= t => Some((at, status)),
                _ => None,
            })
            .collect();
        let first_end = facts
            .iter()
            .position(|(_, s)| *s != ClusterStatus::Progressing);
        let mut steps = VecDeque::new();
        let mid = |end: Timestamp| {
            let half = end.duration_since(t) / 2;
            t.checked_add(half).unwrap_or(end)
        };
        let succeeded = |message: &str| Step::Finish {
            succeeded: true,
            message: message.to_string(),
        };
        let ok = "successfully synced (all tasks run)";
        match first_end.map(|i| (i, &facts[i])) {
            None => {
                // never-healthy: deployed at T+S, health never settles. S is found by
                // probing when a marker revision would be deployed.
                let end = self.deployed_time(request).unwrap_or(t);
                steps.push_back((self.real_at(mid(end)), succeeded(ok)));
                if in_history {
                    steps.push_back((
                        self.real_at(end),
                        Step::Health("Healthy".into(), String::new()),
                    ));
                }
            }
            Some((i, (end, status))) => {
                let end = *end;
                match (status, in_history) {
                    (ClusterStatus::SyncFailed { reason }, false) => {
                        steps.push_back((
                            self.real_at(end),
                            Step::Finish {
                                succeeded: false,
                                message: format!(
                                    "one or more objects failed to apply, reason: {reason}"
                                ),
                            },
                        ));
                    }
                    (ClusterStatus::Degraded { reason }, false) => {
                        steps.push_back((self.real_at(mid(end)), succeeded(ok)));
                        steps.push_back((
                            self.real_at(end),
                            Step::Health("Degraded".into(), reason.clone()),
                        ));
                    }
                    _ => {
                        steps.push_back((self.real_at(mid(end)), succeeded(ok)));
                        steps.push_back((
                            self.real_at(end),
                            Step::Health("Healthy".into(), String::new()),
                        ));
                        if !in_history {
                            for (at, status) in &facts[i + 1..] {
                                let step = match status {
                                    ClusterStatus::Healthy => {
                                        Step::Health("Healthy".into(), String::new())
                                    }
                                    ClusterStatus::Degraded { reason } => {
                                        Step::Health("Degraded".into(), reason.clone())
                                    }
                                    ClusterStatus::Progressing => {
                                        Step::Health("Progressing".into(), String::new())
                                    }
                                    ClusterStatus::SyncFailed { .. } => continue,
                                };
                                steps.push_back((self.real_at(*at), step));
                            }
                        }
                    }
                }
            }
        }
        steps
    }

    /// When a sync like `request` would deploy its revision (for outcomes that report no
    /// end), found by binary search over whole seconds on a probe revision.
    fn deployed_time(&self, request: &SyncRequest) -> Option<Timestamp> {
        const MARKER: &str = "fake-argocd-probe-revision";
        let mut probe = self.sim.clone();
        let probe_request = SyncRequest {
            revision: MARKER.into(),
            ..request.clone()
        };
        ready(probe.sync(&probe_request)).ok()?;
        let deployed = |probe: &mut Sim, secs: i64| {
            let at = request.at.checked_add(SignedDuration::from_secs(secs)).ok();
            at.is_some_and(|at| {
                ready(probe.deployed_revision(&request.cluster, at))
                    .ok()
                    .flatten()
                    .as_deref()
                    == Some(MARKER)
            })
        };
        let (mut lo, mut hi) = (0i64, 36_500 * 86_400 + 1);
        if !deployed(&mut probe, hi) {
            return None;
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if deployed(&mut probe, mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        request.at.checked_add(SignedDuration::from_secs(lo)).ok()
    }

    fn apply_step(&mut self, store: &mut Store, key: &AppKey, sync: &AppSync, step: Step) {
        let Some(mut app) = store.get(Kind::Application, &key.0, &key.1).cloned() else {
            self.syncs.remove(key);
            return;
        };
        let now = timestamp(Timestamp::now());
        match step {
            Step::Health(status, message) => {
                let mut health = json!({"status": status, "lastTransitionTime": now});
                if !message.is_empty() {
                    health["message"] = json!(message);
                }
                app["status"]["health"] = health;
            }
            Step::Finish { succeeded, message } => {
                let op_state = app
                    .pointer("/status/operationState")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                let operation = op_state
                    .get("operation")
                    .cloned()
                    .or_else(|| app.get("operation").cloned())
                    .unwrap_or(Value::Null);
                let started = op_state
                    .get("startedAt")
                    .cloned()
                    .unwrap_or_else(|| json!(now));
                let source = app.pointer("/spec/source").cloned().unwrap_or(Value::Null);
                let dest_ns = app
                    .pointer("/spec/destination/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default")
                    .to_string();
                let (phase, resource_status, resource_message) = if succeeded {
                    (
                        "Succeeded",
                        "Synced",
                        "deployment.apps/guestbook-ui configured".to_string(),
                    )
                } else {
                    ("Failed", "SyncFailed", message.clone())
                };
                app["status"]["operationState"] = json!({
                    "operation": operation,
                    "phase": phase,
                    "message": message,
                    "syncResult": {
                        "revision": sync.revision,
                        "source": source,
                        "resources": objects::sync_resources(&dest_ns, resource_status, &resource_message),
                    },
                    "startedAt": started,
                    "finishedAt": now,
                });
                if succeeded {
                    let history = app["status"]
                        .as_object_mut()
                        .expect("status is an object")
                        .entry("history")
                        .or_insert_with(|| json!([]));
                    if let Some(entries) = history.as_array_mut() {
                        let id = entries
                            .last()
                            .and_then(|e| e.get("id"))
                            .and_then(Value::as_i64)
                            .map_or(1, |id| id + 1);
                        entries.push(json!({
                            "id": id,
                            "revision": sync.revision,
                            "deployedAt": now,
                            "deployStartedAt": started,
                            "source": source,
                            "initiatedBy": operation.get("initiatedBy").cloned().unwrap_or_else(|| json!({})),
                        }));
                        let limit = app
                            .pointer("/spec/revisionHistoryLimit")
                            .and_then(Value::as_u64)
                            .map_or(self.config.revision_history_limit, |l| l as usize);
                        let entries = app["status"]["history"].as_array_mut().expect("an array");
                        if entries.len() > limit {
                            let excess = entries.len() - limit;
                            entries.drain(..excess);
                        }
                    }
                    let deployed = Some(sync.revision.as_str());
                    app["status"]["sync"] = self.sync_block(&app, deployed, None);
                } else {
                    let deployed = Self::deployed_of(&app);
                    app["status"]["sync"] =
                        self.sync_block(&app, deployed.as_deref(), Some(&sync.revision));
                    app["status"]["health"] = sync.health_before.clone();
                }
                // setOperationState: the operation is done, so `operation` is cleared.
                if let Some(obj) = app.as_object_mut() {
                    obj.remove("operation");
                }
            }
        }
        app["status"]["reconciledAt"] = json!(now);
        self.write(store, app);
    }

    /// Whether a sync of Application `name` is running or has steps to come.
    pub fn busy(&self, namespace: &str, name: &str) -> bool {
        let key = (namespace.to_string(), name.to_string());
        self.syncs.contains_key(&key) || self.pending.contains_key(&key)
    }
}
