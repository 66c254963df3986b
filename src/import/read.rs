//! Reading the generic YAML node tree as a Kubernetes resource: typed access by path, with
//! every unknown field, wrong type and missing field reported at its line.
//!
//! Fields are read by hand rather than with serde derives so that all problems of a file are
//! reported together, each with its dotted path (`spec.stages[0].maxClusters`) and place, and
//! so that unknown fields become warnings instead of being dropped.

use crate::diagnostics::{Code, Diagnostic};
use crate::fleet::yaml::{Node, NodeKind, Src};
use crate::source::Span;
use crate::syntax::literal::check_label_key;
use crate::syntax::suggest;

use super::duration::{GoDuration, parse_go_duration};
use super::source::{Count, Select, Term};

/// Collects diagnostics while reading one YAML file.
pub(super) struct Reader<'a> {
    /// The file being read.
    pub src: &'a Src<'a>,
    diags: Vec<Diagnostic>,
}

/// The entries of one mapping node, by key.
pub(super) struct Fields<'n> {
    /// The mapping itself, for "missing field" errors.
    pub node: &'n Node,
    /// The node's path, with a trailing `.` unless it is the root.
    pub path: String,
    entries: Vec<(String, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    /// The value of `key`, unless absent or null (Kubernetes treats null as unset).
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, v)| k == key && !matches!(v.kind, NodeKind::Null))
            .map(|(_, _, v)| *v)
    }

    /// The key node of `key`, for pointing at a field as a whole.
    pub fn key(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, k, _)| *k)
    }

    /// The path of a field of this map.
    pub fn path_of(&self, key: &str) -> String {
        format!("{}{key}", self.path)
    }
}

