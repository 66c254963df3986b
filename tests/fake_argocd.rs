//! The fake Argo CD (tests/support/fake_argocd) driven through real clients: kube-rs (the
//! client rollc's Argo CD backend uses), raw HTTP, kubectl, and the example binary.

#[path = "support/fake_argocd/mod.rs"]
mod fake_argocd;

use std::path::Path;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
    PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

use fake_argocd::{ClusterSet, FakeArgoCd, Fault, Kind, Options, RbacMode};

/// A small fleet with every simulated outcome. At speed 1200, a minute of sim time is
/// 50 ms: a 10m sync takes 500 ms.
const FLEET: &str = r#"
defaults:
  revision: "b2b2b2b"
  deployed: "a1a1a1a"
  sync: 10m
  outcome: healthy
clusters:
  - name: good
    server: https://good.example
    labels: {env: prod, region: eu-west-1}
  - name: failing
    server: https://failing.example
    labels: {env: prod, region: eu-west-1}
    sim: {outcome: sync-failed}
  - name: degraded
    server: https://degraded.example
    labels: {env: prod, region: us-east-1}
    sim: {outcome: degraded}
  - name: stuck
    server: https://stuck.example
    labels: {env: staging, region: us-east-1}
    sim: {outcome: never-healthy, sync: 4m}
  - name: flappy
    server: https://flappy.example
    labels: {env: staging}
    sim: {outcome: flap, sync: 2m, flap_after: 4m, flap_for: 2m}
"#;

const SPEED: f64 = 1200.0;

fn fleet(text: &str) -> rollc::fleet::Fleet {
    rollc::fleet::parse(rollc::source::FileId(0), text).expect("a valid fleet")
}

fn options() -> Options {
    Options {
        speed: SPEED,
        bookmark_interval: Duration::from_millis(100),
        ..Options::default()
    }
}

async fn fake_with(options: Options) -> FakeArgoCd {
    fake_argocd::start(&fleet(FLEET), options)
        .await
        .expect("the fake starts")
}

async fn client(fake: &FakeArgoCd) -> Client {
    let kubeconfig = Kubeconfig::from_yaml(&fake.kubeconfig()).expect("a valid kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig");
    Client::try_from(config).expect("a client")
}

fn applications(client: &Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "applications");
    Api::namespaced_with(client.clone(), "argocd", &resource)
}

fn api_error(error: kube::Error) -> Box<kube::core::Status> {
    match error {
        kube::Error::Api(status) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn field<'a>(obj: &'a DynamicObject, pointer: &str) -> Option<&'a Value> {
    obj.data.pointer(pointer)
}

#[tokio::test]
async fn cluster_secrets_by_label_selector() {
    let fake = fake_with(options()).await;
    let secrets: Api<Secret> = Api::namespaced(client(&fake).await, "argocd");
    let all = secrets
        .list(&ListParams::default().labels("argocd.argoproj.io/secret-type=cluster"))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 5);
    let good = all
        .items
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("cluster-good"))
        .unwrap();
    let data = good.data.as_ref().unwrap();
    assert_eq!(data["name"].0, b"good");
    assert_eq!(data["server"].0, b"https://good.example");
    let config = String::from_utf8(data["config"].0.clone()).unwrap();
    assert!(
        config.contains(&fake_argocd::secret_marker("good")),
        "{config}"
    );
    let labels = good.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["region"], "eu-west-1");

    for (selector, want) in [
        ("argocd.argoproj.io/secret-type=cluster,region=eu-west-1", 2),
        ("argocd.argoproj.io/secret-type==cluster,env!=prod", 2),
        (
            "argocd.argoproj.io/secret-type=cluster,region in (us-east-1, nowhere)",
            2,
        ),
        (
            "argocd.argoproj.io/secret-type=cluster,region notin (us-east-1)",
            3,
        ),
        ("argocd.argoproj.io/secret-type=cluster,!region", 1),
        ("region", 4),
        ("argocd.argoproj.io/secret-type=repository", 0),
    ] {
        let got = secrets
            .list(&ListParams::default().labels(selector))
            .await
            .unwrap();
        assert_eq!(got.items.len(), want, "{selector}");
    }
    let by_name = secrets
        .list(&ListParams::default().fields("metadata.name=cluster-stuck"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    let bad = secrets
        .list(&ListParams::default().fields("spec.nodeName=x"))
        .await
        .unwrap_err();
    assert_eq!(api_error(bad).code, 400);

    // Pages: limit and continue, at one consistent resourceVersion.
    let first = secrets.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().expect("a continue token");
    fake.merge_patch(
        Kind::Secret,
        "cluster-stuck",
        &json!({"metadata": {"labels": {"x": "y"}}}),
    )
    .unwrap();
    let rest = secrets
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 3);
    assert_eq!(
        rest.metadata.resource_version,
        first.metadata.resource_version
    );
    let stuck = rest
        .items
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("cluster-stuck"))
        .unwrap();
    assert!(
        !stuck.metadata.labels.as_ref().unwrap().contains_key("x"),
        "the page is of the snapshot"
    );

    let lists: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.is("list", "secrets"))
        .collect();
    assert_eq!(
        lists[0].param("labelSelector").as_deref(),
        Some("argocd.argoproj.io/secret-type=cluster")
    );
}

