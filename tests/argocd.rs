//! The Argo CD backend end to end over HTTP, against `stub`: a small Kubernetes API server on
//! loopback (hyper) that stores Applications, ApplicationSets and Secrets, serves list, get,
//! watch (streamed, resumable from a `resourceVersion`) and JSON merge patch with
//! `resourceVersion` conflicts, answers SelfSubjectAccessReviews, logs every request, and
//! injects faults. The tests play Argo CD's application controller by editing the stored
//! Applications, and connect through a kubeconfig file, as an operator would.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use jiff::Timestamp;
use serde_json::{Value, json};

use rollc::backends::argocd::{ArgoCd, ArgoCdError, ArgoCdOptions};
use rollc::backends::{Backend, BackendError, ClusterStatus, Observed, SyncRequest};
use rollc::ir::{Attr, Selector, Target};

mod stub {
    //! The loopback Kubernetes API stub.

    use std::collections::{BTreeMap, VecDeque};
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};

    use http_body_util::combinators::BoxBody;
    use http_body_util::{BodyExt, Full, StreamBody};
    use hyper::body::{Bytes, Frame, Incoming};
    use hyper::{Request, Response};
    use hyper_util::rt::TokioIo;
    use serde_json::{Value, json};
    use tokio::net::TcpListener;

    type Body = BoxBody<Bytes, Infallible>;

    /// A fault: the next request with this verb on this resource gets `code`.
    struct Fault {
        verb: String,
        resource: String,
        code: u16,
        retry_after: Option<u64>,
    }

    #[derive(Default)]
    struct State {
        rv: u64,
        /// (resource, name) → object.
        objects: BTreeMap<(String, String), Value>,
        /// (rv, resource, type, object).
        events: Vec<(u64, String, &'static str, Value)>,
        log: Vec<String>,
        /// (name, body) of every PATCH that reached the store or was refused with 409.
        patches: Vec<(String, Value)>,
        faults: VecDeque<Fault>,
        /// "verb resource" pairs SelfSubjectAccessReviews deny.
        denied: Vec<String>,
        /// Per resource, how many times its open watches were expired.
        expired: BTreeMap<String, u64>,
    }

    #[derive(Clone)]
    pub struct Stub {
        state: Arc<Mutex<State>>,
        tick: Arc<tokio::sync::watch::Sender<u64>>,
        pub addr: SocketAddr,
    }

    impl Stub {
        pub async fn start() -> Stub {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (tick, _) = tokio::sync::watch::channel(0);
            let stub = Stub {
                state: Arc::new(Mutex::new(State::default())),
                tick: Arc::new(tick),
                addr,
            };
            let server = stub.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let s = server.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let s = s.clone();
                            async move { Ok::<_, Infallible>(s.handle(req).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
            stub
        }

        /// A kubeconfig for this server, with a second context `elsewhere`.
        pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
            let path = dir.join("kubeconfig");
            let text = format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: stub\n  cluster:\n    server: http://{addr}\n- name: other\n  cluster:\n    server: http://127.0.0.1:1\ncontexts:\n- name: elsewhere\n  context:\n    cluster: other\n    user: nobody\n- name: stub\n  context:\n    cluster: stub\n    user: nobody\n    namespace: argocd\ncurrent-context: elsewhere\nusers:\n- name: nobody\n  user: {{}}\n",
                addr = self.addr
            );
            std::fs::write(&path, text).unwrap();
            path
        }

        fn bump(
            &self,
            state: &mut State,
            resource: &str,
            kind: &'static str,
            mut obj: Value,
        ) -> Value {
            state.rv += 1;
            obj["metadata"]["resourceVersion"] = json!(state.rv.to_string());
            let name = obj["metadata"]["name"].as_str().unwrap().to_string();
            if kind == "DELETED" {
                state.objects.remove(&(resource.to_string(), name));
            } else {
                state
                    .objects
                    .insert((resource.to_string(), name), obj.clone());
            }
            state
                .events
                .push((state.rv, resource.to_string(), kind, obj.clone()));
            self.tick.send_replace(state.rv);
            obj
        }

        /// Creates or replaces an object.
        pub fn put(&self, resource: &str, obj: Value) {
            let mut state = self.state.lock().unwrap();
            let name = obj["metadata"]["name"].as_str().unwrap().to_string();
            let kind = if state.objects.contains_key(&(resource.to_string(), name)) {
                "MODIFIED"
            } else {
                "ADDED"
            };
            self.bump(&mut state, resource, kind, obj);
        }

        /// Edits an object (as a controller would).
        pub fn update(&self, resource: &str, name: &str, edit: impl FnOnce(&mut Value)) {
            let mut state = self.state.lock().unwrap();
            let mut obj = state.objects[&(resource.to_string(), name.to_string())].clone();
            edit(&mut obj);
            self.bump(&mut state, resource, "MODIFIED", obj);
        }

        pub fn delete(&self, resource: &str, name: &str) {
            let mut state = self.state.lock().unwrap();
            let obj = state.objects[&(resource.to_string(), name.to_string())].clone();
            self.bump(&mut state, resource, "DELETED", obj);
        }

        pub fn get(&self, resource: &str, name: &str) -> Value {
            self.state.lock().unwrap().objects[&(resource.to_string(), name.to_string())].clone()
        }

        pub fn log(&self) -> Vec<String> {
            self.state.lock().unwrap().log.clone()
        }

        pub fn patches(&self) -> Vec<(String, Value)> {
            self.state.lock().unwrap().patches.clone()
        }

        pub fn fault(&self, verb: &str, resource: &str, code: u16, retry_after: Option<u64>) {
            self.state.lock().unwrap().faults.push_back(Fault {
                verb: verb.into(),
                resource: resource.into(),
                code,
                retry_after,
            });
        }

        /// Ends every open watch on `resource` with a 410 `Expired` error event (as an API
        /// server does when the watch cache has moved past it); changes made from now on are
        /// only seen by a re-list.
        pub fn expire_watches(&self, resource: &str) {
            let mut state = self.state.lock().unwrap();
            *state.expired.entry(resource.to_string()).or_default() += 1;
            state.rv += 1;
            self.tick.send_replace(state.rv);
        }

        pub fn deny(&self, verb_resource: &str) {
            self.state.lock().unwrap().denied.push(verb_resource.into());
        }

        async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
            let method = req.method().as_str().to_string();
            let path = req.uri().path().to_string();
            let query: BTreeMap<String, String> = req
                .uri()
                .query()
                .unwrap_or("")
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), decode(v)))
                .collect();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let parts: Vec<&str> = path.split('/').collect();
            if method == "POST" && path.ends_with("/selfsubjectaccessreviews") {
                let mut review: Value = serde_json::from_slice(&body).unwrap();
                let attrs = &review["spec"]["resourceAttributes"];
                let key = format!(
                    "{} {}",
                    attrs["verb"].as_str().unwrap_or(""),
                    attrs["resource"].as_str().unwrap_or("")
                );
                let mut state = self.state.lock().unwrap();
                state
                    .log
                    .push(format!("create selfsubjectaccessreviews {key}"));
                let allowed = !state.denied.contains(&key);
                review["status"] = json!({"allowed": allowed});
                return respond(201, &review, None);
            }
            let Some(ns) = parts.iter().position(|p| *p == "namespaces") else {
                return status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                    "",
                    None,
                );
            };
            let resource = parts.get(ns + 2).copied().unwrap_or("").to_string();
            let name = parts.get(ns + 3).map(|n| n.to_string());
            let watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
            let verb = match (method.as_str(), &name) {
                ("GET", Some(_)) => "get",
                ("GET", None) if watch => "watch",
                ("GET", None) => "list",
                ("PATCH", _) => "patch",
                ("PUT", _) => "update",
                _ => "other",
            };
            let mut state = self.state.lock().unwrap();
            state.log.push(match &name {
                Some(n) => format!("{verb} {resource}/{n}"),
                None => format!("{verb} {resource}"),
            });
            if let Some(i) = state
                .faults
                .iter()
                .position(|f| f.verb == verb && f.resource == resource)
            {
                let fault = state.faults.remove(i).unwrap();
                if verb == "watch" && fault.code == 410 {
                    let line = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "too old resource version", "reason": "Expired", "code": 410}});
                    return Response::new(Full::new(Bytes::from(format!("{line}\n"))).boxed());
                }
                if verb == "patch" {
                    let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    state
                        .patches
                        .push((name.clone().unwrap_or_default(), patch));
                }
                return status(
                    fault.code,
                    "Injected",
                    "injected fault",
                    name.as_deref().unwrap_or(""),
                    fault.retry_after,
                );
            }
            let selector = query.get("labelSelector").cloned().unwrap_or_default();
            match verb {
                "get" => {
                    let name = name.unwrap();
                    match state.objects.get(&(resource.clone(), name.clone())) {
                        Some(obj) => respond(200, obj, None),
                        None => status(
                            404,
                            "NotFound",
                            &format!("{resource} \"{name}\" not found"),
                            &name,
                            None,
                        ),
                    }
                }
                "list" => {
                    let items: Vec<Value> = state
                        .objects
                        .iter()
                        .filter(|((r, _), obj)| *r == resource && selects(&selector, obj))
                        .map(|(_, obj)| obj.clone())
                        .collect();
                    let list = json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": state.rv.to_string()}, "items": items});
                    respond(200, &list, None)
                }
                "watch" => {
                    let mut cursor: u64 = query
                        .get("resourceVersion")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let generation = state.expired.get(&resource).copied().unwrap_or(0);
                    drop(state);
                    let (tx, rx) =
                        tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(64);
                    let me = self.clone();
                    tokio::spawn(async move {
                        let mut tick = me.tick.subscribe();
                        loop {
                            let lines: Vec<(u64, String)> = {
                                let state = me.state.lock().unwrap();
                                if state.expired.get(&resource).copied().unwrap_or(0) != generation
                                {
                                    let line = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "too old resource version", "reason": "Expired", "code": 410}});
                                    let _ = tx.try_send(Ok(Frame::data(Bytes::from(format!(
                                        "{line}\n"
                                    )))));
                                    return;
                                }
                                state
                                    .events
                                    .iter()
                                    .filter(|(rv, r, _, obj)| {
                                        *rv > cursor && *r == resource && selects(&selector, obj)
                                    })
                                    .map(|(rv, _, kind, obj)| {
                                        (*rv, format!("{}\n", json!({"type": kind, "object": obj})))
                                    })
                                    .collect()
                            };
                            for (rv, line) in lines {
                                if tx.send(Ok(Frame::data(Bytes::from(line)))).await.is_err() {
                                    return;
                                }
                                cursor = rv;
                            }
                            if tick.changed().await.is_err() {
                                return;
                            }
                        }
                    });
                    let stream = futures::stream::unfold(rx, |mut rx| async move {
                        rx.recv().await.map(|frame| (frame, rx))
                    });
                    Response::new(StreamBody::new(stream).boxed())
                }
                "patch" => {
                    let name = name.unwrap();
                    let patch: Value = serde_json::from_slice(&body).unwrap();
                    state.patches.push((name.clone(), patch.clone()));
                    let Some(current) = state
                        .objects
                        .get(&(resource.clone(), name.clone()))
                        .cloned()
                    else {
                        return status(
                            404,
                            "NotFound",
                            &format!("{resource} \"{name}\" not found"),
                            &name,
                            None,
                        );
                    };
                    if let Some(rv) = patch["metadata"]["resourceVersion"].as_str()
                        && Some(rv) != current["metadata"]["resourceVersion"].as_str()
                    {
                        return status(
                            409,
                            "Conflict",
                            "the object has been modified; please apply your changes to the latest version and try again",
                            &name,
                            None,
                        );
                    }
                    let mut obj = current;
                    merge(&mut obj, &patch);
                    let obj = self.bump(&mut state, &resource, "MODIFIED", obj);
                    respond(200, &obj, None)
                }
                _ => status(
                    405,
                    "MethodNotAllowed",
                    "not supported by the stub",
                    "",
                    None,
                ),
            }
        }
    }

    /// Equality terms of a label selector (`k=v,k2=v2`); other terms select everything
    /// (a superset, as the backend filters exactly).
    fn selects(selector: &str, obj: &Value) -> bool {
        selector
            .split(',')
            .filter(|t| !t.is_empty())
            .all(|term| match term.split_once('=') {
                Some((k, v)) if !k.ends_with('!') => {
                    obj["metadata"]["labels"][k].as_str() == Some(v)
                }
                _ => true,
            })
    }

    fn decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// RFC 7386.
    fn merge(target: &mut Value, patch: &Value) {
        let Value::Object(p) = patch else {
            *target = patch.clone();
            return;
        };
        if !target.is_object() {
            *target = json!({});
        }
        let t = target.as_object_mut().unwrap();
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }

    fn respond(code: u16, body: &Value, retry_after: Option<u64>) -> Response<Body> {
        let mut response = Response::builder()
            .status(code)
            .header("content-type", "application/json");
        if let Some(s) = retry_after {
            response = response.header("retry-after", s.to_string());
        }
        response
            .body(Full::new(Bytes::from(body.to_string())).boxed())
            .unwrap()
    }

    fn status(
        code: u16,
        reason: &str,
        message: &str,
        name: &str,
        retry_after: Option<u64>,
    ) -> Response<Body> {
        let body = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code,
            "details": {"name": name},
        });
        respond(code, &body, retry_after)
    }
}

