//! The terminal format: codespan-reporting snippets with `= help`, `= note` and
//! `= suggestion` lines, and an optional one-line summary.

use super::{Sources, clamp, describe_suggestion};
use crate::diagnostics::{Diagnostic, LabelStyle, Severity};
use crate::source::{FileId, SourceMap, floor_char_boundary};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term::{self, Config, termcolor::Buffer};
use std::ops::Range;

/// Renders diagnostics as rustc-style snippets, e.g. `error[R0005]: message` followed by the
/// source lines with primary and secondary labels, then `= help: ...`, one `= note: ...` per
/// note and one `= suggestion: ...` per suggestion.
///
/// With `color`, the text contains ANSI escape codes; without, it is plain. Each diagnostic ends
/// with a blank line. The summary line is not included; see [`summary`].
pub fn human(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let sources = Sources::new(sources);
    let config = Config::default();
    let mut out = String::new();
    for diag in diags {
        let mut buffer = if color {
            Buffer::ansi()
        } else {
            Buffer::no_color()
        };
        let rendered = to_codespan(diag, &sources);
        match term::emit_to_write_style(&mut buffer, &config, &sources, &rendered) {
            Ok(()) => out.push_str(&String::from_utf8_lossy(buffer.as_slice())),
            // Unreachable with in-memory files and clamped spans; keep the message anyway.
            Err(_) => out.push_str(&format!(
                "{}[{}]: {}\n\n",
                diag.severity.as_str(),
                diag.code.id(),
                diag.message
            )),
        }
    }
    out
}

/// The closing line, e.g. `error: 2 errors, 1 warning emitted`, or `warning: 1 warning emitted`
/// when there are only warnings; `None` when there are neither errors nor warnings. Notes are not
/// counted. The line has no trailing newline and no color.
pub fn summary(diags: &[Diagnostic]) -> Option<String> {
    let count = |severity| diags.iter().filter(|d| d.severity == severity).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => None,
        (0, w) => Some(format!("warning: {} emitted", plural(w, "warning"))),
        (e, 0) => Some(format!("error: {} emitted", plural(e, "error"))),
        (e, w) => Some(format!(
            "error: {}, {} emitted",
            plural(e, "error"),
            plural(w, "warning")
        )),
    }
}

/// Converts one diagnostic to codespan's type. Labels in files missing from the map are
/// dropped; a diagnostic without a primary label gets one at its own span.
fn to_codespan(diag: &Diagnostic, sources: &Sources<'_>) -> cs::Diagnostic<FileId> {
    let severity = match diag.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
        Severity::Note => cs::Severity::Note,
    };
    let range = |file: FileId, span| sources.get(file).map(|f| clamp(f.text(), span));
    let mut labels: Vec<cs::Label<FileId>> = diag
        .labels
        .iter()
        .filter_map(|label| {
            let range = range(label.file, label.span)?;
            let style = match label.style {
                LabelStyle::Primary => cs::LabelStyle::Primary,
                LabelStyle::Secondary => cs::LabelStyle::Secondary,
            };
            Some(cs::Label::new(style, label.file, range).with_message(&label.message))
        })
        .collect();
    if !labels.iter().any(|l| l.style == cs::LabelStyle::Primary)
        && let Some(range) = range(diag.file, diag.span)
    {
        labels.insert(0, cs::Label::primary(diag.file, range));
    }

    let mut notes = Vec::new();
    if let Some(help) = &diag.help {
        notes.push(format!("help: {help}"));
    }
    notes.extend(diag.notes.iter().map(|note| format!("note: {note}")));
    for suggestion in &diag.suggestions {
        let mut text = format!(
            "suggestion: {}",
            describe_suggestion(
                sources.snippet(suggestion.file, suggestion.span),
                &suggestion.replacement
            )
        );
        if suggestion.file != diag.file {
            text.push_str(&format!(" in {}", sources.name(suggestion.file)));
        }
        notes.push(text);
    }

    cs::Diagnostic::new(severity)
        .with_code(diag.code.id())
        .with_message(&diag.message)
        .with_labels(labels)
        .with_notes(notes)
}

