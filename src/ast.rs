//! The abstract syntax tree of a `.rollout` file. Every node carries its byte [`Span`].
//!
//! The AST is what the source says, not what it means: names are unresolved, values untyped,
//! and templates unexpanded. Later phases (resolve, types) give it meaning.

use crate::source::Span;
use serde::Serialize;

/// A whole `.rollout` file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct File {
    /// Top-level items in source order.
    pub items: Vec<Item>,
    /// The whole file.
    pub span: Span,
}

/// `///` doc comment lines attached to the item that follows them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Doc {
    /// The text with the `///` and one following space removed, lines joined by `\n`.
    pub text: String,
    /// All the doc lines.
    pub span: Span,
}

/// A name written in the source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// A top-level item with its doc comment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item {
    /// The doc comment, if any.
    pub doc: Option<Doc>,
    /// What the item is.
    pub kind: ItemKind,
    /// The item, without its doc comment.
    pub span: Span,
}

/// The kinds of top-level item.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "item", rename_all = "snake_case")]
pub enum ItemKind {
    /// `import "std/rings" as rings`
    Import(Import),
    /// `let name = expr`
    Let(Let),
    /// `template name(params) { ... }`
    Template(Template),
    /// `fleet { label ... }`
    Fleet(FleetSchema),
    /// `rollout "name" { ... }`
    Rollout(Rollout),
}

/// `import "path" [as alias]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Import {
    /// The path as written: `std/...`, or relative to the importing file.
    pub path: StrLit,
    /// The name the module's items are reached through.
    pub alias: Option<Ident>,
}

/// `let name = value`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Let {
    /// The bound name.
    pub name: Ident,
    /// The value.
    pub value: Expr,
}

/// `template name(params) { stages }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Template {
    /// The template's name.
    pub name: Ident,
    /// Parameters in order.
    pub params: Vec<Param>,
    /// The stage sequence the template expands to.
    pub body: Vec<StageSeqItem>,
}

/// A template parameter `name: type [= default]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Param {
    /// The parameter name.
    pub name: Ident,
    /// Its declared type.
    pub ty: TypeExpr,
    /// The default value, making the parameter optional.
    pub default: Option<Expr>,
    /// The whole parameter.
    pub span: Span,
}

/// A type as written: `selector`, `duration`, `list<string>`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TypeExpr {
    /// The type's name.
    pub name: Ident,
    /// The element type of `list<T>`.
    pub arg: Option<Box<TypeExpr>>,
    /// The whole type.
    pub span: Span,
}

/// `fleet { label key: type ... }`: the optional schema of cluster labels.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FleetSchema {
    /// Label declarations in order.
    pub labels: Vec<LabelDecl>,
}

/// `label key: type` or `label key: "a" | "b"` inside a fleet schema.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabelDecl {
    /// The doc comment, if any.
    pub doc: Option<Doc>,
    /// The label key.
    pub key: LabelKey,
    /// Its type.
    pub ty: LabelType,
    /// The whole declaration.
    pub span: Span,
}

/// The values a declared label may take.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LabelType {
    /// A named type: `string`, `bool`, `int`.
    Named {
        /// The type's name.
        name: Ident,
    },
    /// An enumeration of string values: `"a" | "b"`.
    Enum {
        /// The allowed values.
        values: Vec<StrLit>,
    },
}

/// A cluster label key: a plain identifier or a backtick-quoted Kubernetes key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LabelKey {
    /// The key, e.g. `region` or `topology.kubernetes.io/zone`.
    pub key: String,
    /// Whether it was written in backticks.
    pub quoted: bool,
    /// Where it is written (including backticks).
    pub span: Span,
}

/// `rollout "name" { ... }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rollout {
    /// The rollout's name.
    pub name: StrLit,
    /// Its body in source order.
    pub body: Vec<RolloutItem>,
}

