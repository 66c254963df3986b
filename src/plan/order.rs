//! The order in which a stage starts its clusters: `order by` (default: cluster name), then
//! `spread by` round-robin across failure domains.

use super::index::{Index, MISSING};
use crate::ir::{Attr, OrderBy};

/// `by_name` (fleet indices, already in cluster-name order) in `order_by`'s order.
///
/// Labels compare numerically when every present value is an integer, as strings otherwise;
/// clusters without the label come last whichever the direction; ties keep name order
/// (the sort is stable and its input is sorted by name).
pub fn order(order_by: &OrderBy, index: &Index, by_name: Vec<usize>) -> Vec<usize> {
    let mut ordered = by_name;
    let desc = order_by.descending;
    match &order_by.key {
        // The input is already in name order, so ascending costs nothing. Descending
        // reverses it: names are unique in a parsed fleet, so there are no ties to keep.
        Attr::Name => {
            if desc {
                ordered.reverse();
            }
        }
        Attr::Server => {
            let clusters = index.clusters;
            ordered.sort_by(|&a, &b| {
                let o = clusters[a].server.cmp(&clusters[b].server);
                if desc { o.reverse() } else { o }
            });
        }
        Attr::Label(key) => {
            let col = index.column(key);
            let numeric = ordered
                .iter()
                .all(|&i| col.ids[i] == MISSING || col.numbers[col.ids[i] as usize].is_some());
            // One integer key per cluster: present before missing, then the value (ids are
            // in text order), negated for descending.
            let sign = if desc { -1 } else { 1 };
            ordered.sort_by_key(|&i| match col.ids[i] {
                MISSING => (true, 0),
                id if numeric => (
                    false,
                    sign * i128::from(col.numbers[id as usize].unwrap_or_default()),
                ),
                id => (false, sign * i128::from(id)),
            });
        }
    }
    ordered
}

/// Round-robin across the values of a label: groups sorted by value (clusters without the
/// label form one group, last), members in their given order.
pub fn spread(ordered: &[usize], index: &Index, key: &str) -> Vec<usize> {
    let col = index.column(key);
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); col.groups()];
    for &i in ordered {
        groups[col.group(i)].push(i);
    }
    let mut queues: Vec<std::vec::IntoIter<usize>> = groups
        .into_iter()
        .filter(|g| !g.is_empty())
        .map(Vec::into_iter)
        .collect();
    let mut out = Vec::with_capacity(ordered.len());
    while !queues.is_empty() {
        // Exhausted groups leave the rotation, so a fleet with one large domain and many
        // small ones costs O(clusters), not O(rounds × domains).
        queues.retain_mut(|q| match q.next() {
            Some(i) => {
                out.push(i);
                true
            }
            None => false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::fleet::{Cluster, Fleet};
    use crate::ir::{Rollout, Selector, Stage};

    fn fleet(spec: &[(&str, &[(&str, &str)])]) -> Fleet {
        Fleet::new(
            spec.iter()
                .map(|(name, labels)| {
                    Cluster::new(
                        *name,
                        format!("https://{name}"),
                        labels
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect::<BTreeMap<_, _>>(),
                    )
                })
                .collect(),
        )
    }

    fn names(fleet: &Fleet, order: &[usize]) -> Vec<String> {
        order
            .iter()
            .map(|&i| fleet.clusters[i].name.clone())
            .collect()
    }

    /// An index of `fleet` with a column for `key`.
    fn index<'f>(fleet: &'f Fleet, key: &str) -> Index<'f> {
        let stage = Stage {
            spread_by: Some(key.into()),
            ..Stage::new("s", Selector::All)
        };
        let rollout = Rollout {
            name: "r".into(),
            target: crate::ir::Target::AppSet {
                name: "a".into(),
                namespace: "argocd".into(),
                project: None,
            },
            on_new_revision: crate::ir::NewRevisionPolicy::Queue,
            stages: vec![stage],
        };
        Index::new(fleet, [&rollout])
    }

    #[test]
    fn numeric_when_every_value_is_an_integer() {
        let c = fleet(&[
            ("a", &[("ring", "10")]),
            ("b", &[("ring", "9")]),
            ("c", &[]),
            ("d", &[("ring", "9")]),
        ]);
        let by = |descending| OrderBy {
            key: Attr::Label("ring".into()),
            descending,
        };
        let ix = index(&c, "ring");
        assert_eq!(
            names(&c, &order(&by(false), &ix, vec![0, 1, 2, 3])),
            ["b", "d", "a", "c"]
        );
        // Descending flips the values but not the tie-break, and missing stays last.
        assert_eq!(
            names(&c, &order(&by(true), &ix, vec![0, 1, 2, 3])),
            ["a", "b", "d", "c"]
        );
        // One non-integer value makes the whole comparison lexicographic: "10" < "9" < "x".
        let c = fleet(&[
            ("a", &[("ring", "10")]),
            ("b", &[("ring", "9")]),
            ("e", &[("ring", "x")]),
        ]);
        let ix = index(&c, "ring");
        assert_eq!(
            names(&c, &order(&by(false), &ix, vec![0, 1, 2])),
            ["a", "b", "e"]
        );
    }

    #[test]
    fn spread_is_round_robin_with_unlabelled_last() {
        let c = fleet(&[
            ("a1", &[("r", "a")]),
            ("a2", &[("r", "a")]),
            ("a3", &[("r", "a")]),
            ("b1", &[("r", "b")]),
            ("n1", &[]),
            ("n2", &[]),
        ]);
        assert_eq!(
            names(&c, &spread(&[0, 1, 2, 3, 4, 5], &index(&c, "r"), "r")),
            ["a1", "b1", "n1", "a2", "n2", "a3"]
        );
    }
}
