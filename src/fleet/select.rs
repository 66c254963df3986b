//! Evaluating a checked selector against a cluster, with Kubernetes label-selector semantics,
//! and the `*`/`?` glob of `matches`.

use super::Cluster;
use crate::ast::ClusterAttr;
use crate::hir::{Attr, Selector, SelectorKind};

/// Whether `selector` selects `cluster`.
///
/// Kubernetes semantics: `==` and `in` need the label to be present; `!=` and `not in` also
/// match clusters that lack it (so `not (k == v)` is `k != v`). `matches` on a missing label
/// is false. `cluster.name` and `cluster.server` are always present and compared exactly.
pub fn matches(selector: &Selector, cluster: &Cluster) -> bool {
    match &selector.kind {
        SelectorKind::All => true,
        SelectorKind::Eq { key, value } => attr(cluster, key) == Some(value.as_str()),
        SelectorKind::Ne { key, value } => attr(cluster, key) != Some(value.as_str()),
        SelectorKind::In { key, values } => {
            attr(cluster, key).is_some_and(|v| values.iter().any(|x| x == v))
        }
        SelectorKind::NotIn { key, values } => {
            attr(cluster, key).is_none_or(|v| !values.iter().any(|x| x == v))
        }
        SelectorKind::Matches { key, pattern } => {
            attr(cluster, key).is_some_and(|v| glob_match(pattern, v))
        }
        SelectorKind::Has { key } => cluster.labels.contains_key(key),
        SelectorKind::Not { inner } => !matches(inner, cluster),
        SelectorKind::And { all } => all.iter().all(|s| matches(s, cluster)),
        SelectorKind::Or { any } => any.iter().any(|s| matches(s, cluster)),
    }
}

/// The value a comparison looks at, `None` for a missing label.
fn attr<'c>(cluster: &'c Cluster, key: &Attr) -> Option<&'c str> {
    match key {
        Attr::Label(label) => cluster.label(label),
        Attr::Cluster(ClusterAttr::Name) => Some(&cluster.name),
        Attr::Cluster(ClusterAttr::Server) => Some(&cluster.server),
    }
}

/// Whether `text` matches the glob `pattern` as a whole: `*` matches any run of characters
/// (including none), `?` exactly one character, every other character itself. There is no
/// escape and no character class. An empty pattern matches only the empty string.
///
/// Written by hand rather than taken from a crate: the semantics are this small, glob crates
/// bring path semantics (`/` special, `**`, classes, escapes) we must not have, and the
/// matcher must be safe on patterns from strategy files and values from large fleets.
///
/// The algorithm is the iterative two-pointer one: walk both strings; on `*` remember where
/// it was and let it match nothing; on a mismatch go back to the most recent `*` and let it
/// swallow one more character. Backtracking only to the most recent `*` is enough, because
/// any way an earlier `*` could have matched more can be matched by the later `*` instead.
/// So there is no exponential blow-up: time is O(|pattern| × |text|) in the worst case and
/// linear for typical patterns, with no recursion.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // The pattern position after the last `*` seen, and the text position it resumes from.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((after_star, resume)) => {
                    // Let the last `*` take one more character and retry from there.
                    star = Some((after_star, resume + 1));
                    pi = after_star;
                    ti = resume + 1;
                }
                None => return false,
            },
        }
    }
    // The text is used up: what is left of the pattern must be stars only.
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("", ""));
        assert!(!glob_match("", "a"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b?c", "aXXbYc"));
        assert!(!glob_match("a*b?c", "aXXbc"));
        assert!(glob_match("*a*", "bab"));
        assert!(glob_match("é?", "éü"));
    }
}
