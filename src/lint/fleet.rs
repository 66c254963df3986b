//! `check --fleet`: what a strategy does to a concrete inventory. Coverage, overlaps,
//! stages that take nothing, labels the schema does not know, and every stage's counts
//! after the rounding rule.
//!
//! The program is compiled to the IR and bound by the same planner as `rollc plan`
//! ([`plan::bind`]), so `check --fleet` and `plan` never disagree about who takes what.

use std::collections::BTreeMap;

use crate::diagnostics::{Code, Data, Diagnostic};
use crate::fleet::Fleet;
use crate::hir::{Count, Program, Rollout, SchemaType, SelectorKind};
use crate::source::{FileId, Span};
use crate::{ir, plan};

/// How many cluster names a message lists before "and N more".
const LISTED: usize = 8;

fn names(fleet: &Fleet, indices: &[usize]) -> Vec<String> {
    indices
        .iter()
        .map(|&i| fleet.clusters[i].name.clone())
        .collect()
}

fn listing(names: &[String]) -> String {
    let shown: Vec<String> = names
        .iter()
        .take(LISTED)
        .map(|n| format!("`{n}`"))
        .collect();
    match names.len().saturating_sub(LISTED) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Lints `programs` against `fleet` (read from `fleet_file`).
pub fn lint(programs: &[&Program], fleet: &Fleet, fleet_file: FileId) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for program in programs {
        // The IR has one rollout per checked rollout and one stage per checked stage, in
        // the same order; the checked form keeps the source locations for the messages.
        let strategy = ir::compile(program, "");
        for (rollout, compiled) in program.rollouts.iter().zip(&strategy.rollouts) {
            lint_rollout(rollout, compiled, fleet, &mut diags);
        }
        if let Some(schema) = &program.schema {
            outside_schema(schema, fleet, fleet_file, &mut diags);
        }
    }
    diags
}

fn lint_rollout(
    rollout: &Rollout,
    compiled: &ir::Rollout,
    fleet: &Fleet,
    diags: &mut Vec<Diagnostic>,
) {
    let owned = plan::bind(compiled, fleet);
    for (s, (stage, share)) in rollout.stages.iter().zip(&owned.stages).enumerate() {
        if stage.select.is_none() {
            continue;
        }
        let limit_text = match (&stage.limit, share.limit) {
            (Some(l), Some(n)) => format!(", limit {} → {n}", count_text(l.count.value)),
            _ => String::new(),
        };
        let batch_text = match &stage.batch {
            _ if share.taken.is_empty() => String::new(),
            Some(b) => format!("; batch {} → {}", count_text(b.value), share.batch),
            None => format!("; batch {} (the default)", share.batch),
        };
        diags.push(
            Diagnostic::new(
                Code::StageCounts,
                stage.loc.file,
                stage.loc.span,
                format!(
                    "stage `{}` updates {} of {} selected{limit_text}{batch_text}",
                    stage.name,
                    plural(share.taken.len(), "cluster"),
                    share.selected,
                ),
            )
            .with_label(format!("{} here", plural(share.taken.len(), "cluster")))
            .with_data(Data::StageCounts {
                rollout: rollout.name.clone(),
                stage: stage.name.clone(),
                selected: share.selected as u64,
                candidates: share.candidates as u64,
                clusters: share.taken.len() as u64,
                limit: share.limit,
                batch: share.batch,
            }),
        );
        if share.selected == 0 {
            diags.push(
                Diagnostic::new(
                    Code::EmptyStage,
                    stage.loc.file,
                    stage.loc.span,
                    format!("stage `{}` selects no cluster of the fleet", stage.name),
                )
                .with_label("matches nothing")
                .with_help("check the selector's label keys and values against the fleet file"),
            );
        } else if share.candidates == 0 {
            diags.push(
                Diagnostic::new(
                    Code::EmptyStage,
                    stage.loc.file,
                    stage.loc.span,
                    format!(
                        "every cluster stage `{}` selects is taken by earlier stages",
                        stage.name
                    ),
                )
                .with_label("takes nothing")
                .with_help("a cluster belongs to the first stage that selects it"),
            );
        }
        if let (Some(limit), true) = (&stage.limit, share.candidates > 0)
            && let Count::Int(n) = limit.count.value
            && n > share.candidates as u64
            && limit.per.is_none()
        {
            diags.push(
                Diagnostic::new(
                    Code::LimitTooLarge,
                    limit.count.loc.file,
                    limit.count.loc.span,
                    format!(
                        "`limit {n}` but the stage has only {} in this fleet",
                        plural(share.candidates, "candidate")
                    ),
                )
                .with_label("larger than the selection")
                .with_help("the limit takes every candidate; lower it or widen the selector"),
            );
        }
        // Overlap: clusters an earlier stage without a limit took that this stage also
        // selects. A limit's leftovers flowing on, and a final `select all`, are by design.
        if matches!(
            stage.select.as_ref().map(|s| &s.kind),
            Some(SelectorKind::All)
        ) {
            continue;
        }
        let select = &compiled.stages[s].select;
        let mut by_owner: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, owner) in owned.owner.iter().enumerate() {
            if let Some(o) = *owner
                && o < s
                && rollout.stages[o].limit.is_none()
                && plan::matches(select, &fleet.clusters[i])
            {
                by_owner.entry(o).or_default().push(i);
            }
        }
        for (o, clusters) in by_owner {
            let first = &rollout.stages[o];
            let list = names(fleet, &clusters);
            diags.push(
                Diagnostic::new(
                    Code::OverlappingStages,
                    stage.loc.file,
                    stage.loc.span,
                    format!(
                        "stages `{}` and `{}` both select {}",
                        first.name,
                        stage.name,
                        plural(list.len(), "cluster")
                    ),
                )
                .with_label(format!("selects {}", listing(&list)))
                .with_secondary_in(first.loc.file, first.loc.span, format!("`{}` takes them first", first.name))
                .with_help("a cluster belongs to the first stage that selects it: narrow one of the selectors")
                .with_data(Data::Overlap {
                    first: first.name.clone(),
                    second: stage.name.clone(),
                    clusters: list,
                }),
            );
        }
    }
    let uncovered = names(fleet, &owned.uncovered());
    if !uncovered.is_empty() && !rollout.stages.is_empty() {
        diags.push(
            Diagnostic::new(
                Code::UncoveredClusters,
                rollout.loc.file,
                rollout.loc.span,
                format!(
                    "{} of {} never updated by rollout `{}`",
                    plural(uncovered.len(), "cluster"),
                    fleet.clusters.len(),
                    rollout.name
                ),
            )
            .with_label(format!("no stage takes {}", listing(&uncovered)))
            .with_help("add a stage that selects them (a last `stage \"rest\" { select all }` takes everything left)")
            .with_data(Data::Clusters { clusters: uncovered }),
        );
    }
}

