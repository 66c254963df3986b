//! `rollc import`: YAML rollout specs of other tools to `.rollout` source.
//!
//! The source goes to standard output (or `-o OUT`), diagnostics about the input to standard
//! error. Before anything is written, the generated source is checked in memory with the
//! real checker: an import that does not check is a bug in the importer, reported as an
//! internal error instead of handing the user a broken file.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, report};
use crate::diagnostics::{Diagnostic, render};
use crate::source::SourceMap;

/// Arguments of `rollc import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A ProgressiveRollout or an ApplicationSet with `spec.strategy.rollingSync` (YAML).
    pub file: PathBuf,
    /// Write the `.rollout` source here instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

/// The importer produced source that does not check: a bug, never the input's fault.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("internal error: the source imported from `{input}` does not check")]
#[diagnostic(
    code(rollc::internal),
    help("this is a bug in `rollc import`; please report it with the input file")
)]
struct InternalError {
    input: String,
}

pub(super) fn run(args: &ImportArgs, _color: bool, stderr_color: bool) -> u8 {
    let input = args.file.display().to_string();
    let bytes = match read(&args.file) {
        Ok(bytes) => bytes,
        Err(source) => {
            report(
                CliError::Read {
                    path: input,
                    source,
                },
                stderr_color,
            );
            return EXIT_USAGE;
        }
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let mut sources = SourceMap::new();
    let file = sources.add(input.clone(), text);
    if let Err(err) = std::str::from_utf8(&bytes) {
        // YAML is UTF-8 here (as Kubernetes writes it): nothing sensible comes of the rest.
        let diag = crate::resolve::not_utf8(file, err.valid_up_to(), err.error_len().unwrap_or(1))
            .with_help("save the file as UTF-8");
        let mut text = render::human(&[diag], &sources, stderr_color);
        text.push_str("error: 1 error emitted\n");
        let _ = std::io::stderr().write_all(text.as_bytes());
        return EXIT_FAILED;
    }
    let imported = crate::import::import(file, sources.get(file).text(), &input);
    let diagnostics = imported.diagnostics;

    let mut failed = imported.source.is_none() || diagnostics.iter().any(Diagnostic::is_error);
    let mut check_text = String::new();
    let mut check_diagnostics = Vec::new();
    if let Some(source) = &imported.source {
        let name = args
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from("imported.rollout"));
        let checked = crate::import::verify(source, &name);
        if checked.diagnostics.iter().any(Diagnostic::is_error) {
            let mut text = render::human(&checked.diagnostics, &checked.sources, stderr_color);
            text.push_str(&render_input(&diagnostics, &sources, stderr_color));
            let _ = std::io::stderr().write_all(text.as_bytes());
            report_internal(&InternalError { input }, stderr_color);
            return EXIT_FAILED;
        }
        // Warnings about the imported strategy itself (an overlap, a requeue that matches a
        // whole stage) are worth seeing: they point into the generated source.
        check_text = render::human(&checked.diagnostics, &checked.sources, stderr_color);
        check_diagnostics = checked.diagnostics;
        let written = match &args.output {
            Some(path) => std::fs::write(path, source).map_err(CliError::Write),
            None => std::io::stdout()
                .lock()
                .write_all(source.as_bytes())
                .map_err(CliError::Write),
        };
        if let Err(err) = written {
            report(err, stderr_color);
            return EXIT_USAGE;
        }
    }

    let mut text = render_input(&diagnostics, &sources, stderr_color);
    text.push_str(&check_text);
    if let Some(summary) = render::summary(&[diagnostics, check_diagnostics].concat()) {
        text.push_str(&summary);
        text.push('\n');
    }
    if let (Some(_), Some(path)) = (&imported.source, &args.output) {
        let n = imported.rollouts.len();
        text.push_str(&format!(
            "wrote {n} rollout{} to `{}`\n",
            if n == 1 { "" } else { "s" },
            path.display()
        ));
    }
    if std::io::stderr().write_all(text.as_bytes()).is_err() {
        failed = true;
    }
    if failed { EXIT_FAILED } else { EXIT_OK }
}

/// Diagnostics about the YAML input.
fn render_input(diagnostics: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    render::human(diagnostics, sources, color)
}

/// Reads a regular file (not a FIFO or a device, which could block forever).
fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    crate::resolve::SourceProvider::read(&crate::resolve::FileSystem, path)
}

/// Prints the internal error with miette, as [`report`] prints a [`CliError`].
fn report_internal(error: &InternalError, color: bool) {
    let theme = if color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let mut out = String::new();
    if miette::GraphicalReportHandler::new_themed(theme)
        .render_report(&mut out, error)
        .is_err()
    {
        out = format!("error: {error}\n");
    }
    let _ = std::io::stderr().write_all(out.as_bytes());
}