use stub::Stub;

/// The commit every cluster runs.
const OLD: &str = "1111111111111111111111111111111111111111";
/// The commit pushed: what Argo CD compares with now.
const NEW: &str = "2222222222222222222222222222222222222222";
/// Planted in every Secret's `config`: must never come out.
const MARKER: &str = "CREDENTIAL-MARKER-7f3a9c";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn secret(cluster: &str, server: &str, region: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": format!("cluster-{cluster}"), "namespace": "argocd",
            "labels": {"argocd.argoproj.io/secret-type": "cluster", "region": region},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": format!("{{\"config\":\"{MARKER}\"}}")},
        },
        "type": "Opaque",
        "data": {
            "name": b64(cluster), "server": b64(server),
            "config": b64(&format!("{{\"bearerToken\":\"{MARKER}\"}}")),
        },
    })
}

/// An Application of ApplicationSet `web` (unless `owner` says otherwise), compared with
/// [`NEW`] and running [`OLD`].
fn app(name: &str, destination: Value, owner: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {
            "name": name, "namespace": "argocd", "labels": {"team": "payments"},
            "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "name": owner, "uid": "u-1", "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": {
            "project": "default",
            "destination": destination,
            "source": {"repoURL": "https://git.example.com/web.git", "path": "deploy", "targetRevision": "main"},
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
        },
        "status": {
            "sync": {"status": "OutOfSync", "revision": NEW},
            "health": {"status": "Healthy"},
            "reconciledAt": "2026-01-01T00:00:00Z",
            "history": [{"id": 1, "revision": OLD, "deployedAt": "2026-01-01T00:00:00Z", "deployStartedAt": "2026-01-01T00:00:00Z"}],
            "operationState": {
                "operation": {"sync": {"revision": OLD}, "initiatedBy": {"username": "admin"}},
                "phase": "Succeeded", "message": "successfully synced",
                "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:00Z",
            },
        },
    })
}

