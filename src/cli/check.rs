//! `rollc check`: parse every given `.rollout` file and report diagnostics.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::{CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, report};
use crate::check::Root;
use crate::diagnostics::{Severity, render};
use crate::resolve::FileSystem;

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
    /// Also check what the strategies do to this fleet (YAML or JSON `clusters:` file, or a
    /// `kubectl get secrets -o yaml` list of Argo CD cluster Secrets): coverage, overlaps,
    /// empty stages, and each stage's counts after rounding.
    #[arg(long, value_name = "FILE")]
    pub fleet: Option<PathBuf>,
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
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut roots = Vec::new();
    for path in &paths {
        match collect(path, &mut roots) {
            Ok(0) if path.is_dir() => {
                report(
                    CliError::NoInput {
                        path: path.display().to_string(),
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

    let checked = crate::check::check_with_fleet(&FileSystem, &roots, args.fleet.as_deref());
    for (path, source) in checked.unreadable {
        report(
            CliError::Read {
                path: path.display().to_string(),
                source,
            },
            stderr_color,
        );
        io_failed = true;
    }
    let sources = checked.sources;
    let diagnostics = checked.diagnostics;
    let files = roots;

    let text = match args.format {
        Format::Human => {
            let mut text = render::human(&diagnostics, &sources, color);
            match render::summary(&diagnostics) {
                Some(summary) => {
                    text.push_str(&summary);
                    text.push('\n');
                }
                None if !files.is_empty() && !io_failed => {
                    let n = files.len();
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
/// A directory is the tree its files' imports must stay in; a file's own directory is its
/// tree. Returns how many were added.
fn collect(path: &Path, out: &mut Vec<Root>) -> Result<usize, CliError> {
    let meta = std::fs::metadata(path).map_err(|source| CliError::Read {
        path: path.display().to_string(),
        source,
    })?;
    if !meta.is_dir() {
        out.push(Root::file(path));
        return Ok(1);
    }
    let mut visited = std::collections::HashSet::new();
    collect_dir(path, path, out, &mut visited)
}

/// `visited` holds the canonical paths of directories already walked, so a symlink loop
/// (`tree/again -> .`) is walked once.
fn collect_dir(
    path: &Path,
    tree: &Path,
    out: &mut Vec<Root>,
    visited: &mut std::collections::HashSet<PathBuf>,
) -> Result<usize, CliError> {
    if let Ok(canonical) = std::fs::canonicalize(path)
        && !visited.insert(canonical)
    {
        return Ok(0);
    }
    let read_err = |source| CliError::Read {
        path: path.display().to_string(),
        source,
    };
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
            added += collect_dir(&entry, tree, out, visited)?;
        } else if entry.extension().is_some_and(|e| e == "rollout") {
            out.push(Root {
                path: entry,
                tree: tree.to_path_buf(),
            });
            added += 1;
        }
    }
    Ok(added)
}