fn count_text(count: Count) -> String {
    match count {
        Count::Int(n) => n.to_string(),
        Count::Percent(p) => format!("{p}%"),
    }
}

/// Label values in the fleet that the schema's declaration of their key does not allow.
fn outside_schema(
    schema: &crate::hir::Schema,
    fleet: &Fleet,
    fleet_file: FileId,
    diags: &mut Vec<Diagnostic>,
) {
    // (key, value) → clusters, in fleet order.
    let mut bad: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, cluster) in fleet.clusters.iter().enumerate() {
        for (key, value) in &cluster.labels {
            let Some(decl) = schema.get(key) else {
                continue;
            };
            let ok = match &decl.ty {
                SchemaType::String => true,
                SchemaType::Bool => matches!(value.as_str(), "true" | "false"),
                SchemaType::Int => !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
                SchemaType::Enum(values) => values.iter().any(|v| v == value),
            };
            if !ok {
                bad.entry((key, value)).or_default().push(i);
            }
        }
    }
    for ((key, value), clusters) in bad {
        let first = &fleet.clusters[clusters[0]];
        let span = first
            .source
            .as_ref()
            .and_then(|s| s.labels.get(key).copied().or(Some(s.entry)))
            .unwrap_or(Span::point(0));
        let decl = schema.get(key).expect("only declared keys are checked");
        let list = names(fleet, &clusters);
        diags.push(
            Diagnostic::new(
                Code::FleetOutsideSchema,
                fleet_file,
                span,
                format!(
                    "label `{key}` has value `{value}` in the fleet, which the schema does not list"
                ),
            )
            .with_label(format!("on {}", listing(&list)))
            .with_secondary_in(decl.loc.file, decl.loc.span, "declared here")
            .with_help(format!(
                "add `\"{value}\"` to the declaration of `{key}`, or fix the cluster's label"
            ))
            .with_data(Data::Clusters { clusters: list }),
        );
    }
}
