//! The simulated fleet (`--fleet sim:FILE`): a fleet file's clusters with per-cluster
//! behaviour (`sim`, `defaults`, `events`; see `docs/sim.md`), run on the executor's clock.
//!
//! [`Sim`] has no clock of its own and no randomness: everything it reports is a function
//! of the fleet file, the run's origin and the [`SyncRequest`]s it was given (a sync is
//! identified by its cluster and `at`), whatever the order of the calls. So a fresh `Sim`
//! given [`Backend::adopt`] for the syncs a crashed executor had journaled reports what the
//! old one would have.
//!
//! Pending facts sit in one binary heap keyed by time and then by an intrinsic order (world
//! events in file order before status facts; status facts by cluster, sync and step), so a
//! fact costs O(log n) and a poll touches only what is due. A fact that a later sync
//! superseded, that falls after its cluster left, or that an earlier `inventory` or
//! `head_revision` already folded in, is dropped when it reaches the top.

mod error;
mod events;
mod pass;
mod spec;
mod timeline;
mod value;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use jiff::Timestamp;

pub use error::{Place, SimError, SimProblem};
pub use spec::{
    DEFAULT_DEPLOYED, DEFAULT_FLAP_AFTER, DEFAULT_FLAP_FOR, DEFAULT_HEAD, DEFAULT_SYNC,
    DRAINED_LABEL,
};

use self::spec::{Change, Spec};
use self::timeline::{Timeline, timeline};
use super::{Backend, BackendError, Observed, SyncRequest};
use crate::fleet::{Cluster, Fleet};

/// A simulated fleet: see the [module documentation](self).
#[derive(Clone, Debug)]
pub struct Sim {
    origin: Timestamp,
    spec: Spec,
    /// Indices into `spec.events` of head moves, in time order.
    heads: Vec<usize>,
    /// Name → incarnations of that name, in join order.
    by_name: HashMap<String, Vec<usize>>,
    /// Per incarnation, the syncs it was asked for, sorted by `at` (one per `at`).
    syncs: Vec<Vec<SyncRecord>>,
    /// Facts not yet reported.
    queue: BinaryHeap<Reverse<Pending>>,
    /// Tells a re-sent request's facts from those of the request it replaced.
    generation: u64,
    /// Cluster changes up to here were folded into an `inventory` answer.
    inventory_seen: Option<Timestamp>,
    /// Head moves up to here were folded into a `head_revision` answer.
    head_seen: Option<Timestamp>,
}

/// One sync of one incarnation.
#[derive(Clone, Debug)]
struct SyncRecord {
    at: Timestamp,
    revision: String,
    generation: u64,
    timeline: Timeline,
}

/// A fact waiting for its time. The derived order is the order of reporting.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    at: Timestamp,
    what: What,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum What {
    /// `spec.events[i]`.
    World(usize),
    /// Step `step` of the timeline of incarnation `inc`'s sync at `sync_at`.
    Status {
        inc: usize,
        sync_at: Timestamp,
        step: usize,
        generation: u64,
    },
}

impl Sim {
    /// The simulated fleet of `fleet`'s clusters and simulator blocks (`sim`, `defaults`,
    /// `events`), with every relative time measured from `origin`, the run's time zero.
    ///
    /// Every problem of the blocks is reported at once.
    pub fn new(fleet: &Fleet, origin: Timestamp) -> Result<Sim, SimError> {
        let spec = spec::parse(fleet, origin)?;
        let mut by_name: HashMap<String, Vec<usize>> =
            HashMap::with_capacity(spec.incarnations.len());
        for (i, inc) in spec.incarnations.iter().enumerate() {
            by_name.entry(inc.cluster.name.clone()).or_default().push(i);
        }
        let heads = (spec.events.iter().enumerate())
            .filter(|(_, e)| matches!(e.change, Change::Revision(_)))
            .map(|(i, _)| i)
            .collect();
        let queue = (spec.events.iter().enumerate())
            .map(|(i, e)| {
                Reverse(Pending {
                    at: e.at,
                    what: What::World(i),
                })
            })
            .collect();
        let mut syncs = Vec::new();
        syncs.resize_with(spec.incarnations.len(), Vec::new);
        Ok(Sim {
            origin,
            spec,
            heads,
            by_name,
            syncs,
            queue,
            generation: 0,
            inventory_seen: None,
            head_seen: None,
        })
    }

    /// The run's time zero.
    pub fn origin(&self) -> Timestamp {
        self.origin
    }

