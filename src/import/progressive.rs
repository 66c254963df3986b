//! Skyscanner's `ProgressiveRollout` (`deployment.skyscanner.net/v1alpha1`, the
//! argocd-progressive-rollout-controller) to a rollout.
//!
//! | ProgressiveRollout | rollc |
//! |---|---|
//! | `spec.sourceRef{kind: ApplicationSet, name}` | `target appset "NAME" in "NAMESPACE"` |
//! | `stages[].name` | `stage "NAME"` |
//! | `clusters.selector` | `select` (`matchLabels` and `matchExpressions`, joined with `and`) |
//! | `maxClusters` | `limit` (`100%` is no limit) |
//! | `maxUnavailable` | `batch` |
//! | `topologyKey` (on the stage or under `clusters`) | `spread by` |
//! | `requeue{selector, attempts, interval}` | `requeue when ... attempts N every D` |
//!
//! Where the controller's behaviour differs from what the spec plainly intends (an omitted
//! `maxClusters` updates nothing, an omitted `maxUnavailable` stalls), the import follows the
//! intent and says so in a note.

use crate::fleet::yaml::Node;

use super::read::Reader;
use super::source::{self, Count, Requeue, Rollout, Stage};

/// The API version this importer was written against.
const API_VERSION: &str = "deployment.skyscanner.net/v1alpha1";

/// Object metadata that carries no strategy: accepted without a warning.
pub(super) const METADATA_IGNORED: &[&str] = &[
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "finalizers",
    "ownerReferences",
    "generateName",
    "selfLink",
];

/// Imports one ProgressiveRollout document; `None` when it has errors (already reported).
pub(super) fn import(
    reader: &mut Reader<'_>,
    doc: &Node,
    prefix: &str,
    api_version: &str,
) -> Option<Rollout> {
    let errors = reader.error_count();
    let root = reader.map(
        doc,
        prefix.trim_end_matches('.'),
        &["apiVersion", "kind", "metadata", "spec"],
        &["status"],
    )?;
    if api_version != API_VERSION
        && let Some(node) = root.get("apiVersion")
    {
        let span = reader.span(node);
        reader.warn(
            span,
            format!(
                "`apiVersion` is `{api_version}`: read as `{API_VERSION}`, the version rollc knows"
            ),
        );
    }

    let (name, name_span, namespace) = reader.object_meta(&root, doc);

    let spec = reader.required(&root, "spec")?;
    let spec = reader.map(spec, &root.path_of("spec"), &["sourceRef", "stages"], &[])?;
    let appset = reader
        .required(&spec, "sourceRef")
        .and_then(|node| source_ref(reader, node, &spec.path_of("sourceRef")));

    let mut stages = Vec::new();
    let mut spans = Vec::new();
    if let Some(list) = reader.required(&spec, "stages") {
        let path = spec.path_of("stages");
        if let Some(items) = reader.list(list, &path) {
            if items.is_empty() {
                let span = reader.span(list);
                reader.error(
                    span,
                    format!("`{path}` is empty: there is nothing to roll out"),
                );
            }
            for (i, item) in items.iter().enumerate() {
                if let Some(stage) = stage(reader, item, &format!("{path}[{i}]")) {
                    stages.push(stage);
                    spans.push(reader.span(item));
                }
            }
        }
    }
    source::dedupe_stage_names(&mut stages, &spans, reader);

    if reader.error_count() > errors {
        return None;
    }
    let (name, namespace, appset) = (name?, namespace?, appset?);
    Some(Rollout {
        doc: vec![format!(
            "The Applications of ApplicationSet `{appset}` in `{namespace}`."
        )],
        comments: vec![
            format!(
                "{}ProgressiveRollout `{name}` ({API_VERSION}), translated field by field:",
                origin(prefix)
            ),
            "  sourceRef -> target, clusters.selector -> select, maxClusters -> limit (100% is"
                .to_string(),
            "  no limit), maxUnavailable -> batch, topologyKey -> spread by, requeue -> requeue"
                .to_string(),
            "  (in `defaults` when every stage has the same one).".to_string(),
        ],
        name,
        name_span,
        appset,
        namespace,
        stages,
    })
}

