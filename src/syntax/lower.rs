//! Lowering pest pairs to the AST, reporting the mistakes the grammar accepts on purpose.
//!
//! Lowering never stops at the first problem: each malformed literal, misspelt field or
//! C-style operator becomes one diagnostic, and the node becomes [`ExprKind::Error`] or is
//! dropped, so one run of `rollc check` shows every such mistake in a file.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::Rule;
use super::literal::{self, LiteralErrorKind};
use super::suggest;
use crate::ast::*;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span};

/// Operator precedence, loosest first: `or`, `and`, prefix `not`, then comparisons.
/// The C-style spellings share their word's level so that, after reporting them, the tree is
/// what the author meant.
static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left) | Op::infix(Rule::op_oror, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left) | Op::infix(Rule::op_andand, Assoc::Left))
        .op(Op::prefix(Rule::op_not) | Op::prefix(Rule::op_bang))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_assign, Assoc::Left)
            | Op::infix(Rule::op_in, Assoc::Left)
            | Op::infix(Rule::op_not_in, Assoc::Left)
            | Op::infix(Rule::op_matches, Assoc::Left))
});

/// Field keywords as written, for "unknown field" suggestions.
pub const FIELD_KEYWORDS: &[&str] = &[
    "select",
    "limit",
    "batch",
    "spread by",
    "max in flight",
    "order by",
    "bake",
    "bake each",
    "deadline",
    "tolerate",
    "requeue",
    "gate",
    "window",
    "on failure",
];

/// Reserved words: never identifiers (the grammar's `keyword` rule).
pub const RESERVED: &[&str] = &[
    "import", "in", "let", "label", "limit", "template", "target", "tolerate", "true", "fleet",
    "false", "for", "rollout", "revision", "requeue", "defaults", "deadline", "stage", "select",
    "spread", "use", "batch", "bake", "max", "matches", "order", "or", "on", "gate", "window",
    "and", "all", "not", "has",
];

/// Statement keywords of a rollout body.
pub const ROLLOUT_KEYWORDS: &[&str] = &[
    "target",
    "defaults",
    "stage",
    "use",
    "for",
    "revision",
    "on new revision",
];

pub(super) struct Lower<'s> {
    file: FileId,
    src: &'s str,
    diags: RefCell<Vec<Diagnostic>>,
}

/// Where a block of statements sits, for naming it in messages.
#[derive(Clone, Copy)]
enum Context {
    Stage,
    Defaults,
    Rollout,
}

impl Context {
    fn noun(self) -> &'static str {
        match self {
            Context::Stage => "stage field",
            Context::Defaults => "field",
            Context::Rollout => "rollout statement",
        }
    }

    /// Where, after the noun: "unknown field `x` in `defaults`".
    fn place(self) -> &'static str {
        match self {
            Context::Defaults => " in `defaults`",
            Context::Stage | Context::Rollout => "",
        }
    }
}

/// The next child; the grammar guarantees it exists.
fn next<'s>(pairs: &mut impl Iterator<Item = Pair<'s, Rule>>) -> Pair<'s, Rule> {
    pairs
        .next()
        .expect("grammar guarantees this child (a lowering bug otherwise)")
}

impl<'s> Lower<'s> {
    pub(super) fn new(file: FileId, src: &'s str) -> Lower<'s> {
        Lower {
            file,
            src,
            diags: RefCell::new(Vec::new()),
        }
    }

    pub(super) fn finish(self) -> Vec<Diagnostic> {
        self.diags.into_inner()
    }

    fn report(&self, diag: Diagnostic) {
        self.diags.borrow_mut().push(diag);
    }

    fn diag(&self, code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, self.file, span, message)
    }

    pub(super) fn file(&self, pair: Pair<'s, Rule>) -> File {
        let span = span_of(&pair);
        let items = pair
            .into_inner()
            .filter(|p| p.as_rule() != Rule::EOI)
            .map(|p| self.item(p))
            .collect();
        File { items, span }
    }

    fn item(&self, pair: Pair<'s, Rule>) -> Item {
        let span = span_of(&pair);
        let doc = doc_before(self.src, span.start as usize);
        let kind = match pair.as_rule() {
            Rule::import => ItemKind::Import(self.import(pair)),
            Rule::let_item => {
                let mut inner = pair.into_inner();
                let _kw = next(&mut inner);
                let name = self.ident(next(&mut inner));
                let value = self.expr(next(&mut inner));
                ItemKind::Let(Let { name, value })
            }
            Rule::template => ItemKind::Template(self.template(pair)),
            Rule::fleet => ItemKind::Fleet(self.fleet(pair)),
            Rule::rollout => ItemKind::Rollout(self.rollout(pair)),
            other => unreachable!("item rule {other:?}"),
        };
        Item { doc, kind, span }
    }

    fn import(&self, pair: Pair<'s, Rule>) -> Import {
        let mut inner = pair.into_inner();
        let _kw = next(&mut inner);
        let path = self.string(next(&mut inner));
        let alias = inner.nth(1).map(|p| self.ident(p));
        Import { path, alias }
    }

