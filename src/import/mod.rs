//! `rollc import`: rollout specs of other tools (YAML) to formatted `.rollout` source.
//!
//! Two inputs are understood:
//!
//! - a Skyscanner **`ProgressiveRollout`** (`deployment.skyscanner.net/v1alpha1`), see
//!   [`progressive`];
//! - an Argo CD **`ApplicationSet`** with `spec.strategy.type: RollingSync`, see
//!   [`rollingsync`].
//!
//! A file may hold several YAML documents (and `List`s of resources); each supported one
//! becomes a rollout. Every field is either translated or reported ([`Code::UnsupportedImport`]
//! with its path and line): nothing is dropped silently. Malformed input is
//! [`Code::InvalidImportedSpec`]. Assumptions the translation makes are notes
//! ([`Code::ConversionAssumption`]).
//!
//! The generated source is meant to check cleanly; [`verify`] runs the real checker on it in
//! memory, and the CLI refuses to print source that does not check (that would be a bug here,
//! not in the input).

mod duration;
mod progressive;
mod read;
mod rollingsync;
mod source;

use std::path::Path;

use crate::check::{Checked, Root};
use crate::diagnostics::{Code, Diagnostic};
use crate::fleet::yaml::{self, Node, NodeKind, Src};
use crate::resolve::InMemory;
use crate::source::{FileId, Span};

pub use duration::{GoDuration, parse_go_duration};

/// The result of an import.
#[derive(Debug)]
pub struct Imported {
    /// The `.rollout` source, when at least one document was imported.
    pub source: Option<String>,
    /// The names of the rollouts in `source`, in order.
    pub rollouts: Vec<String>,
    /// Problems and notes about the input, pointing into the YAML file.
    pub diagnostics: Vec<Diagnostic>,
}

impl Imported {
    /// True when some diagnostic is an error: the input was (partly) not imported.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Imports the YAML `text` of `file`, shown as `name` in the generated header comment.
///
/// Each supported document becomes one rollout; a document with errors is left out entirely
/// (a partial strategy would run differently from the original), the others are still
/// imported.
pub fn import(file: FileId, text: &str, name: &str) -> Imported {
    let src = Src::new(file, text);
    let mut reader = read::Reader::new(&src);
    let docs = match yaml::load_all::<Node>(text) {
        Ok(docs) => docs,
        Err(err) => {
            let diag = src.yaml_error_as(&err, Code::InvalidImportedSpec, "the file");
            return Imported {
                source: None,
                rollouts: Vec::new(),
                diagnostics: vec![diag],
            };
        }
    };
    let mut rollouts = Vec::new();
    let multiple = docs.len() > 1;
    for (i, doc) in docs.iter().enumerate() {
        let label = if multiple {
            format!("document {}", i + 1)
        } else {
            "the document".to_string()
        };
        document(&mut reader, doc, "", &label, &mut rollouts);
    }
    if rollouts.is_empty() && !reader.has_errors() {
        let span = Span::new(0, text.find('\n').unwrap_or(text.len()));
        reader.error(
            span,
            "nothing to import: the file holds no ProgressiveRollout and no ApplicationSet with a RollingSync strategy".to_string(),
        );
    }
    source::dedupe_rollout_names(&mut rollouts, &mut reader);
    let mut diagnostics = reader.finish();
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    if rollouts.is_empty() {
        return Imported {
            source: None,
            rollouts: Vec::new(),
            diagnostics,
        };
    }
    let names = rollouts.iter().map(|r| r.name.clone()).collect();
    Imported {
        source: Some(source::render(name, &rollouts)),
        rollouts: names,
        diagnostics,
    }
}

/// Imports one document (or the items of a `List`) into `out`. `prefix` is the path of the
/// node (`items[2].` inside a list), `label` names it in messages.
fn document(
    reader: &mut read::Reader<'_>,
    doc: &Node,
    prefix: &str,
    label: &str,
    out: &mut Vec<source::Rollout>,
) {
    let NodeKind::Map(entries) = &doc.kind else {
        let span = reader.src.node_span(doc);
        reader.error(
            span,
            format!(
                "{label} is {}, not a Kubernetes resource",
                doc.kind.describe()
            ),
        );
        return;
    };
    let field = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| matches!(&k.kind, NodeKind::Str(s) if s == key))
            .map(|(_, v)| v)
    };
    fn text(node: Option<&Node>) -> Option<&str> {
        match node.map(|n| &n.kind) {
            Some(NodeKind::Str(s)) => Some(s.as_str()),
            _ => None,
        }
    }
    let kind = text(field("kind"));
    let api_version = text(field("apiVersion")).unwrap_or("");
    let span = reader.src.node_span(doc);
    match kind {
        Some("ProgressiveRollout") => {
            if let Some(r) = progressive::import(reader, doc, prefix, api_version) {
                out.push(r);
            }
        }
        Some("ApplicationSet") => {
            if let Some(r) = rollingsync::import(reader, doc, prefix, label) {
                out.push(r);
            }
        }
        Some(list) if list == "List" || list.ends_with("List") => {
            let Some(items) = field("items") else {
                reader.warn(
                    span,
                    format!("{label} is a `{list}` without `items`: skipped"),
                );
                return;
            };
            let NodeKind::Seq(items) = &items.kind else {
                let span = reader.src.node_span(items);
                reader.error(span, format!("`{prefix}items` must be a list"));
                return;
            };
            for (i, item) in items.iter().enumerate() {
                let item_prefix = format!("{prefix}items[{i}].");
                document(
                    reader,
                    item,
                    &item_prefix,
                    &format!("`{prefix}items[{i}]`"),
                    out,
                );
            }
        }
        Some(other) => reader.warn_with_help(
            reader.src.node_span(field("kind").unwrap_or(doc)),
            format!("{label} is a `{other}`, which `rollc import` does not read: skipped"),
            "rollc imports `ProgressiveRollout` (deployment.skyscanner.net) and `ApplicationSet` \
             (argoproj.io) resources",
        ),
        None => reader.error(
            span,
            format!(
                "{label} has no `kind`: expected a `ProgressiveRollout` or an `ApplicationSet`"
            ),
        ),
    }
}

