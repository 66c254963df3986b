//! A fleet indexed for planning: every label key the strategy looks at becomes a column of
//! interned value ids, and selectors are compiled against those columns.
//!
//! Planning evaluates every stage's selector on every cluster, so label lookups dominate
//! at fleet scale: a `BTreeMap<String, String>` lookup per comparison costs several string
//! compares. With columns, a comparison is an array read and an integer compare, and
//! grouping by a label (spread, `limit ... per`, in-flight caps) indexes a vector instead
//! of hashing strings. Ids are assigned in sorted value order, so comparing ids compares
//! values.

use std::collections::HashMap;

use super::select::matches;
use crate::fleet::{Cluster, Fleet, glob_match};
use crate::ir::{self, Attr, Selector};

/// The id of a missing label.
pub const MISSING: u32 = u32::MAX;

/// One label key over the whole fleet.
#[derive(Debug)]
pub struct Column<'f> {
    /// Per cluster (fleet index): the value's id, or [`MISSING`].
    pub ids: Vec<u32>,
    /// The distinct values, sorted; an id indexes this.
    pub values: Vec<&'f str>,
    /// Each value as an integer, if it is one (for `order by`).
    pub numbers: Vec<Option<i64>>,
}

impl<'f> Column<'f> {
    /// The column of label `key` over `clusters`.
    pub fn new(clusters: &'f [Cluster], key: &str) -> Column<'f> {
        let mut provisional: HashMap<&'f str, u32> = HashMap::new();
        let mut ids: Vec<u32> = clusters
            .iter()
            .map(|c| match c.label(key) {
                Some(v) => {
                    let next = provisional.len() as u32;
                    *provisional.entry(v).or_insert(next)
                }
                None => MISSING,
            })
            .collect();
        // Renumber in value order.
        let mut values: Vec<(&'f str, u32)> = provisional.into_iter().collect();
        values.sort_unstable();
        let mut remap = vec![0u32; values.len()];
        for (sorted, &(_, old)) in values.iter().enumerate() {
            remap[old as usize] = sorted as u32;
        }
        for id in &mut ids {
            if *id != MISSING {
                *id = remap[*id as usize];
            }
        }
        let values: Vec<&'f str> = values.into_iter().map(|(v, _)| v).collect();
        Column {
            ids,
            numbers: values.iter().map(|v| v.parse().ok()).collect(),
            values,
        }
    }

    /// Cluster `i`'s group: its value's id, or one past the last id when it lacks the
    /// label (clusters without the label are one group, ordered last).
    pub fn group(&self, i: usize) -> usize {
        match self.ids[i] {
            MISSING => self.values.len(),
            id => id as usize,
        }
    }

    /// How many groups [`Column::group`] can return.
    pub fn groups(&self) -> usize {
        self.values.len() + 1
    }

    /// The id of `value`, if some cluster has it.
    fn id(&self, value: &str) -> Option<u32> {
        self.values.binary_search(&value).ok().map(|i| i as u32)
    }
}

/// A fleet with its name order and the columns a strategy needs.
pub struct Index<'f> {
    /// The clusters.
    pub clusters: &'f [Cluster],
    /// Fleet indices sorted by cluster name (then index, for hand-built fleets with
    /// duplicate names).
    pub by_name: Vec<usize>,
    columns: HashMap<String, Column<'f>>,
}

impl<'f> Index<'f> {
    /// Indexes `fleet` for the label keys `rollouts` look at.
    pub fn new<'r>(fleet: &'f Fleet, rollouts: impl IntoIterator<Item = &'r ir::Rollout>) -> Self {
        let clusters = fleet.clusters.as_slice();
        let mut by_name: Vec<usize> = (0..clusters.len()).collect();
        by_name.sort_by(|&a, &b| clusters[a].name.cmp(&clusters[b].name));
        let mut keys: Vec<&str> = Vec::new();
        for rollout in rollouts {
            for stage in &rollout.stages {
                label_keys(&stage.select, &mut keys);
                if let Some(r) = &stage.requeue {
                    label_keys(&r.when, &mut keys);
                }
                keys.extend(stage.spread_by.as_deref());
                keys.extend(stage.limit.as_ref().and_then(|l| l.per.as_deref()));
                keys.extend(stage.max_in_flight.as_ref().map(|m| m.per.as_str()));
                if let Attr::Label(k) = &stage.order_by.key {
                    keys.push(k);
                }
            }
        }
        let mut columns = HashMap::new();
        for key in keys {
            if !columns.contains_key(key) {
                columns.insert(key.to_string(), Column::new(clusters, key));
            }
        }
        Index {
            clusters,
            by_name,
            columns,
        }
    }

