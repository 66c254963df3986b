//! A rollout as an ApplicationSet `spec.strategy` of `type: RollingSync`.
//!
//! Each stage becomes one step: its selector, if it is a conjunction of `==`, `!=`, `in` and
//! `not in` over labels, becomes `matchExpressions` (`In` / `NotIn`), and its `batch` becomes
//! `maxUpdate` (rollc's default batch of 1 is written out, since RollingSync's default is
//! 100%). Everything else a stage says (limits, ordering, bakes, gates, windows, requeue,
//! deadlines, failure policy) has no RollingSync equivalent and is reported, one warning per
//! field and place, naming the stages that lose it.
//!
//! The output is a merge patch for the ApplicationSet (`spec: strategy: ...`), so it can be
//! applied with `kubectl patch applicationset NAME --type merge --patch-file FILE`.

use std::collections::BTreeSet;

use crate::ast::{ClusterAttr, FailurePolicy};
use crate::diagnostics::{Code, Diagnostic};
use crate::hir::{Attr, Count, Gate, Loc, Program, Rollout, Selector, SelectorKind, Stage, Target};
use crate::source::{FileId, Span};

use super::Exported;

/// One RollingSync match expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression {
    /// The Application label key.
    pub key: String,
    /// `true` for `In`, `false` for `NotIn`.
    pub is_in: bool,
    /// The values.
    pub values: Vec<String>,
}

/// A selector construct RollingSync cannot express, and where it is.
struct Unexpressible {
    what: &'static str,
    loc: Loc,
}

/// Exports every rollout of `program` (checked, without errors). `file` and `name` are the
/// root file, for a diagnostic when it holds no rollout.
pub fn rollingsync(program: &Program, file: FileId, name: &str) -> Exported {
    let mut diagnostics = Vec::new();
    let mut docs = Vec::new();
    if program.rollouts.is_empty() {
        diagnostics.push(
            Diagnostic::new(
                Code::CannotExport,
                file,
                Span::point(0),
                format!("`{name}` defines no rollout to export"),
            )
            .with_help("`rollc export` writes the stages of each `rollout` in the file"),
        );
    }
    for rollout in &program.rollouts {
        docs.push(export_rollout(rollout, name, &mut diagnostics));
    }
    diagnostics.sort_by(|a, b| {
        (a.file, a.span.start, a.span.end).cmp(&(b.file, b.span.start, b.span.end))
    });
    Exported {
        text: docs.join("---\n"),
        diagnostics,
    }
}

