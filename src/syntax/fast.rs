//! A hand-written recursive-descent parser for well-formed files: the fast path of
//! [`parse`](super::parse).
//!
//! pest's per-rule machinery (call tracking, stack snapshots, the pair queue) and walking the
//! pair tree again to lower it cost far more than the language needs: most files are clean, and
//! for them this parser builds the AST straight from the bytes, several times faster.
//!
//! It accepts a subset of what the grammar accepts and gives up (`None`) on anything else:
//! every syntax error, every input that the grammar's recovery rules or lowering would
//! diagnose (a misspelt field, `&&`, `1.5h`, a duplicate field, an invalid label key, ...),
//! nesting near the pre-scan's depth limit, stray control bytes. Then [`parse`](super::parse)
//! runs the pre-scan, pest and lowering as before, so every diagnostic is exactly theirs.
//!
//! When it succeeds, its AST is exactly the one pest and lowering build, spans included. It
//! follows the grammar (`grammar/rollout.pest`) rule by rule, and wherever pest would try
//! another alternative after a partial match (PEG backtracking) it gives up instead, so it
//! never takes a path pest would not. `tests/fast_parse.rs` compares the two on every example,
//! test case and stdlib file and on generated and mutated inputs.
//!
//! Spans: pest's rules keep the whitespace after their last token, and lowering trims it
//! (`lower::span_of`): a node ends where its last token ends. Here `end` is the end of the
//! last token consumed, so a node's span is from its first token to `end` when it is done.

use super::literal;
use super::lower::doc_before;
use crate::ast::*;
use crate::source::Span;

/// Deeper nesting (brackets, `not`s, type arguments) than this gives up: the pre-scan limits
/// brackets plus consecutive `not`s to [`super::scan::MAX_DEPTH`], and pest's path reports
/// it. A margin below that limit keeps every file this parser accepts clean for the pre-scan.
const MAX_NESTING: usize = super::scan::MAX_DEPTH - 4;

/// Parses `src`, or `None` when the file is not one this parser is sure about.
pub(super) fn parse(src: &str) -> Option<File> {
    let mut p = Parser {
        src,
        b: src.as_bytes(),
        pos: 0,
        end: 0,
        depth: 0,
        fields: Vec::new(),
        body: Vec::new(),
        seq: Vec::new(),
    };
    p.skip_ws();
    let mut items = Vec::new();
    while p.pos < p.b.len() {
        if p.b[p.pos] == b';' {
            p.bump(1);
            continue;
        }
        items.push(p.item()?);
    }
    Some(File {
        items,
        span: Span::new(0, src.len()),
    })
}

/// Binding powers, as the Pratt parser in `lower.rs` assigns them (pest's `PrattParser`
/// numbers each level in steps of 10 from 20).
const BP_OR: u8 = 20;
const BP_AND: u8 = 30;
const BP_NOT: u8 = 40;
const BP_CMP: u8 = 50;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Infix {
    Or,
    And,
    Eq,
    Ne,
    Matches,
    In,
    NotIn,
}

impl Infix {
    fn bp(self) -> u8 {
        match self {
            Infix::Or => BP_OR,
            Infix::And => BP_AND,
            _ => BP_CMP,
        }
    }
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

struct Parser<'s> {
    src: &'s str,
    b: &'s [u8],
    /// The next byte to read; always at a token (whitespace and comments skipped).
    pos: usize,
    /// The end of the last token consumed.
    end: usize,
    /// Brackets, `not`s and type arguments open around `pos`.
    depth: usize,
    /// Scratch stacks for the lists of fields, rollout statements and stage sequence items
    /// being read (a list is collected from its tail, exactly sized, when it ends): the
    /// elements are large, and growing each list from empty would copy them several times.
    fields: Vec<Field>,
    body: Vec<RolloutItem>,
    seq: Vec<StageSeqItem>,
}

impl<'s> Parser<'s> {
    /// Skips what pest sees as whitespace: space, tab, newline, carriage return, and what the
    /// pre-scan blanks to spaces (`//` comments, byte-order marks).
    fn skip_ws(&mut self) {
        self.pos = skip_ws_at(self.b, self.pos);
    }

