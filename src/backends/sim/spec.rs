//! Reading a fleet's simulator blocks into a [`Spec`]: the defaults and each cluster's
//! behaviour here, the `events` list in [`super::events`], and the fleet's changes over time
//! (joins, leaves, label changes, `drained_until` expiries, head moves), checked in time
//! order, in [`super::pass`].

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::error::{Place, SimError, SimProblem};
use super::events::{self, Op, Ops, TimedOp, Who};
use super::pass;
use super::value::{Reader, join};
use crate::fleet::{Cluster, Fleet};

/// The label `drained_until` removes.
pub const DRAINED_LABEL: &str = "drained";
/// The head revision at time zero when `defaults.revision` is not given.
pub const DEFAULT_HEAD: &str = "r2";
/// What a cluster runs before the run when neither it nor `defaults` says.
pub const DEFAULT_DEPLOYED: &str = "r1";
/// How long a sync takes when neither the cluster nor `defaults` says (the same as `plan`'s
/// estimate).
pub const DEFAULT_SYNC: SignedDuration = SignedDuration::from_secs(5 * 60);
/// How long a `flap` cluster stays healthy before it degrades.
pub const DEFAULT_FLAP_AFTER: SignedDuration = SignedDuration::from_secs(5 * 60);
/// How long a `flap` cluster stays degraded before it is healthy again.
pub const DEFAULT_FLAP_FOR: SignedDuration = SignedDuration::from_secs(2 * 60);

/// Keys of a cluster's `sim` block (and of `join.sim`).
const CLUSTER_KEYS: &[&str] = &[
    "sync",
    "outcome",
    "deployed",
    "drained_until",
    "flap_after",
    "flap_for",
];
/// Keys of `defaults`.
const DEFAULT_KEYS: &[&str] = &[
    "revision",
    "sync",
    "outcome",
    "deployed",
    "drained_until",
    "flap_after",
    "flap_for",
];
/// The values of `outcome`.
const OUTCOMES: &[&str] = &[
    "healthy",
    "degraded",
    "sync-failed",
    "never-healthy",
    "flap",
];
/// Keys that belong in `defaults` only.
const DEFAULTS_ONLY: &[(&str, &str)] = &[(
    "revision",
    "the source's head revision is fleet-wide: set `revision` in the top-level `defaults`, \
     or move it with an event `{at: 2h, revision: \"...\"}`",
)];

/// How a sync of a cluster ends (for any revision but the one it ran before the run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `Healthy` when the sync ends.
    Healthy,
    /// Deployed, then `Degraded` when the sync ends.
    Degraded,
    /// `SyncFailed` when the sync ends; the old revision stays.
    SyncFailed,
    /// Deployed when the sync ends, but never healthy: `Progressing` until the deadline.
    NeverHealthy,
    /// `Healthy` when the sync ends, `Degraded` `flap_after` later, `Healthy` again
    /// `flap_for` after that.
    Flap,
}

impl Outcome {
    fn from_name(name: &str) -> Outcome {
        match name {
            "degraded" => Outcome::Degraded,
            "sync-failed" => Outcome::SyncFailed,
            "never-healthy" => Outcome::NeverHealthy,
            "flap" => Outcome::Flap,
            _ => Outcome::Healthy,
        }
    }
}

/// How one cluster behaves when synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Behaviour {
    /// How long a sync takes.
    pub sync: SignedDuration,
    /// How it ends.
    pub outcome: Outcome,
    /// For [`Outcome::Flap`]: healthy this long before degrading.
    pub flap_after: SignedDuration,
    /// For [`Outcome::Flap`]: degraded this long before healthy again.
    pub flap_for: SignedDuration,
}

/// One stay of a cluster in the fleet: a fleet-file cluster from time zero, or a joined one
/// from its join (a name that leaves and joins again has one incarnation per stay).
#[derive(Clone, Debug)]
pub struct Incarnation {
    /// The cluster as it was at time zero or when it joined (its labels may change later).
    pub cluster: Cluster,
    /// How it behaves when synced.
    pub behaviour: Behaviour,
    /// The revision it runs before the run (`None`: never synced).
    pub deployed: Option<String>,
    /// When it joined; `None` for a cluster of the fleet file.
    pub joined: Option<Timestamp>,
    /// When it left, if it did.
    pub left: Option<Timestamp>,
}

