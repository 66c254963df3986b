//! The imported strategy before it is text, and its rendering as formatted `.rollout`
//! source: one statement per line, two-space indentation, a blank line between stages.

use crate::source::Span;
use crate::syntax::literal::format_duration;
use crate::syntax::lower::RESERVED;

use super::read::Reader;

/// A number of clusters as the language writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// `2`.
    Int(u64),
    /// `25%`.
    Percent(u8),
}

impl Count {
    fn render(self) -> String {
        match self {
            Count::Int(n) => n.to_string(),
            Count::Percent(p) => format!("{p}%"),
        }
    }
}

/// One requirement of a conjunctive selector, over cluster labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// `key in [values]` (`key == "v"` for one value).
    In(String, Vec<String>),
    /// `key not in [values]` (`key != "v"` for one value).
    NotIn(String, Vec<String>),
    /// `has key`.
    Has(String),
    /// `not has key`.
    NotHas(String),
}

impl Term {
    fn key(&self) -> &str {
        match self {
            Term::In(k, _) | Term::NotIn(k, _) | Term::Has(k) | Term::NotHas(k) => k,
        }
    }

    fn render(&self) -> String {
        let list = |values: &[String]| {
            let items: Vec<String> = values.iter().map(|v| string(v)).collect();
            format!("[{}]", items.join(", "))
        };
        match self {
            Term::In(k, v) if v.len() == 1 => format!("{} == {}", key(k), string(&v[0])),
            Term::In(k, v) => format!("{} in {}", key(k), list(v)),
            Term::NotIn(k, v) if v.len() == 1 => format!("{} != {}", key(k), string(&v[0])),
            Term::NotIn(k, v) => format!("{} not in {}", key(k), list(v)),
            Term::Has(k) => format!("has {}", key(k)),
            Term::NotHas(k) => format!("not has {}", key(k)),
        }
    }
}

/// A conjunction of terms; no terms is `all`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Select {
    /// The requirements, all of which must hold.
    pub terms: Vec<Term>,
    /// Where the selector was written in the input.
    pub span: Span,
}

impl Select {
    /// The selector as source text.
    pub fn render(&self) -> String {
        if self.terms.is_empty() {
            return "all".into();
        }
        let terms: Vec<String> = self.terms.iter().map(Term::render).collect();
        terms.join(" and ")
    }

    /// The selector as source text, one `and` term per line (continuation lines indented
    /// by `indent` spaces) when it would not fit on one line.
    pub fn render_wrapped(&self, indent: usize) -> String {
        let one = self.render();
        if one.len() <= 80 || self.terms.len() < 2 {
            return one;
        }
        let terms: Vec<String> = self.terms.iter().map(Term::render).collect();
        terms.join(&format!("\n{}and ", " ".repeat(indent)))
    }

    /// Why no cluster can match, if none can: the same contradictions the checker reports
    /// (R0303), found here so they are reported against the input rather than the output.
    pub fn contradiction(&self) -> Option<String> {
        let mut keys: Vec<&str> = self.terms.iter().map(Term::key).collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            let terms: Vec<&Term> = self.terms.iter().filter(|t| t.key() == key).collect();
            let required = terms
                .iter()
                .any(|t| matches!(t, Term::In(..) | Term::Has(_)));
            let absent = terms.iter().any(|t| matches!(t, Term::NotHas(_)));
            if required && absent {
                return Some(format!("label `{key}` is required and forbidden at once"));
            }
            // The values `In` terms still allow, after every `NotIn`.
            let mut allowed: Option<Vec<&String>> = None;
            for t in &terms {
                if let Term::In(_, values) = t {
                    allowed = Some(match allowed {
                        None => values.iter().collect(),
                        Some(a) => a.into_iter().filter(|v| values.contains(v)).collect(),
                    });
                }
            }
            if let Some(allowed) = allowed {
                let left = allowed.iter().any(|v| {
                    !terms
                        .iter()
                        .any(|t| matches!(t, Term::NotIn(_, out) if out.contains(v)))
                });
                if !left {
                    return Some(format!(
                        "no value of label `{key}` satisfies every requirement"
                    ));
                }
            }
        }
        None
    }
}