/// The fleet: `prod-a` (its Secret's server has a trailing `/`), `prod-b` (its app names the
/// cluster by `destination.name`), `prod-c` (two apps), `idle` (no app: not inventory), an
/// app of another ApplicationSet, and the ApplicationSet.
async fn fleet() -> (Stub, tempfile::TempDir, ArgoCdOptions) {
    let stub = Stub::start().await;
    stub.put("applicationsets", json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "web", "namespace": "argocd"}, "spec": {}}));
    stub.put(
        "secrets",
        secret("prod-a", "https://a.example.com/", "eu-west-1"),
    );
    stub.put(
        "secrets",
        secret("prod-b", "https://b.example.com", "us-east-1"),
    );
    stub.put(
        "secrets",
        secret("prod-c", "https://c.example.com", "eu-west-1"),
    );
    stub.put(
        "secrets",
        secret("idle", "https://idle.example.com", "eu-west-1"),
    );
    stub.put(
        "applications",
        app(
            "web-prod-a",
            json!({"server": "https://a.example.com", "namespace": "web"}),
            "web",
        ),
    );
    stub.put(
        "applications",
        app(
            "web-prod-b",
            json!({"name": "prod-b", "namespace": "web"}),
            "web",
        ),
    );
    stub.put(
        "applications",
        app(
            "web-prod-c",
            json!({"server": "https://c.example.com", "namespace": "web"}),
            "web",
        ),
    );
    stub.put(
        "applications",
        app(
            "api-prod-c",
            json!({"server": "https://c.example.com", "namespace": "api"}),
            "web",
        ),
    );
    stub.put(
        "applications",
        app(
            "other-prod-a",
            json!({"server": "https://a.example.com", "namespace": "x"}),
            "other",
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let options = ArgoCdOptions {
        kubeconfig: Some(stub.kubeconfig(dir.path())),
        context: Some("stub".into()),
        namespace: "argocd".into(),
        target: Target::AppSet {
            name: "web".into(),
            namespace: "argocd".into(),
            project: None,
        },
    };
    (stub, dir, options)
}

fn request(cluster: &str) -> SyncRequest {
    SyncRequest {
        cluster: cluster.into(),
        revision: NEW.into(),
        run: "run-1".into(),
        stage: "canary".into(),
        at: Timestamp::now(),
    }
}

/// Polls until `done` holds for the facts gathered, waiting on `changed` in between.
async fn facts_until(backend: &mut ArgoCd, done: impl Fn(&[Observed]) -> bool) -> Vec<Observed> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut facts = Vec::new();
    loop {
        facts.extend(backend.poll(Timestamp::now()));
        if done(&facts) {
            return facts;
        }
        if tokio::time::timeout_at(deadline, backend.changed())
            .await
            .is_err()
        {
            panic!("timed out; facts so far: {facts:?}");
        }
    }
}

