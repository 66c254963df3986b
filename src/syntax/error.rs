//! Turning pest's failure into one precise diagnostic.
//!
//! pest reports a position and the rules it tried there. That is enough for a generic
//! "unexpected X; expected Y", but the common mistakes deserve better: a keyword in the wrong
//! block, a label key with `-` outside backticks, YAML pasted into a `.rollout` file, a file
//! that ends early. Each is recognised from the position, the text there and the enclosing
//! block, and gets its own message, help and, where certain, a fix.

use std::collections::BTreeSet;

use pest::error::{Error as PestError, ErrorVariant, InputLocation};

use super::Rule;
use super::lower::{FIELD_KEYWORDS, ROLLOUT_KEYWORDS};
use super::rules::friendly_name;
use super::scan::{OpenBlock, enclosing_block};
use super::suggest;
use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span, floor_char_boundary};

/// Rules that start an operand; "expected" lists name them together as "a value".
const PRIMARY_RULES: &[Rule] = &[
    Rule::paren,
    Rule::list,
    Rule::window_lit,
    Rule::has,
    Rule::kw_all,
    Rule::boolean,
    Rule::string,
    Rule::number,
    Rule::cluster_attr,
    Rule::backtick_key,
    Rule::name_ref,
    Rule::op_not,
    Rule::op_bang,
    Rule::prefix_start,
];

/// Binary operators; expected after a complete operand.
const INFIX_RULES: &[Rule] = &[
    Rule::op_or,
    Rule::op_and,
    Rule::op_oror,
    Rule::op_andand,
    Rule::op_eq,
    Rule::op_ne,
    Rule::op_assign,
    Rule::op_not_in,
    Rule::op_in,
    Rule::op_matches,
    Rule::infix_start,
];

const ITEM_KEYWORDS: &[&str] = &["rollout", "let", "template", "import", "fleet"];
const FIELD_WORDS: &[&str] = &[
    "select", "limit", "batch", "spread", "max", "order", "bake", "deadline", "tolerate",
    "requeue", "gate", "window",
];
const ROLLOUT_WORDS: &[&str] = &["target", "defaults", "revision"];
const SEQ_WORDS: &[&str] = &["stage", "use", "for"];

/// What the parser found at the failure position.
struct Found<'s> {
    text: &'s str,
    span: Span,
    description: String,
}

fn found_at(src: &str, pos: usize) -> Found<'_> {
    let pos = floor_char_boundary(src, pos);
    let rest = &src[pos..];
    let Some(first) = rest.chars().next() else {
        return Found {
            text: "",
            span: Span::point(pos),
            description: "end of file".into(),
        };
    };
    let len = if first.is_ascii_alphanumeric() || first == '_' {
        rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len())
    } else if first == '"' {
        rest[1..].find('"').map_or(rest.len(), |p| p + 2)
    } else if rest.starts_with("&&")
        || rest.starts_with("||")
        || rest.starts_with("==")
        || rest.starts_with("!=")
    {
        2
    } else {
        first.len_utf8()
    };
    let text = &rest[..len];
    let description = if first == '"' {
        format!("string {text}")
    } else if first == '\n' || first == '\r' {
        "end of line".into()
    } else {
        format!("`{text}`")
    };
    Found {
        text,
        span: Span::new(pos, pos + len),
        description,
    }
}