    /// Consumes a token of `len` bytes and the whitespace after it.
    fn bump(&mut self, len: usize) {
        self.pos += len;
        self.end = self.pos;
        self.skip_ws();
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    /// Consumes the punctuation byte `c`, or gives up.
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.bump(1))
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.bump(1);
        }
        hit
    }

    /// The word (`[A-Za-z0-9_]*`) at `pos`.
    fn word(&self) -> &'s str {
        let rest = &self.b[self.pos..];
        let len = rest
            .iter()
            .position(|&c| !is_ident_char(c))
            .unwrap_or(rest.len());
        &self.src[self.pos..self.pos + len]
    }

    /// Consumes the keyword or contextual word `kw` (`"kw" ~ !ident_char`).
    fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.word() == kw;
        if hit {
            self.bump(kw.len());
        }
        hit
    }

    fn kw(&mut self, kw: &str) -> Option<()> {
        self.eat_kw(kw).then_some(())
    }

    fn open(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_NESTING).then_some(())
    }

    fn close(&mut self) {
        self.depth -= 1;
    }

    fn span_from(&self, start: usize) -> Span {
        Span::new(start, self.end)
    }

    // ----- items -----

    fn item(&mut self) -> Option<Item> {
        let start = self.pos;
        let kind = match self.word() {
            "rollout" => ItemKind::Rollout(self.rollout()?),
            "let" => {
                self.bump(3);
                let name = self.ident()?;
                self.expect(b'=')?;
                let value = self.expr()?;
                ItemKind::Let(Let { name, value })
            }
            "template" => ItemKind::Template(self.template()?),
            "import" => {
                self.bump(6);
                let path = self.string()?;
                let alias = if self.eat_kw("as") {
                    Some(self.ident()?)
                } else {
                    None
                };
                ItemKind::Import(Import { path, alias })
            }
            "fleet" => ItemKind::Fleet(self.fleet()?),
            _ => return None,
        };
        Some(Item {
            doc: doc_before(self.src, start),
            kind,
            span: self.span_from(start),
        })
    }

    fn template(&mut self) -> Option<Template> {
        self.bump(8);
        let name = self.ident()?;
        self.expect(b'(')?;
        self.open()?;
        let mut params = Vec::new();
        while self.peek() != Some(b')') {
            let start = self.pos;
            let name = self.ident()?;
            self.expect(b':')?;
            let ty = self.type_expr()?;
            let default = if self.eat(b'=') {
                Some(self.expr()?)
            } else {
                None
            };
            params.push(Param {
                name,
                ty,
                default,
                span: self.span_from(start),
            });
            if !self.eat(b',') {
                break;
            }
        }
        self.expect(b')')?;
        self.close();
        let body = self.seq_block()?;
        Some(Template { name, params, body })
    }

    fn type_expr(&mut self) -> Option<TypeExpr> {
        let start = self.pos;
        let word = self.word();
        // `ident | kw_label | kw_window`
        if !(word == "label" || word == "window" || self.is_ident(word)) {
            return None;
        }
        let name = self.take_ident(word);
        let arg = if self.eat(b'<') {
            self.open()?;
            let arg = self.type_expr()?;
            self.expect(b'>')?;
            self.close();
            Some(Box::new(arg))
        } else {
            None
        };
        Some(TypeExpr {
            name,
            arg,
            span: self.span_from(start),
        })
    }

    fn fleet(&mut self) -> Option<FleetSchema> {
        self.bump(5);
        self.expect(b'{')?;
        self.open()?;
        let mut labels = Vec::new();
        loop {
            match self.peek() {
                Some(b'}') => break,
                Some(b';') => self.bump(1),
                _ => {
                    let start = self.pos;
                    self.kw("label")?;
                    let key = self.label_key()?;
                    self.expect(b':')?;
                    let ty = if self.peek() == Some(b'"') {
                        let mut values = vec![self.string()?];
                        while self.eat(b'|') {
                            values.push(self.string()?);
                        }
                        LabelType::Enum { values }
                    } else {
                        LabelType::Named {
                            name: self.ident()?,
                        }
                    };
                    labels.push(LabelDecl {
                        doc: doc_before(self.src, start),
                        key,
                        ty,
                        span: self.span_from(start),
                    });
                }
            }
        }
        self.bump(1);
        self.close();
        Some(FleetSchema { labels })
    }

    fn rollout(&mut self) -> Option<Rollout> {
        self.bump(7);
        let name = self.string()?;
        self.expect(b'{')?;
        self.open()?;
        let base = self.body.len();
        loop {
            let start = self.pos;
            match self.peek() {
                Some(b'}') => break,
                Some(b';') => {
                    self.bump(1);
                    continue;
                }
                _ => {}
            }
            let item = match self.word() {
                "stage" | "use" | "for" => RolloutItem::Stages(self.seq_item()?),
                "target" => RolloutItem::Target(self.target()?),
                "defaults" => {
                    self.bump(8);
                    let fields = self.field_block()?;
                    RolloutItem::Defaults(Defaults {
                        fields,
                        span: self.span_from(start),
                    })
                }
                "revision" => {
                    self.bump(8);
                    self.kw("pinned")?;
                    RolloutItem::Revision(RevisionPin {
                        span: self.span_from(start),
                    })
                }
                "on" => {
                    self.bump(2);
                    self.kw("new")?;
                    self.kw("revision")?;
                    let policy = if self.eat_kw("queue") {
                        NewRevisionPolicy::Queue
                    } else {
                        self.kw("restart")?;
                        NewRevisionPolicy::Restart
                    };
                    RolloutItem::OnNewRevision(OnNewRevision {
                        policy,
                        span: self.span_from(start),
                    })
                }
                _ => return None,
            };
            self.body.push(item);
        }
        self.bump(1);
        self.close();
        let body = self.body.drain(base..).collect();
        Some(Rollout { name, body })
    }

    fn target(&mut self) -> Option<Target> {
        let start = self.pos;
        self.bump(6);
        let by_appset = match self.word() {
            "appset" => true,
            "apps" => false,
            _ => return None,
        };
        self.bump(if by_appset { 6 } else { 4 });
        let name = if by_appset {
            Some(self.string()?)
        } else {
            None
        };
        let namespace = if self.eat_kw("in") {
            Some(self.string()?)
        } else {
            None
        };
        let project = if self.eat_kw("project") {
            Some(self.string()?)
        } else {
            None
        };
        let kind = match name {
            Some(name) => TargetKind::AppSet { name },
            None => {
                self.kw("where")?;
                TargetKind::Apps {
                    selector: self.expr()?,
                }
            }
        };
        Some(Target {
            kind,
            namespace,
            project,
            span: self.span_from(start),
        })
    }

    // ----- stage sequences -----

    fn seq_block(&mut self) -> Option<Vec<StageSeqItem>> {
        self.expect(b'{')?;
        self.open()?;
        let base = self.seq.len();
        loop {
            match self.peek() {
                Some(b'}') => break,
                Some(b';') => self.bump(1),
                _ => {
                    let item = self.seq_item()?;
                    self.seq.push(item);
                }
            }
        }
        self.bump(1);
        self.close();
        Some(self.seq.drain(base..).collect())
    }

    fn seq_item(&mut self) -> Option<StageSeqItem> {
        let start = self.pos;
        match self.word() {
            "stage" => {
                self.bump(5);
                let name = self.string()?;
                let fields = self.field_block()?;
                Some(StageSeqItem::Stage(Stage {
                    doc: doc_before(self.src, start),
                    name,
                    fields,
                    span: self.span_from(start),
                }))
            }
            "use" => {
                self.bump(3);
                let mut path = vec![self.ident()?];
                if self.eat(b'.') {
                    path.push(self.ident()?);
                }
                let args = self.args()?;
                Some(StageSeqItem::Use(Use {
                    path,
                    args,
                    span: self.span_from(start),
                }))
            }
            "for" => {
                self.bump(3);
                let var = self.ident()?;
                self.kw("in")?;
                let iter = self.expr()?;
                let body = self.seq_block()?;
                Some(StageSeqItem::For(For {
                    var,
                    iter,
                    body,
                    span: self.span_from(start),
                }))
            }
            _ => None,
        }
    }

    fn args(&mut self) -> Option<Vec<Arg>> {
        self.expect(b'(')?;
        self.open()?;
        let mut args = Vec::new();
        while self.peek() != Some(b')') {
            let start = self.pos;
            // `named_arg = { ident ~ "=" ~ !"=" ~ expr }`, else a positional `expr`.
            let word = self.word();
            let name = if self.is_ident(word) {
                let (pos, end) = (self.pos, self.end);
                let ident = self.take_ident(word);
                if self.eat(b'=') && self.peek() != Some(b'=') {
                    Some(ident)
                } else {
                    (self.pos, self.end) = (pos, end);
                    None
                }
            } else {
                None
            };
            let value = self.expr()?;
            args.push(Arg {
                name,
                value,
                span: self.span_from(start),
            });
            if !self.eat(b',') {
                break;
            }
        }
        self.expect(b')')?;
        self.close();
        Some(args)
    }

    // ----- fields -----

    fn field_block(&mut self) -> Option<Vec<Field>> {
        self.expect(b'{')?;
        self.open()?;
        let base = self.fields.len();
        // Fields set so far (by `FieldKind` discriminant): a second one is a diagnostic.
        let mut seen = 0u32;
        loop {
            match self.peek() {
                Some(b'}') => break,
                Some(b';') => self.bump(1),
                _ => {
                    let field = self.field()?;
                    if !matches!(field.kind, FieldKind::Gate(_) | FieldKind::Window { .. }) {
                        let bit = 1u32 << field_index(&field.kind);
                        if seen & bit != 0 {
                            return None;
                        }
                        seen |= bit;
                    }
                    self.fields.push(field);
                }
            }
        }
        self.bump(1);
        self.close();
        Some(self.fields.drain(base..).collect())
    }

    fn field(&mut self) -> Option<Field> {
        let start = self.pos;
        let word = self.word();
        self.bump(word.len());
        let kind = match word {
            "select" => {
                let keyword_span = self.span_from(start);
                return self.finish_field(start, keyword_span, |p| {
                    Some(FieldKind::Select {
                        selector: p.expr()?,
                    })
                });
            }
            "batch" => FieldKind::Batch {
                count: self.expr()?,
            },
            "bake" => {
                if self.word() == "each" {
                    self.bump(4);
                    let keyword_span = self.span_from(start);
                    return self.finish_field(start, keyword_span, |p| {
                        Some(FieldKind::BakeEach {
                            duration: p.expr()?,
                        })
                    });
                }
                FieldKind::Bake {
                    duration: self.expr()?,
                }
            }
            "deadline" => FieldKind::Deadline {
                duration: self.expr()?,
            },
            "tolerate" => FieldKind::Tolerate {
                count: self.expr()?,
            },
            "limit" => {
                let keyword_span = self.span_from(start);
                return self.finish_field(start, keyword_span, |p| {
                    let count = p.expr()?;
                    let per = if p.eat_kw("per") {
                        Some(p.label_key()?)
                    } else {
                        None
                    };
                    Some(FieldKind::Limit { count, per })
                });
            }
            "spread" => {
                self.kw("by")?;
                let keyword_span = self.span_from(start);
                return self.finish_field(start, keyword_span, |p| {
                    Some(FieldKind::SpreadBy {
                        key: p.label_key()?,
                    })
                });
            }
            "max" => {
                self.kw("in")?;
                self.kw("flight")?;
                let keyword_span = self.span_from(start);
                return self.finish_field(start, keyword_span, |p| {
                    let count = p.expr()?;
                    p.kw("per")?;
                    let per = p.label_key()?;
                    Some(FieldKind::MaxInFlight { count, per })
                });
            }
            "order" => {
                self.kw("by")?;
                let keyword_span = self.span_from(start);
                return self.finish_field(start, keyword_span, |p| {
                    let key = match p.cluster_attr()? {
                        Some(attr) => attr,
                        None => {
                            let label = p.label_key()?;
                            Expr {
                                span: label.span,
                                kind: ExprKind::Key(label),
                            }
                        }
                    };
                    let descending = if p.eat_kw("asc") {
                        false
                    } else {
                        p.eat_kw("desc")
                    };
                    Some(FieldKind::OrderBy { key, descending })
                });
            }
            "requeue" => {
                self.kw("when")?;
                let keyword_span = self.span_from(start);
                return self.finish_field(start, keyword_span, |p| {
                    let when = p.expr()?;
                    let attempts = if p.eat_kw("attempts") {
                        Some(Box::new(p.expr()?))
                    } else {
                        None
                    };
                    let every = if p.eat_kw("every") {
                        Some(Box::new(p.expr()?))
                    } else {
                        None
                    };
                    Some(FieldKind::Requeue {
                        when,
                        attempts,
                        every,
                    })
                });
            }
            "on" => {
                self.kw("failure")?;
                let keyword_span = self.span_from(start);
                let policy = match self.word() {
                    "pause" => FailurePolicy::Pause,
                    "abort" => FailurePolicy::Abort,
                    "rollback" => FailurePolicy::Rollback,
                    _ => return None,
                };
                let len = self.word().len();
                self.bump(len);
                return Some(Field {
                    kind: FieldKind::OnFailure { policy },
                    span: self.span_from(start),
                    keyword_span,
                });
            }
            "gate" => {
                let keyword_span = self.span_from(start);
                let kind = self.gate()?;
                let span = self.span_from(start);
                return Some(Field {
                    kind: FieldKind::Gate(Box::new(Gate { kind, span })),
                    span,
                    keyword_span,
                });
            }
            "window" => {
                let keyword_span = self.span_from(start);
                let mode = match self.word() {
                    "allow" => WindowMode::Allow,
                    "deny" => WindowMode::Deny,
                    _ => return None,
                };
                let len = self.word().len();
                self.bump(len);
                let spec = match self.window_spec()? {
                    Some(spec) => Expr {
                        span: spec.span,
                        kind: ExprKind::Window(Box::new(spec)),
                    },
                    None => self.expr()?,
                };
                return Some(Field {
                    kind: FieldKind::Window { mode, spec },
                    span: self.span_from(start),
                    keyword_span,
                });
            }
            _ => return None,
        };
        // The single-keyword fields whose value is one expression.
        Some(Field {
            kind,
            span: self.span_from(start),
            keyword_span: Span::new(start, start + word.len()),
        })
    }

    fn finish_field(
        &mut self,
        start: usize,
        keyword_span: Span,
        rest: impl FnOnce(&mut Self) -> Option<FieldKind>,
    ) -> Option<Field> {
        let kind = rest(self)?;
        Some(Field {
            kind,
            span: self.span_from(start),
            keyword_span,
        })
    }

    fn gate(&mut self) -> Option<GateKind> {
        match self.word() {
            "webhook" => {
                self.bump(7);
                let url = self.expr()?;
                let (mut timeout, mut retries, mut insecure) = (None, None, false);
                loop {
                    match self.word() {
                        "timeout" => {
                            self.bump(7);
                            timeout = Some(self.expr()?);
                        }
                        "retries" => {
                            self.bump(7);
                            retries = Some(self.expr()?);
                        }
                        "insecure" => {
                            self.bump(8);
                            insecure = true;
                        }
                        _ => break,
                    }
                }
                Some(GateKind::Webhook {
                    url,
                    timeout,
                    retries,
                    insecure,
                })
            }
            "metric" => {
                self.bump(6);
                self.kw("prometheus")?;
                let url = self.expr()?;
                self.kw("query")?;
                let query = self.expr()?;
                let comparison = if self.eat_kw("below") {
                    MetricComparison::Below
                } else {
                    self.kw("above")?;
                    MetricComparison::Above
                };
                let threshold = self.expr()?;
                let window = if self.eat_kw("for") {
                    Some(self.expr()?)
                } else {
                    None
                };
                let every = if self.eat_kw("every") {
                    Some(self.expr()?)
                } else {
                    None
                };
                Some(GateKind::Metric {
                    url,
                    query,
                    comparison,
                    threshold,
                    window,
                    every,
                })
            }
            "approval" => {
                self.bump(8);
                let reason = if self.peek() == Some(b'"') {
                    let s = self.string()?;
                    Some(Expr {
                        span: s.span,
                        kind: ExprKind::Str(s),
                    })
                } else {
                    None
                };
                Some(GateKind::Approval { reason })
            }
            _ => None,
        }
    }

    // ----- windows -----

    /// `window_spec = { window_part+ ~ (cw_tz ~ string)? }`: `Some(None)` when no part
    /// matches here (the caller reads an expression instead).
    fn window_spec(&mut self) -> Option<Option<WindowSpec>> {
        let start = self.pos;
        let mut spec = WindowSpec {
            days: Vec::new(),
            hours: None,
            dates: None,
            tz: None,
            span: Span::point(start),
        };
        let mut parts = 0;
        loop {
            let b = self.b;
            let at = self.pos;
            if let Some(len) = date_range_len(b, at) {
                // Lowering checks every date (`None`: it reports one), then the order.
                let from = date(&b[at..at + 10]);
                let to = if len > 10 {
                    date(&b[at + 12..at + 22])
                } else {
                    from
                };
                let (from, to) = (from?, to?);
                if to < from || spec.dates.is_some() {
                    return None;
                }
                self.bump(len);
                spec.dates = Some(DateRange {
                    from,
                    to,
                    span: self.span_from(at),
                });
                parts += 1;
                continue;
            }
            if let Some((from, to, len)) = time_range_at(b, at) {
                let (from, to) = (from?, to?);
                if from == to || spec.hours.is_some() {
                    return None;
                }
                self.bump(len);
                spec.hours = Some(TimeRange {
                    from,
                    to,
                    span: self.span_from(at),
                });
                parts += 1;
                continue;
            }
            if day_range_at(b, at).is_some() {
                // `day_list = { day_range ~ ("," ~ day_range)* }`
                loop {
                    let at = self.pos;
                    let (from, to, len) = day_range_at(self.b, at)?;
                    self.bump(len);
                    spec.days.push(DayRange {
                        from,
                        to,
                        span: self.span_from(at),
                    });
                    if !self.eat(b',') {
                        break;
                    }
                }
                parts += 1;
                continue;
            }
            break;
        }
        if parts == 0 {
            return Some(None);
        }
        if self.eat_kw("tz") {
            spec.tz = Some(self.string()?);
        }
        spec.span = self.span_from(start);
        Some(Some(spec))
    }

    // ----- expressions -----

    fn expr(&mut self) -> Option<Expr> {
        self.expr_bp(0)
    }

    /// pest's `PrattParser` (as `lower::Lower::expr` configures it), run as the tokens are
    /// read: `nud` (a prefix `not` or a primary), then `led` while the next operator binds
    /// tighter than `rbp`.
    fn expr_bp(&mut self, rbp: u8) -> Option<Expr> {
        let mut lhs = if self.peek() == Some(b'n') && self.word() == "not" {
            let start = self.pos;
            self.bump(3);
            let op_span = self.span_from(start);
            self.open()?;
            let rhs = self.expr_bp(BP_NOT - 1)?;
            self.close();
            Expr {
                span: op_span.to(rhs.span),
                kind: ExprKind::Not(Box::new(rhs)),
            }
        } else {
            self.primary()?
        };
        while let Some((op, len)) = self.infix_at()? {
            if rbp >= op.bp() {
                break;
            }
            self.bump(len);
            let rhs = self.expr_bp(op.bp())?;
            lhs = infix(lhs, op, rhs)?;
        }
        Some(lhs)
    }

    /// The infix operator at `pos` and its length: `Some(None)` when there is none, `None`
    /// (give up) for the C-style spellings and `=`, which lowering diagnoses.
    fn infix_at(&self) -> Option<Option<(Infix, usize)>> {
        let b = self.b;
        let i = self.pos;
        let Some(&c) = b.get(i) else {
            return Some(None);
        };
        let next = b.get(i + 1).copied();
        let op = match c {
            b'=' if next == Some(b'=') => (Infix::Eq, 2),
            b'=' => return None,
            b'!' if next == Some(b'=') => (Infix::Ne, 2),
            b'&' if next == Some(b'&') => return None,
            b'|' if next == Some(b'|') => return None,
            b'a' if self.word() == "and" => (Infix::And, 3),
            b'o' if self.word() == "or" => (Infix::Or, 2),
            b'i' if self.word() == "in" => (Infix::In, 2),
            b'm' if self.word() == "matches" => (Infix::Matches, 7),
            b'n' if self.word() == "not" => {
                // `op_not_in = ${ "not" ~ WHITESPACE+ ~ "in" ~ !ident_char }`
                let after = skip_ws_at(b, i + 3);
                if after > i + 3 && word_at(self.src, after) == "in" {
                    (Infix::NotIn, after + 2 - i)
                } else {
                    return Some(None);
                }
            }
            _ => return Some(None),
        };
        Some(Some(op))
    }

    fn primary(&mut self) -> Option<Expr> {
        let start = self.pos;
        let c = self.peek()?;
        let kind = match c {
            b'"' => ExprKind::Str(self.string()?),
            b'0'..=b'9' => {
                let len = number_len(&self.b[start..]);
                let kind = literal::classify_number(&self.src[start..start + len]).ok()?;
                self.bump(len);
                kind
            }
            b'(' => {
                self.bump(1);
                self.open()?;
                let inner = self.expr()?;
                self.expect(b')')?;
                self.close();
                return Some(Expr {
                    span: self.span_from(start),
                    ..inner
                });
            }
            b'[' => {
                self.bump(1);
                self.open()?;
                let mut items = Vec::new();
                while self.peek() != Some(b']') {
                    items.push(self.expr()?);
                    if !self.eat(b',') {
                        break;
                    }
                }
                self.expect(b']')?;
                self.close();
                ExprKind::List(items)
            }
            b'`' => ExprKind::Key(self.backtick_key()?),
            c if is_ident_start(c) => {
                if let Some(attr) = self.cluster_attr()? {
                    return Some(attr);
                }
                let word = self.word();
                if self.is_ident(word) {
                    // `name_ref = ${ ident ~ ("." ~ ident)? }`
                    let first = self.take_ident_raw(word);
                    if self.b.get(self.pos) == Some(&b'.') {
                        let after = self.pos + 1;
                        let second = word_at(self.src, after);
                        if !self.is_ident(second) {
                            return None;
                        }
                        self.pos = after;
                        let name = self.take_ident_raw(second);
                        self.skip_ws();
                        ExprKind::Qualified {
                            module: first,
                            name,
                        }
                    } else {
                        self.skip_ws();
                        ExprKind::Name(first)
                    }
                } else {
                    match word {
                        "all" => {
                            self.bump(3);
                            ExprKind::All
                        }
                        "has" => {
                            self.bump(3);
                            ExprKind::Has(self.label_key()?)
                        }
                        "true" | "false" => {
                            self.bump(word.len());
                            ExprKind::Bool(word == "true")
                        }
                        "window" => {
                            self.bump(6);
                            let spec = self.window_spec()??;
                            ExprKind::Window(Box::new(spec))
                        }
                        _ => return None,
                    }
                }
            }
            _ => return None,
        };
        Some(Expr {
            kind,
            span: self.span_from(start),
        })
    }

    /// `cluster_attr = ${ "cluster" ~ "." ~ attr_name }`: `Some(None)` when it does not
    /// match here, `None` for an attribute other than `name` and `server`.
    fn cluster_attr(&mut self) -> Option<Option<Expr>> {
        let start = self.pos;
        let rest = &self.b[start..];
        if !(rest.starts_with(b"cluster.") && rest.get(8).copied().is_some_and(is_ident_start)) {
            return Some(None);
        }
        let attr = word_at(self.src, start + 8);
        let attr = match attr {
            "name" => ClusterAttr::Name,
            "server" => ClusterAttr::Server,
            _ => return None,
        };
        let len = 8 + word_at(self.src, start + 8).len();
        self.bump(len);
        Some(Some(Expr {
            kind: ExprKind::Attr(attr),
            span: self.span_from(start),
        }))
    }

    // ----- tokens -----

    fn is_ident(&self, word: &str) -> bool {
        word.bytes().next().is_some_and(is_ident_start) && !is_reserved(word)
    }

    /// An `ident` token.
    fn ident(&mut self) -> Option<Ident> {
        let word = self.word();
        self.is_ident(word).then(|| self.take_ident(word))
    }

    /// Consumes `word` (at `pos`) as an identifier and the whitespace after it.
    fn take_ident(&mut self, word: &str) -> Ident {
        let ident = self.take_ident_raw(word);
        self.skip_ws();
        ident
    }

    /// Consumes `word` (at `pos`) as an identifier, not the whitespace after it.
    fn take_ident_raw(&mut self, word: &str) -> Ident {
        let start = self.pos;
        self.pos += word.len();
        self.end = self.pos;
        Ident {
            name: word.to_string(),
            span: Span::new(start, self.pos),
        }
    }

    /// `label_key = _{ backtick_key | ident }`, checked as lowering checks it.
    fn label_key(&mut self) -> Option<LabelKey> {
        if self.peek() == Some(b'`') {
            return self.backtick_key();
        }
        let Ident { name, span } = self.ident()?;
        literal::check_label_key(&name).ok()?;
        Some(LabelKey {
            key: name,
            quoted: false,
            span,
        })
    }

    fn backtick_key(&mut self) -> Option<LabelKey> {
        let start = self.pos;
        let rest = &self.b[start + 1..];
        let len = rest.iter().position(|&c| c == b'`' || c == b'\n')?;
        if rest[len] != b'`' {
            return None;
        }
        let key = &self.src[start + 1..start + 1 + len];
        literal::check_label_key(key).ok()?;
        self.bump(len + 2);
        Some(LabelKey {
            key: key.to_string(),
            quoted: true,
            span: self.span_from(start),
        })
    }

    /// `string = ${ "\"" ~ (interp | escape | text)* ~ "\"" }`, decoded as lowering does.
    fn string(&mut self) -> Option<StrLit> {
        let start = self.pos;
        let b = self.b;
        if b.get(start) != Some(&b'"') {
            return None;
        }
        let mut parts: Vec<StrPart> = Vec::new();
        let mut text = String::new();
        let mut i = start + 1;
        loop {
            match *b.get(i)? {
                b'"' => break,
                b'\n' => return None,
                b'\\' => {
                    // `escape = @{ "\\" ~ ("u{" ~ (ASCII_HEX_DIGIT | "_")* ~ "}" | !"\n" ~ ANY) }`
                    let mut len = None;
                    if b[i + 1..].starts_with(b"u{") {
                        let digits = b[i + 3..]
                            .iter()
                            .position(|&c| !(c.is_ascii_hexdigit() || c == b'_'))
                            .unwrap_or(b.len() - i - 3);
                        if b.get(i + 3 + digits) == Some(&b'}') {
                            len = Some(digits + 4);
                        }
                    }
                    let len = match len {
                        Some(len) => len,
                        None => {
                            let c = self.src.get(i + 1..)?.chars().next()?;
                            if c == '\n' {
                                return None;
                            }
                            1 + c.len_utf8()
                        }
                    };
                    text.push(literal::decode_escape(&self.src[i..i + len]).ok()?);
                    i += len;
                }
                b'$' if b.get(i + 1) == Some(&b'{') => {
                    // `interp = ${ "${" ~ interp_name ~ "}" }`
                    let name_start = i + 2;
                    let name = word_at(self.src, name_start);
                    if !name.bytes().next().is_some_and(is_ident_start)
                        || b.get(name_start + name.len()) != Some(&b'}')
                    {
                        return None;
                    }
                    if !text.is_empty() {
                        parts.push(StrPart::Text(std::mem::take(&mut text)));
                    }
                    parts.push(StrPart::Interp(Ident {
                        name: name.to_string(),
                        span: Span::new(name_start, name_start + name.len()),
                    }));
                    i = name_start + name.len() + 1;
                }
                _ => {
                    // `text`: up to the next quote, backslash, newline or `${`.
                    let run_start = i;
                    while let Some(&c) = b.get(i) {
                        match c {
                            b'"' | b'\\' | b'\n' => break,
                            b'$' if b.get(i + 1) == Some(&b'{') => break,
                            _ => i += 1,
                        }
                    }
                    text.push_str(&self.src[run_start..i]);
                }
            }
        }
        if parts.is_empty() {
            parts = vec![StrPart::Text(text)];
        } else if !text.is_empty() {
            parts.push(StrPart::Text(text));
        }
        self.bump(i + 1 - start);
        Some(StrLit {
            parts,
            span: self.span_from(start),
        })
    }
}