/// A statement inside a rollout.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "statement", rename_all = "snake_case")]
pub enum RolloutItem {
    /// `target ...`
    Target(Target),
    /// `defaults { fields }`
    Defaults(Defaults),
    /// `revision pinned`
    Revision(RevisionPin),
    /// `on new revision queue|restart`
    OnNewRevision(OnNewRevision),
    /// A stage, template use or loop.
    Stages(StageSeqItem),
}

/// `defaults { fields }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Defaults {
    /// The fields.
    pub fields: Vec<Field>,
    /// The whole block.
    pub span: Span,
}

/// `revision pinned`: one revision for the whole run (the only mode; written for clarity).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RevisionPin {
    /// The statement.
    pub span: Span,
}

/// What a new commit during a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NewRevisionPolicy {
    /// Finish the run, then start a new one.
    Queue,
    /// Stop the run and start again at the new revision.
    Restart,
}

/// `on new revision queue|restart`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OnNewRevision {
    /// The policy.
    pub policy: NewRevisionPolicy,
    /// The statement.
    pub span: Span,
}

/// Which Applications a rollout updates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    /// The selection of Applications.
    pub kind: TargetKind,
    /// The Argo CD namespace (`in "argocd"`), if written.
    pub namespace: Option<StrLit>,
    /// The Argo CD project (`project "p"`), if written.
    pub project: Option<StrLit>,
    /// The statement.
    pub span: Span,
}

/// The two ways of naming target Applications.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum TargetKind {
    /// `target appset "name"`: the Applications an ApplicationSet owns.
    #[serde(rename = "appset")]
    AppSet {
        /// The ApplicationSet's name.
        name: StrLit,
    },
    /// `target apps where SELECTOR`: Applications whose labels match.
    Apps {
        /// The selector over Application labels.
        selector: Expr,
    },
}

/// A stage, a template use, or a loop: the things that make a stage sequence.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StageSeqItem {
    /// `stage "name" { ... }`
    Stage(Stage),
    /// `use template(args)`
    Use(Use),
    /// `for x in list { ... }`
    For(For),
}

/// `stage "name" { fields }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stage {
    /// The doc comment, if any.
    pub doc: Option<Doc>,
    /// The stage's name (may interpolate loop variables).
    pub name: StrLit,
    /// Fields in source order.
    pub fields: Vec<Field>,
    /// The whole stage.
    pub span: Span,
}

/// `use name(args)` or `use module.name(args)`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Use {
    /// The template's path: one name, or a module alias then a name.
    pub path: Vec<Ident>,
    /// Arguments in order.
    pub args: Vec<Arg>,
    /// The statement.
    pub span: Span,
}

/// A template argument: positional, or `name = value`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Arg {
    /// The parameter name for a named argument.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
    /// The whole argument.
    pub span: Span,
}

/// `for var in list { stages }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct For {
    /// The loop variable.
    pub var: Ident,
    /// The list iterated over.
    pub iter: Expr,
    /// The stage sequence made once per element.
    pub body: Vec<StageSeqItem>,
    /// The whole loop.
    pub span: Span,
}

/// A stage (or defaults) field.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Field {
    /// What the field sets.
    pub kind: FieldKind,
    /// The whole field, from its keyword.
    pub span: Span,
    /// The keyword (`bake each`, `max in flight`, ...), for "duplicate field" labels.
    pub keyword_span: Span,
}

