//! `check` as a pure function of its sources: load the given files and their imports,
//! type-check, lint, and return every diagnostic. The CLI and the language server both call
//! [`check`]; neither re-implements any of it.

use std::io;
use std::path::{Path, PathBuf};

use crate::diagnostics::Diagnostic;
use crate::hir::Program;
use crate::resolve::{Loader, ModuleId, SourceProvider};
use crate::source::SourceMap;
use crate::{lint, types};

/// A file to check and the directory tree its local imports must stay in.
#[derive(Debug, Clone)]
pub struct Root {
    /// The file.
    pub path: PathBuf,
    /// The tree (the directory given on the command line, or the file's own directory).
    pub tree: PathBuf,
}

impl Root {
    /// A file checked on its own: its directory is the tree.
    pub fn file(path: impl Into<PathBuf>) -> Root {
        let path = path.into();
        let tree = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Root { path, tree }
    }
}

/// Everything a check produces.
pub struct Checked {
    /// Every source read, for rendering.
    pub sources: SourceMap,
    /// Every diagnostic, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// The checked program of each root (in `roots` order; `None` when unreadable).
    pub programs: Vec<Option<Program>>,
    /// Roots that could not be read at all.
    pub unreadable: Vec<(PathBuf, io::Error)>,
}

/// Checks `roots` reading through `provider`.
pub fn check(provider: &dyn SourceProvider, roots: &[Root]) -> Checked {
    check_with_fleet(provider, roots, None)
}

/// Checks `roots` and, with a fleet file, what they do to that inventory
/// (`rollc check --fleet`). The fleet file is read through `provider` too.
pub fn check_with_fleet(
    provider: &dyn SourceProvider,
    roots: &[Root],
    fleet: Option<&Path>,
) -> Checked {
    let mut loader = Loader::new(provider);
    let mut ids: Vec<Option<ModuleId>> = Vec::with_capacity(roots.len());
    let mut unreadable = Vec::new();
    for root in roots {
        match loader.load_root(&root.path, &root.tree) {
            Ok(id) => ids.push(Some(id)),
            Err(err) => {
                ids.push(None);
                unreadable.push((root.path.clone(), err));
            }
        }
    }
    loader.check_cycles();
    let (mut programs_by_module, semantic) = types::check(&loader);
    let mut diagnostics = std::mem::take(&mut loader.diagnostics);
    diagnostics.extend(semantic);
    // Lint the modules that were asked for (and local imports), not the stdlib.
    let linted: Vec<&Program> = programs_by_module
        .iter()
        .zip(&loader.modules)
        .filter(|(_, m)| !m.is_std)
        .map(|(p, _)| p)
        .collect();
    diagnostics.extend(lint::lint(&linted));
    if let Some(path) = fleet {
        match provider.read(path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let file = loader.sources.add(path.display().to_string(), text);
                match crate::fleet::parse(file, loader.sources.get(file).text()) {
                    Ok(inventory) => {
                        let roots_only: Vec<&Program> = ids
                            .iter()
                            .flatten()
                            .map(|id| &programs_by_module[id.0 as usize])
                            .collect();
                        diagnostics.extend(lint::fleet::lint(&roots_only, &inventory, file));
                    }
                    Err(errors) => diagnostics.extend(errors),
                }
            }
            Err(err) => unreadable.push((path.to_path_buf(), err)),
        }
    }
    diagnostics.sort_by(|a, b| {
        (a.file, a.span.start, a.span.end).cmp(&(b.file, b.span.start, b.span.end))
    });
    let programs = ids
        .iter()
        .map(|id| id.map(|id| std::mem::take(&mut programs_by_module[id.0 as usize])))
        .collect();
    Checked {
        sources: loader.sources,
        diagnostics,
        programs,
        unreadable,
    }
}