/// The diagnostic for a pest failure on `src`.
pub fn diagnose(file: FileId, src: &str, error: &PestError<Rule>) -> Diagnostic {
    let pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((start, _)) => start,
    };
    let mut expected: BTreeSet<&'static str> = BTreeSet::new();
    let mut primaries = Vec::new();
    let mut wants_operator = false;
    if let ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for &rule in positives {
            if PRIMARY_RULES.contains(&rule) {
                primaries.push(rule);
            } else if INFIX_RULES.contains(&rule) {
                wants_operator = true;
            } else {
                expected.extend(friendly_name(rule));
            }
        }
    }
    // An operand position tries numbers and names too; a lone string is a stage's name.
    let wants_value = primaries
        .iter()
        .any(|r| matches!(r, Rule::number | Rule::name_ref | Rule::list));
    if wants_value {
        // `has`, `window` and `all` start operands too; "a value" already covers them.
        for word in ["`has`", "`window`", "`all`", "a value"] {
            expected.remove(word);
        }
        expected.insert("a value");
    } else {
        expected.extend(primaries.iter().filter_map(|r| friendly_name(*r)));
    }
    let found = found_at(src, pos);
    let block = enclosing_block(src, pos);

    if found.text == "'" {
        return single_quotes(file, src, &found);
    }
    if wants_operator {
        if let Some(diag) = missing_separator(file, src, pos, &found) {
            return diag;
        }
        expected.insert("an operator (`==`, `in`, `and`, ...)");
    }
    if let Some(diag) = keyword_as_label(file, src, &found) {
        return diag;
    }
    if let Some(diag) = misplaced_keyword(file, src, &found, block.as_ref()) {
        return diag;
    }
    if let Some(diag) = dashed_word(file, src, pos) {
        return diag;
    }
    if found.text == ":" || followed_by_colon(src, &found) {
        return yaml_document(file, src, &found);
    }
    if let Some(diag) = unknown_word(file, &found, block.as_ref(), &expected) {
        return diag;
    }
    if wants_value && let Some(diag) = value_missing_at_line_end(file, src, &found) {
        return diag;
    }
    generic(file, &found, &expected, block.as_ref())
}

/// `apiVersion: v1` and other `key:` lines: a word directly followed by a colon.
fn followed_by_colon(src: &str, found: &Found<'_>) -> bool {
    !found.text.is_empty()
        && found
            .text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && src[found.span.end as usize..]
            .trim_start_matches([' ', '\t'])
            .starts_with(':')
}

/// `'text'`: strings use double quotes.
fn single_quotes(file: FileId, src: &str, found: &Found<'_>) -> Diagnostic {
    let start = found.span.start as usize;
    let line_end = src[start..].find('\n').map_or(src.len(), |p| start + p);
    let mut diag = Diagnostic::new(
        Code::UnexpectedToken,
        file,
        found.span,
        "strings are written in double quotes",
    )
    .with_label("`'` does not start a string");
    if let Some(close) = src[start + 1..line_end].find('\'') {
        let inner = &src[start + 1..start + 1 + close];
        if !inner.contains('"') {
            let span = Span::new(start, start + close + 2);
            diag = diag
                .with_help(format!("write `\"{inner}\"`"))
                .with_suggestion("use double quotes", span, format!("\"{inner}\""));
            return diag;
        }
    }
    diag.with_help("write strings as `\"text\"`")
}

/// A keyword where a label key is compared: `select order == "1"`.
fn keyword_as_label(file: FileId, src: &str, found: &Found<'_>) -> Option<Diagnostic> {
    let word = found.text;
    if word.is_empty() || !super::lower::RESERVED.contains(&word) {
        return None;
    }
    let after = src[found.span.end as usize..].trim_start();
    let compares = ["==", "!=", "in ", "in[", "not in", "matches"]
        .iter()
        .any(|op| after.starts_with(op))
        && !after.starts_with("=>");
    if !compares {
        return None;
    }
    Some(
        Diagnostic::new(
            Code::MisplacedKeyword,
            file,
            found.span,
            format!("`{word}` is a keyword, so as a label key it needs backticks"),
        )
        .with_label("reserved word")
        .with_help(format!("write `` `{word}` ``"))
        .with_suggestion(
            "quote the key with backticks",
            found.span,
            format!("`{word}`"),
        ),
    )
}

/// `select region ==` at the end of a line: point just after the operator, not at the next
/// line's statement.
fn value_missing_at_line_end(file: FileId, src: &str, found: &Found<'_>) -> Option<Diagnostic> {
    let start = found.span.start as usize;
    let before = src[..start].trim_end();
    if !src[before.len()..start].contains('\n') {
        return None;
    }
    let at = Span::point(before.len());
    let previous = before.rsplit(char::is_whitespace).next().unwrap_or("");
    Some(
        Diagnostic::new(
            Code::UnexpectedToken,
            file,
            at,
            format!("expected a value after `{previous}`"),
        )
        .with_label("the line ends here")
        .with_secondary(
            found.span,
            format!("the next line starts with {}", found.description),
        )
        .with_help("finish the expression on this line"),
    )
}

