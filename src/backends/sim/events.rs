//! Reading the top-level `events` list into operations for the time-ordered pass (head
//! moves, label changes, joins with their clusters, leaves), each checked for its shape.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::Value;

use super::error::Place;
use super::spec::{Incarnation, Settings, drained_until, resolve, settings, time};
use super::value::{Reader, describe};
use crate::fleet::Cluster;
use crate::syntax::suggest;

/// Keys of an entry of `events`.
const EVENT_KEYS: &[&str] = &["at", "revision", "cluster", "labels", "join", "leave"];
/// Keys of an event's `join`.
const JOIN_KEYS: &[&str] = &["name", "server", "labels", "sim"];

/// Who an operation of the time-ordered pass is about.
#[derive(Clone, Copy, Debug)]
pub(super) enum Who {
    /// A fleet-file cluster (incarnation index).
    Initial(usize),
    /// A join candidate (index into the candidates).
    Candidate(usize),
}

/// What an operation of the time-ordered pass does.
pub(super) enum Op {
    Revision(String),
    Labels {
        name: String,
        set: BTreeMap<String, Option<String>>,
    },
    Join(usize),
    Leave(String),
    Expire(Who),
}

/// An operation with its time and its place among operations at the same time: events in
/// list order first, then expiries (fleet order, then join order).
pub(super) struct TimedOp {
    pub at: Timestamp,
    pub order: (u8, usize),
    /// The event it comes from (`None` for an expiry).
    pub event: Option<usize>,
    pub op: Op,
}

/// A joined cluster, before the time-ordered pass accepts its join.
pub(super) struct Candidate {
    pub incarnation: Incarnation,
    /// The event that joins it (1-based).
    pub event: usize,
}

/// What [`events`] collects for the time-ordered pass.
#[derive(Default)]
pub(super) struct Ops {
    /// The operations, in no particular order.
    pub list: Vec<TimedOp>,
    /// The joining clusters.
    pub candidates: Vec<Candidate>,
}

/// Reads `events` into timed operations and join candidates.
pub(super) fn events(
    r: &mut Reader,
    events: Option<&Value>,
    origin: Timestamp,
    defaults: &Settings,
    ops: &mut Ops,
) {
    let list = match events {
        None | Some(Value::Null) => return,
        Some(Value::Array(list)) => list,
        Some(other) => {
            r.problem(
                &Place::Events,
                "events",
                format!("must be a list, found {}", describe(other)),
                Some("write one `- {at: 1h, ...}` entry per event".into()),
            );
            return;
        }
    };
    for (i, entry) in list.iter().enumerate() {
        let n = i + 1;
        let place = Place::Event(n);
        let Some(Some(map)) = r.map(&place, "", entry, EVENT_KEYS, &[]) else {
            if entry.is_null() {
                r.problem(&place, "at", "the event is empty", Some(event_help()));
            }
            continue;
        };
        let at = match map.get("at") {
            Some(value) => r
                .duration(&place, "at", value)
                .and_then(|d| time(r, &place, "at", origin, d)),
            None => {
                r.problem(
                    &place,
                    "at",
                    "the event has no `at`",
                    Some("write when it happens, from the run's start, e.g. `at: 2h`".into()),
                );
                None
            }
        };
        let kinds: Vec<&str> = ["revision", "cluster", "join", "leave"]
            .into_iter()
            .filter(|k| map.contains_key(*k))
            .collect();
        let kind = match kinds.as_slice() {
            [one] => *one,
            [] => {
                if map.keys().any(|k| !EVENT_KEYS.contains(&k.as_str())) {
                    // An unknown key was reported: likely the misspelt kind.
                } else if map.contains_key("labels") {
                    r.problem(
                        &place,
                        "labels",
                        "`labels` needs a `cluster`",
                        Some("name the cluster whose labels change: `cluster: NAME`".into()),
                    );
                } else {
                    r.problem(
                        &place,
                        "",
                        "the event says nothing happens",
                        Some(event_help()),
                    );
                }
                continue;
            }
            many => {
                r.problem(
                    &place,
                    many[1],
                    format!(
                        "an event does one thing, this one has {}",
                        suggest::list(many).replace(" or ", " and ")
                    ),
                    Some("split it into one event per change".into()),
                );
                continue;
            }
        };
        if kind != "cluster" && map.contains_key("labels") {
            r.problem(
                &place,
                "labels",
                format!("`labels` belongs to a `cluster` event, not a `{kind}` event"),
                Some("put the labels of a joining cluster under `join`".into()),
            );
        }
        let op = match kind {
            "revision" => r
                .string(&place, "revision", &map["revision"])
                .map(Op::Revision),
            "cluster" => {
                let name = r.string(&place, "cluster", &map["cluster"]);
                let set = match map.get("labels") {
                    Some(labels) => r.labels(&place, "labels", labels, true),
                    None => {
                        r.problem(
                            &place,
                            "labels",
                            "a `cluster` event needs `labels`",
                            Some(
                                "write the labels to set, and `null` for those to remove: \
                                 `labels: {drained: \"true\", region: null}`"
                                    .into(),
                            ),
                        );
                        None
                    }
                };
                match (name, set) {
                    (Some(name), Some(set)) => Some(Op::Labels { name, set }),
                    _ => None,
                }
            }
            "leave" => r.string(&place, "leave", &map["leave"]).map(Op::Leave),
            _ => join_candidate(r, (origin, defaults), &place, &map["join"], at, n, ops)
                .map(Op::Join),
        };
        if let (Some(at), Some(op)) = (at, op) {
            ops.list.push(TimedOp {
                at,
                order: (0, i),
                event: Some(n),
                op,
            });
        }
    }
}

