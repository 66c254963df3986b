//! Why the Argo CD backend cannot start ([`ArgoCdError`], with the fix spelled out), and how
//! failed Kubernetes API requests are classified ([`Failure`]).

use std::time::Duration;

use crate::backends::BackendError;

/// The Role rollc needs, shipped with rollc.
pub const RBAC_FILE: &str = "deploy/rbac.yaml";

/// Why the Argo CD backend cannot connect or start a run.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ArgoCdError {
    /// The kubeconfig cannot be found or read, and there is no in-cluster configuration.
    #[error("cannot load a Kubernetes configuration: {message}")]
    #[diagnostic(code(rollc::argocd::kubeconfig), help("{help}"))]
    Kubeconfig {
        /// What failed.
        message: String,
        /// What to do.
        help: String,
    },
    /// `--context` names no context of the kubeconfig.
    #[error("the kubeconfig has no context `{context}`")]
    #[diagnostic(code(rollc::argocd::context), help("{help}"))]
    UnknownContext {
        /// The context asked for.
        context: String,
        /// The contexts there are.
        help: String,
    },
    /// The API server cannot be reached.
    #[error("cannot reach the Kubernetes API server at {server}: {message}")]
    #[diagnostic(
        code(rollc::argocd::unreachable),
        help(
            "check that the kubeconfig context points at the Argo CD control cluster and that it is reachable from here (VPN, proxy, firewall): `kubectl --context CONTEXT get applications -n NAMESPACE` should work"
        )
    )]
    Unreachable {
        /// The API server URL.
        server: String,
        /// What failed.
        message: String,
    },
    /// The API server does not accept the credentials.
    #[error(
        "the Kubernetes API server at {server} rejected rollc's credentials (401 Unauthorized)"
    )]
    #[diagnostic(
        code(rollc::argocd::unauthorized),
        help(
            "the kubeconfig's credentials are missing or expired: log in again (refresh the cloud provider's token, or the service account token in-cluster) and check with `kubectl auth whoami`"
        )
    )]
    Unauthorized {
        /// The API server URL.
        server: String,
    },
    /// The identity lacks a permission rollc needs.
    #[error("rollc is not allowed to {missing} in namespace `{namespace}` (403 Forbidden){detail}")]
    #[diagnostic(
        code(rollc::argocd::forbidden),
        help(
            "rollc needs get/list/watch/patch on applications.argoproj.io, get on applicationsets.argoproj.io, and list/watch on secrets in the Argo CD namespace: `kubectl apply -f deploy/rbac.yaml` creates that Role and binds it (edit the subject to the identity rollc runs as), then check with `kubectl auth can-i --list -n {namespace}`"
        )
    )]
    Forbidden {
        /// The verbs and resources, e.g. "`patch` applications.argoproj.io".
        missing: String,
        /// The namespace.
        namespace: String,
        /// The API server's message, prefixed with ": ", or empty.
        detail: String,
    },
    /// The target ApplicationSet does not exist.
    #[error("ApplicationSet `{name}` does not exist in namespace `{namespace}`")]
    #[diagnostic(
        code(rollc::argocd::appset),
        help(
            "check the rollout's `target appset \"NAME\" in \"NAMESPACE\"` and the kubeconfig context; `kubectl get applicationsets -n {namespace}` lists the ApplicationSets there"
        )
    )]
    AppSetNotFound {
        /// Its name.
        name: String,
        /// Its namespace.
        namespace: String,
    },
    /// The cluster has no Argo CD resources.
    #[error(
        "Argo CD is not installed on this cluster: the API server has no `{resource}` resource"
    )]
    #[diagnostic(
        code(rollc::argocd::crd),
        help(
            "point the kubeconfig context (`--context`, KUBECONFIG) at the cluster where Argo CD runs (its control cluster), not at a managed cluster"
        )
    )]
    NotArgoCd {
        /// The missing resource.
        resource: String,
    },
    /// Argo CD auto-syncs target Applications, which would update every cluster at once.
    #[error("{}", autosync_message(.apps))]
    #[diagnostic(
        code(rollc::argocd::autosync),
        help(
            "rollc syncs each cluster itself, so Argo CD must not auto-sync the target Applications. Either remove `automated` from the ApplicationSet template's `syncPolicy` (or set `automated.enabled: false`), or, to switch it off on the Applications alone, first add `ignoreApplicationDifferences: [{{jsonPointers: [/spec/syncPolicy]}}]` to the ApplicationSet spec so that its controller stops re-enabling it, then remove `automated` from each Application"
        )
    )]
    Autosync {
        /// The auto-synced Applications.
        apps: Vec<String>,
    },
    /// Any other refusal of the API server.
    #[error("the Kubernetes API server refused a request ({code}): {message}")]
    #[diagnostic(code(rollc::argocd::api))]
    Api {
        /// The HTTP status.
        code: u16,
        /// Its message.
        message: String,
    },
}

fn autosync_message(apps: &[String]) -> String {
    let shown: Vec<String> = apps.iter().take(5).map(|a| format!("`{a}`")).collect();
    let more = apps.len().saturating_sub(shown.len());
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    let (noun, verb) = if apps.len() == 1 {
        ("Application", "is")
    } else {
        ("Applications", "are")
    };
    format!(
        "target {noun} {}{tail} {verb} auto-synced by Argo CD (`spec.syncPolicy.automated`), which would update every cluster at once",
        shown.join(", ")
    )
}

