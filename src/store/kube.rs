//! The Kubernetes run store (`--store kubernetes`): runs kept as ConfigMaps in the Argo CD
//! namespace and one `coordination.k8s.io` Lease per run, so operator commands work from any
//! machine and exactly one executor drives a run; another takes over when its holder dies.
//!
//! ```text
//! ConfigMap rollc-current               data.run: the current run's id
//! ConfigMap rollc-run-ID                data["run.json"]: RunMeta
//! ConfigMap rollc-run-ID-j0000, -j0001  data["journal.jsonl"]: the journal, in chunks
//! ConfigMap rollc-intent-ID-N           data["intent.json"]: an operator request
//! ConfigMap rollc-answer-ID-N           data["answer.json"]: what came of it
//! Lease     rollc-run-ID                the executor driving the run
//! ```
//!
//! Every object carries `app.kubernetes.io/managed-by: rollc` and `rollc.dev/run: ID`.
//! Objects stay far below the API server's size limit (etcd's 1.5 MiB): the journal of a run
//! over thousands of clusters is split into chunks of at most [`CHUNK_BYTES`]; a chunk is
//! written with its `resourceVersion`, so a second writer is detected rather than
//! overwritten. A batch that spans two chunks is written in order; a crash between them
//! leaves a prefix of the batch, which replays as a run that decided less (nothing in a
//! batch is acted on before the whole batch is written).
//!
//! The Lease lasts [`LEASE_SECONDS`] and is renewed every [`RENEW_SECONDS`] by a background
//! task; a renewal that finds another holder (or fails for longer than the lease) marks the
//! lock lost, and the executor stops.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};

use super::{Answer, IntentFile, JournalAppender, RunLockGuard, RunMeta, RunStore, StoreError};
use crate::runtime::event::Record;

/// The most bytes of journal one ConfigMap holds.
pub const CHUNK_BYTES: usize = 512 * 1024;
/// How long a Lease lasts without renewal.
pub const LEASE_SECONDS: i32 = 15;
/// How often the holder renews it.
pub const RENEW_SECONDS: u64 = 5;

const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const RUN_LABEL: &str = "rollc.dev/run";
const PART_LABEL: &str = "rollc.dev/part";

/// Runs kept in a Kubernetes namespace.
#[derive(Clone)]
pub struct KubeStore {
    namespace: String,
    maps: Api<ConfigMap>,
    leases: Api<Lease>,
}

impl std::fmt::Debug for KubeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeStore")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// An object name for a run id: ids are file-name safe but may hold capitals, which object
/// names may not.
fn object(prefix: &str, id: &str) -> String {
    format!("{prefix}-{}", id.to_ascii_lowercase())
}