    /// The incarnation of `name` in the fleet at `t`.
    fn incarnation_at(&self, name: &str, t: Timestamp) -> Result<usize, BackendError> {
        let incs = self.by_name.get(name).ok_or_else(|| {
            BackendError::Refused(format!("cluster `{name}` is not in the simulated fleet"))
        })?;
        if let Some(&inc) = incs
            .iter()
            .rev()
            .find(|&&i| self.spec.incarnations[i].present_at(t))
        {
            return Ok(inc);
        }
        let first = &self.spec.incarnations[incs[0]];
        let message = match first.joined {
            Some(joined) if t < joined => {
                format!("cluster `{name}` joins the simulated fleet only at {joined}")
            }
            _ => format!("cluster `{name}` has left the simulated fleet"),
        };
        Err(BackendError::Refused(message))
    }

    /// Records a sync that an earlier executor started and has seen to its end, without
    /// reporting its facts again: it counts for [`Backend::deployed_revision`] and is
    /// superseded by later syncs exactly as if it had been [`Backend::sync`]ed. A resuming
    /// executor restores the finished syncs of its journal (and of the runs it follows in
    /// the same simulated world) and adopts those in flight: `deployed_revision` knows only
    /// the syncs this `Sim` was given.
    ///
    /// Refused, like `sync`, when the cluster is not in the fleet at `request.at`.
    pub fn restore(&mut self, request: &SyncRequest) -> Result<(), BackendError> {
        self.schedule(request, false)
    }

    /// Records `request` (replacing one with the same cluster and `at`) and, with `report`,
    /// queues its facts.
    fn schedule(&mut self, request: &SyncRequest, report: bool) -> Result<(), BackendError> {
        let inc = self.incarnation_at(&request.cluster, request.at)?;
        let incarnation = &self.spec.incarnations[inc];
        let timeline = timeline(
            &incarnation.behaviour,
            incarnation.deployed.as_deref(),
            request,
        );
        self.generation += 1;
        let generation = self.generation;
        let steps = if report { timeline.facts.len() } else { 0 };
        for (step, (at, _)) in timeline.facts.iter().enumerate().take(steps) {
            self.queue.push(Reverse(Pending {
                at: *at,
                what: What::Status {
                    inc,
                    sync_at: request.at,
                    step,
                    generation,
                },
            }));
        }
        let record = SyncRecord {
            at: request.at,
            revision: request.revision.clone(),
            generation,
            timeline,
        };
        let records = &mut self.syncs[inc];
        match records.binary_search_by_key(&request.at, |r| r.at) {
            Ok(i) => records[i] = record,
            Err(i) => records.insert(i, record),
        }
        self.settle();
        Ok(())
    }

    /// Whether `pending` is still to be reported. Once false, it stays false.
    fn is_live(&self, pending: &Pending) -> bool {
        match pending.what {
            What::World(i) => {
                let seen = match self.spec.events[i].change {
                    Change::Revision(_) => self.head_seen,
                    _ => self.inventory_seen,
                };
                seen.is_none_or(|seen| pending.at > seen)
            }
            What::Status {
                inc,
                sync_at,
                generation,
                ..
            } => {
                let records = &self.syncs[inc];
                let Ok(i) = records.binary_search_by_key(&sync_at, |r| r.at) else {
                    return false;
                };
                records[i].generation == generation
                    && records.get(i + 1).is_none_or(|next| pending.at < next.at)
                    && self.spec.incarnations[inc]
                        .left
                        .is_none_or(|left| pending.at < left)
            }
        }
    }

    /// Drops dead facts from the top of the queue, so that [`Backend::next_wakeup`] is
    /// the time of a fact that will be reported.
    fn settle(&mut self) {
        while let Some(Reverse(top)) = self.queue.peek() {
            if self.is_live(top) {
                break;
            }
            self.queue.pop();
        }
    }

    /// The fact `pending` reports.
    fn observe(&self, pending: &Pending) -> Observed {
        match pending.what {
            What::World(i) => match &self.spec.events[i].change {
                Change::Revision(revision) => Observed::Revision(revision.clone()),
                Change::Relabel { inc, labels } => {
                    let mut cluster = self.spec.incarnations[*inc].cluster.clone();
                    cluster.labels = labels.clone();
                    Observed::Relabeled(cluster)
                }
                Change::Join(inc) => Observed::Joined(self.spec.incarnations[*inc].cluster.clone()),
                Change::Leave(inc) => Observed::Left {
                    cluster: self.spec.incarnations[*inc].cluster.name.clone(),
                },
            },
            What::Status {
                inc, sync_at, step, ..
            } => {
                let records = &self.syncs[inc];
                let record = records
                    .binary_search_by_key(&sync_at, |r| r.at)
                    .map(|i| &records[i])
                    .expect("a live fact's sync is recorded");
                Observed::Status {
                    cluster: self.spec.incarnations[inc].cluster.name.clone(),
                    at: pending.at,
                    status: record.timeline.facts[step].1.clone(),
                }
            }
        }
    }
}

