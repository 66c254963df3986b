//! A structural pre-scan run before pest: unterminated strings, unbalanced brackets and
//! runaway nesting.
//!
//! pest has no error recovery and reports these problems at the far end of the damage (an
//! unclosed `{` surfaces as "unexpected end of input"). A bracket matcher that knows where
//! each bracket opened can point at the real culprit, and bounding the nesting depth here keeps
//! every later recursive pass (pest itself, lowering, type checking) within a fixed stack.
//! This is a few dozen lines of byte scanning; no crate does it for our token rules.

use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span};

/// The deepest nesting of brackets plus consecutive `not`s accepted.
pub const MAX_DEPTH: usize = 64;

struct Open {
    byte: u8,
    offset: usize,
    indent: usize,
}

struct Matched {
    open: usize,
    open_indent: usize,
    close: usize,
    close_indent: usize,
}

/// Scans `src` and returns the structural problems found (empty when the structure is sound).
pub fn scan(file: FileId, src: &str) -> Vec<Diagnostic> {
    scan_with_comments(file, src, &mut Vec::new(), &mut Vec::new())
}

/// [`scan`], also collecting the byte ranges of `//` comments and byte-order marks (outside
/// strings), which the parser may see as spaces, and the offsets of the ASCII control bytes
/// other than tab, newline and carriage return (outside strings), which it may see as DEL:
/// then `WHITESPACE` can be one character range (`'\t'..' '`), and those bytes stay
/// non-whitespace that no token but the recovery rules' `ANY` accepts.
pub fn scan_with_comments(
    file: FileId,
    src: &str,
    comments: &mut Vec<std::ops::Range<usize>>,
    controls: &mut Vec<usize>,
) -> Vec<Diagnostic> {
    let bytes = src.as_bytes();
    let mut diags = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut matched: Vec<Matched> = Vec::new();
    let mut not_run = 0usize;
    // After an unterminated string the bracket structure is unreliable (the string may have
    // swallowed a bracket), so only further unterminated strings are reported.
    let mut unterminated_seen = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = line_end(bytes, i);
                comments.push(i..end);
                i = end;
                continue;
            }
            b'"' | b'`' => match closing_quote(bytes, i) {
                Ok(end) => {
                    not_run = 0;
                    i = end + 1;
                    continue;
                }
                Err(eol) => {
                    // Only the first: the quote that closes a string split over two lines
                    // would look like another unterminated string.
                    if !unterminated_seen {
                        diags.push(unterminated(file, src, i, eol));
                    }
                    unterminated_seen = true;
                    i = eol;
                    continue;
                }
            },
            b'{' | b'(' | b'[' => {
                stack.push(Open {
                    byte: b,
                    offset: i,
                    indent: indent_of(bytes, i),
                });
                if stack.len() + not_run > MAX_DEPTH {
                    diags.push(too_deep(file, i));
                    return diags;
                }
            }
            b'}' | b')' | b']' if unterminated_seen => {}
            b'}' | b')' | b']' => {
                not_run = 0;
                let want = opener_of(b);
                let Some(top) = stack.last() else {
                    diags.push(stray_closer(file, b, i, bytes, &matched));
                    return diags;
                };
                if top.byte == want {
                    let open = stack.pop().expect("checked above");
                    matched.push(Matched {
                        open: open.offset,
                        open_indent: open.indent,
                        close: i,
                        close_indent: indent_of(bytes, i),
                    });
                } else if stack.iter().any(|o| o.byte == want) {
                    // `(` never closed before the block's `}`: blame the inner opener.
                    let want_close = closer_of(top.byte) as char;
                    diags.push(
                        Diagnostic::new(
                            Code::UnclosedDelimiter,
                            file,
                            Span::new(top.offset, top.offset + 1),
                            format!("this `{}` is never closed", top.byte as char),
                        )
                        .with_label(format!("`{}` opened here", top.byte as char))
                        .with_secondary(
                            Span::new(i, i + 1),
                            format!(
                                "`{}` closes the enclosing block before a `{want_close}`",
                                b as char
                            ),
                        )
                        .with_help(format!("add `{want_close}` where the expression ends")),
                    );
                    return diags;
                } else {
                    diags.push(
                        Diagnostic::new(
                            Code::UnexpectedCloser,
                            file,
                            Span::new(i, i + 1),
                            format!("unexpected `{}`: no `{}` is open", b as char, want as char),
                        )
                        .with_label("this closes nothing")
                        .with_secondary(
                            Span::new(top.offset, top.offset + 1),
                            format!("the innermost open bracket is this `{}`", top.byte as char),
                        )
                        .with_help("remove it"),
                    );
                    return diags;
                }
            }
            b'!' if bytes.get(i + 1) != Some(&b'=') => {
                not_run += 1;
                if stack.len() + not_run > MAX_DEPTH {
                    diags.push(too_deep(file, i));
                    return diags;
                }
            }
            b if b.is_ascii_alphanumeric() || b == b'_' => {
                let end = word_end(bytes, i);
                if &bytes[i..end] == b"not" {
                    not_run += 1;
                    if stack.len() + not_run > MAX_DEPTH {
                        let mut diag = too_deep(file, i);
                        diag.span = Span::new(i, end);
                        diag.labels[0].span = diag.span;
                        diags.push(diag);
                        return diags;
                    }
                } else {
                    not_run = 0;
                }
                i = end;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            0xEF if bytes[i..].starts_with("\u{FEFF}".as_bytes()) => {
                comments.push(i..i + 3);
                i += 3;
                continue;
            }
            0x0B | 0x0C | 0x0E..=0x1F => {
                controls.push(i);
                not_run = 0;
            }
            _ => not_run = 0,
        }
        i += 1;
    }
    if unterminated_seen {
        return diags;
    }
    if let Some(outer) = stack.first() {
        diags.push(unclosed(file, src, outer, &stack, &matched));
    }
    diags
}

