//! `rollc compile`: a strategy file to its IR.

use std::path::PathBuf;

use clap::Args;

/// Arguments of `rollc compile`.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The `.rollout` file.
    pub file: PathBuf,
    /// Write the IR here instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

pub(super) fn run(_args: &CompileArgs, _color: bool, _stderr_color: bool) -> u8 {
    eprintln!("error: `rollc compile` is being written");
    super::EXIT_USAGE
}
