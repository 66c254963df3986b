//! `rollc import`: YAML rollout specs of other tools to `.rollout` source.

use std::path::PathBuf;

use clap::Args;

/// Arguments of `rollc import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A ProgressiveRollout or an ApplicationSet with `spec.strategy.rollingSync` (YAML).
    pub file: PathBuf,
    /// Write the `.rollout` source here instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

pub(super) fn run(_args: &ImportArgs, _color: bool, _stderr_color: bool) -> u8 {
    eprintln!("error: `rollc import` is being written");
    super::EXIT_USAGE
}
