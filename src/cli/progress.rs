//! What `apply` shows while a run goes: per-stage progress bars on a terminal (indicatif),
//! plain timestamped lines otherwise, and the `--events` file (one JSON object per line).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::runtime::core::{Run, StageState};
use crate::runtime::drive::Observer;
use crate::runtime::event::{Event, Record};

/// The `--events` file: every journal record of the run, as JSON lines, appended. On
/// resume, the records a killed process journaled but did not write here are written first,
/// so the file has every record exactly once.
pub struct EventsFile {
    file: File,
    path: String,
    written: Option<u64>,
    failed: bool,
}

impl EventsFile {
    /// Opens (or creates) `path` for run `run`, and writes the records of `journal` it lacks.
    pub fn open(path: &Path, run: &str, journal: &[Record]) -> std::io::Result<EventsFile> {
        let mut written: Option<u64> = None;
        cut_torn_line(path)?;
        if let Ok(existing) = File::open(path) {
            for line in BufReader::new(existing).lines() {
                let line = line?;
                if let Ok(r) = serde_json::from_str::<serde_json::Value>(&line)
                    && r.get("run").and_then(|v| v.as_str()) == Some(run)
                    && let Some(seq) = r.get("seq").and_then(|v| v.as_u64())
                {
                    written = Some(written.map_or(seq, |w| w.max(seq)));
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let mut events = EventsFile {
            file,
            path: path.display().to_string(),
            written,
            failed: false,
        };
        events.write(journal)?;
        Ok(events)
    }

    fn write(&mut self, records: &[Record]) -> std::io::Result<()> {
        let mut buf = Vec::new();
        for r in records {
            if self.written.is_some_and(|w| r.seq <= w) {
                continue;
            }
            serde_json::to_writer(&mut buf, r).expect("records serialise");
            buf.push(b'\n');
            self.written = Some(r.seq);
        }
        self.file.write_all(&buf)?;
        self.file.flush()
    }
}

/// Cuts a last line a killed process left half-written, so appends start on a fresh line.
fn cut_torn_line(path: &Path) -> std::io::Result<()> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if bytes.last().is_none_or(|&b| b == b'\n') {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    OpenOptions::new()
        .write(true)
        .open(path)?
        .set_len(keep as u64)
}

impl Observer for EventsFile {
    fn records(&mut self, records: &[Record], _run: &Run) {
        if let Err(e) = self.write(records)
            && !self.failed
        {
            // The journal is the record of truth; the events file is a copy. Say once.
            self.failed = true;
            eprintln!("warning: cannot write events to `{}`: {e}", self.path);
        }
    }
}

/// Plain progress: one timestamped line per event worth a person's attention.
pub struct Lines<W: Write> {
    out: W,
    /// Also print per-cluster lines.
    clusters: bool,
}

impl<W: Write> Lines<W> {
    /// Lines to `out`; per-cluster events only when `clusters`.
    pub fn new(out: W, clusters: bool) -> Lines<W> {
        Lines { out, clusters }
    }
}

impl<W: Write> Observer for Lines<W> {
    fn notice(&mut self, time: jiff::Timestamp, text: &str) {
        let time = time.strftime("%Y-%m-%dT%H:%M:%SZ");
        let _ = writeln!(self.out, "{time}  note: {text}");
        let _ = self.out.flush();
    }

    fn records(&mut self, records: &[Record], run: &Run) {
        for r in records {
            if let Some(text) = describe(&r.event, run, self.clusters) {
                let time = r.time.strftime("%Y-%m-%dT%H:%M:%SZ");
                let _ = writeln!(self.out, "{time}  {text}");
            }
        }
        let _ = self.out.flush();
    }
}

/// A sentence for an event, or `None` for bookkeeping records.
pub fn describe(event: &Event, run: &Run, clusters: bool) -> Option<String> {
    let stage_total = |name: &str| {
        run.stages
            .iter()
            .find(|s| s.name == name)
            .map_or(0, |s| s.clusters.len())
    };
    Some(match event {
        Event::RunStarted {
            rollout,
            revision,
            previous_revision,
            fleet_clusters,
        } => format!(
            "run {} started: rollout `{rollout}` to revision {revision}{} on {fleet_clusters} clusters",
            run.id,
            previous_revision
                .as_ref()
                .map(|p| format!(" (from {p})"))
                .unwrap_or_default()
        ),
        Event::StagePlanned { .. } | Event::GateProbe { .. } => return None,
        Event::ExecutorAttached { holder } => format!("executor attached: {holder}"),
        Event::StageStarted { stage } => {
            let st = run.stages.iter().find(|s| s.name == *stage)?;
            format!(
                "stage `{stage}` started: {} clusters, batch {}",
                st.clusters.len(),
                st.batch
            )
        }
        Event::ClusterSyncStarted {
            cluster,
            revision,
            rollback,
            ..
        } if clusters => {
            if *rollback {
                format!("  {cluster}: rolling back to {revision}")
            } else {
                format!("  {cluster}: syncing {revision}")
            }
        }
        Event::ClusterHealthy { cluster, .. } if clusters => format!("  {cluster}: healthy"),
        Event::ClusterBaked { cluster, .. } if clusters => format!("  {cluster}: baked"),
        Event::ClusterFailed {
            stage,
            cluster,
            reason,
            ..
        } => format!("  {cluster} failed in `{stage}`: {reason}"),
        Event::ClusterRequeued {
            cluster,
            attempt,
            next_check,
            ..
        } if clusters => format!(
            "  {cluster}: requeued (check {} at {})",
            attempt + 1,
            next_check.strftime("%H:%M:%S")
        ),
        Event::ClusterJoined { cluster, stage, .. } => match stage {
            Some(s) => format!("{cluster} joined the fleet: stage `{s}` will update it"),
            None => format!("{cluster} joined the fleet: not part of this run"),
        },
        Event::ClusterLeft { cluster, .. } => format!("{cluster} left the fleet"),
        Event::BakeStarted { stage, until } => format!(
            "stage `{stage}` baking until {}",
            until.strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
        Event::BakeFinished { stage } => {
            // Recorded for every stage; worth a line only when there was a bake.
            let st = run.rollout.stages.iter().find(|s| s.name == *stage)?;
            if st.bake_seconds == 0 || run.full {
                return None;
            }
            format!("stage `{stage}`: bake done")
        }
        Event::GateStarted {
            stage,
            gate,
            gate_kind,
        } => format!("stage `{stage}`: {gate_kind} gate {} started", gate + 1),
        Event::GateChecked {
            stage,
            gate,
            value,
            error,
            ..
        } => match (value, error) {
            (_, Some(e)) => format!("stage `{stage}`: gate {} request failed: {e}", gate + 1),
            (Some(v), None) if clusters => {
                format!("stage `{stage}`: gate {} sample {v}", gate + 1)
            }
            _ => return None,
        },
        Event::GatePassed { stage, gate, by } => match by {
            Some(by) => format!("stage `{stage}`: gate {} passed ({by})", gate + 1),
            None => format!("stage `{stage}`: gate {} passed", gate + 1),
        },
        Event::GateFailed {
            stage,
            gate,
            reason,
        } => format!("stage `{stage}`: gate {} failed: {reason}", gate + 1),
        Event::StageCompleted {
            stage,
            done,
            failed,
        } => format!(
            "stage `{stage}` completed: {done}/{} updated{}",
            stage_total(stage),
            if *failed > 0 {
                format!(", {failed} failed within tolerance")
            } else {
                String::new()
            }
        ),
        Event::StageFailed {
            stage,
            reason,
            policy,
        } => format!("stage `{stage}` failed: {reason} (on failure {policy})"),
        Event::Paused { reason, detail, .. } => match detail {
            Some(d) => format!("paused ({reason}): {d}"),
            None => format!("paused ({reason})"),
        },
        Event::Resumed { by } => format!("resumed by {by}"),
        Event::Promoted { by, full } => {
            format!("promoted{} by {by}", if *full { " fully" } else { "" })
        }
        Event::Retried { by, clusters } => {
            format!("retry by {by}: {} failed clusters again", clusters.len())
        }
        Event::RollbackStarted { clusters } => {
            format!("rollback started: {clusters} clusters back to their previous revision")
        }
        Event::RollbackFinished { done, failed } => {
            format!("rollback finished: {done} rolled back, {failed} failed")
        }
        Event::RevisionDetected { revision, policy } => {
            format!("new revision {revision} detected (on new revision {policy})")
        }
        Event::OperatorRequest {
            command,
            by,
            accepted,
            message,
            ..
        } => {
            if *accepted {
                format!("`rollc {command}` from {by}: {message}")
            } else {
                format!("`rollc {command}` from {by} refused: {message}")
            }
        }
        Event::RunSucceeded {} => format!("run {} succeeded", run.id),
        Event::RunFailed { reason } => format!("run {} failed: {reason}", run.id),
        Event::RunAborted { by } => format!("run {} aborted by {by}", run.id),
        _ => return None,
    })
}

/// Progress bars on a terminal: one per stage (clusters done of total, in flight, failed,
/// and the current bake or gate), with an estimate of the time left.
pub struct Bars {
    multi: MultiProgress,
    bars: Vec<ProgressBar>,
    log: ProgressBar,
    /// Syncs started and not yet healthy, by cluster: when they started.
    started: std::collections::HashMap<String, jiff::Timestamp>,
    /// Observed sync durations: (count, total seconds).
    syncs: (u64, f64),
}

impl Bars {
    /// Bars drawn on stderr.
    pub fn new() -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let log = multi.add(ProgressBar::new_spinner());
        log.set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));
        Bars {
            multi,
            bars: Vec::new(),
            log,
            started: Default::default(),
            syncs: (0, 0.0),
        }
    }

    fn ensure(&mut self, run: &Run) {
        let style = ProgressStyle::with_template(
            "{prefix:>24} [{bar:30.green/blue}] {pos:>5}/{len:<5} {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> ");
        while self.bars.len() < run.stages.len() {
            let s = &run.stages[self.bars.len()];
            let bar = self.multi.add(ProgressBar::new(s.clusters.len() as u64));
            bar.set_style(style.clone());
            bar.set_prefix(truncate(&s.name, 24));
            self.bars.push(bar);
        }
    }
}

impl Default for Bars {
    fn default() -> Bars {
        Bars::new()
    }
}

fn truncate(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

impl Observer for Bars {
    fn notice(&mut self, time: jiff::Timestamp, text: &str) {
        let time = time.strftime("%H:%M:%S");
        self.multi.suspend(|| eprintln!("{time}  note: {text}"));
    }

    fn records(&mut self, records: &[Record], run: &Run) {
        self.ensure(run);
        for r in records {
            match &r.event {
                Event::ClusterSyncStarted { cluster, .. } => {
                    self.started.insert(cluster.clone(), r.time);
                }
                Event::ClusterHealthy { cluster, .. } => {
                    if let Some(t) = self.started.remove(cluster) {
                        self.syncs.0 += 1;
                        self.syncs.1 += r.time.duration_since(t).as_secs_f64();
                    }
                }
                _ => {}
            }
        }
        for r in records {
            if matches!(
                r.event,
                Event::StageStarted { .. }
                    | Event::StageCompleted { .. }
                    | Event::StageFailed { .. }
                    | Event::Paused { .. }
                    | Event::RunSucceeded {}
                    | Event::RunFailed { .. }
                    | Event::RunAborted { .. }
                    | Event::RollbackStarted { .. }
                    | Event::GateFailed { .. }
                    | Event::ClusterFailed { .. }
            ) && let Some(text) = describe(&r.event, run, false)
            {
                let time = r.time.strftime("%H:%M:%S");
                self.multi.suspend(|| eprintln!("{time}  {text}"));
            }
        }
        for (bar, st) in self.bars.iter().zip(&run.stages) {
            bar.set_length(st.clusters.len() as u64);
            bar.set_position(st.done + st.failed + st.left);
            let what = match &st.state {
                StageState::Waiting => "waiting".to_string(),
                StageState::Rolling => format!("{} in flight, {} failed", st.in_flight, st.failed),
                StageState::Baking { until } => {
                    format!("baking until {}", until.strftime("%H:%M:%S"))
                }
                StageState::Gates(g) => format!("gate {}", g.index + 1),
                StageState::Completed => "completed".to_string(),
                StageState::Failed { .. } => "failed".to_string(),
            };
            bar.set_message(what);
        }
        if let Some(t) = run.last_time {
            let state = run.phase_name();
            let sync = if self.syncs.0 > 0 {
                self.syncs.1 / self.syncs.0 as f64
            } else {
                crate::plan::DEFAULT_SYNC_SECONDS as f64
            };
            let eta = remaining_seconds(run, sync)
                .map(|s| {
                    let end = t + jiff::SignedDuration::from_secs(s as i64);
                    format!(", ETA {} (run time)", end.strftime("%Y-%m-%d %H:%M"))
                })
                .unwrap_or_default();
            self.log.set_message(format!(
                "run {} {state} at {}{eta}",
                run.id,
                t.strftime("%H:%M:%S")
            ));
        }
    }
}

/// A rough estimate of the run time left, as the plan estimates (waves of `batch` taking
/// `sync` seconds plus `bake each`, bakes, metric windows), from where the run is. Operator
/// time (approvals, pauses) is not counted.
fn remaining_seconds(run: &Run, sync: f64) -> Option<u64> {
    if run.phase.is_terminal() {
        return None;
    }
    let mut total = 0.0;
    for (st, stage) in run.stages.iter().zip(&run.rollout.stages).skip(run.current) {
        let windows: u64 = stage
            .gates
            .iter()
            .map(|g| match g {
                crate::ir::Gate::Metric { window_seconds, .. } => *window_seconds,
                _ => 0,
            })
            .sum();
        let left = (st.clusters.len() as u64).saturating_sub(st.done + st.failed + st.left);
        let waves = left.div_ceil(st.batch.max(1));
        let per_wave = sync + stage.bake_each_seconds as f64;
        total += match &st.state {
            StageState::Waiting | StageState::Rolling => {
                waves as f64 * per_wave + (stage.bake_seconds + windows) as f64
            }
            StageState::Baking { until } => {
                until.duration_since(run.last_time?).as_secs_f64().max(0.0) + windows as f64
            }
            StageState::Gates(_) => windows as f64,
            StageState::Completed | StageState::Failed { .. } => 0.0,
        };
    }
    Some(total as u64)
}

impl Drop for Bars {
    fn drop(&mut self) {
        for bar in &self.bars {
            bar.abandon();
        }
        self.log.finish_and_clear();
    }
}
