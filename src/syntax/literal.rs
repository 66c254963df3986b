//! Classifying and decoding literal tokens: numbers, durations, percents, strings, label keys.
//!
//! The grammar reads number-like tokens loosely so that these functions can say precisely
//! what is wrong with `30min`, `1.5h` or `120%` and offer the fix.

use crate::ast::ExprKind;

/// Why a number-like token is not a valid literal: (message, help, suggested replacement).
#[derive(Debug, PartialEq, Eq)]
pub struct LiteralError {
    /// Which code the problem has.
    pub kind: LiteralErrorKind,
    /// The diagnostic message.
    pub message: String,
    /// How to fix it.
    pub help: String,
    /// A replacement for the whole token, when one is certain.
    pub replacement: Option<String>,
}

/// The three families of malformed number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralErrorKind {
    /// Maps to R0008.
    Duration,
    /// Maps to R0009.
    Percent,
    /// Maps to R0010.
    Number,
}

const UNIT_HELP: &str = "durations are whole numbers with the units `d`, `h`, `m` and `s`, largest first, e.g. `90s`, `30m`, `1h30m`, `2d`";

/// Seconds per unit, largest first.
const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// Classifies a `number` token: integer, decimal, percent or duration.
pub fn classify_number(text: &str) -> Result<ExprKind, LiteralError> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, rest) = text.split_at(digits_end);
    if rest.is_empty() {
        return digits.parse::<u64>().map(ExprKind::Int).map_err(|_| {
            number_error(
                format!("integer `{text}` is too large"),
                "the largest integer is 18446744073709551615".into(),
                None,
            )
        });
    }
    if let Some(percent) = rest.strip_prefix('%') {
        return classify_percent(text, digits, percent);
    }
    if let Some(fraction) = rest.strip_prefix('.') {
        return classify_decimal(text, digits, fraction);
    }
    classify_duration(text)
}

fn number_error(message: String, help: String, replacement: Option<String>) -> LiteralError {
    LiteralError {
        kind: LiteralErrorKind::Number,
        message,
        help,
        replacement,
    }
}

fn classify_percent(text: &str, digits: &str, after: &str) -> Result<ExprKind, LiteralError> {
    if !after.is_empty() {
        return Err(LiteralError {
            kind: LiteralErrorKind::Percent,
            message: format!("invalid percentage `{text}`"),
            help: "a percentage is a whole number from 0 to 100 followed by `%`, e.g. `25%`".into(),
            replacement: Some(format!("{digits}%")),
        });
    }
    match digits.parse::<u64>() {
        Ok(value) if value <= 100 => Ok(ExprKind::Percent(value as u8)),
        _ => Err(LiteralError {
            kind: LiteralErrorKind::Percent,
            message: format!("percentage `{text}` is more than 100%"),
            help: "a percentage of the stage's clusters is at most `100%`; for an absolute number of clusters drop the `%`".into(),
            // Not a fix: 100% and a count of 120 mean different things; the author decides.
            replacement: None,
        }),
    }
}

fn classify_decimal(text: &str, digits: &str, after_dot: &str) -> Result<ExprKind, LiteralError> {
    let frac_end = after_dot
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after_dot.len());
    let (fraction, unit) = after_dot.split_at(frac_end);
    if unit.is_empty() || unit.starts_with('.') {
        return text.parse::<f64>().map(ExprKind::Float).map_err(|_| {
            number_error(
                format!("invalid number `{text}`"),
                "write a decimal like `0.01`".into(),
                None,
            )
        });
    }
    if unit == "%" {
        return Err(LiteralError {
            kind: LiteralErrorKind::Percent,
            message: format!("percentage `{text}` has a fraction"),
            help: format!("percentages are whole numbers from 0% to 100%, e.g. `{digits}%`"),
            replacement: None,
        });
    }
    // `1.5h`: a fractional duration. Convert it exactly when possible.
    let unit_secs = match UNITS
        .iter()
        .find(|(u, _)| unit.len() == 1 && unit.starts_with(*u))
    {
        Some(&(_, secs)) => Some(secs),
        None => {
            normalise_unit(unit).map(|u| UNITS.iter().find(|(c, _)| *c == u).map_or(1, |x| x.1))
        }
    };
    let replacement = unit_secs.and_then(|secs| {
        let whole: u64 = digits.parse().ok()?;
        let scale = 10u64.checked_pow(fraction.len() as u32)?;
        let frac: u64 = fraction.parse().ok()?;
        let total = whole
            .checked_mul(secs)?
            .checked_add(frac.checked_mul(secs)? / scale)?;
        (frac * secs)
            .is_multiple_of(scale)
            .then(|| format_duration(total))
    });
    Err(LiteralError {
        kind: LiteralErrorKind::Duration,
        message: format!("duration `{text}` has a fraction"),
        help: match &replacement {
            Some(r) => format!("durations are whole numbers of units: write `{r}`"),
            None => UNIT_HELP.into(),
        },
        replacement,
    })
}

