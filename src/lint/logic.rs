//! Reasoning about selectors without a fleet: can a selector match anything, and does one
//! selector's match set contain another's. Both answers are conservative: "unsatisfiable"
//! and "implies" are only claimed when they hold for every possible fleet, so lints built on
//! them never fire on a correct strategy.

use std::collections::{BTreeMap, BTreeSet};

use crate::ast::ClusterAttr;
use crate::hir::{Attr, Selector, SelectorKind};

/// The key a conjunct of an `and` says something about, as [`unsatisfiable`] groups them: a
/// label (also for `has` and `not has`) or a cluster attribute.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum KeyRef<'a> {
    Label(&'a str),
    Cluster(ClusterAttr),
}

impl<'a> KeyRef<'a> {
    fn of(attr: &'a Attr) -> KeyRef<'a> {
        match attr {
            Attr::Label(key) => KeyRef::Label(key),
            Attr::Cluster(c) => KeyRef::Cluster(*c),
        }
    }
}

/// What one conjunct of an `and` says about its key.
#[derive(Clone, Copy)]
enum Fact<'a> {
    /// The value is one of these (`==`, `in`); the key is present.
    Allow(&'a [String]),
    /// The value is none of these (`!=`, `not in`).
    Forbid(&'a [String]),
    /// `has key`.
    Present,
    /// `not has key`.
    Absent,
}

/// The fact `c` states about one key, when it is a comparison, `has` or `not has`.
fn fact(c: &Selector) -> Option<(KeyRef<'_>, Fact<'_>)> {
    Some(match &c.kind {
        SelectorKind::Eq { key, value } => {
            (KeyRef::of(key), Fact::Allow(std::slice::from_ref(value)))
        }
        SelectorKind::In { key, values } => (KeyRef::of(key), Fact::Allow(values)),
        SelectorKind::Ne { key, value } => {
            (KeyRef::of(key), Fact::Forbid(std::slice::from_ref(value)))
        }
        SelectorKind::NotIn { key, values } => (KeyRef::of(key), Fact::Forbid(values)),
        SelectorKind::Has { key } => (KeyRef::Label(key), Fact::Present),
        SelectorKind::Not { inner } => match &inner.kind {
            SelectorKind::Has { key } => (KeyRef::Label(key), Fact::Absent),
            _ => return None,
        },
        _ => return None,
    })
}

/// Whether the facts about one key contradict each other: present and absent, or no value
/// both allowed by every `==`/`in` and forbidden by no `!=`/`not in`. Clusters always have a
/// name and a server, so a cluster attribute is never absent (`has` only names labels).
fn contradictory<'a>(facts: impl Iterator<Item = Fact<'a>> + Clone) -> bool {
    let (mut present, mut absent) = (false, false);
    let mut first_allow: Option<&[String]> = None;
    for f in facts.clone() {
        match f {
            Fact::Allow(values) => {
                present = true;
                first_allow.get_or_insert(values);
            }
            Fact::Present => present = true,
            Fact::Absent => absent = true,
            Fact::Forbid(_) => {}
        }
    }
    if present && absent {
        return true;
    }
    let Some(first) = first_allow else {
        return false;
    };
    // The allowed values are those of every `Allow`; contradictory when each is forbidden.
    !first.iter().any(|v| {
        facts.clone().all(|f| match f {
            Fact::Allow(values) => values.contains(v),
            Fact::Forbid(values) => !values.contains(v),
            Fact::Present | Fact::Absent => true,
        })
    })
}

/// Conjuncts up to which [`unsatisfiable`] compares every pair without allocating; longer
/// `and`s group their facts by key in a map.
const SMALL_AND: usize = 32;

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
            if all.len() <= SMALL_AND {
                // Each key once, at its first conjunct, with every conjunct about it.
                all.iter().enumerate().any(|(i, c)| {
                    let Some((key, _)) = fact(c) else {
                        return false;
                    };
                    let same_key = |d: &Selector| fact(d).is_some_and(|(k, _)| k == key);
                    !all[..i].iter().any(same_key)
                        && contradictory(
                            all[i..]
                                .iter()
                                .filter_map(fact)
                                .filter(move |&(k, _)| k == key)
                                .map(|(_, f)| f),
                        )
                })
            } else {
                let mut by_key: BTreeMap<KeyRef<'_>, Vec<Fact<'_>>> = BTreeMap::new();
                for (key, f) in all.iter().filter_map(fact) {
                    by_key.entry(key).or_default().push(f);
                }
                by_key
                    .values()
                    .any(|facts| contradictory(facts.iter().copied()))
            }
        }
        _ => false,
    }
}