/// Polls for a while and returns everything reported.
async fn facts_for(backend: &mut ArgoCd, wait: Duration) -> Vec<Observed> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut facts = Vec::new();
    loop {
        facts.extend(backend.poll(Timestamp::now()));
        if tokio::time::timeout_at(deadline, backend.changed())
            .await
            .is_err()
        {
            facts.extend(backend.poll(Timestamp::now()));
            return facts;
        }
    }
}

fn status_of<'a>(facts: &'a [Observed], cluster: &str) -> Vec<&'a ClusterStatus> {
    facts
        .iter()
        .filter_map(|f| match f {
            Observed::Status {
                cluster: c, status, ..
            } if c == cluster => Some(status),
            _ => None,
        })
        .collect()
}

/// Plays the application controller on `name`: takes the pending `operation` into
/// `operationState` with `phase`; a completed phase clears `operation`, and `Succeeded`
/// deploys the revision with a fresh status (`reconciledAt` = `finishedAt`).
fn controller(stub: &Stub, name: &str, phase: &str, health: &str, message: &str) {
    stub.update("applications", name, |app| {
        let now = Timestamp::now();
        let second = Timestamp::from_second(now.as_second()).unwrap().to_string();
        let op = if app["operation"].is_object() {
            app["operation"].clone()
        } else {
            app["status"]["operationState"]["operation"].clone()
        };
        let revision = op["sync"]["revision"].clone();
        app["status"]["operationState"] = json!({
            "operation": op, "phase": phase, "message": message, "startedAt": second,
            "syncResult": {"revision": revision},
        });
        if phase != "Running" {
            app["status"]["operationState"]["finishedAt"] = json!(second);
            app["operation"] = Value::Null;
        }
        if phase == "Succeeded" {
            app["status"]["sync"] = json!({"status": "Synced", "revision": revision});
            app["status"]["reconciledAt"] = json!(second);
            app["status"]["health"] = json!({"status": health, "message": message});
        }
    });
}

#[tokio::test]
async fn connects_through_a_kubeconfig_and_reads_the_inventory() {
    let (stub, _dir, options) = fleet().await;
    let mut backend = ArgoCd::connect(&options).await.unwrap();
    let now = Timestamp::now();
    let clusters = backend.inventory(now).await.unwrap();
    let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["prod-a", "prod-b", "prod-c"]);
    assert_eq!(clusters[0].server, "https://a.example.com");
    assert_eq!(clusters[0].labels["region"], "eu-west-1");
    assert_eq!(clusters[0].labels.len(), 1);
    assert_eq!(backend.cluster_apps("prod-c"), ["api-prod-c", "web-prod-c"]);
    assert_eq!(backend.head_revision(now).await.unwrap(), NEW);
    assert_eq!(
        backend
            .deployed_revision("prod-a", now)
            .await
            .unwrap()
            .as_deref(),
        Some(OLD)
    );
    assert_eq!(backend.deployed_revision("nope", now).await.unwrap(), None);
    // No credential anywhere rollc keeps or prints.
    let debug = format!("{backend:?} {clusters:?}");
    assert!(!debug.contains(MARKER) && !debug.contains("bearerToken"));
    // The requests: the ApplicationSet, the lists, the access reviews, the watches.
    let log = stub.log();
    for expected in [
        "get applicationsets/web",
        "list applications",
        "list secrets",
        "create selfsubjectaccessreviews patch applications",
        "create selfsubjectaccessreviews watch secrets",
    ] {
        assert!(
            log.iter().any(|l| l == expected),
            "{expected} not in {log:?}"
        );
    }
    // Nothing synced, nothing reported.
    assert!(
        facts_for(&mut backend, Duration::from_millis(300))
            .await
            .is_empty()
    );
    assert!(stub.patches().is_empty());
}

#[tokio::test]
async fn an_apps_target_uses_a_label_selector() {
    let (stub, _dir, mut options) = fleet().await;
    stub.update("applications", "web-prod-b", |a| {
        a["metadata"]["labels"]["team"] = json!("search");
    });
    options.target = Target::Apps {
        selector: Selector::Eq {
            key: Attr::Label("team".into()),
            value: "payments".into(),
        },
        namespace: "argocd".into(),
        project: Some("default".into()),
    };
    let mut backend = ArgoCd::connect(&options).await.unwrap();
    let clusters = backend.inventory(Timestamp::now()).await.unwrap();
    let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["prod-a", "prod-c"]);
    assert_eq!(
        backend.cluster_apps("prod-a"),
        ["other-prod-a", "web-prod-a"]
    );
}