/// "From `items[0]`: " for a resource inside a `List`, nothing for a document.
pub(super) fn origin(prefix: &str) -> String {
    match prefix.trim_end_matches('.') {
        "" => String::new(),
        path => format!("From `{path}`: "),
    }
}

/// `spec.sourceRef`: the ApplicationSet's name.
fn source_ref(reader: &mut Reader<'_>, node: &Node, path: &str) -> Option<String> {
    let fields = reader.map(node, path, &["apiGroup", "kind", "name"], &[])?;
    if let Some(group) = fields.get("apiGroup")
        && let Some(text) = reader.string(group, &fields.path_of("apiGroup"))
        && text != "argoproj.io"
        && !text.starts_with("argoproj.io/")
    {
        let span = reader.span(group);
        reader.warn(
            span,
            format!("`{}` is `{text}`, not Argo CD's `argoproj.io`: the target is read as an ApplicationSet", fields.path_of("apiGroup")),
        );
    }
    let kind = reader.required(&fields, "kind");
    let name = reader.required(&fields, "name");
    if let Some(kind) = kind
        && let Some(text) = reader.string(kind, &fields.path_of("kind"))
        && text != "ApplicationSet"
    {
        let span = reader.span(kind);
        reader.error_with_help(
            span,
            format!(
                "the source is a `{text}`: rollc targets the Applications of an `ApplicationSet`"
            ),
            "for Applications picked by label, write `target apps where ...` by hand",
        );
        return None;
    }
    reader.string(name?, &fields.path_of("name"))
}

/// One element of `spec.stages`.
fn stage(reader: &mut Reader<'_>, node: &Node, path: &str) -> Option<Stage> {
    let errors = reader.error_count();
    let fields = reader.map(
        node,
        path,
        &[
            "name",
            "maxUnavailable",
            "maxClusters",
            "clusters",
            "topologyKey",
            "requeue",
        ],
        &[],
    )?;
    let name = reader
        .required(&fields, "name")
        .and_then(|n| reader.string(n, &fields.path_of("name")));

    // `clusters`: the selector and, in the CRD, the topology key.
    let mut select = None;
    let mut topology = None;
    if let Some(clusters) = reader.required(&fields, "clusters") {
        let cpath = fields.path_of("clusters");
        if let Some(c) = reader.map(clusters, &cpath, &["selector", "topologyKey"], &[]) {
            select = reader
                .required(&c, "selector")
                .and_then(|s| reader.label_selector(s, &c.path_of("selector")));
            if let Some(t) = c.get("topologyKey") {
                topology = reader
                    .label_key(t, &c.path_of("topologyKey"))
                    .map(|k| (k, reader.span(t)));
            }
        }
    }
    // The README writes `topologyKey` on the stage itself: accept both, but not two keys.
    if let Some(t) = fields.get("topologyKey")
        && let Some(key) = reader.label_key(t, &fields.path_of("topologyKey"))
    {
        match &topology {
            Some((other, other_span)) if *other != key => {
                let span = reader.span(t);
                let d = crate::diagnostics::Diagnostic::new(
                    crate::diagnostics::Code::InvalidImportedSpec,
                    reader.src.file,
                    span,
                    format!("`{path}` has two topology keys, `{key}` and `{other}`"),
                )
                .with_secondary(*other_span, "the other one")
                .with_help("keep one of them: a stage spreads over one label");
                reader.push(d);
            }
            Some(_) => {}
            None => topology = Some((key, reader.span(t))),
        }
    }
    if let Some(sel) = &select
        && let Some(why) = sel.contradiction()
    {
        reader.error(
            sel.span,
            format!("the selector of `{path}` can match no cluster: {why}"),
        );
    }

    let limit = match fields.get("maxClusters") {
        Some(n) => match reader.count(n, &fields.path_of("maxClusters")) {
            // All of the selection: the same as no limit, which keeps the overlap checks
            // meaningful (a stage with a limit may leave clusters to later stages).
            Some(Count::Percent(100)) => None,
            Some(c @ (Count::Int(0) | Count::Percent(0))) => {
                let span = reader.span(n);
                reader.note(
                    span,
                    format!("`{}: 0` updates no cluster in this stage", fields.path_of("maxClusters")),
                    &[
                        "the controller skips such a stage; rollc reads `limit 0` as a manual hold and waits for `rollc promote` before the next stage",
                    ],
                );
                Some(c)
            }
            other => other,
        },
        None => {
            let span = reader.span(node);
            reader.note(
                span,
                format!("`{path}` has no `maxClusters`: imported without a limit (every selected cluster)"),
                &["the controller reads a missing `maxClusters` as 0 and updates nothing in the stage"],
            );
            None
        }
    };
    let batch = match fields.get("maxUnavailable") {
        Some(n) => {
            let count = reader.count(n, &fields.path_of("maxUnavailable"));
            if let Some(Count::Int(0) | Count::Percent(0)) = count {
                let span = reader.span(n);
                reader.note(
                    span,
                    format!(
                        "`{}: 0` starts no cluster by itself",
                        fields.path_of("maxUnavailable")
                    ),
                    &["imported as `batch 0`, a manual hold: the stage waits for `rollc promote`"],
                );
            }
            count
        }
        None => {
            let span = reader.span(node);
            reader.note(
                span,
                format!("`{path}` has no `maxUnavailable`: imported with rollc's default, one cluster at a time"),
                &["the controller reads a missing `maxUnavailable` as 0 and never starts a cluster"],
            );
            None
        }
    };
    let requeue = match fields.get("requeue") {
        Some(r) => requeue(reader, r, &fields.path_of("requeue")),
        None => None,
    };

    if reader.error_count() > errors {
        return None;
    }
    let name = name?;
    Some(Stage {
        doc: vec![format!("From `{path}`.")],
        name,
        select: select?,
        limit,
        batch,
        spread_by: topology.map(|(k, _)| k),
        requeue,
    })
}

