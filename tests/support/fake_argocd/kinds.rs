//! The resources the fake serves, their REST names, and the discovery documents that
//! describe them (what `kubectl` reads before it can resolve `applications` or `app`).

use serde_json::{Value, json};

/// A resource type the fake stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Secret,
    ConfigMap,
    Lease,
    Application,
    ApplicationSet,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Secret,
        Kind::ConfigMap,
        Kind::Lease,
        Kind::Application,
        Kind::ApplicationSet,
    ];

    /// The API group (`""` for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Secret | Kind::ConfigMap => "",
            Kind::Lease => "coordination.k8s.io",
            Kind::Application | Kind::ApplicationSet => "argoproj.io",
        }
    }

    pub fn version(self) -> &'static str {
        match self {
            Kind::Secret | Kind::ConfigMap | Kind::Lease => "v1",
            Kind::Application | Kind::ApplicationSet => "v1alpha1",
        }
    }

    /// `apiVersion` as objects carry it: `v1`, `coordination.k8s.io/v1`, ...
    pub fn api_version(self) -> String {
        if self.group().is_empty() {
            self.version().to_string()
        } else {
            format!("{}/{}", self.group(), self.version())
        }
    }

    /// The resource name in URLs and RBAC rules.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Secret => "secrets",
            Kind::ConfigMap => "configmaps",
            Kind::Lease => "leases",
            Kind::Application => "applications",
            Kind::ApplicationSet => "applicationsets",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::ConfigMap => "configmap",
            Kind::Lease => "lease",
            Kind::Application => "application",
            Kind::ApplicationSet => "applicationset",
        }
    }

    /// The `kind` of an object.
    pub fn kind(self) -> &'static str {
        match self {
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
            Kind::Lease => "Lease",
            Kind::Application => "Application",
            Kind::ApplicationSet => "ApplicationSet",
        }
    }

    fn short_names(self) -> &'static [&'static str] {
        match self {
            Kind::Secret | Kind::Lease => &[],
            Kind::ConfigMap => &["cm"],
            Kind::Application => &["app", "apps"],
            Kind::ApplicationSet => &["appset", "appsets"],
        }
    }

    /// Custom resources (served by the apiextensions server): list items carry `kind` and
    /// `apiVersion`, `metadata.generation` is kept, strategic merge patches are refused.
    pub fn is_custom(self) -> bool {
        matches!(self, Kind::Application | Kind::ApplicationSet)
    }

    /// Whether the resource has a `/status` subresource. The Application CRD has
    /// `subresources: {}` (no status subresource: the controller writes status through the
    /// main resource); the ApplicationSet CRD has `subresources: {status: {}}`.
    pub fn has_status_subresource(self) -> bool {
        matches!(self, Kind::ApplicationSet)
    }

    /// `applications.argoproj.io`, or `secrets` for the core group: how the apiserver
    /// names the resource in error messages.
    pub fn group_resource(self) -> String {
        qualified(self.group(), self.plural())
    }

    /// The Kind for a URL's group, version and resource.
    pub fn from_rest(group: &str, version: &str, resource: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.group() == group && k.version() == version && k.plural() == resource)
    }

    /// The collection path in namespace `ns`.
    pub fn collection_path(self, ns: &str) -> String {
        if self.group().is_empty() {
            format!("/api/v1/namespaces/{ns}/{}", self.plural())
        } else {
            format!(
                "/apis/{}/{}/namespaces/{ns}/{}",
                self.group(),
                self.version(),
                self.plural()
            )
        }
    }

    fn discovery_entry(self) -> Value {
        let verbs = [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ];
        let mut entry = json!({
            "name": self.plural(),
            "singularName": self.singular(),
            "namespaced": true,
            "kind": self.kind(),
            "verbs": verbs,
        });
        if !self.short_names().is_empty() {
            entry["shortNames"] = json!(self.short_names());
        }
        if self.is_custom() {
            entry["categories"] = json!(["argoproj"]);
        }
        entry
    }
}

/// Built-in resources the fake lists in discovery but stores nothing of (as in a cluster
/// where they are all empty), so that clients resolve them and RBAC answers for them as
/// a real apiserver would: `(group, version, resource, kind, namespaced)`.
pub const UNSTORED: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "pods", "Pod", true),
    ("", "v1", "services", "Service", true),
    ("", "v1", "serviceaccounts", "ServiceAccount", true),
    ("", "v1", "events", "Event", true),
    ("", "v1", "namespaces", "Namespace", false),
];

