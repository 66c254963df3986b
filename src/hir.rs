//! The checked form of a strategy: names resolved, imports followed, templates and loops
//! expanded, defaults applied, every value typed and range-checked.
//!
//! Produced by [`crate::types`], read by [`crate::lint`] and later by the IR compiler. Every
//! node keeps a [`Loc`] (file and span) so lints and later phases can point into the source,
//! including into imported files and the stdlib.

use serde::Serialize;

use crate::ast::{
    ClusterAttr, Date, FailurePolicy, MetricComparison, NewRevisionPolicy, WindowMode,
};
use crate::source::{FileId, Span};

/// A place in some source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Loc {
    /// The file.
    pub file: FileId,
    /// The bytes.
    pub span: Span,
}

impl Loc {
    /// A location in `file`.
    pub fn new(file: FileId, span: Span) -> Loc {
        Loc { file, span }
    }
}

/// A value with the place that produced it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written (for a value from a `let` or a default, that definition).
    pub loc: Loc,
}

impl<T> Spanned<T> {
    /// Wraps `value`.
    pub fn new(value: T, loc: Loc) -> Spanned<T> {
        Spanned { value, loc }
    }
}

/// Everything one checked file defines.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Program {
    /// The rollouts in source order.
    pub rollouts: Vec<Rollout>,
    /// The fleet schema in force (declared in the file or imported), if any.
    pub schema: Option<Schema>,
}

/// A checked rollout.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rollout {
    /// Its name.
    pub name: String,
    /// The name literal.
    pub loc: Loc,
    /// Its doc comment.
    pub doc: Option<String>,
    /// Which Applications it drives.
    pub target: Option<Spanned<Target>>,
    /// What a new commit during a run does.
    pub on_new_revision: NewRevisionPolicy,
    /// The stages, expanded, in run order.
    pub stages: Vec<Stage>,
    /// False when stages may be missing because of errors already reported (a syntax error
    /// in the file, or a `use`/`for` that failed): lints about absent stages stay quiet.
    pub complete: bool,
}

/// The Applications a rollout drives.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Target {
    /// The Applications an ApplicationSet owns.
    #[serde(rename = "appset")]
    AppSet {
        /// The ApplicationSet.
        name: String,
        /// Its namespace (the Argo CD namespace).
        namespace: String,
        /// Only Applications of this Argo CD project.
        project: Option<String>,
    },
    /// Applications whose labels match.
    Apps {
        /// Over Application labels.
        selector: Selector,
        /// The Argo CD namespace.
        namespace: String,
        /// Only Applications of this Argo CD project.
        project: Option<String>,
    },
}

/// A cluster count: absolute or a share of a base (see the rounding rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Count {
    /// Exactly this many (0 is a manual hold).
    Int(u64),
    /// This percentage of the base, rounded down, at least 1 above 0%.
    Percent(u8),
}

impl Count {
    /// Applies the rounding rule to a base of `n` clusters.
    pub fn resolve(self, n: u64) -> u64 {
        match self {
            Count::Int(k) => k.min(n),
            Count::Percent(0) => 0,
            Count::Percent(p) => (u64::from(p) * n / 100).max(1).min(n),
        }
    }
}

/// A checked stage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stage {
    /// The stage name, interpolated.
    pub name: String,
    /// The name literal.
    pub loc: Loc,
    /// Its doc comment.
    pub doc: Option<String>,
    /// Template uses and loops this stage was expanded from, innermost first.
    pub expanded_from: Vec<Loc>,
    /// Which clusters it takes.
    pub select: Option<Selector>,
    /// At most this many of them.
    pub limit: Option<Limit>,
    /// At most this many in flight.
    pub batch: Option<Spanned<Count>>,
    /// Round-robin over this label's values.
    pub spread_by: Option<Spanned<String>>,
    /// Per-key in-flight cap.
    pub max_in_flight: Option<MaxInFlight>,
    /// Intra-stage order.
    pub order_by: Option<Spanned<OrderBy>>,
    /// Soak after the stage is healthy, in seconds.
    pub bake: Option<Spanned<u64>>,
    /// Per-cluster soak, in seconds.
    pub bake_each: Option<Spanned<u64>>,
    /// Time a cluster has to get healthy, in seconds.
    pub deadline: Option<Spanned<u64>>,
    /// Failures allowed.
    pub tolerate: Option<Spanned<Count>>,
    /// Deferral of clusters that are not ready.
    pub requeue: Option<Requeue>,
    /// Checks before the next stage, in order.
    pub gates: Vec<Spanned<Gate>>,
    /// When new clusters may start.
    pub windows: Vec<Spanned<Window>>,
    /// What happens beyond the tolerance.
    pub on_failure: Option<Spanned<FailurePolicy>>,
}

