//! The Argo CD objects the fake starts with, built from a rollc fleet: one cluster Secret
//! per cluster, one ApplicationSet, and one Application per cluster owned by it.

use base64::Engine;
use serde_json::{Value, json};

use rollc::fleet::Cluster;

/// `argocd.argoproj.io/secret-type`, the label of Argo CD cluster Secrets.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// The application source every generated Application has: the ApplicationSet template of
/// shared/fixtures/argocd/applicationset-cluster-generator.yaml (Argo CD's cluster generator
/// example), with `targetRevision: main`.
pub fn source(target_revision: &str) -> Value {
    json!({
        "repoURL": "https://github.com/argoproj/argocd-example-apps/",
        "path": "guestbook",
        "targetRevision": target_revision,
    })
}

/// A name made DNS-1123-safe (lowercase, `-` for anything else).
pub fn dns_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    out = out.trim_matches(|c| c == '-' || c == '.').to_string();
    if out.is_empty() { "x".to_string() } else { out }
}

/// The cluster Secret's name: `cluster-<name>`.
pub fn secret_name(cluster: &str) -> String {
    format!("cluster-{}", dns_name(cluster))
}

/// The Application generated for `cluster`: `<appset>-<cluster>`.
pub fn app_name(appset: &str, cluster: &str) -> String {
    format!("{}-{}", dns_name(appset), dns_name(cluster))
}

/// The fake credentials in a cluster Secret's `config`: a unique marker per cluster, so a
/// test can prove it never appears in rollc's output, logs or state.
pub fn secret_marker(cluster: &str) -> String {
    format!("rollc-test-secret-{cluster}-DO-NOT-LEAK")
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The Argo CD cluster Secret of `cluster` (declarative-setup.md, "Clusters").
pub fn cluster_secret(namespace: &str, cluster: &Cluster) -> Value {
    let labels = secret_labels(cluster);
    let config = json!({
        "bearerToken": secret_marker(&cluster.name),
        "tlsClientConfig": {"insecure": false, "caData": b64(&format!("{}-ca", secret_marker(&cluster.name)))},
    });
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(&cluster.name),
            "namespace": namespace,
            "labels": labels,
            "annotations": {"managed-by": "argocd.argoproj.io"},
        },
        "type": "Opaque",
        "data": {
            "name": b64(&cluster.name),
            "server": b64(&cluster.server),
            "config": b64(&config.to_string()),
        },
    })
}

/// The cluster Secret's labels for `cluster` (its labels plus the secret-type label).
pub fn secret_labels(cluster: &Cluster) -> Value {
    let mut labels = serde_json::Map::new();
    for (k, v) in &cluster.labels {
        labels.insert(k.clone(), json!(v));
    }
    labels.insert(SECRET_TYPE_LABEL.into(), json!("cluster"));
    Value::Object(labels)
}

/// The ApplicationSet, with the cluster generator template (from
/// shared/fixtures/argocd/applicationset-cluster-generator.yaml, names adapted to
/// `<appset>-<cluster>`).
pub fn applicationset(namespace: &str, name: &str, target_revision: &str, autosync: bool) -> Value {
    let mut template_spec = json!({
        "project": "default",
        "source": source(target_revision),
        "destination": {"server": "{{.server}}", "namespace": "guestbook"},
    });
    if autosync {
        template_spec["syncPolicy"] = json!({"automated": {"prune": true, "selfHeal": true}});
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "goTemplate": true,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"clusters": {}}],
            "template": {
                "metadata": {"name": format!("{}-{{{{.name}}}}", dns_name(name))},
                "spec": template_spec,
            },
        },
        "status": {
            "conditions": [
                {"type": "ErrorOccurred", "status": "False", "reason": "ApplicationSetUpToDate",
                 "message": "Successfully generated parameters for all Applications"},
                {"type": "ParametersGenerated", "status": "True", "reason": "ParametersGenerated",
                 "message": "Successfully generated parameters for all Applications"},
                {"type": "ResourcesUpToDate", "status": "True", "reason": "ApplicationSetUpToDate",
                 "message": "All applications have been generated successfully"},
            ],
        },
    })
}

/// How one Application's destination is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    Server,
    /// `destination.server` with a trailing `/` (Argo CD strips it when it compares).
    ServerTrailingSlash,
    /// `destination.name` instead of `destination.server`.
    Name,
}

/// A generated Application, without status.
pub fn application(
    namespace: &str,
    appset: &str,
    appset_uid: &str,
    cluster: &Cluster,
    destination: Destination,
    target_revision: &str,
    autosync: bool,
) -> Value {
    let dest = match destination {
        Destination::Server => json!({"server": cluster.server, "namespace": "guestbook"}),
        Destination::ServerTrailingSlash => {
            json!({"server": format!("{}/", cluster.server.trim_end_matches('/')), "namespace": "guestbook"})
        }
        Destination::Name => json!({"name": cluster.name, "namespace": "guestbook"}),
    };
    let mut spec = json!({
        "project": "default",
        "source": source(target_revision),
        "destination": dest,
    });
    if autosync {
        spec["syncPolicy"] = json!({"automated": {"prune": true, "selfHeal": true}});
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": app_name(appset, &cluster.name),
            "namespace": namespace,
            "ownerReferences": [{
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "ApplicationSet",
                "name": appset,
                "uid": appset_uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    })
}

/// The resources a guestbook sync reports in `syncResult.resources`.
pub fn sync_resources(namespace: &str, status: &str, message: &str) -> Value {
    json!([
        {"group": "", "version": "v1", "kind": "Service", "namespace": namespace,
         "name": "guestbook-ui", "status": "Synced", "message": "service/guestbook-ui unchanged",
         "hookPhase": "Running", "syncPhase": "Sync"},
        {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": namespace,
         "name": "guestbook-ui", "status": status, "message": message,
         "hookPhase": "Running", "syncPhase": "Sync"},
    ])
}