    fn template(&self, pair: Pair<'s, Rule>) -> Template {
        let mut inner = pair.into_inner();
        let _kw = next(&mut inner);
        let name = self.ident(next(&mut inner));
        let params = next(&mut inner)
            .into_inner()
            .map(|param| {
                let span = span_of(&param);
                let mut inner = param.into_inner();
                let name = self.ident(next(&mut inner));
                let ty = self.type_expr(next(&mut inner));
                let default = inner.next().map(|p| self.expr(p));
                Param {
                    name,
                    ty,
                    default,
                    span,
                }
            })
            .collect();
        let body = self.seq_block(next(&mut inner));
        Template { name, params, body }
    }

    fn type_expr(&self, pair: Pair<'s, Rule>) -> TypeExpr {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(next(&mut inner));
        let arg = inner.next().map(|p| Box::new(self.type_expr(p)));
        TypeExpr { name, arg, span }
    }

    fn seq_block(&self, pair: Pair<'s, Rule>) -> Vec<StageSeqItem> {
        pair.into_inner().map(|p| self.seq_item(p)).collect()
    }

    fn seq_item(&self, pair: Pair<'s, Rule>) -> StageSeqItem {
        let span = span_of(&pair);
        match pair.as_rule() {
            Rule::stage => {
                let doc = doc_before(self.src, span.start as usize);
                let mut inner = pair.into_inner();
                let _kw = next(&mut inner);
                let name = self.string(next(&mut inner));
                let fields = self.field_block(next(&mut inner), Context::Stage);
                StageSeqItem::Stage(Stage {
                    doc,
                    name,
                    fields,
                    span,
                })
            }
            Rule::use_stmt => {
                let mut inner = pair.into_inner();
                let _kw = next(&mut inner);
                let path = next(&mut inner)
                    .into_inner()
                    .map(|p| self.ident(p))
                    .collect();
                let args = next(&mut inner)
                    .into_inner()
                    .map(|arg| {
                        let span = span_of(&arg);
                        let inner = next(&mut arg.into_inner());
                        if inner.as_rule() == Rule::named_arg {
                            let mut named = inner.into_inner();
                            let name = self.ident(next(&mut named));
                            let value = self.expr(next(&mut named));
                            Arg {
                                name: Some(name),
                                value,
                                span,
                            }
                        } else {
                            Arg {
                                name: None,
                                value: self.expr(inner),
                                span,
                            }
                        }
                    })
                    .collect();
                StageSeqItem::Use(Use { path, args, span })
            }
            Rule::for_loop => {
                let mut inner = pair.into_inner();
                let _kw = next(&mut inner);
                let var = self.ident(next(&mut inner));
                let _in = next(&mut inner);
                let iter = self.expr(next(&mut inner));
                let body = self.seq_block(next(&mut inner));
                StageSeqItem::For(For {
                    var,
                    iter,
                    body,
                    span,
                })
            }
            other => unreachable!("stage sequence rule {other:?}"),
        }
    }

    fn fleet(&self, pair: Pair<'s, Rule>) -> FleetSchema {
        let mut inner = pair.into_inner();
        let _kw = next(&mut inner);
        let labels = inner
            .map(|decl| {
                let span = span_of(&decl);
                let doc = doc_before(self.src, span.start as usize);
                let mut inner = decl.into_inner();
                let _kw = next(&mut inner);
                let key = self.label_key(next(&mut inner));
                let parts: Vec<_> = next(&mut inner).into_inner().collect();
                let ty = match parts.first() {
                    Some(p) if p.as_rule() == Rule::ident => LabelType::Named {
                        name: self.ident(p.clone()),
                    },
                    _ => LabelType::Enum {
                        values: parts.into_iter().map(|p| self.string(p)).collect(),
                    },
                };
                LabelDecl { doc, key, ty, span }
            })
            .collect();
        FleetSchema { labels }
    }

    fn rollout(&self, pair: Pair<'s, Rule>) -> Rollout {
        let mut inner = pair.into_inner();
        let _kw = next(&mut inner);
        let name = self.string(next(&mut inner));
        let mut body = Vec::new();
        for item in inner {
            let span = span_of(&item);
            match item.as_rule() {
                Rule::target => body.push(RolloutItem::Target(self.target(item))),
                Rule::defaults => {
                    let block = next(&mut item.into_inner().skip(1));
                    body.push(RolloutItem::Defaults(Defaults {
                        fields: self.field_block(block, Context::Defaults),
                        span,
                    }));
                }
                Rule::revision => body.push(RolloutItem::Revision(RevisionPin { span })),
                Rule::on_new_revision => {
                    let policy = match item.into_inner().last().map(|p| p.as_rule()) {
                        Some(Rule::cw_restart) => NewRevisionPolicy::Restart,
                        _ => NewRevisionPolicy::Queue,
                    };
                    body.push(RolloutItem::OnNewRevision(OnNewRevision { policy, span }));
                }
                Rule::stage | Rule::use_stmt | Rule::for_loop => {
                    body.push(RolloutItem::Stages(self.seq_item(item)))
                }
                Rule::yaml_field => self.yaml_field(&item, Context::Rollout),
                Rule::unknown_field => self.unknown_field(&item, Context::Rollout),
                other => unreachable!("rollout item rule {other:?}"),
            }
        }
        Rollout { name, body }
    }