fn api_error(what: String, e: kube::Error) -> StoreError {
    let help = match &e {
        kube::Error::Api(s) if s.code == 403 => {
            "rollc's service account needs the ConfigMap and Lease rules of deploy/rbac.yaml in this namespace".to_string()
        }
        kube::Error::Api(s) if s.code == 413 || s.code == 422 => {
            "the object is larger than the API server accepts; this is a bug in rollc's chunking".to_string()
        }
        _ => "check that the API server is reachable (`kubectl get configmaps -n NAMESPACE`) and try again; the run resumes where it stopped".to_string(),
    };
    StoreError::Api {
        message: format!("{what}: {e}"),
        help,
    }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// The parameters of every create and replace (none).
static POST: std::sync::LazyLock<PostParams> = std::sync::LazyLock::new(PostParams::default);

/// How long calls are retried through throttling and server errors before giving up.
const RETRY_FOR: Duration = Duration::from_secs(60);

/// Whether `e` is worth retrying (throttling, a server error, no connection), and how long
/// the server asked to wait.
fn transient(e: &kube::Error) -> Option<Option<Duration>> {
    match e {
        kube::Error::Api(s) if s.code == 429 || (500..600).contains(&s.code) => Some(
            s.details
                .as_ref()
                .map(|d| d.retry_after_seconds)
                .filter(|&n| n > 0)
                .map(|n| Duration::from_secs(u64::from(n))),
        ),
        kube::Error::Api(_) => None,
        kube::Error::HyperError(_) | kube::Error::Service(_) => Some(None),
        _ => None,
    }
}

/// Runs `call` until it succeeds, fails for good, or [`RETRY_FOR`] has passed, backing off
/// (or waiting as long as a 429 asks) between attempts. Also says whether an earlier attempt
/// failed in a way that may have been applied anyway (a 5xx or a lost connection).
async fn retry<T, F, Fut>(mut call: F) -> (Result<T, kube::Error>, bool)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut ambiguous = false;
    loop {
        let e = match call().await {
            Ok(v) => return (Ok(v), ambiguous),
            Err(e) => e,
        };
        let Some(asked) = transient(&e) else {
            return (Err(e), ambiguous);
        };
        if started.elapsed() >= RETRY_FOR {
            return (Err(e), ambiguous);
        }
        ambiguous |= !is_status(&e, 429);
        tokio::time::sleep(asked.unwrap_or(delay).min(Duration::from_secs(10))).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

impl KubeStore {
    /// The store in `namespace`, through `client`.
    pub fn new(client: Client, namespace: &str) -> KubeStore {
        KubeStore {
            namespace: namespace.to_string(),
            maps: Api::namespaced(client.clone(), namespace),
            leases: Api::namespaced(client, namespace),
        }
    }

    fn meta(&self, name: String, run: Option<&str>, part: &str) -> ObjectMeta {
        let mut labels = BTreeMap::from([
            (MANAGED_BY.to_string(), "rollc".to_string()),
            (PART_LABEL.to_string(), part.to_string()),
        ]);
        if let Some(run) = run {
            labels.insert(RUN_LABEL.to_string(), run.to_ascii_lowercase());
        }
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        }
    }

    async fn get_map(&self, name: &str) -> Result<Option<ConfigMap>, StoreError> {
        retry(|| self.maps.get_opt(name)).await.0.map_err(|e| {
            api_error(
                format!("cannot read ConfigMap `{}/{name}`", self.namespace),
                e,
            )
        })
    }

    /// Creates or replaces a ConfigMap holding `key: value`.
    async fn put_map(
        &self,
        name: String,
        run: Option<&str>,
        part: &str,
        key: &str,
        value: String,
    ) -> Result<(), StoreError> {
        let mut map = ConfigMap {
            metadata: self.meta(name.clone(), run, part),
            data: Some(BTreeMap::from([(key.to_string(), value)])),
            ..ConfigMap::default()
        };
        // Created, or (it exists) replaced whatever version is there: these objects have one
        // writer at a time, and writing the same content twice is harmless.
        let (created, _) = retry(|| self.maps.create(&POST, &map)).await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 409) => {
                let current = self.get_map(&name).await?;
                map.metadata.resource_version = current.and_then(|c| c.metadata.resource_version);
                retry(|| self.maps.replace(&name, &POST, &map))
                    .await
                    .0
                    .map(|_| ())
                    .map_err(|e| api_error(format!("cannot write ConfigMap `{name}`"), e))
            }
            Err(e) => Err(api_error(format!("cannot create ConfigMap `{name}`"), e)),
        }
    }

    fn value(map: &ConfigMap, key: &str) -> Option<String> {
        map.data.as_ref()?.get(key).cloned()
    }

    fn corrupt(&self, name: &str, message: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: format!("ConfigMap {}/{name}", self.namespace),
            message: message.into(),
        }
    }

    async fn list(&self, run: &str, part: &str) -> Result<Vec<ConfigMap>, StoreError> {
        let selector = format!(
            "{MANAGED_BY}=rollc,{RUN_LABEL}={},{PART_LABEL}={part}",
            run.to_ascii_lowercase()
        );
        let params = ListParams::default().labels(&selector);
        let mut items = retry(|| self.maps.list(&params))
            .await
            .0
            .map_err(|e| api_error(format!("cannot list ConfigMaps of run `{run}`"), e))?
            .items;
        items.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(items)
    }

    fn no_run(&self, id: &str) -> StoreError {
        StoreError::NoRun {
            message: format!("no run `{id}` in namespace `{}`", self.namespace),
        }
    }
}

/// The Lease on a run, renewed in the background while held.
#[derive(Debug)]
pub struct KubeLock {
    lost: Arc<Mutex<Option<String>>>,
    renew: Option<tokio::task::JoinHandle<()>>,
    leases: Option<Api<Lease>>,
    name: String,
    holder: String,
}

impl RunLockGuard for KubeLock {
    fn lost(&self) -> Option<String> {
        self.lost.lock().expect("not poisoned").clone()
    }

