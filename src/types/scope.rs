//! Module scopes: which names a module defines and which it sees through its imports.

use std::collections::HashMap;

use super::Checker;
use crate::ast::{Ident, ItemKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::hir::{Loc, Schema, SchemaLabel, SchemaType};
use crate::resolve::ModuleId;

/// A top-level definition: the module and the index of its item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Def {
    Let(ModuleId, usize),
    Template(ModuleId, usize),
}

impl Def {
    pub(super) fn module(self) -> ModuleId {
        match self {
            Def::Let(m, _) | Def::Template(m, _) => m,
        }
    }
}

/// What one module can name.
#[derive(Debug, Default)]
pub(super) struct Scope {
    /// The module's own definitions.
    pub own: HashMap<String, Def>,
    /// Own definitions plus those of unaliased imports.
    pub visible: HashMap<String, Def>,
    /// `import ... as alias`.
    pub aliases: HashMap<String, ModuleId>,
    /// Aliases of imports that failed (already reported): their uses are not errors again.
    pub broken_aliases: std::collections::HashSet<String>,
    /// An unaliased import failed, so an unknown name may be defined there.
    pub broken_import: bool,
    /// The fleet schema declared here or in any import.
    pub schema: Option<Schema>,
}

impl Checker<'_, '_> {
    /// The identifier a definition binds.
    pub(super) fn def_ident(&self, def: Def) -> &Ident {
        let (m, item) = match def {
            Def::Let(m, i) | Def::Template(m, i) => (m, i),
        };
        let ast = self
            .loader
            .module(m)
            .ast
            .as_ref()
            .expect("defs come from parsed modules");
        match &ast.items[item].kind {
            ItemKind::Let(l) => &l.name,
            ItemKind::Template(t) => &t.name,
            _ => unreachable!("defs are lets and templates"),
        }
    }

    pub(super) fn def_loc(&self, def: Def) -> Loc {
        Loc::new(
            self.loader.module(def.module()).file,
            self.def_ident(def).span,
        )
    }

    /// Builds every module's own scope, then the visible scopes and schemas.
    pub(super) fn build_scopes(&mut self) {
        let n = self.loader.modules.len();
        self.scopes = (0..n).map(|_| Scope::default()).collect();
        for m in 0..n {
            let id = ModuleId(m as u32);
            let module = self.loader.module(id);
            let Some(ast) = &module.ast else { continue };
            let file = module.file;
            let mut own: HashMap<String, Def> = HashMap::new();
            for (i, item) in ast.items.iter().enumerate() {
                let (name, def) = match &item.kind {
                    ItemKind::Let(l) => (&l.name, Def::Let(id, i)),
                    ItemKind::Template(t) => (&t.name, Def::Template(id, i)),
                    _ => continue,
                };
                if let Some(&first) = own.get(&name.name) {
                    let first_loc = self.def_loc(first);
                    self.report(
                        Diagnostic::new(
                            Code::DuplicateDefinition,
                            file,
                            name.span,
                            format!("`{}` is defined twice", name.name),
                        )
                        .with_label("defined again here")
                        .with_secondary(first_loc.span, "first defined here")
                        .with_help("rename one of them or remove the duplicate"),
                    );
                    continue;
                }
                own.insert(name.name.clone(), def);
            }
            self.scopes[m].own = own;
        }
        for m in 0..n {
            self.build_visible(ModuleId(m as u32));
        }
    }