    fn target(&self, pair: Pair<'s, Rule>) -> Target {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let _kw = next(&mut inner);
        let form = next(&mut inner);
        let by_appset = form.as_rule() == Rule::target_appset;
        let mut parts = form.into_inner();
        let _word = next(&mut parts);
        let mut namespace = None;
        let mut project = None;
        let mut name = None;
        let mut selector = None;
        while let Some(part) = parts.next() {
            match part.as_rule() {
                Rule::string => name = Some(self.string(part)),
                Rule::kw_in => namespace = Some(self.string(next(&mut parts))),
                Rule::cw_project => project = Some(self.string(next(&mut parts))),
                Rule::cw_where => selector = Some(self.expr(next(&mut parts))),
                other => unreachable!("target part {other:?}"),
            }
        }
        let kind = if by_appset {
            TargetKind::AppSet {
                name: name.expect("grammar: appset has a name"),
            }
        } else {
            TargetKind::Apps {
                selector: selector.expect("grammar: apps has a selector"),
            }
        };
        Target {
            kind,
            namespace,
            project,
            span,
        }
    }

    fn field_block(&self, pair: Pair<'s, Rule>, context: Context) -> Vec<Field> {
        let mut fields: Vec<Field> = Vec::new();
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        let mut previous: Option<(Span, &'static str)> = None;
        for item in pair.into_inner() {
            match item.as_rule() {
                Rule::yaml_field => self.yaml_field(&item, context),
                Rule::unknown_field => match previous {
                    // Text left on the line of the field before: part of that field.
                    Some((prev, name))
                        if !self.src[prev.end as usize..item.as_span().start()]
                            .contains(['\n', ';']) =>
                    {
                        self.trailing_text(&item, prev, name)
                    }
                    _ => self.unknown_field(&item, context),
                },
                _ => {
                    let field = self.field(item);
                    let name = field_name(&field.kind);
                    previous = Some((field.span, name));
                    let repeatable =
                        matches!(field.kind, FieldKind::Gate(_) | FieldKind::Window { .. });
                    if !repeatable {
                        if let Some(&first) = seen.get(name) {
                            self.report(
                                self.diag(
                                    Code::DuplicateField,
                                    field.keyword_span,
                                    format!("`{name}` is set twice"),
                                )
                                .with_label("set again here")
                                .with_secondary(first, "first set here")
                                .with_help("keep one of them"),
                            );
                            continue;
                        }
                        seen.insert(name, field.keyword_span);
                    }
                    fields.push(field);
                }
            }
        }
        fields
    }

    fn field(&self, pair: Pair<'s, Rule>) -> Field {
        let span = span_of(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner().peekable();
        // The keyword is every leading keyword token: `bake each`, `max in flight`, ...
        let mut keyword_span: Option<Span> = None;
        while let Some(p) = inner.peek() {
            let r = p.as_rule();
            let is_kw = matches!(
                r,
                Rule::kw_select
                    | Rule::kw_limit
                    | Rule::kw_batch
                    | Rule::kw_spread
                    | Rule::cw_by
                    | Rule::kw_max
                    | Rule::kw_in
                    | Rule::cw_flight
                    | Rule::kw_order
                    | Rule::kw_bake
                    | Rule::cw_each
                    | Rule::kw_deadline
                    | Rule::kw_tolerate
                    | Rule::kw_requeue
                    | Rule::cw_when
                    | Rule::kw_gate
                    | Rule::kw_window
                    | Rule::kw_on
                    | Rule::cw_failure
            );
            if !is_kw {
                break;
            }
            let s = span_of(p);
            keyword_span = Some(keyword_span.map_or(s, |k| k.to(s)));
            inner.next();
        }
        let keyword_span = keyword_span.unwrap_or(span);
        let mut rest: Vec<Pair<'s, Rule>> = inner.collect();
        let kind = match rule {
            Rule::select => FieldKind::Select {
                selector: self.expr(rest.remove(0)),
            },
            Rule::limit => {
                let count = self.expr(rest.remove(0));
                let per = rest.get(1).cloned().map(|p| self.label_key(p));
                FieldKind::Limit { count, per }
            }
            Rule::batch => FieldKind::Batch {
                count: self.expr(rest.remove(0)),
            },
            Rule::spread_by => FieldKind::SpreadBy {
                key: self.label_key(rest.remove(0)),
            },
            Rule::max_in_flight => {
                let count = self.expr(rest.remove(0));
                let per = self.label_key(rest.remove(1));
                FieldKind::MaxInFlight { count, per }
            }
            Rule::order_by => {
                let key_pair = rest.remove(0);
                let key = if key_pair.as_rule() == Rule::cluster_attr {
                    self.primary(key_pair)
                } else {
                    let label = self.label_key(key_pair);
                    Expr {
                        span: label.span,
                        kind: ExprKind::Key(label),
                    }
                };
                let descending = rest.first().is_some_and(|p| p.as_rule() == Rule::cw_desc);
                FieldKind::OrderBy { key, descending }
            }
            Rule::bake => FieldKind::Bake {
                duration: self.expr(rest.remove(0)),
            },
            Rule::bake_each => FieldKind::BakeEach {
                duration: self.expr(rest.remove(0)),
            },
            Rule::deadline => FieldKind::Deadline {
                duration: self.expr(rest.remove(0)),
            },
            Rule::tolerate => FieldKind::Tolerate {
                count: self.expr(rest.remove(0)),
            },
            Rule::requeue => {
                let mut parts = rest.into_iter();
                let when = self.expr(next(&mut parts));
                let mut attempts = None;
                let mut every = None;
                while let Some(word) = parts.next() {
                    let value = self.expr(next(&mut parts));
                    match word.as_rule() {
                        Rule::cw_attempts => attempts = Some(Box::new(value)),
                        _ => every = Some(Box::new(value)),
                    }
                }
                FieldKind::Requeue {
                    when,
                    attempts,
                    every,
                }
            }
            Rule::gate => FieldKind::Gate(Box::new(self.gate(rest.remove(0), span))),
            Rule::window => {
                let mode = match rest.remove(0).as_rule() {
                    Rule::cw_deny => WindowMode::Deny,
                    _ => WindowMode::Allow,
                };
                let spec_pair = rest.remove(0);
                let spec = if spec_pair.as_rule() == Rule::window_spec {
                    let spec = self.window_spec(spec_pair);
                    Expr {
                        span: spec.span,
                        kind: ExprKind::Window(Box::new(spec)),
                    }
                } else {
                    self.expr(spec_pair)
                };
                FieldKind::Window { mode, spec }
            }
            Rule::on_failure => FieldKind::OnFailure {
                policy: match rest.first().map(|p| p.as_rule()) {
                    Some(Rule::cw_abort) => FailurePolicy::Abort,
                    Some(Rule::cw_rollback) => FailurePolicy::Rollback,
                    _ => FailurePolicy::Pause,
                },
            },
            other => unreachable!("field rule {other:?}"),
        };
        Field {
            kind,
            span,
            keyword_span,
        }
    }

    fn gate(&self, pair: Pair<'s, Rule>, span: Span) -> Gate {
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        let _word = next(&mut inner);
        let kind = match rule {
            Rule::gate_webhook => {
                let url = self.expr(next(&mut inner));
                let (mut timeout, mut retries, mut insecure) = (None, None, false);
                for option in inner {
                    match option.as_rule() {
                        Rule::webhook_timeout => {
                            timeout = Some(self.expr(next(&mut option.into_inner().skip(1))))
                        }
                        Rule::webhook_retries => {
                            retries = Some(self.expr(next(&mut option.into_inner().skip(1))))
                        }
                        _ => insecure = true,
                    }
                }
                GateKind::Webhook {
                    url,
                    timeout,
                    retries,
                    insecure,
                }
            }
            Rule::gate_metric => {
                let _prometheus = next(&mut inner);
                let url = self.expr(next(&mut inner));
                let _query = next(&mut inner);
                let query = self.expr(next(&mut inner));
                let comparison = match next(&mut inner).as_rule() {
                    Rule::cw_above => MetricComparison::Above,
                    _ => MetricComparison::Below,
                };
                let threshold = self.expr(next(&mut inner));
                let (mut window, mut every) = (None, None);
                while let Some(word) = inner.next() {
                    let value = self.expr(next(&mut inner));
                    match word.as_rule() {
                        Rule::metric_for => window = Some(value),
                        _ => every = Some(value),
                    }
                }
                GateKind::Metric {
                    url,
                    query,
                    comparison,
                    threshold,
                    window,
                    every,
                }
            }
            _ => GateKind::Approval {
                reason: inner.next().map(|p| {
                    let s = self.string(p);
                    Expr {
                        span: s.span,
                        kind: ExprKind::Str(s),
                    }
                }),
            },
        };
        Gate { kind, span }
    }

    fn yaml_field(&self, pair: &Pair<'s, Rule>, context: Context) {
        let span = span_of(pair);
        let text = pair.as_str();
        let colon = text.find(':').unwrap_or(text.len());
        let key = text[..colon].trim_end();
        let value = text[(colon + 1).min(text.len())..].trim();
        let key_span = Span::new(span.start as usize, span.start as usize + key.len());
        let keyword = suggest::field_for_alias(key, context_keywords(context));
        let mut diag = self
            .diag(
                Code::YamlStyleField,
                key_span.to(Span::new(
                    span.start as usize + colon,
                    span.start as usize + colon + 1,
                )),
                format!("YAML-style field `{key}:`"),
            )
            .with_label("fields are a keyword and a value, without `:`");
        match keyword {
            Some(keyword) => {
                let plain = |v: &str| v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                let fixed = match keyword {
                    _ if value.is_empty() => keyword.to_string(),
                    "target" => format!("target appset \"{}\"", value.trim_matches('"')),
                    "spread by" | "order by" if !plain(value) => format!("{keyword} `{value}`"),
                    _ => format!("{keyword} {value}"),
                };
                diag = diag.with_help(format!("write `{fixed}`")).with_suggestion(
                    format!("replace with `{fixed}`"),
                    span,
                    fixed,
                );
            }
            None => {
                diag = diag.with_help(format!(
                    "a {} starts with one of {}",
                    context.noun(),
                    suggest::list(context_keywords(context))
                ));
            }
        }
        self.report(diag);
    }

    /// Words after a complete field on the same line: `order by tier descending`,
    /// `tz Europe/London`, `deadline 1 h`.
    fn trailing_text(&self, pair: &Pair<'s, Rule>, field: Span, field_name: &str) {
        let text = pair.as_str().trim_end();
        let start = pair.as_span().start();
        let word_len = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(text.len());
        let word = &text[..word_len];
        let word_span = Span::new(start, start + word_len);
        let whole = Span::new(start, start + text.len());
        let mut diag = self
            .diag(
                Code::UnexpectedToken,
                word_span,
                format!("unexpected `{word}` after `{field_name}`"),
            )
            .with_label("not part of the field")
            .with_secondary(field, format!("the `{field_name}` field ends here"));
        let rest = text[word_len..].trim();
        diag = match (field_name, word) {
            ("window", "tz") if !rest.is_empty() && !rest.starts_with('"') => diag
                .with_help(format!("time zones are strings: write `tz \"{rest}\"`"))
                .with_suggestion("quote the time zone", whole, format!("tz \"{rest}\"")),
            ("order by", "descending" | "ascending") => {
                let short = &word[..word.len().min(if word == "descending" { 4 } else { 3 })];
                diag.with_help(format!("write `{short}`"))
                    .with_suggestion(format!("replace with `{short}`"), word_span, short)
            }
            ("gate", _) => diag.with_help("an approval's reason is a string: `gate approval \"SRE on call signs off\"`"),
            ("bake" | "bake each" | "deadline", _) if super::literal::classify_number(&format!("1{word}")).is_ok() => {
                let field_text = &self.src[field.range()];
                let joined = format!("{field_text}{word}");
                diag.with_help(format!("write the unit right after the number: `{joined}`"))
                    .with_suggestion("remove the space", Span::new(field.start as usize, word_span.end as usize), joined)
            }
            _ => diag.with_help("a field ends where the next keyword starts; put this on its own line or fix the field"),
        };
        self.report(diag);
    }

    fn unknown_field(&self, pair: &Pair<'s, Rule>, context: Context) {
        let text = pair.as_str();
        let start = pair.as_span().start();
        let name_len = text
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(text.len());
        let name = &text[..name_len];
        let name_span = Span::new(start, start + name_len);
        let keywords = context_keywords(context);
        let mut diag = self
            .diag(
                Code::UnknownField,
                name_span,
                format!("unknown {} `{name}`{}", context.noun(), context.place()),
            )
            .with_label(format!("not a {}", context.noun()));
        match suggest::field_for_alias(name, keywords) {
            Some(keyword) => {
                // `spred by region`: replace only the misspelt word when the rest of a
                // multi-word keyword is already written.
                let first = keyword.split(' ').next().unwrap_or(keyword);
                let rest = keyword[first.len()..].trim();
                let replacement =
                    if !rest.is_empty() && text[name_len..].trim_start().starts_with(rest) {
                        first
                    } else {
                        keyword
                    };
                diag = diag
                    .with_help(format!("did you mean `{keyword}`?"))
                    .with_suggestion(
                        format!("replace with `{replacement}`"),
                        name_span,
                        replacement,
                    );
            }
            None => {
                diag = diag.with_help(format!(
                    "a {} starts with one of {}",
                    context.noun(),
                    suggest::list(keywords)
                ));
            }
        }
        self.report(diag);
    }

    fn window_spec(&self, pair: Pair<'s, Rule>) -> WindowSpec {
        let span = span_of(&pair);
        let mut spec = WindowSpec {
            days: Vec::new(),
            hours: None,
            dates: None,
            tz: None,
            span,
        };
        let mut inner = pair.into_inner();
        while let Some(part) = inner.next() {
            match part.as_rule() {
                Rule::day_list => {
                    for range in part.into_inner() {
                        let rspan = span_of(&range);
                        let days: Vec<u8> =
                            range.into_inner().map(|d| day_index(d.as_str())).collect();
                        let from = days[0];
                        let to = *days.last().unwrap_or(&from);
                        spec.days.push(DayRange {
                            from,
                            to,
                            span: rspan,
                        });
                    }
                }
                Rule::time_range => {
                    let rspan = span_of(&part);
                    let clocks: Vec<Option<u16>> =
                        part.into_inner().map(|c| self.clock(&c)).collect();
                    if let [Some(from), Some(to)] = clocks[..] {
                        if from == to {
                            self.report(
                                self.diag(Code::InvalidWindow, rspan, "time range is empty")
                                    .with_label("starts and ends at the same minute")
                                    .with_help("for the whole day leave the time range out"),
                            );
                        } else if spec.hours.is_some() {
                            self.report(self.second_part(rspan, "time range"));
                        } else {
                            spec.hours = Some(TimeRange {
                                from,
                                to,
                                span: rspan,
                            });
                        }
                    }
                }
                Rule::date_range => {
                    let rspan = span_of(&part);
                    let dates: Vec<Option<Date>> =
                        part.into_inner().map(|d| self.date(&d)).collect();
                    let from = dates[0];
                    let to = *dates.last().unwrap_or(&from);
                    if let (Some(from), Some(to)) = (from, to) {
                        if to < from {
                            self.report(
                                self.diag(
                                    Code::InvalidWindow,
                                    rspan,
                                    "date range ends before it starts",
                                )
                                .with_label("the second date is earlier than the first")
                                .with_help("write the earlier date first: `FROM..TO`"),
                            );
                        } else if spec.dates.is_some() {
                            self.report(self.second_part(rspan, "date range"));
                        } else {
                            spec.dates = Some(DateRange {
                                from,
                                to,
                                span: rspan,
                            });
                        }
                    }
                }
                Rule::cw_tz => spec.tz = Some(self.string(next(&mut inner))),
                other => unreachable!("window part {other:?}"),
            }
        }
        spec
    }

    fn second_part(&self, span: Span, what: &str) -> Diagnostic {
        self.diag(
            Code::InvalidWindow,
            span,
            format!("a window has at most one {what}"),
        )
        .with_label(format!("second {what}"))
        .with_help("write another `window` line for another range")
    }

    fn clock(&self, pair: &Pair<'s, Rule>) -> Option<u16> {
        let text = pair.as_str();
        let (h, m) = text.split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            self.report(
                self.diag(
                    Code::InvalidWindow,
                    span_of(pair),
                    format!("`{text}` is not a time of day"),
                )
                .with_label("hours run 00–24 and minutes 00–59")
                .with_help("write times as `HH:MM`; `24:00` means midnight at the end of the day"),
            );
            return None;
        }
        Some(h * 60 + m)
    }

    fn date(&self, pair: &Pair<'s, Rule>) -> Option<Date> {
        let text = pair.as_str();
        let mut parts = text.split('-').map(|p| p.parse::<u16>().ok());
        let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days_in_month = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        if d == 0 || d > days_in_month {
            let why = if days_in_month == 0 {
                "months run 01–12".to_string()
            } else {
                format!("month {m:02} of {y} has {days_in_month} days")
            };
            self.report(
                self.diag(
                    Code::InvalidWindow,
                    span_of(pair),
                    format!("`{text}` is not a date"),
                )
                .with_label(why)
                .with_help("write dates as `YYYY-MM-DD`"),
            );
            return None;
        }
        Some(Date {
            year: y,
            month: m as u8,
            day: d as u8,
        })
    }

    fn label_key(&self, pair: Pair<'s, Rule>) -> LabelKey {
        let span = span_of(&pair);
        let (key, quoted) = match pair.as_rule() {
            Rule::backtick_key => (
                pair.into_inner()
                    .next()
                    .map_or("", |p| p.as_str())
                    .to_string(),
                true,
            ),
            _ => (pair.as_str().to_string(), false),
        };
        if let Err(why) = literal::check_label_key(&key) {
            self.report(
                self.diag(Code::InvalidLabelKey, span, format!("invalid label key `{key}`"))
                    .with_label(why)
                    .with_help("Kubernetes label keys are `[prefix/]name`: a DNS-subdomain prefix and a name of at most 63 letters, digits, `-`, `_` or `.`"),
            );
        }
        LabelKey { key, quoted, span }
    }

    fn ident(&self, pair: Pair<'s, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: span_of(&pair),
        }
    }