/// Long or capitalised unit spellings people write (`min`, `hours`, `S`).
fn normalise_unit(unit: &str) -> Option<char> {
    let lower = unit.to_ascii_lowercase();
    let unit = match lower.as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 's',
        "m" | "min" | "mins" | "minute" | "minutes" => 'm',
        "h" | "hr" | "hrs" | "hour" | "hours" => 'h',
        "d" | "day" | "days" => 'd',
        _ => return None,
    };
    Some(unit)
}

fn classify_duration(text: &str) -> Result<ExprKind, LiteralError> {
    let mut total: u64 = 0;
    let mut last_rank = None;
    let mut rest = text;
    let mut fixed = String::new();
    let mut fixable = true;
    let mut problem: Option<String> = None;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, after) = rest.split_at(digits_end);
        let unit_end = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        rest = next;
        if digits.is_empty() || unit.is_empty() {
            fixable = false;
            problem.get_or_insert_with(|| format!("`{text}` is not a duration"));
            continue;
        }
        let exact = UNITS
            .iter()
            .position(|(u, _)| unit.len() == 1 && unit.starts_with(*u));
        let rank = match exact {
            Some(rank) => rank,
            None => match normalise_unit(unit) {
                Some(u) => {
                    problem.get_or_insert_with(|| {
                        format!("unknown duration unit `{unit}` in `{text}`")
                    });
                    UNITS.iter().position(|(c, _)| *c == u).unwrap_or(3)
                }
                None => {
                    fixable = false;
                    problem.get_or_insert_with(|| {
                        format!("unknown duration unit `{unit}` in `{text}`")
                    });
                    continue;
                }
            },
        };
        if last_rank.is_some_and(|last| rank <= last) {
            problem.get_or_insert_with(|| {
                format!(
                    "units in duration `{text}` must go from largest to smallest, each at most once"
                )
            });
            fixable = false;
        }
        last_rank = Some(rank);
        let value: Option<u64> = digits.parse().ok();
        match value
            .and_then(|v| v.checked_mul(UNITS[rank].1))
            .and_then(|v| total.checked_add(v))
        {
            Some(t) => total = t,
            None => {
                return Err(LiteralError {
                    kind: LiteralErrorKind::Duration,
                    message: format!("duration `{text}` is too long"),
                    help: UNIT_HELP.into(),
                    replacement: None,
                });
            }
        }
        fixed.push_str(digits);
        fixed.push(UNITS[rank].0);
    }
    match problem {
        None => Ok(ExprKind::Duration(total)),
        Some(message) => {
            let replacement = fixable.then_some(fixed);
            Err(LiteralError {
                kind: LiteralErrorKind::Duration,
                message,
                help: match &replacement {
                    Some(r) => format!("write `{r}`; {UNIT_HELP}"),
                    None => UNIT_HELP.into(),
                },
                replacement,
            })
        }
    }
}

/// Formats seconds the way the language writes durations (`1h30m`, `0s`).
pub fn format_duration(mut secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        if secs >= size {
            out.push_str(&(secs / size).to_string());
            out.push(unit);
            secs %= size;
        }
    }
    out
}

/// A problem inside a string literal's escape.
#[derive(Debug, PartialEq, Eq)]
pub struct EscapeError {
    /// The message.
    pub message: String,
}