/// `requeue when ... attempts N every D`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requeue {
    /// Which clusters to defer.
    pub when: Select,
    /// Retries, when given.
    pub attempts: Option<u64>,
    /// Seconds between retries, when given.
    pub every: Option<u64>,
}

impl Requeue {
    fn render(&self) -> String {
        let mut out = format!("requeue when {}", self.when.render());
        if let Some(n) = self.attempts {
            out.push_str(&format!(" attempts {n}"));
        }
        if let Some(s) = self.every {
            out.push_str(&format!(" every {}", format_duration(s)));
        }
        out
    }

    /// Same meaning, ignoring where it was written.
    fn same(&self, other: &Requeue) -> bool {
        self.when.terms == other.when.terms
            && self.attempts == other.attempts
            && self.every == other.every
    }
}

/// One imported stage.
#[derive(Clone, Debug)]
pub struct Stage {
    /// The stage name.
    pub name: String,
    /// Doc comment lines (without `///`).
    pub doc: Vec<String>,
    /// Which clusters it takes.
    pub select: Select,
    /// `limit`.
    pub limit: Option<Count>,
    /// `batch`.
    pub batch: Option<Count>,
    /// `spread by`.
    pub spread_by: Option<String>,
    /// `requeue when ...`.
    pub requeue: Option<Requeue>,
}

/// One imported rollout.
#[derive(Clone, Debug)]
pub struct Rollout {
    /// The rollout name.
    pub name: String,
    /// Where the name came from in the input (for duplicate-name warnings).
    pub name_span: Span,
    /// Doc comment lines (without `///`).
    pub doc: Vec<String>,
    /// Plain comment lines above the doc comment (the kind and origin of the input).
    pub comments: Vec<String>,
    /// `target appset NAME in NAMESPACE`.
    pub appset: String,
    /// The namespace.
    pub namespace: String,
    /// The stages in order.
    pub stages: Vec<Stage>,
}

/// Renames rollouts whose names repeat (`name (2)`) with a warning, so that the output does
/// not trip the duplicate-rollout check.
pub(super) fn dedupe_rollout_names(rollouts: &mut [Rollout], reader: &mut Reader<'_>) {
    for i in 1..rollouts.len() {
        if rollouts[..i].iter().any(|r| r.name == rollouts[i].name) {
            let base = rollouts[i].name.clone();
            let mut n = 2;
            let name = loop {
                let candidate = format!("{base} ({n})");
                if !rollouts.iter().any(|r| r.name == candidate) {
                    break candidate;
                }
                n += 1;
            };
            reader.warn(
                rollouts[i].name_span,
                format!("a rollout named `{base}` was already imported: this one is `{name}`"),
            );
            rollouts[i].name = name;
        }
    }
}

/// Renames stages whose names repeat within a rollout (`name (2)`), with a warning at the
/// stage: stage names must be unique in rollc (run state refers to stages by name).
pub(super) fn dedupe_stage_names(stages: &mut [Stage], spans: &[Span], reader: &mut Reader<'_>) {
    for i in 1..stages.len() {
        if stages[..i].iter().any(|s| s.name == stages[i].name) {
            let base = stages[i].name.clone();
            let mut n = 2;
            let name = loop {
                let candidate = format!("{base} ({n})");
                if !stages.iter().any(|s| s.name == candidate) {
                    break candidate;
                }
                n += 1;
            };
            reader.warn(
                spans[i],
                format!("stage name `{base}` is used twice: this stage is imported as `{name}`"),
            );
            stages[i].name = name;
        }
    }
}

/// Renders the rollouts as one `.rollout` file, with a header naming `input`.
pub fn render(input: &str, rollouts: &[Rollout]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "// Imported by `rollc import` from `{}`.\n",
        one_line(input)
    ));
    out.push_str(
        "// Review it, then check it against your fleet: `rollc check --fleet FLEET FILE`.\n",
    );
    for rollout in rollouts {
        out.push('\n');
        render_rollout(&mut out, rollout);
    }
    out
}