/// The first offset from `i` on that is not what pest sees as whitespace: space, tab,
/// newline, carriage return, and what the pre-scan blanks to spaces (`//` comments,
/// byte-order marks).
fn skip_ws_at(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
            }
            0xEF if b[i..].starts_with("\u{FEFF}".as_bytes()) => i += 3,
            _ => break,
        }
    }
    i
}

/// Whether `word` is one of `lower::RESERVED` (the grammar's `keyword` rule), as one `match`
/// (a test keeps the two lists equal).
fn is_reserved(word: &str) -> bool {
    matches!(
        word,
        "import"
            | "in"
            | "let"
            | "label"
            | "limit"
            | "template"
            | "target"
            | "tolerate"
            | "true"
            | "fleet"
            | "false"
            | "for"
            | "rollout"
            | "revision"
            | "requeue"
            | "defaults"
            | "deadline"
            | "stage"
            | "select"
            | "spread"
            | "use"
            | "batch"
            | "bake"
            | "max"
            | "matches"
            | "order"
            | "or"
            | "on"
            | "gate"
            | "window"
            | "and"
            | "all"
            | "not"
            | "has"
    )
}

/// The word (`[A-Za-z0-9_]*`) at `at`.
fn word_at(src: &str, at: usize) -> &str {
    let rest = &src.as_bytes()[at.min(src.len())..];
    let len = rest
        .iter()
        .position(|&c| !is_ident_char(c))
        .unwrap_or(rest.len());
    &src[at..at + len]
}

