//! Rendering of [`Diagnostic`]s for people (terminal), tools (JSON, SARIF) and CI (GitHub
//! Actions workflow commands).
//!
//! Diagnostics carry only byte spans; every renderer turns them into 1-based lines and columns
//! (columns counted in Unicode scalar values) through the [`SourceMap`]'s line index. All
//! renderers are pure: they return the complete text, ending in a newline unless it is empty,
//! and never print.

mod github;
mod human;
mod json;
mod sarif;

pub use github::github;
pub use human::{human, summary};
pub use json::json;
pub use sarif::sarif;

use crate::diagnostics::Diagnostic;
use crate::source::{FileId, SourceFile, SourceMap, Span, floor_char_boundary};

/// Display name used for a [`FileId`] that is not in the [`SourceMap`] (a compiler bug, but
/// rendering must not panic over it).
const UNKNOWN_FILE: &str = "<unknown>";

/// The files of a [`SourceMap`], indexed once so lookups by [`FileId`] are O(1) and cannot
/// panic.
struct Sources<'a> {
    files: Vec<&'a SourceFile>,
}

impl<'a> Sources<'a> {
    fn new(map: &'a SourceMap) -> Sources<'a> {
        Sources {
            files: map.iter().map(|(_, file)| file).collect(),
        }
    }

    /// The file with this id, if the map has it.
    fn get(&self, id: FileId) -> Option<&'a SourceFile> {
        self.files.get(id.0 as usize).copied()
    }

    /// The display name of a file, or [`UNKNOWN_FILE`].
    fn name(&self, id: FileId) -> &'a str {
        self.get(id).map_or(UNKNOWN_FILE, SourceFile::name)
    }

    /// The text covered by `span`, clamped to the file; empty for unknown files.
    fn snippet(&self, id: FileId, span: Span) -> &'a str {
        match self.get(id) {
            Some(file) => &file.text()[clamp(file.text(), span)],
            None => "",
        }
    }

    /// Resolves `span` in file `id` to lines, columns and character offsets.
    fn locate(&self, id: FileId, span: Span) -> Location<'a> {
        let Some(file) = self.get(id) else {
            return Location {
                file: UNKNOWN_FILE,
                line: 1,
                column: 1,
                end_line: 1,
                end_column: 1,
                char_offset: 0,
                char_length: 0,
                byte_offset: 0,
                byte_length: 0,
            };
        };
        let text = file.text();
        let range = clamp(text, span);
        let (line, column) = file.lines().line_col(text, range.start);
        let (end_line, end_column) = file.lines().line_col(text, range.end);
        let line_start = file.lines().line_starts()[line - 1] as usize;
        let char_offset = text[..line_start].chars().count() + column - 1;
        let char_length = text[range.clone()].chars().count();
        Location {
            file: file.name(),
            line,
            column,
            end_line,
            end_column,
            char_offset,
            char_length,
            byte_offset: range.start,
            byte_length: range.len(),
        }
    }
}

/// A span resolved against its file. Lines and columns are 1-based; columns and character
/// offsets count Unicode scalar values; the end is exclusive (the position just after the last
/// character).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Location<'a> {
    /// Display name of the file.
    file: &'a str,
    /// Line of the first character.
    line: usize,
    /// Column of the first character.
    column: usize,
    /// Line of the end position.
    end_line: usize,
    /// Column of the end position.
    end_column: usize,
    /// Characters from the start of the file to the start of the span.
    char_offset: usize,
    /// Characters in the span.
    char_length: usize,
    /// Bytes from the start of the file to the start of the span (clamped to the file).
    byte_offset: usize,
    /// Bytes in the span (clamped to the file).
    byte_length: usize,
}

/// `span` as a byte range that lies inside `text` and on character boundaries.
fn clamp(text: &str, span: Span) -> std::ops::Range<usize> {
    let start = floor_char_boundary(text, span.start as usize);
    let end = floor_char_boundary(text, span.end as usize).max(start);
    start..end
}

/// The short text of a suggestion, e.g. ``replace `=` with `==` ``, ``insert `}` `` or
/// ``remove `;` ``. Line breaks and tabs are shown as `\n`, `\r` and `\t` so the text stays
/// on one line.
fn describe_suggestion(original: &str, replacement: &str) -> String {
    let visible = |text: &str| {
        text.replace('\n', "\\n")
            .replace('\r', "\\r")
            .replace('\t', "\\t")
    };
    let (original, replacement) = (visible(original), visible(replacement));
    match (original.is_empty(), replacement.is_empty()) {
        (true, _) => format!("insert `{replacement}`"),
        (false, true) => format!("remove `{original}`"),
        (false, false) => format!("replace `{original}` with `{replacement}`"),
    }
}

