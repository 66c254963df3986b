//! The `apps` target's selector over Application labels: translated into a Kubernetes label
//! selector for the list and watch where it can be (a superset is enough), and always
//! evaluated exactly on each Application with the IR's own semantics.

use crate::fleet::Cluster;
use crate::ir::{Attr, Selector};

use super::app::Application;

/// A Kubernetes label selector that selects at least every Application `selector` selects,
/// or `None` when no restriction can be expressed (list everything and filter here).
///
/// `==`, `!=`, `in`, `not in`, `has` and their negations translate exactly; an `and`
/// keeps its expressible operands (a superset); `or`, `matches` and `cluster.name` /
/// `cluster.server` do not translate. Values that are not valid label values (which no label
/// could carry) are not expressible either.
pub fn label_selector(selector: &Selector) -> Option<String> {
    let parts = terms(selector);
    (!parts.is_empty()).then(|| parts.join(","))
}

/// The comma-joined requirements of `selector` that restrict it, possibly none.
fn terms(selector: &Selector) -> Vec<String> {
    match selector {
        Selector::And { all } => all.iter().flat_map(terms).collect(),
        other => term(other).into_iter().collect(),
    }
}

/// One exact requirement for a non-`and` selector.
fn term(selector: &Selector) -> Option<String> {
    match selector {
        Selector::Eq {
            key: Attr::Label(k),
            value,
        } => (key_ok(k) && value_ok(value)).then(|| format!("{k}={value}")),
        Selector::Ne {
            key: Attr::Label(k),
            value,
        } => (key_ok(k) && value_ok(value)).then(|| format!("{k}!={value}")),
        Selector::In {
            key: Attr::Label(k),
            values,
        } => (key_ok(k) && !values.is_empty() && values.iter().all(|v| value_ok(v)))
            .then(|| format!("{k} in ({})", values.join(","))),
        Selector::NotIn {
            key: Attr::Label(k),
            values,
        } => (key_ok(k) && !values.is_empty() && values.iter().all(|v| value_ok(v)))
            .then(|| format!("{k} notin ({})", values.join(","))),
        Selector::Has { key } => key_ok(key).then(|| key.clone()),
        Selector::Not { inner } => match inner.as_ref() {
            Selector::Has { key } => key_ok(key).then(|| format!("!{key}")),
            Selector::Eq { key, value } => term(&Selector::Ne {
                key: key.clone(),
                value: value.clone(),
            }),
            Selector::Ne { key, value } => term(&Selector::Eq {
                key: key.clone(),
                value: value.clone(),
            }),
            Selector::In { key, values } => term(&Selector::NotIn {
                key: key.clone(),
                values: values.clone(),
            }),
            Selector::NotIn { key, values } => term(&Selector::In {
                key: key.clone(),
                values: values.clone(),
            }),
            Selector::Not { inner } => term(inner),
            _ => None,
        },
        _ => None,
    }
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// characters, alphanumeric at both ends, with `-`, `_`, `.` inside.
fn key_ok(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    });
    prefix_ok && !name.is_empty() && value_ok(name)
}

/// A label value: empty, or at most 63 characters, alphanumeric at both ends, with `-`,
/// `_`, `.` inside.
fn value_ok(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    value.len() <= 63
        && ends(value.chars().next())
        && ends(value.chars().last())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Whether `selector` selects `app`: evaluated like a cluster selector on the Application's
/// labels (`cluster.name` is the Application's name, `cluster.server` its destination
/// server).
pub fn selects(selector: &Selector, app: &Application) -> bool {
    let view = Cluster::new(
        app.name(),
        app.dest_server().unwrap_or_default(),
        app.metadata.labels.clone().unwrap_or_default(),
    );
    crate::plan::matches(selector, &view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(k: &str) -> Attr {
        Attr::Label(k.into())
    }

    fn eq(k: &str, v: &str) -> Selector {
        Selector::Eq {
            key: label(k),
            value: v.into(),
        }
    }

    #[test]
    fn translates_what_kubernetes_can_say() {
        assert_eq!(label_selector(&Selector::All), None);
        assert_eq!(
            label_selector(&eq("team", "payments")).unwrap(),
            "team=payments"
        );
        assert_eq!(
            label_selector(&Selector::Ne {
                key: label("tier"),
                value: "batch".into()
            })
            .unwrap(),
            "tier!=batch"
        );
        assert_eq!(
            label_selector(&Selector::In {
                key: label("env"),
                values: vec!["prod".into(), "staging".into()]
            })
            .unwrap(),
            "env in (prod,staging)"
        );
        assert_eq!(
            label_selector(&Selector::NotIn {
                key: label("env"),
                values: vec!["dev".into()]
            })
            .unwrap(),
            "env notin (dev)"
        );
        assert_eq!(
            label_selector(&Selector::Has {
                key: "app.kubernetes.io/part-of".into()
            })
            .unwrap(),
            "app.kubernetes.io/part-of"
        );
        assert_eq!(
            label_selector(&Selector::Not {
                inner: Box::new(Selector::Has { key: "skip".into() })
            })
            .unwrap(),
            "!skip"
        );
        assert_eq!(
            label_selector(&Selector::Not {
                inner: Box::new(eq("a", "b"))
            })
            .unwrap(),
            "a!=b"
        );
        assert_eq!(
            label_selector(&Selector::And {
                all: vec![eq("team", "payments"), eq("env", "prod")]
            })
            .unwrap(),
            "team=payments,env=prod"
        );
    }

    #[test]
    fn the_rest_is_filtered_here() {
        let glob = Selector::Matches {
            key: label("team"),
            pattern: "pay*".into(),
        };
        assert_eq!(label_selector(&glob), None);
        assert_eq!(
            label_selector(&Selector::Or {
                any: vec![eq("a", "1"), eq("b", "2")]
            }),
            None
        );
        assert_eq!(
            label_selector(&Selector::Eq {
                key: Attr::Name,
                value: "x".into()
            }),
            None
        );
        // Values no label can carry.
        assert_eq!(label_selector(&eq("team", "a b")), None);
        assert_eq!(label_selector(&eq("team", "a,b")), None);
        assert_eq!(label_selector(&eq("bad key", "x")), None);
        // An `and` keeps what it can: a superset, filtered exactly afterwards.
        assert_eq!(
            label_selector(&Selector::And {
                all: vec![eq("team", "payments"), glob.clone()]
            })
            .unwrap(),
            "team=payments"
        );
    }

    #[test]
    fn exact_evaluation_on_application_labels() {
        let app: Application = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-prod", "labels": {"team": "payments", "env": "prod"}},
            "spec": {"destination": {"server": "https://k.example.com/"}},
        }))
        .unwrap();
        assert!(selects(&eq("team", "payments"), &app));
        assert!(!selects(&eq("team", "search"), &app));
        assert!(selects(
            &Selector::Matches {
                key: label("team"),
                pattern: "pay*".into()
            },
            &app
        ));
        assert!(selects(
            &Selector::Eq {
                key: Attr::Server,
                value: "https://k.example.com".into()
            },
            &app
        ));
        assert!(selects(
            &Selector::Ne {
                key: label("missing"),
                value: "x".into()
            },
            &app
        ));
    }
}