#[tokio::test]
async fn connect_errors_say_what_to_do() {
    let (stub, dir, options) = fleet().await;
    // Unknown context: the contexts there are.
    let mut wrong = options.clone();
    wrong.context = Some("prod".into());
    let e = ArgoCd::connect(&wrong).await.unwrap_err();
    assert!(matches!(e, ArgoCdError::UnknownContext { .. }), "{e:?}");
    let text = e.with_help();
    assert!(text.contains("`elsewhere`, `stub`"), "{text}");
    // Unreachable: the current context's server listens nowhere.
    let mut unreachable = options.clone();
    unreachable.context = None;
    let e = ArgoCd::connect(&unreachable).await.unwrap_err();
    assert!(matches!(e, ArgoCdError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("http://127.0.0.1:1"), "{e}");
    // A missing kubeconfig file.
    let mut missing = options.clone();
    missing.kubeconfig = Some(dir.path().join("nope"));
    let e = ArgoCd::connect(&missing).await.unwrap_err();
    assert!(matches!(e, ArgoCdError::Kubeconfig { .. }), "{e:?}");
    // The ApplicationSet does not exist.
    let mut other = options.clone();
    other.target = Target::AppSet {
        name: "webb".into(),
        namespace: "argocd".into(),
        project: None,
    };
    let e = ArgoCd::connect(&other).await.unwrap_err();
    assert!(matches!(e, ArgoCdError::AppSetNotFound { .. }), "{e:?}");
    assert!(
        e.with_help()
            .contains("kubectl get applicationsets -n argocd")
    );
    // 401.
    stub.fault("get", "applicationsets", 401, None);
    let e = ArgoCd::connect(&options).await.unwrap_err();
    assert!(matches!(e, ArgoCdError::Unauthorized { .. }), "{e:?}");
    // 403 on a list: the verb, the resource, the RBAC file.
    stub.fault("list", "secrets", 403, None);
    let e = ArgoCd::connect(&options).await.unwrap_err();
    let text = e.with_help();
    assert!(
        text.contains("not allowed to `list` secrets in namespace `argocd`"),
        "{text}"
    );
    assert!(text.contains("deploy/rbac.yaml"), "{text}");
    // A permission only used later (patch) is found missing now.
    stub.deny("patch applications");
    let e = ArgoCd::connect(&options).await.unwrap_err();
    let text = e.with_help();
    assert!(text.contains("`patch` applications.argoproj.io"), "{text}");
    assert!(text.contains("deploy/rbac.yaml"), "{text}");
}

#[tokio::test]
async fn autosync_is_refused_with_both_fixes() {
    let (stub, _dir, options) = fleet().await;
    stub.update("applications", "web-prod-b", |a| {
        a["spec"]["syncPolicy"]["automated"] = json!({"prune": true});
    });
    // Disabled autosync (what RollingSync leaves behind) is fine.
    stub.update("applications", "web-prod-a", |a| {
        a["spec"]["syncPolicy"]["automated"] = json!({"prune": true, "enabled": false});
    });
    let mut backend = ArgoCd::connect(&options).await.unwrap();
    assert_eq!(backend.autosync_apps(), ["web-prod-b"]);
    let e = backend.check_autosync().unwrap_err();
    assert!(matches!(e, ArgoCdError::Autosync { .. }));
    let Err(BackendError::Refused(message)) = backend.inventory(Timestamp::now()).await else {
        panic!("inventory must refuse");
    };
    assert!(message.contains("`web-prod-b` is auto-synced"), "{message}");
    assert!(message.contains("ApplicationSet template"), "{message}");
    assert!(
        message.contains("ignoreApplicationDifferences: [{jsonPointers: [/spec/syncPolicy]}]"),
        "{message}"
    );
    // And a sync of it is refused too.
    let Err(BackendError::Refused(m)) = backend.sync(&request("prod-b")).await else {
        panic!("sync must refuse");
    };
    assert!(m.contains("auto-synced"), "{m}");
    assert!(stub.patches().is_empty());
}

#[tokio::test]
async fn an_unmapped_application_is_named() {
    let (stub, _dir, options) = fleet().await;
    stub.put(
        "applications",
        app(
            "web-lost",
            json!({"server": "https://lost.example.com"}),
            "web",
        ),
    );
    let mut backend = ArgoCd::connect(&options).await.unwrap();
    let Err(BackendError::Refused(m)) = backend.inventory(Timestamp::now()).await else {
        panic!("inventory must refuse");
    };
    assert!(
        m.contains("`web-lost`") && m.contains("https://lost.example.com"),
        "{m}"
    );
}

#[tokio::test]
async fn sync_writes_the_operation_and_judging_follows_the_watch() {
    let (stub, _dir, options) = fleet().await;
    let mut backend = ArgoCd::connect(&options).await.unwrap();
    backend.inventory(Timestamp::now()).await.unwrap();
    let req = request("prod-a");
    let rv_before = stub.get("applications", "web-prod-a")["metadata"]["resourceVersion"].clone();
    backend.sync(&req).await.unwrap();
    let patches = stub.patches();
    assert_eq!(patches.len(), 1);
    let (name, patch) = &patches[0];
    assert_eq!(name, "web-prod-a");
    assert_eq!(patch["metadata"]["resourceVersion"], rv_before);
    assert_eq!(patch["operation"]["sync"]["revision"], NEW);
    assert_eq!(
        patch["operation"]["sync"]["source"]["targetRevision"],
        "main"
    );
    assert_eq!(
        patch["operation"]["sync"]["syncOptions"],
        json!(["CreateNamespace=true"])
    );
    assert_eq!(
        patch["operation"]["initiatedBy"],
        json!({"username": "rollc"})
    );
    assert_eq!(
        patch["operation"]["info"][0],
        json!({"name": "Reason", "value": "rollc run run-1 stage canary"})
    );
    assert_eq!(patch["status"], json!({"operationState": null}));
    let stored = stub.get("applications", "web-prod-a");
    assert!(stored["status"]["operationState"].is_null());
    // A retry of the same request (the executor retries after an error) writes nothing.
    backend.sync(&req).await.unwrap();
    assert_eq!(stub.patches().len(), 1);

    // The old Synced/Healthy status of other apps says nothing; nothing is reported yet.
    assert!(
        facts_for(&mut backend, Duration::from_millis(300))
            .await
            .is_empty()
    );
    // Running: still progressing, nothing to report.
    controller(&stub, "web-prod-a", "Running", "Progressing", "");
    assert!(
        status_of(
            &facts_for(&mut backend, Duration::from_millis(300)).await,
            "prod-a"
        )
        .is_empty()
    );
    // Succeeded, fresh, Synced at the revision, Healthy.
    controller(&stub, "web-prod-a", "Succeeded", "Healthy", "ok");
    let facts = facts_until(&mut backend, |f| !status_of(f, "prod-a").is_empty()).await;
    assert_eq!(status_of(&facts, "prod-a"), [&ClusterStatus::Healthy]);
    // Later, while baking: Degraded.
    stub.update("applications", "web-prod-a", |a| {
        a["status"]["health"] =
            json!({"status": "Degraded", "message": "Deployment web is not available"});
    });
    let facts = facts_until(&mut backend, |f| !status_of(f, "prod-a").is_empty()).await;
    assert_eq!(
        status_of(&facts, "prod-a"),
        [&ClusterStatus::Degraded {
            reason: "Application `web-prod-a`: Deployment web is not available".into()
        }]
    );
}

#[tokio::test]
async fn a_cluster_is_done_when_all_its_apps_are() {
    let (stub, _dir, options) = fleet().await;
    let mut backend = ArgoCd::connect(&options).await.unwrap();
    backend.inventory(Timestamp::now()).await.unwrap();
    backend.sync(&request("prod-c")).await.unwrap();
    let names: Vec<String> = stub.patches().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["api-prod-c", "web-prod-c"]);
    controller(&stub, "web-prod-c", "Succeeded", "Healthy", "ok");
    assert!(
        status_of(
            &facts_for(&mut backend, Duration::from_millis(300)).await,
            "prod-c"
        )
        .is_empty()
    );
    controller(
        &stub,
        "api-prod-c",
        "Failed",
        "Healthy",
        "one or more objects failed to apply",
    );
    let facts = facts_until(&mut backend, |f| !status_of(f, "prod-c").is_empty()).await;
    assert_eq!(
        status_of(&facts, "prod-c"),
        [&ClusterStatus::SyncFailed {
            reason: "Application `api-prod-c`: one or more objects failed to apply".into()
        }]
    );
}

