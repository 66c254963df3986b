//! The JSON format: one object per diagnostic, with resolved lines and columns next to the raw
//! byte spans, for editors and scripts.

use super::{Location, Sources};
use crate::diagnostics::{Diagnostic, LabelStyle, Severity};
use crate::source::{SourceMap, Span};
use serde::Serialize;

/// Renders diagnostics as a pretty-printed JSON array (followed by a newline).
///
/// Each element has `code` (`"R0005"`), `severity` (`"error"`, `"warning"` or `"note"`),
/// `message`, `file` (the display name), `line`, `column`, `end_line`, `end_column`, `span`
/// (`{"start", "end"}` byte offsets), `labels`, `help` (string or null), `notes` and
/// `suggestions`. Lines and columns are 1-based, columns count Unicode scalar values, and ends
/// are exclusive. Labels have `style`, `message`, `file`, the same position fields and `span`;
/// suggestions have `message`, `file`, `span`, the position fields and `replacement`.
pub fn json(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let sources = Sources::new(sources);
    let out: Vec<JsonDiagnostic<'_>> = diags
        .iter()
        .map(|diag| JsonDiagnostic::new(diag, &sources))
        .collect();
    let mut text = serde_json::to_string_pretty(&out).expect("plain structs serialize");
    text.push('\n');
    text
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    severity: Severity,
    message: &'a str,
    #[serde(flatten)]
    position: JsonPosition<'a>,
    span: Span,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
    notes: &'a [String],
    suggestions: Vec<JsonSuggestion<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a crate::diagnostics::Data>,
}

#[derive(Serialize)]
struct JsonPosition<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    style: LabelStyle,
    message: &'a str,
    #[serde(flatten)]
    position: JsonPosition<'a>,
    span: Span,
}

#[derive(Serialize)]
struct JsonSuggestion<'a> {
    message: &'a str,
    #[serde(flatten)]
    position: JsonPosition<'a>,
    span: Span,
    replacement: &'a str,
}

impl<'a> JsonDiagnostic<'a> {
    fn new(diag: &'a Diagnostic, sources: &Sources<'a>) -> JsonDiagnostic<'a> {
        JsonDiagnostic {
            code: diag.code.id(),
            severity: diag.severity,
            message: &diag.message,
            position: sources.locate(diag.file, diag.span).into(),
            span: diag.span,
            labels: diag
                .labels
                .iter()
                .map(|label| JsonLabel {
                    style: label.style,
                    message: &label.message,
                    position: sources.locate(label.file, label.span).into(),
                    span: label.span,
                })
                .collect(),
            help: diag.help.as_deref(),
            notes: &diag.notes,
            suggestions: diag
                .suggestions
                .iter()
                .map(|suggestion| JsonSuggestion {
                    message: &suggestion.message,
                    position: sources.locate(suggestion.file, suggestion.span).into(),
                    span: suggestion.span,
                    replacement: &suggestion.replacement,
                })
                .collect(),
            data: diag.data.as_ref(),
        }
    }
}

impl<'a> From<Location<'a>> for JsonPosition<'a> {
    fn from(at: Location<'a>) -> JsonPosition<'a> {
        JsonPosition {
            file: at.file,
            line: at.line,
            column: at.column,
            end_line: at.end_line,
            end_column: at.end_column,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{SOURCE, sample};
    use super::*;
    use serde_json::{Value, json as j};

    fn parse(diags: &[Diagnostic], sources: &SourceMap) -> Vec<Value> {
        let text = json(diags, sources);
        assert!(text.ends_with("]\n"));
        serde_json::from_str(&text).expect("valid JSON")
    }

    #[test]
    fn fields_lines_and_columns() {
        let (sources, diags) = sample();
        let out = parse(&diags, &sources);
        assert_eq!(out.len(), 3);
        let first = &out[0];
        assert_eq!(first["code"], "R0005");
        assert_eq!(first["severity"], "error");
        assert_eq!(first["message"], "`=` is not a comparison");
        assert_eq!(first["file"], "rings/eu.rollout");
        // `=` is byte 42 but column 17 of line 2: `é` in `région` takes two bytes.
        let eq = SOURCE.find(" = ").unwrap() + 1;
        assert_eq!(first["span"], j!({"start": eq, "end": eq + 1}));
        assert_eq!(
            [
                &first["line"],
                &first["column"],
                &first["end_line"],
                &first["end_column"]
            ],
            [2, 17, 2, 18]
        );
        assert_eq!(
            first["help"],
            "use `==` to compare a label key with a value"
        );
        assert_eq!(first["notes"], j!(["`=` only assigns fields"]));

        let labels = first["labels"].as_array().unwrap();
        assert_eq!(labels.len(), 2);
        assert_eq!(labels[0]["style"], "primary");
        assert_eq!(labels[0]["message"], "expected `==` here");
        assert_eq!(labels[0]["column"], 17);
        assert_eq!(labels[1]["style"], "secondary");
        assert_eq!(labels[1]["message"], "this label key is compared");
        assert_eq!(labels[1]["file"], "rings/eu.rollout");
        assert_eq!(
            [
                &labels[1]["line"],
                &labels[1]["column"],
                &labels[1]["end_column"]
            ],
            [2, 10, 16]
        );
        let start = SOURCE.find("région").unwrap();
        assert_eq!(labels[1]["span"], j!({"start": start, "end": start + 7}));

        assert_eq!(
            first["suggestions"],
            j!([{
                "message": "use `==`",
                "file": "rings/eu.rollout",
                "line": 2,
                "column": 17,
                "end_line": 2,
                "end_column": 18,
                "span": {"start": eq, "end": eq + 1},
                "replacement": "==",
            }])
        );
    }

    #[test]
    fn warnings_missing_help_and_insertions() {
        let (sources, diags) = sample();
        let out = parse(&diags, &sources);
        assert_eq!(out[1]["severity"], "warning");
        assert_eq!(out[1]["code"], "R0007");
        assert_eq!(out[1]["help"], Value::Null);
        assert_eq!(out[1]["notes"], j!([]));
        // The insertion at the very end: after the final newline, on line 4.
        let insert = &out[2]["suggestions"][0];
        assert_eq!(insert["replacement"], "}\n");
        assert_eq!(
            insert["span"],
            j!({"start": SOURCE.len(), "end": SOURCE.len()})
        );
        assert_eq!([&insert["line"], &insert["column"]], [4, 1]);
    }

    #[test]
    fn empty_input_is_an_empty_array() {
        let (sources, _) = sample();
        assert_eq!(json(&[], &sources), "[]\n");
    }
}
