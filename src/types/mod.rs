//! Type checking by evaluation: names are resolved, `let`s evaluated, templates and loops
//! expanded, and every value checked against what its position needs, producing the
//! [`hir`](crate::hir) form.
//!
//! The language is total and has no recursion, so checking can simply evaluate: each `let`
//! once (cached, with a cycle check), each template once per use (with a recursion check).
//! Templates are also expanded once with placeholder arguments so that mistakes in templates
//! nobody uses yet are still found.

mod expr;
mod fields;
mod scope;
pub mod value;

use std::collections::{HashMap, HashSet};

use crate::ast::{self, ItemKind, NewRevisionPolicy, RolloutItem, StageSeqItem, StrPart};
use crate::diagnostics::{Code, Diagnostic, Label, LabelStyle};
use crate::hir::{self, Loc, Program, Spanned};
use crate::resolve::{Loader, ModuleId};
use crate::source::Span;

use scope::{Def, Scope};
use value::{Type, Val, Value};

/// Checks every loaded module. Returns each module's [`Program`] (in module order) and the
/// semantic diagnostics (import and syntax diagnostics stay in the loader).
pub fn check(loader: &Loader<'_>) -> (Vec<Program>, Vec<Diagnostic>) {
    let mut checker = Checker {
        loader,
        diags: Vec::new(),
        scopes: Vec::new(),
        lets: HashMap::new(),
        let_stack: Vec::new(),
        active: Vec::new(),
        dry_run: false,
        skip_schema: false,
        reported_cycles: HashSet::new(),
    };
    checker.build_scopes();
    let mut programs = Vec::new();
    for m in 0..loader.modules.len() {
        programs.push(checker.check_module(ModuleId(m as u32)));
    }
    let mut diags = checker.diags;
    dedup(&mut diags);
    (programs, diags)
}

/// How deep `let`s may refer to `let`s, and templates use templates. Evaluation recurses
/// along these chains, so the bound keeps it within a fixed stack.
const MAX_DEPTH: usize = 64;

/// Drops repeated diagnostics: a mistake inside a template is found by its placeholder
/// expansion and again by every use.
fn dedup(diags: &mut Vec<Diagnostic>) {
    let mut seen = HashSet::new();
    diags.retain(|d| seen.insert((d.code, d.file, d.span, d.message.clone())));
}

enum LetState {
    InProgress,
    Done(Option<Val>),
}

pub(crate) struct Checker<'l, 'p> {
    loader: &'l Loader<'p>,
    diags: Vec<Diagnostic>,
    scopes: Vec<Scope>,
    lets: HashMap<Def, LetState>,
    let_stack: Vec<(String, Loc)>,
    active: Vec<(Def, Loc)>,
    /// Expanding a template with placeholder arguments: checks that depend on the actual
    /// values (ranges, schema values, URLs) are skipped.
    dry_run: bool,
    /// Checking a selector over Application labels: the cluster schema does not apply.
    skip_schema: bool,
    /// Template cycles already reported, as their sorted members.
    reported_cycles: HashSet<Vec<Def>>,
}

/// Where an expression is evaluated.
#[derive(Clone)]
struct Ctx {
    module: ModuleId,
    /// Parameters and loop variables, innermost last.
    locals: Vec<(String, Val)>,
    /// The module whose fleet schema applies (the rollout's).
    schema_module: ModuleId,
    /// Inside a template: the outermost `use` in the rollout, for labels on errors that
    /// arguments cause inside the template.
    use_site: Option<Loc>,
}

impl Ctx {
    fn new(module: ModuleId) -> Ctx {
        Ctx {
            module,
            locals: Vec::new(),
            schema_module: module,
            use_site: None,
        }
    }
}

impl<'l, 'p> Checker<'l, 'p> {
    fn report(&mut self, diag: Diagnostic) {
        self.diags.push(diag);
    }

