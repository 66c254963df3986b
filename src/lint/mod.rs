//! Lints over checked programs: mistakes that type check but cannot be what the author
//! meant (duplicate names, selectors that match nothing, stages nothing reaches, gates that
//! gate nothing, insecure webhooks).

pub mod fleet;
pub mod logic;

use std::collections::HashMap;

use crate::diagnostics::{Code, Diagnostic};
use crate::hir::{Count, Gate, Program, Rollout, Selector, Stage};

/// Lints every program; `programs` are the checked roots (rollout names must be unique
/// across them).
pub fn lint(programs: &[&Program]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut rollout_names: HashMap<&str, &Rollout> = HashMap::new();
    for program in programs {
        for rollout in &program.rollouts {
            match rollout_names.get(rollout.name.as_str()) {
                Some(first) if first.loc != rollout.loc => diags.push(
                    Diagnostic::new(
                        Code::DuplicateRollout,
                        rollout.loc.file,
                        rollout.loc.span,
                        format!("two rollouts are named `{}`", rollout.name),
                    )
                    .with_label("second rollout with this name")
                    .with_secondary_in(first.loc.file, first.loc.span, "first one here")
                    .with_help(
                        "run state and operator commands refer to rollouts by name: rename one",
                    ),
                ),
                Some(_) => {}
                None => {
                    rollout_names.insert(&rollout.name, rollout);
                }
            }
            lint_rollout(rollout, &mut diags);
        }
    }
    diags
}

fn lint_rollout(rollout: &Rollout, diags: &mut Vec<Diagnostic>) {
    if rollout.stages.is_empty() && rollout.complete {
        diags.push(
            Diagnostic::new(
                Code::NoStages,
                rollout.loc.file,
                rollout.loc.span,
                format!("rollout `{}` has no stages", rollout.name),
            )
            .with_label("it would update nothing")
            .with_help("add a `stage`, or `use` a template such as `std/rings`"),
        );
    }
    let mut names: HashMap<&str, &Stage> = HashMap::new();
    // An empty name comes from an interpolation that failed (already reported).
    for stage in rollout.stages.iter().filter(|s| !s.name.is_empty()) {
        if let Some(first) = names.get(stage.name.as_str()) {
            let mut diag = Diagnostic::new(
                Code::DuplicateStage,
                stage.loc.file,
                stage.loc.span,
                format!(
                    "two stages of `{}` are named `{}`",
                    rollout.name, stage.name
                ),
            )
            .with_label("second stage with this name")
            .with_secondary_in(first.loc.file, first.loc.span, "first one here")
            .with_help("`rollc status` and `rollc promote` refer to stages by name: rename one");
            if let Some(from) = stage.expanded_from.first() {
                diag = diag.with_secondary_in(from.file, from.span, "expanded from here");
            }
            diags.push(diag);
        } else {
            names.insert(&stage.name, stage);
        }
    }
    for (i, stage) in rollout.stages.iter().enumerate() {
        lint_stage(stage, &rollout.stages[..i], diags);
    }
    if let Some(last) = rollout.stages.last() {
        for gate in &last.gates {
            if matches!(gate.value, Gate::Approval { .. }) {
                diags.push(
                    Diagnostic::new(
                        Code::TrailingApproval,
                        gate.loc.file,
                        gate.loc.span,
                        format!("approval after `{}`, the last stage, gates nothing", last.name),
                    )
                    .with_label("no stage waits for this approval")
                    .with_help("gates run after their stage and before the next one: move the approval to the stage before the one it should hold"),
                );
            }
        }
    }
}