fn unclosed(
    file: FileId,
    src: &str,
    outer: &Open,
    stack: &[Open],
    matched: &[Matched],
) -> Diagnostic {
    // A closer indented less than its opener's line usually belongs to an outer block: the
    // block that opened there is the one missing its closer (the check rustc makes too).
    let suspect = matched
        .iter()
        .filter(|m| bytes_at(src, m.open) == b'{' && m.close_indent < m.open_indent)
        .min_by_key(|m| m.open);
    let eof = Span::point(src.len());
    match suspect {
        Some(m) => Diagnostic::new(
            Code::UnclosedDelimiter,
            file,
            Span::new(m.open, m.open + 1),
            "this `{` is never closed",
        )
        .with_label("block opened here")
        .with_secondary(
            Span::new(m.close, m.close + 1),
            "this `}` is indented like an outer block, so it probably closes that one",
        )
        .with_help("add a `}` where this block should end"),
        None => {
            let innermost = stack.last().unwrap_or(outer);
            let want = closer_of(innermost.byte) as char;
            let mut diag = Diagnostic::new(
                Code::UnclosedDelimiter,
                file,
                Span::new(innermost.offset, innermost.offset + 1),
                format!("this `{}` is never closed", innermost.byte as char),
            )
            .with_label(format!("`{}` opened here", innermost.byte as char))
            .with_secondary(eof, format!("expected `{want}` before the end of the file"))
            .with_help(format!("add `{want}` where this block should end"));
            if stack.len() > 1 {
                diag = diag.with_note(format!(
                    "{} brackets are still open at the end of the file",
                    stack.len()
                ));
            }
            diag
        }
    }
}

/// A closer with nothing open. When an earlier `}` is indented unlike its opener, that one is
/// probably the extra brace that closed the block too soon.
fn stray_closer(file: FileId, b: u8, at: usize, bytes: &[u8], matched: &[Matched]) -> Diagnostic {
    let want = opener_of(b) as char;
    let mut diag = Diagnostic::new(
        Code::UnexpectedCloser,
        file,
        Span::new(at, at + 1),
        format!("unexpected `{}`: nothing is open here", b as char),
    )
    .with_label("this closes nothing");
    let suspect = matched
        .iter()
        .filter(|m| bytes[m.close] == b && m.close_indent != m.open_indent)
        .max_by_key(|m| m.close);
    match suspect {
        Some(m) => diag = diag
            .with_secondary(
                Span::new(m.close, m.close + 1),
                "this one is indented unlike the line that opened its block: is it the extra one?",
            )
            .with_help("remove the extra closer"),
        None => {
            diag = diag.with_help(format!(
                "remove it, or add the matching `{want}` where the block starts"
            ))
        }
    }
    diag
}

fn bytes_at(src: &str, offset: usize) -> u8 {
    src.as_bytes().get(offset).copied().unwrap_or(0)
}

fn too_deep(file: FileId, at: usize) -> Diagnostic {
    Diagnostic::new(
        Code::NestingTooDeep,
        file,
        Span::new(at, at + 1),
        format!("nesting deeper than {MAX_DEPTH} levels"),
    )
    .with_label("too deep here")
    .with_help("split the expression with `let` bindings")
}

fn unterminated(file: FileId, src: &str, start: usize, eol: usize) -> Diagnostic {
    let quote = src.as_bytes()[start] as char;
    let what = if quote == '"' { "string" } else { "label key" };
    Diagnostic::new(
        Code::UnterminatedString,
        file,
        Span::new(start, eol),
        format!("unterminated {what}"),
    )
    .with_label(format!("this {what} is never closed"))
    .with_help(format!(
        "close it with {} before the end of the line: {what}s cannot span lines",
        if quote == '"' { "`\"`" } else { "a backtick" }
    ))
    .with_suggestion(
        format!("insert `{quote}`"),
        Span::point(eol),
        quote.to_string(),
    )
}