    async fn release(mut self) {
        if let Some(task) = self.renew.take() {
            task.abort();
        }
        // Give the run up at once rather than after the lease runs out, so the next command
        // need not wait; only if it is still ours.
        if let Some(leases) = self.leases.take()
            && let Ok(Some(mut lease)) = leases.get_opt(&self.name).await
            && let Some(spec) = &mut lease.spec
            && spec.holder_identity.as_deref() == Some(self.holder.as_str())
        {
            spec.holder_identity = None;
            spec.renew_time = None;
            let _ = leases
                .replace(&self.name, &PostParams::default(), &lease)
                .await;
        }
    }
}

impl Drop for KubeLock {
    fn drop(&mut self) {
        if let Some(task) = self.renew.take() {
            task.abort();
        }
    }
}

fn lease_holder(lease: &Lease, now: Timestamp) -> Option<String> {
    let spec = lease.spec.as_ref()?;
    let holder = spec.holder_identity.clone().filter(|h| !h.is_empty())?;
    let renewed = spec.renew_time.as_ref().map(|t| t.0)?;
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
    (renewed + jiff::SignedDuration::from_secs(duration) > now).then_some(holder)
}

/// Appends to a run's journal chunks.
#[derive(Debug)]
pub struct KubeAppender {
    store: KubeStore,
    run: String,
    /// The chunk being filled: index, content, resourceVersion (`None` before it exists).
    chunk: usize,
    content: String,
    version: Option<String>,
}

impl KubeAppender {
    fn chunk_name(&self, n: usize) -> String {
        format!("{}-j{n:04}", object("rollc-run", &self.run))
    }

    /// Writes the current chunk with its content, creating it or replacing the version this
    /// appender last wrote.
    async fn write(&mut self) -> Result<(), StoreError> {
        let name = self.chunk_name(self.chunk);
        let mut map = ConfigMap {
            metadata: self.store.meta(name.clone(), Some(&self.run), "journal"),
            data: Some(BTreeMap::from([(
                "journal.jsonl".to_string(),
                self.content.clone(),
            )])),
            ..ConfigMap::default()
        };
        map.metadata.resource_version = self.version.clone();
        let maps = &self.store.maps;
        let (written, ambiguous) = match &self.version {
            None => retry(|| maps.create(&POST, &map)).await,
            Some(_) => retry(|| maps.replace(&name, &POST, &map)).await,
        };
        match written {
            Ok(map) => {
                self.version = map.metadata.resource_version;
                Ok(())
            }
            // An attempt that failed on the way back may have been written: then the chunk
            // holds exactly this content, and it is ours.
            Err(e) if is_status(&e, 409) && ambiguous => {
                let current = self.store.get_map(&name).await?;
                match current {
                    Some(c)
                        if KubeStore::value(&c, "journal.jsonl").as_deref()
                            == Some(self.content.as_str()) =>
                    {
                        self.version = c.metadata.resource_version;
                        Ok(())
                    }
                    _ => Err(StoreError::Locked {
                        run: self.run.clone(),
                        holder: "another executor (its journal changed under this one)".into(),
                    }),
                }
            }
            Err(e) if is_status(&e, 409) => Err(StoreError::Locked {
                run: self.run.clone(),
                holder: "another executor (its journal changed under this one)".into(),
            }),
            Err(e) => Err(api_error(format!("cannot write journal chunk `{name}`"), e)),
        }
    }
}

impl JournalAppender for KubeAppender {
    async fn append(&mut self, records: &[Record]) -> Result<(), StoreError> {
        // Whether `content` holds records not yet written.
        let mut pending = false;
        for r in records {
            let mut line = serde_json::to_string(r).expect("records serialise");
            line.push('\n');
            if !self.content.is_empty() && self.content.len() + line.len() > CHUNK_BYTES {
                if pending {
                    self.write().await?;
                }
                self.chunk += 1;
                self.content.clear();
                self.version = None;
            }
            self.content.push_str(&line);
            pending = true;
        }
        if pending {
            self.write().await?;
        }
        Ok(())
    }
}

impl RunStore for KubeStore {
    type Lock = KubeLock;
    type Appender = KubeAppender;

    async fn create(&self, meta: &RunMeta) -> Result<(), StoreError> {
        let text = serde_json::to_string_pretty(meta).expect("metadata serialises");
        self.put_map(
            object("rollc-run", &meta.id),
            Some(&meta.id),
            "run",
            "run.json",
            text,
        )
        .await?;
        self.put_map(
            "rollc-current".into(),
            None,
            "current",
            "run",
            meta.id.clone(),
        )
        .await
    }