/// Checks generated source with the real checker, in memory, as the file `name`.
///
/// The CLI calls this on every import before printing: source that does not check is a bug
/// in the importer. Tests call it to assert that imports check cleanly.
pub fn verify(source: &str, name: &Path) -> Checked {
    let mut files = InMemory::new();
    files.insert(name, source.as_bytes().to_vec());
    let root = Root {
        path: name.to_path_buf(),
        tree: name.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    crate::check::check(&files, &[root])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Odd shapes never panic: each is an error or a warning, at a place in the file.
    #[test]
    fn odd_inputs_are_diagnosed() {
        let inputs = [
            "",
            "~",
            "42",
            "- a\n- b\n",
            "kind: ProgressiveRollout\n",
            "kind: ProgressiveRollout\nmetadata: 1\nspec: []\n",
            "kind: ProgressiveRollout\nmetadata: {name: x}\nspec: {sourceRef: {kind: ApplicationSet, name: a}, stages: [~, 1, {name: s, clusters: {selector: {matchLabels: [a]}}}]}\n",
            "kind: ApplicationSet\nmetadata: {name: x}\nspec: {strategy: {type: RollingSync, rollingSync: {steps: [{matchExpressions: [{key: a, operator: Exists}]}]}}}\n",
            "kind: ApplicationSet\nmetadata: {name: x}\nspec: {strategy: {type: RollingSync, rollingSync: {steps: []}}}\n",
            "kind: List\nitems: [{kind: List, items: 3}]\n",
            "kind: ProgressiveRollout\nmetadata: {name: x}\nspec: {sourceRef: {kind: ApplicationSet, name: a}, stages: [{name: s, clusters: {selector: {}}, requeue: {selector: {}, interval: 1.5s, attempts: -1}}]}\n",
            "a: [\n",
            "\u{feff}kind: ProgressiveRollout\n",
        ];
        for text in inputs {
            let imported = import(FileId(0), text, "odd.yaml");
            assert!(
                imported.has_errors() || imported.source.is_some(),
                "{text:?}: neither imported nor an error"
            );
            for d in &imported.diagnostics {
                assert!(d.span.end as usize <= text.len(), "{text:?}: {d:?}");
            }
            if let Some(source) = &imported.source {
                let checked = verify(source, Path::new("odd.rollout"));
                assert!(
                    !checked.diagnostics.iter().any(Diagnostic::is_error),
                    "{text:?} imports to source that does not check:\n{source}"
                );
            }
        }
    }
}