/// The fields a stage can set. The large ones are boxed, so that a field (and a stage's
/// list of them) stays small.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum FieldKind {
    /// `select SELECTOR`
    Select {
        /// Which clusters the stage takes.
        selector: Expr,
    },
    /// `limit COUNT [per KEY]`
    Limit {
        /// At most this many (or this share) of the selected clusters.
        count: Expr,
        /// Apply the limit per value of this label instead of stage-wide.
        per: Option<LabelKey>,
    },
    /// `batch COUNT`
    Batch {
        /// Clusters in flight at once.
        count: Expr,
    },
    /// `spread by KEY`
    SpreadBy {
        /// The failure-domain label.
        key: LabelKey,
    },
    /// `max in flight N per KEY`
    MaxInFlight {
        /// The cap.
        count: Expr,
        /// The label whose values are capped.
        per: LabelKey,
    },
    /// `order by KEY|cluster.name [asc|desc]`
    OrderBy {
        /// What to sort by.
        key: Expr,
        /// Descending instead of ascending.
        descending: bool,
    },
    /// `bake DURATION`
    Bake {
        /// Soak time after the stage is healthy.
        duration: Expr,
    },
    /// `bake each DURATION`
    BakeEach {
        /// Per-cluster soak time.
        duration: Expr,
    },
    /// `deadline DURATION`
    Deadline {
        /// Time a cluster has to become synced and healthy.
        duration: Expr,
    },
    /// `tolerate COUNT`
    Tolerate {
        /// Failures allowed before the failure policy acts.
        count: Expr,
    },
    /// `requeue when SELECTOR attempts N every DURATION`
    Requeue {
        /// Clusters to defer.
        when: Expr,
        /// How many times to retry.
        attempts: Option<Box<Expr>>,
        /// How long between retries.
        every: Option<Box<Expr>>,
    },
    /// `gate ...` (boxed: a metric gate is by far the largest field).
    Gate(Box<Gate>),
    /// `window allow|deny SPEC`
    Window {
        /// Allow or deny.
        mode: WindowMode,
        /// A window literal or a name bound to one.
        spec: Expr,
    },
    /// `on failure pause|abort|rollback`
    OnFailure {
        /// The policy.
        policy: FailurePolicy,
    },
}

/// What happens when a stage fails beyond its tolerance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Wait for an operator.
    Pause,
    /// Stop and leave clusters as they are.
    Abort,
    /// Sync updated clusters back to their previous revision.
    Rollback,
}

/// Allow windows admit new batches; deny windows forbid them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowMode {
    /// New clusters start only inside.
    Allow,
    /// New clusters never start inside.
    Deny,
}

/// A check between a stage (and its bake) and the next stage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gate {
    /// The kind of gate.
    pub kind: GateKind,
    /// The whole gate.
    pub span: Span,
}

/// The kinds of gate.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "gate", rename_all = "snake_case")]
pub enum GateKind {
    /// `gate webhook URL [timeout D] [retries N] [insecure]`: a 2xx response passes.
    Webhook {
        /// The URL to call.
        url: Expr,
        /// Per-attempt timeout.
        timeout: Option<Expr>,
        /// Extra attempts after a failure.
        retries: Option<Expr>,
        /// Allow plain `http`.
        insecure: bool,
    },
    /// `gate metric prometheus URL query Q below|above X [for D] [every D]`.
    Metric {
        /// The Prometheus server.
        url: Expr,
        /// The PromQL query.
        query: Expr,
        /// Pass while the value is below or above the threshold.
        comparison: MetricComparison,
        /// The threshold.
        threshold: Expr,
        /// How long the condition must hold.
        window: Option<Expr>,
        /// Sampling interval.
        every: Option<Expr>,
    },
    /// `gate approval ["reason"]`: waits for `rollc promote`.
    Approval {
        /// What the approver is asked.
        reason: Option<Expr>,
    },
}

/// The comparison a metric gate makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricComparison {
    /// Pass while the value is below the threshold.
    Below,
    /// Pass while the value is above the threshold.
    Above,
}

/// A string literal, decoded, with `${name}` interpolations kept as parts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StrLit {
    /// Literal text and interpolations in order.
    pub parts: Vec<StrPart>,
    /// The literal including quotes.
    pub span: Span,
}

impl StrLit {
    /// The text when the literal has no interpolation.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                StrPart::Text(text) => out.push_str(text),
                StrPart::Interp(_) => return None,
            }
        }
        Some(out)
    }
}