#[tokio::test]
async fn a_conflict_is_retried_after_a_fresh_get() {
    let (stub, _dir, options) = fleet().await;
    let mut backend = ArgoCd::connect(&options).await.unwrap();
    backend.inventory(Timestamp::now()).await.unwrap();
    // Someone writes the app between rollc's GET and PATCH.
    stub.fault("patch", "applications", 409, None);
    backend.sync(&request("prod-a")).await.unwrap();
    let log: Vec<String> = stub
        .log()
        .into_iter()
        .filter(|l| l.ends_with("applications/web-prod-a"))
        .collect();
    assert_eq!(
        log,
        [
            "get applications/web-prod-a",
            "patch applications/web-prod-a",
            "get applications/web-prod-a",
            "patch applications/web-prod-a"
        ]
    );
    assert_eq!(
        stub.get("applications", "web-prod-a")["operation"]["initiatedBy"]["username"],
        "rollc"
    );
}

#[tokio::test]
async fn an_existing_operation_is_never_overwritten() {
    let (stub, _dir, options) = fleet().await;
    stub.update("applications", "web-prod-b", |a| {
        a["operation"] =
            json!({"sync": {"revision": OLD}, "initiatedBy": {"username": "alice@example.com"}});
    });
    let mut backend = ArgoCd::connect(&options).await.unwrap();
    backend.inventory(Timestamp::now()).await.unwrap();
    let req = request("prod-b");
    backend.sync(&req).await.unwrap();
    assert!(
        stub.patches().is_empty(),
        "rollc wrote over alice's operation"
    );
    let notices = backend.take_notices();
    assert!(
        notices
            .iter()
            .any(|n| n.contains("`web-prod-b`") && n.contains("alice@example.com")),
        "{notices:?}"
    );
    assert_eq!(
        stub.get("applications", "web-prod-b")["operation"]["initiatedBy"]["username"],
        "alice@example.com"
    );
    // Alice's operation finishes: rollc writes its own, through the watch.
    controller(&stub, "web-prod-b", "Succeeded", "Healthy", "alice's sync");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stub.patches().is_empty() {
        let _ = backend.poll(Timestamp::now());
        let _ = tokio::time::timeout_at(deadline, backend.changed()).await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "rollc never wrote its operation"
        );
    }
    let (_, patch) = &stub.patches()[0];
    assert_eq!(patch["operation"]["sync"]["revision"], NEW);
    assert_eq!(patch["operation"]["initiatedBy"]["username"], "rollc");
    // Alice's Synced/Healthy result never passed for rollc's.
    controller(&stub, "web-prod-b", "Succeeded", "Healthy", "ok");
    let facts = facts_until(&mut backend, |f| !status_of(f, "prod-b").is_empty()).await;
    assert_eq!(status_of(&facts, "prod-b"), [&ClusterStatus::Healthy]);
}

