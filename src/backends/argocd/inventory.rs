//! Which Applications are targets, and which cluster each deploys to: the rollout's
//! inventory is the clusters that have at least one target Application, each with the labels
//! of its cluster Secret. Pure functions of the watched Applications and Secrets.

use std::collections::BTreeMap;

use crate::fleet::Cluster;
use crate::ir::Target;

use super::app::{Application, IN_CLUSTER_NAME, IN_CLUSTER_SERVER};
use super::secret::ClusterSecret;
use super::selector::selects;

/// Whether `app` is one of the rollout's target Applications (its namespace is the
/// target's, by construction of the list and watch).
pub fn is_target(target: &Target, app: &Application) -> bool {
    let (selected, project) = match target {
        Target::AppSet { name, project, .. } => (app.owned_by_appset(name), project),
        Target::Apps {
            selector, project, ..
        } => (selects(selector, app), project),
    };
    selected
        && project
            .as_deref()
            .is_none_or(|p| app.spec.project.as_deref() == Some(p))
}

/// The target Applications mapped to clusters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mapping {
    /// The clusters with at least one target Application, by name.
    pub clusters: BTreeMap<String, Cluster>,
    /// Each cluster's Applications, sorted by name.
    pub apps: BTreeMap<String, Vec<String>>,
    /// Applications that map to no cluster (or to an ambiguous one): why, one line each.
    pub unmapped: Vec<String>,
}

/// Maps `apps` (the target Applications) to the clusters of `secrets`.
///
/// An Application's `spec.destination.server` (normalised: no trailing `/`) is matched
/// against the Secrets' `server`, its `spec.destination.name` against their `name`. The
/// local cluster (`https://kubernetes.default.svc` / `in-cluster`) needs no Secret: without
/// one it is the cluster `in-cluster` with no labels.
pub fn map<'a>(
    apps: impl IntoIterator<Item = &'a Application>,
    secrets: impl IntoIterator<Item = &'a ClusterSecret>,
) -> Mapping {
    let mut by_server: BTreeMap<String, Vec<&ClusterSecret>> = BTreeMap::new();
    let mut by_name: BTreeMap<&str, Vec<&ClusterSecret>> = BTreeMap::new();
    for secret in secrets {
        if let Some(server) = secret.server() {
            by_server.entry(server).or_default().push(secret);
        }
        if let Some(name) = secret.data.name.as_deref() {
            by_name.entry(name).or_default().push(secret);
        }
    }
    let mut mapping = Mapping::default();
    for app in apps {
        match cluster_of(app, &by_server, &by_name) {
            Ok(cluster) => {
                if let Some(known) = mapping.clusters.get(&cluster.name)
                    && known.server != cluster.server
                {
                    mapping.unmapped.push(format!(
                        "Application `{}` deploys to cluster `{}` at {}, but another cluster of that name is at {}",
                        app.name(),
                        cluster.name,
                        cluster.server,
                        known.server
                    ));
                    continue;
                }
                mapping
                    .apps
                    .entry(cluster.name.clone())
                    .or_default()
                    .push(app.name().to_string());
                mapping.clusters.insert(cluster.name.clone(), cluster);
            }
            Err(why) => mapping.unmapped.push(why),
        }
    }
    for names in mapping.apps.values_mut() {
        names.sort();
    }
    mapping
}

fn cluster_of(
    app: &Application,
    by_server: &BTreeMap<String, Vec<&ClusterSecret>>,
    by_name: &BTreeMap<&str, Vec<&ClusterSecret>>,
) -> Result<Cluster, String> {
    let name = app.name();
    let in_cluster = || Cluster::new(IN_CLUSTER_NAME, IN_CLUSTER_SERVER, BTreeMap::new());
    let (candidates, what, local) = match (app.dest_server(), app.dest_name()) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "Application `{name}` sets both `spec.destination.server` and `spec.destination.name` (Argo CD refuses that too)"
            ));
        }
        (None, None) => {
            return Err(format!("Application `{name}` has no `spec.destination`"));
        }
        (Some(server), None) => (
            by_server
                .get(&server)
                .map(Vec::as_slice)
                .unwrap_or_default(),
            format!("server {server}"),
            server == IN_CLUSTER_SERVER,
        ),
        (None, Some(dest)) => (
            by_name.get(dest).map(Vec::as_slice).unwrap_or_default(),
            format!("name `{dest}`"),
            dest == IN_CLUSTER_NAME,
        ),
    };
    match candidates {
        [] if local => Ok(in_cluster()),
        [] => Err(format!(
            "Application `{name}` deploys to the cluster with {what}, but no Argo CD cluster Secret has it"
        )),
        [secret] => cluster_from(secret).ok_or_else(|| {
            format!(
                "Application `{name}` deploys to the cluster of Secret `{}`, which has no `name` or no `server`",
                secret.secret_name()
            )
        }),
        several => {
            let names: Vec<String> = several
                .iter()
                .map(|s| format!("`{}`", s.secret_name()))
                .collect();
            Err(format!(
                "Application `{name}` deploys to the cluster with {what}, which several cluster Secrets claim: {}",
                names.join(", ")
            ))
        }
    }
}