fn render_rollout(out: &mut String, r: &Rollout) {
    for line in &r.comments {
        out.push_str(&format!("// {}\n", one_line(line).trim_end()));
    }
    for line in &r.doc {
        out.push_str(&format!("/// {}\n", one_line(line)));
    }
    out.push_str(&format!("rollout {} {{\n", string(&r.name)));
    out.push_str(&format!(
        "  target appset {} in {}\n",
        string(&r.appset),
        string(&r.namespace)
    ));

    // A requeue shared by every stage reads best once, in `defaults`, as a hand-written
    // strategy would have it; the checker applies it to each stage exactly as before.
    let shared = match r.stages.split_first() {
        Some((first, rest)) if !rest.is_empty() => first
            .requeue
            .as_ref()
            .filter(|q| {
                rest.iter()
                    .all(|s| s.requeue.as_ref().is_some_and(|o| o.same(q)))
            })
            .cloned(),
        _ => None,
    };
    if let Some(requeue) = &shared {
        out.push_str("\n  defaults {\n");
        out.push_str(&format!("    {}\n", requeue.render()));
        out.push_str("  }\n");
    }

    for stage in &r.stages {
        out.push('\n');
        for line in &stage.doc {
            out.push_str(&format!("  /// {}\n", one_line(line)));
        }
        out.push_str(&format!("  stage {} {{\n", string(&stage.name)));
        out.push_str(&format!("    select {}\n", stage.select.render_wrapped(6)));
        if let Some(limit) = stage.limit {
            out.push_str(&format!("    limit {}\n", limit.render()));
        }
        if let Some(batch) = stage.batch {
            out.push_str(&format!("    batch {}\n", batch.render()));
        }
        if let Some(key) = &stage.spread_by {
            out.push_str(&format!("    spread by {}\n", label_key(key)));
        }
        if let (Some(requeue), None) = (&stage.requeue, &shared) {
            out.push_str(&format!("    {}\n", requeue.render()));
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
}

/// A label key as source: bare when it is an identifier that is not a reserved word,
/// otherwise in backticks.
pub fn label_key(k: &str) -> String {
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident && !RESERVED.contains(&k) && k != "cluster" {
        k.to_string()
    } else {
        format!("`{k}`")
    }
}

fn key(k: &str) -> String {
    label_key(k)
}

/// A string literal: quotes, backslashes and `$` (interpolation) escaped, control
/// characters written as escapes.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for a comment: on one line (control characters become spaces), without trailing
/// blanks.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_strings() {
        assert_eq!(label_key("region"), "region");
        assert_eq!(label_key("order"), "`order`");
        assert_eq!(
            label_key("topology.kubernetes.io/zone"),
            "`topology.kubernetes.io/zone`"
        );
        assert_eq!(label_key("env-name"), "`env-name`");
        assert_eq!(string("a\"b\\c${d}\n"), "\"a\\\"b\\\\c\\${d}\\n\"");
    }

    #[test]
    fn contradictions() {
        let sel = |terms| Select {
            terms,
            span: Span::point(0),
        };
        let s = sel(vec![
            Term::In("region".into(), vec!["a".into()]),
            Term::In("region".into(), vec!["b".into()]),
        ]);
        assert!(s.contradiction().is_some());
        let s = sel(vec![
            Term::In("region".into(), vec!["a".into(), "b".into()]),
            Term::NotIn("region".into(), vec!["a".into()]),
        ]);
        assert!(s.contradiction().is_none());
        let s = sel(vec![
            Term::Has("drained".into()),
            Term::NotHas("drained".into()),
        ]);
        assert!(s.contradiction().is_some());
        let s = sel(vec![
            Term::NotIn("a".into(), vec!["x".into()]),
            Term::NotHas("a".into()),
        ]);
        assert!(s.contradiction().is_none());
    }
}