fn export_rollout(rollout: &Rollout, source: &str, diags: &mut Vec<Diagnostic>) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# Exported by `rollc export --format rollingsync` from {source}: rollout {}.\n",
        json(&rollout.name)
    ));
    match rollout.target.as_ref().map(|t| (&t.value, t.loc)) {
        Some((
            Target::AppSet {
                name,
                namespace,
                project,
            },
            loc,
        )) => {
            out.push_str(&format!(
                "# A merge patch for ApplicationSet `{name}`: kubectl patch applicationset {name} -n {namespace} --type merge --patch-file FILE\n"
            ));
            if let Some(project) = project {
                diags.push(
                    Diagnostic::new(
                        Code::NotExpressible,
                        loc.file,
                        loc.span,
                        format!("rollout `{}` is restricted to project `{project}`, which RollingSync cannot express", rollout.name),
                    )
                    .with_label("not exported")
                    .with_help("RollingSync steps cover every Application of the ApplicationSet"),
                );
            }
        }
        Some((Target::Apps { .. }, loc)) => {
            out.push_str(
                "# Put it into the ApplicationSet that generates the target Applications.\n",
            );
            diags.push(
                Diagnostic::new(
                    Code::NotExpressible,
                    loc.file,
                    loc.span,
                    format!("rollout `{}` targets Applications by label, which RollingSync cannot express", rollout.name),
                )
                .with_label("not exported")
                .with_help("RollingSync is part of one ApplicationSet and drives the Applications it generates"),
            );
        }
        None => {}
    }
    out.push_str(
        "# RollingSync selects Applications by their labels: this assumes each Application\n",
    );
    out.push_str("# carries the labels of its cluster under the same keys.\n");
    if rollout.stages.is_empty() {
        // Argo CD refuses a RollingSync strategy without steps ("No steps defined").
        out.push_str(
            "spec:\n  strategy:\n    type: RollingSync\n    rollingSync:\n      steps: []\n",
        );
        diags.push(
            Diagnostic::new(
                Code::CannotExport,
                rollout.loc.file,
                rollout.loc.span,
                format!("rollout `{}` has no stages to export", rollout.name),
            )
            .with_help("Argo CD rejects a RollingSync strategy without steps"),
        );
        return out;
    }
    out.push_str("spec:\n  strategy:\n    type: RollingSync\n    rollingSync:\n      steps:\n");

    // Each lost feature once per place it is written, with the stages (and the `use` they
    // were expanded from) that lose it: a field in `defaults` is one warning, not one per
    // stage.
    type Lost = (&'static str, Loc, &'static str, Vec<(String, Option<Loc>)>);
    let mut lost: Vec<Lost> = Vec::new();
    let mut keys = BTreeSet::new();
    for stage in &rollout.stages {
        out.push_str(&format!("        # stage {}\n", json(&stage.name)));
        let Some(select) = &stage.select else {
            continue;
        };
        match expressions(select) {
            Ok(exprs) => {
                keys.extend(exprs.iter().map(|e| e.key.clone()));
                step(&mut out, &exprs, batch(stage));
            }
            Err(Unexpressible { what, loc }) => {
                out.push_str(&format!(
                    "        # not exported: its selector uses {what}, which RollingSync cannot express\n"
                ));
                diags.push(
                    Diagnostic::new(
                        Code::CannotExport,
                        loc.file,
                        loc.span,
                        format!("stage `{}` cannot be exported: its selector uses {what}", stage.name),
                    )
                    .with_label("RollingSync cannot express this")
                    .with_secondary_in(stage.loc.file, stage.loc.span, "in this stage")
                    .with_help("a RollingSync step selects with `In` and `NotIn` over labels, all of which must hold: rewrite the selector as `==`, `!=`, `in` and `not in` joined by `and`, or split the stage"),
                );
            }
        }
        let from = stage.expanded_from.last().copied();
        for (feature, loc, help) in features(stage) {
            let entry = (stage.name.clone(), from);
            match lost
                .iter_mut()
                .find(|(f, l, _, _)| *f == feature && *l == loc)
            {
                Some((_, _, _, stages)) => stages.push(entry),
                None => lost.push((feature, loc, help, vec![entry])),
            }
        }
    }
    for (feature, loc, help, stages) in lost {
        let names: Vec<String> = stages.iter().map(|(s, _)| format!("`{s}`")).collect();
        let (whom, verb) = if names.len() == 1 {
            (format!("stage {}", names[0]), "loses")
        } else {
            (format!("stages {}", names.join(", ")), "lose")
        };
        let (message, label) = if feature == "batch 0" {
            (
                format!("a `batch 0` hold works differently in RollingSync ({whom})"),
                "exported as `maxUpdate: 0`",
            )
        } else {
            (
                format!("RollingSync cannot express `{feature}`: {whom} {verb} it"),
                "not exported",
            )
        };
        let mut diag = Diagnostic::new(Code::NotExpressible, loc.file, loc.span, message)
            .with_label(label)
            .with_help(help);
        // A field from a template: also point at the `use` in the strategy's own file.
        let mut uses: Vec<Loc> = stages.iter().filter_map(|(_, from)| *from).collect();
        uses.dedup();
        for from in uses {
            diag = diag.with_secondary_in(from.file, from.span, "expanded from here");
        }
        diags.push(diag);
    }
    let template: Vec<String> = keys
        .iter()
        .map(|k| format!("{}: '{{{{index .metadata.labels \"{k}\"}}}}'", yaml_str(k)))
        .collect();
    let mut note = Diagnostic::new(
        Code::ConversionAssumption,
        rollout.loc.file,
        rollout.loc.span,
        format!(
            "the export of rollout `{}` assumes Applications carry their cluster's labels",
            rollout.name
        ),
    )
    .with_label("RollingSync selects Applications by label");
    if !template.is_empty() {
        note = note.with_help(format!(
            "copy the labels in the ApplicationSet template (cluster generator, goTemplate): `metadata: {{labels: {{{}}}}}`",
            template.join(", ")
        ));
    }
    note = note
        .with_note("rollc selects clusters by the labels of their Argo CD cluster Secrets")
        .with_note("RollingSync does not pin a revision: an Application syncs to whatever its `targetRevision` resolves to, and a new revision sends every Application back to the first step")
        .with_note("progressive syncs must be enabled in the ApplicationSet controller (`--enable-progressive-syncs`)");
    diags.push(note);
    out
}