    fn string(&self, pair: Pair<'s, Rule>) -> StrLit {
        let span = span_of(&pair);
        let mut parts: Vec<StrPart> = Vec::new();
        let mut text = String::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::text => text.push_str(part.as_str()),
                Rule::escape => match literal::decode_escape(part.as_str()) {
                    Ok(c) => text.push(c),
                    Err(err) => self.report(
                        self.diag(Code::InvalidEscape, span_of(&part), err.message)
                            .with_label("not a valid escape")
                            .with_help("escapes are `\\\"`, `\\\\`, `\\n`, `\\t`, `\\r`, `\\$` and `\\u{HEX}`; write `\\\\` for a backslash"),
                    ),
                },
                Rule::interp => {
                    if !text.is_empty() {
                        parts.push(StrPart::Text(std::mem::take(&mut text)));
                    }
                    let name = next(&mut part.into_inner());
                    parts.push(StrPart::Interp(self.ident(name)));
                }
                other => unreachable!("string part {other:?}"),
            }
        }
        if !text.is_empty() || parts.is_empty() {
            parts.push(StrPart::Text(text));
        }
        StrLit { parts, span }
    }

    pub(super) fn expr(&self, pair: Pair<'s, Rule>) -> Expr {
        PRATT
            .map_primary(|p| self.primary(p))
            .map_prefix(|op, rhs| {
                let op_span = span_of(&op);
                if op.as_rule() == Rule::op_bang {
                    self.report(
                        self.diag(Code::CStyleOperator, op_span, "`!` is not an operator here")
                            .with_label("use `not`")
                            .with_help("selectors use words: `not`, `and`, `or`")
                            .with_suggestion("replace with `not `", op_span, "not "),
                    );
                }
                Expr {
                    span: op_span.to(rhs.span),
                    kind: ExprKind::Not(Box::new(rhs)),
                }
            })
            .map_infix(|lhs, op, rhs| self.infix(lhs, op, rhs))
            .parse(pair.into_inner())
    }

    fn infix(&self, lhs: Expr, op: Pair<'s, Rule>, rhs: Expr) -> Expr {
        let op_span = span_of(&op);
        let span = lhs.span.to(rhs.span);
        let kind = match op.as_rule() {
            Rule::op_or | Rule::op_oror | Rule::op_and | Rule::op_andand => {
                let is_or = matches!(op.as_rule(), Rule::op_or | Rule::op_oror);
                if matches!(op.as_rule(), Rule::op_oror | Rule::op_andand) {
                    let word = if is_or { "or" } else { "and" };
                    self.report(
                        self.diag(
                            Code::CStyleOperator,
                            op_span,
                            format!("`{}` is not an operator here", op.as_str()),
                        )
                        .with_label(format!("use `{word}`"))
                        .with_help("selectors use words: `not`, `and`, `or`")
                        .with_suggestion(
                            format!("replace with `{word}`"),
                            op_span,
                            word,
                        ),
                    );
                }
                // Extend the left operand's list in place: `a and b and c ...` is a left-deep
                // chain, and copying the list at every step would be quadratic.
                let mut operands = match lhs.kind {
                    ExprKind::Or(items) if is_or => items,
                    ExprKind::And(items) if !is_or => items,
                    kind => vec![Expr {
                        kind,
                        span: lhs.span,
                    }],
                };
                match rhs.kind {
                    ExprKind::Or(items) if is_or => operands.extend(items),
                    ExprKind::And(items) if !is_or => operands.extend(items),
                    kind => operands.push(Expr {
                        kind,
                        span: rhs.span,
                    }),
                }
                if is_or {
                    ExprKind::Or(operands)
                } else {
                    ExprKind::And(operands)
                }
            }
            rule => {
                if rule == Rule::op_assign {
                    self.report(
                        self.diag(
                            Code::SingleEquals,
                            op_span,
                            "`=` is assignment, not comparison",
                        )
                        .with_label("use `==` to compare")
                        .with_help("selectors compare with `==` and `!=`")
                        .with_suggestion(
                            "replace with `==`",
                            op_span,
                            "==",
                        ),
                    );
                }
                let lhs = match self.comparison_lhs(lhs, &op) {
                    Some(lhs) => lhs,
                    None => {
                        return Expr {
                            kind: ExprKind::Error,
                            span,
                        };
                    }
                };
                let (lhs, rhs) = (Box::new(lhs), Box::new(rhs));
                match rule {
                    Rule::op_in => ExprKind::In {
                        lhs,
                        negated: false,
                        rhs,
                    },
                    Rule::op_not_in => ExprKind::In {
                        lhs,
                        negated: true,
                        rhs,
                    },
                    Rule::op_ne => ExprKind::Compare {
                        lhs,
                        op: CompareOp::Ne,
                        rhs,
                    },
                    Rule::op_matches => ExprKind::Compare {
                        lhs,
                        op: CompareOp::Matches,
                        rhs,
                    },
                    _ => ExprKind::Compare {
                        lhs,
                        op: CompareOp::Eq,
                        rhs,
                    },
                }
            }
        };
        Expr { kind, span }
    }

    /// The left side of a comparison must name a label or cluster attribute.
    fn comparison_lhs(&self, lhs: Expr, op: &Pair<'s, Rule>) -> Option<Expr> {
        let op_text = op.as_str().split_whitespace().collect::<Vec<_>>().join(" ");
        match lhs.kind {
            ExprKind::Name(ident) => Some(Expr {
                span: lhs.span,
                kind: ExprKind::Key(LabelKey {
                    key: ident.name,
                    quoted: false,
                    span: ident.span,
                }),
            }),
            ExprKind::Key(_) | ExprKind::Attr(_) | ExprKind::Error => Some(lhs),
            ExprKind::Compare { .. } | ExprKind::In { .. } => {
                self.report(
                    self.diag(
                        Code::ChainedComparison,
                        span_of(op),
                        format!("comparisons cannot be chained with `{op_text}`"),
                    )
                    .with_label("second comparison")
                    .with_secondary(lhs.span, "this is already a comparison")
                    .with_help("join comparisons with `and` or `or`"),
                );
                None
            }
            _ => {
                self.report(
                    self.diag(Code::ComparisonOperand, lhs.span, format!("the left side of `{op_text}` must be a label key"))
                        .with_label("not a label key")
                        .with_help("write the label first, e.g. `region == \"eu-west-1\"`; keys that are not identifiers go in backticks"),
                );
                None
            }
        }
    }

    fn primary(&self, pair: Pair<'s, Rule>) -> Expr {
        let span = span_of(&pair);
        let kind = match pair.as_rule() {
            Rule::paren => {
                return Expr {
                    span,
                    ..self.expr(next(&mut pair.into_inner()))
                };
            }
            Rule::list => ExprKind::List(pair.into_inner().map(|p| self.expr(p)).collect()),
            Rule::window_lit => {
                let spec_pair = next(&mut pair.into_inner().skip(1));
                ExprKind::Window(Box::new(self.window_spec(spec_pair)))
            }
            Rule::has => ExprKind::Has(self.label_key(next(&mut pair.into_inner().skip(1)))),
            Rule::kw_all => ExprKind::All,
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::string => ExprKind::Str(self.string(pair)),
            Rule::number => self.number(pair.as_str(), span),
            Rule::cluster_attr => {
                let attr = next(&mut pair.into_inner());
                match attr.as_str() {
                    "name" => ExprKind::Attr(ClusterAttr::Name),
                    "server" => ExprKind::Attr(ClusterAttr::Server),
                    other => {
                        let attr_span = span_of(&attr);
                        let mut diag = self
                            .diag(
                                Code::UnknownField,
                                attr_span,
                                format!("unknown cluster attribute `{other}`"),
                            )
                            .with_label("clusters have `name` and `server`")
                            .with_help(
                                "labels are compared by key alone, e.g. `region == \"eu-west-1\"`",
                            );
                        if let Some(best) = suggest::closest(other, &["name", "server"]) {
                            diag = diag.with_suggestion(
                                format!("replace with `{best}`"),
                                attr_span,
                                best,
                            );
                        }
                        self.report(diag);
                        ExprKind::Error
                    }
                }
            }
            Rule::backtick_key => ExprKind::Key(self.label_key(pair)),
            Rule::name_ref => {
                let mut parts = pair.into_inner();
                let first = self.ident(next(&mut parts));
                match parts.next() {
                    None => ExprKind::Name(first),
                    Some(second) => ExprKind::Qualified {
                        module: first,
                        name: self.ident(second),
                    },
                }
            }
            other => unreachable!("primary rule {other:?}"),
        };
        Expr { kind, span }
    }

    fn number(&self, text: &str, span: Span) -> ExprKind {
        match literal::classify_number(text) {
            Ok(kind) => kind,
            Err(err) => {
                let (code, label) = match err.kind {
                    LiteralErrorKind::Duration => (Code::InvalidDuration, "not a valid duration"),
                    LiteralErrorKind::Percent => (
                        Code::InvalidPercent,
                        "not a whole percentage from 0% to 100%",
                    ),
                    LiteralErrorKind::Number => (Code::InvalidNumber, "not a valid number"),
                };
                let mut diag = self
                    .diag(code, span, err.message)
                    .with_label(label)
                    .with_help(err.help);
                if let Some(fixed) = err.replacement {
                    diag = diag.with_suggestion(format!("replace with `{fixed}`"), span, fixed);
                }
                self.report(diag);
                ExprKind::Error
            }
        }
    }
}