fn lint_stage(stage: &Stage, earlier: &[Stage], diags: &mut Vec<Diagnostic>) {
    let Some(select) = &stage.select else { return };
    let requeue_when = stage.requeue.as_ref().map(|r| &r.when);
    let mut select_unsatisfiable = false;
    for (i, s) in std::iter::once(select).chain(requeue_when).enumerate() {
        let bad = first_unsatisfiable(s);
        select_unsatisfiable |= i == 0 && bad.is_some();
        if let Some(bad) = bad {
            diags.push(
                Diagnostic::new(
                    Code::UnsatisfiableSelector,
                    bad.loc.file,
                    bad.loc.span,
                    "this selector can never match a cluster",
                )
                .with_label(if matches!(&bad.kind, crate::hir::SelectorKind::In { values, .. } if values.is_empty()) {
                    "`in []` matches nothing"
                } else {
                    "contradictory conditions"
                })
                .with_note(format!("in stage `{}`", stage.name))
                .with_help("a label has one value per cluster: did you mean `or`, or `in [...]`?"),
            );
        }
    }
    if select_unsatisfiable {
        return;
    }
    // From here `select` is satisfiable: `implies(select, x)` is `contained(select, x)`.
    if let Some(owner) = earlier.iter().find(|e| {
        e.limit.is_none()
            && e.select
                .as_ref()
                .is_some_and(|es| logic::contained(select, es))
    }) {
        diags.push(
            Diagnostic::new(
                Code::UnreachableStage,
                stage.loc.file,
                stage.loc.span,
                format!("stage `{}` can never select anything", stage.name),
            )
            .with_label("every cluster it selects is taken earlier")
            .with_secondary_in(owner.loc.file, owner.loc.span, format!("stage `{}` takes them first", owner.name))
            .with_help("a cluster belongs to the first stage that selects it: narrow the earlier stage or remove this one"),
        );
    }
    if let (Some(limit), Some(bound)) = (&stage.limit, logic::max_matches(select))
        && let Count::Int(n) = limit.count.value
        && n > bound
    {
        diags.push(
            Diagnostic::new(
                Code::LimitTooLarge,
                limit.count.loc.file,
                limit.count.loc.span,
                format!(
                    "`limit {n}` but the selector matches at most {bound} cluster{}",
                    if bound == 1 { "" } else { "s" }
                ),
            )
            .with_label("larger than the selection")
            .with_secondary_in(
                select.loc.file,
                select.loc.span,
                "selects clusters by name or server",
            )
            .with_help("lower the limit or widen the selector"),
        );
    }
    if let Some(requeue) = &stage.requeue
        && logic::contained(select, &requeue.when)
    {
        diags.push(
                Diagnostic::new(
                    Code::RequeueEverything,
                    requeue.when.loc.file,
                    requeue.when.loc.span,
                    format!("every cluster stage `{}` selects matches the requeue condition", stage.name),
                )
                .with_label("matches the whole stage")
                .with_secondary_in(select.loc.file, select.loc.span, "the stage selects these")
                .with_help("no cluster could ever start; narrow the requeue condition to the clusters that are temporarily not ready"),
            );
    }
    for gate in &stage.gates {
        match &gate.value {
            Gate::Webhook { url, insecure: false, .. } if url.starts_with("http://") => diags.push(
                Diagnostic::new(
                    Code::InsecureWebhook,
                    gate.loc.file,
                    gate.loc.span,
                    format!("webhook `{url}` is plain http"),
                )
                .with_label("the gate's answer could be forged in transit")
                .with_help("use `https://`, or write `insecure` after the gate to accept plain http deliberately"),
            ),
            Gate::Metric { query, .. } if query.trim().is_empty() => diags.push(
                Diagnostic::new(Code::EmptyQuery, gate.loc.file, gate.loc.span, "metric gate has an empty query")
                    .with_label("nothing to evaluate")
                    .with_help("write the PromQL expression to compare, e.g. `query \"sum(rate(errors[5m]))\"`"),
            ),
            _ => {}
        }
    }
}

/// The innermost unsatisfiable part of `s`, so the label points at the contradiction.
fn first_unsatisfiable(s: &Selector) -> Option<&Selector> {
    if !logic::unsatisfiable(s) {
        return None;
    }
    let children: Vec<&Selector> = match &s.kind {
        crate::hir::SelectorKind::And { all } => all.iter().collect(),
        crate::hir::SelectorKind::Or { .. } => Vec::new(),
        _ => Vec::new(),
    };
    children
        .into_iter()
        .find_map(first_unsatisfiable)
        .or(Some(s))
}