/// The `maxUpdate` of a stage: its batch, or rollc's default of 1.
fn batch(stage: &Stage) -> Count {
    stage.batch.as_ref().map_or(Count::Int(1), |b| b.value)
}

fn step(out: &mut String, exprs: &[Expression], batch: Count) {
    if exprs.is_empty() {
        out.push_str("        - matchExpressions: []\n");
    } else {
        out.push_str("        - matchExpressions:\n");
        for e in exprs {
            let values: Vec<String> = e.values.iter().map(|v| yaml_str(v)).collect();
            out.push_str(&format!("            - key: {}\n", yaml_str(&e.key)));
            out.push_str(&format!(
                "              operator: {}\n",
                if e.is_in { "In" } else { "NotIn" }
            ));
            out.push_str(&format!("              values: [{}]\n", values.join(", ")));
        }
    }
    let max_update = match batch {
        Count::Int(n) => n.to_string(),
        Count::Percent(p) => format!("{p}%"),
    };
    out.push_str(&format!("          maxUpdate: {max_update}\n"));
}

/// The stage fields RollingSync cannot express: (feature, where, help).
fn features(stage: &Stage) -> Vec<(&'static str, Loc, &'static str)> {
    let mut out = Vec::new();
    if let Some(limit) = &stage.limit {
        out.push((
            if limit.per.is_some() { "limit per" } else { "limit" },
            limit.count.loc,
            "a RollingSync step takes every Application it selects, leaving none to later steps: narrow the selector instead, e.g. with a label on the canary clusters",
        ));
    }
    if let Some(b) = &stage.batch
        && matches!(b.value, Count::Int(0) | Count::Percent(0))
    {
        out.push((
            "batch 0",
            b.loc,
            "`maxUpdate: 0` is exported, but the hold differs: RollingSync waits until each Application of the step is synced by hand, rollc until `rollc promote`",
        ));
    }
    if let Some(s) = &stage.spread_by {
        out.push((
            "spread by",
            s.loc,
            "RollingSync starts a step's Applications in no particular order",
        ));
    }
    if let Some(m) = &stage.max_in_flight {
        out.push((
            "max in flight",
            m.count.loc,
            "`maxUpdate` is the only cap on a RollingSync step",
        ));
    }
    if let Some(o) = &stage.order_by {
        out.push((
            "order by",
            o.loc,
            "RollingSync starts a step's Applications in no particular order",
        ));
    }
    if let Some(b) = &stage.bake {
        out.push((
            "bake",
            b.loc,
            "RollingSync starts the next step as soon as every Application of a step is healthy",
        ));
    }
    if let Some(b) = &stage.bake_each {
        out.push((
            "bake each",
            b.loc,
            "RollingSync frees a slot as soon as an Application is healthy",
        ));
    }
    if let Some(d) = &stage.deadline {
        out.push((
            "deadline",
            d.loc,
            "RollingSync waits for health without a time limit",
        ));
    }
    if let Some(t) = &stage.tolerate
        && !matches!(t.value, Count::Int(0) | Count::Percent(0))
    {
        out.push((
            "tolerate",
            t.loc,
            "RollingSync never moves past an Application that does not become healthy",
        ));
    }
    if let Some(r) = &stage.requeue {
        out.push((
            "requeue",
            r.loc,
            "RollingSync cannot defer clusters that are not ready: a drained cluster holds up its step",
        ));
    }
    for gate in &stage.gates {
        let (feature, help) = match gate.value {
            Gate::Webhook { .. } => (
                "gate webhook",
                "RollingSync has no gates: run smoke tests from a PostSync resource hook instead",
            ),
            Gate::Metric { .. } => (
                "gate metric",
                "RollingSync has no gates: it only waits for Applications to be healthy",
            ),
            Gate::Approval { .. } => (
                "gate approval",
                "RollingSync has no approvals: `maxUpdate: 0` on the next step makes people sync it by hand",
            ),
        };
        out.push((feature, gate.loc, help));
    }
    for window in &stage.windows {
        out.push((
            "window",
            window.loc,
            "Argo CD sync windows (in the AppProject) also hold RollingSync, but for every step alike",
        ));
    }
    if let Some(f) = &stage.on_failure
        && f.value != FailurePolicy::Pause
    {
        out.push((
            "on failure",
            f.loc,
            "RollingSync stops at a step that does not become healthy; it neither aborts nor rolls back",
        ));
    }
    out
}

