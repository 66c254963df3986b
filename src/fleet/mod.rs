//! The fleet inventory: the clusters a strategy is bound to, their names, API servers and
//! labels, read from a fleet file or from a list of Argo CD cluster Secrets, and the
//! evaluation of selectors against them.
//!
//! Two input formats are detected automatically by [`parse`]:
//!
//! - a **fleet file** (YAML or JSON): a top-level `clusters` list of `{name, server, labels,
//!   sim}` entries, plus optional top-level `defaults` and `events` for the simulator;
//! - a Kubernetes **`List`** (or `SecretList`) of Argo CD cluster Secrets, as printed by
//!   `kubectl get secrets -l argocd.argoproj.io/secret-type=cluster -o yaml`. Only the
//!   Secrets' labels and their `name` and `server` entries are read; `config` (credentials)
//!   is skipped unread by construction (see the private `secret` module).
//!
//! Errors are [`Diagnostic`]s with code [`Code::InvalidFleet`](crate::diagnostics::Code),
//! each pointing at the offending line; all problems of a file are reported together.

mod parse;
mod secret;
mod select;
// Crate-visible so `rollc import` reads its YAML with the same spans and error mapping.
pub(crate) mod yaml;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnostics::Diagnostic;
use crate::source::{FileId, Span};

pub use secret::SECRET_TYPE_LABEL;
pub use select::{glob_match, matches};

/// One cluster of the fleet, as Argo CD knows it.
#[derive(Clone, Debug, Serialize)]
pub struct Cluster {
    /// The Argo CD cluster name (`cluster.name` in selectors).
    pub name: String,
    /// The API server URL (`cluster.server` in selectors); Argo CD identifies clusters by it.
    pub server: String,
    /// The cluster's labels (for a Secret: its labels without [`SECRET_TYPE_LABEL`]).
    pub labels: BTreeMap<String, String>,
    /// The fleet file's `sim` block for this cluster, kept raw for the simulator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim: Option<serde_json::Value>,
    /// Where the cluster was defined, when it was parsed from a file. Not serialized, and
    /// ignored by `==`.
    #[serde(skip)]
    pub source: Option<ClusterSource>,
}

impl Cluster {
    /// A cluster with these attributes and no `sim` block or source.
    pub fn new(
        name: impl Into<String>,
        server: impl Into<String>,
        labels: BTreeMap<String, String>,
    ) -> Cluster {
        Cluster {
            name: name.into(),
            server: server.into(),
            labels,
            sim: None,
            source: None,
        }
    }

    /// The value of label `key`, if the cluster has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// Equality of the cluster's data: `source` positions are not compared, so the same cluster
/// read from YAML and from JSON is equal.
impl PartialEq for Cluster {
    fn eq(&self, other: &Cluster) -> bool {
        let Cluster {
            name,
            server,
            labels,
            sim,
            source: _,
        } = self;
        *name == other.name
            && *server == other.server
            && *labels == other.labels
            && *sim == other.sim
    }
}

/// Where a parsed cluster's parts are in its file, for diagnostics of later phases (e.g. a
/// label value outside the fleet schema).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSource {
    /// The fleet file.
    pub file: FileId,
    /// The first line of the cluster's entry (or Secret).
    pub entry: Span,
    /// The `name` value (for a Secret: its `data.name` or `stringData.name`).
    pub name: Span,
    /// The `server` value.
    pub server: Span,
    /// Each label's value.
    pub labels: BTreeMap<String, Span>,
}

/// The clusters of a fleet, with the simulator's raw top-level blocks.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Fleet {
    /// The clusters in file order. In a fleet from [`parse`], names are unique, and so are
    /// servers.
    pub clusters: Vec<Cluster>,
    /// The fleet file's top-level `defaults` block, raw, for the simulator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defaults: Option<serde_json::Value>,
    /// The fleet file's top-level `events` block, raw, for the simulator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<serde_json::Value>,
}

impl Fleet {
    /// A fleet of these clusters, without simulator blocks.
    pub fn new(clusters: Vec<Cluster>) -> Fleet {
        Fleet {
            clusters,
            defaults: None,
            events: None,
        }
    }

    /// The cluster named `name`.
    pub fn get(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The clusters `selector` matches, in fleet order.
    pub fn select<'a>(
        &'a self,
        selector: &'a crate::hir::Selector,
    ) -> impl Iterator<Item = &'a Cluster> + 'a {
        self.clusters.iter().filter(move |c| matches(selector, c))
    }
}

/// Parses a fleet inventory: a fleet file (YAML or JSON) or a Kubernetes `List` of Argo CD
/// cluster Secrets, told apart by a top-level `kind`.
///
/// Every problem found is returned, each as a [`Code::InvalidFleet`](crate::diagnostics::Code)
/// error in `file` pointing at the offending line. A Secret's `config` is never read.
pub fn parse(file: FileId, text: &str) -> Result<Fleet, Vec<Diagnostic>> {
    parse::parse(file, text)
}