fn fold(seen: &mut Option<Timestamp>, now: Timestamp) {
    *seen = Some(seen.map_or(now, |seen| seen.max(now)));
}

impl Backend for Sim {
    /// The clusters in the fleet at `now`, in fleet order with joined clusters appended, with
    /// their labels at `now`. The cluster changes up to `now` are folded into the answer:
    /// [`Backend::poll`] reports only later ones (as a watch started after a list would).
    async fn inventory(&mut self, now: Timestamp) -> Result<Vec<Cluster>, BackendError> {
        fold(&mut self.inventory_seen, now);
        self.settle();
        let incs = &self.spec.incarnations;
        let mut present: Vec<bool> = (0..incs.len()).map(|i| i < self.spec.initial).collect();
        let mut labels = HashMap::new();
        for event in self.spec.events.iter().take_while(|e| e.at <= now) {
            match &event.change {
                Change::Join(inc) => present[*inc] = true,
                Change::Leave(inc) => present[*inc] = false,
                Change::Relabel { inc, labels: l } => {
                    labels.insert(*inc, l);
                }
                Change::Revision(_) => {}
            }
        }
        Ok((incs.iter().enumerate())
            .filter(|(i, _)| present[*i])
            .map(|(i, inc)| {
                let mut cluster = inc.cluster.clone();
                if let Some(l) = labels.get(&i) {
                    cluster.labels = (*l).clone();
                }
                cluster
            })
            .collect())
    }

    /// The head at `now`. Head moves up to `now` are folded into the answer:
    /// [`Backend::poll`] reports only later ones.
    async fn head_revision(&mut self, now: Timestamp) -> Result<String, BackendError> {
        fold(&mut self.head_seen, now);
        self.settle();
        let events = &self.spec.events;
        let last = self.heads.partition_point(|&i| events[i].at <= now);
        Ok(
            match last.checked_sub(1).map(|i| &events[self.heads[i]].change) {
                Some(Change::Revision(revision)) => revision.clone(),
                _ => self.spec.head.clone(),
            },
        )
    }

    /// What `cluster` runs at `now`: the revision of its latest sync whose revision was
    /// deployed by `now` before a later sync started, else what it ran before the run.
    async fn deployed_revision(
        &mut self,
        cluster: &str,
        now: Timestamp,
    ) -> Result<Option<String>, BackendError> {
        let inc = self.incarnation_at(cluster, now)?;
        let records = &self.syncs[inc];
        for (i, record) in records.iter().enumerate().rev() {
            let Some(deployed) = record.timeline.deployed_at else {
                continue;
            };
            let superseded = records.get(i + 1).is_some_and(|next| next.at <= deployed);
            if deployed <= now && !superseded {
                return Ok(Some(record.revision.clone()));
            }
        }
        Ok(self.spec.incarnations[inc].deployed.clone())
    }

    /// Schedules the sync's timeline from `request.at`; it supersedes the cluster's earlier
    /// syncs from then on. Refused when the cluster is not in the fleet at `request.at`.
    async fn sync(&mut self, request: &SyncRequest) -> Result<(), BackendError> {
        self.schedule(request, true)
    }

    /// Exactly what [`Backend::sync`] does: facts before the current time come out on the
    /// next poll with their original times.
    async fn adopt(&mut self, request: &SyncRequest) -> Result<(), BackendError> {
        self.schedule(request, true)
    }

    fn poll(&mut self, now: Timestamp) -> Vec<Observed> {
        let mut out = Vec::new();
        while let Some(Reverse(top)) = self.queue.peek() {
            if top.at > now {
                break;
            }
            let Some(Reverse(pending)) = self.queue.pop() else {
                break;
            };
            if self.is_live(&pending) {
                out.push(self.observe(&pending));
            }
        }
        self.settle();
        out
    }

    fn next_wakeup(&self) -> Option<Timestamp> {
        self.queue.peek().map(|Reverse(p)| p.at)
    }

    async fn changed(&mut self) {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests;
