//! Reading a fleet inventory: format detection, the fleet file format, Secret lists, and the
//! checks shared by both (label keys, duplicate names and servers).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::secret::{SECRET_TYPE_LABEL, SecretData, SecretItem, kind_str};
use super::yaml::{self, Node, NodeKind, Src, skip_seq};
use super::{Cluster, ClusterSource, Fleet};
use crate::diagnostics::Diagnostic;
use crate::source::{FileId, Span};
use crate::syntax::literal::check_label_key;
use crate::syntax::suggest;

/// Keys of a fleet file's top level.
const TOP_KEYS: &[&str] = &["clusters", "defaults", "events"];
/// Keys of a fleet file's cluster entry.
const CLUSTER_KEYS: &[&str] = &["name", "server", "labels", "sim"];
/// The `kubectl` command whose output is a Secret list rollc reads.
const KUBECTL_HINT: &str = "list the cluster Secrets with `kubectl get secrets -l argocd.argoproj.io/secret-type=cluster -o yaml`";

/// See [`super::parse`].
pub(crate) fn parse(file: FileId, text: &str) -> Result<Fleet, Vec<Diagnostic>> {
    let src = Src::new(file, text);
    let doc = match yaml::load::<Document>(text) {
        Ok(doc) => doc,
        Err(err) => return Err(vec![src.yaml_error(&err)]),
    };
    let mut p = Parser {
        src: &src,
        diags: Vec::new(),
    };
    let fleet = p.document(doc);
    if p.diags.is_empty() {
        Ok(fleet)
    } else {
        // In file order (the checks run in passes); stable, so one place keeps its order.
        p.diags.sort_by_key(|d| d.span.start);
        Err(p.diags)
    }
}