    async fn current(&self) -> Result<String, StoreError> {
        let map = self.get_map("rollc-current").await?;
        map.and_then(|m| Self::value(&m, "run"))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| StoreError::NoRun {
                message: format!("no run in namespace `{}`", self.namespace),
            })
    }

    async fn exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.get_map(&object("rollc-run", id)).await?.is_some())
    }

    async fn meta(&self, id: &str) -> Result<RunMeta, StoreError> {
        let name = object("rollc-run", id);
        let map = self.get_map(&name).await?.ok_or_else(|| self.no_run(id))?;
        let text = Self::value(&map, "run.json")
            .ok_or_else(|| self.corrupt(&name, "no `run.json` entry"))?;
        serde_json::from_str(&text).map_err(|e| self.corrupt(&name, e.to_string()))
    }

    async fn lock(&self, id: &str, holder: &str) -> Result<KubeLock, StoreError> {
        let name = object("rollc-run", id);
        let now = Timestamp::now();
        let spec = LeaseSpec {
            holder_identity: Some(holder.to_string()),
            lease_duration_seconds: Some(LEASE_SECONDS),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        };
        let existing = retry(|| self.leases.get_opt(&name))
            .await
            .0
            .map_err(|e| api_error(format!("cannot read Lease `{name}`"), e))?;
        let written = match existing {
            None => {
                let lease = Lease {
                    metadata: self.meta(name.clone(), Some(id), "lease"),
                    spec: Some(spec),
                };
                retry(|| self.leases.create(&POST, &lease)).await.0
            }
            Some(mut lease) => {
                if let Some(current) = lease_holder(&lease, now) {
                    return Err(StoreError::Locked {
                        run: id.to_string(),
                        holder: current,
                    });
                }
                let transitions = lease
                    .spec
                    .as_ref()
                    .and_then(|s| s.lease_transitions)
                    .unwrap_or(0);
                lease.spec = Some(LeaseSpec {
                    lease_transitions: Some(transitions + 1),
                    ..spec
                });
                retry(|| self.leases.replace(&name, &POST, &lease)).await.0
            }
        };
        let lease = match written {
            Ok(lease) => lease,
            // Someone else created or took it between our read and write.
            Err(e) if is_status(&e, 409) => {
                let holder = self
                    .leases
                    .get_opt(&name)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|l| lease_holder(&l, Timestamp::now()))
                    .unwrap_or_else(|| "another executor".into());
                return Err(StoreError::Locked {
                    run: id.to_string(),
                    holder,
                });
            }
            Err(e) => return Err(api_error(format!("cannot take Lease `{name}`"), e)),
        };
        let lost = Arc::new(Mutex::new(None));
        let renew = tokio::spawn(renew(
            self.leases.clone(),
            name.clone(),
            holder.to_string(),
            lease,
            lost.clone(),
        ));
        Ok(KubeLock {
            lost,
            renew: Some(renew),
            leases: Some(self.leases.clone()),
            name,
            holder: holder.to_string(),
        })
    }

    async fn holder(&self, id: &str) -> Result<Option<String>, StoreError> {
        let name = object("rollc-run", id);
        let lease = retry(|| self.leases.get_opt(&name))
            .await
            .0
            .map_err(|e| api_error(format!("cannot read Lease `{name}`"), e))?;
        Ok(lease.and_then(|l| lease_holder(&l, Timestamp::now())))
    }

    async fn journal(&self, id: &str) -> Result<Vec<Record>, StoreError> {
        if !self.exists(id).await? {
            return Err(self.no_run(id));
        }
        let mut records = Vec::new();
        for map in self.list(id, "journal").await? {
            let name = map.metadata.name.clone().unwrap_or_default();
            let text = Self::value(&map, "journal.jsonl").unwrap_or_default();
            for line in text.lines() {
                let record = serde_json::from_str::<Record>(line).map_err(|e| {
                    self.corrupt(&name, format!("record {}: {e}", records.len() + 1))
                })?;
                records.push(record);
            }
        }
        Ok(records)
    }

    async fn appender(&self, id: &str, _durable: bool) -> Result<KubeAppender, StoreError> {
        // Continue the last chunk: the API server's write is already durable.
        let chunks = self.list(id, "journal").await?;
        let (chunk, content, version) = match chunks.last() {
            Some(map) => {
                let name = map.metadata.name.clone().unwrap_or_default();
                let n = name
                    .rsplit_once("-j")
                    .and_then(|(_, n)| n.parse().ok())
                    .ok_or_else(|| self.corrupt(&name, "not a journal chunk name"))?;
                (
                    n,
                    Self::value(map, "journal.jsonl").unwrap_or_default(),
                    map.metadata.resource_version.clone(),
                )
            }
            None => (0, String::new(), None),
        };
        Ok(KubeAppender {
            store: self.clone(),
            run: id.to_string(),
            chunk,
            content,
            version,
        })
    }

    async fn send(&self, run: &str, intent: &IntentFile) -> Result<(), StoreError> {
        let text = serde_json::to_string(intent).expect("intents serialise");
        let name = format!("{}-{}", object("rollc-intent", run), intent.id);
        self.put_map(name, Some(run), "intent", "intent.json", text)
            .await
    }

    async fn intents(&self, run: &str) -> Result<Vec<IntentFile>, StoreError> {
        let mut out = Vec::new();
        for map in self.list(run, "intent").await? {
            let name = map.metadata.name.clone().unwrap_or_default();
            let text = Self::value(&map, "intent.json").unwrap_or_default();
            match serde_json::from_str::<IntentFile>(&text) {
                Ok(intent) => out.push(intent),
                Err(e) => {
                    let id = name
                        .strip_prefix(&format!("{}-", object("rollc-intent", run)))
                        .unwrap_or(&name)
                        .to_string();
                    self.answer(
                        run,
                        &id,
                        &Answer {
                            accepted: false,
                            message: format!("unreadable request: {e}"),
                        },
                    )
                    .await?;
                }
            }
        }
        Ok(out)
    }

    async fn answer(&self, run: &str, id: &str, answer: &Answer) -> Result<(), StoreError> {
        let text = serde_json::to_string(answer).expect("answers serialise");
        let name = format!("{}-{id}", object("rollc-answer", run));
        self.put_map(name, Some(run), "answer", "answer.json", text)
            .await?;
        self.withdraw(run, id).await.map(|_| ())
    }

    async fn answer_of(&self, run: &str, id: &str) -> Result<Option<Answer>, StoreError> {
        let name = format!("{}-{id}", object("rollc-answer", run));
        let Some(map) = self.get_map(&name).await? else {
            return Ok(None);
        };
        let text = Self::value(&map, "answer.json").unwrap_or_default();
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| self.corrupt(&name, e.to_string()))
    }

    async fn withdraw(&self, run: &str, id: &str) -> Result<bool, StoreError> {
        let name = format!("{}-{id}", object("rollc-intent", run));
        let params = DeleteParams::default();
        match retry(|| self.maps.delete(&name, &params)).await.0 {
            Ok(_) => Ok(true),
            Err(e) if is_status(&e, 404) => Ok(false),
            Err(e) => Err(api_error(format!("cannot delete ConfigMap `{name}`"), e)),
        }
    }
}

