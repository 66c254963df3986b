//! YAML glue: a spanned generic node tree built on `serde-saphyr`, and the conversion of its
//! errors and positions into our byte [`Span`]s and [`Diagnostic`]s.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DefaultMessageFormatter, Location, MessageFormatter, Spanned};

use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, LineIndex, Span, floor_char_boundary};

/// A YAML node with the place it was written.
///
/// Used for the parts of a fleet file that are validated by hand (so that every problem is
/// reported, not only the first) and for the raw simulator blocks. Never used for the `data`
/// of a cluster Secret: see [`super::secret`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    /// What the node holds.
    pub kind: NodeKind,
    /// Where it starts (and, for scalars, how long it is).
    pub loc: Location,
}

/// The kinds of YAML node.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum NodeKind {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false` (YAML 1.2 spellings only).
    Bool(bool),
    /// An integer or a float.
    Number(serde_json::Number),
    /// A string (quoted, or plain and not a number, bool or null).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, with keys in source order and duplicates kept.
    Map(Vec<(Node, Node)>),
}

impl NodeKind {
    /// "a string", "a list", ... for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            NodeKind::Null => "nothing",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Number(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a map",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        let spanned = Spanned::<RawKind>::deserialize(deserializer)?;
        Ok(Node {
            kind: spanned.value.0,
            loc: spanned.referenced,
        })
    }
}

/// The unspanned part of a [`Node`], so that [`Spanned`] can wrap it.
struct RawKind(NodeKind);

impl<'de> Deserialize<'de> for RawKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawKind, D::Error> {
        deserializer.deserialize_any(RawKindVisitor).map(RawKind)
    }
}

struct RawKindVisitor;

