//! Connecting: the Kubernetes configuration as kubectl finds it (an explicit kubeconfig,
//! `KUBECONFIG`, `~/.kube/config`, a `--context`, or the in-cluster service account), and
//! the checks that turn a wrong cluster, missing credentials or a missing permission into an
//! error with the fix, before anything else happens.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Api, Config};

use super::app::{Application, ApplicationSet};
use super::error::{ArgoCdError, Failure, chain};
use super::secret::ClusterSecret;
use crate::fleet::SECRET_TYPE_LABEL;

/// Loads the client configuration.
pub async fn load_config(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<Config, ArgoCdError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let loaded = match (kubeconfig, context) {
        (Some(path), _) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| ArgoCdError::Kubeconfig {
                message: chain(&e),
                help: format!(
                    "`{}` must be a kubeconfig file (as `kubectl config view --raw` prints one)",
                    path.display()
                ),
            })?;
            let contexts = context_names(&kc);
            Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| kubeconfig_error(e, context, contexts))
        }
        (None, Some(_)) => {
            let contexts = Kubeconfig::read().map(|kc| context_names(&kc)).unwrap_or_default();
            Config::from_kubeconfig(&options)
                .await
                .map_err(|e| kubeconfig_error(e, context, contexts))
        }
        (None, None) => Config::infer().await.map_err(|e| ArgoCdError::Kubeconfig {
            message: chain(&e),
            help: "rollc finds the cluster as kubectl does: set KUBECONFIG or write ~/.kube/config (or pass a kubeconfig file and `--context`), or run it in a pod with a service account".into(),
        }),
    };
    let mut config = loaded?;
    // rollc retries itself: the executor retries a sync, the watches back off. kube's own
    // retry layer would hold a sync for minutes on a throttling server.
    config.default_retry = false;
    config.connect_timeout = Some(Duration::from_secs(10));
    Ok(config)
}

fn context_names(kc: &Kubeconfig) -> Vec<String> {
    kc.contexts.iter().map(|c| c.name.clone()).collect()
}

fn kubeconfig_error(
    e: KubeconfigError,
    context: Option<&str>,
    contexts: Vec<String>,
) -> ArgoCdError {
    match (&e, context) {
        (KubeconfigError::LoadContext(_), Some(context)) => ArgoCdError::UnknownContext {
            context: context.to_string(),
            help: if contexts.is_empty() {
                "the kubeconfig has no contexts at all".into()
            } else {
                format!(
                    "the contexts there are: {} (`kubectl config get-contexts` lists them)",
                    contexts.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
                )
            },
        },
        _ => ArgoCdError::Kubeconfig {
            message: chain(&e),
            help: "check the kubeconfig with `kubectl config view` and `kubectl config current-context`".into(),
        },
    }
}

/// A transient failure is retried this many times at connect.
const CONNECT_ATTEMPTS: u32 = 3;

/// Runs `call` until it succeeds, fails for good, or failed [`CONNECT_ATTEMPTS`] times.
async fn retrying<T, F, Fut>(mut call: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        let result = tokio::time::timeout(super::write::REQUEST_TIMEOUT, call()).await;
        let failure = match result {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => Failure::from_kube(e),
            Err(_) => Failure {
                code: None,
                message: "no answer within 30s".into(),
                retry_after: None,
                name: None,
            },
        };
        // A refused connection is not worth waiting for at connect time.
        if !failure.transient() || failure.code.is_none() || attempt >= CONNECT_ATTEMPTS {
            return Err(failure);
        }
        tokio::time::sleep(
            failure
                .retry_after
                .unwrap_or(delay)
                .min(Duration::from_secs(5)),
        )
        .await;
        delay *= 2;
        attempt += 1;
    }
}

