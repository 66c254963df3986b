//! The Strategy IR: what the runtime executes and CI can keep as an artifact.
//!
//! Fleet-independent, versioned and self-contained: imports, `let`s, templates and loops are
//! expanded, `defaults` applied (every field has its value, defaults included), selectors
//! normalised. Serialised as JSON with a committed JSON Schema (`docs/ir.schema.json`).
//! Durations are whole seconds; counts keep their form (`{"int": 2}` or `{"percent": 25}`)
//! because percentages resolve against a fleet only when a plan is made.
//!
//! [`Strategy::to_json`] writes the artifact, [`Strategy::from_json`] reads it back (checking
//! the version first), and [`schema`] describes it. `docs/ir.md` is the format's reference.

mod compile;
mod read;

pub use compile::{
    DEFAULT_METRIC_EVERY, DEFAULT_METRIC_WINDOW, DEFAULT_REQUEUE_ATTEMPTS, DEFAULT_REQUEUE_EVERY,
    DEFAULT_WEBHOOK_RETRIES, DEFAULT_WEBHOOK_TIMEOUT, compile, selector,
};

pub use read::ReadError;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The IR format's version. A change that an older runtime could misread bumps it.
pub const VERSION: &str = "rollc.dev/strategy/v1";

/// The shape of a calendar date in the IR (its validity is checked when reading).
const DATE_PATTERN: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$";

/// The JSON Schema of the IR (draft 2020-12), generated from these types. It is committed as
/// `docs/ir.schema.json`; a test fails when that file is stale.
pub fn schema() -> serde_json::Value {
    schemars::schema_for!(Strategy).to_value()
}

impl Strategy {
    /// The IR as pretty JSON (two-space indent, trailing newline). Byte-identical for equal
    /// strategies: the IR holds only lists and structs, never maps, so there is no iteration
    /// order to vary.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .expect("the IR has only string keys and serialises infallibly");
        text.push('\n');
        text
    }
}

/// A compiled strategy file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    /// Always [`VERSION`].
    #[schemars(
        extend("const" = VERSION),
        description = "The IR format's version; readers refuse any other."
    )]
    pub version: String,
    /// The source file it was compiled from, as given to `rollc compile`.
    pub source: String,
    /// The rollouts, in source order.
    pub rollouts: Vec<Rollout>,
}

/// One rollout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// Its name, unique in the file.
    pub name: String,
    /// Which Applications it drives.
    pub target: Target,
    /// What a new commit during a run does.
    pub on_new_revision: NewRevisionPolicy,
    /// The stages, in run order.
    pub stages: Vec<Stage>,
}

/// Which Applications a rollout drives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "by", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// The Applications an ApplicationSet owns (`"by": "appset"`, the source keyword).
    #[serde(rename = "appset")]
    AppSet {
        /// The ApplicationSet's name.
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

/// What a new commit during a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NewRevisionPolicy {
    /// Finish the run at its pinned revision, then start a new run.
    Queue,
    /// Stop and start again at the new revision.
    Restart,
}

/// A number of clusters: absolute, or a share of a base resolved by the planner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Count {
    /// Exactly this many (0 is a manual hold).
    Int(u64),
    /// This percentage, rounded down, at least 1 above 0%.
    Percent(#[schemars(range(max = 100))] u8),
}

/// One stage, with every field resolved (defaults included).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// The stage's name, unique in the rollout.
    pub name: String,
    /// Which clusters it takes (of those no earlier stage took).
    pub select: Selector,
    /// At most this many of its candidates; `None` takes them all.
    pub limit: Option<Limit>,
    /// At most this many in flight (default 1).
    pub batch: Count,
    /// Round-robin across this label's values.
    pub spread_by: Option<String>,
    /// Per-label in-flight cap.
    pub max_in_flight: Option<MaxInFlight>,
    /// Start order within the stage (default: cluster name, ascending).
    pub order_by: OrderBy,
    /// Soak after the stage is healthy, in seconds (0: none).
    pub bake_seconds: u64,
    /// Per-cluster soak in seconds (0: none).
    pub bake_each_seconds: u64,
    /// Time a cluster has to become synced and healthy, in seconds.
    pub deadline_seconds: Option<u64>,
    /// Failures allowed before the failure policy acts (default 0).
    pub tolerate: Count,
    /// Deferral of clusters that are not ready.
    pub requeue: Option<Requeue>,
    /// Checks after the stage and its bake, in order.
    pub gates: Vec<Gate>,
    /// When new clusters may start.
    pub windows: Vec<Window>,
    /// What happens beyond the tolerance (default pause).
    pub on_failure: FailurePolicy,
}

