//! A fake Argo CD: an HTTP server on 127.0.0.1 that speaks the Kubernetes REST API the way
//! kube-rs and kubectl use it, holding the objects an Argo CD control plane has (cluster
//! Secrets, an ApplicationSet, its Applications) plus ConfigMaps and Leases, with RBAC from
//! `deploy/rbac.yaml`, an emulated application controller that runs syncs on the timeline
//! rollc's simulator gives the fleet file, and fault injection.
//!
//! Include it from a test with
//! `#[path = "support/fake_argocd/mod.rs"] mod fake_argocd;` and start it with
//! [`start`] (on the test's tokio runtime) or [`FakeArgoCd::start_in_thread`] (on a
//! runtime of its own, for tests that block, e.g. while the `rollc` binary runs). The
//! example `cargo run --example fake-argocd -- --fleet F --kubeconfig OUT` runs it
//! standalone.
//!
//! What it emulates, and how faithfully, is described on each module: [`http`] (paths,
//! verbs, lists, watches, access reviews), [`store`] (resourceVersions, conflicts, size
//! limits), [`schema`] (pruning and type checks of `operation`, from the real CRD),
//! [`controller`] (Argo CD's controllers), [`rbac`], [`faults`], [`proto`] (the two
//! protobuf bodies kubectl sends).

#![allow(dead_code, unused_imports)]

pub mod controller;
pub mod faults;
pub mod http;
pub mod kinds;
pub mod objects;
pub mod patch;
pub mod proto;
pub mod rbac;
pub mod schema;
pub mod selectors;
pub mod status;
pub mod store;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{Notify, watch};

use rollc::fleet::Fleet;

pub use controller::ClusterSet;
pub use faults::{Fault, FaultAction, RequestRecord};
pub use kinds::Kind;
pub use objects::{SECRET_TYPE_LABEL, app_name, secret_marker, secret_name};

use controller::{Controller, ControllerConfig};
use faults::Faults;
use rbac::Rbac;
use store::{Store, WriteOptions};

/// Where the RBAC rules come from.
#[derive(Clone, Debug)]
pub enum RbacMode {
    /// A YAML file of Roles, ClusterRoles and bindings.
    File(PathBuf),
    /// The same, inline.
    Yaml(String),
    /// No RBAC: everything is allowed.
    AllowAll,
}

/// A callback for each request, once answered (the example binary prints them).
pub type RequestSink = Arc<dyn Fn(&RequestRecord) + Send + Sync>;

/// How to start the fake.
#[derive(Clone)]
pub struct Options {
    /// The Argo CD namespace. Default `argocd`.
    pub namespace: String,
    /// The ApplicationSet's name; Applications are `<appset>-<cluster>`. Default
    /// `guestbook`.
    pub appset: String,
    /// `spec.source.targetRevision` of every Application (a branch that resolves to the
    /// fleet's head revision). Default `main`.
    pub target_revision: String,
    /// The port on 127.0.0.1; 0 picks a free one. Default 0.
    pub port: u16,
    /// Sim seconds per real second: `1200.0` runs a sync of `1m` in 50 ms. Default 1.
    pub speed: f64,
    /// RBAC. Default: the crate's `deploy/rbac.yaml`.
    pub rbac: RbacMode,
    /// Who every request is from. Default `system:serviceaccount:argocd:rollc`.
    pub user: String,
    /// Applications with `spec.syncPolicy.automated` (autosync on). Default none.
    pub autosync: ClusterSet,
    /// Applications whose destination is `destination.name` instead of `server`.
    pub destination_name: ClusterSet,
    /// Applications whose `destination.server` has a trailing `/`.
    pub trailing_slash: ClusterSet,
    /// Report `status.sync` as `Synced` at the deployed revision (the revision of the
    /// last successful sync), instead of as Argo CD's refresh does (compared with what
    /// `targetRevision` resolves to now, i.e. `OutOfSync` at the head while an older
    /// revision runs). Default false.
    pub synced_at_deployed: bool,
    /// How often a watch that allows bookmarks gets one. Default 10 s (the apiserver's is
    /// about a minute).
    pub bookmark_interval: Duration,
    /// How many changes the store keeps for watches that resume; older resourceVersions
    /// are 410 Gone. Default 10,000.
    pub history_limit: usize,
    /// How long the application controller takes to pick up a new operation (real
    /// time). Default 10 ms.
    pub pickup_delay: Duration,
    /// `status.history` entries kept (Argo CD's default `revisionHistoryLimit`, 10).
    pub revision_history_limit: usize,
    /// Faults in force from the start.
    pub faults: Vec<Fault>,
    /// The first resourceVersion. Default 1000.
    pub first_resource_version: u64,
    /// Called with each request once answered.
    pub request_sink: Option<RequestSink>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            namespace: "argocd".into(),
            appset: "guestbook".into(),
            target_revision: "main".into(),
            port: 0,
            speed: 1.0,
            rbac: RbacMode::File(default_rbac_path()),
            user: "system:serviceaccount:argocd:rollc".into(),
            autosync: ClusterSet::None,
            destination_name: ClusterSet::None,
            trailing_slash: ClusterSet::None,
            synced_at_deployed: false,
            bookmark_interval: Duration::from_secs(10),
            history_limit: 10_000,
            pickup_delay: Duration::from_millis(10),
            revision_history_limit: 10,
            faults: Vec::new(),
            first_resource_version: 1000,
            request_sink: None,
        }
    }
}