fn expected_list(expected: &BTreeSet<&'static str>) -> String {
    let items: Vec<&str> = expected.iter().copied().take(8).collect();
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_string(),
        None => "something else".into(),
    }
}

fn generic(
    file: FileId,
    found: &Found<'_>,
    expected: &BTreeSet<&'static str>,
    block: Option<&OpenBlock<'_>>,
) -> Diagnostic {
    let wanted = expected_list(expected);
    let mut diag = Diagnostic::new(
        Code::UnexpectedToken,
        file,
        found.span,
        format!("unexpected {}", found.description),
    )
    .with_label(format!("expected {wanted}"));
    if found.text.is_empty() {
        if let Some(block) = block {
            diag = diag.with_secondary(
                Span::new(block.brace, block.brace + 1),
                format!("this `{}` block is still open", block.head),
            );
        }
        diag = diag.with_help("the file ends in the middle of a statement; finish it or remove it");
    }
    diag
}

/// A statement keyword where statements of its kind are not allowed.
fn misplaced_keyword(
    file: FileId,
    src: &str,
    found: &Found<'_>,
    block: Option<&OpenBlock<'_>>,
) -> Option<Diagnostic> {
    let here = block.map_or("top", |b| block_kind(b.head));
    // `on failure` and `on new revision` fail at their second word, after `on` matched.
    let (word, span, after_on) = match (previous_word(src, found.span.start as usize), found.text) {
        (Some(("on", start)), second @ ("failure" | "new")) => {
            ("on", Span::new(start, found.span.end as usize), second)
        }
        _ => (found.text, found.span, ""),
    };
    let shown = match after_on {
        "failure" => "on failure",
        "new" => "on new revision",
        _ => word,
    };
    let found = &Found {
        text: word,
        span,
        description: format!("`{word}`"),
    };
    let (allowed_in, help): (&[&str], String) = if ITEM_KEYWORDS.contains(&word) {
        (
            &["top"],
            format!("`{shown}` can only appear at the top level of a file"),
        )
    } else if FIELD_WORDS.contains(&word) || (word == "on" && after_on == "failure") {
        (
            &["stage", "defaults"],
            format!("`{shown}` is a stage field: put it inside a `stage` or `defaults` block"),
        )
    } else if ROLLOUT_WORDS.contains(&word) || (word == "on" && after_on == "new") {
        (
            &["rollout"],
            format!("`{shown}` belongs directly inside a `rollout` block"),
        )
    } else if SEQ_WORDS.contains(&word) {
        (
            &["rollout", "template", "for"],
            format!("`{shown}` belongs inside a `rollout`, `template` or `for` block"),
        )
    } else if word == "label" {
        (
            &["fleet"],
            "`label` declarations belong inside a `fleet` block".to_string(),
        )
    } else {
        return None;
    };
    if allowed_in.contains(&here) {
        return None;
    }
    let place = match here {
        "top" => "at the top level".to_string(),
        kind => format!("inside a `{kind}` block"),
    };
    let mut diag = Diagnostic::new(
        Code::MisplacedKeyword,
        file,
        found.span,
        format!("`{shown}` cannot appear {place}"),
    )
    .with_label(format!("`{shown}` is not allowed here"));
    if let Some(block) = block {
        diag = diag.with_secondary(
            Span::new(block.brace, block.brace + 1),
            format!("the `{}` block opened here is still open", block.head),
        );
        // A keyword that belongs one level up usually means the block's `}` is missing.
        let belongs_outside = match here {
            "stage" | "defaults" => {
                SEQ_WORDS.contains(&word)
                    || ROLLOUT_WORDS.contains(&word)
                    || ITEM_KEYWORDS.contains(&word)
            }
            "rollout" | "template" | "fleet" | "for" => ITEM_KEYWORDS.contains(&word),
            _ => false,
        };
        if belongs_outside {
            diag = diag
                .with_help(format!("{help}; is a `}}` missing before it?"))
                .with_suggestion(
                    "close the open block first",
                    Span::point(found.span.start as usize),
                    "} ",
                );
            return Some(diag);
        }
    }
    Some(diag.with_help(help))
}

