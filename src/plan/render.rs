//! Printing plans and plan diffs: a table for people, a Mermaid Gantt chart for pull
//! requests, and the text of `--diff`. (JSON is [`Plan`]'s and [`Diff`]'s serde form.)

use std::fmt::Write as _;

use super::{ClusterChange, Diff, DiffKind, GateKind, Place, Plan, RolloutPlan, RolloutStatus};
use super::{StageCounts, StagePlan};
use crate::ir::Count;
use crate::syntax::literal::format_duration;

/// How wide the clusters column may grow before names wrap to the next line.
const CLUSTERS_WIDTH: usize = 64;

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn count_text(count: Count) -> String {
    match count {
        Count::Int(n) => n.to_string(),
        Count::Percent(p) => format!("{p}%"),
    }
}

/// Names joined with `, `, wrapped into lines of at most `width` characters (a longer
/// name gets a line of its own).
fn wrap(names: &[String], width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for (k, name) in names.iter().enumerate() {
        let piece = if k + 1 < names.len() {
            format!("{name},")
        } else {
            name.clone()
        };
        if !line.is_empty() && line.chars().count() + 1 + piece.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&piece);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A table whose cells may span several lines; columns padded to their widest line,
/// trailing spaces trimmed.
fn grid(out: &mut String, indent: &str, header: &[&str], rows: &[Vec<Vec<String>>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            for line in cell {
                widths[c] = widths[c].max(line.chars().count());
            }
        }
    }
    let mut emit = |cells: Vec<&str>| {
        let mut line = indent.to_string();
        for (c, text) in cells.iter().enumerate() {
            line.push_str(text);
            if c + 1 < cells.len() {
                let pad = widths[c] - text.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    emit(header.to_vec());
    for row in rows {
        let height = row.iter().map(Vec::len).max().unwrap_or(1);
        for l in 0..height {
            emit(
                row.iter()
                    .map(|cell| cell.get(l).map_or("", String::as_str))
                    .collect(),
            );
        }
    }
}

/// How many of a stage's waves (the last ones) hold only deferred clusters.
fn deferred_waves(stage: &StagePlan) -> usize {
    let first_deferred = stage.clusters.len() - stage.deferred.len().min(stage.clusters.len());
    let mut start = 0;
    let mut n = 0;
    for wave in &stage.waves {
        if start >= first_deferred && !stage.deferred.is_empty() {
            n += 1;
        }
        start += wave.len();
    }
    n
}

fn batch_cell(stage: &StagePlan) -> String {
    if stage.hold && matches!(stage.batch_count, Count::Int(0) | Count::Percent(0)) {
        return format!("{} (hold)", count_text(stage.batch_count));
    }
    if stage.clusters.is_empty() {
        // Nothing to start: a batch of the default 1 "→ 0" would only puzzle.
        return "-".into();
    }
    match stage.batch_count {
        Count::Int(n) if n == stage.batch => n.to_string(),
        count => format!("{} → {}", count_text(count), stage.batch),
    }
}

fn limit_cell(stage: &StagePlan) -> String {
    let Some(count) = stage.limit_count else {
        return match stage.limit {
            Some(n) => n.to_string(),
            None => "-".into(),
        };
    };
    let written = match &stage.limit_per {
        Some(key) => format!("{} per {key}", count_text(count)),
        None => count_text(count),
    };
    let hold = if matches!(count, Count::Int(0) | Count::Percent(0)) {
        " (hold)"
    } else {
        ""
    };
    let n = stage.limit.unwrap_or(0);
    match count {
        Count::Int(k) if k == n && stage.limit_per.is_none() => {
            format!("{n} of {}{hold}", stage.candidates)
        }
        _ => format!("{written} → {n} of {}{hold}", stage.candidates),
    }
}

fn bake_cell(stage: &StagePlan) -> String {
    let mut lines = Vec::new();
    if stage.bake_seconds > 0 {
        lines.push(format_duration(stage.bake_seconds));
    }
    if stage.bake_each_seconds > 0 {
        lines.push(format!("each {}", format_duration(stage.bake_each_seconds)));
    }
    if lines.is_empty() {
        lines.push("-".into());
    }
    lines.join(", ")
}

fn gate_name(kind: GateKind) -> &'static str {
    match kind {
        GateKind::Webhook => "webhook",
        GateKind::Metric => "metric",
        GateKind::Approval => "approval",
    }
}

fn gates_cell(stage: &StagePlan) -> String {
    if stage.gates.is_empty() {
        return "-".into();
    }
    stage
        .gates
        .iter()
        .map(|g| match g.kind {
            GateKind::Metric => format!("metric {}", g.detail),
            kind => gate_name(kind).to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows of one stage: one per wave, the stage's own columns on the first.
fn stage_rows(stage: &StagePlan) -> Vec<Vec<Vec<String>>> {
    let deferred = deferred_waves(stage);
    let mut waves: Vec<(String, Vec<String>)> = Vec::new();
    if stage.waves.is_empty() {
        let label = if stage.hold { "hold" } else { "-" };
        let clusters = if stage.clusters.is_empty() {
            vec!["(none)".to_string()]
        } else {
            wrap(&stage.clusters, CLUSTERS_WIDTH)
        };
        waves.push((label.into(), clusters));
    }
    for (w, wave) in stage.waves.iter().enumerate() {
        let label = if w >= stage.waves.len() - deferred {
            format!("{} (deferred)", w + 1)
        } else {
            (w + 1).to_string()
        };
        waves.push((label, wrap(wave, CLUSTERS_WIDTH)));
    }
    waves
        .into_iter()
        .enumerate()
        .map(|(w, (label, clusters))| {
            if w == 0 {
                vec![
                    vec![stage.name.clone()],
                    vec![label],
                    clusters,
                    vec![batch_cell(stage)],
                    vec![limit_cell(stage)],
                    vec![bake_cell(stage)],
                    vec![gates_cell(stage)],
                    vec![format_duration(stage.estimated_seconds)],
                ]
            } else {
                vec![
                    vec![],
                    vec![label],
                    clusters,
                    vec![],
                    vec![],
                    vec![],
                    vec![],
                    vec![],
                ]
            }
        })
        .collect()
}

/// What the estimate leaves out, for the line under the table.
fn not_counted(rollout: &RolloutPlan) -> Vec<String> {
    let approvals: u64 = rollout
        .stages
        .iter()
        .flat_map(|s| &s.gates)
        .filter(|g| g.kind == GateKind::Approval)
        .count() as u64;
    let holds = rollout.stages.iter().filter(|s| s.hold).count() as u64;
    let windows = rollout.stages.iter().any(|s| s.windows > 0);
    let deferred = rollout.stages.iter().any(|s| !s.deferred.is_empty());
    let mut out = Vec::new();
    if approvals > 0 {
        out.push(plural(approvals, "approval"));
    }
    if holds > 0 {
        out.push(plural(holds, "hold"));
    }
    if windows {
        out.push("time windows".into());
    }
    if deferred {
        out.push("requeue intervals".into());
    }
    out
}

/// The plan as a table per rollout: stage, wave, clusters, counts after rounding, bakes,
/// gates and time; then the uncovered clusters and the estimated duration.
pub fn table(plan: &Plan) -> String {
    let mut out = String::new();
    for (r, rollout) in plan.rollouts.iter().enumerate() {
        if r > 0 {
            out.push('\n');
        }
        let updated: u64 = rollout.stages.iter().map(|s| s.clusters.len() as u64).sum();
        let _ = writeln!(
            out,
            "rollout `{}`: {updated} of {} updated in {}",
            rollout.name,
            plural(
                plan.fleet_clusters
                    .max(updated + rollout.uncovered.len() as u64),
                "cluster"
            ),
            plural(rollout.stages.len() as u64, "stage"),
        );
        out.push('\n');
        let rows: Vec<Vec<Vec<String>>> = rollout.stages.iter().flat_map(stage_rows).collect();
        grid(
            &mut out,
            "  ",
            &[
                "STAGE", "WAVE", "CLUSTERS", "BATCH", "LIMIT", "BAKE", "GATES", "TIME",
            ],
            &rows,
        );
        out.push('\n');
        if rollout.uncovered.is_empty() {
            out.push_str("  uncovered: none\n");
        } else {
            let lines = wrap(&rollout.uncovered, 80);
            let _ = writeln!(
                out,
                "  uncovered ({}, never updated): {}",
                rollout.uncovered.len(),
                lines[0]
            );
            for line in &lines[1..] {
                let _ = writeln!(out, "    {line}");
            }
        }
        let mut estimate = format!(
            "  estimated duration: {}, each sync assumed to take {}",
            format_duration(rollout.estimated_seconds),
            format_duration(plan.sync_time_seconds)
        );
        let left_out = not_counted(rollout);
        if !left_out.is_empty() {
            let _ = write!(estimate, "; not counted: {}", left_out.join(", "));
        }
        out.push_str(&estimate);
        out.push('\n');
    }
    if plan.rollouts.is_empty() {
        out.push_str("no rollouts\n");
    }
    out
}

/// Makes text safe inside a Mermaid Gantt task, section or title: `#`, `:`, `;` and `%`
/// end or comment out those statements, so they become Mermaid's numeric entity codes
/// (`#58;` shows as `:`); line breaks become spaces.
pub fn mermaid_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' | ':' | ';' | '%' => {
                let _ = write!(out, "#{};", c as u32);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A point on the chart: `seconds` after the rollout starts, on a fixed calendar day.
///
/// Dates, not Unix seconds (`dateFormat X`): Mermaid draws the axis in the viewer's time
/// zone, so an instant would start at 01:00 in Paris and 19:00 the day before in New York;
/// a calendar date-time is read and drawn in the same local zone, so every reviewer sees
/// the rollout start at 00:00 of day 1.
fn at(seconds: u64) -> String {
    let start = jiff::civil::date(2000, 1, 1).at(0, 0, 0, 0);
    let secs = i64::try_from(seconds).unwrap_or(i64::MAX);
    let t = start
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap_or(jiff::civil::DateTime::MAX);
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// A short description of a wave's clusters for a chart bar.
fn wave_label(wave: &[String]) -> String {
    if wave.len() <= 3 {
        wave.join(", ")
    } else {
        plural(wave.len() as u64, "cluster")
    }
}

/// The plan as a Mermaid Gantt chart: a section per stage (prefixed by the rollout's name
/// when there are several rollouts), a bar per wave and per bake, metric gates as bars of
/// their window, approval and webhook gates and holds as milestones. Times follow the
/// estimate. Wrap it in a ```` ```mermaid ```` fence to render it in a pull request.
pub fn mermaid(plan: &Plan) -> String {
    let mut out = String::from("gantt\n");
    let title = match plan.rollouts.as_slice() {
        [one] => format!("rollout {}", one.name),
        _ => "rollc plan".to_string(),
    };
    let _ = writeln!(out, "  title {}", mermaid_escape(&title));
    out.push_str("  dateFormat YYYY-MM-DD HH:mm:ss\n");
    let longest = plan
        .rollouts
        .iter()
        .map(|r| r.estimated_seconds)
        .max()
        .unwrap_or(0);
    // Day-of-year counts days from 1 on the chart's 1 January; hours alone would wrap.
    let axis = if longest <= 86_400 {
        "%H:%M"
    } else {
        "day %-j %H:%M"
    };
    let _ = writeln!(out, "  axisFormat {axis}");
    let several = plan.rollouts.len() > 1;
    for (r, rollout) in plan.rollouts.iter().enumerate() {
        for (s, stage) in rollout.stages.iter().enumerate() {
            let section = if several {
                format!("{} / {}", rollout.name, stage.name)
            } else {
                stage.name.clone()
            };
            let _ = writeln!(out, "  section {}", mermaid_escape(&section));
            let id = format!("r{r}s{s}");
            let mut t = stage.start_seconds;
            let wave_time = plan.sync_time_seconds + stage.bake_each_seconds;
            let deferred = deferred_waves(stage);
            let mut bar = |out: &mut String, name: &str, tags: &str, id: String, len: u64| {
                let _ = writeln!(
                    out,
                    "    {} :{tags}{id}, {}, {}",
                    mermaid_escape(name),
                    at(t),
                    at(t + len)
                );
                t += len;
            };
            if stage.hold {
                bar(
                    &mut out,
                    "hold - waits for rollc promote",
                    "milestone, ",
                    format!("{id}h"),
                    0,
                );
            }
            for (w, wave) in stage.waves.iter().enumerate() {
                let name = if w >= stage.waves.len() - deferred {
                    format!("wave {} deferred - {}", w + 1, wave_label(wave))
                } else {
                    format!("wave {} - {}", w + 1, wave_label(wave))
                };
                bar(&mut out, &name, "", format!("{id}w{w}"), wave_time);
            }
            if stage.bake_seconds > 0 {
                let name = format!("bake {}", format_duration(stage.bake_seconds));
                bar(&mut out, &name, "", format!("{id}b"), stage.bake_seconds);
            }
            for (g, gate) in stage.gates.iter().enumerate() {
                match gate.kind {
                    GateKind::Metric => {
                        let name = format!("metric gate {}", gate.detail);
                        bar(&mut out, &name, "crit, ", format!("{id}g{g}"), gate.seconds);
                    }
                    kind => {
                        let name = format!("{} gate", gate_name(kind));
                        bar(&mut out, &name, "milestone, ", format!("{id}g{g}"), 0);
                    }
                }
            }
            if stage.waves.is_empty() && !stage.hold && stage.bake_seconds == 0 {
                bar(&mut out, "no clusters", "milestone, ", format!("{id}n"), 0);
            }
        }
    }
    out
}

fn place_text(place: &Place) -> String {
    match (&place.stage, place.wave) {
        (None, _) => "uncovered".into(),
        (Some(stage), Some(w)) => format!("`{stage}` wave {w}"),
        (Some(stage), None) => format!("`{stage}` (on hold)"),
    }
}

fn counts_text(c: &StageCounts) -> String {
    let mut text = format!(
        "{} in {}, batch {}",
        plural(c.clusters, "cluster"),
        plural(c.waves, "wave"),
        c.batch
    );
    if let Some(limit) = c.limit {
        let _ = write!(text, ", limit {limit}");
    }
    if c.hold {
        text.push_str(", on hold");
    }
    text
}

/// The diff as text for a pull request review: per rollout, the clusters that moved
/// between stages or waves, appeared or disappeared, the stages whose counts changed, and
/// the change of the estimate.
pub fn diff_text(diff: &Diff) -> String {
    let mut out = String::new();
    if diff.is_empty() {
        out.push_str("no changes: every cluster is in the same stage and wave\n");
        return out;
    }
    for r in &diff.rollouts {
        match r.status {
            RolloutStatus::Added => {
                let _ = writeln!(out, "rollout `{}`: new", r.name);
                continue;
            }
            RolloutStatus::Removed => {
                let _ = writeln!(out, "rollout `{}`: removed", r.name);
                continue;
            }
            RolloutStatus::Unchanged => {
                let _ = writeln!(out, "rollout `{}`: unchanged", r.name);
                continue;
            }
            RolloutStatus::Changed => {
                let moved = r.clusters.len() as u64;
                let _ = writeln!(
                    out,
                    "rollout `{}`: {} changed place",
                    r.name,
                    plural(moved, "cluster")
                );
            }
        }
        let width = r
            .clusters
            .iter()
            .map(|c| c.cluster.chars().count())
            .max()
            .unwrap_or(0);
        for (kind, heading) in [
            (DiffKind::Stage, "moved between stages"),
            (DiffKind::Wave, "moved between waves"),
            (DiffKind::Appeared, "appeared in the fleet"),
            (DiffKind::Disappeared, "gone from the fleet"),
        ] {
            let changes: Vec<&ClusterChange> =
                r.clusters.iter().filter(|c| c.kind == kind).collect();
            if changes.is_empty() {
                continue;
            }
            let _ = writeln!(out, "  {heading}:");
            for c in changes {
                let text = match (&c.from, &c.to) {
                    (Some(f), Some(t)) => format!("{} → {}", place_text(f), place_text(t)),
                    (None, Some(t)) => place_text(t),
                    (Some(f), None) => format!("was {}", place_text(f)),
                    (None, None) => String::new(),
                };
                let pad = width - c.cluster.chars().count();
                let _ = writeln!(out, "    {}{}  {text}", c.cluster, " ".repeat(pad));
            }
        }
        if !r.stages.is_empty() {
            out.push_str("  stages:\n");
            for s in &r.stages {
                let text = match (&s.from, &s.to) {
                    (Some(f), Some(t)) => format!("{} → {}", counts_text(f), counts_text(t)),
                    (None, Some(t)) => format!("new: {}", counts_text(t)),
                    (Some(f), None) => format!("removed (was {})", counts_text(f)),
                    (None, None) => String::new(),
                };
                let _ = writeln!(out, "    `{}`: {text}", s.stage);
            }
        }
        if let Some([from, to]) = r.estimated_seconds {
            let _ = writeln!(
                out,
                "  estimated duration: {} → {}",
                format_duration(from),
                format_duration(to)
            );
        }
    }
    out
}
