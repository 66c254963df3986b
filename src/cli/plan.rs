//! `rollc plan`: a strategy bound to a fleet, printed as a table, JSON or a Mermaid Gantt
//! chart, or compared with an earlier JSON plan (`--diff`).
//!
//! Exit codes: 0 with a plan (or a diff); 1 when the strategy, the fleet, the IR or the
//! old plan has errors (printed on stderr like `check` does); 2 for unreadable files and
//! bad arguments.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::{CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, report};
use crate::diagnostics::{Diagnostic, Severity, render};
use crate::fleet::Fleet;
use crate::ir;
use crate::plan::{self, Options, Plan};
use crate::source::SourceMap;

/// Arguments of `rollc plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A `.rollout` file or a compiled IR (`.json`).
    pub file: PathBuf,
    /// The fleet: a fleet file (YAML/JSON), a list of Argo CD cluster Secrets, or `argocd`
    /// for the live fleet of Argo CD (`--kubeconfig`, `--context`, `--namespace`).
    #[arg(long, value_name = "FILE")]
    pub fleet: PathBuf,
    #[command(flatten)]
    pub kube: super::apply::KubeArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = PlanOutput::Table)]
    pub output: PlanOutput,
    /// How long every sync is assumed to take, for the waves' timing and the estimate
    /// (a duration such as `5m` or `1h30m`).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub sync_time: u64,
    /// Compare with an earlier `rollc plan --output json` and show which clusters moved
    /// (as text, or as JSON with `--output json`).
    #[arg(long, value_name = "OLD_PLAN")]
    pub diff: Option<PathBuf>,
}

/// How `plan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanOutput {
    /// A table for people.
    Table,
    /// JSON for tools, and the input of `--diff`.
    Json,
    /// A Mermaid Gantt chart for pull requests.
    Mermaid,
}

/// `--sync-time`: a duration as the language writes it, in seconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    match crate::syntax::literal::classify_number(text.trim()) {
        Ok(crate::ast::ExprKind::Duration(secs)) => Ok(secs),
        Ok(_) => Err(format!(
            "`{text}` has no unit; write a duration such as `90s`, `5m` or `1h30m`"
        )),
        Err(err) => Err(err.message),
    }
}

/// Problems of `plan`'s inputs that are not source diagnostics.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
enum PlanError {
    /// A `.json` strategy that is not a readable IR.
    #[error("`{path}` is not a strategy IR rollc can read: {source}")]
    #[diagnostic(
        code(rollc::plan::ir),
        help("write it with `rollc compile FILE -o OUT`, or pass the `.rollout` source")
    )]
    Ir {
        /// The file.
        path: String,
        /// Why.
        source: ir::ReadError,
    },
    /// `--diff` got a file that is not a JSON plan.
    #[error("`{path}` is not a plan from `rollc plan --output json`: {message}")]
    #[diagnostic(
        code(rollc::plan::diff),
        help("write the old plan with `rollc plan FILE --fleet F --output json > OLD.json`")
    )]
    OldPlan {
        /// The file.
        path: String,
        /// serde's description.
        message: String,
    },
    /// `--diff` with `--output mermaid`.
    #[error("`--diff` prints text or JSON, not `mermaid`")]
    #[diagnostic(
        code(rollc::usage),
        help("use `--output table` (the default) or `--output json` with `--diff`")
    )]
    DiffAsMermaid,
}

/// Why `run` stops early: the exit code, the problem already reported.
pub(super) struct Stop(pub(super) u8);

pub(super) fn read(path: &Path, color: bool) -> Result<String, Stop> {
    // Refuse directories and the like up front: reading one gives an OS error that names
    // no file.
    let bytes = match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "is a directory",
        )),
        Ok(_) => std::fs::read(path),
        Err(err) => Err(err),
    };
    match bytes {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(source) => {
            report(
                CliError::Read {
                    path: path.display().to_string(),
                    source,
                },
                color,
            );
            Err(Stop(EXIT_USAGE))
        }
    }
}

/// Prints `diagnostics` on stderr with a summary, as `check` prints them.
fn print_diagnostics(diagnostics: &[Diagnostic], sources: &SourceMap, color: bool) {
    let mut text = render::human(diagnostics, sources, color);
    if let Some(summary) = render::summary(diagnostics) {
        text.push_str(&summary);
        text.push('\n');
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// The strategy: a checked and compiled `.rollout` file, or an IR read back. Warnings of a
/// `.rollout` file go to stderr; errors stop with exit code 1.
pub(super) fn strategy(
    path: &Path,
    sources: &mut SourceMap,
    color: bool,
) -> Result<ir::Strategy, Stop> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let text = read(path, color)?;
        return ir::Strategy::from_json(&text).map_err(|source| {
            report(
                PlanError::Ir {
                    path: path.display().to_string(),
                    source,
                },
                color,
            );
            Stop(EXIT_FAILED)
        });
    }
    let checked = super::check_file(path, color).map_err(Stop)?;
    *sources = checked.sources;
    let errors = checked.diagnostics.iter().any(Diagnostic::is_error);
    // Notes are for `check`; warnings are worth seeing before a rollout.
    let shown: Vec<Diagnostic> = checked
        .diagnostics
        .into_iter()
        .filter(|d| errors || d.severity == Severity::Warning)
        .collect();
    if !shown.is_empty() {
        print_diagnostics(&shown, sources, color);
    }
    if errors {
        return Err(Stop(EXIT_FAILED));
    }
    let program = checked
        .programs
        .into_iter()
        .next()
        .flatten()
        .expect("a readable root has a program");
    Ok(ir::compile(&program, &path.display().to_string()))
}