impl<'de> Visitor<'de> for RawKindVisitor {
    type Value = NodeKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }

    fn visit_none<E>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<NodeKind, D::Error> {
        RawKind::deserialize(deserializer).map(|raw| raw.0)
    }

    fn visit_bool<E>(self, v: bool) -> Result<NodeKind, E> {
        Ok(NodeKind::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<NodeKind, E> {
        Ok(NodeKind::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<NodeKind, E> {
        Ok(NodeKind::Number(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<NodeKind, E> {
        // Outside i64/u64: keep the number as close as JSON allows.
        Ok(serde_json::Number::from_f64(v as f64).map_or(NodeKind::Null, NodeKind::Number))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<NodeKind, E> {
        Ok(serde_json::Number::from_f64(v as f64).map_or(NodeKind::Null, NodeKind::Number))
    }

    fn visit_f64<E>(self, v: f64) -> Result<NodeKind, E> {
        // Non-finite floats are rejected by the parser options; map any that slip through to
        // null rather than failing.
        Ok(serde_json::Number::from_f64(v).map_or(NodeKind::Null, NodeKind::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<NodeKind, E> {
        Ok(NodeKind::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeKind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(NodeKind::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeKind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(NodeKind::Map(entries))
    }
}

/// Drains a sequence without keeping anything.
pub(crate) fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Drains a mapping without keeping anything.
pub(crate) fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Parses `text` as one YAML document into `T`.
///
/// Options: duplicate keys are passed to our visitors (which report them with both places);
/// only YAML 1.2 booleans (`yes`, `on`, `y` stay strings); no rendered snippets in errors (we
/// render our own, and a snippet could quote a Secret's `config`); a node budget large enough
/// for fleets of tens of thousands of clusters (the default stops near 250,000 nodes, about
/// 8,000 clusters), keeping the parser's depth and alias limits.
pub(crate) fn load<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, options())
}

/// Parses every document of a multi-document stream (`---` separated) into `T`, with the
/// options of [`load`]. Empty documents are skipped. Locations stay relative to the whole
/// text, so spans point into the right document.
pub(crate) fn load_all<T: for<'de> Deserialize<'de>>(
    text: &str,
) -> Result<Vec<T>, serde_saphyr::Error> {
    serde_saphyr::from_multiple_with_options(text, options())
}

/// The parser options of [`load`] and [`load_all`].
fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = 8_000_000;
    budget.max_events = 16_000_000;
    serde_saphyr::options! {
        budget: Some(budget),
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        strict_booleans: true,
        with_snippet: false,
    }
}

/// The text being parsed, its file and line index: turns YAML locations into spans and
/// builds diagnostics.
pub(crate) struct Src<'a> {
    /// The file.
    pub file: FileId,
    /// Its text.
    pub text: &'a str,
    lines: LineIndex,
}

impl<'a> Src<'a> {
    /// Wraps `text`.
    pub fn new(file: FileId, text: &'a str) -> Src<'a> {
        Src {
            file,
            text,
            lines: LineIndex::new(text),
        }
    }

    /// A fleet-file error at `span`.
    pub fn error(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Code::InvalidFleet, self.file, span, message)
    }

    /// The byte span of a location: the parser's byte offsets when it has them (it does for
    /// string input), else computed from the 1-based line and column.
    pub fn span(&self, loc: Location) -> Span {
        let span = loc.span();
        if let (Some(start), Some(len)) = (span.byte_offset(), span.byte_len()) {
            let start = floor_char_boundary(self.text, start as usize);
            let end = floor_char_boundary(self.text, start + len as usize);
            return Span::new(start, end);
        }
        let start = self.offset_of(loc.line(), loc.column());
        Span::point(start)
    }

    /// Byte offset of a 1-based line and 1-based column counted in characters.
    fn offset_of(&self, line: u64, column: u64) -> usize {
        let starts = self.lines.line_starts();
        let Some(&line_start) = starts.get((line.max(1) - 1) as usize) else {
            return self.text.len();
        };
        let line_start = line_start as usize;
        let rest = &self.text[line_start..];
        let line_len = rest.find('\n').unwrap_or(rest.len());
        rest[..line_len]
            .char_indices()
            .nth((column.max(1) - 1) as usize)
            .map_or(line_start + line_len, |(i, _)| line_start + i)
    }

    /// From `start` to the end of its line, without the line break and trailing blanks: the
    /// span for "this entry" when the parser gives only where it starts.
    pub fn rest_of_line(&self, start: usize) -> Span {
        let rest = &self.text[start..];
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        Span::new(start, start + rest[..end].trim_end().len())
    }

    /// The span to mark for a node: a scalar's own text; for a block collection, whose
    /// location has no length, the rest of its first line.
    pub fn node_span(&self, node: &Node) -> Span {
        let span = self.span(node.loc);
        match node.kind {
            NodeKind::Seq(_) | NodeKind::Map(_) => self.rest_of_line(span.start as usize),
            _ => span,
        }
    }

    /// The text of a scalar as written, for scalars YAML typed as booleans or numbers (so
    /// `ring: 01` gives `01`, not `1`). Falls back to the typed value's form.
    pub fn scalar_text(&self, node: &Node) -> Option<String> {
        match &node.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Bool(_) | NodeKind::Number(_) => {
                let span = self.span(node.loc);
                let written = self.text.get(span.range()).unwrap_or("").trim();
                Some(if written.is_empty() {
                    match &node.kind {
                        NodeKind::Bool(b) => b.to_string(),
                        NodeKind::Number(n) => n.to_string(),
                        _ => unreachable!("only bools and numbers get here"),
                    }
                } else {
                    written.to_owned()
                })
            }
            NodeKind::Null | NodeKind::Seq(_) | NodeKind::Map(_) => None,
        }
    }

    /// A diagnostic for a YAML syntax or structure error.
    ///
    /// The message is the parser's own, without its "at line X, column Y" suffix (the span
    /// carries the place) and never with a snippet of the input.
    pub fn yaml_error(&self, err: &serde_saphyr::Error) -> Diagnostic {
        self.yaml_error_as(err, Code::InvalidFleet, "the fleet file")
    }

    /// [`Src::yaml_error`] for another kind of input: `code` and `what` (e.g. "the file")
    /// name the input in the message.
    pub fn yaml_error_as(&self, err: &serde_saphyr::Error, code: Code, what: &str) -> Diagnostic {
        let span = err.location().map_or(Span::point(0), |loc| {
            let span = self.span(loc);
            if span.is_empty() && (span.start as usize) < self.text.len() {
                // Mark one character so the renderer has something to underline.
                let start = span.start as usize;
                let len = self.text[start..].chars().next().map_or(0, char::len_utf8);
                Span::new(start, start + len)
            } else {
                span
            }
        });
        use serde_saphyr::Error as E;
        let message = match err {
            E::MultipleDocuments { .. } => {
                Cow::Borrowed("the file holds more than one YAML document")
            }
            E::Unexpected { expected, .. } if expected.contains("mapping") => {
                Cow::Borrowed("expected a map here")
            }
            E::Unexpected { expected, .. } if expected.contains("sequence") => {
                Cow::Borrowed("expected a list here")
            }
            _ => DefaultMessageFormatter.format_message(err),
        };
        // The formatter's output is not sanitised outside its renderer: escape control
        // characters (e.g. a line break quoted from the input) ourselves.
        let mut clean = String::with_capacity(message.len());
        for c in message.chars() {
            if c.is_control() {
                clean.extend(c.escape_default());
            } else {
                clean.push(c);
            }
        }
        // Valid YAML of the wrong shape (where our types are strict) versus broken YAML.
        let structural = matches!(
            err,
            E::Message { .. }
                | E::Unexpected { .. }
                | E::SerdeInvalidType { .. }
                | E::SerdeInvalidValue { .. }
                | E::SerdeInvalidLength { .. }
                | E::SerdeUnknownVariant { .. }
                | E::SerdeUnknownField { .. }
                | E::SerdeMissingField { .. }
        );
        let message = if structural {
            format!("unexpected content in {what}: {clean}")
        } else {
            format!("{what} is not valid YAML: {clean}")
        };
        Diagnostic::new(code, self.file, span, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_byte_spans() {
        let text = "a:\n  b: [1, \"x\"]\n";
        let node: Node = load(text).unwrap();
        let src = Src::new(FileId(0), text);
        let NodeKind::Map(entries) = &node.kind else {
            panic!("not a map")
        };
        let NodeKind::Map(inner) = &entries[0].1.kind else {
            panic!("not a map")
        };
        let (key, value) = &inner[0];
        assert_eq!(&text[src.span(key.loc).range()], "b");
        let NodeKind::Seq(items) = &value.kind else {
            panic!("not a list")
        };
        assert_eq!(&text[src.span(items[1].loc).range()], "\"x\"");
        assert_eq!(src.scalar_text(&items[0]).as_deref(), Some("1"));
    }

    #[test]
    fn yaml_errors_point_at_the_place() {
        let text = "a: b\n c: d\n";
        let err = load::<Node>(text).unwrap_err();
        let diag = Src::new(FileId(0), text).yaml_error(&err);
        assert_eq!(LineIndex::new(text).line_of(diag.span.start as usize), 1);
        assert!(!diag.message.contains("at line"), "{}", diag.message);
    }
}