/// Decodes one `escape` token (`\n`, `\u{1F600}`, ...).
pub fn decode_escape(token: &str) -> Result<char, EscapeError> {
    let body = &token[1..];
    match body {
        "n" => Ok('\n'),
        "t" => Ok('\t'),
        "r" => Ok('\r'),
        "\\" => Ok('\\'),
        "\"" => Ok('"'),
        "$" => Ok('$'),
        "0" => Ok('\0'),
        _ if body.starts_with("u{") => {
            let hex: String = body[2..body.len() - 1]
                .chars()
                .filter(|&c| c != '_')
                .collect();
            if hex.is_empty() || hex.len() > 6 {
                return Err(EscapeError {
                    message: format!("`{token}` needs 1 to 6 hex digits"),
                });
            }
            u32::from_str_radix(&hex, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| EscapeError {
                    message: format!("`{token}` is not a Unicode scalar value"),
                })
        }
        _ => Err(EscapeError {
            message: format!("unknown escape `{token}`"),
        }),
    }
}

/// Checks a Kubernetes label key: optional DNS-subdomain prefix and `/`, then a name of at
/// most 63 characters of alphanumerics, `-`, `_` and `.`, starting and ending alphanumeric.
pub fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() || prefix.len() > 253 {
            return Err(
                "the prefix before `/` must be a DNS subdomain of 1 to 253 characters".into(),
            );
        }
        let ok = prefix.split('.').all(|part| {
            !part.is_empty()
                && part.len() <= 63
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
        if !ok {
            return Err(format!(
                "prefix `{prefix}` is not a lower-case DNS subdomain"
            ));
        }
    }
    if name.is_empty() || name.len() > 63 {
        return Err("the name part must be 1 to 63 characters".into());
    }
    let bytes = name.as_bytes();
    let alnum = |b: u8| b.is_ascii_alphanumeric();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err("the name part must start and end with a letter or digit".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "`{bad}` is not allowed: use letters, digits, `-`, `_` and `.`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(text: &str) -> (LiteralErrorKind, Option<String>) {
        let err = classify_number(text).unwrap_err();
        (err.kind, err.replacement)
    }

    #[test]
    fn valid_literals() {
        assert_eq!(classify_number("42"), Ok(ExprKind::Int(42)));
        assert_eq!(classify_number("25%"), Ok(ExprKind::Percent(25)));
        assert_eq!(classify_number("0.01"), Ok(ExprKind::Float(0.01)));
        assert_eq!(classify_number("90s"), Ok(ExprKind::Duration(90)));
        assert_eq!(classify_number("1h30m"), Ok(ExprKind::Duration(5400)));
        assert_eq!(classify_number("2d"), Ok(ExprKind::Duration(172_800)));
    }

    #[test]
    fn malformed_literals_get_fixes() {
        assert_eq!(
            fix("30min"),
            (LiteralErrorKind::Duration, Some("30m".into()))
        );
        assert_eq!(
            fix("1.5h"),
            (LiteralErrorKind::Duration, Some("1h30m".into()))
        );
        assert_eq!(
            fix("2hours"),
            (LiteralErrorKind::Duration, Some("2h".into()))
        );
        // Out-of-range percentages get help, not a fix that would change the meaning.
        assert_eq!(fix("120%"), (LiteralErrorKind::Percent, None));
        assert_eq!(fix("12.5%"), (LiteralErrorKind::Percent, None));
        assert_eq!(fix("30m1h").0, LiteralErrorKind::Duration);
        assert_eq!(fix("5x"), (LiteralErrorKind::Duration, None));
        assert_eq!(fix("99999999999999999999").0, LiteralErrorKind::Number);
    }

    #[test]
    fn durations_format_back() {
        assert_eq!(format_duration(5400), "1h30m");
        assert_eq!(format_duration(90), "1m30s");
    }

    #[test]
    fn label_keys() {
        assert!(check_label_key("topology.kubernetes.io/region").is_ok());
        assert!(check_label_key("app.kubernetes.io/part-of").is_ok());
        assert!(check_label_key("-bad").is_err());
        assert!(check_label_key("Upper.Case/x").is_err());
        assert!(check_label_key("a b").is_err());
    }
}
