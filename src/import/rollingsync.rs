//! An Argo CD `ApplicationSet` with `spec.strategy.type: RollingSync` to a rollout.
//!
//! | RollingSync | rollc |
//! |---|---|
//! | the ApplicationSet itself | `target appset "NAME" in "NAMESPACE"` |
//! | `rollingSync.steps[i]` | `stage "step i+1"` |
//! | `matchExpressions` (`In`, `NotIn`; all must hold) | `select` with `in` / `not in` joined by `and` |
//! | `maxUpdate` | `batch` (unset is `100%`; `0` is a manual hold) |
//!
//! RollingSync selects **Applications** by their labels; rollc selects **clusters** by the
//! labels of their Argo CD cluster Secrets. The import assumes the ApplicationSet copies
//! each cluster's labels onto its Application. When the template visibly maps a cluster
//! label to an Application label under another key (`envLabel: '{{metadata.labels.env}}'`),
//! the stage selects on the cluster label (`env`); otherwise the key is kept. Both are
//! reported as notes.

use std::collections::BTreeMap;

use crate::fleet::yaml::{Node, NodeKind};
use crate::source::Span;

use super::read::Reader;
use super::source::{self, Count, Rollout, Stage, Term};

/// ApplicationSet `spec` fields that are not the strategy: accepted without a warning.
const SPEC_IGNORED: &[&str] = &[
    "generators",
    "template",
    "templatePatch",
    "syncPolicy",
    "goTemplate",
    "goTemplateOptions",
    "preservedFields",
    "ignoreApplicationDifferences",
    "applyNestedSelectors",
];

/// Imports one ApplicationSet document; `None` when it has errors (already reported) or no
/// RollingSync strategy (a warning says so).
pub(super) fn import(
    reader: &mut Reader<'_>,
    doc: &Node,
    prefix: &str,
    label: &str,
) -> Option<Rollout> {
    let errors = reader.error_count();
    let root = reader.map(
        doc,
        prefix.trim_end_matches('.'),
        &["apiVersion", "kind", "metadata", "spec"],
        &["status"],
    )?;
    let (name, name_span, namespace) = reader.object_meta(&root, doc);
    let shown = name.as_deref().map_or(String::new(), |n| format!(" `{n}`"));

    let spec_node = reader.required(&root, "spec")?;
    let spec = reader.map(
        spec_node,
        &root.path_of("spec"),
        &["strategy"],
        SPEC_IGNORED,
    )?;
    let Some(strategy) = spec.get("strategy") else {
        let span = root
            .key("spec")
            .map_or_else(|| reader.span(spec_node), |k| reader.span(k));
        reader.warn(
            span,
            format!(
                "{label} (ApplicationSet{shown}) has no `spec.strategy`: nothing to import, skipped"
            ),
        );
        return None;
    };
    let spath = spec.path_of("strategy");
    let strategy = reader.map(
        strategy,
        &spath,
        &["type", "rollingSync", "deletionOrder"],
        &[],
    )?;
    let kind = strategy
        .get("type")
        .and_then(|t| reader.string(t, &strategy.path_of("type")));
    match kind.as_deref() {
        Some("RollingSync") => {}
        None | Some("AllAtOnce") => {
            let what = kind.as_deref().unwrap_or("AllAtOnce (the default)");
            let span = strategy
                .get("type")
                .map_or_else(|| reader.span(strategy.node), |t| reader.span(t));
            reader.warn(
                span,
                format!("{label} (ApplicationSet{shown}) has strategy {what}, not RollingSync: nothing to import, skipped"),
            );
            return None;
        }
        Some(other) => {
            let span = strategy.get("type").map_or(name_span, |t| reader.span(t));
            reader.error_with_help(
                span,
                format!("unknown strategy type `{other}`"),
                "Argo CD knows `AllAtOnce` and `RollingSync`",
            );
            return None;
        }
    }
    if let Some(order) = strategy.get("deletionOrder")
        && let Some(text) = reader.string(order, &strategy.path_of("deletionOrder"))
        && !text.eq_ignore_ascii_case("AllAtOnce")
    {
        let span = reader.span(order);
        reader.warn_with_help(
            span,
            format!("`{}: {text}` is not imported: rollc never deletes Applications", strategy.path_of("deletionOrder")),
            "keep the field in the ApplicationSet if you rely on it; the rollout strategy does not need it",
        );
    }

    let rolling_node = reader.required(&strategy, "rollingSync");
    let rolling =
        rolling_node.and_then(|r| reader.map(r, &strategy.path_of("rollingSync"), &["steps"], &[]));
    let template_keys = template_label_sources(spec.get("template"), reader);
    let mut stages = Vec::new();
    let mut mapped: BTreeMap<String, (String, Span)> = BTreeMap::new();
    if let Some(rolling) = &rolling
        && let Some(steps) = reader.required(rolling, "steps")
    {
        let path = rolling.path_of("steps");
        if let Some(items) = reader.list(steps, &path) {
            if items.is_empty() {
                let span = reader.span(steps);
                reader.error(
                    span,
                    format!("`{path}` is empty: Argo CD reports \"No steps defined for rollout\""),
                );
            }
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                if let Some(stage) = step(reader, item, &p, i, &template_keys, &mut mapped) {
                    stages.push(stage);
                }
            }
        }
    }

    if let Some(automated) = automated_sync(spec.get("template")) {
        let span = reader.span(automated);
        reader.note(
            span,
            "the template turns on automated sync".to_string(),
            &[
                "RollingSync switches it off on the Applications it manages; rollc expects it off in the template, or every cluster would update at once",
            ],
        );
    }
    for (app_key, (cluster_key, span)) in &mapped {
        reader.note(
            *span,
            format!("Application label `{app_key}` is set from cluster label `{cluster_key}`: the stages select `{cluster_key}`"),
            &[],
        );
    }
    if let Some(node) = rolling_node {
        let span = strategy
            .key("rollingSync")
            .map_or_else(|| reader.span(node), |k| reader.span(k));
        reader.note(
            span,
            "RollingSync selects Applications by their labels; the imported stages select clusters by theirs".to_string(),
            &[
                "this assumes the ApplicationSet copies each cluster's labels onto its Application under the same keys, e.g. `labels: {env: '{{metadata.labels.env}}'}` in the template of a cluster generator",
                "rollc rolls out by cluster: all of a cluster's Applications of the ApplicationSet sync together, and `batch` counts clusters where `maxUpdate` counted Applications",
            ],
        );
    }

    if reader.error_count() > errors {
        return None;
    }
    let (name, namespace) = (name?, namespace?);
    Some(Rollout {
        doc: vec![format!(
            "The Applications of ApplicationSet `{name}` in `{namespace}`."
        )],
        comments: vec![
            format!(
                "{}ApplicationSet `{name}` (argoproj.io/v1alpha1), strategy RollingSync, translated:",
                super::progressive::origin(prefix)
            ),
            "  steps[i] -> stage \"step i+1\", matchExpressions -> select, maxUpdate -> batch"
                .to_string(),
            "  (unset is 100%). RollingSync selects Applications by their labels, rollc selects"
                .to_string(),
            "  clusters by theirs: this assumes each Application carries its cluster's labels."
                .to_string(),
        ],
        appset: name.clone(),
        name,
        name_span,
        namespace,
        stages,
    })
}