fn event_help() -> String {
    "an event is one of `{at: 2h, revision: \"r3\"}`, `{at: 30m, cluster: NAME, labels: \
     {drained: \"true\"}}`, `{at: 1h, join: {name: NAME, server: URL, labels: {...}}}` and \
     `{at: 1h, leave: NAME}`"
        .into()
}

/// Reads a `join` block into a candidate (and its `drained_until` expiry); its index.
/// `(origin, defaults)` are the run's start and the fleet's defaults.
fn join_candidate(
    r: &mut Reader,
    (origin, defaults): (Timestamp, &Settings),
    place: &Place,
    value: &Value,
    at: Option<Timestamp>,
    event: usize,
    ops: &mut Ops,
) -> Option<usize> {
    let map = match r.map(place, "join", value, JOIN_KEYS, &[]) {
        Some(Some(map)) => map,
        Some(None) => {
            r.problem(
                place,
                "join",
                "the joining cluster is empty",
                Some("write `join: {name: NAME, server: URL, labels: {...}}`".into()),
            );
            return None;
        }
        None => return None,
    };
    let mut required = |key: &str| match map.get(key) {
        Some(value) => r.string(place, &format!("join.{key}"), value),
        None => {
            r.problem(
                place,
                &format!("join.{key}"),
                format!("the joining cluster has no `{key}`"),
                None,
            );
            None
        }
    };
    let name = required("name");
    let server = required("server").map(|s| s.trim_end_matches('/').to_owned());
    let labels = match map.get("labels") {
        Some(value) => r.labels(place, "join.labels", value, false).map(|labels| {
            labels
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect::<BTreeMap<_, _>>()
        }),
        None => Some(BTreeMap::new()),
    };
    let null = Value::Null;
    let sim = map.get("sim").unwrap_or(&null);
    let own = settings(r, place, "join.sim", sim, false);
    let (name, server, labels) = (name?, server?, labels?);
    let resolved = resolve(own, defaults);
    let expiry = drained_until(r, place, "join.sim", &labels, &resolved);
    let index = ops.candidates.len();
    let mut cluster = Cluster::new(name, server, labels);
    cluster.sim = (!sim.is_null()).then(|| sim.clone());
    ops.candidates.push(Candidate {
        incarnation: Incarnation {
            cluster,
            behaviour: resolved.behaviour,
            deployed: resolved.deployed,
            joined: at,
            left: None,
        },
        event,
    });
    if let (Some(at), Some(until)) = (at, expiry)
        && let Some(until) = time(r, place, "join.sim.drained_until", origin, until)
    {
        if until <= at {
            r.problem(
                place,
                "join.sim.drained_until",
                "the cluster's `drained` label would expire before it joins",
                Some("`drained_until` counts from the run's start, not from the join".into()),
            );
        } else {
            ops.list.push(TimedOp {
                at: until,
                order: (1, usize::MAX / 2 + index),
                event: None,
                op: Op::Expire(Who::Candidate(index)),
            });
        }
    }
    Some(index)
}