/// The `///` lines of `text` directly above `offset` (no blank line between).
pub(super) fn doc_before(text: &str, offset: usize) -> Option<Doc> {
    // Only whitespace may precede `offset` on its line; stop at the first other character, so
    // that items late on a long line cost nothing here.
    let mut line_start = 0;
    for (i, c) in text[..offset].char_indices().rev() {
        if c == '\n' {
            line_start = i + 1;
            break;
        }
        if !c.is_whitespace() {
            return None;
        }
    }
    let mut lines = Vec::new();
    let mut end = line_start;
    let mut first = None;
    while end > 0 {
        let prev_start = text[..end - 1].rfind('\n').map_or(0, |p| p + 1);
        let line = &text[prev_start..end - 1];
        let trimmed = line.trim_start();
        match trimmed.strip_prefix("///") {
            Some(rest) if !rest.starts_with('/') => {
                let rest = rest.strip_prefix(' ').unwrap_or(rest);
                lines.push(rest.trim_end().to_string());
                first = Some(prev_start + (line.len() - trimmed.len()));
            }
            _ => break,
        }
        end = prev_start;
    }
    let first = first?;
    lines.reverse();
    let last_end = line_start.saturating_sub(1);
    let last_end = if text[..last_end].ends_with('\r') {
        last_end - 1
    } else {
        last_end
    };
    Some(Doc {
        text: lines.join("\n"),
        span: Span::new(first, last_end.max(first)),
    })
}