/// `number = @{ ASCII_DIGIT ~ (ASCII_ALPHANUMERIC | "_" | "%" | "." ~ ASCII_DIGIT)* }`
fn number_len(b: &[u8]) -> usize {
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            c if is_ident_char(c) || c == b'%' => i += 1,
            b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => i += 2,
            _ => break,
        }
    }
    i
}

/// `date_range = ${ date ~ (".." ~ date)? }`: the length matched, if any (10 for one date,
/// 22 for two).
fn date_range_len(b: &[u8], at: usize) -> Option<usize> {
    let rest = b.get(at..)?;
    is_date(rest)?;
    let second = rest[10..].starts_with(b"..") && is_date(&rest[12..]).is_some();
    Some(if second { 22 } else { 10 })
}

/// `date = @{ ASCII_DIGIT{4} ~ "-" ~ ASCII_DIGIT{2} ~ "-" ~ ASCII_DIGIT{2} }`
fn is_date(b: &[u8]) -> Option<usize> {
    let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let ok = (0..4).all(d) && b.get(4) == Some(&b'-') && d(5) && d(6) && b.get(7) == Some(&b'-');
    (ok && d(8) && d(9)).then_some(10)
}

/// A `date` token (`YYYY-MM-DD`) checked as lowering checks it; `None` when lowering would
/// report it.
fn date(text: &[u8]) -> Option<Date> {
    let num = |r: std::ops::Range<usize>| {
        text[r]
            .iter()
            .fold(0u16, |n, &c| n * 10 + u16::from(c - b'0'))
    };
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if d == 0 || d > days_in_month {
        return None;
    }
    Some(Date {
        year: y,
        month: m as u8,
        day: d as u8,
    })
}