/// True when every cluster `a` matches is also matched by `b`, in any fleet.
pub fn implies(a: &Selector, b: &Selector) -> bool {
    // An empty selection is contained in anything; checked last: `contained` usually decides.
    contained(a, b) || unsatisfiable(a)
}

/// [`implies`] for an `a` already known to be satisfiable (the answer for an unsatisfiable `a`
/// is unspecified; [`implies`] is true for it anyway).
///
/// The parts of a satisfiable `a` that are compared are satisfiable too (the conjuncts of an
/// `and` that [`unsatisfiable`] clears), so they need no satisfiability check of their own;
/// only the alternatives of an `or` may match nothing.
pub fn contained(a: &Selector, b: &Selector) -> bool {
    if matches!(b.kind, SelectorKind::All) || same(a, b) {
        return true;
    }
    match (&a.kind, &b.kind) {
        (SelectorKind::Or { any }, _) => any.iter().all(|x| implies(x, b)),
        (_, SelectorKind::And { all }) => all.iter().all(|y| contained(a, y)),
        (SelectorKind::And { all }, _) if all.iter().any(|x| contained(x, b)) => true,
        (_, SelectorKind::Or { any }) if any.iter().any(|y| contained(a, y)) => true,
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
            key == k && same_set(values, v)
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

/// Whether `a` and `b` hold the same values (as sets).
fn same_set(a: &[String], b: &[String]) -> bool {
    if a.len() <= SMALL_AND && b.len() <= SMALL_AND {
        return a.iter().all(|x| b.contains(x)) && b.iter().all(|y| a.contains(y));
    }
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
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

    /// The allocation-free `unsatisfiable` and the `contained` that trusts satisfiable parts
    /// against the straightforward versions they replaced, on random selectors over a few
    /// keys and values (long `and`s included, for the map path).
    #[test]
    fn agrees_with_the_reference() {
        let mut rng = Lcg(7);
        let selectors: Vec<Selector> = (0..400).map(|_| random(&mut rng, 3)).collect();
        for a in &selectors {
            assert_eq!(unsatisfiable(a), reference::unsatisfiable(a), "{a:#?}");
            for b in selectors.iter().take(60) {
                assert_eq!(implies(a, b), reference::implies(a, b), "{a:#?}\n{b:#?}");
                if !unsatisfiable(a) {
                    assert_eq!(
                        contained(a, b),
                        reference::contained(a, b),
                        "{a:#?}\n{b:#?}"
                    );
                }
            }
        }
    }

    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    fn random(rng: &mut Lcg, depth: u32) -> Selector {
        let keys = |rng: &mut Lcg| match rng.below(4) {
            0 => Attr::Cluster(ClusterAttr::Name),
            1 => Attr::Label("a".into()),
            _ => Attr::Label("b".into()),
        };
        let value = |rng: &mut Lcg| ["x", "y", "z"][rng.below(3) as usize].to_string();
        let values = |rng: &mut Lcg| {
            let n = rng.below(4);
            (0..n).map(|_| value(rng)).collect::<Vec<_>>()
        };
        let label = |rng: &mut Lcg| ["a", "b"][rng.below(2) as usize].to_string();
        let choice = rng.below(if depth == 0 { 8 } else { 12 });
        sel(match choice {
            0 => SelectorKind::All,
            1 | 2 => SelectorKind::Eq {
                key: keys(rng),
                value: value(rng),
            },
            3 => SelectorKind::Ne {
                key: keys(rng),
                value: value(rng),
            },
            4 => SelectorKind::In {
                key: keys(rng),
                values: values(rng),
            },
            5 => SelectorKind::NotIn {
                key: keys(rng),
                values: values(rng),
            },
            6 => SelectorKind::Has { key: label(rng) },
            7 => SelectorKind::Matches {
                key: keys(rng),
                pattern: "x*".into(),
            },
            8 => SelectorKind::Not {
                inner: Box::new(if rng.below(2) == 0 {
                    sel(SelectorKind::Has { key: label(rng) })
                } else {
                    random(rng, depth - 1)
                }),
            },
            9 | 10 => {
                let n = if rng.below(8) == 0 {
                    40
                } else {
                    1 + rng.below(4)
                };
                SelectorKind::And {
                    all: (0..n).map(|_| random(rng, depth - 1)).collect(),
                }
            }
            _ => SelectorKind::Or {
                any: (0..rng.below(4)).map(|_| random(rng, depth - 1)).collect(),
            },
        })
    }

    /// The versions before the allocation-free rewrite.
    mod reference {
        use std::collections::{BTreeMap, BTreeSet};

        use crate::hir::{Attr, Selector, SelectorKind};

        #[derive(Default)]
        struct KeyFacts {
            allowed: Option<BTreeSet<String>>,
            forbidden: BTreeSet<String>,
            present: bool,
            absent: bool,
        }

        pub fn unsatisfiable(s: &Selector) -> bool {
            match &s.kind {
                SelectorKind::In { values, .. } => values.is_empty(),
                SelectorKind::Not { inner } => matches!(inner.kind, SelectorKind::All),
                SelectorKind::Or { any } => !any.is_empty() && any.iter().all(unsatisfiable),
                SelectorKind::And { all } => {
                    if all.iter().any(unsatisfiable) {
                        return true;
                    }
                    let mut facts: BTreeMap<Attr, KeyFacts> = BTreeMap::new();
                    for c in all {
                        let (key, allow, forbid, present, absent) = match &c.kind {
                            SelectorKind::Eq { key, value } => {
                                (key.clone(), Some(vec![value.clone()]), vec![], false, false)
                            }
                            SelectorKind::In { key, values } => {
                                (key.clone(), Some(values.clone()), vec![], false, false)
                            }
                            SelectorKind::Ne { key, value } => {
                                (key.clone(), None, vec![value.clone()], false, false)
                            }
                            SelectorKind::NotIn { key, values } => {
                                (key.clone(), None, values.clone(), false, false)
                            }
                            SelectorKind::Has { key } => {
                                (Attr::Label(key.clone()), None, vec![], true, false)
                            }
                            SelectorKind::Not { inner } => match &inner.kind {
                                SelectorKind::Has { key } => {
                                    (Attr::Label(key.clone()), None, vec![], false, true)
                                }
                                _ => continue,
                            },
                            _ => continue,
                        };
                        let cluster = matches!(key, Attr::Cluster(_));
                        let f = facts.entry(key).or_default();
                        if let Some(values) = allow {
                            let new: BTreeSet<String> = values.into_iter().collect();
                            f.allowed = Some(match f.allowed.take() {
                                Some(old) => old.intersection(&new).cloned().collect(),
                                None => new,
                            });
                            f.present = true;
                        }
                        f.forbidden.extend(forbid);
                        f.present |= present;
                        f.absent |= absent;
                        if cluster {
                            f.absent = false;
                        }
                    }
                    facts.values().any(|f| {
                        (f.present && f.absent)
                            || f.allowed
                                .as_ref()
                                .is_some_and(|a| a.iter().all(|v| f.forbidden.contains(v)))
                    })
                }
                _ => false,
            }
        }

        pub fn implies(a: &Selector, b: &Selector) -> bool {
            contained(a, b) || unsatisfiable(a)
        }

        pub fn contained(a: &Selector, b: &Selector) -> bool {
            if matches!(b.kind, SelectorKind::All) || super::same(a, b) {
                return true;
            }
            match (&a.kind, &b.kind) {
                (SelectorKind::Or { any }, _) => any.iter().all(|x| implies(x, b)),
                (_, SelectorKind::And { all }) => all.iter().all(|y| implies(a, y)),
                (SelectorKind::And { all }, _) if all.iter().any(|x| implies(x, b)) => true,
                (_, SelectorKind::Or { any }) if any.iter().any(|y| implies(a, y)) => true,
                _ => {
                    super::contained(a, b)
                        && !matches!(
                            (&a.kind, &b.kind),
                            (SelectorKind::Or { .. }, _)
                                | (_, SelectorKind::And { .. })
                                | (SelectorKind::And { .. }, _)
                                | (_, SelectorKind::Or { .. })
                        )
                }
            }
        }
    }
}
