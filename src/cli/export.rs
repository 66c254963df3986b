//! `rollc export`: a strategy in another tool's format.
//!
//! The file is checked first (an export of a strategy with errors would be meaningless);
//! then the export goes to standard output and its diagnostics, one per feature the format
//! cannot express, to standard error. Exit 0 when every stage was exported (even with
//! warnings), 1 when a stage could not be expressed at all (the rest is still printed) or the
//! file has errors, 2 when it cannot be read.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, report};
use crate::diagnostics::{Diagnostic, render};

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

pub(super) fn run(args: &ExportArgs, _color: bool, stderr_color: bool) -> u8 {
    let checked = match super::check_file(&args.file, stderr_color) {
        Ok(checked) => checked,
        Err(code) => return code,
    };
    let errors: Vec<Diagnostic> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    if !errors.is_empty() {
        let mut text = render::human(&errors, &checked.sources, stderr_color);
        if let Some(summary) = render::summary(&errors) {
            text.push_str(&summary);
            text.push('\n');
        }
        text.push_str("error: the strategy has errors: fix them, then export\n");
        let _ = std::io::stderr().write_all(text.as_bytes());
        return EXIT_FAILED;
    }
    let Some(program) = checked.programs.first().and_then(Option::as_ref) else {
        return EXIT_USAGE;
    };
    // The root is the first file the checker read.
    let file = checked
        .sources
        .iter()
        .map(|(id, _)| id)
        .next()
        .unwrap_or(crate::source::FileId(0));
    let exported = match args.format {
        ExportFormat::Rollingsync => {
            crate::export::rollingsync(program, file, &args.file.display().to_string())
        }
    };
    if let Err(err) = std::io::stdout().lock().write_all(exported.text.as_bytes()) {
        report(CliError::Write(err), stderr_color);
        return EXIT_USAGE;
    }
    let mut text = render::human(&exported.diagnostics, &checked.sources, stderr_color);
    if let Some(summary) = render::summary(&exported.diagnostics) {
        text.push_str(&summary);
        text.push('\n');
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
    if exported.complete() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
