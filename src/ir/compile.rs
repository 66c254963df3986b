//! Compiling a checked program to the IR: defaults made explicit, locations dropped,
//! selectors normalised.

use std::collections::BTreeSet;

use super::*;
use crate::ast;
use crate::hir;

/// Requeue retries when `attempts` is not written.
pub const DEFAULT_REQUEUE_ATTEMPTS: u64 = 3;
/// Seconds between requeue retries when `every` is not written.
pub const DEFAULT_REQUEUE_EVERY: u64 = 15 * 60;
/// A webhook gate's per-attempt timeout when not written.
pub const DEFAULT_WEBHOOK_TIMEOUT: u64 = 30;
/// A webhook gate's retries when not written.
pub const DEFAULT_WEBHOOK_RETRIES: u64 = 2;
/// How long a metric gate's condition must hold when `for` is not written.
pub const DEFAULT_METRIC_WINDOW: u64 = 5 * 60;
/// A metric gate's sampling interval when `every` is not written.
pub const DEFAULT_METRIC_EVERY: u64 = 60;

/// Compiles a checked program (which must have no errors) from `source`.
pub fn compile(program: &hir::Program, source: &str) -> Strategy {
    Strategy {
        version: VERSION.to_string(),
        source: source.to_string(),
        rollouts: program.rollouts.iter().map(rollout).collect(),
    }
}

fn rollout(r: &hir::Rollout) -> Rollout {
    Rollout {
        name: r.name.clone(),
        target: match r.target.as_ref().map(|t| &t.value) {
            Some(hir::Target::AppSet {
                name,
                namespace,
                project,
            }) => Target::AppSet {
                name: name.clone(),
                namespace: namespace.clone(),
                project: project.clone(),
            },
            Some(hir::Target::Apps {
                selector: s,
                namespace,
                project,
            }) => Target::Apps {
                selector: selector(s),
                namespace: namespace.clone(),
                project: project.clone(),
            },
            // A checked program always has a target; an unchecked one targets nothing.
            None => Target::Apps {
                selector: Selector::Not {
                    inner: Box::new(Selector::All),
                },
                namespace: "argocd".into(),
                project: None,
            },
        },
        on_new_revision: match r.on_new_revision {
            ast::NewRevisionPolicy::Queue => NewRevisionPolicy::Queue,
            ast::NewRevisionPolicy::Restart => NewRevisionPolicy::Restart,
        },
        stages: r.stages.iter().map(stage).collect(),
    }
}

fn count(c: hir::Count) -> Count {
    match c {
        hir::Count::Int(n) => Count::Int(n),
        hir::Count::Percent(p) => Count::Percent(p),
    }
}

fn stage(s: &hir::Stage) -> Stage {
    Stage {
        name: s.name.clone(),
        select: s.select.as_ref().map_or(
            Selector::Not {
                inner: Box::new(Selector::All),
            },
            selector,
        ),
        limit: s.limit.as_ref().map(|l| Limit {
            count: count(l.count.value),
            per: l.per.as_ref().map(|p| p.value.clone()),
        }),
        batch: s.batch.as_ref().map_or(Count::Int(1), |b| count(b.value)),
        spread_by: s.spread_by.as_ref().map(|k| k.value.clone()),
        max_in_flight: s.max_in_flight.as_ref().map(|m| MaxInFlight {
            count: m.count.value,
            per: m.per.value.clone(),
        }),
        order_by: s.order_by.as_ref().map_or(
            OrderBy {
                key: Attr::Name,
                descending: false,
            },
            |o| OrderBy {
                key: attr(&o.value.key),
                descending: o.value.descending,
            },
        ),
        bake_seconds: s.bake.as_ref().map_or(0, |b| b.value),
        bake_each_seconds: s.bake_each.as_ref().map_or(0, |b| b.value),
        deadline_seconds: s.deadline.as_ref().map(|d| d.value),
        tolerate: s
            .tolerate
            .as_ref()
            .map_or(Count::Int(0), |t| count(t.value)),
        requeue: s.requeue.as_ref().map(|r| Requeue {
            when: selector(&r.when),
            attempts: r
                .attempts
                .as_ref()
                .map_or(DEFAULT_REQUEUE_ATTEMPTS, |a| a.value),
            every_seconds: r.every.as_ref().map_or(DEFAULT_REQUEUE_EVERY, |e| e.value),
        }),
        gates: s.gates.iter().map(|g| gate(&g.value)).collect(),
        windows: s.windows.iter().map(|w| window(&w.value)).collect(),
        on_failure: match s.on_failure.as_ref().map(|f| f.value) {
            None | Some(ast::FailurePolicy::Pause) => FailurePolicy::Pause,
            Some(ast::FailurePolicy::Abort) => FailurePolicy::Abort,
            Some(ast::FailurePolicy::Rollback) => FailurePolicy::Rollback,
        },
    }
}

