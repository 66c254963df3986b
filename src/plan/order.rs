//! The order in which a stage starts its clusters: `order by` (default: cluster name), then
//! `spread by` round-robin across failure domains.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::ast::ClusterAttr;
use crate::fleet::Cluster;
use crate::hir::{Attr, Stage};

/// `candidates` (fleet indices) in the stage's start order.
pub fn order(stage: &Stage, clusters: &[Cluster], candidates: &[usize]) -> Vec<usize> {
    let mut ordered = candidates.to_vec();
    match &stage.order_by {
        Some(by) => {
            let key = &by.value.key;
            let numeric = match key {
                Attr::Label(k) => candidates
                    .iter()
                    .filter_map(|&i| clusters[i].label(k))
                    .all(|v| v.parse::<i64>().is_ok()),
                Attr::Cluster(_) => false,
            };
            let value = |i: usize| -> Option<&str> {
                match key {
                    Attr::Label(k) => clusters[i].label(k),
                    Attr::Cluster(ClusterAttr::Name) => Some(&clusters[i].name),
                    Attr::Cluster(ClusterAttr::Server) => Some(&clusters[i].server),
                }
            };
            ordered.sort_by(|&a, &b| {
                // Clusters without the label go last, whichever the direction.
                let by_value = match (value(a), value(b)) {
                    (Some(x), Some(y)) => {
                        let o = compare(x, y, numeric);
                        if by.value.descending { o.reverse() } else { o }
                    }
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                };
                by_value.then_with(|| clusters[a].name.cmp(&clusters[b].name))
            });
        }
        None => ordered.sort_by(|&a, &b| clusters[a].name.cmp(&clusters[b].name)),
    }
    match &stage.spread_by {
        Some(key) => spread(&ordered, clusters, &key.value),
        None => ordered,
    }
}

fn compare(a: &str, b: &str, numeric: bool) -> Ordering {
    if numeric && let (Ok(x), Ok(y)) = (a.parse::<i64>(), b.parse::<i64>()) {
        return x.cmp(&y);
    }
    a.cmp(b)
}

/// Round-robin across the values of `key`: groups sorted by value (clusters without the
/// label form one group, last), members in their given order.
fn spread(ordered: &[usize], clusters: &[Cluster], key: &str) -> Vec<usize> {
    let mut groups: BTreeMap<(bool, &str), Vec<usize>> = BTreeMap::new();
    for &i in ordered {
        let group = match clusters[i].label(key) {
            Some(v) => (false, v),
            None => (true, ""),
        };
        groups.entry(group).or_default().push(i);
    }
    let mut queues: Vec<std::vec::IntoIter<usize>> =
        groups.into_values().map(Vec::into_iter).collect();
    let mut out = Vec::with_capacity(ordered.len());
    while out.len() < ordered.len() {
        for q in &mut queues {
            if let Some(i) = q.next() {
                out.push(i);
            }
        }
    }
    out
}