#[tokio::test]
async fn adopt_watches_a_written_sync_and_writes_a_lost_one() {
    let (stub, _dir, options) = fleet().await;
    let req_a = request("prod-a");
    {
        // An earlier executor wrote prod-a's sync, then stopped.
        let mut first = ArgoCd::connect(&options).await.unwrap();
        first.inventory(Timestamp::now()).await.unwrap();
        first.sync(&req_a).await.unwrap();
    }
    controller(&stub, "web-prod-a", "Running", "Progressing", "");
    let req_b = request("prod-b"); // journaled, never written
    let mut backend = ArgoCd::connect(&options).await.unwrap();
    backend.inventory(Timestamp::now()).await.unwrap();
    backend.adopt(&req_a).await.unwrap();
    assert_eq!(
        stub.patches().len(),
        1,
        "adopt must not write a second sync"
    );
    backend.adopt(&req_b).await.unwrap();
    let patches = stub.patches();
    assert_eq!(patches.len(), 2);
    assert_eq!(patches[1].0, "web-prod-b");
    controller(&stub, "web-prod-a", "Succeeded", "Healthy", "ok");
    let facts = facts_until(&mut backend, |f| !status_of(f, "prod-a").is_empty()).await;
    assert_eq!(status_of(&facts, "prod-a"), [&ClusterStatus::Healthy]);
}