fn gate(g: &hir::Gate) -> Gate {
    match g {
        hir::Gate::Webhook {
            url,
            timeout,
            retries,
            insecure,
        } => Gate::Webhook {
            url: url.clone(),
            timeout_seconds: timeout.unwrap_or(DEFAULT_WEBHOOK_TIMEOUT),
            retries: retries.unwrap_or(DEFAULT_WEBHOOK_RETRIES),
            insecure: *insecure,
        },
        hir::Gate::Metric {
            url,
            query,
            comparison,
            threshold,
            window,
            every,
        } => Gate::Metric {
            url: url.clone(),
            query: query.clone(),
            comparison: match comparison {
                ast::MetricComparison::Below => Comparison::Below,
                ast::MetricComparison::Above => Comparison::Above,
            },
            threshold: *threshold,
            window_seconds: window.unwrap_or(DEFAULT_METRIC_WINDOW),
            every_seconds: every.unwrap_or(DEFAULT_METRIC_EVERY),
        },
        hir::Gate::Approval { reason } => Gate::Approval {
            reason: reason.clone(),
        },
    }
}

fn window(w: &hir::Window) -> Window {
    let date = |d: &ast::Date| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day);
    Window {
        mode: match w.mode {
            ast::WindowMode::Allow => WindowMode::Allow,
            ast::WindowMode::Deny => WindowMode::Deny,
        },
        days: w
            .days
            .iter()
            .map(|&(from, to)| DayRange { from, to })
            .collect(),
        minutes: w.hours.map(|(from, to)| MinuteRange { from, to }),
        dates: w.dates.as_ref().map(|(from, to)| DateRange {
            from: date(from),
            to: date(to),
        }),
        tz: w.tz.clone().unwrap_or_else(|| "UTC".to_string()),
    }
}

fn attr(a: &hir::Attr) -> Attr {
    match a {
        hir::Attr::Label(k) => Attr::Label(k.clone()),
        hir::Attr::Cluster(ast::ClusterAttr::Name) => Attr::Name,
        hir::Attr::Cluster(ast::ClusterAttr::Server) => Attr::Server,
    }
}

fn sorted(values: &[String]) -> Vec<String> {
    values
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Normalises: `and`/`or` flattened (a one-operand list becomes its operand), `in` lists
/// sorted and deduplicated, `not not s` is `s`.
pub fn selector(s: &hir::Selector) -> Selector {
    use hir::SelectorKind as K;
    match &s.kind {
        K::All => Selector::All,
        K::Eq { key, value } => Selector::Eq {
            key: attr(key),
            value: value.clone(),
        },
        K::Ne { key, value } => Selector::Ne {
            key: attr(key),
            value: value.clone(),
        },
        K::In { key, values } => Selector::In {
            key: attr(key),
            values: sorted(values),
        },
        K::NotIn { key, values } => Selector::NotIn {
            key: attr(key),
            values: sorted(values),
        },
        K::Matches { key, pattern } => Selector::Matches {
            key: attr(key),
            pattern: pattern.clone(),
        },
        K::Has { key } => Selector::Has { key: key.clone() },
        K::Not { inner } => match selector(inner) {
            Selector::Not { inner } => *inner,
            other => Selector::Not {
                inner: Box::new(other),
            },
        },
        K::And { all } => flatten(all.iter().map(selector), true),
        K::Or { any } => flatten(any.iter().map(selector), false),
    }
}

fn flatten(items: impl Iterator<Item = Selector>, and: bool) -> Selector {
    let mut out = Vec::new();
    for item in items {
        match item {
            Selector::And { all } if and => out.extend(all),
            Selector::Or { any } if !and => out.extend(any),
            other => out.push(other),
        }
    }
    match (out.len(), and) {
        (1, _) => out.pop().expect("one operand"),
        (_, true) => Selector::And { all: out },
        (_, false) => Selector::Or { any: out },
    }
}