/// One element of `rollingSync.steps`.
fn step(
    reader: &mut Reader<'_>,
    node: &Node,
    path: &str,
    index: usize,
    template_keys: &BTreeMap<String, (String, Span)>,
    mapped: &mut BTreeMap<String, (String, Span)>,
) -> Option<Stage> {
    let errors = reader.error_count();
    let fields = reader.map(node, path, &["matchExpressions", "maxUpdate"], &[])?;
    let mut terms = Vec::new();
    if let Some(exprs) = fields.get("matchExpressions") {
        let epath = fields.path_of("matchExpressions");
        if let Some(items) = reader.list(exprs, &epath) {
            for (i, item) in items.iter().enumerate() {
                let Some(term) =
                    reader.match_expression(item, &format!("{epath}[{i}]"), &["In", "NotIn"])
                else {
                    continue;
                };
                terms.push(cluster_term(term, template_keys, mapped));
            }
        }
    }
    let select = source::Select {
        terms,
        span: fields
            .key("matchExpressions")
            .map_or_else(|| reader.span(node), |k| reader.span(k)),
    };
    if let Some(why) = select.contradiction() {
        reader.error(
            select.span,
            format!("the expressions of `{path}` can match no Application: {why}"),
        );
    }
    let batch = match fields.get("maxUpdate") {
        Some(n) => {
            let count = reader.count(n, &fields.path_of("maxUpdate"))?;
            if let Count::Int(0) | Count::Percent(0) = count {
                let span = reader.span(n);
                reader.note(
                    span,
                    format!("`{}: 0` syncs nothing by itself: imported as `batch 0`, a manual hold", fields.path_of("maxUpdate")),
                    &["RollingSync waits for each Application of the step to be synced by hand; rollc waits for `rollc promote`"],
                );
            }
            count
        }
        // Unset means no limit in RollingSync, while rollc's default batch is 1.
        None => Count::Percent(100),
    };
    if reader.error_count() > errors {
        return None;
    }
    Some(Stage {
        name: format!("step {}", index + 1),
        doc: vec![format!("From `{path}`.")],
        select,
        limit: None,
        batch: Some(batch),
        spread_by: None,
        requeue: None,
    })
}

