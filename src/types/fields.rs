//! Stage fields: each field's value checked against its type and range, `defaults` merged,
//! and the finished [`hir::Stage`].

use super::value::{Type, Val, Value};
use super::{Checker, Ctx};
use crate::ast::{self, FieldKind, GateKind};
use crate::diagnostics::{Code, Diagnostic};
use crate::hir::{self, Count, Limit, Loc, MaxInFlight, OrderBy, Requeue, Spanned};
use crate::syntax::literal::format_duration;

/// The checked fields of a stage or of `defaults`.
#[derive(Clone, Debug, Default)]
pub(super) struct Fields {
    select: Option<hir::Selector>,
    /// A `select` was written but had errors (already reported).
    select_failed: bool,
    limit: Option<Limit>,
    batch: Option<Spanned<Count>>,
    spread_by: Option<Spanned<String>>,
    max_in_flight: Option<MaxInFlight>,
    order_by: Option<Spanned<OrderBy>>,
    bake: Option<Spanned<u64>>,
    bake_each: Option<Spanned<u64>>,
    deadline: Option<Spanned<u64>>,
    tolerate: Option<Spanned<Count>>,
    requeue: Option<Requeue>,
    gates: Vec<Spanned<hir::Gate>>,
    windows: Vec<Spanned<hir::Window>>,
    on_failure: Option<Spanned<ast::FailurePolicy>>,
}

/// A stage before `defaults` are applied.
pub(super) struct PendingStage {
    pub name: String,
    pub loc: Loc,
    pub doc: Option<String>,
    pub expanded_from: Vec<Loc>,
    pub fields: Fields,
}

impl Checker<'_, '_> {
    pub(super) fn fields(&mut self, ctx: &Ctx, fields: &[ast::Field]) -> Fields {
        let mut out = Fields::default();
        for field in fields {
            self.field(ctx, field, &mut out);
        }
        out
    }

    fn field(&mut self, ctx: &Ctx, field: &ast::Field, out: &mut Fields) {
        let floc = self.loc(ctx, field.span);
        match &field.kind {
            FieldKind::Select { selector } => {
                out.select = self.selector(ctx, selector);
                out.select_failed = out.select.is_none();
            }
            FieldKind::Limit { count, per } => {
                let Some(count) = self.count(ctx, count) else {
                    return;
                };
                let per = match per {
                    Some(key) => {
                        let Some(k) = self.label_key(ctx, key) else {
                            return;
                        };
                        if count.value == Count::Int(0) || count.value == Count::Percent(0) {
                            self.out_of_range(
                                count.loc,
                                "`limit ... per` must be at least 1",
                                "to hold the stage, write `limit 0` without `per`",
                            );
                        }
                        Some(Spanned::new(k, self.loc(ctx, key.span)))
                    }
                    None => None,
                };
                out.limit = Some(Limit { count, per });
            }
            FieldKind::Batch { count } => out.batch = self.count(ctx, count),
            FieldKind::SpreadBy { key } => {
                out.spread_by = self
                    .label_key(ctx, key)
                    .map(|k| Spanned::new(k, self.loc(ctx, key.span)))
            }
            FieldKind::MaxInFlight { count, per } => {
                let Some(n) = self.int(ctx, count) else {
                    return;
                };
                if n.value == 0 && !self.dry_run {
                    self.out_of_range(
                        n.loc,
                        "`max in flight` must be at least 1",
                        "a cap of 0 would stop the stage; use `batch 0` to hold it on purpose",
                    );
                }
                let Some(k) = self.label_key(ctx, per) else {
                    return;
                };
                out.max_in_flight = Some(MaxInFlight {
                    count: n,
                    per: Spanned::new(k, self.loc(ctx, per.span)),
                });
            }
            FieldKind::OrderBy { key, descending } => {
                let attr = match &key.kind {
                    ast::ExprKind::Attr(a) => Some(hir::Attr::Cluster(*a)),
                    ast::ExprKind::Key(k) => self.label_key(ctx, k).map(hir::Attr::Label),
                    _ => None,
                };
                out.order_by = attr.map(|key| {
                    Spanned::new(
                        OrderBy {
                            key,
                            descending: *descending,
                        },
                        floc,
                    )
                });
            }
            FieldKind::Bake { duration } => out.bake = self.duration(ctx, duration, "bake"),
            FieldKind::BakeEach { duration } => {
                out.bake_each = self.duration(ctx, duration, "bake each")
            }
            FieldKind::Deadline { duration } => {
                out.deadline = self.duration(ctx, duration, "deadline")
            }
            FieldKind::Tolerate { count } => out.tolerate = self.count(ctx, count),
            FieldKind::Requeue {
                when,
                attempts,
                every,
            } => {
                let when = self.selector(ctx, when);
                let attempts = match attempts {
                    Some(a) => {
                        let n = self.int(ctx, a);
                        if let Some(n) = &n
                            && n.value == 0
                            && !self.dry_run
                        {
                            self.out_of_range(
                                n.loc,
                                "`attempts` must be at least 1",
                                "requeue at least once, or remove `requeue`",
                            );
                        }
                        n
                    }
                    None => None,
                };
                let every = match every {
                    Some(e) => self.duration(ctx, e, "every"),
                    None => None,
                };
                if let Some(when) = when {
                    out.requeue = Some(Requeue {
                        when,
                        attempts,
                        every,
                        loc: floc,
                    });
                }
            }
            FieldKind::Gate(gate) => {
                if let Some(g) = self.gate(ctx, gate) {
                    out.gates.push(Spanned::new(g, floc));
                }
            }
            FieldKind::Window { mode, spec } => {
                let Some(v) = self.eval(ctx, spec) else {
                    return;
                };
                match v.value {
                    Value::Window(mut w) => {
                        w.mode = *mode;
                        out.windows.push(Spanned::new(w, floc));
                    }
                    _ => self.mismatch(&v, &Type::Window, self.loc(ctx, spec.span)),
                }
            }
            FieldKind::OnFailure { policy } => out.on_failure = Some(Spanned::new(*policy, floc)),
        }
    }