/// `requeue{selector, attempts, interval}`.
fn requeue(reader: &mut Reader<'_>, node: &Node, path: &str) -> Option<Requeue> {
    let fields = reader.map(node, path, &["selector", "attempts", "interval"], &[])?;
    let Some(selector) = fields.get("selector") else {
        let span = reader.span(node);
        reader.warn_with_help(
            span,
            format!("`{path}` has no `selector`: it requeues no cluster and is not imported"),
            "add a `selector` such as `matchLabels: {drained: \"true\"}`",
        );
        return None;
    };
    let when = reader.label_selector(selector, &fields.path_of("selector"))?;
    let attempts = match fields.get("attempts") {
        Some(n) => match reader.uint(n, &fields.path_of("attempts"))? {
            0 => {
                let span = reader.span(n);
                let d = crate::diagnostics::Diagnostic::new(
                    crate::diagnostics::Code::UnsupportedImport,
                    reader.src.file,
                    span,
                    format!(
                        "`{}: 0` fails a requeued cluster without a retry",
                        fields.path_of("attempts")
                    ),
                )
                .with_label("imported as `attempts 1`")
                .with_help("rollc retries a requeued cluster at least once");
                reader.push(d);
                Some(1)
            }
            n => Some(n),
        },
        None => None,
    };
    let every = match fields.get("interval") {
        Some(d) => match reader.duration(d, &fields.path_of("interval"))? {
            0 => {
                let span = reader.span(d);
                reader.warn_with_help(
                    span,
                    format!(
                        "`{}` is zero: imported without an interval (rollc's default)",
                        fields.path_of("interval")
                    ),
                    "rollc waits a positive interval between retries; write one such as `30m`",
                );
                None
            }
            s => Some(s),
        },
        None => None,
    };
    Some(Requeue {
        when,
        attempts,
        every,
    })
}
