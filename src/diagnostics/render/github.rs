//! The GitHub Actions format: one workflow command per diagnostic, which the runner turns into
//! an annotation on the pull request.

use super::{Sources, full_message};
use crate::diagnostics::{Diagnostic, Severity};
use crate::source::SourceMap;

/// Renders diagnostics as GitHub Actions workflow commands, one line each:
/// `::error file=F,line=L,col=C,endLine=L2,endColumn=C2,title=R0005::message`.
///
/// Errors become `error`, warnings `warning` and notes `notice`. Lines and columns are 1-based,
/// columns count Unicode scalar values, and the end is exclusive. The help, notes and
/// suggestions follow the message on their own (encoded) lines. Values are escaped as GitHub
/// requires: in the message `%`, `\r` and `\n`; in properties also `:` and `,`.
pub fn github(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let sources = Sources::new(sources);
    let mut out = String::new();
    for diag in diags {
        let command = match diag.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let at = sources.locate(diag.file, diag.span);
        out.push_str(&format!(
            "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            escape_property(at.file),
            at.line,
            at.column,
            at.end_line,
            at.end_column,
            escape_property(diag.code.id()),
            escape_data(&full_message(diag, &sources)),
        ));
    }
    out
}

/// Escapes a command's message (`%`, `\r`, `\n`).
fn escape_data(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a property value (`%`, `\r`, `\n`, `:`, `,`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::super::test_support::sample;
    use super::*;
    use crate::diagnostics::Code;
    use crate::source::Span;

    #[test]
    fn one_command_per_diagnostic() {
        let (sources, diags) = sample();
        let out = github(&diags, &sources);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "::error file=rings/eu.rollout,line=2,col=17,endLine=2,endColumn=18,title=R0005::\
             `=` is not a comparison\
             %0Ahelp: use `==` to compare a label key with a value\
             %0Anote: `=` only assigns fields\
             %0Asuggestion: replace `=` with `==`"
        );
        assert_eq!(
            lines[1],
            "::warning file=rings/eu.rollout,line=3,col=3,endLine=3,endColumn=18,title=R0007::\
             YAML-style field `maxUnavailable:`%0Asuggestion: remove `:`"
        );
        assert_eq!(
            lines[2],
            "::error file=rings/eu.rollout,line=1,col=23,endLine=1,endColumn=24,title=R0003::\
             unclosed delimiter `{`%0Asuggestion: insert `}\\n`"
        );
        assert!(out.ends_with('\n'));
    }

    #[test]
    fn escapes_properties_and_data() {
        let mut sources = SourceMap::new();
        let file = sources.add("C:\\ci,100%\\a.rollout", "x\n");
        let diag = Diagnostic::new(Code::InvalidPercent, file, Span::new(0, 1), "120% > 100%")
            .with_severity(Severity::Note)
            .with_help("a: b,\r\nc");
        assert_eq!(
            github(&[diag], &sources),
            "::notice file=C%3A\\ci%2C100%25\\a.rollout,line=1,col=1,endLine=1,endColumn=2,\
             title=R0009::120%25 > 100%25%0Ahelp: a: b,%0D%0Ac\n"
        );
    }

    #[test]
    fn no_diagnostics_no_output() {
        let (sources, _) = sample();
        assert_eq!(github(&[], &sources), "");
    }
}