    fn build_visible(&mut self, id: ModuleId) {
        let module = self.loader.module(id);
        let file = module.file;
        let mut visible = self.scopes[id.0 as usize].own.clone();
        let mut aliases: HashMap<String, ModuleId> = HashMap::new();
        let mut alias_locs: HashMap<String, Loc> = HashMap::new();
        let mut imported_from: HashMap<String, Loc> = HashMap::new();
        let mut schema_modules = vec![id];
        let mut broken_aliases = std::collections::HashSet::new();
        let mut broken_import = false;
        for import in &module.imports {
            let Some(target) = import.target else {
                match &import.alias {
                    Some(alias) => {
                        broken_aliases.insert(alias.name.clone());
                    }
                    None => broken_import = true,
                }
                continue;
            };
            schema_modules.push(target);
            match &import.alias {
                Some(alias) => {
                    if let Some(first) = alias_locs.get(&alias.name) {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidImport,
                                file,
                                alias.span,
                                format!("two imports are named `{}`", alias.name),
                            )
                            .with_label("alias used again here")
                            .with_secondary(first.span, "first used here")
                            .with_help("give each import its own alias"),
                        );
                        continue;
                    }
                    alias_locs.insert(alias.name.clone(), Loc::new(file, alias.span));
                    aliases.insert(alias.name.clone(), target);
                }
                None => {
                    let mut names: Vec<(String, Def)> = self.scopes[target.0 as usize]
                        .own
                        .iter()
                        .map(|(k, v)| (k.clone(), *v))
                        .collect();
                    names.sort_by_key(|(_, d)| self.def_loc(*d));
                    for (name, def) in names {
                        match visible.get(&name) {
                            Some(existing) if existing.module() == id => {
                                let own_loc = self.def_loc(*existing);
                                self.report(
                                    Diagnostic::new(
                                        Code::Shadowing,
                                        file,
                                        own_loc.span,
                                        format!(
                                            "`{name}` hides the `{name}` imported from `{}`",
                                            self.import_name(target)
                                        ),
                                    )
                                    .with_label("this definition wins")
                                    .with_secondary(import.loc.span, "imported here")
                                    .with_help(
                                        "rename it, or import the module with `as` to keep both",
                                    ),
                                );
                            }
                            Some(existing) if *existing != def => {
                                let first = imported_from.get(&name).copied().unwrap_or(import.loc);
                                self.report(
                                    Diagnostic::new(
                                        Code::DuplicateDefinition,
                                        file,
                                        import.loc.span,
                                        format!("`{name}` is defined by two imported modules"),
                                    )
                                    .with_label(format!("this import also defines `{name}`"))
                                    .with_secondary(first.span, "first imported here")
                                    .with_help("import one of the modules with `as` and use qualified names"),
                                );
                            }
                            Some(_) => {}
                            None => {
                                visible.insert(name.clone(), def);
                                imported_from.insert(name, import.loc);
                            }
                        }
                    }
                }
            }
        }
        let schema = self.collect_schema(&schema_modules);
        let scope = &mut self.scopes[id.0 as usize];
        scope.visible = visible;
        scope.aliases = aliases;
        scope.broken_aliases = broken_aliases;
        scope.broken_import = broken_import;
        scope.schema = schema;
    }

    pub(super) fn import_name(&self, m: ModuleId) -> String {
        self.loader
            .sources
            .get(self.loader.module(m).file)
            .name()
            .to_string()
    }

    /// The schema from the `fleet` blocks of these modules, reporting duplicates once (in
    /// the module that declares the second one).
    fn collect_schema(&mut self, modules: &[ModuleId]) -> Option<Schema> {
        let mut schema = Schema::default();
        let mut any = false;
        let mut seen = std::collections::HashSet::new();
        for &m in modules {
            if !seen.insert(m) {
                continue;
            }
            let module = self.loader.module(m);
            let Some(ast) = &module.ast else { continue };
            for item in &ast.items {
                let ItemKind::Fleet(fleet) = &item.kind else {
                    continue;
                };
                any = true;
                for decl in &fleet.labels {
                    let loc = Loc::new(module.file, decl.key.span);
                    if let Some(first) = schema.get(&decl.key.key) {
                        if m == modules[0] {
                            let first_loc = first.loc;
                            let mut diag = Diagnostic::new(
                                Code::DuplicateLabel,
                                module.file,
                                decl.key.span,
                                format!("label `{}` is declared twice", decl.key.key),
                            )
                            .with_label("declared again here")
                            .with_help("keep one declaration");
                            diag.labels.push(crate::diagnostics::Label {
                                style: crate::diagnostics::LabelStyle::Secondary,
                                file: first_loc.file,
                                span: first_loc.span,
                                message: "first declared here".into(),
                            });
                            self.report(diag);
                        }
                        continue;
                    }
                    let ty = match &decl.ty {
                        crate::ast::LabelType::Enum { values } => {
                            SchemaType::Enum(values.iter().filter_map(|v| v.as_plain()).collect())
                        }
                        crate::ast::LabelType::Named { name } => match name.name.as_str() {
                            "string" => SchemaType::String,
                            "bool" => SchemaType::Bool,
                            "int" => SchemaType::Int,
                            other => {
                                if m == modules[0] {
                                    let mut diag = Diagnostic::new(
                                        Code::UnknownType,
                                        module.file,
                                        name.span,
                                        format!("unknown label type `{other}`"),
                                    )
                                    .with_label("not a label type")
                                    .with_help("a label is `string`, `bool`, `int`, or a list of values like `\"a\" | \"b\"`");
                                    if let Some(best) = crate::syntax::suggest::closest(
                                        other,
                                        &["string", "bool", "int"],
                                    ) {
                                        diag = diag.with_suggestion(
                                            format!("replace with `{best}`"),
                                            name.span,
                                            best,
                                        );
                                    }
                                    self.report(diag);
                                }
                                SchemaType::String
                            }
                        },
                    };
                    schema.labels.push(SchemaLabel {
                        key: decl.key.key.clone(),
                        ty,
                        loc,
                    });
                }
            }
        }
        any.then_some(schema)
    }
}