impl Stage {
    /// A stage selecting `select` with every other field at its default, as `compile` fills
    /// in fields the source leaves out: no limit, batch 1, name order, no bakes, no deadline,
    /// tolerate 0, no requeue, gates or windows, on failure pause.
    pub fn new(name: impl Into<String>, select: Selector) -> Stage {
        Stage {
            name: name.into(),
            select,
            limit: None,
            batch: Count::Int(1),
            spread_by: None,
            max_in_flight: None,
            order_by: OrderBy {
                key: Attr::Name,
                descending: false,
            },
            bake_seconds: 0,
            bake_each_seconds: 0,
            deadline_seconds: None,
            tolerate: Count::Int(0),
            requeue: None,
            gates: Vec::new(),
            windows: Vec::new(),
            on_failure: FailurePolicy::Pause,
        }
    }
}

/// `limit N [per KEY]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// The count.
    pub count: Count,
    /// Per value of this label instead of stage-wide.
    pub per: Option<String>,
}

/// `max in flight N per KEY`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaxInFlight {
    /// The cap.
    pub count: u64,
    /// The label whose values are capped.
    pub per: String,
}

/// What clusters are sorted by within a stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBy {
    /// The sort key.
    pub key: Attr,
    /// Descending instead of ascending.
    pub descending: bool,
}

/// Deferral of clusters that match a selector when their turn comes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Requeue {
    /// Which clusters to defer.
    pub when: Selector,
    /// How many retries before the cluster counts as failed.
    pub attempts: u64,
    /// Seconds between retries.
    pub every_seconds: u64,
}

/// What happens when a stage fails beyond its tolerance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Wait for an operator.
    Pause,
    /// Stop and leave clusters as they are.
    Abort,
    /// Sync updated clusters back to their previous revision.
    Rollback,
}

/// A check between a stage (and its bake) and the next stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "gate", rename_all = "snake_case", deny_unknown_fields)]
pub enum Gate {
    /// A 2xx response passes.
    Webhook {
        /// The URL to call.
        url: String,
        /// Per-attempt timeout in seconds.
        timeout_seconds: u64,
        /// Extra attempts after a failure.
        retries: u64,
        /// Plain http allowed.
        insecure: bool,
    },
    /// A Prometheus query compared with a threshold, sampled over a window.
    Metric {
        /// The Prometheus server.
        url: String,
        /// The PromQL query.
        query: String,
        /// Pass while below or above the threshold.
        comparison: Comparison,
        /// The threshold.
        threshold: f64,
        /// How long the condition must hold, in seconds.
        window_seconds: u64,
        /// Sampling interval in seconds.
        every_seconds: u64,
    },
    /// Waits for `rollc promote`.
    Approval {
        /// What the approver is asked.
        reason: Option<String>,
    },
}

/// How a metric gate compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Pass while the value is below the threshold.
    Below,
    /// Pass while the value is above the threshold.
    Above,
}

/// A time window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Allow or deny.
    pub mode: WindowMode,
    /// Day ranges, Monday = 0, inclusive, may wrap; empty for every day.
    pub days: Vec<DayRange>,
    /// Minutes after midnight, `[from, to)`, may wrap past midnight; none for all day.
    pub minutes: Option<MinuteRange>,
    /// Inclusive calendar dates (`YYYY-MM-DD`).
    pub dates: Option<DateRange>,
    /// IANA time zone.
    pub tz: String,
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WindowMode {
    /// New clusters start only inside.
    Allow,
    /// New clusters never start inside.
    Deny,
}

/// Days of the week, Monday = 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DayRange {
    /// First day.
    #[schemars(range(max = 6))]
    pub from: u8,
    /// Last day, inclusive.
    #[schemars(range(max = 6))]
    pub to: u8,
}

/// Minutes of the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MinuteRange {
    /// Start minute.
    #[schemars(range(max = 1440))]
    pub from: u16,
    /// End minute, exclusive (1440 is midnight at the end of the day).
    #[schemars(range(max = 1440))]
    pub to: u16,
}

/// Calendar dates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    /// First day, `YYYY-MM-DD`.
    #[schemars(regex(pattern = DATE_PATTERN))]
    pub from: String,
    /// Last day, inclusive.
    #[schemars(regex(pattern = DATE_PATTERN))]
    pub to: String,
}

/// What a comparison looks at.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(
    tag = "attr",
    content = "key",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Attr {
    /// A cluster label.
    Label(String),
    /// The Argo CD cluster name.
    Name,
    /// The cluster's API server URL.
    Server,
}

/// A normalised selector: `and`/`or` flat, `in` lists sorted without duplicates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Selector {
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
        /// Sorted, distinct.
        values: Vec<String>,
    },
    /// `key not in [values]` (matches clusters without the label).
    NotIn {
        /// The key.
        key: Attr,
        /// Sorted, distinct.
        values: Vec<String>,
    },
    /// `key matches "glob"` (`*` and `?`).
    Matches {
        /// The key.
        key: Attr,
        /// The glob.
        pattern: String,
    },
    /// The label exists.
    Has {
        /// The label.
        key: String,
    },
    /// Negation.
    Not {
        /// The negated selector.
        inner: Box<Selector>,
    },
    /// All operands match.
    And {
        /// At least two operands, none an `and`.
        all: Vec<Selector>,
    },
    /// Some operand matches.
    Or {
        /// At least two operands, none an `or`.
        any: Vec<Selector>,
    },
}
