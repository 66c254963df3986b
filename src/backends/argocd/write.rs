//! Starting a sync the way Argo CD's `SetAppOperation` does it, through the Kubernetes API:
//! GET the Application; if an operation is already set, never overwrite it; else write
//! `operation` and clear `status.operationState`, guarded by the object's `resourceVersion`,
//! and on 409 Conflict GET again and re-check. Requests are raw so that `Retry-After` is
//! seen.

use std::time::Duration;

use kube::Resource;
use kube::api::{GetParams, Patch, PatchParams};
use kube::client::Body;
use serde_json::{Value, json};

use super::app::{Application, INFO_REASON, INFO_REQUEST, INITIATOR};
use super::error::Failure;
use super::judge::{request_token, started};
use crate::backends::SyncRequest;

/// How long one API request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How many 409 Conflicts in a row one write tolerates.
const MAX_CONFLICTS: u32 = 10;

/// What [`ensure_operation`] found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// rollc's operation for the request was written now.
    Now,
    /// It was already there (pending, running, finished, or in the history).
    Already,
    /// Another operation is set; it was left alone. Who started it, and the Application's
    /// `resourceVersion` when it was seen.
    Busy {
        /// Who started the operation.
        by: String,
        /// The Application's `resourceVersion` then.
        seen: Option<String>,
    },
}

/// Why [`ensure_operation`] did not write.
#[derive(Clone, Debug)]
pub enum WriteError {
    /// The API server failed or is unreachable; retrying later may work.
    Unavailable(Failure),
    /// Retrying will not help; the message says why.
    Refused(String),
}

/// Makes sure rollc's operation for `request` is on Application `name`: written once, never
/// over another operation, never twice.
pub async fn ensure_operation(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    request: &SyncRequest,
) -> Result<Written, WriteError> {
    for _ in 0..MAX_CONFLICTS {
        let app = get_app(client, namespace, name)
            .await
            .map_err(|f| classify(f, "get", name, namespace))?;
        if started(&app, request) {
            return Ok(Written::Already);
        }
        if app.autosync() {
            return Err(WriteError::Refused(format!(
                "Application `{name}` is auto-synced by Argo CD (`spec.syncPolicy.automated`), so rollc will not sync it: remove `automated` from the ApplicationSet template, or add `ignoreApplicationDifferences: [{{jsonPointers: [/spec/syncPolicy]}}]` to the ApplicationSet and remove it from the Application"
            )));
        }
        if let Some(op) = &app.operation {
            return Ok(Written::Busy {
                by: op.initiator(),
                seen: app.metadata.resource_version.clone(),
            });
        }
        let patch = operation_patch(&app, request).map_err(WriteError::Refused)?;
        match patch_app(client, namespace, name, &patch).await {
            Ok(()) => return Ok(Written::Now),
            Err(f) if f.code == Some(409) => continue,
            Err(f) => return Err(classify(f, "patch", name, namespace)),
        }
    }
    Err(WriteError::Unavailable(Failure {
        code: Some(409),
        message: format!(
            "Application `{name}` kept changing while rollc wrote its sync ({MAX_CONFLICTS} conflicts in a row)"
        ),
        retry_after: None,
        name: None,
    }))
}

fn classify(f: Failure, verb: &str, name: &str, namespace: &str) -> WriteError {
    if f.transient() {
        WriteError::Unavailable(f)
    } else {
        match f.into_backend(verb, name, namespace) {
            crate::backends::BackendError::Refused(m)
            | crate::backends::BackendError::Unavailable(m) => WriteError::Refused(m),
        }
    }
}

/// The JSON merge patch that starts rollc's sync of `app` for `request`, as
/// `SetAppOperation` would: `operation` set, `status.operationState` cleared, guarded by
/// `metadata.resourceVersion` (a stale version is a 409 Conflict).
///
/// The operation is the one `argocd app sync --revision R` builds: the pinned revision, the
/// spec's `source` copied in, `syncOptions` and `retry` from the spec's sync policy, `prune`
/// as the (disabled) automated policy says, `initiatedBy.username: rollc`, and `info` naming
/// the run and stage plus the request's exact time (how rollc recognises it later).
pub fn operation_patch(app: &Application, request: &SyncRequest) -> Result<Value, String> {
    let spec = &app.spec;
    let Some(source) = &spec.source else {
        return Err(if spec.sources.is_some() {
            format!(
                "Application `{}` has several sources (`spec.sources`); rollc syncs single-source Applications only",
                app.name()
            )
        } else {
            format!("Application `{}` has no `spec.source`", app.name())
        });
    };
    let policy = spec.sync_policy.as_ref();
    let mut sync = json!({
        "revision": request.revision,
        "source": source,
        "prune": policy
            .and_then(|p| p.automated.as_ref())
            .and_then(|a| a.prune)
            .unwrap_or(false),
    });
    if let Some(options) = policy.and_then(|p| p.sync_options.as_ref()) {
        sync["syncOptions"] = json!(options);
    }
    let mut operation = json!({
        "sync": sync,
        "initiatedBy": {"username": INITIATOR},
        "info": [
            {"name": INFO_REASON, "value": format!("rollc run {} stage {}", request.run, request.stage)},
            {"name": INFO_REQUEST, "value": request_token(request)},
        ],
    });
    if let Some(retry) = policy.and_then(|p| p.retry.as_ref()) {
        operation["retry"] = retry.clone();
    }
    let mut patch = json!({
        "metadata": {"resourceVersion": app.metadata.resource_version},
        "operation": operation,
    });
    if app.status.operation_state.is_some() {
        patch["status"] = json!({"operationState": null});
    }
    Ok(patch)
}