/// A selector as RollingSync match expressions (all of which must hold), or the first
/// construct that has no equivalent.
pub fn selector_expressions(s: &Selector) -> Option<Vec<Expression>> {
    expressions(s).ok()
}

fn expressions(s: &Selector) -> Result<Vec<Expression>, Unexpressible> {
    let mut out = Vec::new();
    conjunction(s, false, &mut out)?;
    Ok(out)
}

/// Adds to `out` the expressions of `s` (of `not s` when `negated`), in negation normal
/// form: `not` is pushed inward, `not (a or b)` becomes `not a and not b`.
fn conjunction(
    s: &Selector,
    negated: bool,
    out: &mut Vec<Expression>,
) -> Result<(), Unexpressible> {
    let fail = |what| Unexpressible { what, loc: s.loc };
    let label = |key: &Attr| match key {
        Attr::Label(k) => Ok(k.clone()),
        Attr::Cluster(ClusterAttr::Name) => Err(fail("`cluster.name`")),
        Attr::Cluster(ClusterAttr::Server) => Err(fail("`cluster.server`")),
    };
    match &s.kind {
        SelectorKind::All if !negated => Ok(()),
        SelectorKind::All => Err(fail("`not all`")),
        SelectorKind::Eq { key, value } | SelectorKind::Ne { key, value } => {
            let is_in = matches!(s.kind, SelectorKind::Eq { .. }) != negated;
            out.push(Expression {
                key: label(key)?,
                is_in,
                values: vec![value.clone()],
            });
            Ok(())
        }
        SelectorKind::In { key, values } | SelectorKind::NotIn { key, values } => {
            let is_in = matches!(s.kind, SelectorKind::In { .. }) != negated;
            out.push(Expression {
                key: label(key)?,
                is_in,
                values: values.clone(),
            });
            Ok(())
        }
        SelectorKind::Matches { .. } => Err(fail("a glob (`matches`)")),
        SelectorKind::Has { .. } => Err(fail("`has`")),
        SelectorKind::Not { inner } => conjunction(inner, !negated, out),
        SelectorKind::And { all } if !negated => {
            for part in all {
                conjunction(part, false, out)?;
            }
            Ok(())
        }
        SelectorKind::Or { any } if negated => {
            for part in any {
                conjunction(part, true, out)?;
            }
            Ok(())
        }
        // `a == "x" or a in ["y"]`: one `In` over the union of the values.
        SelectorKind::Or { any } => match union(any) {
            Some(e) => {
                out.push(e);
                Ok(())
            }
            None => Err(fail("`or`")),
        },
        SelectorKind::And { .. } => Err(fail("`or` (a negated `and`)")),
    }
}

/// The `or` of positive comparisons on one label as a single `In`, if it is one.
fn union(any: &[Selector]) -> Option<Expression> {
    let mut key: Option<&String> = None;
    let mut values: Vec<String> = Vec::new();
    for part in any {
        let (k, vs) = match &part.kind {
            SelectorKind::Eq {
                key: Attr::Label(k),
                value,
            } => (k, std::slice::from_ref(value)),
            SelectorKind::In {
                key: Attr::Label(k),
                values,
            } => (k, values.as_slice()),
            _ => return None,
        };
        if key.is_some_and(|seen| seen != k) {
            return None;
        }
        key = Some(k);
        for v in vs {
            if !values.contains(v) {
                values.push(v.clone());
            }
        }
    }
    Some(Expression {
        key: key?.clone(),
        is_in: true,
        values,
    })
}

/// A YAML scalar: plain when that reads back as the same string, else JSON-quoted (a valid
/// YAML double-quoted scalar).
fn yaml_str(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "true" | "false" | "on" | "off" | "null"
        );
    if plain { s.to_string() } else { json(s) }
}

fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}
