//! `rollc plan`: a strategy bound to a fleet.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Arguments of `rollc plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A `.rollout` file or a compiled IR (`.json`).
    pub file: PathBuf,
    /// The fleet: a fleet file (YAML/JSON) or a list of Argo CD cluster Secrets.
    #[arg(long, value_name = "FILE")]
    pub fleet: PathBuf,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = PlanOutput::Table)]
    pub output: PlanOutput,
    /// Compare with an earlier `rollc plan --output json` and show which clusters moved.
    #[arg(long, value_name = "OLD_PLAN")]
    pub diff: Option<PathBuf>,
}

/// How `plan` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanOutput {
    /// A table for people.
    Table,
    /// JSON for tools (and for `--diff` later).
    Json,
    /// A Mermaid Gantt chart for pull requests.
    Mermaid,
}

pub(super) fn run(_args: &PlanArgs, _color: bool, _stderr_color: bool) -> u8 {
    eprintln!("error: `rollc plan` is being written");
    super::EXIT_USAGE
}