#[tokio::test]
async fn applications_are_generated_by_the_appset() {
    let fake = fake_with(Options {
        destination_name: ClusterSet::Named(vec!["stuck".into()]),
        trailing_slash: ClusterSet::Named(vec!["flappy".into()]),
        autosync: ClusterSet::Named(vec!["degraded".into()]),
        ..options()
    })
    .await;
    let client = client(&fake).await;
    let apps = applications(&client)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(apps.items.len(), 5);
    let appset = fake.get(Kind::ApplicationSet, "guestbook").unwrap();
    let good = apps
        .items
        .iter()
        .find(|a| a.metadata.name.as_deref() == Some("guestbook-good"))
        .unwrap();
    let owner = &good.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.kind, "ApplicationSet");
    assert_eq!(owner.name, "guestbook");
    assert_eq!(owner.uid, appset["metadata"]["uid"].as_str().unwrap());
    assert_eq!(owner.controller, Some(true));
    assert_eq!(owner.block_owner_deletion, Some(true));
    assert_eq!(
        field(good, "/spec/destination/server"),
        Some(&json!("https://good.example"))
    );
    assert_eq!(
        field(good, "/spec/source/targetRevision"),
        Some(&json!("main"))
    );
    assert!(field(good, "/spec/syncPolicy").is_none());
    // As Argo CD's refresh shows it: the head is b2b2b2b, a1a1a1a runs.
    assert_eq!(
        field(good, "/status/sync/status"),
        Some(&json!("OutOfSync"))
    );
    assert_eq!(
        field(good, "/status/sync/revision"),
        Some(&json!("b2b2b2b"))
    );
    assert_eq!(
        field(good, "/status/health/status"),
        Some(&json!("Healthy"))
    );
    assert_eq!(
        field(good, "/status/history/0/revision"),
        Some(&json!("a1a1a1a"))
    );
    assert_eq!(field(good, "/status/history/0/id"), Some(&json!(1)));
    assert_eq!(
        field(good, "/status/operationState/phase"),
        Some(&json!("Succeeded"))
    );
    assert!(field(good, "/operation").is_none());
    let get = |name: &str| {
        apps.items
            .iter()
            .find(|a| a.metadata.name.as_deref() == Some(name))
            .unwrap()
    };
    assert_eq!(
        field(get("guestbook-stuck"), "/spec/destination"),
        Some(&json!({"name": "stuck", "namespace": "guestbook"}))
    );
    assert_eq!(
        field(get("guestbook-flappy"), "/spec/destination/server"),
        Some(&json!("https://flappy.example/"))
    );
    assert_eq!(
        field(get("guestbook-degraded"), "/spec/syncPolicy/automated"),
        Some(&json!({"prune": true, "selfHeal": true}))
    );
    // Custom resource list items carry kind and apiVersion.
    assert_eq!(good.types.as_ref().unwrap().kind, "Application");

    // The brief's literal status model, on request.
    let literal = fake_with(Options {
        synced_at_deployed: true,
        ..options()
    })
    .await;
    let app = literal.application("good").unwrap();
    assert_eq!(app["status"]["sync"]["status"], "Synced");
    assert_eq!(app["status"]["sync"]["revision"], "a1a1a1a");
}

