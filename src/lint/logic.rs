//! Reasoning about selectors without a fleet: can a selector match anything, and does one
//! selector's match set contain another's. Both answers are conservative: "unsatisfiable"
//! and "implies" are only claimed when they hold for every possible fleet, so lints built on
//! them never fire on a correct strategy.

use std::collections::{BTreeMap, BTreeSet};

use crate::hir::{Attr, Selector, SelectorKind};

/// What an `and` of comparisons says about one key.
#[derive(Default, Debug)]
struct KeyFacts {
    /// The value must be one of these (`==`, `in`), when constrained.
    allowed: Option<BTreeSet<String>>,
    /// The value must not be one of these (`!=`, `not in`).
    forbidden: BTreeSet<String>,
    /// The key must be present (`has`, `==`, `in`).
    present: bool,
    /// The key must be absent (`not has`).
    absent: bool,
}

impl KeyFacts {
    fn contradictory(&self) -> bool {
        if self.present && self.absent {
            return true;
        }
        match &self.allowed {
            Some(allowed) => allowed.iter().all(|v| self.forbidden.contains(v)),
            None => false,
        }
    }

    fn restrict(&mut self, values: impl IntoIterator<Item = String>) {
        let new: BTreeSet<String> = values.into_iter().collect();
        self.allowed = Some(match self.allowed.take() {
            Some(old) => old.intersection(&new).cloned().collect(),
            None => new,
        });
        self.present = true;
    }
}

/// True when no cluster of any fleet can match `s`.
pub fn unsatisfiable(s: &Selector) -> bool {
    match &s.kind {
        SelectorKind::In { values, .. } => values.is_empty(),
        SelectorKind::Not { inner } => matches!(inner.kind, SelectorKind::All),
        SelectorKind::Or { any } => !any.is_empty() && any.iter().all(unsatisfiable),
        SelectorKind::And { all } => {
            if all.iter().any(unsatisfiable) {
                return true;
            }
            let label = |key: &str| Attr::Label(key.to_string());
            let mut owned: Vec<(Attr, Fact)> = Vec::new();
            for c in all {
                match &c.kind {
                    SelectorKind::Eq { key, value } => {
                        owned.push((key.clone(), Fact::Allow(vec![value.clone()])))
                    }
                    SelectorKind::In { key, values } => {
                        owned.push((key.clone(), Fact::Allow(values.clone())))
                    }
                    SelectorKind::Ne { key, value } => {
                        owned.push((key.clone(), Fact::Forbid(vec![value.clone()])))
                    }
                    SelectorKind::NotIn { key, values } => {
                        owned.push((key.clone(), Fact::Forbid(values.clone())))
                    }
                    SelectorKind::Has { key } => owned.push((label(key), Fact::Present)),
                    SelectorKind::Not { inner } => {
                        if let SelectorKind::Has { key } = &inner.kind {
                            owned.push((label(key), Fact::Absent));
                        }
                    }
                    _ => {}
                }
            }
            let mut facts: BTreeMap<&Attr, KeyFacts> = BTreeMap::new();
            for (key, fact) in &owned {
                let f = facts.entry(key).or_default();
                match fact {
                    Fact::Allow(values) => f.restrict(values.iter().cloned()),
                    Fact::Forbid(values) => f.forbidden.extend(values.iter().cloned()),
                    Fact::Present => f.present = true,
                    Fact::Absent => f.absent = true,
                }
                // Clusters always have a name and a server.
                if matches!(key, Attr::Cluster(_)) {
                    f.absent = false;
                }
            }
            facts.values().any(KeyFacts::contradictory)
        }
        _ => false,
    }
}

enum Fact {
    Allow(Vec<String>),
    Forbid(Vec<String>),
    Present,
    Absent,
}

/// True when every cluster `a` matches is also matched by `b`, in any fleet.
pub fn implies(a: &Selector, b: &Selector) -> bool {
    // An empty selection is contained in anything; checked last because it allocates.
    contained(a, b) || unsatisfiable(a)
}

/// [`implies`] for an `a` already known to be satisfiable (no allocation at the top).
pub fn contained(a: &Selector, b: &Selector) -> bool {
    if matches!(b.kind, SelectorKind::All) || same(a, b) {
        return true;
    }
    match (&a.kind, &b.kind) {
        (SelectorKind::Or { any }, _) => any.iter().all(|x| implies(x, b)),
        (_, SelectorKind::And { all }) => all.iter().all(|y| implies(a, y)),
        (SelectorKind::And { all }, _) if all.iter().any(|x| implies(x, b)) => true,
        (_, SelectorKind::Or { any }) if any.iter().any(|y| implies(a, y)) => true,
        (SelectorKind::Eq { key, value }, SelectorKind::In { key: k2, values }) => {
            key == k2 && values.contains(value)
        }
        (
            SelectorKind::In { key, values },
            SelectorKind::In {
                key: k2,
                values: v2,
            },
        ) => key == k2 && values.iter().all(|v| v2.contains(v)),
        (SelectorKind::In { key, values }, SelectorKind::Eq { key: k2, value }) => {
            key == k2 && !values.is_empty() && values.iter().all(|v| v == value)
        }
        (SelectorKind::Eq { key, value }, SelectorKind::Ne { key: k2, value: v2 }) => {
            key == k2 && value != v2
        }
        (SelectorKind::Eq { key, value }, SelectorKind::NotIn { key: k2, values }) => {
            key == k2 && !values.contains(value)
        }
        (
            SelectorKind::Eq {
                key: Attr::Label(k),
                ..
            }
            | SelectorKind::In {
                key: Attr::Label(k),
                ..
            },
            SelectorKind::Has { key },
        ) => k == key,
        _ => false,
    }
}