impl Incarnation {
    /// Whether the cluster is in the fleet at `t` (a join or leave at `t` has happened).
    pub fn present_at(&self, t: Timestamp) -> bool {
        self.joined.is_none_or(|j| j <= t) && self.left.is_none_or(|l| t < l)
    }
}

/// A change of the fleet or the source at a known time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The head moved to this revision.
    Revision(String),
    /// Incarnation `inc` now has exactly these labels.
    Relabel {
        /// The incarnation.
        inc: usize,
        /// Its full label set after the change.
        labels: BTreeMap<String, String>,
    },
    /// Incarnation `inc` joined.
    Join(usize),
    /// Incarnation `inc` left.
    Leave(usize),
}

/// A [`Change`] and its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldEvent {
    /// When it happens.
    pub at: Timestamp,
    /// What happens.
    pub change: Change,
}

/// A validated simulator description.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The head revision at time zero.
    pub head: String,
    /// The fleet file's clusters (in fleet order), then joined ones (in join order).
    pub incarnations: Vec<Incarnation>,
    /// How many of `incarnations` are the fleet file's.
    pub initial: usize,
    /// Every change, in the order it applies (time, then file order, then expiries); no
    /// change is a no-op.
    pub events: Vec<WorldEvent>,
}

/// A cluster's or the defaults' keys, each `None` when not given.
#[derive(Default)]
pub(super) struct Settings {
    revision: Option<String>,
    sync: Option<SignedDuration>,
    outcome: Option<Outcome>,
    /// `Some(None)`: written as `null` (never expires).
    drained_until: Option<Option<SignedDuration>>,
    /// `Some(None)`: written as `null` (never synced).
    deployed: Option<Option<String>>,
    flap_after: Option<SignedDuration>,
    flap_for: Option<SignedDuration>,
}

/// A cluster's settings with the defaults applied.
pub(super) struct Resolved {
    pub behaviour: Behaviour,
    pub deployed: Option<String>,
    /// The `drained_until` the cluster itself gives (`Some(None)` for `null`).
    own_drained: Option<Option<SignedDuration>>,
    /// The defaults' `drained_until`.
    default_drained: Option<SignedDuration>,
}

/// Reads the simulator blocks of `fleet`, with every relative time measured from `origin`.
pub fn parse(fleet: &Fleet, origin: Timestamp) -> Result<Spec, SimError> {
    let mut r = Reader::default();
    let null = Value::Null;

    let defaults = settings(
        &mut r,
        &Place::Defaults,
        "defaults",
        fleet.defaults.as_ref().unwrap_or(&null),
        true,
    );
    let head = defaults
        .revision
        .clone()
        .unwrap_or_else(|| DEFAULT_HEAD.to_owned());

    let mut incarnations = Vec::with_capacity(fleet.clusters.len());
    let mut ops = Ops::default();
    for (i, cluster) in fleet.clusters.iter().enumerate() {
        let place = Place::Cluster(cluster.name.clone());
        let own = settings(
            &mut r,
            &place,
            "sim",
            cluster.sim.as_ref().unwrap_or(&null),
            false,
        );
        let resolved = resolve(own, &defaults);
        let until = drained_until(&mut r, &place, "sim", &cluster.labels, &resolved);
        if let Some(until) = until
            && let Some(at) = time(&mut r, &place, "sim.drained_until", origin, until)
        {
            ops.list.push(TimedOp {
                at,
                order: (1, i),
                event: None,
                op: Op::Expire(Who::Initial(i)),
            });
        }
        incarnations.push(Incarnation {
            cluster: cluster.clone(),
            behaviour: resolved.behaviour,
            deployed: resolved.deployed,
            joined: None,
            left: None,
        });
    }
    let initial = incarnations.len();

    events::events(&mut r, fleet.events.as_ref(), origin, &defaults, &mut ops);
    let (incarnations, events) = pass::run(&mut r, incarnations, &head, ops);

    if r.problems.is_empty() {
        Ok(Spec {
            head,
            incarnations,
            initial,
            events,
        })
    } else {
        let mut problems = r.problems;
        // Clusters come in fleet order and before events; an event's timing problems were
        // found in time order: put them back in list order.
        problems.sort_by_key(|p: &SimProblem| match p.place {
            Place::Defaults => 0,
            Place::Cluster(_) => 1,
            Place::Events => 2,
            Place::Event(n) => 3 + n,
        });
        Err(SimError { problems })
    }
}