/// The kind of an [`UNSTORED`] resource.
pub fn unstored(group: &str, version: &str, resource: &str) -> Option<&'static str> {
    UNSTORED
        .iter()
        .find(|(g, v, r, _, _)| *g == group && *v == version && *r == resource)
        .map(|(_, _, _, k, _)| *k)
}

/// `resource.group`, or `resource` for the core group.
pub fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// The discovery document at `path` (`/api`, `/apis`, `/api/v1`, `/apis/GROUP`,
/// `/apis/GROUP/VERSION`, `/version`), or `None` when the path is not one.
///
/// These are the legacy (unaggregated) documents: a client that asks for aggregated
/// discovery (`as=APIGroupDiscoveryList`) and gets `application/json` falls back to them,
/// as kubectl does against older servers.
pub fn discovery(path: &str, server_address: &str) -> Option<Value> {
    let path = path.trim_end_matches('/');
    let groups: Vec<(&str, &str)> = vec![
        ("argoproj.io", "v1alpha1"),
        ("coordination.k8s.io", "v1"),
        ("authorization.k8s.io", "v1"),
    ];
    let group_doc = |name: &str, version: &str| {
        json!({
            "name": name,
            "versions": [{"groupVersion": format!("{name}/{version}"), "version": version}],
            "preferredVersion": {"groupVersion": format!("{name}/{version}"), "version": version},
        })
    };
    match path {
        "/api" => Some(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        })),
        "/apis" => Some(json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": groups.iter().map(|(g, v)| group_doc(g, v)).collect::<Vec<_>>(),
        })),
        "/version" => Some(json!({
            "major": "1",
            "minor": "32",
            "gitVersion": "v1.32.4-fake-argocd",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.23.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        })),
        _ => {
            let rest = path.strip_prefix("/api/").map(|v| ("", v)).or_else(|| {
                let rest = path.strip_prefix("/apis/")?;
                Some(match rest.split_once('/') {
                    Some((g, v)) => (g, v),
                    None => (rest, ""),
                })
            })?;
            let (group, version) = rest;
            if version.is_empty() {
                let (g, v) = groups.iter().find(|(g, _)| *g == group)?;
                let mut doc = group_doc(g, v);
                doc["kind"] = json!("APIGroup");
                doc["apiVersion"] = json!("v1");
                return Some(doc);
            }
            if (group, version) == ("authorization.k8s.io", "v1") {
                let review = |name: &str, kind: &str| json!({"name": name, "singularName": "", "namespaced": false, "kind": kind, "verbs": ["create"]});
                return Some(json!({
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": "authorization.k8s.io/v1",
                    "resources": [
                        review("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
                        review("selfsubjectrulesreviews", "SelfSubjectRulesReview"),
                    ],
                }));
            }
            let kinds: Vec<Kind> = Kind::ALL
                .into_iter()
                .filter(|k| k.group() == group && k.version() == version)
                .collect();
            if kinds.is_empty() {
                return None;
            }
            let mut resources: Vec<Value> = kinds.iter().map(|k| k.discovery_entry()).collect();
            for (g, v, plural, kind, namespaced) in UNSTORED {
                if *g == group && *v == version {
                    resources.push(json!({
                        "name": plural,
                        "singularName": kind.to_ascii_lowercase(),
                        "namespaced": namespaced,
                        "kind": kind,
                        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                    }));
                }
            }
            for k in &kinds {
                if k.has_status_subresource() {
                    resources.push(json!({
                        "name": format!("{}/status", k.plural()),
                        "singularName": "",
                        "namespaced": true,
                        "kind": k.kind(),
                        "verbs": ["get", "patch", "update"],
                    }));
                }
            }
            let group_version = if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            };
            Some(json!({
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": resources,
            }))
        }
    }
}

/// A server-side printed column: its definition and how to compute the cell.
struct Column {
    name: &'static str,
    ty: &'static str,
    format: &'static str,
    description: &'static str,
    priority: u8,
    cell: fn(&Value, jiff::Timestamp) -> Value,
}

fn str_at(obj: &Value, pointer: &str) -> Value {
    obj.pointer(pointer).cloned().unwrap_or(Value::Null)
}

fn age(obj: &Value, now: jiff::Timestamp) -> Value {
    let Some(created) = obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
    else {
        return json!("<unknown>");
    };
    json!(human_duration(
        (now.as_second() - created.as_second()).max(0)
    ))
}