    fn typed(&mut self, ctx: &Ctx, expr: &ast::Expr, ty: &Type) -> Option<Val> {
        let v = self.eval(ctx, expr)?;
        let at = self.loc(ctx, expr.span);
        self.expect(&v, ty, at, None).then_some(v)
    }

    fn count(&mut self, ctx: &Ctx, expr: &ast::Expr) -> Option<Spanned<Count>> {
        let v = self.typed(ctx, expr, &Type::Count)?;
        let count = match v.value {
            Value::Int(n) => Count::Int(n),
            Value::Percent(p) => Count::Percent(p),
            _ => return None,
        };
        Some(Spanned::new(count, v.loc))
    }

    fn int(&mut self, ctx: &Ctx, expr: &ast::Expr) -> Option<Spanned<u64>> {
        let v = self.typed(ctx, expr, &Type::Int)?;
        match v.value {
            Value::Int(n) => Some(Spanned::new(n, v.loc)),
            _ => None,
        }
    }

    fn duration(&mut self, ctx: &Ctx, expr: &ast::Expr, what: &str) -> Option<Spanned<u64>> {
        let v = self.typed(ctx, expr, &Type::Duration)?;
        let Value::Duration(secs) = v.value else {
            return None;
        };
        if secs == 0 && !self.dry_run {
            self.out_of_range(
                v.loc,
                &format!("`{what}` must be longer than 0s"),
                "remove the field if it should not apply",
            );
        }
        Some(Spanned::new(secs, v.loc))
    }

    fn string(&mut self, ctx: &Ctx, expr: &ast::Expr, ty: &Type) -> Option<Spanned<String>> {
        let v = self.typed(ctx, expr, ty)?;
        match v.value {
            Value::Str(s) => Some(Spanned::new(s, v.loc)),
            _ => None,
        }
    }

    fn out_of_range(&mut self, at: Loc, message: &str, help: &str) {
        self.report(
            Diagnostic::new(Code::OutOfRange, at.file, at.span, message)
                .with_label("out of range")
                .with_help(help),
        );
    }

    fn url(&mut self, ctx: &Ctx, expr: &ast::Expr) -> Option<String> {
        let url = self.string(ctx, expr, &Type::Url)?;
        if !self.dry_run
            && let Err(why) = check_url(&url.value)
        {
            self.report(
                Diagnostic::new(
                    Code::InvalidUrl,
                    url.loc.file,
                    url.loc.span,
                    format!("`{}` is not a usable URL", url.value),
                )
                .with_label(why)
                .with_help("write an absolute URL such as `https://prometheus.example.com`"),
            );
        }
        Some(url.value)
    }