/// A term over Application labels as one over cluster labels, through the template's
/// label mapping when it has one for the key.
fn cluster_term(
    term: Term,
    template_keys: &BTreeMap<String, (String, Span)>,
    mapped: &mut BTreeMap<String, (String, Span)>,
) -> Term {
    let rename = |key: String, mapped: &mut BTreeMap<String, (String, Span)>| match template_keys
        .get(&key)
    {
        Some((cluster_key, span)) if *cluster_key != key => {
            mapped.insert(key, (cluster_key.clone(), *span));
            cluster_key.clone()
        }
        _ => key,
    };
    match term {
        Term::In(k, v) => Term::In(rename(k, mapped), v),
        Term::NotIn(k, v) => Term::NotIn(rename(k, mapped), v),
        Term::Has(k) => Term::Has(rename(k, mapped)),
        Term::NotHas(k) => Term::NotHas(rename(k, mapped)),
    }
}

/// The Application labels the template sets from a cluster label, by Application key:
/// `{{metadata.labels.KEY}}`, `{{.metadata.labels.KEY}}` or `{{index .metadata.labels "KEY"}}`
/// as the whole value. Read without warnings: the template is not part of the strategy.
fn template_label_sources(
    template: Option<&Node>,
    reader: &Reader<'_>,
) -> BTreeMap<String, (String, Span)> {
    let mut out = BTreeMap::new();
    let Some(labels) = get(template, &["metadata", "labels"]) else {
        return out;
    };
    let NodeKind::Map(entries) = &labels.kind else {
        return out;
    };
    for (k, v) in entries {
        let (NodeKind::Str(app_key), NodeKind::Str(value)) = (&k.kind, &v.kind) else {
            continue;
        };
        if let Some(cluster_key) = cluster_label_reference(value)
            && crate::syntax::literal::check_label_key(&cluster_key).is_ok()
        {
            out.insert(app_key.clone(), (cluster_key, reader.span(v)));
        }
    }
    out
}

/// The cluster label a template value copies, if it is exactly one such reference.
fn cluster_label_reference(value: &str) -> Option<String> {
    let inner = value
        .trim()
        .strip_prefix("{{")?
        .strip_suffix("}}")?
        .trim_matches(|c: char| c == '-' || c.is_whitespace());
    if let Some(rest) = inner.strip_prefix("index") {
        let rest = rest.trim_start();
        let key = rest.strip_prefix(".metadata.labels")?.trim();
        let key = key.strip_prefix('"')?.strip_suffix('"')?;
        return (!key.is_empty()).then(|| key.to_string());
    }
    let key = inner
        .strip_prefix(".metadata.labels.")
        .or_else(|| inner.strip_prefix("metadata.labels."))?;
    (!key.is_empty() && !key.contains(char::is_whitespace)).then(|| key.to_string())
}

/// `spec.template.spec.syncPolicy.automated`, unless it says `enabled: false`.
fn automated_sync(template: Option<&Node>) -> Option<&Node> {
    let automated = get(template, &["spec", "syncPolicy", "automated"])?;
    let disabled =
        get(Some(automated), &["enabled"]).is_some_and(|e| matches!(e.kind, NodeKind::Bool(false)));
    (!disabled).then_some(automated)
}

/// The node at a path of map keys, if every step exists and is not null.
fn get<'n>(node: Option<&'n Node>, path: &[&str]) -> Option<&'n Node> {
    let mut node = node?;
    for key in path {
        let NodeKind::Map(entries) = &node.kind else {
            return None;
        };
        node = entries
            .iter()
            .find(|(k, _)| matches!(&k.kind, NodeKind::Str(s) if s == key))
            .map(|(_, v)| v)?;
    }
    (!matches!(node.kind, NodeKind::Null)).then_some(node)
}

#[cfg(test)]
mod tests {
    use super::cluster_label_reference as r;

    #[test]
    fn template_references() {
        assert_eq!(r("{{metadata.labels.env}}").as_deref(), Some("env"));
        assert_eq!(r("{{ .metadata.labels.env }}").as_deref(), Some("env"));
        assert_eq!(
            r("{{index .metadata.labels \"topology.kubernetes.io/zone\"}}").as_deref(),
            Some("topology.kubernetes.io/zone")
        );
        assert_eq!(r("{{metadata.labels.env}}-x"), None);
        assert_eq!(r("prod"), None);
        assert_eq!(r("{{name}}"), None);
    }
}