pub(super) fn fleet(path: &Path, sources: &mut SourceMap, color: bool) -> Result<Fleet, Stop> {
    let text = read(path, color)?;
    let file = sources.add(path.display().to_string(), text);
    crate::fleet::parse(file, sources.get(file).text()).map_err(|errors| {
        print_diagnostics(&errors, sources, color);
        Stop(EXIT_FAILED)
    })
}

fn old_plan(path: &Path, color: bool) -> Result<Plan, Stop> {
    let text = read(path, color)?;
    serde_json::from_str(&text).map_err(|e| {
        report(
            PlanError::OldPlan {
                path: path.display().to_string(),
                message: e.to_string(),
            },
            color,
        );
        Stop(EXIT_FAILED)
    })
}

fn output(args: &PlanArgs, stderr_color: bool) -> Result<String, Stop> {
    if args.diff.is_some() && args.output == PlanOutput::Mermaid {
        report(PlanError::DiffAsMermaid, stderr_color);
        return Err(Stop(EXIT_USAGE));
    }
    let mut sources = SourceMap::new();
    let strategy = strategy(&args.file, &mut sources, stderr_color)?;
    let options = Options {
        sync_time_seconds: args.sync_time,
    };
    let plan = if args.fleet.as_os_str() == "argocd" {
        live_plan(&strategy, args, options, stderr_color)?
    } else {
        let fleet = fleet(&args.fleet, &mut sources, stderr_color)?;
        plan::plan_with(&strategy, &fleet, options)
    };
    if let Some(old) = &args.diff {
        let old = old_plan(old, stderr_color)?;
        let diff = plan::diff(&old, &plan);
        return Ok(match args.output {
            PlanOutput::Json => json(&diff),
            _ => plan::render::diff_text(&diff),
        });
    }
    Ok(match args.output {
        PlanOutput::Table => plan::render::table(&plan),
        PlanOutput::Json => json(&plan),
        PlanOutput::Mermaid => plan::render::mermaid(&plan),
    })
}

/// The plan on Argo CD's live fleet: each rollout bound to the clusters of its own target
/// Applications, with a warning for every target Application Argo CD auto-syncs (`apply`
/// would refuse to start).
fn live_plan(
    strategy: &ir::Strategy,
    args: &PlanArgs,
    options: Options,
    stderr_color: bool,
) -> Result<Plan, Stop> {
    use crate::backends::argocd::{ArgoCd, ArgoCdOptions};
    let result = super::apply::block_on(async {
        let mut rollouts = Vec::new();
        let mut fleet_clusters = 0;
        for rollout in &strategy.rollouts {
            let mut argocd = ArgoCd::connect(&ArgoCdOptions {
                kubeconfig: args.kube.kubeconfig.clone(),
                context: args.kube.context.clone(),
                namespace: args.kube.namespace.clone(),
                target: rollout.target.clone(),
            })
            .await?;
            let autosync = argocd.autosync_apps();
            if !autosync.is_empty() {
                eprintln!(
                    "warning: rollout `{}`: Argo CD auto-syncs {} of its target Applications ({}); `rollc apply` refuses to start until autosync is off (docs/runtime.md#argo-cd)",
                    rollout.name,
                    autosync.len(),
                    autosync
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let fleet = Fleet::new(argocd.clusters());
            fleet_clusters = fleet_clusters.max(fleet.clusters.len() as u64);
            rollouts.push(plan::plan_rollout(rollout, &fleet, options));
        }
        Ok::<_, crate::backends::argocd::ArgoCdError>(Plan {
            sync_time_seconds: options.sync_time_seconds,
            fleet_clusters,
            rollouts,
        })
    });
    result.map_err(|e| {
        report(e, stderr_color);
        Stop(EXIT_USAGE)
    })
}

fn json(value: &impl serde::Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("plans serialise infallibly");
    text.push('\n');
    text
}

pub(super) fn run(args: &PlanArgs, _color: bool, stderr_color: bool) -> u8 {
    let text = match output(args, stderr_color) {
        Ok(text) => text,
        Err(Stop(code)) => return code,
    };
    if let Err(err) = std::io::stdout().lock().write_all(text.as_bytes()) {
        report(CliError::Write(err), stderr_color);
        return EXIT_USAGE;
    }
    EXIT_OK
}