/// codespan-reporting reads files straight from the [`SourceMap`], using its [`LineIndex`]
/// (nothing is copied).
///
/// [`LineIndex`]: crate::source::LineIndex
impl<'a> Files<'a> for Sources<'a> {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, FilesError> {
        Ok(self.get(id).ok_or(FilesError::FileMissing)?.name())
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, FilesError> {
        Ok(self.get(id).ok_or(FilesError::FileMissing)?.text())
    }

    fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, FilesError> {
        Ok(self
            .get(id)
            .ok_or(FilesError::FileMissing)?
            .lines()
            .line_of(byte_index))
    }

    fn column_number(
        &'a self,
        id: FileId,
        line_index: usize,
        byte_index: usize,
    ) -> Result<usize, FilesError> {
        let text = self.source(id)?;
        let line = self.line_range(id, line_index)?;
        let end = floor_char_boundary(text, byte_index.clamp(line.start, line.end));
        Ok(text[line.start..end].chars().count() + 1)
    }

    fn line_range(&'a self, id: FileId, line_index: usize) -> Result<Range<usize>, FilesError> {
        let file = self.get(id).ok_or(FilesError::FileMissing)?;
        let starts = file.lines().line_starts();
        let len = file.text().len();
        // Like codespan's own files: one line past the last is the empty range at the end.
        let start_of = |line: usize| match line.cmp(&starts.len()) {
            std::cmp::Ordering::Less => Ok(starts[line] as usize),
            std::cmp::Ordering::Equal => Ok(len),
            std::cmp::Ordering::Greater => Err(FilesError::LineTooLarge {
                given: line,
                max: starts.len() - 1,
            }),
        };
        Ok(start_of(line_index)?..start_of(line_index + 1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::sample;
    use super::*;
    use crate::diagnostics::Code;
    use crate::source::Span;

    #[test]
    fn renders_snippets_without_color() {
        let (sources, diags) = sample();
        insta::assert_snapshot!(human(&diags, &sources, false));
    }

    #[test]
    fn color_adds_ansi_escapes_only_when_asked() {
        let (sources, diags) = sample();
        let plain = human(&diags, &sources, false);
        let colored = human(&diags, &sources, true);
        assert!(!plain.contains('\u{1b}'));
        assert!(colored.contains("\u{1b}["));
        assert!(plain.starts_with("error[R0005]: `=` is not a comparison\n"));
    }

    #[test]
    fn columns_count_characters() {
        let (sources, diags) = sample();
        let plain = human(&diags[..1], &sources, false);
        assert!(plain.contains("┌─ rings/eu.rollout:2:17"), "{plain}");
    }

    #[test]
    fn missing_primary_label_and_unknown_files_are_tolerated() {
        let (sources, diags) = sample();
        let mut diag = diags[0].clone();
        diag.labels.clear();
        diag.labels.push(crate::diagnostics::Label {
            style: LabelStyle::Secondary,
            file: FileId(9),
            span: Span::new(0, 1),
            message: "nowhere".into(),
        });
        let plain = human(&[diag], &sources, false);
        assert!(plain.contains("rings/eu.rollout:2:17"), "{plain}");
        assert!(!plain.contains("nowhere"));

        let lost = Diagnostic::new(Code::UnexpectedToken, FileId(9), Span::new(0, 1), "lost");
        assert_eq!(human(&[lost], &sources, false), "error[R0001]: lost\n\n");
    }

    #[test]
    fn summary_counts_errors_and_warnings() {
        let (_, diags) = sample();
        assert_eq!(
            summary(&diags).as_deref(),
            Some("error: 2 errors, 1 warning emitted")
        );
        assert_eq!(
            summary(&diags[..1]).as_deref(),
            Some("error: 1 error emitted")
        );
        assert_eq!(
            summary(&diags[1..2]).as_deref(),
            Some("warning: 1 warning emitted")
        );
        let note = diags[0].clone().with_severity(Severity::Note);
        assert_eq!(summary(&[note]), None);
        assert_eq!(summary(&[]), None);
    }
}