/// A piece of a string literal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "part", content = "value", rename_all = "snake_case")]
pub enum StrPart {
    /// Text with escapes decoded.
    Text(String),
    /// `${name}`.
    Interp(Ident),
}

/// An expression: selectors, values, and references to names.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Where it is written.
    pub span: Span,
}

/// Comparison operators in selectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareOp {
    /// `==`
    Eq,
    /// `!=` (also matches clusters without the label)
    Ne,
    /// `matches` (glob)
    Matches,
}

/// A cluster attribute usable in selectors and `order by`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterAttr {
    /// `cluster.name`
    Name,
    /// `cluster.server`
    Server,
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "expr", content = "value", rename_all = "snake_case")]
pub enum ExprKind {
    /// `42`
    Int(u64),
    /// `0.01`
    Float(f64),
    /// `25%` (0–100)
    Percent(u8),
    /// `1h30m`, in seconds
    Duration(u64),
    /// `"text ${name}"`
    Str(StrLit),
    /// `true` / `false`
    Bool(bool),
    /// `[a, b]`
    List(Vec<Expr>),
    /// A name: a `let`, parameter or loop variable.
    Name(Ident),
    /// `module.name`: a `let` of a module imported with an alias.
    Qualified {
        /// The module alias.
        module: Ident,
        /// The name inside the module.
        name: Ident,
    },
    /// `` `topology.kubernetes.io/zone` ``: a label key that is not an identifier.
    Key(LabelKey),
    /// `cluster.name`, `cluster.server`
    Attr(ClusterAttr),
    /// `all`: every cluster.
    All,
    /// `KEY op VALUE`
    Compare {
        /// A label key or cluster attribute.
        lhs: Box<Expr>,
        /// The operator.
        op: CompareOp,
        /// The value.
        rhs: Box<Expr>,
    },
    /// `KEY in LIST` / `KEY not in LIST`
    In {
        /// A label key or cluster attribute.
        lhs: Box<Expr>,
        /// `not in`
        negated: bool,
        /// The list (or a name bound to one).
        rhs: Box<Expr>,
    },
    /// `has KEY`: the label exists.
    Has(LabelKey),
    /// `not e`
    Not(Box<Expr>),
    /// `a and b and ...`: chains are flat, so depth does not grow with their length.
    And(Vec<Expr>),
    /// `a or b or ...`: flat like [`ExprKind::And`].
    Or(Vec<Expr>),
    /// `window ...` written as a value (boxed: it is the largest expression).
    Window(Box<WindowSpec>),
    /// Something lowering already reported; later phases skip it silently.
    Error,
}

/// A time window: days of the week, a time of day range, a date range, and a time zone.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowSpec {
    /// Day ranges, e.g. `Mon-Fri`, `Sat,Sun`; empty for every day.
    pub days: Vec<DayRange>,
    /// Time of day, e.g. `09:00-17:00`; none for the whole day.
    pub hours: Option<TimeRange>,
    /// Calendar dates, e.g. `2026-12-20..2027-01-04`.
    pub dates: Option<DateRange>,
    /// IANA time zone; UTC when absent.
    pub tz: Option<StrLit>,
    /// The whole spec.
    pub span: Span,
}

/// Days of the week, Monday = 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DayRange {
    /// First day, 0 = Monday.
    pub from: u8,
    /// Last day, inclusive (equals `from` for a single day).
    pub to: u8,
    /// Where it is written.
    pub span: Span,
}

/// A time of day range in minutes after midnight; `to` may be 1440 (`24:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TimeRange {
    /// Start minute.
    pub from: u16,
    /// End minute, exclusive.
    pub to: u16,
    /// Where it is written.
    pub span: Span,
}

/// A calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day, 1–31.
    pub day: u8,
}

/// An inclusive range of dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DateRange {
    /// First day.
    pub from: Date,
    /// Last day, inclusive.
    pub to: Date,
    /// Where it is written.
    pub span: Span,
}