/// `time_range = ${ clock ~ "-" ~ clock }`: (from, to, length), each clock in minutes when it
/// is a valid time of day (lowering reports the others).
fn time_range_at(b: &[u8], at: usize) -> Option<(Option<u16>, Option<u16>, usize)> {
    let rest = b.get(at..)?;
    let (from, first) = clock(rest)?;
    if rest.get(first) != Some(&b'-') {
        return None;
    }
    let (to, second) = clock(&rest[first + 1..])?;
    Some((from, to, first + 1 + second))
}

/// `clock = @{ ASCII_DIGIT{1,2} ~ ":" ~ ASCII_DIGIT{2} }`: (minutes if a valid time, length).
fn clock(b: &[u8]) -> Option<(Option<u16>, usize)> {
    let digit = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| u16::from(c - b'0'))
    };
    let mut h = digit(0)?;
    let mut i = 1;
    if let Some(d) = digit(1) {
        h = h * 10 + d;
        i = 2;
    }
    if b.get(i) != Some(&b':') {
        return None;
    }
    let m = digit(i + 1)? * 10 + digit(i + 2)?;
    let valid = !(m >= 60 || h > 24 || (h == 24 && m != 0));
    Some((valid.then_some(h * 60 + m), i + 3))
}

/// `day_range = ${ day ~ ("-" ~ day)? }`: (from, to, length).
fn day_range_at(b: &[u8], at: usize) -> Option<(u8, u8, usize)> {
    let rest = b.get(at..)?;
    let from = day(rest)?;
    if rest.get(3) == Some(&b'-')
        && let Some(to) = day(&rest[4..])
    {
        return Some((from, to, 7));
    }
    Some((from, from, 3))
}

