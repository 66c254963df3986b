//! Evaluating expressions: literals, names, lists, windows and selectors, with the fleet
//! schema checked on every label a selector names.

use super::value::{Type, Val, Value};
use super::{Checker, Ctx};
use crate::ast::{self, CompareOp, ExprKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::hir::{self, Attr, Loc, SchemaType, Selector, SelectorKind};
use crate::syntax::suggest;

impl Checker<'_, '_> {
    /// The value of `expr`, or `None` after reporting why it has none.
    pub(super) fn eval(&mut self, ctx: &Ctx, expr: &ast::Expr) -> Option<Val> {
        let loc = self.loc(ctx, expr.span);
        let value = match &expr.kind {
            ExprKind::Int(n) => Value::Int(*n),
            ExprKind::Float(f) => Value::Float(*f),
            ExprKind::Percent(p) => Value::Percent(*p),
            ExprKind::Duration(d) => Value::Duration(*d),
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Str(lit) => Value::Str(self.interpolate(ctx, lit)?),
            ExprKind::List(items) => {
                let mut values = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in items {
                    match self.eval(ctx, item) {
                        Some(v) => values.push(v),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                Value::List(values)
            }
            ExprKind::Name(name) => return self.name(ctx, name),
            ExprKind::Qualified { module, name } => {
                let target = self.alias(ctx, module)?;
                let def = self.scopes[target.0 as usize].own.get(&name.name).copied();
                return match def {
                    Some(def @ super::Def::Let(..)) => self.via(def, name, loc),
                    Some(super::Def::Template(..)) => {
                        self.template_as_value(ctx, name);
                        None
                    }
                    None => {
                        let candidates: Vec<String> =
                            self.scopes[target.0 as usize].own.keys().cloned().collect();
                        let file = self.file_of(ctx.module);
                        self.unknown_name(
                            file,
                            name,
                            &candidates,
                            &format!("name in `{}`", module.name),
                        );
                        None
                    }
                };
            }
            ExprKind::Key(key) => Value::Label(key.key.clone()),
            ExprKind::Attr(attr) => {
                let what = match attr {
                    ast::ClusterAttr::Name => "cluster.name",
                    ast::ClusterAttr::Server => "cluster.server",
                };
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        loc.file,
                        loc.span,
                        format!("`{what}` can only be compared"),
                    )
                    .with_label("not a value on its own")
                    .with_help(format!("write e.g. `{what} matches \"prod-*\"`")),
                );
                return None;
            }
            ExprKind::Window(spec) => Value::Window(self.window(ctx, spec)?),
            ExprKind::Error => return None,
            ExprKind::All
            | ExprKind::Compare { .. }
            | ExprKind::In { .. }
            | ExprKind::Has(_)
            | ExprKind::Not(_)
            | ExprKind::And(_)
            | ExprKind::Or(_) => Value::Selector(self.selector_expr(ctx, expr)?),
        };
        Some(Val::new(value, loc))
    }

    /// Like [`Checker::eval`], where the position expects `ty`: a bare name that nothing
    /// defines is a label key where a `label` is expected (`domain: label = region`).
    pub(super) fn eval_expecting(&mut self, ctx: &Ctx, expr: &ast::Expr, ty: &Type) -> Option<Val> {
        if *ty == Type::Label
            && let ExprKind::Name(name) = &expr.kind
        {
            let bound = ctx.locals.iter().any(|(n, _)| *n == name.name)
                || self.scopes[ctx.module.0 as usize]
                    .visible
                    .contains_key(&name.name);
            if !bound {
                return Some(Val::new(
                    Value::Label(name.name.clone()),
                    self.loc(ctx, expr.span),
                ));
            }
        }
        self.eval(ctx, expr)
    }

    fn name(&mut self, ctx: &Ctx, name: &ast::Ident) -> Option<Val> {
        let loc = self.loc(ctx, name.span);
        if let Some((_, v)) = ctx.locals.iter().rev().find(|(n, _)| *n == name.name) {
            let mut v = v.clone();
            v.via = Some((name.name.clone(), v.loc));
            v.loc = loc;
            return Some(v);
        }
        let def = self.scopes[ctx.module.0 as usize]
            .visible
            .get(&name.name)
            .copied();
        match def {
            Some(def @ super::Def::Let(..)) => self.via(def, name, loc),
            Some(super::Def::Template(..)) => {
                self.template_as_value(ctx, name);
                None
            }
            None => {
                let scope = &self.scopes[ctx.module.0 as usize];
                let mut candidates: Vec<String> = scope.visible.keys().cloned().collect();
                candidates.extend(ctx.locals.iter().map(|(n, _)| n.clone()));
                let file = self.file_of(ctx.module);
                self.unknown_name(file, name, &candidates, "name");
                None
            }
        }
    }

    fn via(&mut self, def: super::Def, name: &ast::Ident, loc: Loc) -> Option<Val> {
        let mut v = self.let_value(def, Some(loc))?;
        v.via = Some((name.name.clone(), self.def_loc(def)));
        v.loc = loc;
        Some(v)
    }

    fn template_as_value(&mut self, ctx: &Ctx, name: &ast::Ident) {
        let file = self.file_of(ctx.module);
        self.report(
            Diagnostic::new(
                Code::TypeMismatch,
                file,
                name.span,
                format!("`{}` is a template, not a value", name.name),
            )
            .with_label("templates expand to stages")
            .with_help(format!("use it as a statement: `use {}(...)`", name.name)),
        );
    }

    /// Checks `v` against `ty`, reporting a mismatch at `at`. `param` names the template
    /// parameter being bound, for a label on its declaration.
    pub(super) fn expect(
        &mut self,
        v: &Val,
        ty: &Type,
        at: Loc,
        param: Option<(&ast::Param, crate::source::FileId)>,
    ) -> bool {
        if v.value.is(ty) {
            return true;
        }
        let mut diag = self.mismatch_diag(v, ty, at);
        if let Some((param, file)) = param {
            diag = diag.with_secondary_in(
                file,
                param.ty.span,
                format!("parameter `{}` is declared here", param.name.name),
            );
        }
        self.report(diag);
        false
    }

    /// Reports that `v` is not a `ty`.
    pub(super) fn mismatch(&mut self, v: &Val, ty: &Type, at: Loc) {
        let diag = self.mismatch_diag(v, ty, at);
        self.report(diag);
    }

    fn mismatch_diag(&self, v: &Val, ty: &Type, at: Loc) -> Diagnostic {
        let mut diag = Diagnostic::new(
            Code::TypeMismatch,
            at.file,
            at.span,
            format!("expected {}, found {}", ty.describe(), v.value.describe()),
        )
        .with_label(format!("expected {}", ty.describe()));
        if let Some((name, def)) = &v.via
            && *def != at
        {
            diag = diag.with_secondary_in(
                def.file,
                def.span,
                format!("`{name}` is defined here as {}", v.value.describe()),
            );
        }
        match (&v.value, ty) {
            (Value::Int(n), Type::String) => {
                diag = diag.with_help(format!("label values are strings: write `\"{n}\"`"));
                if v.via.is_none() {
                    diag = diag.with_suggestion("quote the value", at.span, format!("\"{n}\""));
                }
            }
            (Value::Bool(b), Type::String) => {
                diag = diag.with_help(format!("label values are strings: write `\"{b}\"`"));
                if v.via.is_none() {
                    diag = diag.with_suggestion("quote the value", at.span, format!("\"{b}\""));
                }
            }
            (Value::Int(n), Type::Duration) => {
                diag = diag.with_help(format!("give the unit, e.g. `{n}m` or `{n}s`"));
            }
            (Value::Str(_), Type::Selector) => {
                diag = diag.with_help(
                    "a selector compares a label with a value, e.g. `region == \"eu-west-1\"`",
                );
            }
            (Value::Duration(_), Type::Count) => {
                diag = diag
                    .with_help("a count is a number of clusters (`2`) or a share of them (`25%`)");
            }
            _ => {}
        }
        diag
    }

    /// A selector for a stage, checked against the fleet schema.
    pub(super) fn selector(&mut self, ctx: &Ctx, expr: &ast::Expr) -> Option<Selector> {
        let v = self.eval(ctx, expr)?;
        match v.value {
            Value::Selector(s) => Some(s),
            _ => {
                let at = self.loc(ctx, expr.span);
                self.mismatch(&v, &Type::Selector, at);
                None
            }
        }
    }

    /// A selector over Application labels (`target apps where`), which the cluster schema
    /// does not describe.
    pub(super) fn selector_no_schema(&mut self, ctx: &Ctx, expr: &ast::Expr) -> Option<Selector> {
        let was = std::mem::replace(&mut self.skip_schema, true);
        let s = self.selector(ctx, expr);
        self.skip_schema = was;
        s
    }

    fn selector_expr(&mut self, ctx: &Ctx, expr: &ast::Expr) -> Option<Selector> {
        let loc = self.loc(ctx, expr.span);
        let kind = match &expr.kind {
            ExprKind::All => SelectorKind::All,
            ExprKind::Has(key) => {
                let key = self.label_key(ctx, key)?;
                SelectorKind::Has { key }
            }
            ExprKind::Not(inner) => SelectorKind::Not {
                inner: Box::new(self.selector(ctx, inner)?),
            },
            ExprKind::And(items) | ExprKind::Or(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in items {
                    match self.selector(ctx, item) {
                        Some(s) => out.push(s),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                if matches!(expr.kind, ExprKind::And(_)) {
                    SelectorKind::And { all: out }
                } else {
                    SelectorKind::Or { any: out }
                }
            }
            ExprKind::Compare { lhs, op, rhs } => {
                let (key, schema) = self.attr(ctx, lhs)?;
                let value = self.string_value(ctx, rhs)?;
                if *op != CompareOp::Matches {
                    self.check_value(
                        ctx,
                        schema.as_ref(),
                        &value,
                        self.loc(ctx, rhs.span),
                        literal(rhs),
                    );
                }
                match op {
                    CompareOp::Eq => SelectorKind::Eq { key, value },
                    CompareOp::Ne => SelectorKind::Ne { key, value },
                    CompareOp::Matches => SelectorKind::Matches {
                        key,
                        pattern: value,
                    },
                }
            }
            ExprKind::In { lhs, negated, rhs } => {
                let (key, schema) = self.attr(ctx, lhs)?;
                let list = self.eval(ctx, rhs)?;
                let Value::List(items) = &list.value else {
                    let at = self.loc(ctx, rhs.span);
                    self.mismatch(&list, &Type::List(Box::new(Type::String)), at);
                    return None;
                };
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    match &item.value {
                        Value::Str(s) => {
                            self.check_value(ctx, schema.as_ref(), s, item.loc, item.via.is_none());
                            values.push(s.clone());
                        }
                        _ => {
                            self.mismatch(item, &Type::String, item.loc);
                            return None;
                        }
                    }
                }
                if *negated {
                    SelectorKind::NotIn { key, values }
                } else {
                    SelectorKind::In { key, values }
                }
            }
            _ => return self.selector(ctx, expr),
        };
        Some(Selector { kind, loc })
    }

    fn string_value(&mut self, ctx: &Ctx, expr: &ast::Expr) -> Option<String> {
        let v = self.eval(ctx, expr)?;
        match v.value {
            Value::Str(s) => Some(s),
            _ => {
                let at = self.loc(ctx, expr.span);
                self.mismatch(&v, &Type::String, at);
                None
            }
        }
    }

    /// The left side of a comparison: a label (checked against the schema) or a cluster
    /// attribute.
    fn attr(&mut self, ctx: &Ctx, lhs: &ast::Expr) -> Option<(Attr, Option<hir::SchemaLabel>)> {
        match &lhs.kind {
            ExprKind::Key(key) => {
                let label = self.label_key(ctx, key)?;
                let schema = self.schema_label(ctx, &label);
                Some((Attr::Label(label), schema))
            }
            ExprKind::Attr(a) => Some((Attr::Cluster(*a), None)),
            _ => None,
        }
    }

    fn schema_label(&self, ctx: &Ctx, key: &str) -> Option<hir::SchemaLabel> {
        self.scopes[ctx.schema_module.0 as usize]
            .schema
            .as_ref()
            .and_then(|s| s.get(key).cloned())
    }

    /// A label key as written; an unquoted name bound to a `label` value (a template
    /// parameter) stands for that value. Checked against the schema.
    pub(super) fn label_key(&mut self, ctx: &Ctx, key: &ast::LabelKey) -> Option<String> {
        let mut resolved = key.key.clone();
        if !key.quoted {
            if let Some((_, v)) = ctx.locals.iter().rev().find(|(n, _)| *n == key.key) {
                if let Value::Label(k) = &v.value {
                    resolved = k.clone();
                }
            } else if let Some(super::Def::Let(m, item)) = self.scopes[ctx.module.0 as usize]
                .visible
                .get(&key.key)
                .copied()
            {
                // Only `let zone = `topology.kubernetes.io/zone`` names a key; reading the
                // definition (not evaluating it) keeps `let canary = has canary` acyclic.
                let loader = self.loader;
                if let Some(ast::ItemKind::Let(binding)) =
                    loader.module(m).ast.as_ref().map(|a| &a.items[item].kind)
                    && let ExprKind::Key(k) = &binding.value.kind
                {
                    resolved = k.key.clone();
                }
            }
        }
        let at = self.loc(ctx, key.span);
        self.check_key(ctx, &resolved, at, key.quoted || resolved == key.key);
        Some(resolved)
    }

    fn check_key(&mut self, ctx: &Ctx, key: &str, at: Loc, written_here: bool) {
        if self.dry_run || self.skip_schema {
            return;
        }
        let Some(schema) = self.scopes[ctx.schema_module.0 as usize].schema.as_ref() else {
            return;
        };
        if schema.get(key).is_some() {
            return;
        }
        let keys: Vec<&str> = schema.labels.iter().map(|l| l.key.as_str()).collect();
        let mut diag = Diagnostic::new(
            Code::UnknownLabel,
            at.file,
            at.span,
            format!("label `{key}` is not in the fleet schema"),
        )
        .with_label("unknown label key");
        match suggest::closest(key, &keys) {
            Some(best) => {
                diag = diag.with_help(format!("did you mean `{best}`?"));
                if written_here {
                    let replacement = if best.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        best.to_string()
                    } else {
                        format!("`{best}`")
                    };
                    diag = diag.with_suggestion(
                        format!("replace with `{best}`"),
                        at.span,
                        replacement,
                    );
                }
            }
            None => {
                diag = diag.with_help(format!("the schema declares {}; add `label {key}: string` to it if the fleet has this label", suggest::list(&keys)));
            }
        }
        if let Some(site) = ctx.use_site {
            diag = diag.with_secondary_in(site.file, site.span, "in the template used here");
        }
        self.report(diag);
    }

    /// Checks a label value against the schema's declaration of its key.
    fn check_value(
        &mut self,
        ctx: &Ctx,
        label: Option<&hir::SchemaLabel>,
        value: &str,
        at: Loc,
        literal: bool,
    ) {
        if self.dry_run || self.skip_schema {
            return;
        }
        let Some(label) = label else { return };
        let (ok, allowed): (bool, Vec<&str>) = match &label.ty {
            SchemaType::String => (true, Vec::new()),
            SchemaType::Bool => (matches!(value, "true" | "false"), vec!["true", "false"]),
            SchemaType::Int => (
                !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
                Vec::new(),
            ),
            SchemaType::Enum(values) => (
                values.iter().any(|v| v == value),
                values.iter().map(String::as_str).collect(),
            ),
        };
        if ok {
            return;
        }
        let mut diag = Diagnostic::new(
            Code::UnknownLabelValue,
            at.file,
            at.span,
            format!("unknown value `{value}` for label `{}`", label.key),
        )
        .with_label(match &label.ty {
            SchemaType::Int => "the schema declares this label as `int`".to_string(),
            _ => "not a value the schema allows".to_string(),
        })
        .with_secondary_in(label.loc.file, label.loc.span, "declared here");
        match suggest::closest(value, &allowed) {
            Some(best) => {
                diag = diag.with_help(format!("did you mean `{best}`?"));
                if literal {
                    diag = diag.with_suggestion(
                        format!("replace with `\"{best}\"`"),
                        at.span,
                        format!("\"{best}\""),
                    );
                }
            }
            None if !allowed.is_empty() => {
                diag = diag.with_help(format!("`{}` takes {}", label.key, suggest::list(&allowed)));
            }
            None => {}
        }
        if let Some(site) = ctx.use_site {
            diag = diag.with_secondary_in(site.file, site.span, "in the template used here");
        }
        self.report(diag);
    }

    /// A window value from its literal, with the time zone checked.
    pub(super) fn window(&mut self, ctx: &Ctx, spec: &ast::WindowSpec) -> Option<hir::Window> {
        let tz = match &spec.tz {
            Some(lit) => {
                let name = self.interpolate(ctx, lit)?;
                if jiff::tz::db().get(&name).is_err() {
                    let at = self.loc(ctx, lit.span);
                    let names: Vec<String> =
                        jiff::tz::db().available().map(|n| n.to_string()).collect();
                    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                    let mut diag = Diagnostic::new(
                        Code::UnknownTimeZone,
                        at.file,
                        at.span,
                        format!("unknown time zone `{name}`"),
                    )
                    .with_label("not in the IANA time zone database");
                    // Zone names share long prefixes (`Pacific/...`): only a close match helps.
                    match suggest::closest_at(&name, &refs, 0.8) {
                        Some(best) => {
                            diag = diag
                                .with_help(format!("did you mean `{best}`?"))
                                .with_suggestion(
                                    format!("replace with `\"{best}\"`"),
                                    at.span,
                                    format!("\"{best}\""),
                                );
                        }
                        None => {
                            diag = diag.with_help("use an IANA name such as `Europe/London`, `America/New_York` or `UTC`");
                        }
                    }
                    self.report(diag);
                    return None;
                }
                Some(name)
            }
            None => None,
        };
        Some(hir::Window {
            mode: ast::WindowMode::Allow,
            days: spec.days.iter().map(|d| (d.from, d.to)).collect(),
            hours: spec.hours.map(|h| (h.from, h.to)),
            dates: spec.dates.map(|d| (d.from, d.to)),
            tz,
        })
    }
}

/// Whether the expression is written in place (so a fix can replace it).
fn literal(expr: &ast::Expr) -> bool {
    matches!(expr.kind, ExprKind::Str(_))
}
