//! `rollc compile`: a strategy file to its IR.
//!
//! The file is checked exactly as `rollc check FILE` would check it; diagnostics go to stderr
//! (stdout may be the IR) and only errors stop compilation. The IR is written only after a
//! clean check, so a failed compile never leaves a partial or stale-looking artifact behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, report};
use crate::diagnostics::render;

/// Arguments of `rollc compile`.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// The `.rollout` file.
    pub file: PathBuf,
    /// Write the IR here instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

/// Why the IR could not be written to `-o OUT`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
enum OutputError {
    /// The directory OUT would go in does not exist; named so the fix is obvious.
    #[error("cannot write `{path}`: directory `{dir}` does not exist")]
    #[diagnostic(
        code(rollc::io),
        help("create the directory first, or choose an output path in an existing one")
    )]
    MissingDir {
        /// OUT as given.
        path: String,
        /// Its parent.
        dir: String,
    },
    /// Any other failure to write OUT.
    #[error("cannot write `{path}`")]
    #[diagnostic(code(rollc::io))]
    Write {
        /// OUT as given.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// `_color` is unused: stdout carries JSON, which is never coloured.
pub(super) fn run(args: &CompileArgs, _color: bool, stderr_color: bool) -> u8 {
    let checked = match super::check_file(&args.file, stderr_color) {
        Ok(checked) => checked,
        Err(code) => return code,
    };

    // Diagnostics go to stderr whatever happens next: warnings are worth seeing even when
    // the IR is written.
    let diagnostics = &checked.diagnostics;
    if !diagnostics.is_empty() {
        let mut text = render::human(diagnostics, &checked.sources, stderr_color);
        if let Some(summary) = render::summary(diagnostics) {
            text.push_str(&summary);
            text.push('\n');
        }
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
    if diagnostics.iter().any(|d| d.is_error()) {
        return EXIT_FAILED;
    }
    let Some(Some(program)) = checked.programs.first() else {
        // A readable root always has a program; this is only reachable through a bug.
        unreachable!("a readable file has a checked program");
    };

    // `source` is the path as given, never made absolute, so the output depends only on
    // the input and not on where rollc runs.
    let strategy = crate::ir::compile(program, &args.file.display().to_string());
    let json = strategy.to_json();
    match &args.output {
        Some(out) => match write_file(out, &json) {
            Ok(()) => EXIT_OK,
            Err(err) => {
                report(err, stderr_color);
                EXIT_USAGE
            }
        },
        None => match std::io::stdout().lock().write_all(json.as_bytes()) {
            Ok(()) => EXIT_OK,
            Err(err) => {
                report(CliError::Write(err), stderr_color);
                EXIT_USAGE
            }
        },
    }
}

/// Writes `text` to `path`, naming a missing parent directory rather than passing on the
/// bare "No such file or directory", which does not say which part of the path is missing.
fn write_file(path: &Path, text: &str) -> Result<(), OutputError> {
    let shown = path.display().to_string();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        return Err(OutputError::MissingDir {
            path: shown,
            dir: dir.display().to_string(),
        });
    }
    std::fs::write(path, text).map_err(|source| OutputError::Write {
        path: shown,
        source,
    })
}
