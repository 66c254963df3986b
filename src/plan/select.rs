//! Evaluating an IR selector against a cluster, with the same Kubernetes label-selector
//! semantics as [`crate::fleet::matches`] (which works on the checked form).

use crate::fleet::{Cluster, glob_match};
use crate::ir::{Attr, Selector};

/// Whether `selector` selects `cluster`.
///
/// Kubernetes semantics: `==` and `in` need the label to be present; `!=` and `not in` also
/// match clusters that lack it (so `not (k == v)` is `k != v`). `matches` on a missing label
/// is false. `cluster.name` and `cluster.server` are always present and compared exactly.
pub fn matches(selector: &Selector, cluster: &Cluster) -> bool {
    match selector {
        Selector::All => true,
        Selector::Eq { key, value } => attr(cluster, key) == Some(value.as_str()),
        Selector::Ne { key, value } => attr(cluster, key) != Some(value.as_str()),
        // `in` lists are sorted and distinct in the IR, but IR files can be written by
        // hand: a linear scan does not rely on it (the lists are short).
        Selector::In { key, values } => {
            attr(cluster, key).is_some_and(|v| values.iter().any(|x| x == v))
        }
        Selector::NotIn { key, values } => {
            attr(cluster, key).is_none_or(|v| !values.iter().any(|x| x == v))
        }
        Selector::Matches { key, pattern } => {
            attr(cluster, key).is_some_and(|v| glob_match(pattern, v))
        }
        Selector::Has { key } => cluster.labels.contains_key(key),
        Selector::Not { inner } => !matches(inner, cluster),
        Selector::And { all } => all.iter().all(|s| matches(s, cluster)),
        Selector::Or { any } => any.iter().any(|s| matches(s, cluster)),
    }
}

/// The value a comparison looks at, `None` for a missing label.
pub(crate) fn attr<'c>(cluster: &'c Cluster, key: &Attr) -> Option<&'c str> {
    match key {
        Attr::Label(label) => cluster.label(label),
        Attr::Name => Some(&cluster.name),
        Attr::Server => Some(&cluster.server),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn cluster(labels: &[(&str, &str)]) -> Cluster {
        Cluster::new(
            "prod-euw1-01",
            "https://k.example.com",
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn eq(k: &str, v: &str) -> Selector {
        Selector::Eq {
            key: Attr::Label(k.into()),
            value: v.into(),
        }
    }

    #[test]
    fn kubernetes_semantics() {
        let bare = cluster(&[]);
        let eu = cluster(&[("region", "eu-west-1")]);
        let ne = Selector::Ne {
            key: Attr::Label("region".into()),
            value: "us-east-1".into(),
        };
        let not_in = Selector::NotIn {
            key: Attr::Label("region".into()),
            values: vec!["us-east-1".into()],
        };
        // `!=` and `not in` match a cluster without the label; `==` and `in` do not.
        assert!(matches(&ne, &bare) && matches(&not_in, &bare));
        assert!(!matches(&eq("region", "eu-west-1"), &bare));
        assert!(matches(&eq("region", "eu-west-1"), &eu));
        let glob = Selector::Matches {
            key: Attr::Name,
            pattern: "prod-*-0?".into(),
        };
        assert!(matches(&glob, &bare));
        let has = Selector::Has {
            key: "region".into(),
        };
        assert!(matches(&has, &eu) && !matches(&has, &bare));
        let both = Selector::And {
            all: vec![has.clone(), eq("region", "eu-west-1")],
        };
        assert!(matches(&both, &eu) && !matches(&both, &bare));
        let either = Selector::Or {
            any: vec![
                has,
                Selector::Not {
                    inner: Box::new(Selector::All),
                },
            ],
        };
        assert!(matches(&either, &eu) && !matches(&either, &bare));
    }
}