/// The span of a pair without trailing whitespace and comments.
///
/// pest inserts implicit whitespace before each optional or repeated part of a rule, and
/// keeps it in the rule's span even when the part is absent: `bake 1h // soak` would span
/// the comment. The text after a rule's last child holds only literals (`}`, `)`, `"`),
/// whitespace and comments, so the span ends at the last literal there. Pairs without
/// children are tokens and end where they end.
fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let span = pair.as_span();
    // Fast path: a pair that ends on a significant byte ends there (the gap after its last
    // inner pair would end on that byte, or there is no gap and the inner pair ends on it).
    // Comments are blanked in pest's input, so a significant last byte is never in one.
    let input = pair.get_input().as_bytes();
    if span.end() > span.start() && !matches!(input[span.end() - 1], b' ' | b'\t' | b'\r' | b'\n') {
        return span.into();
    }
    let Some(last) = pair.clone().into_inner().next_back() else {
        return span.into();
    };
    let inner_end = span_of(&last).end as usize;
    let gap = &pair.get_input()[inner_end..span.end()];
    Span::new(span.start(), inner_end + significant_len(gap))
}

/// The length of `gap` up to its last byte that is neither whitespace nor in a comment.
fn significant_len(gap: &str) -> usize {
    let bytes = gap.as_bytes();
    let (mut i, mut end) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| i + p);
            }
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            _ => {
                i += gap[i..].chars().next().map_or(1, char::len_utf8);
                end = i;
            }
        }
    }
    end
}

fn day_index(day: &str) -> u8 {
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .position(|d| *d == day)
        .unwrap_or(0) as u8
}

fn context_keywords(context: Context) -> &'static [&'static str] {
    match context {
        Context::Stage | Context::Defaults => FIELD_KEYWORDS,
        Context::Rollout => ROLLOUT_KEYWORDS,
    }
}

fn field_name(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::Select { .. } => "select",
        FieldKind::Limit { .. } => "limit",
        FieldKind::Batch { .. } => "batch",
        FieldKind::SpreadBy { .. } => "spread by",
        FieldKind::MaxInFlight { .. } => "max in flight",
        FieldKind::OrderBy { .. } => "order by",
        FieldKind::Bake { .. } => "bake",
        FieldKind::BakeEach { .. } => "bake each",
        FieldKind::Deadline { .. } => "deadline",
        FieldKind::Tolerate { .. } => "tolerate",
        FieldKind::Requeue { .. } => "requeue",
        FieldKind::Gate(_) => "gate",
        FieldKind::Window { .. } => "window",
        FieldKind::OnFailure { .. } => "on failure",
    }
}
