//! `rollc export`: a strategy in another tool's format.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Arguments of `rollc export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The target format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The `.rollout` file.
    pub file: PathBuf,
}

/// Formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// An ApplicationSet `spec.strategy` with `type: RollingSync`.
    Rollingsync,
}

pub(super) fn run(_args: &ExportArgs, _color: bool, _stderr_color: bool) -> u8 {
    eprintln!("error: `rollc export` is being written");
    super::EXIT_USAGE
}