    fn module_of_file(&self, file: crate::source::FileId) -> ModuleId {
        let index = self
            .loader
            .modules
            .iter()
            .position(|m| m.file == file)
            .unwrap_or(0);
        ModuleId(index as u32)
    }

    fn file_of(&self, m: ModuleId) -> crate::source::FileId {
        self.loader.module(m).file
    }

    fn loc(&self, ctx: &Ctx, span: Span) -> Loc {
        Loc::new(self.file_of(ctx.module), span)
    }

    fn check_module(&mut self, m: ModuleId) -> Program {
        let loader = self.loader;
        let module = loader.module(m);
        let Some(ast) = &module.ast else {
            return Program::default();
        };
        // Every `let` once, so its mistakes are reported even when nothing uses it.
        for (i, item) in ast.items.iter().enumerate() {
            if matches!(item.kind, ItemKind::Let(_)) {
                self.let_value(Def::Let(m, i), None);
            }
        }
        for (i, item) in ast.items.iter().enumerate() {
            if let ItemKind::Template(t) = &item.kind {
                self.dry_run_template(m, i, t);
            }
        }
        let mut rollouts = Vec::new();
        for item in &ast.items {
            if let ItemKind::Rollout(r) = &item.kind {
                rollouts.push(self.rollout(m, item, r));
            }
        }
        Program {
            rollouts,
            schema: self.scopes[m.0 as usize].schema.clone(),
        }
    }

    /// The value of a `let`, evaluated once. `use_loc` is where it is used, for cycles.
    fn let_value(&mut self, def: Def, use_loc: Option<Loc>) -> Option<Val> {
        match self.lets.get(&def) {
            Some(LetState::Done(v)) => return v.clone(),
            Some(LetState::InProgress) => {
                self.report_let_cycle(def, use_loc);
                return None;
            }
            None => {}
        }
        let Def::Let(m, item) = def else { return None };
        if self.let_stack.len() >= MAX_DEPTH {
            self.too_deep(
                use_loc.unwrap_or_else(|| self.def_loc(def)),
                "`let`s refer to each other",
            );
            return None;
        }
        let loader = self.loader;
        let ast = loader.module(m).ast.as_ref()?;
        let ItemKind::Let(binding) = &ast.items[item].kind else {
            return None;
        };
        self.lets.insert(def, LetState::InProgress);
        self.let_stack
            .push((binding.name.name.clone(), self.def_loc(def)));
        let value = self.eval(&Ctx::new(m), &binding.value);
        self.let_stack.pop();
        self.lets.insert(def, LetState::Done(value.clone()));
        value
    }

    fn too_deep(&mut self, at: Loc, what: &str) {
        self.report(
            Diagnostic::new(
                Code::NestingTooDeep,
                at.file,
                at.span,
                format!("{what} more than {MAX_DEPTH} levels deep"),
            )
            .with_label("too deep here")
            .with_help("flatten the chain of definitions"),
        );
    }

    fn report_let_cycle(&mut self, def: Def, use_loc: Option<Loc>) {
        let target = self.def_loc(def);
        let start = self
            .let_stack
            .iter()
            .position(|(_, loc)| *loc == target)
            .unwrap_or(0);
        let chain: Vec<(String, Loc)> = self.let_stack[start..].to_vec();
        let names: Vec<String> = chain
            .iter()
            .map(|(n, _)| format!("`{n}`"))
            .chain(std::iter::once(format!(
                "`{}`",
                chain.first().map_or("?", |c| c.0.as_str())
            )))
            .collect();
        let at = use_loc.unwrap_or(target);
        let mut diag = Diagnostic::new(
            Code::Recursion,
            at.file,
            at.span,
            format!("`let` refers to itself: {}", names.join(" → ")),
        )
        .with_label("used here while it is being defined")
        .with_help(
            "a `let` cannot depend on itself; give it a value that does not use its own name",
        );
        for (name, loc) in &chain {
            diag.labels.push(Label {
                style: LabelStyle::Secondary,
                file: loc.file,
                span: loc.span,
                message: format!("`{name}` is defined here"),
            });
        }
        self.report(diag);
    }