    fn gate(&mut self, ctx: &Ctx, gate: &ast::Gate) -> Option<hir::Gate> {
        Some(match &gate.kind {
            GateKind::Webhook {
                url,
                timeout,
                retries,
                insecure,
            } => {
                let url = self.url(ctx, url)?;
                let timeout = match timeout {
                    Some(t) => Some(self.duration(ctx, t, "timeout")?.value),
                    None => None,
                };
                let retries = match retries {
                    Some(r) => Some(self.int(ctx, r)?.value),
                    None => None,
                };
                hir::Gate::Webhook {
                    url,
                    timeout,
                    retries,
                    insecure: *insecure,
                }
            }
            GateKind::Metric {
                url,
                query,
                comparison,
                threshold,
                window,
                every,
            } => {
                let url = self.url(ctx, url)?;
                let query = self.string(ctx, query, &Type::String)?.value;
                let t = self.typed(ctx, threshold, &Type::Number)?;
                let threshold = match t.value {
                    Value::Int(n) => n as f64,
                    Value::Float(f) => f,
                    _ => return None,
                };
                let window = match window {
                    Some(w) => Some(self.duration(ctx, w, "for")?),
                    None => None,
                };
                let every = match every {
                    Some(e) => Some(self.duration(ctx, e, "every")?),
                    None => None,
                };
                if let (Some(w), Some(e)) = (&window, &every)
                    && e.value > w.value
                    && !self.dry_run
                {
                    self.report(
                        Diagnostic::new(
                            Code::OutOfRange,
                            e.loc.file,
                            e.loc.span,
                            format!(
                                "sampling every {} is longer than the {} window",
                                format_duration(e.value),
                                format_duration(w.value)
                            ),
                        )
                        .with_label("sampled less than once per window")
                        .with_secondary_in(w.loc.file, w.loc.span, "the window")
                        .with_help("sample at least once within the `for` window"),
                    );
                }
                hir::Gate::Metric {
                    url,
                    query,
                    comparison: *comparison,
                    threshold,
                    window: window.map(|w| w.value),
                    every: every.map(|e| e.value),
                }
            }
            GateKind::Approval { reason } => hir::Gate::Approval {
                reason: match reason {
                    Some(r) => Some(self.string(ctx, r, &Type::String)?.value),
                    None => None,
                },
            },
        })
    }

    /// Applies `defaults` to a stage and checks what only the whole stage can tell.
    /// `complete` is false when the stage's file has syntax errors, so a missing `select`
    /// may just have been unreadable.
    pub(super) fn finish_stage(
        &mut self,
        pending: PendingStage,
        defaults: &Fields,
        complete: bool,
    ) -> hir::Stage {
        let PendingStage {
            name,
            loc,
            doc,
            expanded_from,
            fields: f,
        } = pending;
        // `defaults` fill what the stage leaves unset: each is cloned only where it is used.
        let d = defaults;
        let gates = after_defaults(&d.gates, f.gates);
        let windows = after_defaults(&d.windows, f.windows);
        let stage = hir::Stage {
            name,
            loc,
            doc,
            expanded_from,
            select: f.select.or_else(|| d.select.clone()),
            limit: f.limit.or_else(|| d.limit.clone()),
            batch: f.batch.or_else(|| d.batch.clone()),
            spread_by: f.spread_by.or_else(|| d.spread_by.clone()),
            max_in_flight: f.max_in_flight.or_else(|| d.max_in_flight.clone()),
            order_by: f.order_by.or_else(|| d.order_by.clone()),
            bake: f.bake.or_else(|| d.bake.clone()),
            bake_each: f.bake_each.or_else(|| d.bake_each.clone()),
            deadline: f.deadline.or_else(|| d.deadline.clone()),
            tolerate: f.tolerate.or_else(|| d.tolerate.clone()),
            requeue: f.requeue.or_else(|| d.requeue.clone()),
            gates,
            windows,
            on_failure: f.on_failure.or_else(|| d.on_failure.clone()),
        };
        if complete && stage.select.is_none() && !f.select_failed && !d.select_failed {
            self.report(
                Diagnostic::new(Code::MissingSelect, loc.file, loc.span, format!("stage `{}` has no `select`", stage.name))
                    .with_label("which clusters does this stage take?")
                    .with_help("add `select SELECTOR` to the stage (or to `defaults`); `select all` takes every cluster left"),
            );
        }
        if let (Some(deadline), Some(bake_each)) = (&stage.deadline, &stage.bake_each)
            && deadline.value <= bake_each.value
        {
            self.report(
                    Diagnostic::new(
                        Code::DeadlineTooShort,
                        deadline.loc.file,
                        deadline.loc.span,
                        format!(
                            "deadline {} is not longer than bake each {}",
                            format_duration(deadline.value),
                            format_duration(bake_each.value)
                        ),
                    )
                    .with_label("every cluster would fail its deadline while it soaks")
                    .with_secondary_in(bake_each.loc.file, bake_each.loc.span, "bake each set here")
                    .with_note(format!("stage `{}`", stage.name))
                    .with_help("the deadline covers sync, health and the per-cluster soak: make it longer than `bake each`"),
                );
        }
        stage
    }
}

/// The defaults' gates or windows, then the stage's own.
fn after_defaults<T: Clone>(defaults: &[T], own: Vec<T>) -> Vec<T> {
    if defaults.is_empty() {
        return own;
    }
    let mut all = defaults.to_vec();
    all.extend(own);
    all
}

/// Checks that `url` is an absolute http(s) URL with a host. Written by hand: rollc needs
/// only the scheme and host shape, and a full URL crate would add IDNA tables to the build.
pub fn check_url(url: &str) -> Result<(), &'static str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("only `http://` and `https://` URLs are supported")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') || host.starts_with('[') => {
            if !port.is_empty() && !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err("the port is not a number");
            }
            h
        }
        _ => host,
    };
    if host.is_empty() {
        return Err("the URL has no host");
    }
    if url.chars().any(char::is_whitespace) {
        return Err("URLs cannot contain spaces");
    }
    Ok(())
}
