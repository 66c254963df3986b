//! Modules: loading files and everything they import (local files and `std/...`), and the
//! import graph's own errors: missing files, paths that leave the checked tree, cycles.
//!
//! Loading goes through a [`SourceProvider`], so checking stays a pure function of the
//! sources: the CLI reads the file system, the language server its open buffers.

use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::ast::{self, ItemKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::hir::Loc;
use crate::source::{FileId, MAX_SOURCE_LEN, SourceMap, Span};
use crate::stdlib;
use crate::syntax::{self, suggest};

/// Where module text comes from.
pub trait SourceProvider {
    /// The bytes of the file at `path`. A file over [`MAX_SOURCE_LEN`] bytes should fail with
    /// [`io::ErrorKind::FileTooLarge`] without being read.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
}

/// Reads the real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileSystem;

impl SourceProvider for FileSystem {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let meta = std::fs::metadata(path)?;
        // Opening a FIFO or a device would block or read forever.
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let len = meta.len();
        if len > MAX_SOURCE_LEN as u64 {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("{len} bytes"),
            ));
        }
        std::fs::read(path)
    }
}

/// Sources held in memory: open editor buffers, or files made up by a test.
#[derive(Debug, Default, Clone)]
pub struct InMemory {
    files: HashMap<PathBuf, Vec<u8>>,
}

impl InMemory {
    /// An empty set of files.
    pub fn new() -> InMemory {
        InMemory::default()
    }

    /// Adds (or replaces) a file. Paths are compared after [`normalize`].
    pub fn insert(&mut self, path: impl AsRef<Path>, text: impl Into<Vec<u8>>) {
        self.files.insert(normalize(path.as_ref()), text.into());
    }
}

impl SourceProvider for InMemory {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }
}

/// Identifies a loaded module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub u32);

/// What makes two imports the same module.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ModuleKey {
    File(PathBuf),
    Std(String),
}

/// One loaded module.
#[derive(Debug)]
pub struct Module {
    /// Its source file.
    pub file: FileId,
    /// Its AST, when it parsed.
    pub ast: Option<ast::File>,
    /// Its imports in source order.
    pub imports: Vec<Import>,
    /// True for `std/...` modules.
    pub is_std: bool,
    /// True when the module has syntax errors: checks for something missing (a `target`,
    /// a `select`) are skipped, since the parser may have dropped it.
    pub has_syntax_errors: bool,
    path: Option<PathBuf>,
    /// The tree local imports must stay in: its absolute form, and as the user named it.
    tree: Option<(PathBuf, PathBuf)>,
}

/// A resolved `import`.
#[derive(Debug, Clone)]
pub struct Import {
    /// The module, when it could be loaded.
    pub target: Option<ModuleId>,
    /// `as NAME`.
    pub alias: Option<ast::Ident>,
    /// The path literal.
    pub loc: Loc,
}

/// Every module of one check, with the sources and the diagnostics of loading them.
pub struct Loader<'p> {
    provider: &'p dyn SourceProvider,
    /// All sources read so far.
    pub sources: SourceMap,
    /// All modules loaded so far, by [`ModuleId`].
    pub modules: Vec<Module>,
    /// Parse and import diagnostics.
    pub diagnostics: Vec<Diagnostic>,
    by_key: HashMap<ModuleKey, ModuleId>,
}

