//! `rollc check`: parse every given `.rollout` file and report diagnostics.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::{CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, report};
use crate::diagnostics::{Code, Diagnostic, Severity, render};
use crate::source::{FileId, MAX_SOURCE_LEN, SourceMap, Span};
use crate::syntax;

/// Arguments of `rollc check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or directories (searched recursively for `*.rollout`). Default: the current
    /// directory.
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat warnings as errors for the exit code.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// How `check` prints diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Source snippets for people.
    Human,
    /// A JSON array of diagnostics.
    Json,
    /// GitHub Actions workflow commands (annotations).
    Github,
    /// SARIF 2.1.0 for code scanning.
    Sarif,
}

pub(super) fn run(args: &CheckArgs, color: bool, stderr_color: bool) -> u8 {
    let mut io_failed = false;
    let roots = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    for root in &roots {
        match collect(root, &mut files) {
            Ok(0) if root.is_dir() => {
                report(
                    CliError::NoInput {
                        path: root.display().to_string(),
                    },
                    stderr_color,
                );
                io_failed = true;
            }
            Ok(_) => {}
            Err(err) => {
                report(err, stderr_color);
                io_failed = true;
            }
        }
    }

    let mut sources = SourceMap::new();
    let mut diagnostics = Vec::new();
    for path in &files {
        match load(path, &mut sources) {
            Ok((id, problem)) => match problem {
                Some(diag) => diagnostics.push(diag),
                None => {
                    let parsed = syntax::parse(id, sources.get(id).text());
                    diagnostics.extend(parsed.diagnostics);
                }
            },
            Err(err) => {
                report(err, stderr_color);
                io_failed = true;
            }
        }
    }

    let text = match args.format {
        Format::Human => {
            let mut text = render::human(&diagnostics, &sources, color);
            match render::summary(&diagnostics) {
                Some(summary) => {
                    text.push_str(&summary);
                    text.push('\n');
                }
                None if !files.is_empty() => {
                    let n = sources.iter().count();
                    text.push_str(&format!(
                        "checked {n} file{}: no problems found\n",
                        if n == 1 { "" } else { "s" }
                    ));
                }
                None => {}
            }
            text
        }
        Format::Json => render::json(&diagnostics, &sources),
        Format::Github => render::github(&diagnostics, &sources),
        Format::Sarif => render::sarif(&diagnostics, &sources),
    };
    let text = if args.format == Format::Json && text.trim().is_empty() {
        "[]\n".to_string()
    } else {
        text
    };
    if let Err(err) = std::io::stdout().lock().write_all(text.as_bytes()) {
        report(CliError::Write(err), stderr_color);
        return EXIT_USAGE;
    }

    if io_failed {
        return EXIT_USAGE;
    }
    let failing = diagnostics.iter().any(|d| {
        d.severity == Severity::Error || (args.deny_warnings && d.severity == Severity::Warning)
    });
    if failing { EXIT_FAILED } else { EXIT_OK }
}

/// Adds `path` (a file) or the `*.rollout` files under it (a directory), sorted, to `out`.
/// Returns how many were added.
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<usize, CliError> {
    let read_err = |source| CliError::Read {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(1);
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(read_err)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let mut added = 0;
    for entry in entries {
        let hidden = entry
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if entry.is_dir() {
            added += collect(&entry, out)?;
        } else if entry.extension().is_some_and(|e| e == "rollout") {
            out.push(entry);
            added += 1;
        }
    }
    Ok(added)
}

/// Reads a file into the source map. A file that cannot be a source (not UTF-8, too large)
/// is still registered, with a diagnostic instead of a parse.
fn load(path: &Path, sources: &mut SourceMap) -> Result<(FileId, Option<Diagnostic>), CliError> {
    let name = path.display().to_string();
    let read_err = |source| CliError::Read {
        path: name.clone(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read_err)?.len();
    if len > MAX_SOURCE_LEN as u64 {
        let id = sources.add(name.clone(), String::new());
        let diag = Diagnostic::new(
            Code::FileTooLarge,
            id,
            Span::point(0),
            format!("file is {len} bytes, more than the {MAX_SOURCE_LEN} bytes rollc reads"),
        )
        .with_help("split the strategy into several files joined with `import`");
        return Ok((id, Some(diag)));
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok((sources.add(name, text), None)),
        Err(err) => {
            let valid = err.utf8_error().valid_up_to();
            let bad_len = err.utf8_error().error_len().unwrap_or(1);
            let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
            // The lossy text has the same bytes up to `valid`, then U+FFFD (3 bytes).
            let id = sources.add(name, text);
            let diag = Diagnostic::new(
                Code::NotUtf8,
                id,
                Span::new(valid, valid + "\u{FFFD}".len()),
                format!("file is not valid UTF-8: byte {valid} starts an invalid sequence of {bad_len} byte{}", if bad_len == 1 { "" } else { "s" }),
            )
            .with_label("invalid UTF-8 here")
            .with_help("save the file as UTF-8; `.rollout` files are always UTF-8 text");
            Ok((id, Some(diag)))
        }
    }
}