/// Checks that the ApplicationSet exists.
pub async fn check_appset(
    client: &kube::Client,
    server: &str,
    namespace: &str,
    name: &str,
) -> Result<(), ArgoCdError> {
    let api: Api<ApplicationSet> = Api::namespaced(client.clone(), namespace);
    match retrying(|| api.get(name)).await {
        Ok(_) => Ok(()),
        Err(f) if f.code == Some(404) => Err(if f.name.as_deref() == Some(name) {
            ArgoCdError::AppSetNotFound {
                name: name.to_string(),
                namespace: namespace.to_string(),
            }
        } else {
            ArgoCdError::NotArgoCd {
                resource: "applicationsets.argoproj.io".into(),
            }
        }),
        Err(f) => Err(f.explain(server, "get", "applicationsets.argoproj.io", namespace)),
    }
}

/// Lists the Applications of `namespace` (with a label selector when there is one).
pub async fn list_apps(
    client: &kube::Client,
    server: &str,
    namespace: &str,
    labels: Option<&str>,
) -> Result<Vec<Application>, ArgoCdError> {
    let api: Api<Application> = Api::namespaced(client.clone(), namespace);
    let mut params = ListParams::default();
    if let Some(l) = labels {
        params = params.labels(l);
    }
    match retrying(|| api.list(&params)).await {
        Ok(list) => Ok(list.items),
        Err(f) if f.code == Some(404) => Err(ArgoCdError::NotArgoCd {
            resource: "applications.argoproj.io".into(),
        }),
        Err(f) => Err(f.explain(server, "list", "applications.argoproj.io", namespace)),
    }
}

/// Lists the cluster Secrets of `namespace`.
pub async fn list_secrets(
    client: &kube::Client,
    server: &str,
    namespace: &str,
) -> Result<Vec<ClusterSecret>, ArgoCdError> {
    let api: Api<ClusterSecret> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().labels(&format!("{SECRET_TYPE_LABEL}=cluster"));
    retrying(|| api.list(&params))
        .await
        .map(|list| list.items)
        .map_err(|f| f.explain(server, "list", "secrets", namespace))
}

/// The permissions rollc needs beyond the `get`/`list` calls [`connect`](super::ArgoCd::connect)
/// makes itself: (verb, group, resource, namespace).
fn needed<'a>(
    app_namespace: &'a str,
    secret_namespace: &'a str,
) -> [(&'static str, &'static str, &'static str, &'a str); 4] {
    [
        ("watch", "argoproj.io", "applications", app_namespace),
        ("get", "argoproj.io", "applications", app_namespace),
        ("patch", "argoproj.io", "applications", app_namespace),
        ("watch", "", "secrets", secret_namespace),
    ]
}

/// Asks the API server (SelfSubjectAccessReview) whether rollc may watch and patch
/// Applications and watch Secrets, so that a missing permission is reported now rather than
/// at the first sync. A server that cannot answer is not an error: the permission is then
/// found missing when it is used.
pub async fn check_access(
    client: &kube::Client,
    app_namespace: &str,
    secret_namespace: &str,
) -> Result<(), ArgoCdError> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let mut missing = Vec::new();
    let mut namespaces = Vec::new();
    for (verb, group, resource, namespace) in needed(app_namespace, secret_namespace) {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(verb.into()),
                    group: Some(group.into()),
                    resource: Some(resource.into()),
                    namespace: Some(namespace.into()),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let answer = tokio::time::timeout(
            super::write::REQUEST_TIMEOUT,
            api.create(&PostParams::default(), &review),
        )
        .await;
        let Ok(Ok(answer)) = answer else {
            return Ok(());
        };
        if !answer.status.is_some_and(|s| s.allowed) {
            let resource = if group.is_empty() {
                resource.to_string()
            } else {
                format!("{resource}.{group}")
            };
            missing.push(format!("`{verb}` {resource}"));
            if !namespaces.contains(&namespace) {
                namespaces.push(namespace);
            }
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ArgoCdError::Forbidden {
            missing: missing.join(", "),
            namespace: namespaces.join("`, `"),
            detail: String::new(),
        })
    }
}
