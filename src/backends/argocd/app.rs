//! The parts of an Argo CD `Application` (argoproj.io/v1alpha1) rollc reads: destination,
//! project, sync policy and source (to build a sync), the top-level `operation`, and the
//! status it judges (`sync`, `health`, `operationState`, `reconciledAt`, `history`).

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

use super::secret::normalize_server;

/// The user name rollc writes into `operation.initiatedBy.username`.
pub const INITIATOR: &str = "rollc";
/// The `operation.info` entry that names the run and stage, for people.
pub const INFO_REASON: &str = "Reason";
/// The `operation.info` entry that identifies the exact request (its time, RFC 3339 with
/// the executor's full precision): how rollc recognises its own operation after a restart.
pub const INFO_REQUEST: &str = "rollc.requestedAt";
/// The in-cluster destination's server.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
/// The in-cluster destination's name.
pub const IN_CLUSTER_NAME: &str = "in-cluster";

/// An Argo CD Application, partially.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Application {
    /// Standard metadata.
    pub metadata: ObjectMeta,
    /// `spec`.
    pub spec: AppSpec,
    /// The top-level `operation`: set while an operation is requested or running.
    pub operation: Option<Operation>,
    /// `status`.
    pub status: AppStatus,
}

/// `spec`, partially.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AppSpec {
    /// The Argo CD project.
    pub project: Option<String>,
    /// Where it deploys.
    pub destination: Destination,
    /// The single source, kept whole to copy into a sync.
    pub source: Option<Value>,
    /// Multiple sources (not supported by rollc's sync yet).
    pub sources: Option<Vec<Value>>,
    /// `syncPolicy`.
    pub sync_policy: Option<SyncPolicy>,
}

/// `spec.destination`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Destination {
    /// The cluster's API server URL.
    pub server: Option<String>,
    /// The cluster's Argo CD name.
    pub name: Option<String>,
}

/// `spec.syncPolicy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SyncPolicy {
    /// `automated`; autosync is on when present and `enabled` is not `false`.
    pub automated: Option<Automated>,
    /// `syncOptions`, copied into a sync as the API server does.
    pub sync_options: Option<Vec<String>>,
    /// `retry`, copied into a sync as the API server does.
    pub retry: Option<Value>,
}

/// `spec.syncPolicy.automated`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Automated {
    /// `enabled` (Argo CD 3.3+; absent means enabled).
    pub enabled: Option<bool>,
    /// `prune`: rollc's sync prunes when the (disabled) automated policy says so.
    pub prune: Option<bool>,
}

/// An `operation` (top-level, or the copy in `status.operationState.operation`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Operation {
    /// `sync`.
    pub sync: Option<SyncOperation>,
    /// `initiatedBy`.
    pub initiated_by: Option<Initiator>,
    /// `info`.
    pub info: Option<Vec<Info>>,
}

/// `operation.sync`, partially.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct SyncOperation {
    /// The revision to sync to.
    pub revision: Option<String>,
}

/// `operation.initiatedBy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Initiator {
    /// Who.
    pub username: Option<String>,
    /// Whether Argo CD's autosync (or the ApplicationSet controller) started it.
    pub automated: Option<bool>,
}

/// One `operation.info` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Info {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// `status`, partially.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AppStatus {
    /// `sync`.
    pub sync: SyncStatus,
    /// `health`.
    pub health: Health,
    /// `operationState`.
    pub operation_state: Option<OperationState>,
    /// When the app was last compared (RFC 3339, second precision).
    pub reconciled_at: Option<String>,
    /// Past successful syncs, oldest first.
    pub history: Option<Vec<History>>,
}

/// `status.sync`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct SyncStatus {
    /// `Synced`, `OutOfSync` or `Unknown`.
    pub status: Option<String>,
    /// The resolved revision the live state was compared with.
    pub revision: Option<String>,
}