/// The cluster a Secret describes, if it has both `name` and `server`.
pub fn cluster_from(secret: &ClusterSecret) -> Option<Cluster> {
    let name = secret.data.name.clone().filter(|n| !n.is_empty())?;
    let server = secret.server().filter(|s| !s.is_empty())?;
    Some(Cluster::new(name, server, secret.cluster_labels()))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use serde_json::json;

    use super::*;
    use crate::ir::{Attr, Selector};

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn secret(secret: &str, name: &str, server: &str, region: &str) -> ClusterSecret {
        serde_json::from_value(json!({
            "metadata": {"name": secret, "labels": {"argocd.argoproj.io/secret-type": "cluster", "region": region}},
            "data": {"name": b64(name), "server": b64(server), "config": b64("{}")},
        }))
        .unwrap()
    }

    fn app(name: &str, destination: serde_json::Value) -> Application {
        serde_json::from_value(json!({
            "metadata": {
                "name": name,
                "labels": {"team": "payments"},
                "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "name": "web", "uid": "u", "controller": true}],
            },
            "spec": {"project": "prod", "destination": destination},
        }))
        .unwrap()
    }

    #[test]
    fn servers_are_normalised_and_names_are_mapped() {
        let secrets = [
            secret("s1", "prod-1", "https://one.example.com/", "eu"),
            secret("s2", "prod-2", "https://two.example.com", "us"),
        ];
        let apps = [
            app("a", json!({"server": "https://one.example.com"})),
            app("b", json!({"name": "prod-2", "namespace": "web"})),
            app("c", json!({"server": "https://two.example.com/"})),
        ];
        let m = map(&apps, &secrets);
        assert!(m.unmapped.is_empty(), "{:?}", m.unmapped);
        assert_eq!(m.clusters.len(), 2);
        assert_eq!(m.clusters["prod-1"].server, "https://one.example.com");
        assert_eq!(m.clusters["prod-1"].labels["region"], "eu");
        assert!(
            !m.clusters["prod-1"]
                .labels
                .contains_key("argocd.argoproj.io/secret-type")
        );
        assert_eq!(m.apps["prod-2"], vec!["b", "c"]);
    }

    #[test]
    fn only_clusters_with_target_apps_are_inventory() {
        let secrets = [
            secret("s1", "prod-1", "https://one.example.com", "eu"),
            secret("s2", "idle", "https://idle.example.com", "eu"),
        ];
        let apps = [app("a", json!({"server": "https://one.example.com"}))];
        let m = map(&apps, &secrets);
        assert_eq!(m.clusters.keys().collect::<Vec<_>>(), vec!["prod-1"]);
    }

    #[test]
    fn in_cluster_without_a_secret() {
        let apps = [
            app("a", json!({"server": "https://kubernetes.default.svc"})),
            app("b", json!({"name": "in-cluster"})),
        ];
        let m = map(&apps, &[]);
        assert!(m.unmapped.is_empty());
        assert_eq!(m.clusters["in-cluster"].server, IN_CLUSTER_SERVER);
        assert_eq!(m.apps["in-cluster"], vec!["a", "b"]);
        // With a Secret for it, its labels count.
        let s = [secret(
            "local",
            "in-cluster",
            "https://kubernetes.default.svc",
            "hq",
        )];
        let m = map(&apps, &s);
        assert_eq!(m.clusters["in-cluster"].labels["region"], "hq");
    }

    #[test]
    fn unmappable_apps_are_reported_by_name() {
        let secrets = [
            secret("s1", "prod-1", "https://one.example.com", "eu"),
            secret("dup", "prod-1b", "https://one.example.com", "eu"),
        ];
        let apps = [
            app("nowhere", json!({"server": "https://gone.example.com"})),
            app("unknown-name", json!({"name": "prod-9"})),
            app("both", json!({"server": "https://x", "name": "y"})),
            app("ambiguous", json!({"server": "https://one.example.com"})),
        ];
        let m = map(&apps, &secrets);
        assert!(m.clusters.is_empty());
        assert_eq!(m.unmapped.len(), 4);
        assert!(
            m.unmapped[0].contains("`nowhere`")
                && m.unmapped[0].contains("https://gone.example.com")
        );
        assert!(m.unmapped[1].contains("`unknown-name`") && m.unmapped[1].contains("`prod-9`"));
        assert!(m.unmapped[2].contains("both"));
        assert!(m.unmapped[3].contains("`s1`, `dup`"), "{}", m.unmapped[3]);
    }

    #[test]
    fn targets_by_owner_or_selector_and_project() {
        let a = app("a", json!({"name": "x"}));
        let appset = |project: Option<&str>| Target::AppSet {
            name: "web".into(),
            namespace: "argocd".into(),
            project: project.map(Into::into),
        };
        assert!(is_target(&appset(None), &a));
        assert!(is_target(&appset(Some("prod")), &a));
        assert!(!is_target(&appset(Some("dev")), &a));
        let other = Target::AppSet {
            name: "other".into(),
            namespace: "argocd".into(),
            project: None,
        };
        assert!(!is_target(&other, &a));
        // Not a controller reference: not owned.
        let mut b = a.clone();
        b.metadata.owner_references.as_mut().unwrap()[0].controller = None;
        assert!(!is_target(&appset(None), &b));
        let apps = |team: &str| Target::Apps {
            selector: Selector::Eq {
                key: Attr::Label("team".into()),
                value: team.into(),
            },
            namespace: "argocd".into(),
            project: None,
        };
        assert!(is_target(&apps("payments"), &a));
        assert!(!is_target(&apps("search"), &a));
    }
}