fn previous_word(src: &str, offset: usize) -> Option<(&str, usize)> {
    let before = src[..offset].trim_end();
    let start = before
        .char_indices()
        .rfind(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |(p, c)| p + c.len_utf8());
    (start < before.len()).then(|| (&before[start..], start))
}

/// A complete operand followed by another one inside `[...]` or `(...)`: a missing comma.
fn missing_separator(file: FileId, src: &str, pos: usize, found: &Found<'_>) -> Option<Diagnostic> {
    let (open, byte) = innermost_bracket(src, pos)?;
    if byte == b'(' && found.text == "," {
        return Some(
            Diagnostic::new(
                Code::UnexpectedToken,
                file,
                found.span,
                "expected `)`, found `,`",
            )
            .with_label("parentheses group one expression")
            .with_secondary(Span::new(open, open + 1), "opened here")
            .with_help("lists are written in square brackets: `[\"a\", \"b\"]`"),
        );
    }
    let (what, close) = match byte {
        b'[' => ("list", ']'),
        b'(' => ("argument list", ')'),
        _ => return None,
    };
    let before = src[..pos].trim_end().len();
    Some(
        Diagnostic::new(
            Code::UnexpectedToken,
            file,
            found.span,
            format!(
                "expected `,` or `{close}` in {what}, found {}",
                found.description
            ),
        )
        .with_label("missing `,` before this?")
        .with_secondary(Span::new(open, open + 1), format!("the {what} opens here"))
        .with_help(format!(
            "separate the elements with commas and close the {what} with `{close}`"
        ))
        .with_suggestion("insert `,`", Span::point(before), ","),
    )
}

fn innermost_bracket(src: &str, pos: usize) -> Option<(usize, u8)> {
    super::scan::innermost_open(src, pos).map(|o| (o, src.as_bytes()[o]))
}

fn block_kind(head: &str) -> &'static str {
    match head {
        "stage" => "stage",
        "defaults" => "defaults",
        "rollout" => "rollout",
        "template" => "template",
        "fleet" => "fleet",
        "for" => "for",
        _ => "other",
    }
}

/// `app.kubernetes.io/part-of == ...` or `cluster-tier == ...` written without backticks.
/// A word with `-`, `.` or `/` outside quotes: a label key that needs backticks, a label
/// value that needs double quotes, or a long day name in a window.
fn dashed_word(file: FileId, src: &str, pos: usize) -> Option<Diagnostic> {
    let bytes = src.as_bytes();
    let c = *bytes.get(pos)?;
    if !matches!(c, b'-' | b'.' | b'/') || pos == 0 {
        return None;
    }
    let key_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/');
    if !(bytes[pos - 1].is_ascii_alphanumeric() || bytes[pos - 1] == b'_') {
        return None;
    }
    let start = bytes[..pos]
        .iter()
        .rposition(|&b| !key_char(b))
        .map_or(0, |p| p + 1);
    let end = bytes[pos..]
        .iter()
        .position(|&b| !key_char(b))
        .map_or(bytes.len(), |p| pos + p);
    let key = &src[start..end];
    if !key.bytes().any(|b| b.is_ascii_alphabetic()) || key.starts_with("cluster.") {
        return None;
    }
    let span = Span::new(start, end);
    if let Some(diag) = long_day_names(file, key, span) {
        return Some(diag);
    }
    let before = src[..start].trim_end();
    if ["==", "!=", "[", ",", "matches"]
        .iter()
        .any(|op| before.ends_with(op))
    {
        return Some(
            Diagnostic::new(
                Code::UnexpectedToken,
                file,
                span,
                format!("label value `{key}` must be a string"),
            )
            .with_label("unquoted value")
            .with_help(format!("label values are strings: write `\"{key}\"`"))
            .with_suggestion("quote the value", span, format!("\"{key}\"")),
        );
    }
    Some(
        Diagnostic::new(
            Code::InvalidLabelKey,
            file,
            span,
            format!("label key `{key}` must be written in backticks"),
        )
        .with_label("keys with `-`, `.` or `/` are not plain names")
        .with_help(format!("write `` `{key}` ``"))
        .with_suggestion("quote the key with backticks", span, format!("`{key}`")),
    )
}