/// `limit N [per KEY]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Limit {
    /// The count.
    pub count: Spanned<Count>,
    /// Per value of this label instead of stage-wide.
    pub per: Option<Spanned<String>>,
}

/// `max in flight N per KEY`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MaxInFlight {
    /// The cap.
    pub count: Spanned<u64>,
    /// The label.
    pub per: Spanned<String>,
}

/// `order by`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderBy {
    /// What to sort by.
    pub key: Attr,
    /// Descending.
    pub descending: bool,
}

/// `requeue when ... attempts N every D`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Requeue {
    /// Which clusters to defer.
    pub when: Selector,
    /// How many retries.
    pub attempts: Option<Spanned<u64>>,
    /// Seconds between retries.
    pub every: Option<Spanned<u64>>,
    /// The whole field.
    pub loc: Loc,
}

/// A gate.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "gate", rename_all = "snake_case")]
pub enum Gate {
    /// A 2xx response passes.
    Webhook {
        /// The URL.
        url: String,
        /// Per-attempt timeout in seconds.
        timeout: Option<u64>,
        /// Extra attempts.
        retries: Option<u64>,
        /// Allow plain http.
        insecure: bool,
    },
    /// A Prometheus query compared with a threshold.
    Metric {
        /// The Prometheus server.
        url: String,
        /// The PromQL query.
        query: String,
        /// Below or above.
        comparison: MetricComparison,
        /// The threshold.
        threshold: f64,
        /// How long the condition must hold, in seconds.
        window: Option<u64>,
        /// Sampling interval in seconds.
        every: Option<u64>,
    },
    /// Waits for `rollc promote`.
    Approval {
        /// What the approver is asked.
        reason: Option<String>,
    },
}

/// A time window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Window {
    /// Allow or deny.
    pub mode: WindowMode,
    /// Day ranges (Monday = 0, inclusive, may wrap); empty for every day.
    pub days: Vec<(u8, u8)>,
    /// Minutes after midnight, `[from, to)`; may wrap past midnight.
    pub hours: Option<(u16, u16)>,
    /// Inclusive date range.
    pub dates: Option<(Date, Date)>,
    /// IANA time zone; UTC when absent.
    pub tz: Option<String>,
}

/// What a comparison in a selector looks at.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "attr", content = "key", rename_all = "snake_case")]
pub enum Attr {
    /// A cluster label.
    Label(String),
    /// `cluster.name` / `cluster.server`.
    Cluster(ClusterAttr),
}

/// A normalised selector.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Selector {
    /// What it matches.
    pub kind: SelectorKind,
    /// Where it was written.
    pub loc: Loc,
}

/// Selector forms.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SelectorKind {
    /// Every cluster.
    All,
    /// `key == value`.
    Eq {
        /// The key.
        key: Attr,
        /// The value.
        value: String,
    },
    /// `key != value` (matches clusters without the label).
    Ne {
        /// The key.
        key: Attr,
        /// The value.
        value: String,
    },
    /// `key in [values]`.
    In {
        /// The key.
        key: Attr,
        /// The values.
        values: Vec<String>,
    },
    /// `key not in [values]` (matches clusters without the label).
    NotIn {
        /// The key.
        key: Attr,
        /// The values.
        values: Vec<String>,
    },
    /// `key matches "glob"`.
    Matches {
        /// The key.
        key: Attr,
        /// `*` and `?` glob.
        pattern: String,
    },
    /// `has key`.
    Has {
        /// The label.
        key: String,
    },
    /// `not s`.
    Not {
        /// The negated selector.
        inner: Box<Selector>,
    },
    /// `a and b and ...`.
    And {
        /// The operands.
        all: Vec<Selector>,
    },
    /// `a or b or ...`.
    Or {
        /// The operands.
        any: Vec<Selector>,
    },
}

/// The fleet schema: declared label keys.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Schema {
    /// Declarations in order.
    pub labels: Vec<SchemaLabel>,
}

impl Schema {
    /// The declaration of `key`.
    pub fn get(&self, key: &str) -> Option<&SchemaLabel> {
        self.labels.iter().find(|l| l.key == key)
    }
}

/// One declared label.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SchemaLabel {
    /// The key.
    pub key: String,
    /// Its values.
    pub ty: SchemaType,
    /// The declaration.
    pub loc: Loc,
}

/// What values a declared label takes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaType {
    /// Any string.
    String,
    /// `"true"` or `"false"`.
    Bool,
    /// Decimal integers.
    Int,
    /// One of these.
    Enum(Vec<String>),
}