/// The keys of a `sim` block (`prefix` is its field path) or of `defaults`.
pub(super) fn settings(
    r: &mut Reader,
    place: &Place,
    prefix: &str,
    value: &Value,
    is_defaults: bool,
) -> Settings {
    let (known, hints) = if is_defaults {
        (DEFAULT_KEYS, &[][..])
    } else {
        (CLUSTER_KEYS, DEFAULTS_ONLY)
    };
    let mut s = Settings::default();
    let Some(Some(map)) = r.map(place, prefix, value, known, hints) else {
        return s;
    };
    for (key, value) in map {
        let field = join(prefix, key);
        match key.as_str() {
            "revision" if is_defaults => s.revision = r.string(place, &field, value),
            "sync" => s.sync = r.duration(place, &field, value),
            "outcome" => {
                s.outcome = r
                    .choice(place, &field, value, "outcome", OUTCOMES)
                    .map(Outcome::from_name);
            }
            "deployed" => {
                s.deployed = match value {
                    Value::Null => Some(None),
                    _ => r.string(place, &field, value).map(Some),
                };
            }
            "drained_until" => {
                s.drained_until = match value {
                    Value::Null => Some(None),
                    _ => r.duration(place, &field, value).map(Some),
                };
            }
            "flap_after" => s.flap_after = r.duration(place, &field, value),
            "flap_for" => s.flap_for = r.duration(place, &field, value),
            // Unknown keys were reported by `map`.
            _ => {}
        }
    }
    s
}

/// A cluster's settings over the defaults over the built-in defaults.
pub(super) fn resolve(own: Settings, defaults: &Settings) -> Resolved {
    Resolved {
        behaviour: Behaviour {
            sync: own.sync.or(defaults.sync).unwrap_or(DEFAULT_SYNC),
            outcome: own.outcome.or(defaults.outcome).unwrap_or(Outcome::Healthy),
            flap_after: own
                .flap_after
                .or(defaults.flap_after)
                .unwrap_or(DEFAULT_FLAP_AFTER),
            flap_for: own
                .flap_for
                .or(defaults.flap_for)
                .unwrap_or(DEFAULT_FLAP_FOR),
        },
        deployed: match own.deployed.or_else(|| defaults.deployed.clone()) {
            Some(deployed) => deployed,
            None => Some(DEFAULT_DEPLOYED.to_owned()),
        },
        own_drained: own.drained_until,
        default_drained: defaults.drained_until.flatten(),
    }
}

/// When a cluster's `drained` label expires (relative to the origin): its own
/// `drained_until`, else the defaults' when it is drained. A cluster's own `drained_until`
/// without the label is reported.
pub(super) fn drained_until(
    r: &mut Reader,
    place: &Place,
    prefix: &str,
    labels: &BTreeMap<String, String>,
    resolved: &Resolved,
) -> Option<SignedDuration> {
    let drained = labels.get(DRAINED_LABEL).map(String::as_str) == Some("true");
    match resolved.own_drained {
        Some(Some(until)) if drained => Some(until),
        Some(Some(_)) => {
            let found = match labels.get(DRAINED_LABEL) {
                Some(value) => format!("its label `{DRAINED_LABEL}` is `{value:?}`"),
                None => format!("it has no label `{DRAINED_LABEL}`"),
            };
            r.problem(
                place,
                &join(prefix, "drained_until"),
                format!("the cluster is not drained: {found}"),
                Some(format!(
                    "add the label `{DRAINED_LABEL}: \"true\"` or remove `drained_until`"
                )),
            );
            None
        }
        Some(None) => None,
        None if drained => resolved.default_drained,
        None => None,
    }
}

/// `origin + offset`, reported when out of range.
pub(super) fn time(
    r: &mut Reader,
    place: &Place,
    field: &str,
    origin: Timestamp,
    offset: SignedDuration,
) -> Option<Timestamp> {
    match origin.checked_add(offset) {
        Ok(at) => Some(at),
        Err(_) => {
            r.problem(
                place,
                field,
                format!("{origin} plus this lies beyond the year 9999"),
                None,
            );
            None
        }
    }
}