/// The top level of the file, read once for both formats.
///
/// A hand-written visitor rather than a derive so that unknown and duplicate keys keep their
/// places, and so that nothing is buffered (serde's `flatten` would buffer every value,
/// including a Secret's `config`).
#[derive(Default)]
struct Document {
    /// What the top level was when it was not a mapping.
    not_a_map: Option<&'static str>,
    /// Every top-level key in order, with its text when it is a string.
    keys: Vec<(Option<String>, Node)>,
    kind: Option<Node>,
    items: Option<Vec<Spanned<SecretItem>>>,
    clusters: Option<(Node, Node)>,
    defaults: Option<Node>,
    events: Option<Node>,
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Document, D::Error> {
        deserializer.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl DocumentVisitor {
    fn not_a_map(what: &'static str) -> Document {
        Document {
            not_a_map: Some(what),
            ..Document::default()
        }
    }
}

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping with a `clusters` list, or a Kubernetes `List`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut doc = Document::default();
        while let Some(key) = map.next_key::<Node>()? {
            let name = match &key.kind {
                NodeKind::Str(s) => Some(s.clone()),
                _ => None,
            };
            let first = !doc.keys.iter().any(|(k, _)| k.is_some() && *k == name);
            match name.as_deref() {
                Some("kind") if first => doc.kind = Some(map.next_value()?),
                Some("items") if first => doc.items = map.next_value()?,
                Some("clusters") if first => doc.clusters = Some((key.clone(), map.next_value()?)),
                Some("defaults") if first => doc.defaults = Some(map.next_value()?),
                Some("events") if first => doc.events = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            doc.keys.push((name, key));
        }
        Ok(doc)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Document, A::Error> {
        skip_seq(seq)?;
        Ok(Self::not_a_map("a list"))
    }

    fn visit_unit<E>(self) -> Result<Document, E> {
        Ok(Self::not_a_map("nothing"))
    }

    fn visit_none<E>(self) -> Result<Document, E> {
        Ok(Self::not_a_map("nothing"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Document, E> {
        Ok(Self::not_a_map("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Document, E> {
        Ok(Self::not_a_map("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Document, E> {
        Ok(Self::not_a_map("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Document, E> {
        Ok(Self::not_a_map("a number"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Document, E> {
        Ok(Self::not_a_map("a string"))
    }
}

/// Collects diagnostics while turning the document into a [`Fleet`].
struct Parser<'s, 'a> {
    src: &'s Src<'a>,
    diags: Vec<Diagnostic>,
}

/// A cluster's name, server and their places, once checked.
struct Ident {
    value: String,
    span: Span,
}

impl Parser<'_, '_> {
    fn error(&mut self, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        let diag = self.src.error(span, message);
        self.diags.push(diag);
        self.diags.last_mut().expect("just pushed")
    }

    /// The first line of the file, for problems of the file as a whole.
    fn first_line(&self) -> Span {
        let start = self.src.text.len() - self.src.text.trim_start().len();
        self.src.rest_of_line(start)
    }

    fn document(&mut self, doc: Document) -> Fleet {
        if let Some(what) = doc.not_a_map {
            let span = self.first_line();
            let diag = if what == "nothing" {
                self.error(span, "the fleet file is empty")
            } else if what == "a list" {
                self.error(
                    span,
                    "the fleet file is a list: put the clusters under a top-level `clusters` key",
                )
            } else {
                self.error(
                    span,
                    format!("the fleet file must be a map with a `clusters` list, found {what}"),
                )
            };
            diag.help = Some(
                "write `clusters:` followed by one entry per cluster with its `name`, `server` \
                 and `labels`, or give a Kubernetes `List` of Argo CD cluster Secrets"
                    .into(),
            );
            return Fleet::default();
        }
        self.duplicate_keys_in(&doc.keys, "at the top level");
        let clusters = match &doc.kind {
            Some(kind) => self.secret_list(kind, doc.items),
            None => self.fleet_file(&doc),
        };
        self.check_unique(&clusters);
        let fleet_file = doc.kind.is_none();
        let defaults = doc
            .defaults
            .filter(|_| fleet_file)
            .map(|n| self.json_of(&n));
        let events = doc.events.filter(|_| fleet_file).map(|n| self.json_of(&n));
        Fleet {
            clusters,
            defaults,
            events,
        }
    }

    // ---------------------------------------------------------------- fleet file format

    fn fleet_file(&mut self, doc: &Document) -> Vec<Cluster> {
        let before = self.diags.len();
        for (name, key) in &doc.keys {
            let Some(name) = name else {
                let span = self.src.node_span(key);
                self.error(span, "top-level keys must be strings");
                continue;
            };
            if TOP_KEYS.contains(&name.as_str()) {
                continue;
            }
            let span = self.src.node_span(key);
            let message = format!("unknown top-level key `{name}`");
            if matches!(name.as_str(), "items" | "apiVersion" | "metadata") {
                self.error(span, message).help = Some(
                    "a Kubernetes list of cluster Secrets needs `kind: List`; a fleet file has \
                     a top-level `clusters` list"
                        .into(),
                );
            } else {
                self.unknown_key(span, message, name, TOP_KEYS);
            }
        }
        for node in [&doc.defaults, &doc.events].into_iter().flatten() {
            self.duplicate_keys_deep(node);
        }
        let Some((key, list)) = &doc.clusters else {
            if self.diags.len() > before {
                // An unknown top-level key was reported (likely `cluster` or `clusers`):
                // saying that `clusters` is missing too would only repeat it.
                return Vec::new();
            }
            let span = self.first_line();
            self.error(span, "the fleet file has no `clusters` list")
                .help = Some(
                "write `clusters:` followed by one entry per cluster with its `name`, `server` \
                 and `labels`"
                    .into(),
            );
            return Vec::new();
        };
        self.duplicate_keys_deep(list);
        let entries = match &list.kind {
            NodeKind::Seq(entries) => entries,
            NodeKind::Null => return Vec::new(),
            other => {
                let span = self.src.node_span(key);
                let what = other.describe();
                self.error(span, format!("`clusters` must be a list, found {what}"));
                return Vec::new();
            }
        };
        entries
            .iter()
            .enumerate()
            .filter_map(|(i, entry)| self.fleet_cluster(i + 1, entry))
            .collect()
    }

    /// One entry of `clusters`; `None` (with diagnostics) when it is unusable.
    fn fleet_cluster(&mut self, index: usize, entry: &Node) -> Option<Cluster> {
        let entry_span = self.src.node_span(entry);
        let NodeKind::Map(fields) = &entry.kind else {
            let what = entry.kind.describe();
            self.error(
                entry_span,
                format!(
                    "cluster {index} must be a map with `name`, `server` and `labels`, found {what}"
                ),
            );
            return None;
        };
        let get = |field: &str| {
            fields
                .iter()
                .find(|(k, _)| matches!(&k.kind, NodeKind::Str(s) if s == field))
        };
        let (name_field, server_field, labels_field, sim_field) =
            (get("name"), get("server"), get("labels"), get("sim"));

        let name = self.ident(name_field, "name", &format!("cluster {index}"), entry_span);
        let who = match &name {
            Some(name) => format!("cluster `{}`", name.value),
            None => format!("cluster {index}"),
        };
        let server = self.ident(server_field, "server", &who, entry_span);

        for (key, _) in fields {
            match &key.kind {
                NodeKind::Str(k) if CLUSTER_KEYS.contains(&k.as_str()) => {}
                NodeKind::Str(k) => {
                    let span = self.src.node_span(key);
                    self.unknown_key(span, format!("unknown key `{k}` in {who}"), k, CLUSTER_KEYS);
                }
                _ => {
                    let span = self.src.node_span(key);
                    self.error(span, format!("keys of {who} must be strings"));
                }
            }
        }

        let (labels, label_spans) = match labels_field {
            Some((key, value)) => self.labels(key, value, &who),
            None => Default::default(),
        };
        let sim = sim_field
            .map(|(_, value)| self.json_of(value))
            .filter(|v| !v.is_null());

        let (name, server) = (name?, server?);
        Some(Cluster {
            name: name.value,
            server: server.value,
            labels,
            sim,
            source: Some(ClusterSource {
                file: self.src.file,
                entry: entry_span,
                name: name.span,
                server: server.span,
                labels: label_spans,
            }),
        })
    }

    /// A required non-empty string field of a fleet-file cluster.
    fn ident(
        &mut self,
        field: Option<&(Node, Node)>,
        what: &str,
        who: &str,
        entry: Span,
    ) -> Option<Ident> {
        let Some((key, value)) = field else {
            self.error(entry, format!("{who} has no `{what}`"));
            return None;
        };
        let key_span = self.src.node_span(key);
        match self.src.scalar_text(value) {
            Some(text) if !text.is_empty() => Some(Ident {
                value: text,
                span: self.src.span(value.loc),
            }),
            Some(_) => {
                self.error(key_span, format!("{who} has an empty `{what}`"));
                None
            }
            None if value.kind == NodeKind::Null => {
                self.error(key_span, format!("{who} has an empty `{what}`"));
                None
            }
            None => {
                let found = value.kind.describe();
                self.error(
                    key_span,
                    format!("`{what}` of {who} must be a string, found {found}"),
                );
                None
            }
        }
    }

    // ---------------------------------------------------------------- Secret lists

    fn secret_list(
        &mut self,
        kind: &Node,
        items: Option<Vec<Spanned<SecretItem>>>,
    ) -> Vec<Cluster> {
        let kind_span = self.src.node_span(kind);
        match kind_str(kind) {
            Some("List" | "SecretList") => {}
            Some("Secret") => {
                self.error(
                    kind_span,
                    "expected a `List` of cluster Secrets, found a single `Secret`",
                )
                .help = Some(KUBECTL_HINT.into());
                return Vec::new();
            }
            Some(other) => {
                let other = other.to_owned();
                self.error(
                    kind_span,
                    format!("expected a `List` of cluster Secrets, found kind `{other}`"),
                )
                .help = Some(format!(
                    "{KUBECTL_HINT}, or remove `kind` to write a fleet file"
                ));
                return Vec::new();
            }
            None => {
                let found = kind.kind.describe();
                self.error(kind_span, format!("`kind` must be a string, found {found}"));
                return Vec::new();
            }
        }
        items
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .filter_map(|(i, item)| self.secret_cluster(i + 1, item))
            .collect()
    }

    /// One Secret of a list; `None` (with diagnostics) when it is unusable.
    fn secret_cluster(&mut self, index: usize, item: Spanned<SecretItem>) -> Option<Cluster> {
        let entry_span = self
            .src
            .rest_of_line(self.src.span(item.referenced).start as usize);
        let item = item.value;
        if let Some(kind) = &item.kind
            && kind_str(kind) != Some("Secret")
        {
            let span = self.src.node_span(kind);
            let found = match kind_str(kind) {
                Some(k) => format!("`{k}`"),
                None => kind.kind.describe().to_owned(),
            };
            self.error(span, format!("item {index} is {found}, not a `Secret`"))
                .help = Some(KUBECTL_HINT.into());
            return None;
        }
        let meta = item.metadata.map(|m| m.value);
        let secret_name = meta
            .as_ref()
            .and_then(|m| m.name.as_ref())
            .and_then(|n| self.src.scalar_text(n));
        let who = match &secret_name {
            Some(name) => format!("Secret `{name}`"),
            None => format!("item {index}"),
        };

        let labels_node = meta.as_ref().and_then(|m| m.labels.as_ref());
        let (mut labels, mut label_spans) = match labels_node {
            Some(node) => {
                self.duplicate_keys_deep(node);
                self.labels(node, node, &who)
            }
            None => Default::default(),
        };
        match labels.remove(SECRET_TYPE_LABEL) {
            Some(t) if t == "cluster" => {}
            Some(t) => {
                let span = label_spans
                    .get(SECRET_TYPE_LABEL)
                    .copied()
                    .unwrap_or(entry_span);
                self.error(
                    span,
                    format!("{who} is a `{t}` Secret, not an Argo CD cluster Secret"),
                )
                .help = Some(KUBECTL_HINT.into());
                return None;
            }
            None => {
                self.error(
                    entry_span,
                    format!("{who} is not an Argo CD cluster Secret: it has no `{SECRET_TYPE_LABEL}` label"),
                )
                .help = Some(KUBECTL_HINT.into());
                return None;
            }
        }
        label_spans.remove(SECRET_TYPE_LABEL);

        // A `data` that is not a map was reported; its entries' absence would only repeat it.
        let data = self.secret_data(item.data, "data", &who)?;
        let string_data = self.secret_data(item.string_data, "stringData", &who)?;
        let name = self.secret_entry(&data, &string_data, "name", &who, entry_span);
        let server = self.secret_entry(&data, &string_data, "server", &who, entry_span);
        let (name, mut server) = (name?, server?);
        // Argo CD drops trailing slashes from a Secret's server (`SecretToCluster`), and
        // Applications name their destination by the trimmed URL.
        let trimmed = server.value.trim_end_matches('/').len();
        server.value.truncate(trimmed);
        if server.value.is_empty() {
            self.error(server.span, format!("{who} has an empty `server`"));
            return None;
        }
        Some(Cluster {
            name: name.value,
            server: server.value,
            labels,
            sim: None,
            source: Some(ClusterSource {
                file: self.src.file,
                entry: entry_span,
                name: name.span,
                server: server.span,
                labels: label_spans,
            }),
        })
    }

    /// Checks the shape of `data` / `stringData` (absent reads as empty); `None` when it is
    /// not a map.
    fn secret_data(
        &mut self,
        data: Option<Spanned<SecretData>>,
        field: &str,
        who: &str,
    ) -> Option<SecretData> {
        let Some(data) = data else {
            return Some(SecretData::default());
        };
        let span = self
            .src
            .rest_of_line(self.src.span(data.referenced).start as usize);
        let data = data.value;
        if let Some(found) = data.not_a_map {
            self.error(
                span,
                format!("`{field}` of {who} must be a map, found {found}"),
            );
            return None;
        }
        for (key, loc) in &data.duplicates {
            let span = self.src.span(*loc);
            self.error(span, format!("duplicate key `{key}` in `{field}` of {who}"));
        }
        Some(data)
    }

    /// `name` or `server` of a Secret: plain from `stringData`, else base64 from `data`.
    fn secret_entry(
        &mut self,
        data: &SecretData,
        string_data: &SecretData,
        what: &str,
        who: &str,
        entry: Span,
    ) -> Option<Ident> {
        let pick = |d: &SecretData| {
            if what == "name" {
                d.name.clone()
            } else {
                d.server.clone()
            }
        };
        let (value, span, field) = if let Some(node) = pick(string_data) {
            let span = self.src.node_span(&node);
            (self.src.scalar_text(&node), span, "stringData")
        } else if let Some(node) = pick(data) {
            let span = self.src.node_span(&node);
            let decoded = match &node.kind {
                NodeKind::Str(b64) => match BASE64.decode(b64.trim()) {
                    Ok(bytes) => match String::from_utf8(bytes) {
                        Ok(text) => Some(text),
                        Err(_) => {
                            self.error(span, format!("`data.{what}` of {who} is not UTF-8 text"));
                            return None;
                        }
                    },
                    Err(_) => {
                        self.error(span, format!("`data.{what}` of {who} is not valid base64"));
                        return None;
                    }
                },
                _ => None,
            };
            (decoded, span, "data")
        } else {
            self.error(
                entry,
                format!("{who} has no `{what}` in `data` or `stringData`"),
            );
            return None;
        };
        match value {
            Some(value) if !value.is_empty() => Some(Ident { value, span }),
            Some(_) => {
                self.error(span, format!("{who} has an empty `{what}`"));
                None
            }
            None => {
                self.error(span, format!("`{field}.{what}` of {who} must be a string"));
                None
            }
        }
    }

    // ---------------------------------------------------------------- shared checks

    /// A `labels` map: `key` is where to point for a problem with the map as a whole.
    fn labels(
        &mut self,
        key: &Node,
        value: &Node,
        who: &str,
    ) -> (BTreeMap<String, String>, BTreeMap<String, Span>) {
        let mut labels = BTreeMap::new();
        let mut spans = BTreeMap::new();
        let entries = match &value.kind {
            NodeKind::Map(entries) => entries,
            NodeKind::Null => return (labels, spans),
            other => {
                let span = self.src.node_span(key);
                let found = other.describe();
                self.error(
                    span,
                    format!("`labels` of {who} must map strings to strings, found {found}"),
                )
                .help = Some("write one `key: \"value\"` line per label".into());
                return (labels, spans);
            }
        };
        for (k, v) in entries {
            let key_span = self.src.node_span(k);
            let Some(label) = self.src.scalar_text(k) else {
                let found = k.kind.describe();
                self.error(
                    key_span,
                    format!("label keys of {who} must be strings, found {found}"),
                );
                continue;
            };
            if let Err(why) = check_label_key(&label) {
                self.error(
                    key_span,
                    format!("invalid label key `{label}` in {who}: {why}"),
                );
                continue;
            }
            let text = match self.src.scalar_text(v) {
                Some(text) => text,
                None if v.kind == NodeKind::Null => {
                    self.error(key_span, format!("label `{label}` of {who} has no value"))
                        .help = Some("write `\"\"` for an empty value".into());
                    continue;
                }
                None => {
                    let found = v.kind.describe();
                    self.error(
                        key_span,
                        format!("label `{label}` of {who} must have a string value, found {found}"),
                    );
                    continue;
                }
            };
            // A repeated key is reported by the duplicate-key pass; the first one wins.
            if let Entry::Vacant(slot) = labels.entry(label.clone()) {
                slot.insert(text);
                spans.insert(label, self.src.span(v.loc));
            }
        }
        (labels, spans)
    }

    /// Names and servers must be unique (Argo CD identifies clusters by server).
    fn check_unique(&mut self, clusters: &[Cluster]) {
        let mut names: BTreeMap<&str, Option<Span>> = BTreeMap::new();
        let mut servers: BTreeMap<&str, Option<Span>> = BTreeMap::new();
        for cluster in clusters {
            let source = cluster.source.as_ref();
            let (name_span, server_span) = (source.map(|s| s.name), source.map(|s| s.server));
            if let Some(first) = names.get(cluster.name.as_str()) {
                let mut diag = self.src.error(
                    name_span.unwrap_or_default(),
                    format!("duplicate cluster name `{}`", cluster.name),
                );
                if let Some(first) = first {
                    diag = diag.with_secondary(*first, "first defined here");
                }
                self.diags.push(diag);
            } else {
                names.insert(&cluster.name, name_span);
            }
            if let Some(first) = servers.get(cluster.server.as_str()) {
                let mut diag = self.src.error(
                    server_span.unwrap_or_default(),
                    format!(
                        "duplicate cluster server `{}` (cluster `{}`)",
                        cluster.server, cluster.name
                    ),
                );
                if let Some(first) = first {
                    diag = diag.with_secondary(*first, "first defined here");
                }
                self.diags
                    .push(diag.with_note("Argo CD identifies clusters by their server URL"));
            } else {
                servers.insert(&cluster.server, server_span);
            }
        }
    }

    /// Reports repeated keys among `keys` (text and node), pointing at the first as well.
    fn duplicate_keys_in(&mut self, keys: &[(Option<String>, Node)], place: &str) {
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for (text, key) in keys {
            let Some(text) = text else { continue };
            let span = self.src.node_span(key);
            match seen.get(text.as_str()) {
                Some(first) => {
                    let diag = self
                        .src
                        .error(span, format!("duplicate key `{text}` {place}"))
                        .with_secondary(*first, "first defined here");
                    self.diags.push(diag);
                }
                None => {
                    seen.insert(text, span);
                }
            }
        }
    }

    /// [`Self::duplicate_keys_in`] for every mapping in `node`, recursively.
    fn duplicate_keys_deep(&mut self, node: &Node) {
        let mut stack = vec![node];
        while let Some(node) = stack.pop() {
            match &node.kind {
                NodeKind::Seq(items) => stack.extend(items.iter().rev()),
                NodeKind::Map(entries) => {
                    let keys: Vec<(Option<String>, Node)> = entries
                        .iter()
                        .map(|(k, _)| (self.src.scalar_text(k), k.clone()))
                        .collect();
                    self.duplicate_keys_in(&keys, "in this map");
                    stack.extend(entries.iter().rev().map(|(_, v)| v));
                }
                _ => {}
            }
        }
    }

    /// Reports an unknown key, suggesting the closest known one.
    fn unknown_key(&mut self, span: Span, message: String, key: &str, known: &[&str]) {
        let diag = self.src.error(span, message);
        let diag = match suggest::closest(key, known) {
            Some(fix) => diag
                .with_help(format!("did you mean `{fix}`?"))
                .with_suggestion(format!("replace with `{fix}`"), span, fix),
            None => diag.with_help(format!("expected {}", suggest::list(known))),
        };
        self.diags.push(diag);
    }

    /// A raw block for the simulator, as JSON. Keys written as numbers or booleans keep
    /// their spelling; keys that are lists or maps are reported.
    fn json_of(&mut self, node: &Node) -> serde_json::Value {
        use serde_json::Value;
        match &node.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Number(n) => Value::Number(n.clone()),
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(|i| self.json_of(i)).collect()),
            NodeKind::Map(entries) => {
                let mut map = serde_json::Map::new();
                for (k, v) in entries {
                    let key = match &k.kind {
                        NodeKind::Null => Some("null".to_owned()),
                        _ => self.src.scalar_text(k),
                    };
                    let Some(key) = key else {
                        let span = self.src.node_span(k);
                        let found = k.kind.describe();
                        self.error(span, format!("map keys must be strings, found {found}"));
                        continue;
                    };
                    let value = self.json_of(v);
                    // Duplicates are reported by the duplicate-key pass; the first one wins.
                    map.entry(key).or_insert(value);
                }
                Value::Object(map)
            }
        }
    }
}
