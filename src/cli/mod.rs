//! The `rollc` command line: argument parsing, loading files, and choosing renderers.
//!
//! Source diagnostics are data rendered by [`crate::diagnostics::render`]; the CLI's own
//! problems (unreadable files, bad arguments) are [`CliError`]s reported through miette.

mod apply;
mod check;
mod compile;
mod doc;
mod explain;
mod export;
mod import;
mod operate;
mod plan;
mod progress;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

pub use apply::{KubeArgs, StoreArgs, StoreKind};
pub use check::CheckArgs;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the input has errors (or warnings under `--deny-warnings`).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage or an I/O problem.
pub const EXIT_USAGE: u8 = 2;

/// Compile, check, plan and run fleet-wide Argo CD rollout strategies.
#[derive(Debug, Parser)]
#[command(name = "rollc", version, about, propagate_version = true)]
pub struct Cli {
    /// When to colour output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check `.rollout` files for syntax and semantic errors.
    Check(CheckArgs),
    /// Compile a strategy to its IR (JSON), the artifact `apply` executes.
    Compile(compile::CompileArgs),
    /// Show the plan of a strategy for a fleet: which clusters each stage takes, in which
    /// waves, with counts after rounding.
    Plan(plan::PlanArgs),
    /// Run a strategy on a fleet (or resume its unfinished run), showing progress.
    Apply(apply::ApplyArgs),
    /// Show where the latest run is: each stage's clusters, gates and bakes.
    Status(operate::StatusArgs),
    /// Pass the current approval gate, hold or pause (`--full`: every later bake, approval
    /// and hold too; health is never skipped).
    Promote {
        /// Skip every later bake, approval gate and hold as well.
        #[arg(long)]
        full: bool,
        #[command(flatten)]
        args: operate::SteerArgs,
    },
    /// Stop starting clusters, bakes and gates until `rollc resume`.
    Pause(operate::RunArgs),
    /// Continue a paused run (accepting the failures that paused it).
    Resume(operate::SteerArgs),
    /// Stop the run and leave every cluster as it is.
    Abort(operate::RunArgs),
    /// Sync the current stage's failed clusters again and continue a failed, aborted or
    /// paused run.
    Retry(operate::SteerArgs),
    /// Roll the fleet back to the revision it ran before the run, under the same strategy.
    Undo(operate::UndoArgs),
    /// Convert a ProgressiveRollout or an ApplicationSet's RollingSync strategy (YAML) to
    /// `.rollout` source.
    Import(import::ImportArgs),
    /// Export a strategy to another tool's format where it can be expressed.
    Export(export::ExportArgs),
    /// Show the documentation of a stdlib module (`std/rings`) or a local file; without an
    /// argument, list the stdlib modules.
    Doc {
        /// `std/NAME` or a path to a `.rollout` file.
        module: Option<String>,
    },
    /// Print the long explanation of a diagnostic code, e.g. `rollc explain R0005`.
    Explain {
        /// The code (`R0005`); `--list` shows every code instead.
        code: Option<String>,
        /// List every code with its title.
        #[arg(long, conflicts_with = "code")]
        list: bool,
    },
}

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour output written to stdout.
    pub fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
            }
        }
    }
}

/// Errors of the CLI itself, as opposed to diagnostics about the sources it reads.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CliError {
    /// A path given on the command line does not exist or cannot be read.
    #[error("cannot read `{path}`")]
    #[diagnostic(
        code(rollc::io),
        help("check that the path exists and that you may read it")
    )]
    Read {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A directory held no `.rollout` files.
    #[error("no `.rollout` files found in `{path}`")]
    #[diagnostic(
        code(rollc::no_input),
        help("pass `.rollout` files or a directory that contains them")
    )]
    NoInput {
        /// The directory.
        path: String,
    },
    /// `rollc explain` got a code (or `rollc doc` a module) that does not exist.
    #[error("unknown diagnostic code or module `{code}`")]
    #[diagnostic(code(rollc::unknown_code), help("{help}"))]
    UnknownCode {
        /// What was asked for.
        code: String,
        /// A suggestion or the list command.
        help: String,
    },
    /// Writing output failed (e.g. a closed pipe).
    #[error("cannot write output: {0}")]
    #[diagnostic(code(rollc::io))]
    Write(#[from] std::io::Error),
}

/// Prints a CLI error to stderr with miette.
pub fn report(error: impl miette::Diagnostic, color: bool) {
    let handler = if color {
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode())
    } else {
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
    };
    let mut out = String::new();
    if handler.render_report(&mut out, &error).is_err() {
        out = format!("error: {error}\n");
    }
    let _ = std::io::stderr().write_all(out.as_bytes());
}

/// Checks one file from the file system, as `compile`, `plan` and `export` start. When the
/// file cannot be read, the error is reported and `Err` carries the exit code.
pub(crate) fn check_file(
    path: &std::path::Path,
    stderr_color: bool,
) -> Result<crate::check::Checked, u8> {
    let mut checked = crate::check::check(
        &crate::resolve::FileSystem,
        &[crate::check::Root::file(path)],
    );
    if let Some((path, source)) = checked.unreadable.pop() {
        report(
            CliError::Read {
                path: path.display().to_string(),
                source,
            },
            stderr_color,
        );
        return Err(EXIT_USAGE);
    }
    Ok(checked)
}

/// Runs the CLI with the process arguments and returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            });
        }
    };
    let color = cli.color.enabled();
    let stderr_color = match cli.color {
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
        }
        other => other.enabled(),
    };
    let code = match cli.command {
        Command::Check(args) => check::run(&args, color, stderr_color),
        Command::Explain { code, list } => explain::run(code.as_deref(), list, stderr_color),
        Command::Doc { module } => doc::run(module.as_deref(), stderr_color),
        Command::Compile(args) => compile::run(&args, color, stderr_color),
        Command::Plan(args) => plan::run(&args, color, stderr_color),
        Command::Import(args) => import::run(&args, color, stderr_color),
        Command::Export(args) => export::run(&args, color, stderr_color),
        Command::Apply(args) => apply::run(&args, stderr_color),
        Command::Status(args) => operate::status(&args, stderr_color),
        Command::Promote { full, args } => operate::request_and_drive(
            if full {
                crate::store::IntentKind::PromoteFull
            } else {
                crate::store::IntentKind::Promote
            },
            &args,
            stderr_color,
        ),
        Command::Pause(args) => {
            operate::request_only(crate::store::IntentKind::Pause, &args, stderr_color)
        }
        Command::Resume(args) => {
            operate::request_and_drive(crate::store::IntentKind::Resume, &args, stderr_color)
        }
        Command::Abort(args) => {
            operate::request_only(crate::store::IntentKind::Abort, &args, stderr_color)
        }
        Command::Retry(args) => {
            operate::request_and_drive(crate::store::IntentKind::Retry, &args, stderr_color)
        }
        Command::Undo(args) => operate::undo(&args, stderr_color),
    };
    ExitCode::from(code)
}