#[tokio::test]
async fn throttling_is_unavailable_after_retry_after() {
    let (stub, _dir, options) = fleet().await;
    let mut backend = ArgoCd::connect(&options).await.unwrap();
    backend.inventory(Timestamp::now()).await.unwrap();
    stub.fault("patch", "applications", 429, Some(1));
    let started = std::time::Instant::now();
    let result = backend.sync(&request("prod-a")).await;
    assert!(
        matches!(result, Err(BackendError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    stub.fault("get", "applications", 503, None);
    let result = backend.sync(&request("prod-a")).await;
    assert!(
        matches!(result, Err(BackendError::Unavailable(_))),
        "{result:?}"
    );
    // The executor's retry then succeeds.
    backend.sync(&request("prod-a")).await.unwrap();
    assert_eq!(
        stub.get("applications", "web-prod-a")["operation"]["initiatedBy"]["username"],
        "rollc"
    );
}

#[tokio::test]
async fn fleet_changes_and_new_revisions_come_through_the_watch() {
    let (stub, _dir, options) = fleet().await;
    let mut backend = ArgoCd::connect(&options).await.unwrap();
    backend.inventory(Timestamp::now()).await.unwrap();
    // Relabelled.
    stub.update("secrets", "cluster-prod-a", |s| {
        s["metadata"]["labels"]["drained"] = json!("true");
    });
    let facts = facts_until(&mut backend, |f| {
        f.iter().any(|o| matches!(o, Observed::Relabeled(_)))
    })
    .await;
    let Some(Observed::Relabeled(c)) = facts.iter().find(|o| matches!(o, Observed::Relabeled(_)))
    else {
        unreachable!()
    };
    assert_eq!(c.name, "prod-a");
    assert_eq!(c.labels["drained"], "true");
    // Joined: the idle cluster gets an app. Left: prod-b's app is deleted.
    stub.put(
        "applications",
        app(
            "web-idle",
            json!({"server": "https://idle.example.com"}),
            "web",
        ),
    );
    stub.delete("applications", "web-prod-b");
    let facts = facts_until(&mut backend, |f| {
        f.iter().any(|o| matches!(o, Observed::Joined(_)))
            && f.iter().any(|o| matches!(o, Observed::Left { .. }))
    })
    .await;
    assert!(
        facts
            .iter()
            .any(|o| matches!(o, Observed::Joined(c) if c.name == "idle"))
    );
    assert!(facts.contains(&Observed::Left {
        cluster: "prod-b".into()
    }));
    // A push: once every target app is compared with the new commit, it is reported.
    const NEWER: &str = "3333333333333333333333333333333333333333";
    for name in ["web-prod-a", "web-prod-c", "api-prod-c"] {
        stub.update("applications", name, |a| {
            a["status"]["sync"]["revision"] = json!(NEWER)
        });
    }
    assert!(
        !facts_for(&mut backend, Duration::from_millis(300))
            .await
            .iter()
            .any(|o| matches!(o, Observed::Revision(_)))
    );
    stub.update("applications", "web-idle", |a| {
        a["status"]["sync"]["revision"] = json!(NEWER)
    });
    let facts = facts_until(&mut backend, |f| {
        f.iter().any(|o| matches!(o, Observed::Revision(_)))
    })
    .await;
    assert!(facts.contains(&Observed::Revision(NEWER.into())));
}

#[tokio::test]
async fn a_watch_that_expires_relists_without_losing_facts() {
    let (stub, _dir, options) = fleet().await;
    let mut backend = ArgoCd::connect(&options).await.unwrap();
    backend.inventory(Timestamp::now()).await.unwrap();
    backend.sync(&request("prod-a")).await.unwrap();
    // Let the watches settle, then expire the application watch (410): the change made
    // after it is only visible through the re-list.
    let _ = facts_for(&mut backend, Duration::from_millis(300)).await;
    stub.expire_watches("applications");
    controller(&stub, "web-prod-a", "Succeeded", "Healthy", "ok");
    let facts = facts_until(&mut backend, |f| !status_of(f, "prod-a").is_empty()).await;
    assert_eq!(status_of(&facts, "prod-a"), [&ClusterStatus::Healthy]);
    let lists = stub
        .log()
        .iter()
        .filter(|l| *l == "list applications")
        .count();
    assert!(lists >= 2, "no re-list: {:?}", stub.log());
}

#[test]
fn options_default_to_the_argocd_namespace() {
    let target = Target::AppSet {
        name: "web".into(),
        namespace: "argocd".into(),
        project: None,
    };
    let options = ArgoCdOptions::new(target);
    assert_eq!(options.namespace, "argocd");
    assert_eq!(options.kubeconfig, None::<PathBuf>);
}

#[path = "support/fake_argocd/mod.rs"]
mod fake_argocd;

/// The same backend against the full fake Argo CD (`tests/support/fake_argocd`): its
/// emulated application controller runs the syncs, and it enforces `deploy/rbac.yaml`, so
/// these prove the backend works with exactly the permissions shipped.
mod with_the_fake {
    use super::fake_argocd::{self, ClusterSet, FakeArgoCd, Kind, Options};
    use super::*;

    const FLEET: &str = r#"
defaults:
  revision: "a1f9c3e"
  deployed: "7d2b40c"
  sync: 20s
  outcome: healthy
clusters:
  - name: prod-1
    server: https://one.example.com
    labels: {region: "eu-west-1"}
  - name: prod-2
    server: https://two.example.com
    labels: {region: "us-east-1"}
    sim: {outcome: degraded}
  - name: prod-3
    server: https://three.example.com
    labels: {region: "eu-west-1"}
    sim: {outcome: sync-failed}
"#;

    async fn start(options: Options) -> (FakeArgoCd, tempfile::TempDir, ArgoCdOptions) {
        let fleet = rollc::fleet::parse(rollc::source::FileId(0), FLEET).unwrap();
        let fake = fake_argocd::start(
            &fleet,
            Options {
                appset: "web".into(),
                speed: 600.0,
                destination_name: ClusterSet::parse("prod-2"),
                trailing_slash: ClusterSet::parse("prod-3"),
                ..options
            },
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        fake.write_kubeconfig(&path).unwrap();
        let options = ArgoCdOptions {
            kubeconfig: Some(path),
            context: None,
            namespace: "argocd".into(),
            target: Target::AppSet {
                name: "web".into(),
                namespace: "argocd".into(),
                project: None,
            },
        };
        (fake, dir, options)
    }

    #[tokio::test]
    async fn a_rollout_step_with_only_the_shipped_rbac() {
        let (fake, _dir, options) = start(Options::default()).await;
        let mut backend = ArgoCd::connect(&options).await.unwrap();
        let now = Timestamp::now();
        let clusters = backend.inventory(now).await.unwrap();
        let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["prod-1", "prod-2", "prod-3"]);
        assert_eq!(clusters[0].labels["region"], "eu-west-1");
        assert_eq!(backend.head_revision(now).await.unwrap(), "a1f9c3e");
        for c in &names {
            assert_eq!(
                backend.deployed_revision(c, now).await.unwrap().as_deref(),
                Some("7d2b40c")
            );
        }

        for c in &names {
            backend.sync(&request_at(c)).await.unwrap();
        }
        let facts = facts_until(&mut backend, |f| {
            ["prod-1", "prod-2", "prod-3"]
                .iter()
                .all(|c| !status_of(f, c).is_empty())
        })
        .await;
        assert_eq!(status_of(&facts, "prod-1"), [&ClusterStatus::Healthy]);
        assert!(matches!(
            status_of(&facts, "prod-2")[..],
            [ClusterStatus::Degraded { .. }]
        ));
        assert!(matches!(
            status_of(&facts, "prod-3")[..],
            [ClusterStatus::SyncFailed { .. }]
        ));
        // Every operation was written once, by rollc, at the pinned revision.
        let writes = fake.operation_writes();
        assert_eq!(writes.len(), 3);
        for (record, op) in &writes {
            assert_eq!(record.verb, "patch");
            assert_eq!(op["sync"]["revision"], "a1f9c3e");
            assert_eq!(op["initiatedBy"]["username"], "rollc");
        }
        // Nothing rollc needs was refused by the shipped Role (access reviews aside, which
        // rollc only uses to report missing permissions early).
        let refused: Vec<String> = fake
            .requests()
            .iter()
            .filter(|r| {
                r.status == 403 && r.resource.as_deref() != Some("selfsubjectaccessreviews")
            })
            .map(|r| format!("{} {}", r.verb, r.path))
            .collect();
        assert!(refused.is_empty(), "{refused:?}");
        // Secrets were only listed and watched; the credentials never came out.
        assert!(
            fake.requests()
                .iter()
                .all(|r| r.resource.as_deref() != Some("secrets")
                    || r.verb == "list"
                    || r.verb == "watch")
        );
        let marker = fake_argocd::secret_marker("prod-1");
        assert!(!format!("{backend:?} {clusters:?} {facts:?}").contains(&marker));
        let _ = fake
            .get(Kind::Secret, &fake_argocd::secret_name("prod-1"))
            .unwrap();
    }

    #[tokio::test]
    async fn a_foreign_operation_is_waited_for() {
        let (fake, _dir, options) = start(Options::default()).await;
        let mut backend = ArgoCd::connect(&options).await.unwrap();
        backend.inventory(Timestamp::now()).await.unwrap();
        let app = fake.app_name("prod-1");
        fake.pause_controller(true);
        fake.start_foreign_sync(&app, "7d2b40c").unwrap();
        backend.sync(&request_at("prod-1")).await.unwrap();
        assert!(fake.operation_writes().is_empty());
        assert!(backend.take_notices().iter().any(|n| n.contains(&app)));
        fake.pause_controller(false);
        let facts = facts_until(&mut backend, |f| !status_of(f, "prod-1").is_empty()).await;
        assert_eq!(status_of(&facts, "prod-1"), [&ClusterStatus::Healthy]);
        let writes = fake.operation_writes();
        assert_eq!(writes.len(), 1, "{writes:?}");
        assert_eq!(writes[0].1["initiatedBy"]["username"], "rollc");
    }

    fn request_at(cluster: &str) -> SyncRequest {
        SyncRequest {
            cluster: cluster.into(),
            revision: "a1f9c3e".into(),
            run: "run-9".into(),
            stage: "all".into(),
            at: Timestamp::now(),
        }
    }
}