    /// The column of `key`, which must be one the strategy looks at.
    pub fn column(&self, key: &str) -> &Column<'f> {
        self.columns
            .get(key)
            .expect("every key the strategy names was indexed")
    }

    /// `selector` compiled against this index.
    pub fn compile<'i>(&'i self, selector: &'i Selector) -> Compiled<'i, 'f> {
        Compiled {
            node: self.node(selector),
            clusters: self.clusters,
        }
    }

    fn node<'i>(&'i self, s: &'i Selector) -> Node<'i, 'f> {
        let ids = |key: &str, values: &[&String], negate: bool| {
            let col = self.column(key);
            let mut ids: Vec<u32> = values.iter().filter_map(|v| col.id(v)).collect();
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                // No cluster has any of the values: `==`/`in` match nothing, `!=`/`not in`
                // everything.
                Node::Const(negate)
            } else {
                Node::Ids { col, ids, negate }
            }
        };
        match s {
            Selector::All => Node::Const(true),
            Selector::Eq {
                key: Attr::Label(k),
                value,
            } => ids(k, &[value], false),
            Selector::Ne {
                key: Attr::Label(k),
                value,
            } => ids(k, &[value], true),
            Selector::In {
                key: Attr::Label(k),
                values,
            } => ids(k, &values.iter().collect::<Vec<_>>(), false),
            Selector::NotIn {
                key: Attr::Label(k),
                values,
            } => ids(k, &values.iter().collect::<Vec<_>>(), true),
            Selector::Matches {
                key: Attr::Label(k),
                pattern,
            } => {
                let col = self.column(k);
                // One glob match per distinct value, not per cluster.
                let ok = col.values.iter().map(|v| glob_match(pattern, v)).collect();
                Node::Glob { col, ok }
            }
            Selector::Has { key } => Node::Has {
                col: self.column(key),
            },
            Selector::Not { inner } => Node::Not(Box::new(self.node(inner))),
            Selector::And { all } => Node::And(all.iter().map(|s| self.node(s)).collect()),
            Selector::Or { any } => Node::Or(any.iter().map(|s| self.node(s)).collect()),
            // `cluster.name` and `cluster.server` are unique per cluster: no column to
            // share, so they are compared directly.
            other => Node::Direct(other),
        }
    }
}

/// The label keys `selector` reads.
fn label_keys<'s>(selector: &'s Selector, out: &mut Vec<&'s str>) {
    match selector {
        Selector::Eq {
            key: Attr::Label(k),
            ..
        }
        | Selector::Ne {
            key: Attr::Label(k),
            ..
        }
        | Selector::In {
            key: Attr::Label(k),
            ..
        }
        | Selector::NotIn {
            key: Attr::Label(k),
            ..
        }
        | Selector::Matches {
            key: Attr::Label(k),
            ..
        }
        | Selector::Has { key: k } => out.push(k),
        Selector::Not { inner } => label_keys(inner, out),
        Selector::And { all: items } | Selector::Or { any: items } => {
            items.iter().for_each(|s| label_keys(s, out))
        }
        _ => {}
    }
}

/// A selector compiled against an [`Index`]; agrees with [`matches`] on every cluster.
pub struct Compiled<'i, 'f> {
    node: Node<'i, 'f>,
    clusters: &'f [Cluster],
}

impl Compiled<'_, '_> {
    /// Whether the selector selects cluster `i` (a fleet index).
    pub fn matches(&self, i: usize) -> bool {
        self.node.eval(i, self.clusters)
    }
}

enum Node<'i, 'f> {
    Const(bool),
    /// The value is one of `ids` (sorted); negated for `!=` and `not in`, which therefore
    /// match clusters without the label.
    Ids {
        col: &'i Column<'f>,
        ids: Vec<u32>,
        negate: bool,
    },
    /// The value matches the glob: `ok` per value id.
    Glob {
        col: &'i Column<'f>,
        ok: Vec<bool>,
    },
    Has {
        col: &'i Column<'f>,
    },
    Direct(&'i Selector),
    Not(Box<Node<'i, 'f>>),
    And(Vec<Node<'i, 'f>>),
    Or(Vec<Node<'i, 'f>>),
}

impl Node<'_, '_> {
    fn eval(&self, i: usize, clusters: &[Cluster]) -> bool {
        match self {
            Node::Const(b) => *b,
            Node::Ids { col, ids, negate } => {
                let id = col.ids[i];
                let hit = match ids.as_slice() {
                    [one] => id == *one,
                    many => many.binary_search(&id).is_ok(),
                };
                hit != *negate
            }
            Node::Glob { col, ok } => match col.ids[i] {
                MISSING => false,
                id => ok[id as usize],
            },
            Node::Has { col } => col.ids[i] != MISSING,
            Node::Direct(s) => matches(s, &clusters[i]),
            Node::Not(inner) => !inner.eval(i, clusters),
            Node::And(all) => all.iter().all(|n| n.eval(i, clusters)),
            Node::Or(any) => any.iter().any(|n| n.eval(i, clusters)),
        }
    }
}