impl ArgoCdError {
    /// The error with its help, as one line for a [`BackendError`].
    pub fn with_help(&self) -> String {
        match miette::Diagnostic::help(self) {
            Some(help) => format!("{self}; {help}"),
            None => self.to_string(),
        }
    }
}

impl From<ArgoCdError> for BackendError {
    fn from(e: ArgoCdError) -> BackendError {
        match e {
            ArgoCdError::Unreachable { .. } => BackendError::Unavailable(e.with_help()),
            ArgoCdError::Api { code, .. } if transient(Some(code)) => {
                BackendError::Unavailable(e.with_help())
            }
            _ => BackendError::Refused(e.with_help()),
        }
    }
}

/// A failed API request: the HTTP status (none for a transport failure), the API server's
/// message, and its `Retry-After`.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The HTTP status, `None` when no response came.
    pub code: Option<u16>,
    /// The message.
    pub message: String,
    /// `Retry-After`, when the server sent one.
    pub retry_after: Option<Duration>,
    /// The `details.name` of a `Status`, which tells "object not found" from "no such
    /// resource".
    pub name: Option<String>,
}

/// Whether a failure with this status may go away by itself: no response, 429, 5xx.
pub fn transient(code: Option<u16>) -> bool {
    match code {
        None => true,
        Some(c) => c == 429 || c >= 500,
    }
}

impl Failure {
    /// Whether retrying later may work.
    pub fn transient(&self) -> bool {
        transient(self.code)
    }

    /// From a kube client error.
    pub fn from_kube(e: kube::Error) -> Failure {
        match e {
            kube::Error::Api(status) => Failure {
                code: Some(status.code),
                message: if status.message.is_empty() {
                    status.reason.clone()
                } else {
                    status.message.clone()
                },
                retry_after: status.details.as_ref().and_then(|d| {
                    (d.retry_after_seconds > 0)
                        .then(|| Duration::from_secs(d.retry_after_seconds.into()))
                }),
                name: status
                    .details
                    .as_ref()
                    .map(|d| d.name.clone())
                    .filter(|n| !n.is_empty()),
            },
            other => Failure {
                code: None,
                message: chain(&other),
                retry_after: None,
                name: None,
            },
        }
    }

    /// The failure as a connect-time error for `verb` on `resource` in `namespace`.
    pub fn explain(self, server: &str, verb: &str, resource: &str, namespace: &str) -> ArgoCdError {
        match self.code {
            None => ArgoCdError::Unreachable {
                server: server.to_string(),
                message: self.message,
            },
            Some(401) => ArgoCdError::Unauthorized {
                server: server.to_string(),
            },
            Some(403) => ArgoCdError::Forbidden {
                missing: format!("`{verb}` {resource}"),
                namespace: namespace.to_string(),
                detail: format!(": {}", self.message),
            },
            Some(code) => ArgoCdError::Api {
                code,
                message: self.message,
            },
        }
    }

    /// The failure of an action on Application `app` as a [`BackendError`].
    pub fn into_backend(self, verb: &str, app: &str, namespace: &str) -> BackendError {
        let what = format!("{verb} Application `{app}`");
        match self.code {
            _ if self.transient() => BackendError::Unavailable(match self.retry_after {
                Some(d) => format!(
                    "cannot {what}: {} (retry after {}s)",
                    self.message,
                    d.as_secs()
                ),
                None => format!("cannot {what}: {}", self.message),
            }),
            Some(403) => BackendError::Refused(
                ArgoCdError::Forbidden {
                    missing: format!("`{verb}` applications.argoproj.io"),
                    namespace: namespace.to_string(),
                    detail: format!(": {}", self.message),
                }
                .with_help(),
            ),
            Some(401) => BackendError::Refused(format!(
                "cannot {what}: the API server rejected rollc's credentials (401 Unauthorized); log in again"
            )),
            Some(404) => BackendError::Refused(format!(
                "cannot {what}: it does not exist (any more) in namespace `{namespace}`"
            )),
            Some(code) => {
                BackendError::Refused(format!("cannot {what} ({code}): {}", self.message))
            }
            None => BackendError::Unavailable(format!("cannot {what}: {}", self.message)),
        }
    }
}

/// An error and its sources, as one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autosync_names_the_apps_and_both_fixes() {
        let e = ArgoCdError::Autosync {
            apps: vec!["web-prod-1".into()],
        };
        let text = e.with_help();
        assert!(
            text.starts_with("target Application `web-prod-1` is auto-synced"),
            "{text}"
        );
        assert!(text.contains("remove `automated` from the ApplicationSet template"));
        assert!(
            text.contains("ignoreApplicationDifferences: [{jsonPointers: [/spec/syncPolicy]}]")
        );
        let many = ArgoCdError::Autosync {
            apps: (1..=7).map(|i| format!("a{i}")).collect(),
        };
        assert!(many.to_string().contains("`a5` and 2 more are auto-synced"));
    }

    #[test]
    fn forbidden_names_the_verb_and_the_rbac_file() {
        let f = Failure {
            code: Some(403),
            message: "applications.argoproj.io is forbidden".into(),
            retry_after: None,
            name: None,
        };
        let e = f.explain("https://k", "list", "applications.argoproj.io", "argocd");
        let text = e.with_help();
        assert!(
            text.contains("not allowed to `list` applications.argoproj.io in namespace `argocd`"),
            "{text}"
        );
        assert!(text.contains(RBAC_FILE));
    }
}