/// Structural equality ignoring source locations (and operand order of `and`/`or`... not
/// attempted: written the same way is what "the same" means to an author).
pub fn same(a: &Selector, b: &Selector) -> bool {
    match (&a.kind, &b.kind) {
        (SelectorKind::All, SelectorKind::All) => true,
        (SelectorKind::Eq { key, value }, SelectorKind::Eq { key: k, value: v })
        | (SelectorKind::Ne { key, value }, SelectorKind::Ne { key: k, value: v }) => {
            key == k && value == v
        }
        (SelectorKind::In { key, values }, SelectorKind::In { key: k, values: v })
        | (SelectorKind::NotIn { key, values }, SelectorKind::NotIn { key: k, values: v }) => {
            key == k && values.iter().collect::<BTreeSet<_>>() == v.iter().collect::<BTreeSet<_>>()
        }
        (SelectorKind::Matches { key, pattern }, SelectorKind::Matches { key: k, pattern: p }) => {
            key == k && pattern == p
        }
        (SelectorKind::Has { key }, SelectorKind::Has { key: k }) => key == k,
        (SelectorKind::Not { inner }, SelectorKind::Not { inner: i }) => same(inner, i),
        (SelectorKind::And { all }, SelectorKind::And { all: b }) => {
            all.len() == b.len() && all.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (SelectorKind::Or { any }, SelectorKind::Or { any: b }) => {
            any.len() == b.len() && any.iter().zip(b).all(|(x, y)| same(x, y))
        }
        _ => false,
    }
}

/// The most clusters `s` can match in any fleet, when that is bounded (selecting by
/// `cluster.name` or `cluster.server`, which identify one cluster each).
pub fn max_matches(s: &Selector) -> Option<u64> {
    match &s.kind {
        SelectorKind::Eq {
            key: Attr::Cluster(_),
            ..
        } => Some(1),
        SelectorKind::In {
            key: Attr::Cluster(_),
            values,
        } => Some(values.iter().collect::<BTreeSet<_>>().len() as u64),
        SelectorKind::And { all } => all.iter().filter_map(max_matches).min(),
        SelectorKind::Or { any } => any.iter().map(max_matches).sum(),
        _ if unsatisfiable(s) => Some(0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hir::Loc;
    use crate::source::{FileId, Span};

    fn loc() -> Loc {
        Loc::new(FileId(0), Span::default())
    }
    fn sel(kind: SelectorKind) -> Selector {
        Selector { kind, loc: loc() }
    }
    fn eq(k: &str, v: &str) -> Selector {
        sel(SelectorKind::Eq {
            key: Attr::Label(k.into()),
            value: v.into(),
        })
    }
    fn and(all: Vec<Selector>) -> Selector {
        sel(SelectorKind::And { all })
    }

    #[test]
    fn contradictions_are_unsatisfiable() {
        assert!(unsatisfiable(&and(vec![
            eq("region", "a"),
            eq("region", "b")
        ])));
        assert!(!unsatisfiable(&and(vec![
            eq("region", "a"),
            eq("area", "b")
        ])));
        assert!(unsatisfiable(&sel(SelectorKind::In {
            key: Attr::Label("x".into()),
            values: vec![]
        })));
        let ne = sel(SelectorKind::Ne {
            key: Attr::Label("region".into()),
            value: "a".into(),
        });
        assert!(unsatisfiable(&and(vec![eq("region", "a"), ne.clone()])));
        assert!(!unsatisfiable(&ne));
        let not_has = sel(SelectorKind::Not {
            inner: Box::new(sel(SelectorKind::Has {
                key: "region".into(),
            })),
        });
        assert!(unsatisfiable(&and(vec![eq("region", "a"), not_has])));
    }

    #[test]
    fn implication() {
        let all = sel(SelectorKind::All);
        let emea = eq("area", "emea");
        let in_list = sel(SelectorKind::In {
            key: Attr::Label("area".into()),
            values: vec!["emea".into(), "apac".into()],
        });
        assert!(implies(&emea, &all));
        assert!(implies(&emea, &in_list));
        assert!(!implies(&in_list, &emea));
        assert!(implies(&and(vec![emea.clone(), eq("tier", "x")]), &emea));
        assert!(!implies(&emea, &eq("area", "amer")));
    }
}