impl<'p> Loader<'p> {
    /// A loader reading through `provider`.
    pub fn new(provider: &'p dyn SourceProvider) -> Loader<'p> {
        Loader {
            provider,
            sources: SourceMap::new(),
            modules: Vec::new(),
            diagnostics: Vec::new(),
            by_key: HashMap::new(),
        }
    }

    /// The module with this id.
    pub fn module(&self, id: ModuleId) -> &Module {
        &self.modules[id.0 as usize]
    }

    /// Loads the file at `path` (shown as `path` in diagnostics) and, transitively, what it
    /// imports. Local imports must stay inside `tree`. Fails only when `path` itself cannot
    /// be read; problems with imported files become diagnostics.
    pub fn load_root(&mut self, path: &Path, tree: &Path) -> io::Result<ModuleId> {
        let key = ModuleKey::File(normalize(&absolute(path)));
        if let Some(&id) = self.by_key.get(&key) {
            return Ok(id);
        }
        let bytes = match self.provider.read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::FileTooLarge => {
                let file = self.sources.add(path.display().to_string(), String::new());
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::FileTooLarge,
                        file,
                        Span::point(0),
                        format!("file is {err}, more than the {MAX_SOURCE_LEN} bytes rollc reads"),
                    )
                    .with_help("split the strategy into several files joined with `import`"),
                );
                let id = ModuleId(self.modules.len() as u32);
                self.modules.push(Module {
                    file,
                    ast: None,
                    imports: Vec::new(),
                    is_std: false,
                    has_syntax_errors: true,
                    path: Some(path.to_path_buf()),
                    tree: None,
                });
                self.by_key.insert(key, id);
                return Ok(id);
            }
            Err(err) => return Err(err),
        };
        let id = self.add_module(
            key,
            path.display().to_string(),
            bytes,
            Some(path.to_path_buf()),
            Some((normalize(&absolute(tree)), shown_tree(tree))),
        );
        self.load_imports_from(id);
        Ok(id)
    }

    /// Loads `std/NAME` (used by tests and `rollc doc`).
    pub fn load_std(&mut self, name: &str) -> Option<ModuleId> {
        let src = stdlib::source(name)?;
        let key = ModuleKey::Std(name.to_string());
        if let Some(&id) = self.by_key.get(&key) {
            return Some(id);
        }
        let id = self.add_module(
            key,
            stdlib::display_path(name),
            src.as_bytes().to_vec(),
            None,
            None,
        );
        self.load_imports_from(id);
        Some(id)
    }

    /// Reports every import cycle among the loaded modules, once each.
    pub fn check_cycles(&mut self) {
        let n = self.modules.len();
        // 0 = unvisited, 1 = on the current path, 2 = done.
        let mut state = vec![0u8; n];
        for start in 0..n {
            if state[start] != 0 {
                continue;
            }
            // Iterative DFS: (module, next import index). The path is the stack itself.
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            state[start] = 1;
            while let Some(&mut (m, ref mut next)) = stack.last_mut() {
                let imports = &self.modules[m].imports;
                if *next >= imports.len() {
                    state[m] = 2;
                    stack.pop();
                    continue;
                }
                let edge = *next;
                *next += 1;
                let Some(target) = imports[edge].target else {
                    continue;
                };
                let t = target.0 as usize;
                match state[t] {
                    0 => {
                        state[t] = 1;
                        stack.push((t, 0));
                    }
                    1 => {
                        let from = stack.iter().position(|&(x, _)| x == t).unwrap_or(0);
                        let cycle: Vec<(usize, usize)> = stack[from..]
                            .iter()
                            .map(|&(x, next)| (x, next - 1))
                            .collect();
                        let diag = self.cycle_diagnostic(&cycle);
                        self.diagnostics.push(diag);
                    }
                    _ => {}
                }
            }
        }
    }

    fn cycle_diagnostic(&self, cycle: &[(usize, usize)]) -> Diagnostic {
        // `cycle` lists (module, index of the import taken) from the module that starts the
        // cycle to the one whose import closes it.
        let names: Vec<&str> = cycle
            .iter()
            .map(|&(m, _)| self.sources.get(self.modules[m].file).name())
            .collect();
        let &(last, last_edge) = cycle.last().expect("a cycle has a module");
        let closing = &self.modules[last].imports[last_edge];
        let mut chain = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>();
        chain.push(format!("`{}`", names[0]));
        let mut diag = Diagnostic::new(
            Code::ImportCycle,
            closing.loc.file,
            closing.loc.span,
            format!("import cycle: {}", chain.join(" → ")),
        )
        .with_label(format!(
            "`{}` imports `{}` again here",
            names[names.len() - 1],
            names[0]
        ));
        for &(m, edge) in &cycle[..cycle.len() - 1] {
            let import = &self.modules[m].imports[edge];
            diag.labels.push(crate::diagnostics::Label {
                style: crate::diagnostics::LabelStyle::Secondary,
                file: import.loc.file,
                span: import.loc.span,
                message: "imported here".into(),
            });
        }
        diag.with_help("move what both files need into a third file that imports neither")
    }

    fn add_module(
        &mut self,
        key: ModuleKey,
        display: String,
        bytes: Vec<u8>,
        path: Option<PathBuf>,
        tree: Option<(PathBuf, PathBuf)>,
    ) -> ModuleId {
        let is_std = matches!(key, ModuleKey::Std(_));
        let (file, ast, has_syntax_errors) = match String::from_utf8(bytes) {
            Ok(text) => {
                let file = self.sources.add(display, text);
                let parsed = syntax::parse(file, self.sources.get(file).text());
                let broken = parsed.has_errors();
                self.diagnostics.extend(parsed.diagnostics);
                (file, parsed.ast, broken)
            }
            Err(err) => {
                let valid = err.utf8_error().valid_up_to();
                let bad_len = err.utf8_error().error_len().unwrap_or(1);
                let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
                let file = self.sources.add(display, text);
                self.diagnostics.push(not_utf8(file, valid, bad_len));
                (file, None, true)
            }
        };
        let id = ModuleId(self.modules.len() as u32);
        self.modules.push(Module {
            file,
            ast,
            imports: Vec::new(),
            is_std,
            has_syntax_errors,
            path,
            tree,
        });
        self.by_key.insert(key, id);
        id
    }

    /// Resolves the imports of `root` and of every module they load, breadth first.
    fn load_imports_from(&mut self, root: ModuleId) {
        let mut queue = vec![root];
        while let Some(id) = queue.pop() {
            let requests: Vec<(ast::StrLit, Option<ast::Ident>)> = match &self.module(id).ast {
                Some(file) => file
                    .items
                    .iter()
                    .filter_map(|item| match &item.kind {
                        ItemKind::Import(import) => {
                            Some((import.path.clone(), import.alias.clone()))
                        }
                        _ => None,
                    })
                    .collect(),
                None => Vec::new(),
            };
            let mut imports = Vec::new();
            for (path, alias) in requests {
                let (target, loaded) = self.resolve_import(id, &path);
                if loaded {
                    queue.extend(target);
                }
                imports.push(Import {
                    target,
                    alias,
                    loc: Loc::new(self.module(id).file, path.span),
                });
            }
            self.modules[id.0 as usize].imports = imports;
        }
    }

    /// The module an import names, and whether it was newly loaded.
    fn resolve_import(&mut self, from: ModuleId, lit: &ast::StrLit) -> (Option<ModuleId>, bool) {
        let file = self.module(from).file;
        let Some(text) = lit.as_plain() else {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::InvalidImport,
                    file,
                    lit.span,
                    "import paths cannot use `${...}`",
                )
                .with_label("interpolation is not allowed here")
                .with_help("imports are resolved before any name has a value; write the path out"),
            );
            return (None, false);
        };
        if let Some(name) = text.strip_prefix("std/") {
            return self.resolve_std(file, lit.span, name);
        }
        if !(text.starts_with("./") || text.starts_with("../")) {
            let mut diag = Diagnostic::new(
                Code::ImportNotFound,
                file,
                lit.span,
                format!("import path `{text}` is neither `std/...` nor relative"),
            );
            diag = if Path::new(&text).is_absolute() {
                diag.with_label("absolute paths are not allowed").with_help(
                    "import files relative to the importing file, e.g. `./fleet-schema.rollout`",
                )
            } else {
                diag.with_label("local imports start with `./` or `../`")
                    .with_help(format!("write `\"./{text}\"`"))
                    .with_suggestion("make the path relative", lit.span, format!("\"./{text}\""))
            };
            self.diagnostics.push(diag);
            return (None, false);
        }
        let module = self.module(from);
        let (Some(importer), Some(tree)) = (module.path.clone(), module.tree.clone()) else {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::ImportEscapes,
                    file,
                    lit.span,
                    "stdlib modules can only import `std/...` modules",
                )
                .with_label("a local path in the stdlib"),
            );
            return (None, false);
        };
        let display_dir = importer.parent().map(Path::to_path_buf).unwrap_or_default();
        let display = normalize(&display_dir.join(&text));
        let resolved = normalize(&absolute(&display_dir).join(&text));
        if !resolved.starts_with(&tree.0) {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::ImportEscapes,
                    file,
                    lit.span,
                    format!("`{text}` is outside the directory tree being checked"),
                )
                .with_label(format!("resolves to `{}`", display.display()))
                .with_note(format!("the checked tree is `{}`", tree.1.display()))
                .with_help("check the directory that contains both files, or move the imported file inside this tree"),
            );
            return (None, false);
        }
        let key = ModuleKey::File(resolved.clone());
        if let Some(&id) = self.by_key.get(&key) {
            return (Some(id), false);
        }
        match self.provider.read(&display) {
            Ok(bytes) => {
                let id = self.add_module(
                    key,
                    display.display().to_string(),
                    bytes,
                    Some(display),
                    Some(tree),
                );
                (Some(id), true)
            }
            Err(err) => {
                let mut diag = Diagnostic::new(
                    Code::ImportNotFound,
                    file,
                    lit.span,
                    format!("cannot read `{}`: {}", display.display(), io_reason(&err)),
                )
                .with_label("imported here");
                let with_ext = display.with_extension("rollout");
                if !text.ends_with(".rollout") && self.provider.read(&with_ext).is_ok() {
                    diag = diag
                        .with_help(format!("did you mean `{text}.rollout`?"))
                        .with_suggestion(
                            "add the extension",
                            lit.span,
                            format!("\"{text}.rollout\""),
                        );
                }
                self.diagnostics.push(diag);
                (None, false)
            }
        }
    }

    fn resolve_std(&mut self, file: FileId, span: Span, name: &str) -> (Option<ModuleId>, bool) {
        if stdlib::source(name).is_some() {
            let known = self.by_key.contains_key(&ModuleKey::Std(name.to_string()));
            return (self.load_std_inner(name), !known);
        }
        let names = stdlib::names();
        let mut diag = Diagnostic::new(
            Code::UnknownStdModule,
            file,
            span,
            format!("no stdlib module `std/{name}`"),
        )
        .with_label("not in the standard library");
        match suggest::closest(name, &names) {
            Some(best) => {
                diag = diag
                    .with_help(format!("did you mean `std/{best}`?"))
                    .with_suggestion(
                        format!("replace with `std/{best}`"),
                        span,
                        format!("\"std/{best}\""),
                    );
            }
            None => diag = diag.with_help(format!("the stdlib has {}", suggest::list(&names))),
        }
        self.diagnostics.push(diag);
        (None, false)
    }

    fn load_std_inner(&mut self, name: &str) -> Option<ModuleId> {
        let key = ModuleKey::Std(name.to_string());
        if let Some(&id) = self.by_key.get(&key) {
            return Some(id);
        }
        let src = stdlib::source(name)?;
        Some(self.add_module(
            key,
            stdlib::display_path(name),
            src.as_bytes().to_vec(),
            None,
            None,
        ))
    }
}

fn io_reason(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::IsADirectory => "it is a directory".into(),
        _ => err.to_string(),
    }
}

/// The diagnostic for a file whose bytes stop being UTF-8 at `valid` (an invalid sequence
/// of `bad_len` bytes). The lossy text registered for the file has U+FFFD there.
pub fn not_utf8(file: FileId, valid: usize, bad_len: usize) -> Diagnostic {
    Diagnostic::new(
        Code::NotUtf8,
        file,
        Span::new(valid, valid + "\u{FFFD}".len()),
        format!(
            "file is not valid UTF-8: byte {valid} starts an invalid sequence of {bad_len} byte{}",
            if bad_len == 1 { "" } else { "s" }
        ),
    )
    .with_label("invalid UTF-8 here")
    .with_help("save the file as UTF-8; `.rollout` files are always UTF-8 text")
}

/// A tree as the user named it; `.` for the current directory.
fn shown_tree(tree: &Path) -> PathBuf {
    let shown = normalize(tree);
    if shown.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        shown
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Removes `.` and resolves `..` lexically (without touching the file system, so a missing
/// file still gets a precise name).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let popped =
                    matches!(out.components().next_back(), Some(Component::Normal(_))) && out.pop();
                if !popped {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
