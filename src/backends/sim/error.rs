//! Why a fleet file's simulator blocks (`sim`, `defaults`, `events`) cannot be simulated:
//! [`SimError`] holds every problem of the file, each naming its place and field.

use std::fmt;

/// Every problem of a fleet file's simulator blocks, reported together.
///
/// Rendered through miette, each problem is a related diagnostic with its own help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("{}", summary(.problems))]
#[diagnostic(
    code(rollc::sim),
    help(
        "fix the `sim`, `defaults` and `events` blocks of the fleet file (docs/sim.md \
         describes them)"
    )
)]
pub struct SimError {
    /// The problems, in file order: defaults, then clusters in fleet order, then events in
    /// list order (problems of an event's timing come after its shape).
    #[related]
    pub problems: Vec<SimProblem>,
}

fn summary(problems: &[SimProblem]) -> String {
    match problems {
        [one] => format!("invalid simulated fleet: {one}"),
        _ => format!("invalid simulated fleet: {} problems", problems.len()),
    }
}

/// One problem of the simulator blocks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("{}", line(.place, .field, .message))]
pub struct SimProblem {
    /// Where: `defaults`, ``cluster `prod-euw1-03` `` or `event 3` (1-based).
    pub place: Place,
    /// The field, as a path from the place: `sim.outcome`, `defaults.sync`, `at`,
    /// `join.labels.region`.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it (a "did you mean" for misspelt keys and values).
    #[help]
    pub help: Option<String>,
}

fn line(place: &Place, field: &str, message: &str) -> String {
    if field.is_empty() {
        format!("{place}: {message}")
    } else {
        format!("{place}, `{field}`: {message}")
    }
}

/// The part of the file a [`SimProblem`] is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// The top-level `defaults` block.
    Defaults,
    /// A cluster's `sim` block.
    Cluster(String),
    /// The top-level `events` block as a whole.
    Events,
    /// One entry of `events`, 1-based.
    Event(usize),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Defaults => f.write_str("defaults"),
            Place::Cluster(name) => write!(f, "cluster `{name}`"),
            Place::Events => f.write_str("events"),
            Place::Event(n) => write!(f, "event {n}"),
        }
    }
}
