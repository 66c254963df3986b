//! The time-ordered pass over the fleet's changes: each operation applied to the fleet as
//! it is at its time, those that do not fit reported, the rest turned into [`WorldEvent`]s.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;

use super::error::Place;
use super::events::{Candidate, Op, Ops, TimedOp, Who};
use super::spec::{Change, DRAINED_LABEL, Incarnation, WorldEvent};
use super::value::Reader;
use crate::syntax::suggest;

/// Applies `ops` in time order to the fleet of `incarnations` (the fleet file's clusters)
/// with head `head`: the incarnations, joined ones appended and departures set, and the
/// changes, in the order they apply. Operations that do not fit are reported to `r`.
pub(super) fn run(
    r: &mut Reader,
    incarnations: Vec<Incarnation>,
    head: &str,
    ops: Ops,
) -> (Vec<Incarnation>, Vec<WorldEvent>) {
    let mut pass = Pass {
        r,
        incarnations,
        candidates: ops.candidates,
        joined: HashMap::new(),
        present: HashMap::new(),
        servers: HashMap::new(),
        labels: Vec::new(),
        head: head.to_owned(),
        events: Vec::new(),
    };
    pass.initial();
    let mut list = ops.list;
    list.sort_by_key(|op| (op.at, op.order));
    for op in list {
        pass.apply(op);
    }
    (pass.incarnations, pass.events)
}

/// The state of the time-ordered pass: applies every operation to the fleet as it is at its time,
/// reporting those that do not fit (a cluster that is not there, one that already is).
struct Pass<'r> {
    r: &'r mut Reader,
    incarnations: Vec<Incarnation>,
    candidates: Vec<Candidate>,
    /// Candidate → incarnation, for accepted joins.
    joined: HashMap<usize, usize>,
    /// Names in the fleet now → incarnation.
    present: HashMap<String, usize>,
    /// Servers in the fleet now → incarnation.
    servers: HashMap<String, usize>,
    /// Each incarnation's labels now.
    labels: Vec<BTreeMap<String, String>>,
    head: String,
    events: Vec<WorldEvent>,
}

impl Pass<'_> {
    /// Puts the fleet file's clusters in the fleet.
    fn initial(&mut self) {
        for (i, inc) in self.incarnations.iter().enumerate() {
            let place = Place::Cluster(inc.cluster.name.clone());
            if self.present.insert(inc.cluster.name.clone(), i).is_some() {
                self.r
                    .problem(&place, "name", "duplicate cluster name", None);
            }
            if let Some(first) = self.servers.insert(inc.cluster.server.clone(), i) {
                let other = &self.incarnations[first].cluster.name;
                self.r.problem(
                    &place,
                    "server",
                    format!("cluster `{other}` has the same server"),
                    None,
                );
            }
            self.labels.push(inc.cluster.labels.clone());
        }
    }

    fn apply(&mut self, TimedOp { at, event, op, .. }: TimedOp) {
        let place = event.map_or(Place::Events, Place::Event);
        match op {
            Op::Revision(revision) => {
                if revision != self.head {
                    self.head = revision.clone();
                    self.push(at, Change::Revision(revision));
                }
            }
            Op::Labels { name, set } => {
                let Some(inc) = self.find(&place, "cluster", &name, at) else {
                    return;
                };
                let mut labels = self.labels[inc].clone();
                for (key, value) in set {
                    match value {
                        Some(value) => labels.insert(key, value),
                        None => labels.remove(&key),
                    };
                }
                self.relabel(at, inc, labels);
            }
            Op::Join(candidate) => {
                let cluster = &self.candidates[candidate].incarnation.cluster;
                let (name, server) = (cluster.name.clone(), cluster.server.clone());
                let mut ok = true;
                if self.present.contains_key(&name) {
                    self.r.problem(
                        &place,
                        "join.name",
                        format!("cluster `{name}` is already in the fleet at this time"),
                        Some(format!(
                            "pick another name, or make `{name}` leave first with \
                             `{{at: ..., leave: {name}}}`"
                        )),
                    );
                    ok = false;
                }
                if let Some(&other) = self.servers.get(&server) {
                    let other = &self.incarnations[other].cluster.name;
                    self.r.problem(
                        &place,
                        "join.server",
                        format!("cluster `{other}` already has server `{server}`"),
                        Some("Argo CD identifies clusters by their server URL".into()),
                    );
                    ok = false;
                }
                if !ok {
                    return;
                }
                let inc = self.incarnations.len();
                let incarnation = self.candidates[candidate].incarnation.clone();
                self.labels.push(incarnation.cluster.labels.clone());
                self.incarnations.push(incarnation);
                self.joined.insert(candidate, inc);
                self.present.insert(name, inc);
                self.servers.insert(server, inc);
                self.push(at, Change::Join(inc));
            }
            Op::Leave(name) => {
                let Some(inc) = self.find(&place, "leave", &name, at) else {
                    return;
                };
                self.present.remove(&name);
                self.servers.remove(&self.incarnations[inc].cluster.server);
                self.incarnations[inc].left = Some(at);
                self.push(at, Change::Leave(inc));
            }
            Op::Expire(who) => {
                let inc = match who {
                    Who::Initial(inc) => inc,
                    Who::Candidate(c) => match self.joined.get(&c) {
                        Some(&inc) => inc,
                        // Its join was refused (and reported).
                        None => return,
                    },
                };
                if !self.incarnations[inc].present_at(at) {
                    return;
                }
                let mut labels = self.labels[inc].clone();
                if labels.get(DRAINED_LABEL).map(String::as_str) == Some("true") {
                    labels.remove(DRAINED_LABEL);
                }
                self.relabel(at, inc, labels);
            }
        }
    }

    fn relabel(&mut self, at: Timestamp, inc: usize, labels: BTreeMap<String, String>) {
        if labels != self.labels[inc] {
            self.labels[inc] = labels.clone();
            self.push(at, Change::Relabel { inc, labels });
        }
    }

    fn push(&mut self, at: Timestamp, change: Change) {
        self.events.push(WorldEvent { at, change });
    }

    /// The incarnation named `name` in the fleet at `at`, or a reported problem saying why
    /// there is none.
    fn find(&mut self, place: &Place, field: &str, name: &str, at: Timestamp) -> Option<usize> {
        if let Some(&inc) = self.present.get(name) {
            return Some(inc);
        }
        let earlier = self
            .incarnations
            .iter()
            .rev()
            .find(|inc| inc.cluster.name == name);
        let later = self
            .candidates
            .iter()
            .find(|c| c.incarnation.cluster.name == name);
        let (message, help) = if let Some(left) = earlier.and_then(|inc| inc.left) {
            (
                format!("cluster `{name}` left the fleet at {left}, before this event"),
                None,
            )
        } else if let Some(later) = later {
            (
                format!("cluster `{name}` is not in the fleet yet at {at}"),
                Some(format!("it joins in event {}", later.event)),
            )
        } else {
            let mut names: Vec<&str> = self
                .incarnations
                .iter()
                .map(|inc| inc.cluster.name.as_str())
                .collect();
            names.extend(
                self.candidates
                    .iter()
                    .map(|c| c.incarnation.cluster.name.as_str()),
            );
            let help = suggest::closest(name, &names).map(|fix| format!("did you mean `{fix}`?"));
            (format!("no cluster `{name}` in the fleet"), help)
        };
        self.r.problem(place, field, message, help);
        None
    }
}