impl<'a> Reader<'a> {
    /// A reader of `src`.
    pub fn new(src: &'a Src<'a>) -> Reader<'a> {
        Reader {
            src,
            diags: Vec::new(),
        }
    }

    /// Every diagnostic so far.
    pub fn finish(self) -> Vec<Diagnostic> {
        self.diags
    }

    /// How many diagnostics so far (to tell whether a part added errors).
    pub fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }

    /// True when an error was reported.
    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    /// Adds a diagnostic.
    pub fn push(&mut self, diag: Diagnostic) {
        self.diags.push(diag);
    }

    /// An invalid-spec error at `span`.
    pub fn error(&mut self, span: Span, message: String) {
        let d = Diagnostic::new(Code::InvalidImportedSpec, self.src.file, span, message);
        self.diags.push(d);
    }

    /// An invalid-spec error with help.
    pub fn error_with_help(&mut self, span: Span, message: String, help: impl Into<String>) {
        let d = Diagnostic::new(Code::InvalidImportedSpec, self.src.file, span, message)
            .with_help(help);
        self.diags.push(d);
    }

    /// An unsupported-field warning at `span`.
    pub fn warn(&mut self, span: Span, message: String) {
        let d = Diagnostic::new(Code::UnsupportedImport, self.src.file, span, message);
        self.diags.push(d);
    }

    /// An unsupported-field warning with help.
    pub fn warn_with_help(&mut self, span: Span, message: String, help: impl Into<String>) {
        let d =
            Diagnostic::new(Code::UnsupportedImport, self.src.file, span, message).with_help(help);
        self.diags.push(d);
    }

    /// A note about an assumption or a difference in semantics.
    pub fn note(&mut self, span: Span, message: String, notes: &[&str]) {
        let mut d = Diagnostic::new(Code::ConversionAssumption, self.src.file, span, message);
        for n in notes {
            d = d.with_note(*n);
        }
        self.diags.push(d);
    }

    /// The span of a node (a scalar's text, or a collection's first line).
    pub fn span(&self, node: &Node) -> Span {
        self.src.node_span(node)
    }

    /// An object's `metadata`: its name, the span to report the object at (the name, or the
    /// whole document `doc` without one), and its namespace (`argocd` when not written).
    /// Bookkeeping fields such as labels and annotations are accepted silently.
    pub fn object_meta(
        &mut self,
        root: &Fields<'_>,
        doc: &Node,
    ) -> (Option<String>, Span, Option<String>) {
        let meta = self.required(root, "metadata").and_then(|m| {
            self.map(
                m,
                &root.path_of("metadata"),
                &["name", "namespace"],
                super::progressive::METADATA_IGNORED,
            )
        });
        match &meta {
            Some(meta) => {
                let name_node = self.required(meta, "name");
                let name = name_node.and_then(|n| self.string(n, &meta.path_of("name")));
                let span = name_node.map_or_else(|| self.span(doc), |n| self.span(n));
                let namespace = match meta.get("namespace") {
                    Some(ns) => self.string(ns, &meta.path_of("namespace")),
                    None => Some("argocd".to_string()),
                };
                (name, span, namespace)
            }
            None => (None, self.span(doc), None),
        }
    }

    /// Reads a mapping at `path` (`""` for the root). Keys in `known` are returned; keys in
    /// `ignored` are accepted without a word (bookkeeping such as `metadata.labels` that
    /// carries no strategy); any other key is an unsupported-field warning, and a key written
    /// twice is an error. `None` (after an error) when the node is not a mapping.
    pub fn map<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        known: &[&str],
        ignored: &[&str],
    ) -> Option<Fields<'n>> {
        let entries = self.pairs(node, path)?;
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}.")
        };
        for (key, k, _) in &entries {
            if !known.contains(&key.as_str()) && !ignored.contains(&key.as_str()) {
                let span = self.span(k);
                let message = format!("unsupported field `{prefix}{key}` is not imported");
                let d = Diagnostic::new(Code::UnsupportedImport, self.src.file, span, message)
                    .with_label("ignored");
                let d = match suggest::closest(key, known) {
                    Some(close) => d.with_help(format!("did you mean `{close}`?")),
                    None => d.with_help(format!("fields read here: {}", suggest::list(known))),
                };
                self.push(d);
            }
        }
        Some(Fields {
            node,
            path: prefix,
            entries,
        })
    }

    /// The entries of a mapping at `path` with their keys as text; a key written twice is an
    /// error (and its second value is dropped). `None` (after an error) when the node is not
    /// a mapping.
    pub fn pairs<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
    ) -> Option<Vec<(String, &'n Node, &'n Node)>> {
        let NodeKind::Map(raw) = &node.kind else {
            let span = self.span(node);
            let what = if path.is_empty() {
                "the document"
            } else {
                path
            };
            self.error(
                span,
                format!("`{what}` must be a map, found {}", node.kind.describe()),
            );
            return None;
        };
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}.")
        };
        let mut entries: Vec<(String, &'n Node, &'n Node)> = Vec::new();
        for (k, v) in raw {
            let Some(key) = self.src.scalar_text(k) else {
                let span = self.span(k);
                self.error(span, format!("`{path}` has a key that is not a string"));
                continue;
            };
            if let Some((_, first, _)) = entries.iter().find(|(e, _, _)| *e == key) {
                let first = self.span(first);
                let span = self.span(k);
                let d = Diagnostic::new(
                    Code::InvalidImportedSpec,
                    self.src.file,
                    span,
                    format!("duplicate key `{prefix}{key}`"),
                )
                .with_secondary(first, "first written here");
                self.push(d);
                continue;
            }
            entries.push((key, k, v));
        }
        Some(entries)
    }

    /// A required field: its value, or an error on the map that lacks it.
    pub fn required<'n>(&mut self, fields: &Fields<'n>, key: &str) -> Option<&'n Node> {
        let value = fields.get(key);
        if value.is_none() {
            let span = match fields.key(key) {
                Some(k) => self.span(k),
                None => self.span(fields.node),
            };
            let path = fields.path.trim_end_matches('.');
            let owner = if path.is_empty() {
                "the document".to_string()
            } else {
                format!("`{path}`")
            };
            self.error(span, format!("{owner} has no `{key}`"));
        }
        value
    }

    /// A list at `path`.
    pub fn list<'n>(&mut self, node: &'n Node, path: &str) -> Option<&'n [Node]> {
        match &node.kind {
            NodeKind::Seq(items) => Some(items),
            other => {
                let span = self.span(node);
                self.error(
                    span,
                    format!("`{path}` must be a list, found {}", other.describe()),
                );
                None
            }
        }
    }

    /// A string at `path`. A number or boolean is taken as written, with a warning (the API
    /// server would reject it, but the intent is clear).
    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Bool(_) | NodeKind::Number(_) => {
                let text = self.src.scalar_text(node)?;
                let span = self.span(node);
                let d = Diagnostic::new(
                    Code::UnsupportedImport,
                    self.src.file,
                    span,
                    format!("`{path}` is {}, not a string", node.kind.describe()),
                )
                .with_label(format!("imported as \"{text}\""))
                .with_help(format!(
                    "quote it (`\"{text}\"`): Kubernetes rejects a non-string value here"
                ));
                self.push(d);
                Some(text)
            }
            other => {
                let span = self.span(node);
                self.error(
                    span,
                    format!("`{path}` must be a string, found {}", other.describe()),
                );
                None
            }
        }
    }

    /// A non-negative integer at `path`.
    pub fn uint(&mut self, node: &Node, path: &str) -> Option<u64> {
        if let NodeKind::Number(n) = &node.kind
            && let Some(v) = n.as_u64()
        {
            return Some(v);
        }
        let span = self.span(node);
        self.error(
            span,
            format!(
                "`{path}` must be a whole number of at least 0, found {}",
                self.src
                    .scalar_text(node)
                    .map_or_else(|| node.kind.describe().to_string(), |t| format!("`{t}`"))
            ),
        );
        None
    }

    /// A Kubernetes IntOrString count: an integer, or a percentage string such as `"25%"`.
    pub fn count(&mut self, node: &Node, path: &str) -> Option<Count> {
        let span = self.span(node);
        match &node.kind {
            NodeKind::Number(n) => match n.as_u64() {
                Some(v) => Some(Count::Int(v)),
                None => {
                    self.error(
                        span,
                        format!("`{path}` must be a whole number of at least 0 or a percentage such as `25%`, found `{n}`"),
                    );
                    None
                }
            },
            NodeKind::Str(s) => {
                let Some(digits) = s.trim().strip_suffix('%') else {
                    self.error_with_help(
                        span,
                        format!("`{path}` is the string `{s}`, which is not a percentage"),
                        "write an integer without quotes (`2`) or a percentage (`25%`)",
                    );
                    return None;
                };
                match digits.parse::<u64>() {
                    Ok(p) if p <= 100 => Some(Count::Percent(p as u8)),
                    Ok(_) => {
                        let d = Diagnostic::new(
                            Code::UnsupportedImport,
                            self.src.file,
                            span,
                            format!("`{path}` is `{s}`, more than 100%"),
                        )
                        .with_label("imported as 100%")
                        .with_help("a share above 100% means all of them; write `100%`");
                        self.push(d);
                        Some(Count::Percent(100))
                    }
                    Err(_) => {
                        self.error_with_help(
                            span,
                            format!("`{path}` is `{s}`, not a whole percentage"),
                            "Kubernetes percentages are whole numbers followed by `%`, such as `25%`",
                        );
                        None
                    }
                }
            }
            other => {
                self.error(
                    span,
                    format!(
                        "`{path}` must be an integer or a percentage, found {}",
                        other.describe()
                    ),
                );
                None
            }
        }
    }

    /// A Go duration string (`30m`, `1h0m0s`) at `path`, in whole seconds. A fraction of a
    /// second is rounded up with a warning; zero is `Some(0)` (the caller decides).
    pub fn duration(&mut self, node: &Node, path: &str) -> Option<u64> {
        let span = self.span(node);
        let NodeKind::Str(text) = &node.kind else {
            self.error_with_help(
                span,
                format!(
                    "`{path}` must be a duration string, found {}",
                    node.kind.describe()
                ),
                "write a Go duration such as `30m`, `1h30m` or `90s`",
            );
            return None;
        };
        match parse_go_duration(text) {
            Ok(GoDuration {
                seconds,
                exact: true,
            }) => Some(seconds),
            Ok(GoDuration {
                seconds,
                exact: false,
            }) => {
                let d = Diagnostic::new(
                    Code::UnsupportedImport,
                    self.src.file,
                    span,
                    format!("`{path}` is `{text}`, not a whole number of seconds"),
                )
                .with_label(format!("imported as {seconds}s"))
                .with_help("rollc durations are whole seconds");
                self.push(d);
                Some(seconds)
            }
            Err(why) => {
                self.error_with_help(
                    span,
                    format!("`{path}` is not a valid duration: {why}"),
                    "write a Go duration such as `30m`, `1h30m` or `90s`",
                );
                None
            }
        }
    }

    /// A label key at `path`, checked the way Kubernetes (and the language) check keys.
    pub fn label_key(&mut self, node: &Node, path: &str) -> Option<String> {
        let key = self.string(node, path)?;
        match check_label_key(&key) {
            Ok(()) => Some(key),
            Err(why) => {
                let span = self.span(node);
                self.error(span, format!("`{key}` is not a valid label key: {why}"));
                None
            }
        }
    }

    /// A string list at `path` (label values).
    pub fn strings(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        let items = self.list(node, path)?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.string(item, &format!("{path}[{i}]")) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// A Kubernetes LabelSelector (`matchLabels`, `matchExpressions` with `In`, `NotIn`,
    /// `Exists`, `DoesNotExist`) at `path`, as a conjunction. An empty selector matches
    /// everything, as in Kubernetes.
    pub fn label_selector(&mut self, node: &Node, path: &str) -> Option<Select> {
        let errors = self.error_count();
        let fields = self.map(node, path, &["matchLabels", "matchExpressions"], &[])?;
        let mut terms = Vec::new();
        if let Some(labels) = fields.get("matchLabels") {
            let labels_path = fields.path_of("matchLabels");
            for (_, k, v) in self.pairs(labels, &labels_path).unwrap_or_default() {
                let Some(key) = self.label_key(k, &format!("{labels_path} key")) else {
                    continue;
                };
                let value_path = format!("{labels_path}.{key}");
                if let Some(value) = self.string(v, &value_path) {
                    terms.push(Term::In(key, vec![value]));
                }
            }
        }
        if let Some(exprs) = fields.get("matchExpressions") {
            let exprs_path = fields.path_of("matchExpressions");
            if let Some(items) = self.list(exprs, &exprs_path) {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{exprs_path}[{i}]");
                    if let Some(term) =
                        self.match_expression(item, &p, &["In", "NotIn", "Exists", "DoesNotExist"])
                    {
                        terms.push(term);
                    }
                }
            }
        }
        (self.error_count() == errors).then_some(Select {
            terms,
            span: self.span(node),
        })
    }

    /// One `{key, operator, values}` requirement at `path`, with an operator from
    /// `operators`.
    pub fn match_expression(
        &mut self,
        node: &Node,
        path: &str,
        operators: &[&str],
    ) -> Option<Term> {
        let fields = self.map(node, path, &["key", "operator", "values"], &[])?;
        let key_node = self.required(&fields, "key");
        let op_node = self.required(&fields, "operator");
        let key = key_node.and_then(|k| self.label_key(k, &fields.path_of("key")));
        let op_node = op_node?;
        let op = self.string(op_node, &fields.path_of("operator"))?;
        let key = key?;
        let values = match fields.get("values") {
            Some(v) => Some((v, self.strings(v, &fields.path_of("values"))?)),
            None => None,
        };
        let op_span = self.span(op_node);
        if !operators.contains(&op.as_str()) {
            let same_letters = operators.iter().find(|o| o.eq_ignore_ascii_case(&op));
            let help = match same_letters
                .copied()
                .or_else(|| suggest::closest(&op, operators))
            {
                Some(close) => format!("did you mean `{close}`? operators are case-sensitive"),
                None => format!("the operators here are {}", suggest::list(operators)),
            };
            self.error_with_help(op_span, format!("unsupported operator `{op}`"), help);
            return None;
        }
        match op.as_str() {
            "In" | "NotIn" => {
                let Some((_, values)) = values.filter(|(_, v)| !v.is_empty()) else {
                    self.error(
                        op_span,
                        format!("`{op}` needs a non-empty `values` list (`{path}`)"),
                    );
                    return None;
                };
                Some(if op == "In" {
                    Term::In(key, values)
                } else {
                    Term::NotIn(key, values)
                })
            }
            _ => {
                if let Some((node, values)) = values
                    && !values.is_empty()
                {
                    let span = self.span(node);
                    self.error(span, format!("`{op}` takes no `values` (`{path}`)"));
                    return None;
                }
                Some(if op == "Exists" {
                    Term::Has(key)
                } else {
                    Term::NotHas(key)
                })
            }
        }
    }
}
