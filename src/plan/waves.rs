//! Ideal waves: how a stage's sliding window plays out when every sync takes the same time.
//!
//! With equal sync times the window never slides part-way: every cluster in flight finishes
//! together, so the stage runs in waves of at most `batch` clusters. `max in flight N per
//! KEY` caps each wave per value of KEY (clusters without KEY are one group). A cluster whose
//! group is full waits for a later wave while later clusters whose groups have room start in
//! this one: the runtime fills a free slot with the first waiting cluster it may start, not
//! strictly the next one in order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::index::Column;

/// The waves of `order` (fleet indices in stage order): the clusters in start order and the
/// end offset (exclusive) of each wave in it. `batch` must be at least 1.
///
/// Each wave takes, in stage order, the first clusters whose group is under `cap`, up to
/// `batch` of them. Equivalently: the `batch` earliest among the first `cap` waiting
/// clusters of every group. That is how it is computed, with a heap of those heads, so a
/// stage costs O(n log n) whatever the caps, instead of rescanning the waiting clusters for
/// every wave.
pub fn waves(order: &[usize], batch: u64, cap: Option<(u64, &Column)>) -> (Vec<usize>, Vec<usize>) {
    let batch = usize::try_from(batch).unwrap_or(usize::MAX).max(1);
    let n = order.len();
    let cap = match cap {
        // A cap that never binds is no cap: plain chunks of `batch`.
        Some((c, col)) if (c as u128) < batch.min(n) as u128 => Some((c as usize, col)),
        _ => None,
    };
    let Some((cap, col)) = cap else {
        let ends = (1..=n.div_ceil(batch))
            .map(|w| (w * batch).min(n))
            .collect();
        return (order.to_vec(), ends);
    };
    // Group members, by position in `order`, in order.
    let mut groups: Vec<VecDeque<usize>> = vec![VecDeque::new(); col.groups()];
    let group_at: Vec<usize> = order.iter().map(|&i| col.group(i)).collect();
    for (pos, &g) in group_at.iter().enumerate() {
        groups[g].push_back(pos);
    }
    // The heads: the first `cap` waiting positions of every group. A cap of 0 would start
    // nothing; the checker rejects it, and a hand-written IR gets no waves (a hold).
    let mut heads: BinaryHeap<Reverse<usize>> = BinaryHeap::new();
    for members in &mut groups {
        for _ in 0..cap.min(members.len()) {
            heads.push(Reverse(members.pop_front().expect("counted")));
        }
    }
    let mut started = Vec::with_capacity(n);
    let mut ends = Vec::new();
    let mut touched = Vec::new();
    while !heads.is_empty() {
        touched.clear();
        for _ in 0..batch {
            let Some(Reverse(pos)) = heads.pop() else {
                break;
            };
            started.push(order[pos]);
            touched.push(group_at[pos]);
        }
        ends.push(started.len());
        // The wave is over: its slots free, and each group it used moves up that many.
        for &g in &touched {
            if let Some(pos) = groups[g].pop_front() {
                heads.push(Reverse(pos));
            }
        }
    }
    (started, ends)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::fleet::{Cluster, Fleet};

    fn zones(zs: &[&str]) -> Fleet {
        Fleet::new(
            zs.iter()
                .enumerate()
                .map(|(i, z)| {
                    let mut labels = BTreeMap::new();
                    if !z.is_empty() {
                        labels.insert("zone".to_string(), z.to_string());
                    }
                    Cluster::new(format!("c{i}"), format!("https://c{i}"), labels)
                })
                .collect(),
        )
    }

    fn zone_column(fleet: &Fleet) -> Column<'_> {
        Column::new(&fleet.clusters, "zone")
    }

    fn split(started: &[usize], ends: &[usize]) -> Vec<Vec<usize>> {
        let mut from = 0;
        ends.iter()
            .map(|&e| {
                let w = started[from..e].to_vec();
                from = e;
                w
            })
            .collect()
    }

    #[test]
    fn chunks_without_a_cap() {
        let (s, e) = waves(&[0, 1, 2, 3, 4], 2, None);
        assert_eq!(split(&s, &e), [vec![0, 1], vec![2, 3], vec![4]]);
    }

    #[test]
    fn a_blocked_cluster_waits_while_later_ones_start() {
        // Zones a a b a b, batch 3, one per zone: wave 1 takes 0 (a) and 2 (b), skipping 1;
        // wave 2 takes 1 and 4; wave 3 takes 3.
        let c = zones(&["a", "a", "b", "a", "b"]);
        let (s, e) = waves(&[0, 1, 2, 3, 4], 3, Some((1, &zone_column(&c))));
        assert_eq!(split(&s, &e), [vec![0, 2], vec![1, 4], vec![3]]);
    }

    #[test]
    fn unlabelled_clusters_are_one_group() {
        let c = zones(&["", "", "a"]);
        let (s, e) = waves(&[0, 1, 2], 3, Some((1, &zone_column(&c))));
        assert_eq!(split(&s, &e), [vec![0, 2], vec![1]]);
    }
}