/// The message followed by the help, notes and suggestions as `help: ...`, `note: ...` and
/// `suggestion: ...` lines, for formats that have a single text field.
fn full_message(diag: &Diagnostic, sources: &Sources<'_>) -> String {
    let mut text = diag.message.clone();
    if let Some(help) = &diag.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    for note in &diag.notes {
        text.push_str("\nnote: ");
        text.push_str(note);
    }
    for suggestion in &diag.suggestions {
        text.push_str("\nsuggestion: ");
        text.push_str(&describe_suggestion(
            sources.snippet(suggestion.file, suggestion.span),
            &suggestion.replacement,
        ));
    }
    text
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A shared sample for the renderer tests.

    use crate::diagnostics::{Code, Diagnostic, Severity};
    use crate::source::{SourceMap, Span};

    /// The sample source. `région` has a two-byte `é`, so byte offsets and columns differ after
    /// it; the block is never closed.
    pub const SOURCE: &str =
        "rollout \"déploiement\" {\n  select région = \"eu-west\"\n  maxUnavailable: 2\n";

    /// The byte span of the `nth` (0-based) occurrence of `needle` in [`SOURCE`].
    pub fn find(needle: &str, nth: usize) -> Span {
        let start = SOURCE
            .match_indices(needle)
            .nth(nth)
            .unwrap_or_else(|| panic!("`{needle}` #{nth} not in sample"))
            .0;
        Span::new(start, start + needle.len())
    }

    /// A source map holding [`SOURCE`] as `rings/eu.rollout`, and three diagnostics: an error
    /// with a secondary label, help, a note and a replacement; a warning with a removal; and an
    /// error with an insertion at the end of the file.
    pub fn sample() -> (SourceMap, Vec<Diagnostic>) {
        let mut sources = SourceMap::new();
        let file = sources.add("rings/eu.rollout", SOURCE);
        let eq = find(" = ", 0);
        let eq = Span::new(eq.start as usize + 1, eq.start as usize + 2);
        let diags = vec![
            Diagnostic::new(Code::SingleEquals, file, eq, "`=` is not a comparison")
                .with_label("expected `==` here")
                .with_secondary(find("région", 0), "this label key is compared")
                .with_help("use `==` to compare a label key with a value")
                .with_note("`=` only assigns fields")
                .with_suggestion("use `==`", eq, "=="),
            Diagnostic::new(
                Code::YamlStyleField,
                file,
                find("maxUnavailable:", 0),
                "YAML-style field `maxUnavailable:`",
            )
            .with_label("fields are not followed by `:`")
            .with_severity(Severity::Warning)
            .with_suggestion(
                "remove the colon",
                Span::new(find(":", 0).start as usize, find(":", 0).start as usize + 1),
                "",
            ),
            Diagnostic::new(
                Code::UnclosedDelimiter,
                file,
                find("{", 0),
                "unclosed delimiter `{`",
            )
            .with_label("this `{` is never closed")
            .with_suggestion("close the block", Span::point(SOURCE.len()), "}\n"),
        ];
        (sources, diags)
    }

    #[test]
    fn sample_spans_point_where_expected() {
        let (sources, diags) = sample();
        let file = sources.iter().next().unwrap().1;
        assert_eq!(&file.text()[diags[0].span.range()], "=");
        assert_eq!(&file.text()[diags[1].suggestions[0].span.range()], ":");
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{SOURCE, sample};
    use super::*;

    #[test]
    fn locate_counts_characters_not_bytes() {
        let (map, diags) = sample();
        let sources = Sources::new(&map);
        let at = sources.locate(diags[0].file, diags[0].span);
        // Line 2 is `  select région = ...`; `=` is the 17th character but the 18th byte.
        assert_eq!(
            (at.line, at.column, at.end_line, at.end_column),
            (2, 17, 2, 18)
        );
        let byte = diags[0].span.start as usize;
        assert_eq!(at.char_offset, SOURCE[..byte].chars().count());
        assert_eq!(at.char_offset + 2, byte, "two two-byte `é`s come before");
        assert_eq!(at.char_length, 1);
        assert_eq!(at.file, "rings/eu.rollout");
    }

    #[test]
    fn locate_survives_bad_spans_and_files() {
        let (map, _) = sample();
        let sources = Sources::new(&map);
        // Inside the two-byte `é` of `déploiement`, and past the end of the file.
        let inside = SOURCE.find('é').unwrap() + 1;
        let at = sources.locate(FileId(0), Span::new(inside, SOURCE.len() + 10));
        assert_eq!((at.line, at.column), (1, 11));
        assert_eq!((at.end_line, at.end_column), (4, 1));
        assert_eq!(
            (at.byte_offset, at.byte_length),
            (inside - 1, SOURCE.len() - inside + 1)
        );
        let unknown = sources.locate(FileId(7), Span::new(3, 4));
        assert_eq!(unknown.file, UNKNOWN_FILE);
        assert_eq!(sources.snippet(FileId(7), Span::new(3, 4)), "");
    }

    #[test]
    fn suggestions_are_described_by_kind() {
        assert_eq!(describe_suggestion("=", "=="), "replace `=` with `==`");
        assert_eq!(describe_suggestion("", "}"), "insert `}`");
        assert_eq!(describe_suggestion(":", ""), "remove `:`");
        assert_eq!(
            describe_suggestion("a\r\n\tb", "}\n"),
            "replace `a\\r\\n\\tb` with `}\\n`"
        );
    }
}