/// GET one Application.
pub async fn get_app(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Application, Failure> {
    let url = Application::url_path(&(), Some(namespace));
    let request = kube::core::Request::new(url)
        .get(name, &GetParams::default())
        .map_err(build_failure)?;
    let body = send(client, request).await?;
    serde_json::from_slice(&body).map_err(|e| Failure {
        code: None,
        message: format!("Application `{name}` could not be read: {e}"),
        retry_after: None,
        name: None,
    })
}

/// Merge-patches one Application.
async fn patch_app(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    patch: &Value,
) -> Result<(), Failure> {
    let url = Application::url_path(&(), Some(namespace));
    let request = kube::core::Request::new(url)
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .map_err(build_failure)?;
    send(client, request).await.map(drop)
}

fn build_failure(e: kube::core::request::Error) -> Failure {
    Failure {
        code: Some(400),
        message: e.to_string(),
        retry_after: None,
        name: None,
    }
}

/// Sends a request; a non-2xx answer is a [`Failure`] with the server's message and
/// `Retry-After`.
async fn send(client: &kube::Client, request: http::Request<Vec<u8>>) -> Result<Vec<u8>, Failure> {
    let sent = tokio::time::timeout(REQUEST_TIMEOUT, client.send(request.map(Body::from))).await;
    let response = match sent {
        Err(_) => {
            return Err(Failure {
                code: None,
                message: format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()),
                retry_after: None,
                name: None,
            });
        }
        Ok(Err(e)) => return Err(Failure::from_kube(e)),
        Ok(Ok(r)) => r,
    };
    let code = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response
        .into_body()
        .collect_bytes()
        .await
        .map_err(Failure::from_kube)?;
    if (200..300).contains(&code) {
        return Ok(body.to_vec());
    }
    let status: Option<kube::core::Status> = serde_json::from_slice(&body).ok();
    let message = status
        .as_ref()
        .map(|s| {
            if s.message.is_empty() {
                s.reason.clone()
            } else {
                s.message.clone()
            }
        })
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("HTTP {code}"));
    Err(Failure {
        code: Some(code),
        message,
        retry_after: retry_after.or_else(|| {
            status
                .as_ref()
                .and_then(|s| s.details.as_ref())
                .and_then(|d| {
                    (d.retry_after_seconds > 0)
                        .then(|| Duration::from_secs(d.retry_after_seconds.into()))
                })
        }),
        name: status
            .and_then(|s| s.details)
            .map(|d| d.name)
            .filter(|n| !n.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SyncRequest {
        SyncRequest {
            cluster: "prod-1".into(),
            revision: "abc123".into(),
            run: "run-7".into(),
            stage: "canary in EMEA".into(),
            at: "2026-03-01T10:00:00.5Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_patch_is_what_argocd_app_sync_writes() {
        let app: Application = serde_json::from_value(json!({
            "metadata": {"name": "web", "resourceVersion": "1234"},
            "spec": {
                "source": {"repoURL": "https://git.example.com/x.git", "path": "web", "targetRevision": "HEAD"},
                "syncPolicy": {"automated": {"enabled": false, "prune": true}, "syncOptions": ["CreateNamespace=true"], "retry": {"limit": 2}},
            },
            "status": {"operationState": {"phase": "Succeeded"}},
        }))
        .unwrap();
        let patch = operation_patch(&app, &request()).unwrap();
        assert_eq!(
            patch,
            json!({
                "metadata": {"resourceVersion": "1234"},
                "operation": {
                    "sync": {
                        "revision": "abc123",
                        "source": {"repoURL": "https://git.example.com/x.git", "path": "web", "targetRevision": "HEAD"},
                        "prune": true,
                        "syncOptions": ["CreateNamespace=true"],
                    },
                    "initiatedBy": {"username": "rollc"},
                    "info": [
                        {"name": "Reason", "value": "rollc run run-7 stage canary in EMEA"},
                        {"name": "rollc.requestedAt", "value": "2026-03-01T10:00:00.5Z"},
                    ],
                    "retry": {"limit": 2},
                },
                "status": {"operationState": null},
            })
        );
    }

    #[test]
    fn multi_source_is_refused() {
        let app: Application = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"sources": [{"repoURL": "a"}, {"repoURL": "b"}]},
        }))
        .unwrap();
        let e = operation_patch(&app, &request()).unwrap_err();
        assert!(e.contains("several sources"), "{e}");
    }
}