/// `day = @{ ("Mon" | ... | "Sun") ~ !ident_char }`, Monday = 0.
fn day(b: &[u8]) -> Option<u8> {
    const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    let index = DAYS.iter().position(|d| b.starts_with(d))?;
    if b.get(3).copied().is_some_and(is_ident_char) {
        return None;
    }
    Some(index as u8)
}

/// The `FieldKind` variant's index, for duplicate detection.
fn field_index(kind: &FieldKind) -> u32 {
    match kind {
        FieldKind::Select { .. } => 0,
        FieldKind::Limit { .. } => 1,
        FieldKind::Batch { .. } => 2,
        FieldKind::SpreadBy { .. } => 3,
        FieldKind::MaxInFlight { .. } => 4,
        FieldKind::OrderBy { .. } => 5,
        FieldKind::Bake { .. } => 6,
        FieldKind::BakeEach { .. } => 7,
        FieldKind::Deadline { .. } => 8,
        FieldKind::Tolerate { .. } => 9,
        FieldKind::Requeue { .. } => 10,
        FieldKind::Gate(_) => 11,
        FieldKind::Window { .. } => 12,
        FieldKind::OnFailure { .. } => 13,
    }
}

/// `lower::Lower::infix` without its diagnostics (`None` where it reports one).
fn infix(lhs: Expr, op: Infix, rhs: Expr) -> Option<Expr> {
    let span = lhs.span.to(rhs.span);
    let kind = match op {
        Infix::Or | Infix::And => {
            let is_or = op == Infix::Or;
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
        _ => {
            let lhs = match lhs.kind {
                ExprKind::Name(ident) => Expr {
                    span: lhs.span,
                    kind: ExprKind::Key(LabelKey {
                        key: ident.name,
                        quoted: false,
                        span: ident.span,
                    }),
                },
                ExprKind::Key(_) | ExprKind::Attr(_) => lhs,
                _ => return None,
            };
            let (lhs, rhs) = (Box::new(lhs), Box::new(rhs));
            match op {
                Infix::In => ExprKind::In {
                    lhs,
                    negated: false,
                    rhs,
                },
                Infix::NotIn => ExprKind::In {
                    lhs,
                    negated: true,
                    rhs,
                },
                Infix::Ne => ExprKind::Compare {
                    lhs,
                    op: CompareOp::Ne,
                    rhs,
                },
                Infix::Matches => ExprKind::Compare {
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
    Some(Expr { kind, span })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::lower::RESERVED;

    #[test]
    fn reserved_words_match_lowering() {
        for word in RESERVED {
            assert!(is_reserved(word), "{word}");
        }
        let matched = [
            "import", "in", "let", "label", "limit", "template", "target", "tolerate", "true",
            "fleet", "false", "for", "rollout", "revision", "requeue", "defaults", "deadline",
            "stage", "select", "spread", "use", "batch", "bake", "max", "matches", "order", "or",
            "on", "gate", "window", "and", "all", "not", "has",
        ];
        assert_eq!(matched.len(), RESERVED.len());
        for word in ["as", "region", "ins", "o", "", "appset", "each", "cluster"] {
            assert!(!is_reserved(word), "{word}");
        }
    }
}