/// Renews the Lease until aborted; marks the lock lost when another holder has it or when
/// renewals have failed for longer than the lease lasts.
async fn renew(
    leases: Api<Lease>,
    name: String,
    holder: String,
    mut lease: Lease,
    lost: Arc<Mutex<Option<String>>>,
) {
    let mut last_renewal = Timestamp::now();
    loop {
        tokio::time::sleep(Duration::from_secs(RENEW_SECONDS)).await;
        let now = Timestamp::now();
        if let Some(spec) = &mut lease.spec {
            spec.renew_time = Some(MicroTime(now));
        }
        match leases.replace(&name, &PostParams::default(), &lease).await {
            Ok(renewed) => {
                lease = renewed;
                last_renewal = now;
            }
            Err(e) if is_status(&e, 409) => {
                // Someone wrote the Lease: still ours only if it still names us.
                match leases.get_opt(&name).await {
                    Ok(Some(current))
                        if current
                            .spec
                            .as_ref()
                            .and_then(|s| s.holder_identity.as_deref())
                            == Some(holder.as_str()) =>
                    {
                        lease = current;
                    }
                    Ok(current) => {
                        let by = current
                            .and_then(|l| lease_holder(&l, Timestamp::now()))
                            .unwrap_or_else(|| "another executor".into());
                        *lost.lock().expect("not poisoned") =
                            Some(format!("the lease was taken over by {by}"));
                        return;
                    }
                    Err(_) => {}
                }
            }
            Err(_) => {
                if now.duration_since(last_renewal).as_secs() >= i64::from(LEASE_SECONDS) {
                    *lost.lock().expect("not poisoned") = Some(format!(
                        "the lease could not be renewed for {LEASE_SECONDS} s"
                    ));
                    return;
                }
            }
        }
    }
}