/// The crate's `deploy/rbac.yaml`.
pub fn default_rbac_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac.yaml")
}

pub(crate) struct State {
    pub store: Store,
    pub controller: Controller,
    pub rbac: Rbac,
    pub faults: Faults,
    pub log: Vec<RequestRecord>,
    pub next_seq: u64,
    pub bookmark_interval: Duration,
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// Wakes the controller loop.
    pub wake: Notify,
    pub started: Instant,
    pub addr: SocketAddr,
    pub shutdown: watch::Receiver<bool>,
    pub request_sink: Option<RequestSink>,
}

/// A running fake Argo CD. Dropping it stops the server and ends open watches.
pub struct FakeArgoCd {
    shared: Arc<Shared>,
    namespace: String,
    shutdown: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Reads and parses a fleet file (a rollc fleet file or a cluster Secret list).
pub fn load_fleet(path: &Path) -> io::Result<Fleet> {
    let text = std::fs::read_to_string(path)?;
    rollc::fleet::parse(rollc::source::FileId(0), &text).map_err(|diagnostics| {
        let messages: Vec<String> = diagnostics.iter().map(|d| d.message.clone()).collect();
        io::Error::other(format!(
            "{}: invalid fleet file:\n{}",
            path.display(),
            messages.join("\n")
        ))
    })
}

/// Starts the fake on the current tokio runtime: binds 127.0.0.1, seeds the objects from
/// `fleet`, and serves until the returned handle is dropped.
pub async fn start(fleet: &Fleet, options: Options) -> io::Result<FakeArgoCd> {
    FakeArgoCd::start(fleet, options).await
}

impl FakeArgoCd {
    /// See [`start`].
    pub async fn start(fleet: &Fleet, options: Options) -> io::Result<FakeArgoCd> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await?;
        let addr = listener.local_addr()?;
        let rbac = match &options.rbac {
            RbacMode::File(path) => Rbac::load(path, &options.user),
            RbacMode::Yaml(text) => Rbac::parse(text, &options.user),
            RbacMode::AllowAll => Ok(Rbac::allow_all(&options.user)),
        }
        .map_err(io::Error::other)?;
        if !(options.speed.is_finite() && options.speed > 0.0) {
            return Err(io::Error::other("speed must be a positive number"));
        }
        let mut store = Store::new(options.history_limit, options.first_resource_version);
        let config = ControllerConfig {
            namespace: options.namespace.clone(),
            appset: options.appset.clone(),
            target_revision: options.target_revision.clone(),
            speed: options.speed,
            pickup_delay: options.pickup_delay,
            autosync: options.autosync.clone(),
            destination_name: options.destination_name.clone(),
            trailing_slash: options.trailing_slash.clone(),
            synced_at_deployed: options.synced_at_deployed,
            revision_history_limit: options.revision_history_limit,
        };
        let controller = Controller::new(fleet, config, &mut store).map_err(io::Error::other)?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                store,
                controller,
                rbac,
                faults: Faults {
                    rules: options.faults.clone(),
                },
                log: Vec::new(),
                next_seq: 0,
                bookmark_interval: options.bookmark_interval,
            }),
            wake: Notify::new(),
            started: Instant::now(),
            addr,
            shutdown: shutdown_rx.clone(),
            request_sink: options.request_sink.clone(),
        });
        tokio::spawn(http::serve(listener, shared.clone(), shutdown_rx.clone()));
        tokio::spawn(run_controller(shared.clone(), shutdown_rx));
        Ok(FakeArgoCd {
            shared,
            namespace: options.namespace,
            shutdown: shutdown_tx,
            thread: None,
        })
    }

    /// Starts the fake on a runtime of its own, in a background thread, so that it keeps
    /// serving while the caller blocks (e.g. on a child process).
    pub fn start_in_thread(fleet: &Fleet, options: Options) -> io::Result<FakeArgoCd> {
        let fleet = fleet.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("fake-argocd".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match FakeArgoCd::start(&fleet, options).await {
                        Ok(fake) => {
                            let mut stopped = fake.shared.shutdown.clone();
                            let _ = tx.send(Ok(fake));
                            let _ = stopped.wait_for(|stop| *stop).await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })?;
        let mut fake = rx
            .recv()
            .map_err(|_| io::Error::other("the fake's thread stopped before it started"))??;
        fake.thread = Some(thread);
        Ok(fake)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().expect("state lock")
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The Argo CD namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Who every request is from.
    pub fn user(&self) -> String {
        self.state().rbac.user.clone()
    }

    /// A kubeconfig whose current context is the fake (plain HTTP, no credentials,
    /// namespace set to the Argo CD namespace).
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: fake-argocd\n  cluster:\n    server: {url}\n\
             contexts:\n\
             - name: fake-argocd\n  context:\n    cluster: fake-argocd\n    user: rollc\n    namespace: {ns}\n\
             current-context: fake-argocd\n\
             users:\n\
             - name: rollc\n  user: {{}}\n\
             preferences: {{}}\n",
            url = self.url(),
            ns = self.namespace,
        )
    }

    pub fn write_kubeconfig(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// The Application of `cluster`'s name.
    pub fn app_name(&self, cluster: &str) -> String {
        self.state().controller.app_name(cluster)
    }

    /// An object in the Argo CD namespace.
    pub fn get(&self, kind: Kind, name: &str) -> Option<Value> {
        self.state().store.get(kind, &self.namespace, name).cloned()
    }

    /// The objects of `kind` in the Argo CD namespace, by name.
    pub fn list(&self, kind: Kind) -> Vec<Value> {
        self.state().store.list(kind, Some(&self.namespace))
    }

    /// The Application of `cluster`.
    pub fn application(&self, cluster: &str) -> Option<Value> {
        let name = self.app_name(cluster);
        self.get(Kind::Application, &name)
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.state().store.rv()
    }

    /// The source's head revision.
    pub fn head(&self) -> String {
        self.state().controller.head().to_string()
    }

    /// Moves the source's head (as a `revision` event of the fleet file does).
    pub fn set_head(&self, revision: &str) {
        let mut state = self.state();
        let State {
            store, controller, ..
        } = &mut *state;
        controller.set_head(store, revision);
        drop(state);
        self.shared.wake.notify_one();
    }

    /// Creates or replaces an object as an administrator (no RBAC, no request log).
    pub fn put(&self, kind: Kind, object: Value) -> Result<Value, String> {
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .ok_or("the object has no metadata.name")?
            .to_string();
        let mut state = self.state();
        let opts = WriteOptions::default();
        let result = if state.store.get(kind, &self.namespace, &name).is_some() {
            state
                .store
                .update(kind, &self.namespace, &name, object, None, false, opts)
        } else {
            state.store.create(kind, &self.namespace, object, opts)
        };
        drop(state);
        self.shared.wake.notify_one();
        result.map_err(|e| e.message)
    }

    /// Applies a JSON merge patch to an object as an administrator (no RBAC, no request
    /// log, no resourceVersion check).
    pub fn merge_patch(&self, kind: Kind, name: &str, patch: &Value) -> Result<Value, String> {
        let mut state = self.state();
        let mut object = state
            .store
            .get(kind, &self.namespace, name)
            .cloned()
            .ok_or_else(|| format!("no {} {name}", kind.kind()))?;
        patch::merge(&mut object, patch);
        let result = state.store.update(
            kind,
            &self.namespace,
            name,
            object,
            None,
            false,
            WriteOptions::default(),
        );
        drop(state);
        self.shared.wake.notify_one();
        result.map_err(|e| e.message)
    }

    /// Deletes an object as an administrator.
    pub fn delete(&self, kind: Kind, name: &str) -> Result<(), String> {
        self.state()
            .store
            .delete(kind, &self.namespace, name, None, WriteOptions::default())
            .map(|_| ())
            .map_err(|e| e.message)
    }

    /// Adds a fault rule.
    pub fn inject(&self, fault: Fault) {
        self.state().faults.rules.push(fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.state().faults.rules.clear();
    }

    /// Ends every open watch (their responses end, as when an apiserver restarts);
    /// returns how many there were.
    pub fn drop_watches(&self) -> usize {
        self.state().store.drop_watchers()
    }

    /// How many watches are open.
    pub fn open_watches(&self) -> usize {
        self.state().store.watchers.len()
    }

    /// Forgets the change history, as an etcd compaction does: a watch or consistent list
    /// from any resourceVersion before now gets 410 Gone (`Expired`).
    pub fn compact(&self) {
        self.state().store.compact();
    }

    /// Sets `operation` on Application `app` as another user (`admin`) running
    /// `argocd app sync --revision REVISION` would; the controller then runs it unless
    /// paused.
    pub fn start_foreign_sync(&self, app: &str, revision: &str) -> Result<(), String> {
        let mut state = self.state();
        let State {
            store, controller, ..
        } = &mut *state;
        let result = controller.foreign_sync(store, app, revision, "admin");
        drop(state);
        self.shared.wake.notify_one();
        result
    }

    /// Stops (or restarts) the application controller picking up new operations: an
    /// `operation` written while paused stays set, with no `operationState` progress.
    pub fn pause_controller(&self, paused: bool) {
        self.state().controller.paused = paused;
        self.shared.wake.notify_one();
    }

    /// Whether a sync of Application `app` is pending, running, or has health changes to
    /// come.
    pub fn sync_in_progress(&self, app: &str) -> bool {
        self.state().controller.busy(&self.namespace, app)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        let mut log = self.state().log.clone();
        log.sort_by_key(|r| r.seq);
        log
    }

    pub fn clear_requests(&self) {
        self.state().log.clear();
    }

    /// The writes that set `operation` on an Application (PATCH or PUT), with the
    /// operation each wrote.
    pub fn operation_writes(&self) -> Vec<(RequestRecord, Value)> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r.resource.as_deref() == Some("applications")
                    && matches!(r.verb.as_str(), "patch" | "update")
            })
            .filter_map(|r| {
                let op = r.body.as_ref()?.get("operation")?.clone();
                (!op.is_null()).then_some((r, op))
            })
            .collect()
    }

    /// Sim time now (the fleet file's time zero is when the fake started).
    pub fn sim_now(&self) -> jiff::Timestamp {
        self.state().controller.sim_at(Instant::now())
    }

    /// The real time a sim duration takes at this speed.
    pub fn real_duration(&self, sim: Duration) -> Duration {
        let speed = self.state().controller.config.speed;
        Duration::from_secs_f64(sim.as_secs_f64() / speed)
    }

    /// Polls `check` every 5 ms until it holds or `timeout` passes; returns whether it held.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&FakeArgoCd) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if check(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for FakeArgoCd {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Ok(mut state) = self.shared.state.lock() {
            state.store.drop_watchers();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The controller loop: runs what is due, then sleeps until the next thing or a wake-up.
async fn run_controller(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let next = {
            let mut state = shared.state.lock().expect("state lock");
            let State {
                store, controller, ..
            } = &mut *state;
            controller.tick(store, Instant::now())
        };
        let sleep = async {
            match next {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = sleep => {}
            _ = shared.wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}