/// `Monday-Friday`: windows use three-letter day names.
fn long_day_names(file: FileId, word: &str, span: Span) -> Option<Diagnostic> {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let short = |d: &str| -> Option<String> {
        let lower = d.to_ascii_lowercase();
        let full = DAYS
            .iter()
            .find(|full| lower.len() >= 3 && full.starts_with(&lower))?;
        let mut s = full[..3].to_string();
        s[..1].make_ascii_uppercase();
        Some(s)
    };
    let parts: Vec<&str> = word.split(['-', ',']).collect();
    let fixed: Option<Vec<String>> = parts.iter().map(|p| short(p)).collect();
    let fixed = fixed?;
    let mut replacement = word.to_string();
    for (part, short) in parts.iter().zip(&fixed) {
        replacement = replacement.replacen(part, short, 1);
    }
    Some(
        Diagnostic::new(
            Code::InvalidWindow,
            file,
            span,
            format!("`{word}` is not a day range"),
        )
        .with_label("days are written `Mon` … `Sun`")
        .with_help(format!("write `{replacement}`"))
        .with_suggestion("use three-letter day names", span, replacement),
    )
}

fn yaml_document(file: FileId, src: &str, found: &Found<'_>) -> Diagnostic {
    // Either pest stopped at the `:` (the key is before it) or at the key itself.
    let (key, key_span) = if found.text == ":" {
        let line_start = src[..found.span.start as usize]
            .rfind('\n')
            .map_or(0, |p| p + 1);
        let key = src[line_start..found.span.start as usize].trim();
        let indent = src[line_start..].len() - src[line_start..].trim_start().len();
        (key, Span::new(line_start + indent, found.span.end as usize))
    } else {
        let colon = found.span.end as usize + src[found.span.end as usize..].find(':').unwrap_or(0);
        (found.text, Span::new(found.span.start as usize, colon + 1))
    };
    let mut diag = Diagnostic::new(
        Code::YamlStyleField,
        file,
        key_span,
        format!("YAML-style `{key}:` is not rollout syntax"),
    )
    .with_label("`key: value` is YAML");
    diag = match suggest::closest(key, ITEM_KEYWORDS) {
        Some(kw) => diag.with_help(format!("write `{kw} ...` without the colon")),
        None => diag.with_help(
            "a `.rollout` file holds `rollout`, `let`, `template`, `import` and `fleet` items; `rollc import` converts YAML rollout specs",
        ),
    };
    diag
}

/// An identifier where a keyword is expected: a misspelt keyword.
fn unknown_word(
    file: FileId,
    found: &Found<'_>,
    block: Option<&OpenBlock<'_>>,
    expected: &BTreeSet<&'static str>,
) -> Option<Diagnostic> {
    let word = found.text;
    if word.is_empty() || !word.chars().next()?.is_ascii_alphabetic() {
        return None;
    }
    let here = block.map_or("top", |b| block_kind(b.head));
    let candidates: &[&str] = match here {
        "top" => ITEM_KEYWORDS,
        "rollout" => ROLLOUT_KEYWORDS,
        "stage" | "defaults" => FIELD_KEYWORDS,
        "template" | "for" => SEQ_WORDS,
        "fleet" => &["label"],
        _ => return None,
    };
    // Only when a statement was expected here, not in the middle of one.
    let statement_expected = expected.iter().any(|e| {
        e.starts_with("an item")
            || *e == "`stage`, `use` or `for`"
            || *e == "a stage field"
            || *e == "a `label` declaration"
            || candidates.iter().any(|c| e.trim_matches('`') == *c)
    });
    if !statement_expected {
        return None;
    }
    let what = match here {
        "top" => "an item".to_string(),
        "stage" | "defaults" => "a stage field".to_string(),
        kind => format!("a `{kind}` statement"),
    };
    let mut diag = Diagnostic::new(
        Code::UnexpectedToken,
        file,
        found.span,
        format!("expected {what}, found `{word}`"),
    )
    .with_label(format!("not {what}"));
    match suggest::closest(word, candidates) {
        Some(best) => {
            diag = diag
                .with_help(format!("did you mean `{best}`?"))
                .with_suggestion(format!("replace with `{best}`"), found.span, best);
        }
        None => {
            diag = diag.with_help(format!("{what} starts with {}", suggest::list(candidates)));
        }
    }
    Some(diag)
}