/// `status.health`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Health {
    /// `Healthy`, `Suspended`, `Progressing`, `Missing`, `Degraded` or `Unknown`.
    pub status: Option<String>,
    /// Why.
    pub message: Option<String>,
}

/// `status.operationState`, partially.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OperationState {
    /// The operation it is the state of.
    pub operation: Option<Operation>,
    /// `Running`, `Terminating`, `Failed`, `Error` or `Succeeded`.
    pub phase: Option<String>,
    /// What happened.
    pub message: Option<String>,
    /// When the controller started it.
    pub started_at: Option<String>,
    /// When it completed.
    pub finished_at: Option<String>,
    /// `syncResult`, partially.
    pub sync_result: Option<SyncResult>,
}

/// `status.operationState.syncResult`, partially.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct SyncResult {
    /// The revision that was synced.
    pub revision: Option<String>,
}

/// One `status.history` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct History {
    /// The revision deployed.
    pub revision: Option<String>,
    /// When the sync that deployed it finished.
    pub deployed_at: Option<String>,
    /// When it started.
    pub deploy_started_at: Option<String>,
    /// Who started it.
    pub initiated_by: Option<Initiator>,
}

impl kube::Resource for Application {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Application".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "argoproj.io".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1alpha1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "applications".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The ApplicationSet resource, for the existence check only.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApplicationSet {
    /// Standard metadata.
    pub metadata: ObjectMeta,
}

impl kube::Resource for ApplicationSet {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "ApplicationSet".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "argoproj.io".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1alpha1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "applicationsets".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl Application {
    /// The Application's name.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// Whether Argo CD auto-syncs it: `automated` present and `enabled` not `false`.
    pub fn autosync(&self) -> bool {
        self.spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.automated.as_ref())
            .is_some_and(|a| a.enabled != Some(false))
    }

    /// Whether an ApplicationSet named `appset` is its controller (the owner reference
    /// `SetControllerReference` writes).
    pub fn owned_by_appset(&self, appset: &str) -> bool {
        self.metadata.owner_references.iter().flatten().any(|o| {
            o.controller == Some(true)
                && o.kind == "ApplicationSet"
                && o.name == appset
                && o.api_version == "argoproj.io/v1alpha1"
        })
    }

    /// The normalised `spec.destination.server`, if set.
    pub fn dest_server(&self) -> Option<String> {
        self.spec
            .destination
            .server
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(normalize_server)
    }

    /// `spec.destination.name`, if set.
    pub fn dest_name(&self) -> Option<&str> {
        self.spec
            .destination
            .name
            .as_deref()
            .filter(|s| !s.trim().is_empty())
    }

    /// The revision Argo CD last compared the app with (`status.sync.revision`).
    pub fn compared_revision(&self) -> Option<&str> {
        self.status
            .sync
            .revision
            .as_deref()
            .filter(|r| !r.is_empty())
    }
}

impl Operation {
    /// Who started it, for messages: the user name, or "automated sync" / "unknown".
    pub fn initiator(&self) -> String {
        match &self.initiated_by {
            Some(Initiator {
                username: Some(u), ..
            }) if !u.is_empty() => u.clone(),
            Some(Initiator {
                automated: Some(true),
                ..
            }) => "an automated sync (autosync or the ApplicationSet controller)".into(),
            _ => "an unknown initiator".into(),
        }
    }

    /// The value of `info` entry `name`.
    pub fn info(&self, name: &str) -> Option<&str> {
        self.info
            .iter()
            .flatten()
            .find(|i| i.name == name)
            .map(|i| i.value.as_str())
    }

    /// Whether this is the operation rollc wrote for the request made at `requested_at`
    /// with `revision`.
    pub fn is_rollc_request(&self, revision: &str, requested_at: &str) -> bool {
        self.initiated_by
            .as_ref()
            .and_then(|i| i.username.as_deref())
            == Some(INITIATOR)
            && self.info(INFO_REQUEST) == Some(requested_at)
            && self.sync.as_ref().and_then(|s| s.revision.as_deref()) == Some(revision)
    }
}
