//! The front end: source text to AST. A hand-written parser for well-formed files ([`fast`]);
//! for the others, the pre-scan ([`scan`]), pest ([`RolloutParser`]), diagnosis of pest
//! failures ([`error`]), and lowering to the AST ([`lower`]), which report every problem.

mod error;
mod fast;
pub mod literal;
pub mod lower;
pub mod rules;
pub mod scan;
pub mod suggest;

use pest::Parser as _;
use pest_derive::Parser;

use crate::ast;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, MAX_SOURCE_LEN, Span};

/// The pest parser generated from `grammar/rollout.pest`.
#[derive(Parser)]
#[grammar = "../grammar/rollout.pest"]
pub struct RolloutParser;

/// The result of parsing one file.
#[derive(Debug)]
pub struct Parsed {
    /// The AST, when the file's structure could be read (it may still contain
    /// [`ast::ExprKind::Error`] nodes that `diagnostics` explain).
    pub ast: Option<ast::File>,
    /// Every problem found, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// `src` with the bytes of each range replaced by spaces (ranges are whole characters) and
/// each byte at `controls` (ASCII control bytes) replaced by DEL.
fn blank(src: &str, ranges: &[std::ops::Range<usize>], controls: &[usize]) -> String {
    if ranges.is_empty() && controls.is_empty() {
        return src.to_string();
    }
    let mut bytes = src.as_bytes().to_vec();
    for range in ranges {
        bytes[range.clone()].fill(b' ');
    }
    for &i in controls {
        bytes[i] = 0x7F;
    }
    String::from_utf8(bytes).unwrap_or_else(|_| src.to_string())
}

/// The text pest parses for `src`: comments blanked to spaces and stray control bytes to
/// DEL, offsets unchanged (see [`parse`]). Public for the phase benchmark.
pub fn pest_input(src: &str) -> String {
    let (mut comments, mut controls) = (Vec::new(), Vec::new());
    let _ = scan::scan_with_comments(FileId(0), src, &mut comments, &mut controls);
    blank(src, &comments, &controls)
}

/// Parses and lowers one file. Never panics; every problem becomes a diagnostic.
///
/// A well-formed file is read by the hand-written [`fast`] parser; any other (or one it is not
/// sure of) goes through the pre-scan, pest and lowering ([`parse_with_pest`]), which give
/// the same AST for every file the fast parser reads and diagnose the rest.
pub fn parse(file: FileId, src: &str) -> Parsed {
    if src.len() <= MAX_SOURCE_LEN
        && let Some(ast) = fast::parse(src)
    {
        return Parsed {
            ast: Some(ast),
            diagnostics: Vec::new(),
        };
    }
    parse_with_pest(file, src)
}

/// The AST of `src` when the hand-written fast parser reads it (no diagnostics then), `None`
/// when it leaves the file to [`parse_with_pest`]. Public for the tests that compare the two.
#[doc(hidden)]
pub fn parse_fast(src: &str) -> Option<ast::File> {
    (src.len() <= MAX_SOURCE_LEN)
        .then(|| fast::parse(src))
        .flatten()
}

/// [`parse`] without the fast path: the pre-scan, pest and lowering, for every file. Public
/// for the tests and benchmarks that compare the two.
#[doc(hidden)]
pub fn parse_with_pest(file: FileId, src: &str) -> Parsed {
    if src.len() > MAX_SOURCE_LEN {
        let diag = Diagnostic::new(
            Code::FileTooLarge,
            file,
            Span::point(0),
            format!(
                "source is {} bytes, more than the {MAX_SOURCE_LEN} bytes rollc reads",
                src.len()
            ),
        )
        .with_help("split the strategy into several files joined with `import`");
        return Parsed {
            ast: None,
            diagnostics: vec![diag],
        };
    }
    let mut comments = Vec::new();
    let mut controls = Vec::new();
    let structural = scan::scan_with_comments(file, src, &mut comments, &mut controls);
    if !structural.is_empty() {
        return Parsed {
            ast: None,
            diagnostics: structural,
        };
    }
    // pest sees comments as spaces: offsets stay the same, and the grammar needs no comment
    // rule, which pest would try at every token boundary and run character by character.
    let blanked = blank(src, &comments, &controls);
    match RolloutParser::parse(Rule::file, &blanked) {
        Err(err) => Parsed {
            ast: None,
            diagnostics: vec![error::diagnose(file, src, &err)],
        },
        Ok(mut pairs) => {
            let lower = lower::Lower::new(file, src);
            let ast = pairs.next().map(|pair| lower.file(pair));
            let mut diagnostics = lower.finish();
            diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
            Parsed { ast, diagnostics }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lower::RESERVED` (used by error messages) must be exactly the grammar's keywords.
    #[test]
    fn reserved_words_match_the_grammar() {
        for word in lower::RESERVED {
            assert!(
                RolloutParser::parse(Rule::keyword, word).is_ok(),
                "`{word}` is a keyword"
            );
            assert!(
                RolloutParser::parse(Rule::ident, word).is_err(),
                "`{word}` is not a name"
            );
        }
        for word in [
            "appset", "where", "per", "by", "each", "insecure", "tz", "index", "ordered",
        ] {
            let whole = RolloutParser::parse(Rule::ident, word)
                .map(|mut p| p.next().map(|p| p.as_str() == word));
            assert_eq!(whole.ok().flatten(), Some(true), "`{word}` is a name");
        }
        // Every word the grammar's `keyword` rule spells out (`"o" ~ ("rder" | "r")`) is in
        // RESERVED, and no other.
        let grammar = include_str!("../../grammar/rollout.pest");
        let start = grammar.find("keyword = @{").expect("keyword rule");
        let rule = &grammar[start..start + grammar[start..].find("~ !ident_char").expect("end")];
        let mut words = Vec::new();
        for line in rule
            .lines()
            .filter(|l| l.trim_start().starts_with(['(', '|']) && l.contains('"'))
        {
            let literals: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
            let (first, rest) = literals.split_first().expect("a literal per line");
            if rest.is_empty() {
                words.push(first.to_string());
            }
            words.extend(rest.iter().map(|r| format!("{first}{r}")));
        }
        words.sort();
        let mut reserved: Vec<String> = lower::RESERVED.iter().map(|w| w.to_string()).collect();
        reserved.sort();
        assert_eq!(words, reserved);
    }
}
