//! Reading the raw JSON of the simulator blocks: maps with known keys, durations in the
//! language's syntax, strings and labels, each problem recorded with its place and field.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use serde_json::{Map, Value};

use super::error::{Place, SimProblem};
use crate::ast::ExprKind;
use crate::syntax::literal::{self, LiteralErrorKind};
use crate::syntax::suggest;

/// How durations are written, for help texts.
const DURATION_HELP: &str = "durations are whole numbers with the units `d`, `h`, `m` and `s`, \
                             largest first, e.g. `90s`, `3m`, `1h30m`, `2d`";

/// The longest duration the simulator accepts, in seconds (100 years): every sum of
/// durations stays far inside jiff's range.
const MAX_DURATION_SECS: u64 = 36_500 * 86_400;

/// Collects problems while reading values.
#[derive(Default)]
pub(super) struct Reader {
    pub problems: Vec<SimProblem>,
}

/// What a JSON value is, for messages.
pub(super) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// `prefix.key`, or `key` when there is no prefix.
pub(super) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

impl Reader {
    pub fn problem(
        &mut self,
        place: &Place,
        field: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.problems.push(SimProblem {
            place: place.clone(),
            field: field.to_owned(),
            message: message.into(),
            help,
        });
    }

    /// `value` as a map whose keys are all in `known`; unknown keys are reported with the
    /// closest known one, or with the help `hints` gives for keys that belong elsewhere.
    /// `None` (reported) when it is not a map; `null` reads as an empty map.
    pub fn map<'v>(
        &mut self,
        place: &Place,
        field: &str,
        value: &'v Value,
        known: &[&str],
        hints: &[(&str, &str)],
    ) -> Option<Option<&'v Map<String, Value>>> {
        let map = match value {
            Value::Null => return Some(None),
            Value::Object(map) => map,
            other => {
                self.problem(
                    place,
                    field,
                    format!("must be a map, found {}", describe(other)),
                    Some(format!("write one line per key: {}", suggest::list(known))),
                );
                return None;
            }
        };
        for key in map.keys() {
            if known.contains(&key.as_str()) {
                continue;
            }
            let at = join(field, key);
            if let Some((_, hint)) = hints.iter().find(|(k, _)| k == key) {
                self.problem(
                    place,
                    &at,
                    format!("`{key}` is not allowed here"),
                    Some((*hint).to_owned()),
                );
                continue;
            }
            let help = match suggest::closest(key, known) {
                Some(fix) => format!("did you mean `{fix}`?"),
                None => format!("expected {}", suggest::list(known)),
            };
            self.problem(place, &at, format!("unknown key `{key}`"), Some(help));
        }
        Some(Some(map))
    }

    /// A duration in the language's syntax (`90s`, `3m`, `1h30m`, `2d`), at most 100 years.
    pub fn duration(
        &mut self,
        place: &Place,
        field: &str,
        value: &Value,
    ) -> Option<SignedDuration> {
        let text = match value {
            Value::String(text) => text.trim(),
            Value::Number(n) => {
                self.problem(
                    place,
                    field,
                    format!("the number `{n}` is not a duration: durations need a unit"),
                    Some(format!("write e.g. `{n}s` or `{n}m`; {DURATION_HELP}")),
                );
                return None;
            }
            other => {
                self.problem(
                    place,
                    field,
                    format!("must be a duration like `3m`, found {}", describe(other)),
                    Some(DURATION_HELP.into()),
                );
                return None;
            }
        };
        if text.is_empty() {
            self.problem(
                place,
                field,
                "the duration is empty",
                Some(DURATION_HELP.into()),
            );
            return None;
        }
        if let Some(rest) = text.strip_prefix('-') {
            self.problem(
                place,
                field,
                format!("negative duration `{text}`: times count forward from the run's start"),
                Some(format!("write `{}` or a later time", rest.trim())),
            );
            return None;
        }
        let secs = match literal::classify_number(text) {
            Ok(ExprKind::Duration(secs)) => secs,
            Ok(ExprKind::Int(n)) => {
                self.problem(
                    place,
                    field,
                    format!("`{text}` has no unit"),
                    Some(format!("write e.g. `{n}s` or `{n}m`; {DURATION_HELP}")),
                );
                return None;
            }
            Err(err) if err.kind == LiteralErrorKind::Duration => {
                let help = match err.replacement {
                    Some(fix) if !err.help.contains(&fix) => format!("write `{fix}`; {}", err.help),
                    _ => err.help,
                };
                self.problem(place, field, err.message, Some(help));
                return None;
            }
            Ok(_) | Err(_) => {
                self.problem(
                    place,
                    field,
                    format!("`{text}` is not a duration"),
                    Some(DURATION_HELP.into()),
                );
                return None;
            }
        };
        if secs > MAX_DURATION_SECS {
            self.problem(
                place,
                field,
                format!("duration `{text}` is too long"),
                Some("the simulator takes durations of at most 36500d (100 years)".into()),
            );
            return None;
        }
        // At most 100 years: fits an i64 of seconds.
        Some(SignedDuration::from_secs(secs as i64))
    }

    /// A non-empty string (a revision or a name). Numbers are refused rather than converted:
    /// YAML reads `1e10` or `0755` as numbers that no longer spell the revision.
    pub fn string(&mut self, place: &Place, field: &str, value: &Value) -> Option<String> {
        match value {
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            Value::String(_) => {
                self.problem(place, field, "must not be empty", None);
                None
            }
            Value::Number(n) => {
                self.problem(
                    place,
                    field,
                    format!("must be a string, found the number `{n}`"),
                    Some(format!("quote it: `\"{n}\"`")),
                );
                None
            }
            other => {
                self.problem(
                    place,
                    field,
                    format!("must be a string, found {}", describe(other)),
                    None,
                );
                None
            }
        }
    }

    /// A label map. With `removals`, a `null` value means "remove the label" (`None`);
    /// without, every label needs a value. Booleans and numbers are read as their text, as
    /// the fleet file's own labels are.
    pub fn labels(
        &mut self,
        place: &Place,
        field: &str,
        value: &Value,
        removals: bool,
    ) -> Option<BTreeMap<String, Option<String>>> {
        let map = match value {
            Value::Object(map) => map,
            Value::Null if !removals => return Some(BTreeMap::new()),
            other => {
                self.problem(
                    place,
                    field,
                    format!("must map label keys to values, found {}", describe(other)),
                    Some("write one `key: \"value\"` line per label".into()),
                );
                return None;
            }
        };
        let mut labels = BTreeMap::new();
        let mut ok = true;
        for (key, value) in map {
            let at = join(field, key);
            if let Err(why) = literal::check_label_key(key) {
                self.problem(
                    place,
                    &at,
                    format!("invalid label key `{key}`: {why}"),
                    None,
                );
                ok = false;
                continue;
            }
            let value = match value {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                Value::Null if removals => None,
                Value::Null => {
                    self.problem(
                        place,
                        &at,
                        format!("label `{key}` has no value"),
                        Some("write `\"\"` for an empty value".into()),
                    );
                    ok = false;
                    continue;
                }
                other => {
                    let help = if removals {
                        "write a string, or `null` to remove the label"
                    } else {
                        "write a string"
                    };
                    self.problem(
                        place,
                        &at,
                        format!(
                            "label `{key}` must have a string value, found {}",
                            describe(other)
                        ),
                        Some(help.into()),
                    );
                    ok = false;
                    continue;
                }
            };
            labels.insert(key.clone(), value);
        }
        ok.then_some(labels)
    }

    /// One of `values` (`healthy`, `sync-failed`, ...), with "did you mean" when misspelt
    /// (also for `sync_failed` or `SyncFailed`).
    pub fn choice<'c>(
        &mut self,
        place: &Place,
        field: &str,
        value: &Value,
        what: &str,
        values: &[&'c str],
    ) -> Option<&'c str> {
        let Value::String(text) = value else {
            self.problem(
                place,
                field,
                format!(
                    "must be one of {}, found {}",
                    suggest::list(values),
                    describe(value)
                ),
                None,
            );
            return None;
        };
        if let Some(found) = values.iter().find(|v| **v == text) {
            return Some(found);
        }
        let squash = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .collect()
        };
        let fix = values
            .iter()
            .find(|v| squash(v) == squash(text))
            .copied()
            .or_else(|| suggest::closest(text, values));
        let help = match fix {
            Some(fix) => format!("did you mean `{fix}`?"),
            None => format!("expected {}", suggest::list(values)),
        };
        self.problem(place, field, format!("unknown {what} `{text}`"), Some(help));
        None
    }
}