/// The offset of the quote closing the one at `start`, or `Err(end of line)`.
fn closing_quote(bytes: &[u8], start: usize) -> Result<usize, usize> {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => return Err(trim_cr(bytes, start, i)),
            b'\\' if quote == b'"' => {
                if bytes.get(i + 1) == Some(&b'\n') {
                    return Err(trim_cr(bytes, start, i + 1));
                }
                i += 2;
                continue;
            }
            b if b == quote => return Ok(i),
            _ => {}
        }
        i += 1;
    }
    Err(bytes.len())
}

fn trim_cr(bytes: &[u8], start: usize, eol: usize) -> usize {
    if eol > start + 1 && bytes[eol - 1] == b'\r' {
        eol - 1
    } else {
        eol
    }
}

fn line_end(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| i + p)
}

fn word_end(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .map_or(bytes.len(), |p| i + p)
}

fn indent_of(bytes: &[u8], i: usize) -> usize {
    let start = bytes[..i]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    bytes[start..i]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count()
}

fn opener_of(closer: u8) -> u8 {
    match closer {
        b'}' => b'{',
        b')' => b'(',
        _ => b'[',
    }
}

fn closer_of(opener: u8) -> u8 {
    match opener {
        b'{' => b'}',
        b'(' => b')',
        _ => b']',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(src: &str) -> Vec<&'static str> {
        scan(FileId(0), src).iter().map(|d| d.code.id()).collect()
    }

    #[test]
    fn balanced_input_is_clean() {
        assert!(codes("rollout \"a{\" { stage \"b\" { select x in [\"]\"] } } // {").is_empty());
    }

    #[test]
    fn finds_each_structural_problem() {
        assert_eq!(codes("let a = \"open\nlet b = 1"), ["R0002"]);
        assert_eq!(codes("rollout \"a\" {"), ["R0003"]);
        assert_eq!(codes("}"), ["R0004"]);
        assert_eq!(codes("( ]"), ["R0004"]);
        assert_eq!(codes(&"(".repeat(100)), ["R0019"]);
        assert_eq!(codes(&"not ".repeat(100)), ["R0019"]);
    }

    #[test]
    fn blames_the_block_whose_closer_is_misindented() {
        let src = "rollout \"r\" {\n  stage \"a\" {\n    batch 1\n  stage \"b\" { batch 2 }\n}\n";
        let diags = scan(FileId(0), src);
        assert_eq!(diags.len(), 1);
        let open_a = src.find("\"a\" {").unwrap() + 4;
        assert_eq!(diags[0].span, Span::new(open_a, open_a + 1));
    }
}

/// An open `{` enclosing some offset, with the first word of the line that opened it
/// (`stage`, `rollout`, `defaults`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenBlock<'s> {
    /// Offset of the `{`.
    pub brace: usize,
    /// The first word on the brace's line.
    pub head: &'s str,
    /// Where that word is.
    pub head_span: Span,
}

/// The innermost `{` still open at `offset`, skipping strings and comments.
pub fn enclosing_block(src: &str, offset: usize) -> Option<OpenBlock<'_>> {
    let bytes = src.as_bytes();
    let stack = open_brackets(src, offset);
    let brace = *stack.iter().rev().find(|&&o| bytes[o] == b'{')?;
    let line_start = bytes[..brace]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let word_start = line_start + indent_of(bytes, brace);
    let word_end = word_end(bytes, word_start);
    Some(OpenBlock {
        brace,
        head: &src[word_start..word_end],
        head_span: Span::new(word_start, word_end),
    })
}

/// The offset of the innermost bracket of any kind still open at `offset`.
pub fn innermost_open(src: &str, offset: usize) -> Option<usize> {
    open_brackets(src, offset).last().copied()
}

/// Offsets of the brackets open at `offset`, outermost first, skipping strings and comments.
fn open_brackets(src: &str, offset: usize) -> Vec<usize> {
    let bytes = src.as_bytes();
    let mut stack = Vec::new();
    let mut i = 0;
    let end = offset.min(bytes.len());
    while i < end {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = line_end(bytes, i);
                continue;
            }
            b'"' | b'`' => {
                i = match closing_quote(bytes, i) {
                    Ok(close) => close + 1,
                    Err(eol) => eol,
                };
                continue;
            }
            b'{' | b'(' | b'[' => stack.push(i),
            b'}' | b')' | b']' => {
                stack.pop();
            }
            _ => {}
        }
        i += 1;
    }
    stack
}