#[tokio::test]
async fn get_and_watch_applications_with_bookmarks() {
    let fake = fake_with(options()).await;
    let client = client(&fake).await;
    let apps = applications(&client);
    let app = apps.get("guestbook-good").await.unwrap();
    assert_eq!(field(&app, "/spec/project"), Some(&json!("default")));
    // Watch from the collection's resourceVersion (an object's would replay the
    // collection's later changes).
    let rv = apps
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let missing = api_error(apps.get("guestbook-nope").await.unwrap_err());
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(
        missing.message,
        r#"applications.argoproj.io "guestbook-nope" not found"#
    );

    let mut stream = apps
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    fake.merge_patch(
        Kind::Application,
        "guestbook-good",
        &json!({"metadata": {"annotations": {"touched": "yes"}}}),
    )
    .unwrap();
    let mut modified = false;
    let mut bookmarks = 0;
    while let Some(event) = tokio::time::timeout(Duration::from_secs(3), stream.try_next())
        .await
        .expect("events before the timeout")
        .unwrap()
    {
        match event {
            WatchEvent::Modified(obj) => {
                assert_eq!(obj.metadata.name.as_deref(), Some("guestbook-good"));
                assert_eq!(obj.metadata.annotations.unwrap()["touched"], "yes");
                modified = true;
            }
            WatchEvent::Bookmark(bm) => {
                assert!(
                    bm.metadata.resource_version.parse::<u64>().unwrap()
                        > rv.parse::<u64>().unwrap()
                );
                bookmarks += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
        if modified && bookmarks >= 2 {
            break;
        }
    }
    let watch = fake
        .requests()
        .into_iter()
        .find(|r| r.is("watch", "applications"))
        .unwrap();
    assert_eq!(watch.param("allowWatchBookmarks").as_deref(), Some("true"));
    assert_eq!(watch.param("resourceVersion").as_deref(), Some(rv.as_str()));
    assert_eq!(watch.param("timeoutSeconds").as_deref(), Some("5"));

    // A watch ends at its timeout.
    let mut short = apps
        .watch(&WatchParams::default().timeout(1).disable_bookmarks(), "0")
        .await
        .unwrap()
        .boxed();
    let started = Instant::now();
    let mut added = 0;
    while let Some(event) = short.try_next().await.unwrap() {
        if let WatchEvent::Added(_) = event {
            added += 1;
        }
    }
    assert_eq!(added, 5, "resourceVersion 0 starts with the current state");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn runtime_watcher_lists_then_watches() {
    for streaming in [false, true] {
        let fake = fake_with(options()).await;
        let client = client(&fake).await;
        let apps = applications(&client);
        let mut config = watcher::Config::default().labels("").timeout(10);
        if streaming {
            config = config.streaming_lists();
        }
        let mut events = watcher(apps, config).boxed();
        let mut initial = 0;
        loop {
            match events.try_next().await.unwrap().unwrap() {
                watcher::Event::Init => {}
                watcher::Event::InitApply(_) => initial += 1,
                watcher::Event::InitDone => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(initial, 5);
        fake.start_foreign_sync("guestbook-good", "b2b2b2b")
            .unwrap();
        let event = tokio::time::timeout(Duration::from_secs(3), events.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let watcher::Event::Apply(obj) = event else {
            panic!("expected an Apply, got {event:?}");
        };
        assert_eq!(obj.metadata.name.as_deref(), Some("guestbook-good"));
        let requests = fake.requests();
        if streaming {
            let watch = requests
                .iter()
                .find(|r| r.is("watch", "applications"))
                .unwrap();
            assert_eq!(watch.param("sendInitialEvents").as_deref(), Some("true"));
            assert_eq!(
                watch.param("resourceVersionMatch").as_deref(),
                Some("NotOlderThan")
            );
            assert!(!requests.iter().any(|r| r.is("list", "applications")));
        } else {
            let list = requests
                .iter()
                .find(|r| r.is("list", "applications"))
                .unwrap();
            assert_eq!(list.param("limit").as_deref(), Some("500"));
            let watch = requests
                .iter()
                .find(|r| r.is("watch", "applications"))
                .unwrap();
            assert!(
                watch
                    .param("resourceVersion")
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
                    > 0
            );
        }
    }
}

#[tokio::test]
async fn optimistic_concurrency() {
    // The API's behaviour, not rollc's permissions: verbs beyond deploy/rbac.yaml are used.
    let fake = fake_with(Options {
        rbac: fake_argocd::RbacMode::AllowAll,
        ..options()
    })
    .await;
    let client = client(&fake).await;
    let apps = applications(&client);
    let app = apps.get("guestbook-good").await.unwrap();
    let rv = app.metadata.resource_version.clone().unwrap();
    fake.merge_patch(
        Kind::Application,
        "guestbook-good",
        &json!({"metadata": {"labels": {"a": "b"}}}),
    )
    .unwrap();

    // A merge patch carrying the old resourceVersion conflicts.
    let stale = json!({"metadata": {"resourceVersion": rv}, "spec": {"project": "other"}});
    let error = api_error(
        apps.patch(
            "guestbook-good",
            &PatchParams::default(),
            &Patch::Merge(&stale),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        error.message,
        "Operation cannot be fulfilled on applications.argoproj.io \"guestbook-good\": the object \
         has been modified; please apply your changes to the latest version and try again"
    );
    // So does a replace with it.
    let error = api_error(
        apps.replace("guestbook-good", &PostParams::default(), &app)
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 409);

    // With the current one both work, and generation moves with spec.
    let current = apps.get("guestbook-good").await.unwrap();
    let generation = current.metadata.generation.unwrap();
    let fresh = json!({"metadata": {"resourceVersion": current.metadata.resource_version}, "spec": {"project": "p2"}});
    let patched = apps
        .patch(
            "guestbook-good",
            &PatchParams::default(),
            &Patch::Merge(&fresh),
        )
        .await
        .unwrap();
    assert_eq!(patched.metadata.generation, Some(generation + 1));
    let mut replaced = patched.clone();
    replaced.data["spec"]["project"] = json!("p3");
    let replaced = apps
        .replace("guestbook-good", &PostParams::default(), &replaced)
        .await
        .unwrap();
    assert!(replaced.metadata.resource_version > patched.metadata.resource_version);

    // A write that changes nothing keeps the resourceVersion.
    let same = apps
        .patch(
            "guestbook-good",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"project": "p3"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        same.metadata.resource_version,
        replaced.metadata.resource_version
    );

    // Strategic merge patches are not for custom resources (as on a real apiserver).
    let error = api_error(
        apps.patch(
            "guestbook-good",
            &PatchParams::default(),
            &Patch::Strategic(&json!({"spec": {}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        (error.code, error.reason.as_str()),
        (415, "UnsupportedMediaType")
    );

    // A replace without a resourceVersion is invalid for a custom resource.
    let mut unversioned = replaced.clone();
    unversioned.metadata.resource_version = None;
    let error = api_error(
        apps.replace("guestbook-good", &PostParams::default(), &unversioned)
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 422);

    // The conflict fault: the next write conflicts whatever its resourceVersion; a retry
    // after a fresh read succeeds.
    fake.inject(Fault::conflict().resource("applications"));
    let current = apps.get("guestbook-good").await.unwrap();
    let body = json!({"metadata": {"resourceVersion": current.metadata.resource_version}, "spec": {"project": "p4"}});
    let error = api_error(
        apps.patch(
            "guestbook-good",
            &PatchParams::default(),
            &Patch::Merge(&body),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(error.code, 409);
    apps.patch(
        "guestbook-good",
        &PatchParams::default(),
        &Patch::Merge(&body),
    )
    .await
    .unwrap();

    // JSON patches (RFC 6902), with a test op as a precondition.
    let http = reqwest::Client::new();
    let url = format!(
        "{}/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/guestbook-good",
        fake.url()
    );
    let response = http
        .patch(&url)
        .header("Content-Type", "application/json-patch+json")
        .body(json!([{"op": "test", "path": "/spec/project", "value": "p4"}, {"op": "replace", "path": "/spec/project", "value": "p5"}]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = http
        .patch(&url)
        .header("Content-Type", "application/json-patch+json")
        .body(json!([{"op": "test", "path": "/spec/project", "value": "p4"}]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
}

/// Sets `operation` the way `argocd app sync` does, through the Kubernetes API.
async fn sync(apps: &Api<DynamicObject>, name: &str, revision: &str) -> DynamicObject {
    let current = apps.get(name).await.unwrap();
    assert!(
        field(&current, "/operation").is_none(),
        "no operation in progress"
    );
    let patch = json!({
        "metadata": {"resourceVersion": current.metadata.resource_version},
        "operation": {
            "sync": {"revision": revision, "syncStrategy": {"hook": {}}},
            "initiatedBy": {"username": "rollc"},
            "info": [{"name": "Reason", "value": "rollc test"}],
        },
    });
    apps.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap()
}

/// Watches Application `name` until `done` holds, returning each state seen with the time
/// since `start`.
async fn follow(
    apps: &Api<DynamicObject>,
    name: &str,
    from_rv: &str,
    start: Instant,
    limit: Duration,
    done: impl Fn(&DynamicObject) -> bool,
) -> Vec<(Duration, DynamicObject)> {
    let params = WatchParams::default()
        .fields(&format!("metadata.name={name}"))
        .timeout(30);
    let mut stream = apps.watch(&params, from_rv).await.unwrap().boxed();
    let mut seen = Vec::new();
    let deadline = start + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, stream.try_next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{name}: not done within {limit:?}; saw {:?}",
                    summary(&seen)
                )
            })
            .unwrap()
            .expect("the watch stays open");
        if let WatchEvent::Modified(obj) = event {
            let finished = done(&obj);
            seen.push((start.elapsed(), obj));
            if finished {
                return seen;
            }
        }
    }
}

fn summary(seen: &[(Duration, DynamicObject)]) -> Vec<String> {
    seen.iter()
        .map(|(t, o)| {
            format!(
                "{}ms op={} phase={} sync={}@{} health={}",
                t.as_millis(),
                field(o, "/operation").is_some(),
                field(o, "/status/operationState/phase").unwrap_or(&Value::Null),
                field(o, "/status/sync/status").unwrap_or(&Value::Null),
                field(o, "/status/sync/revision").unwrap_or(&Value::Null),
                field(o, "/status/health/status").unwrap_or(&Value::Null),
            )
        })
        .collect()
}

fn phase(o: &DynamicObject) -> Option<&str> {
    field(o, "/status/operationState/phase").and_then(Value::as_str)
}

fn health(o: &DynamicObject) -> Option<&str> {
    field(o, "/status/health/status").and_then(Value::as_str)
}

/// 1m of sim time in real time.
fn minutes(n: f64) -> Duration {
    Duration::from_secs_f64(n * 60.0 / SPEED)
}

/// Room for a loaded machine: conditions are awaited, so this only bounds failures.
const SLACK: Duration = Duration::from_millis(3000);

#[tokio::test]
async fn a_healthy_sync_runs_on_the_sim_timeline() {
    let fake = fake_with(options()).await;
    let client = client(&fake).await;
    let apps = applications(&client);
    let start = Instant::now();
    let written = sync(&apps, "guestbook-good", "b2b2b2b").await;
    let rv = written.metadata.resource_version.clone().unwrap();
    let seen = follow(
        &apps,
        "guestbook-good",
        &rv,
        start,
        minutes(10.0) + SLACK,
        |o| health(o) == Some("Healthy") && phase(o) == Some("Succeeded"),
    )
    .await;
    let states = summary(&seen);

    let running = seen
        .iter()
        .find(|(_, o)| phase(o) == Some("Running"))
        .expect("Running");
    assert!(
        field(&running.1, "/operation").is_some(),
        "operation stays set while running: {states:?}"
    );
    assert_eq!(health(&running.1), Some("Progressing"));
    assert_eq!(
        field(&running.1, "/status/operationState/operation/sync/revision"),
        Some(&json!("b2b2b2b"))
    );
    let started_at = field(&running.1, "/status/operationState/startedAt")
        .unwrap()
        .as_str()
        .unwrap();
    assert!(
        started_at.ends_with('Z') && !started_at.contains('.'),
        "whole seconds: {started_at}"
    );

    // The operation completes at half the sync time, health settles at the full time.
    let (t_done, done) = seen
        .iter()
        .find(|(_, o)| phase(o) == Some("Succeeded"))
        .unwrap();
    assert!(*t_done >= minutes(5.0), "{states:?}");
    assert!(
        field(done, "/operation").is_none(),
        "operation cleared: {states:?}"
    );
    assert_eq!(field(done, "/status/sync/status"), Some(&json!("Synced")));
    assert_eq!(
        field(done, "/status/sync/revision"),
        Some(&json!("b2b2b2b"))
    );
    assert_eq!(
        field(done, "/status/operationState/syncResult/revision"),
        Some(&json!("b2b2b2b"))
    );
    assert_eq!(health(done), Some("Progressing"));
    let history = field(done, "/status/history").unwrap().as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["revision"], "b2b2b2b");
    assert_eq!(history[1]["id"], 2);
    assert_eq!(history[1]["initiatedBy"]["username"], "rollc");
    let (t_healthy, _) = seen.last().unwrap();
    assert!(
        *t_healthy >= minutes(10.0),
        "healthy after the sync time: {states:?}"
    );
    assert!(*t_healthy < minutes(10.0) + SLACK, "{states:?}");

    // The request log shows the write that pinned the revision.
    let writes = fake.operation_writes();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].1["sync"]["revision"], "b2b2b2b");
    assert_eq!(
        writes[0].0.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
}

#[tokio::test]
async fn failed_degraded_stuck_and_flapping_syncs() {
    let fake = fake_with(options()).await;
    let client = client(&fake).await;
    let apps = applications(&client);

    let start = Instant::now();
    let rv = sync(&apps, "guestbook-failing", "b2b2b2b")
        .await
        .metadata
        .resource_version
        .unwrap();
    let seen = follow(
        &apps,
        "guestbook-failing",
        &rv,
        start,
        minutes(10.0) + SLACK,
        |o| phase(o) == Some("Failed"),
    )
    .await;
    let (t, failed) = seen.last().unwrap();
    assert!(*t >= minutes(10.0), "{:?}", summary(&seen));
    assert!(field(failed, "/operation").is_none());
    assert!(
        field(failed, "/status/operationState/message")
            .unwrap()
            .as_str()
            .unwrap()
            .contains("failed"),
        "{:?}",
        field(failed, "/status/operationState")
    );
    assert_eq!(
        field(failed, "/status/sync/status"),
        Some(&json!("OutOfSync"))
    );
    assert_eq!(
        field(failed, "/status/history")
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1,
        "history unchanged"
    );
    assert_eq!(
        health(failed),
        Some("Healthy"),
        "the old revision still runs"
    );

    let start = Instant::now();
    let rv = sync(&apps, "guestbook-degraded", "b2b2b2b")
        .await
        .metadata
        .resource_version
        .unwrap();
    let seen = follow(
        &apps,
        "guestbook-degraded",
        &rv,
        start,
        minutes(10.0) + SLACK,
        |o| health(o) == Some("Degraded"),
    )
    .await;
    let (t, degraded) = seen.last().unwrap();
    assert!(*t >= minutes(10.0));
    assert_eq!(phase(degraded), Some("Succeeded"));
    assert_eq!(
        field(degraded, "/status/sync/status"),
        Some(&json!("Synced"))
    );

    // A rollback to a revision in the history always ends healthy.
    let start = Instant::now();
    let rv = sync(&apps, "guestbook-degraded", "a1a1a1a")
        .await
        .metadata
        .resource_version
        .unwrap();
    let seen = follow(
        &apps,
        "guestbook-degraded",
        &rv,
        start,
        minutes(10.0) + SLACK,
        |o| health(o) == Some("Healthy"),
    )
    .await;
    let (_, healthy) = seen.last().unwrap();
    assert_eq!(
        field(healthy, "/status/operationState/syncResult/revision"),
        Some(&json!("a1a1a1a"))
    );
    // Argo CD compares with the head again: the rollback leaves it OutOfSync.
    assert_eq!(
        field(healthy, "/status/sync/status"),
        Some(&json!("OutOfSync"))
    );
    assert_eq!(
        field(healthy, "/status/history")
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // never-healthy: the operation succeeds (at half its 4m), health never settles.
    let start = Instant::now();
    let rv = sync(&apps, "guestbook-stuck", "b2b2b2b")
        .await
        .metadata
        .resource_version
        .unwrap();
    let seen = follow(
        &apps,
        "guestbook-stuck",
        &rv,
        start,
        minutes(4.0) + SLACK,
        |o| phase(o) == Some("Succeeded"),
    )
    .await;
    assert!(seen.last().unwrap().0 >= minutes(2.0));
    tokio::time::sleep(minutes(6.0)).await;
    assert_eq!(
        fake.application("stuck").unwrap()["status"]["health"]["status"],
        "Progressing"
    );

    // flap: Healthy at 2m, Degraded at 6m, Healthy at 8m.
    let start = Instant::now();
    let rv = sync(&apps, "guestbook-flappy", "b2b2b2b")
        .await
        .metadata
        .resource_version
        .unwrap();
    let healths: Vec<(Duration, String)> = {
        let mut out = Vec::new();
        let seen = follow(
            &apps,
            "guestbook-flappy",
            &rv,
            start,
            minutes(8.0) + SLACK,
            |o| health(o) == Some("Degraded"),
        )
        .await;
        out.extend(
            seen.iter()
                .map(|(t, o)| (*t, health(o).unwrap_or_default().to_string())),
        );
        let rv = seen
            .last()
            .unwrap()
            .1
            .metadata
            .resource_version
            .clone()
            .unwrap();
        let again = follow(
            &apps,
            "guestbook-flappy",
            &rv,
            start,
            minutes(8.0) + SLACK,
            |o| health(o) == Some("Healthy"),
        )
        .await;
        out.extend(
            again
                .iter()
                .map(|(t, o)| (*t, health(o).unwrap_or_default().to_string())),
        );
        out
    };
    let degraded_at = healths.iter().find(|(_, h)| h == "Degraded").unwrap().0;
    assert!(degraded_at >= minutes(6.0), "{healths:?}");
    assert!(
        healths
            .iter()
            .any(|(t, h)| h == "Healthy" && *t >= minutes(2.0) && *t < degraded_at),
        "{healths:?}"
    );
    assert!(healths.last().unwrap().0 >= minutes(8.0), "{healths:?}");
}

#[tokio::test]
async fn an_operation_already_set_is_visible_and_runs() {
    let fake = fake_with(options()).await;
    let client = client(&fake).await;
    let apps = applications(&client);
    fake.pause_controller(true);
    fake.start_foreign_sync("guestbook-good", "b2b2b2b")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let app = apps.get("guestbook-good").await.unwrap();
    assert_eq!(
        field(&app, "/operation/initiatedBy/username"),
        Some(&json!("admin"))
    );
    assert!(
        field(&app, "/status/operationState").is_none(),
        "argo's SetAppOperation clears it"
    );
    fake.pause_controller(false);
    assert!(
        fake.wait_for(minutes(10.0) + SLACK, |f| {
            f.application("good").unwrap()["status"]["health"]["status"] == "Healthy"
                && f.application("good").unwrap().get("operation").is_none()
        })
        .await
    );
    assert_eq!(
        fake.application("good").unwrap()["status"]["sync"]["status"],
        "Synced"
    );
}

#[tokio::test]
async fn rbac_allows_only_the_role() {
    let fake = fake_with(options()).await;
    let client = client(&fake).await;
    let apps = applications(&client);
    let user = "system:serviceaccount:argocd:rollc";

    let error = api_error(
        apps.delete("guestbook-good", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        error.message,
        format!(
            "applications.argoproj.io \"guestbook-good\" is forbidden: User \"{user}\" cannot \
             delete resource \"applications\" in API group \"argoproj.io\" in the namespace \"argocd\""
        )
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), "argocd");
    let error = api_error(pods.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(
        error.message,
        format!(
            "pods is forbidden: User \"{user}\" cannot list resource \"pods\" in API group \"\" in the namespace \"argocd\""
        )
    );
    let elsewhere: Api<Secret> = Api::namespaced(client.clone(), "default");
    assert_eq!(
        api_error(elsewhere.list(&ListParams::default()).await.unwrap_err()).code,
        403
    );
    let everywhere: Api<Secret> = Api::all(client.clone());
    let error = api_error(everywhere.list(&ListParams::default()).await.unwrap_err());
    assert!(
        error.message.ends_with("at the cluster scope"),
        "{}",
        error.message
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "argocd");
    let error = api_error(
        secrets
            .create(&PostParams::default(), &Secret::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 403);
    let mut app = apps.get("guestbook-good").await.unwrap();
    app.metadata.resource_version = None;
    app.metadata.name = Some("guestbook-new".into());
    assert_eq!(
        api_error(apps.create(&PostParams::default(), &app).await.unwrap_err()).code,
        403
    );

    // What the Role allows works: run state in ConfigMaps and a Lease.
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "argocd");
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "rollc-run-1", "labels": {"app.kubernetes.io/managed-by": "rollc"}},
        "data": {"journal": "{}"},
    }))
    .unwrap();
    let created = configmaps
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(
        created.metadata.generation.is_none(),
        "built-in objects have no generation"
    );
    let error = api_error(
        configmaps
            .create(&PostParams::default(), &cm)
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (409, "AlreadyExists"));
    configmaps
        .delete("rollc-run-1", &DeleteParams::default())
        .await
        .unwrap();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "argocd");
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "rollc-run-1"},
        "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15},
    }))
    .unwrap();
    let lease = leases.create(&PostParams::default(), &lease).await.unwrap();
    let mut renewed = lease.clone();
    renewed.spec.as_mut().unwrap().holder_identity = Some("you".into());
    leases
        .replace("rollc-run-1", &PostParams::default(), &renewed)
        .await
        .unwrap();
    let error = api_error(
        leases
            .replace("rollc-run-1", &PostParams::default(), &renewed)
            .await
            .unwrap_err(),
    );
    assert_eq!(error.code, 409, "the old resourceVersion conflicts");

    let forbidden: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.status == 403)
        .collect();
    assert_eq!(forbidden.len(), 6, "{forbidden:#?}");

    // Access reviews answer from the same rules, and every user may ask.
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let ask = |verb: &str, group: &str, resource: &str, ns: &str| {
        serde_json::from_value::<SelfSubjectAccessReview>(json!({
            "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource, "namespace": ns}},
        }))
        .unwrap()
    };
    let yes = reviews
        .create(
            &PostParams::default(),
            &ask("patch", "argoproj.io", "applications", "argocd"),
        )
        .await
        .unwrap()
        .status
        .unwrap();
    assert!(yes.allowed);
    assert_eq!(
        yes.reason.as_deref(),
        Some(
            r#"RBAC: allowed by RoleBinding "rollc/argocd" of Role "rollc" to ServiceAccount "rollc/argocd""#
        )
    );
    for (verb, group, resource, ns) in [
        ("delete", "argoproj.io", "applications", "argocd"),
        ("watch", "", "secrets", "kube-system"),
        ("list", "", "pods", "argocd"),
    ] {
        let no = reviews
            .create(&PostParams::default(), &ask(verb, group, resource, ns))
            .await
            .unwrap();
        assert!(!no.status.unwrap().allowed, "{verb} {resource} in {ns}");
    }

    // Without RBAC, the same delete goes through.
    let open = fake_with(Options {
        rbac: RbacMode::AllowAll,
        ..options()
    })
    .await;
    let open_client = self::client(&open).await;
    let apps = applications(&open_client);
    apps.delete("guestbook-good", &DeleteParams::default())
        .await
        .unwrap();
    assert!(open.application("good").is_none());
}

#[tokio::test]
async fn old_resource_versions_are_gone() {
    let fake = fake_with(options()).await;
    let client = client(&fake).await;
    let apps = applications(&client);
    let old = apps
        .get("guestbook-good")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    fake.merge_patch(
        Kind::Application,
        "guestbook-good",
        &json!({"metadata": {"labels": {"x": "1"}}}),
    )
    .unwrap();
    fake.compact();
    let mut stream = apps
        .watch(&WatchParams::default(), &old)
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Error(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert!(
                status.message.starts_with("too old resource version"),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    assert!(stream.try_next().await.unwrap().is_none(), "the watch ends");

    // The runtime watcher re-lists after a 410.
    let mut events = watcher(apps.clone(), watcher::Config::default()).boxed();
    loop {
        if let watcher::Event::InitDone = events.try_next().await.unwrap().unwrap() {
            break;
        }
    }
    fake.inject(Fault::gone().resource("applications"));
    fake.drop_watches();
    let mut relisted = false;
    for _ in 0..20 {
        match tokio::time::timeout(Duration::from_secs(3), events.next())
            .await
            .unwrap()
        {
            Some(Err(_)) => {}
            Some(Ok(watcher::Event::InitDone)) => {
                relisted = true;
                break;
            }
            Some(Ok(_)) => {}
            None => break,
        }
    }
    assert!(relisted);
    let lists = fake
        .requests()
        .into_iter()
        .filter(|r| r.is("list", "applications"))
        .count();
    assert_eq!(lists, 2);
}

#[tokio::test]
async fn injected_faults() {
    // The API's behaviour, not rollc's permissions: verbs beyond deploy/rbac.yaml are used.
    let fake = fake_with(Options {
        rbac: fake_argocd::RbacMode::AllowAll,
        ..options()
    })
    .await;
    let client = client(&fake).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "argocd");

    // 503 twice: kube's client retries, the third attempt succeeds.
    fake.inject(Fault::status(503).verb("list").resource("secrets").times(2));
    assert_eq!(
        secrets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        5
    );
    let statuses: Vec<u16> = fake
        .requests()
        .iter()
        .filter(|r| r.is("list", "secrets"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [503, 503, 200]);

    // 500 is not retried.
    fake.clear_requests();
    fake.inject(Fault::status(500).verb("get").resource("secrets"));
    let error = api_error(secrets.get("cluster-good").await.unwrap_err());
    assert_eq!((error.code, error.reason.as_str()), (500, "InternalError"));
    secrets.get("cluster-good").await.unwrap();

    // 429 with Retry-After: 1 is retried after a second.
    fake.inject(Fault::too_many_requests(1).verb("get"));
    let started = Instant::now();
    secrets.get("cluster-good").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900));
    let raw = reqwest::Client::new();
    fake.inject(Fault::too_many_requests(1).verb("get"));
    let response = raw
        .get(format!(
            "{}/api/v1/namespaces/argocd/secrets/cluster-good",
            fake.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");

    // Latency.
    fake.inject(
        Fault::latency(Duration::from_millis(300))
            .verb("get")
            .times(1),
    );
    let started = Instant::now();
    secrets.get("cluster-good").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Dropped watches end; a resumed watch from the last resourceVersion misses nothing.
    let apps = applications(&client);
    let rv = apps
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = apps
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    assert_eq!(fake.drop_watches(), 1);
    assert!(stream.try_next().await.unwrap().is_none());
    fake.merge_patch(
        Kind::Application,
        "guestbook-good",
        &json!({"metadata": {"labels": {"y": "2"}}}),
    )
    .unwrap();
    let mut resumed = apps
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    match resumed.try_next().await.unwrap() {
        Some(WatchEvent::Modified(obj)) => assert_eq!(obj.labels()["y"], "2"),
        other => panic!("expected the missed change, got {other:?}"),
    }
}

#[tokio::test]
async fn object_size_limits() {
    let fake = fake_with(options()).await;
    let client = client(&fake).await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "argocd");
    let big = |bytes: usize| -> ConfigMap {
        serde_json::from_value(
            json!({"metadata": {"name": "big"}, "data": {"x": "a".repeat(bytes)}}),
        )
        .unwrap()
    };
    let error = api_error(
        configmaps
            .create(&PostParams::default(), &big(1_100_000))
            .await
            .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        error.message,
        "ConfigMap \"big\" is invalid: []: Too long: must have at most 1048576 bytes"
    );
    configmaps
        .create(&PostParams::default(), &big(1_000_000))
        .await
        .unwrap();

    let apps = applications(&client);
    let huge = json!({"metadata": {"annotations": {"blob": "b".repeat(1_600_000)}}});
    let error = api_error(
        apps.patch(
            "guestbook-good",
            &PatchParams::default(),
            &Patch::Merge(&huge),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        (error.code, error.message.as_str()),
        (500, "etcdserver: request is too large")
    );
    let body = json!({"metadata": {"annotations": {"blob": "b".repeat(3_200_000)}}});
    let error = api_error(
        apps.patch(
            "guestbook-good",
            &PatchParams::default(),
            &Patch::Merge(&body),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        (error.code, error.reason.as_str()),
        (413, "RequestEntityTooLarge")
    );
    assert_eq!(error.message, "Request entity too large: limit is 3145728");
}

#[tokio::test]
async fn a_joining_cluster_and_a_head_move_come_through_watches() {
    let text = format!(
        "{FLEET}events:\n  - {{at: 20m, join: {{name: late, server: https://late.example, labels: {{env: prod}}}}}}\n  - {{at: 20m, revision: \"c3c3c3c\"}}\n  - {{at: 20m, cluster: good, labels: {{drained: \"true\"}}}}\n"
    );
    let fake = fake_argocd::start(
        &fleet(&text),
        Options {
            autosync: ClusterSet::Named(vec!["flappy".into()]),
            ..options()
        },
    )
    .await
    .unwrap();
    assert!(fake.get(Kind::Secret, "cluster-late").is_none());
    assert!(
        fake.wait_for(minutes(20.0) + SLACK, |f| f
            .get(Kind::Secret, "cluster-late")
            .is_some()
            && f.application("late").is_some()
            && f.application("good").unwrap()["status"]["sync"]["revision"]
                == "c3c3c3c")
            .await
    );
    let good = fake.get(Kind::Secret, "cluster-good").unwrap();
    assert_eq!(good["metadata"]["labels"]["drained"], "true");
    // An autosynced Application syncs to the new head by itself.
    assert!(
        fake.wait_for(minutes(2.0) + SLACK, |f| {
            f.application("flappy").unwrap()["status"]["history"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["revision"] == "c3c3c3c")
        })
        .await
    );
    let app = fake.application("flappy").unwrap();
    assert_eq!(
        app["status"]["operationState"]["operation"]["initiatedBy"]["automated"],
        true
    );
}

/// `cargo run --example fake-argocd`, read through kubectl when it is installed and
/// through kube-rs otherwise (never skipped).
#[test]
fn the_example_binary_serves_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kc");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Built by `cargo test` with the other targets; `cargo test --test fake_argocd` alone
    // builds it here.
    let build = std::process::Command::new(env!("CARGO"))
        .current_dir(manifest)
        .args(["build", "--quiet", "--example", "fake-argocd"])
        .output()
        .expect("cargo runs");
    assert!(
        build.status.success(),
        "cargo build --example fake-argocd failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    // This test runs from target/debug/deps/; the example is in target/debug/examples/.
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/fake-argocd");
    let mut child = std::process::Command::new(&binary)
        .current_dir(manifest)
        .args(["--fleet", "examples/fleet.yaml", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["--speed", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let _guard = Kill(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    assert!(
        line.trim().starts_with("http://127.0.0.1:"),
        "first line is the URL: {line:?}"
    );
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(text.contains(line.trim()));
    let fleet = fake_argocd::load_fleet(&manifest.join("examples/fleet.yaml")).unwrap();
    let clusters = fleet.clusters.len();
    let head = fleet.defaults.as_ref().unwrap()["revision"]
        .as_str()
        .unwrap()
        .to_string();

    let kubectl = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("kubectl"))
            .find(|p| p.is_file())
    });
    match kubectl {
        Some(kubectl) => {
            let run = |args: &[&str]| {
                let out = std::process::Command::new(&kubectl)
                    .arg("--kubeconfig")
                    .arg(&kubeconfig)
                    .arg("--cache-dir")
                    .arg(dir.path().join("cache"))
                    .args(args)
                    .output()
                    .unwrap();
                (
                    out.status.success(),
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            };
            let (ok, out, err) = run(&["-n", "argocd", "get", "applications"]);
            assert!(ok, "{err}");
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), clusters + 1, "{out}");
            assert!(
                lines[0].starts_with("NAME")
                    && lines[0].contains("SYNC STATUS")
                    && lines[0].contains("HEALTH STATUS"),
                "{out}"
            );
            assert!(out.contains("guestbook-staging-euw1"), "{out}");
            let (ok, out, err) = run(&[
                "get",
                "secrets",
                "-l",
                "argocd.argoproj.io/secret-type=cluster,region=eu-west-1",
                "-o",
                "name",
            ]);
            assert!(ok, "{err}");
            assert_eq!(out.lines().count(), 5, "{out}");
            let (ok, out, err) = run(&[
                "get",
                "app",
                "guestbook-prod-euw1-01",
                "-o",
                "jsonpath={.status.sync.revision}",
            ]);
            assert!(ok, "{err}");
            assert_eq!(out, head);
            let (ok, _, err) = run(&[
                "patch",
                "app",
                "guestbook-prod-euw1-01",
                "--type",
                "merge",
                "-p",
                &format!(
                    r#"{{"operation":{{"sync":{{"revision":"{head}"}},"initiatedBy":{{"username":"kubectl"}}}}}}"#
                ),
            ]);
            assert!(ok, "{err}");
            let (ok, _, err) = run(&["delete", "app", "guestbook-prod-euw1-01"]);
            assert!(!ok);
            assert!(
                err.contains("Forbidden")
                    && err.contains("cannot delete resource \"applications\""),
                "{err}"
            );
            let (ok, _, err) = run(&["get", "pods"]);
            assert!(!ok);
            assert!(err.contains("cannot list resource \"pods\""), "{err}");
            let (ok, out, _) = run(&["auth", "can-i", "patch", "applications.argoproj.io"]);
            assert!(ok && out.trim() == "yes", "{out}");
            let (ok, out, _) = run(&["auth", "can-i", "delete", "applications.argoproj.io"]);
            assert!(!ok && out.trim() == "no", "{out}");
            let (ok, out, err) = run(&["auth", "can-i", "--list"]);
            assert!(ok, "{err}");
            assert!(
                out.contains("applications.argoproj.io") && out.contains("[get list watch patch]"),
                "{out}"
            );
            let (ok, out, err) = run(&[
                "get",
                "app",
                "guestbook-prod-euw1-01",
                "-o",
                "jsonpath={.status.operationState.phase}",
            ]);
            assert!(ok, "{err}");
            assert!(out == "Running" || out == "Succeeded", "{out}");
        }
        None => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let kc = Kubeconfig::read_from(&kubeconfig).unwrap();
                let config =
                    kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                        .await
                        .unwrap();
                let client = Client::try_from(config).unwrap();
                let apps = applications(&client)
                    .list(&ListParams::default())
                    .await
                    .unwrap();
                assert_eq!(apps.items.len(), clusters);
                let app = applications(&client)
                    .get("guestbook-prod-euw1-01")
                    .await
                    .unwrap();
                assert_eq!(field(&app, "/status/sync/revision"), Some(&json!(head)));
            });
        }
    }
}

#[test]
fn start_in_thread_serves_blocking_callers() {
    let fake = FakeArgoCd::start_in_thread(&fleet(FLEET), options()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let names = runtime.block_on(async {
        let secrets: Api<Secret> = Api::namespaced(client(&fake).await, "argocd");
        secrets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len()
    });
    assert_eq!(names, 5);
    drop(fake);
}

#[tokio::test]
async fn operation_is_pruned_and_type_checked_like_the_crd() {
    let fake = fake_with(options()).await;
    fake.pause_controller(true);
    let client = client(&fake).await;
    let apps = applications(&client);
    let typo = json!({"operation": {"sync": {"revison": "b2b2b2b"}, "initiatedBy": {"username": "rollc"}}, "extra": true});
    let stored = apps
        .patch(
            "guestbook-good",
            &PatchParams::default(),
            &Patch::Merge(&typo),
        )
        .await
        .unwrap();
    assert_eq!(
        field(&stored, "/operation/sync"),
        Some(&json!({})),
        "unknown fields are dropped"
    );
    assert!(field(&stored, "/extra").is_none());
    let wrong = json!({"operation": {"sync": {"revision": 7}}});
    let error = api_error(
        apps.patch(
            "guestbook-good",
            &PatchParams::default(),
            &Patch::Merge(&wrong),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((error.code, error.reason.as_str()), (422, "Invalid"));
    assert!(
        error
            .message
            .contains("operation.sync.revision in body must be of type string"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn metadata_views_apply_patches_and_subresources() {
    // The API's behaviour, not rollc's permissions: verbs beyond deploy/rbac.yaml are used.
    let fake = fake_with(Options {
        rbac: fake_argocd::RbacMode::AllowAll,
        ..options()
    })
    .await;
    let client = client(&fake).await;

    // Metadata-only lists (Accept: ...as=PartialObjectMetadataList) carry no data.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "argocd");
    let meta = secrets
        .list_metadata(&ListParams::default().labels("env=prod"))
        .await
        .unwrap();
    assert_eq!(meta.items.len(), 3);
    assert_eq!(
        meta.items[0].types.as_ref().unwrap().kind,
        "PartialObjectMetadata"
    );

    // Server-side apply (approximated as a merge; fieldManager required) creates, then
    // updates.
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "argocd");
    let applied = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "rollc-state"},
        "data": {"a": "1"},
    });
    let params = PatchParams::apply("rollc");
    let created = configmaps
        .patch("rollc-state", &params, &Patch::Apply(&applied))
        .await
        .unwrap();
    assert_eq!(created.data.unwrap()["a"], "1");
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "rollc-state"}, "data": {"a": "2"}});
    let updated = configmaps
        .patch("rollc-state", &params, &Patch::Apply(&applied))
        .await
        .unwrap();
    assert_eq!(updated.data.unwrap()["a"], "2");

    // Applications have no status subresource (the CRD says `subresources: {}`): rollc's
    // RBAC refuses `applications/status` first, and without RBAC there is no such path.
    let guarded = fake_with(options()).await;
    let guarded_client = self::client(&guarded).await;
    let apps = applications(&guarded_client);
    let error = api_error(
        apps.patch_status(
            "guestbook-good",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(error.code, 403);
    assert!(
        error.message.contains("\"applications/status\""),
        "{}",
        error.message
    );
    let open = fake_with(Options {
        rbac: RbacMode::AllowAll,
        ..options()
    })
    .await;
    let open_client = self::client(&open).await;
    let apps = applications(&open_client);
    let error = api_error(
        apps.patch_status(
            "guestbook-good",
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(error.code, 404);
}