    fn dry_run_template(&mut self, m: ModuleId, item: usize, t: &ast::Template) {
        let mut locals = Vec::new();
        let mut all_typed = true;
        let file = self.file_of(m);
        let mut names: HashMap<&str, Span> = HashMap::new();
        for param in &t.params {
            if let Some(first) = names.insert(&param.name.name, param.name.span) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateDefinition,
                        file,
                        param.name.span,
                        format!("parameter `{}` is declared twice", param.name.name),
                    )
                    .with_label("declared again here")
                    .with_secondary(first, "first declared here"),
                );
            }
            if let Some(&def) = self.scopes[m.0 as usize].visible.get(&param.name.name) {
                let def_loc = self.def_loc(def);
                let mut diag = Diagnostic::new(
                    Code::Shadowing,
                    file,
                    param.name.span,
                    format!(
                        "parameter `{}` hides a top-level definition",
                        param.name.name
                    ),
                )
                .with_label("inside the template this name means the parameter")
                .with_help("rename the parameter");
                diag.labels.push(Label {
                    style: LabelStyle::Secondary,
                    file: def_loc.file,
                    span: def_loc.span,
                    message: "also defined here".into(),
                });
                self.report(diag);
            }
            // Report every unknown type; expand only when all parameters have one.
            let Some(ty) = self.param_type(m, &param.ty) else {
                all_typed = false;
                continue;
            };
            let loc = Loc::new(file, param.name.span);
            if let Some(default) = &param.default {
                self.check_default(m, param, &ty, default);
            }
            locals.push((param.name.name.clone(), placeholder(&ty, loc)));
        }
        if !all_typed {
            return;
        }
        let ctx = Ctx {
            module: m,
            locals,
            schema_module: m,
            use_site: None,
        };
        let was = std::mem::replace(&mut self.dry_run, true);
        let def = Def::Template(m, item);
        self.active.push((def, self.def_loc(def)));
        let mut sink = Vec::new();
        self.expand_seq(&ctx, &t.body, &mut sink, &[]);
        self.active.pop();
        self.dry_run = was;
    }

    fn check_default(&mut self, m: ModuleId, param: &ast::Param, ty: &Type, default: &ast::Expr) {
        if let Some(v) = self.eval_expecting(&Ctx::new(m), default, ty) {
            self.expect(
                &v,
                ty,
                Loc::new(self.file_of(m), default.span),
                Some((param, self.file_of(m))),
            );
        }
    }

    /// The type a parameter declares, reporting unknown type names.
    fn param_type(&mut self, m: ModuleId, ty: &ast::TypeExpr) -> Option<Type> {
        let file = self.file_of(m);
        if ty.name.name == "list" {
            return match &ty.arg {
                Some(arg) => Some(Type::List(Box::new(self.param_type(m, arg)?))),
                None => {
                    self.report(
                        Diagnostic::new(
                            Code::UnknownType,
                            file,
                            ty.span,
                            "`list` needs an element type",
                        )
                        .with_label("list of what?")
                        .with_help("write e.g. `list<string>`"),
                    );
                    None
                }
            };
        }
        if ty.arg.is_some() {
            self.report(
                Diagnostic::new(
                    Code::UnknownType,
                    file,
                    ty.span,
                    format!("`{}` takes no type argument", ty.name.name),
                )
                .with_label("only `list` has an element type"),
            );
            return None;
        }
        match Type::named(&ty.name.name) {
            Some(t) => Some(t),
            None => {
                let mut diag = Diagnostic::new(
                    Code::UnknownType,
                    file,
                    ty.name.span,
                    format!("unknown type `{}`", ty.name.name),
                )
                .with_label("not a type");
                match crate::syntax::suggest::closest(&ty.name.name, Type::NAMES) {
                    Some(best) => {
                        diag = diag
                            .with_help(format!("did you mean `{best}`?"))
                            .with_suggestion(format!("replace with `{best}`"), ty.name.span, best)
                    }
                    None => {
                        diag = diag.with_help(format!(
                            "the types are {}",
                            crate::syntax::suggest::list(Type::NAMES)
                        ))
                    }
                }
                self.report(diag);
                None
            }
        }
    }

    fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }

    fn rollout(&mut self, m: ModuleId, item: &ast::Item, r: &ast::Rollout) -> hir::Rollout {
        let errors_before = self.error_count();
        let ctx = Ctx::new(m);
        let file = self.file_of(m);
        let name = self.plain_string(&ctx, &r.name);
        let mut target: Option<Spanned<hir::Target>> = None;
        let mut defaults: Option<(fields::Fields, Span)> = None;
        let mut on_new: Option<(NewRevisionPolicy, Span)> = None;
        let mut stages = Vec::new();
        for body_item in &r.body {
            match body_item {
                RolloutItem::Target(t) => {
                    if let Some(first) = &target {
                        self.duplicate_statement(file, t.span, first.loc.span, "target");
                        continue;
                    }
                    if let Some(value) = self.target(&ctx, t) {
                        target = Some(Spanned::new(value, Loc::new(file, t.span)));
                    }
                }
                RolloutItem::Defaults(d) => {
                    if let Some((_, first)) = &defaults {
                        self.duplicate_statement(file, d.span, *first, "defaults");
                        continue;
                    }
                    let f = self.fields(&ctx, &d.fields);
                    defaults = Some((f, d.span));
                }
                RolloutItem::Revision(_) => {}
                RolloutItem::OnNewRevision(o) => {
                    if let Some((_, first)) = &on_new {
                        self.duplicate_statement(file, o.span, *first, "on new revision");
                        continue;
                    }
                    on_new = Some((o.policy, o.span));
                }
                RolloutItem::Stages(seq) => {
                    self.expand_seq(&ctx, std::slice::from_ref(seq), &mut stages, &[]);
                }
            }
        }
        let defaults = defaults.map(|(f, _)| f).unwrap_or_default();
        let stages: Vec<hir::Stage> = stages
            .into_iter()
            .map(|pending| {
                let complete = !self
                    .loader
                    .modules
                    .iter()
                    .any(|md| md.file == pending.loc.file && md.has_syntax_errors);
                self.finish_stage(pending, &defaults, complete)
            })
            .collect();
        if target.is_none() && !loader_has_syntax_errors(self.loader, m) {
            self.report(
                Diagnostic::new(
                    Code::MissingTarget,
                    file,
                    r.name.span,
                    format!("rollout `{name}` has no `target`"),
                )
                .with_label("which Applications does it roll?")
                .with_help("add `target appset \"NAME\"` or `target apps where SELECTOR`"),
            );
        }
        hir::Rollout {
            complete: !loader_has_syntax_errors(self.loader, m)
                && self.error_count() == errors_before
                && self.scopes[m.0 as usize].broken_aliases.is_empty()
                && !self.scopes[m.0 as usize].broken_import,
            name,
            loc: Loc::new(file, r.name.span),
            doc: item.doc.as_ref().map(|d| d.text.clone()),
            target,
            on_new_revision: on_new.map_or(NewRevisionPolicy::Queue, |(p, _)| p),
            stages,
        }
    }

    fn duplicate_statement(
        &mut self,
        file: crate::source::FileId,
        span: Span,
        first: Span,
        what: &str,
    ) {
        self.report(
            Diagnostic::new(
                Code::DuplicateStatement,
                file,
                span,
                format!("a rollout has one `{what}`"),
            )
            .with_label("second one here")
            .with_secondary(first, "first one here")
            .with_help("merge them into one"),
        );
    }

    fn target(&mut self, ctx: &Ctx, t: &ast::Target) -> Option<hir::Target> {
        let namespace = match &t.namespace {
            Some(ns) => self.plain_string(ctx, ns),
            None => "argocd".to_string(),
        };
        let project = t.project.as_ref().map(|p| self.plain_string(ctx, p));
        Some(match &t.kind {
            ast::TargetKind::AppSet { name } => hir::Target::AppSet {
                name: self.plain_string(ctx, name),
                namespace,
                project,
            },
            ast::TargetKind::Apps { selector } => hir::Target::Apps {
                selector: self.selector_no_schema(ctx, selector)?,
                namespace,
                project,
            },
        })
    }

    /// Expands stages, template uses and loops into `out`.
    fn expand_seq(
        &mut self,
        ctx: &Ctx,
        items: &[StageSeqItem],
        out: &mut Vec<fields::PendingStage>,
        trace: &[Loc],
    ) {
        for item in items {
            match item {
                StageSeqItem::Stage(stage) => {
                    let name = self.interpolate(ctx, &stage.name);
                    let f = self.fields(ctx, &stage.fields);
                    out.push(fields::PendingStage {
                        name: name.unwrap_or_default(),
                        loc: self.loc(ctx, stage.name.span),
                        doc: stage.doc.as_ref().map(|d| d.text.clone()),
                        expanded_from: trace.to_vec(),
                        fields: f,
                    });
                }
                StageSeqItem::Use(u) => self.expand_use(ctx, u, out, trace),
                StageSeqItem::For(f) => {
                    let Some(list) = self.eval(ctx, &f.iter) else {
                        continue;
                    };
                    let items = match list.value {
                        Value::List(items) => items,
                        _ => {
                            self.mismatch(
                                &list,
                                &Type::List(Box::new(Type::String)),
                                self.loc(ctx, f.iter.span),
                            );
                            continue;
                        }
                    };
                    self.check_shadow(ctx, &f.var);
                    let mut inner_trace = vec![self.loc(ctx, f.span)];
                    inner_trace.extend_from_slice(trace);
                    for element in items {
                        let mut inner = ctx.clone();
                        inner.locals.push((f.var.name.clone(), element));
                        self.expand_seq(&inner, &f.body, out, &inner_trace);
                    }
                }
            }
        }
    }

    fn check_shadow(&mut self, ctx: &Ctx, var: &ast::Ident) {
        let file = self.file_of(ctx.module);
        let local = ctx
            .locals
            .iter()
            .rev()
            .find(|(n, _)| *n == var.name)
            .map(|(_, v)| v.loc);
        let def = self.scopes[ctx.module.0 as usize]
            .visible
            .get(&var.name)
            .copied();
        let other = local.or_else(|| def.map(|d| self.def_loc(d)));
        if let Some(other) = other {
            let mut diag = Diagnostic::new(
                Code::Shadowing,
                file,
                var.span,
                format!("loop variable `{}` hides another `{}`", var.name, var.name),
            )
            .with_label("inside the loop this name means the list element")
            .with_help("rename the loop variable");
            diag.labels.push(Label {
                style: LabelStyle::Secondary,
                file: other.file,
                span: other.span,
                message: "also defined here".into(),
            });
            self.report(diag);
        }
    }

    fn expand_use(
        &mut self,
        ctx: &Ctx,
        u: &ast::Use,
        out: &mut Vec<fields::PendingStage>,
        trace: &[Loc],
    ) {
        let use_loc = self.loc(ctx, u.span);
        let Some(def) = self.template_def(ctx, &u.path) else {
            return;
        };
        if let Some(pos) = self.active.iter().position(|(d, _)| *d == def) {
            self.report_template_cycle(pos, def, use_loc);
            return;
        }
        let Def::Template(tm, item) = def else { return };
        if self.active.len() >= MAX_DEPTH {
            self.too_deep(use_loc, "templates use each other");
            return;
        }
        let loader = self.loader;
        let Some(ast) = loader.module(tm).ast.as_ref() else {
            return;
        };
        let ItemKind::Template(t) = &ast.items[item].kind else {
            return;
        };
        let Some(locals) = self.bind_args(ctx, u, t, tm) else {
            return;
        };
        let inner = Ctx {
            module: tm,
            locals,
            schema_module: ctx.schema_module,
            use_site: ctx.use_site.or(Some(use_loc)),
        };
        let mut inner_trace = vec![use_loc];
        inner_trace.extend_from_slice(trace);
        self.active.push((def, use_loc));
        self.expand_seq(&inner, &t.body, out, &inner_trace);
        self.active.pop();
    }

    fn report_template_cycle(&mut self, pos: usize, def: Def, use_loc: Loc) {
        // Each template of a cycle finds it when checked on its own: report it once.
        let mut members: Vec<Def> = self.active[pos..].iter().map(|(d, _)| *d).collect();
        members.sort_by_key(|d| self.def_loc(*d));
        if !self.reported_cycles.insert(members) {
            return;
        }
        let name = self.def_ident(def).name.clone();
        let mut names: Vec<String> = self.active[pos..]
            .iter()
            .map(|(d, _)| format!("`{}`", self.def_ident(*d).name))
            .collect();
        names.push(format!("`{name}`"));
        let mut diag = Diagnostic::new(
            Code::Recursion,
            use_loc.file,
            use_loc.span,
            format!("template `{name}` uses itself: {}", names.join(" → ")),
        )
        .with_label("recursive use")
        .with_help("templates cannot recurse; expand the repeated stages with `for` instead");
        for (d, at) in &self.active[pos + 1..] {
            diag.labels.push(Label {
                style: LabelStyle::Secondary,
                file: at.file,
                span: at.span,
                message: format!("`{}` is used here", self.def_ident(*d).name),
            });
        }
        self.report(diag);
    }

    fn template_def(&mut self, ctx: &Ctx, path: &[ast::Ident]) -> Option<Def> {
        let file = self.file_of(ctx.module);
        let (scope_module, name, via) = match path {
            [name] => (ctx.module, name, None),
            [alias, name] => {
                let target = self.alias(ctx, alias)?;
                (target, name, Some(alias))
            }
            _ => return None,
        };
        let scope = &self.scopes[scope_module.0 as usize];
        let table = if via.is_some() {
            &scope.own
        } else {
            &scope.visible
        };
        match table.get(&name.name) {
            Some(def @ Def::Template(..)) => Some(*def),
            Some(def @ Def::Let(..)) => {
                let def_loc = self.def_loc(*def);
                let mut diag = Diagnostic::new(
                    Code::TypeMismatch,
                    file,
                    name.span,
                    format!("`{}` is a `let`, not a template", name.name),
                )
                .with_label("`use` expands a template");
                diag.labels.push(Label {
                    style: LabelStyle::Secondary,
                    file: def_loc.file,
                    span: def_loc.span,
                    message: "defined here".into(),
                });
                self.report(diag);
                None
            }
            None => {
                let candidates: Vec<String> = table
                    .iter()
                    .filter(|(_, d)| matches!(d, Def::Template(..)))
                    .map(|(n, _)| n.clone())
                    .collect();
                self.unknown_name(file, name, &candidates, "template");
                None
            }
        }
    }

    fn alias(&mut self, ctx: &Ctx, alias: &ast::Ident) -> Option<ModuleId> {
        let scope = &self.scopes[ctx.module.0 as usize];
        if let Some(&m) = scope.aliases.get(&alias.name) {
            return Some(m);
        }
        if scope.broken_aliases.contains(&alias.name) {
            return None;
        }
        let candidates: Vec<String> = scope.aliases.keys().cloned().collect();
        let file = self.file_of(ctx.module);
        self.unknown_name(file, alias, &candidates, "module");
        None
    }

    fn unknown_name(
        &mut self,
        file: crate::source::FileId,
        name: &ast::Ident,
        candidates: &[String],
        what: &str,
    ) {
        let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
        let mut diag = Diagnostic::new(
            Code::UnknownName,
            file,
            name.span,
            format!("unknown {what} `{}`", name.name),
        )
        .with_label(format!("nothing named `{}` is in scope", name.name));
        match crate::syntax::suggest::closest(&name.name, &refs) {
            Some(best) => {
                diag = diag
                    .with_help(format!("did you mean `{best}`?"))
                    .with_suggestion(format!("replace with `{best}`"), name.span, best);
            }
            None if what == "module" => {
                diag = diag.with_help("import the module with `import \"...\" as NAME` first");
            }
            None => {
                diag = diag.with_help("define it with `let`, import it, or check the spelling");
            }
        }
        if self.scopes[self.module_of_file(file).0 as usize].broken_import {
            diag = diag.with_note("an import of this file failed; the name may be defined there");
        }
        self.report(diag);
    }

    fn bind_args(
        &mut self,
        ctx: &Ctx,
        u: &ast::Use,
        t: &ast::Template,
        tm: ModuleId,
    ) -> Option<Vec<(String, Val)>> {
        let file = self.file_of(ctx.module);
        let tfile = self.file_of(tm);
        let mut bound: Vec<Option<Val>> = vec![None; t.params.len()];
        let mut failed = vec![false; t.params.len()];
        let mut ok = true;
        let mut positional = 0usize;
        for arg in &u.args {
            let index = match &arg.name {
                None => {
                    let i = positional;
                    positional += 1;
                    if i >= t.params.len() {
                        self.report(
                            Diagnostic::new(
                                Code::TemplateArguments,
                                file,
                                arg.span,
                                format!(
                                    "template `{}` takes {} argument{}",
                                    t.name.name,
                                    t.params.len(),
                                    if t.params.len() == 1 { "" } else { "s" }
                                ),
                            )
                            .with_label("extra argument")
                            .with_secondary_in(
                                tfile,
                                t.name.span,
                                "template defined here",
                            ),
                        );
                        ok = false;
                        continue;
                    }
                    i
                }
                Some(name) => match t.params.iter().position(|p| p.name.name == name.name) {
                    Some(i) => i,
                    None => {
                        let names: Vec<&str> =
                            t.params.iter().map(|p| p.name.name.as_str()).collect();
                        let mut diag = Diagnostic::new(
                            Code::TemplateArguments,
                            file,
                            name.span,
                            format!(
                                "template `{}` has no parameter `{}`",
                                t.name.name, name.name
                            ),
                        )
                        .with_label("unknown parameter");
                        if let Some(best) = crate::syntax::suggest::closest(&name.name, &names) {
                            diag = diag
                                .with_help(format!("did you mean `{best}`?"))
                                .with_suggestion(format!("replace with `{best}`"), name.span, best);
                        } else {
                            diag = diag.with_help(format!(
                                "its parameters are {}",
                                crate::syntax::suggest::list(&names)
                            ));
                        }
                        self.report(diag);
                        ok = false;
                        continue;
                    }
                },
            };
            let param = &t.params[index];
            if bound[index].is_some() || failed[index] {
                self.report(
                    Diagnostic::new(
                        Code::TemplateArguments,
                        file,
                        arg.span,
                        format!("parameter `{}` is given twice", param.name.name),
                    )
                    .with_label("given again here"),
                );
                ok = false;
                continue;
            }
            let Some(ty) = self.param_type(tm, &param.ty) else {
                ok = false;
                continue;
            };
            match self.eval_expecting(ctx, &arg.value, &ty) {
                Some(v)
                    if self.expect(
                        &v,
                        &ty,
                        self.loc(ctx, arg.value.span),
                        Some((param, tfile)),
                    ) =>
                {
                    bound[index] = Some(v)
                }
                // Given but wrong: already reported, and not "missing".
                _ => {
                    failed[index] = true;
                    ok = false;
                }
            }
        }
        let mut locals = Vec::new();
        let mut missing = Vec::new();
        for ((param, value), failed) in t.params.iter().zip(bound).zip(failed) {
            if failed {
                continue;
            }
            let value = match value {
                Some(v) => v,
                None => match &param.default {
                    Some(default) => match self
                        .param_type(tm, &param.ty)
                        .and_then(|ty| self.eval_expecting(&Ctx::new(tm), default, &ty))
                    {
                        Some(v) => v,
                        None => {
                            ok = false;
                            continue;
                        }
                    },
                    None => {
                        missing.push(param.name.name.as_str());
                        continue;
                    }
                },
            };
            locals.push((param.name.name.clone(), value));
        }
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
            self.report(
                Diagnostic::new(
                    Code::TemplateArguments,
                    file,
                    u.span,
                    format!(
                        "missing argument{} {} for template `{}`",
                        if missing.len() == 1 { "" } else { "s" },
                        list.join(", "),
                        t.name.name
                    ),
                )
                .with_label("not given here")
                .with_secondary_in(tfile, t.name.span, "template defined here")
                .with_help(format!("pass them, e.g. `{} = ...`", missing[0])),
            );
            ok = false;
        }
        ok.then_some(locals)
    }

    /// A string literal's text, interpolating names.
    fn interpolate(&mut self, ctx: &Ctx, lit: &ast::StrLit) -> Option<String> {
        let mut out = String::new();
        let mut ok = true;
        for part in &lit.parts {
            match part {
                StrPart::Text(t) => out.push_str(t),
                StrPart::Interp(name) => {
                    let expr = ast::Expr {
                        kind: ast::ExprKind::Name(name.clone()),
                        span: name.span,
                    };
                    match self.eval(ctx, &expr).map(|v| v.value) {
                        Some(Value::Str(s)) => out.push_str(&s),
                        Some(Value::Int(n)) => out.push_str(&n.to_string()),
                        Some(Value::Label(k)) => out.push_str(&k),
                        Some(other) => {
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidInterpolation,
                                    self.file_of(ctx.module),
                                    name.span,
                                    format!("cannot put {} into a string", other.describe()),
                                )
                                .with_label("`${...}` takes a string or an integer"),
                            );
                            ok = false;
                        }
                        None => ok = false,
                    }
                }
            }
        }
        ok.then_some(out)
    }

    /// A string literal's text for names and namespaces (interpolation allowed).
    fn plain_string(&mut self, ctx: &Ctx, lit: &ast::StrLit) -> String {
        self.interpolate(ctx, lit).unwrap_or_default()
    }
}

fn loader_has_syntax_errors(loader: &Loader<'_>, m: ModuleId) -> bool {
    loader.module(m).has_syntax_errors
}

/// A stand-in argument of type `ty` for checking a template on its own.
fn placeholder(ty: &Type, loc: Loc) -> Val {
    let value = match ty {
        Type::Int | Type::Count => Value::Int(1),
        Type::Percent => Value::Percent(50),
        Type::Number => Value::Float(1.0),
        Type::Duration => Value::Duration(60),
        Type::String => Value::Str("placeholder".into()),
        Type::Url => Value::Str("https://placeholder.invalid".into()),
        Type::Bool => Value::Bool(true),
        Type::Selector => Value::Selector(hir::Selector {
            kind: hir::SelectorKind::All,
            loc,
        }),
        Type::Label => Value::Label("placeholder".into()),
        Type::Window => Value::Window(hir::Window {
            mode: ast::WindowMode::Allow,
            days: Vec::new(),
            hours: None,
            dates: None,
            tz: None,
        }),
        Type::List(inner) => Value::List(vec![placeholder(inner, loc)]),
    };
    Val::new(value, loc)
}