/// The apiserver's `duration.HumanDuration`: `45s`, `3m12s`, `25m`, `5h3m`, `2d4h`, `40d`.
pub fn human_duration(seconds: i64) -> String {
    let minutes = seconds / 60;
    let hours = minutes / 60;
    let days = hours / 24;
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        }
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        }
    } else if days < 365 * 2 {
        format!("{days}d")
    } else {
        format!("{}y", days / 365)
    }
}

fn columns(kind: Kind) -> Vec<Column> {
    let name = Column {
        name: "Name",
        ty: "string",
        format: "name",
        description: "Name must be unique within a namespace.",
        priority: 0,
        cell: |o, _| str_at(o, "/metadata/name"),
    };
    let age_col = Column {
        name: "Age",
        ty: "date",
        format: "",
        description: "CreationTimestamp is a timestamp representing the server time when this object was created.",
        priority: 0,
        cell: age,
    };
    match kind {
        // additionalPrinterColumns of the Application CRD (applications.argoproj.io, from
        // shared/fixtures/argocd/application-crd.yaml); no Age column, as the CRD lists none.
        Kind::Application => vec![
            name,
            Column {
                name: "Sync Status",
                ty: "string",
                format: "",
                description: "",
                priority: 0,
                cell: |o, _| str_at(o, "/status/sync/status"),
            },
            Column {
                name: "Health Status",
                ty: "string",
                format: "",
                description: "",
                priority: 0,
                cell: |o, _| str_at(o, "/status/health/status"),
            },
            Column {
                name: "Revision",
                ty: "string",
                format: "",
                description: "",
                priority: 10,
                cell: |o, _| str_at(o, "/status/sync/revision"),
            },
            Column {
                name: "Project",
                ty: "string",
                format: "",
                description: "",
                priority: 10,
                cell: |o, _| str_at(o, "/spec/project"),
            },
        ],
        Kind::ApplicationSet => vec![name, age_col],
        Kind::Secret => vec![
            name,
            Column {
                name: "Type",
                ty: "string",
                format: "",
                description: "",
                priority: 0,
                cell: |o, _| str_at(o, "/type"),
            },
            Column {
                name: "Data",
                ty: "string",
                format: "",
                description: "",
                priority: 0,
                cell: |o, _| {
                    json!(
                        o.get("data")
                            .and_then(Value::as_object)
                            .map_or(0, |d| d.len())
                    )
                },
            },
            age_col,
        ],
        Kind::ConfigMap => vec![
            name,
            Column {
                name: "Data",
                ty: "string",
                format: "",
                description: "",
                priority: 0,
                cell: |o, _| {
                    let count =
                        |k: &str| o.get(k).and_then(Value::as_object).map_or(0, |d| d.len());
                    json!(count("data") + count("binaryData"))
                },
            },
            age_col,
        ],
        Kind::Lease => vec![
            name,
            Column {
                name: "Holder",
                ty: "string",
                format: "",
                description: "",
                priority: 0,
                cell: |o, _| str_at(o, "/spec/holderIdentity"),
            },
            age_col,
        ],
    }
}

/// `meta.k8s.io/v1` `Table` of `objects`, as the apiserver answers a client that accepts
/// `as=Table` (kubectl's default for `get`). Rows carry `PartialObjectMetadata`.
pub fn table(kind: Kind, objects: &[Value], list_meta: Value, now: jiff::Timestamp) -> Value {
    let cols = columns(kind);
    let definitions: Vec<Value> = cols
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.ty,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            json!({
                "cells": cols.iter().map(|c| (c.cell)(o, now)).collect::<Vec<_>>(),
                "object": partial_metadata(o),
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// The object as `PartialObjectMetadata` (metadata only).
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// How the client asked to see objects (its `Accept` header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Full,
    Table,
    Metadata,
}

impl Format {
    pub fn from_accept(accept: &str) -> Format {
        // The first acceptable media type wins, as the apiserver's negotiation does.
        for part in accept.split(',') {
            let part = part.trim();
            if part.contains("as=Table") {
                return Format::Table;
            }
            if part.contains("as=PartialObjectMetadata") {
                return Format::Metadata;
            }
            if part.starts_with("application/json") || part.starts_with("*/*") {
                return Format::Full;
            }
        }
        Format::Full
    }
}
