//! Reading IR back ([`Strategy::from_json`]) for `plan` and `apply`.
//!
//! The version is checked before the shape: a file written by a newer rollc may be shaped
//! differently, and "unknown field `x`" would hide the real problem. Shape errors carry the
//! line and column serde reports. After that, the invariants the types cannot express
//! (percentages up to 100, days of the week, real dates and time zones) are checked, so a
//! hand-edited artifact fails here rather than mid-rollout.

use serde::Deserialize;

use super::*;

/// Why an IR file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum ReadError {
    /// Not JSON, or JSON that is not shaped like the IR.
    #[error("line {line}, column {column}: {message}")]
    #[diagnostic(code(rollc::ir::json))]
    Json {
        /// serde's description, without its location suffix.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A JSON object without a top-level `version`.
    #[error("not a rollc strategy IR: the top-level `version` field is missing")]
    #[diagnostic(
        code(rollc::ir::version),
        help("produce the IR with `rollc compile FILE -o OUT`")
    )]
    MissingVersion,
    /// A version other than [`VERSION`].
    #[error(
        "IR version `{found}` is not supported; this rollc reads `{VERSION}`; recompile the \
         strategy with this rollc"
    )]
    #[diagnostic(code(rollc::ir::version))]
    UnsupportedVersion {
        /// The version found (JSON text when it is not a string).
        found: String,
    },
    /// Well-formed JSON whose values break an invariant of the IR.
    #[error("{at}: {message}")]
    #[diagnostic(code(rollc::ir::invalid))]
    Invalid {
        /// Where, e.g. `rollout "web", stage "canary", batch`.
        at: String,
        /// What is wrong.
        message: String,
    },
}

impl ReadError {
    fn json(err: &serde_json::Error) -> ReadError {
        let text = err.to_string();
        // serde_json appends " at line L column C" to its message; the location is kept in
        // fields instead so callers can point at the file.
        let message = match text.rsplit_once(" at line ") {
            Some((message, _)) if err.line() > 0 => message.to_string(),
            _ => text,
        };
        ReadError::Json {
            message,
            line: err.line(),
            column: err.column(),
        }
    }
}

/// Just enough of the IR to learn its version, whatever else the file holds.
struct Header {
    version: Option<serde_json::Value>,
}

// Hand-written because a derived struct would also accept a JSON array (`[1]` read as
// `version: 1`); only an object is an IR.
impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Header, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Header;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a rollc strategy IR (a JSON object with a `version` field)")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Header, A::Error> {
                let mut version = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "version" {
                        version = Some(map.next_value()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(Header { version })
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl Strategy {
    /// Reads IR written by [`Strategy::to_json`] (or `rollc compile`): the version must be
    /// [`VERSION`], the shape must match exactly (unknown fields are errors), and the values
    /// must satisfy the IR's invariants.
    pub fn from_json(text: &str) -> Result<Strategy, ReadError> {
        let header: Header = serde_json::from_str(text).map_err(|e| ReadError::json(&e))?;
        match header.version {
            None => return Err(ReadError::MissingVersion),
            Some(serde_json::Value::String(v)) if v == VERSION => {}
            Some(serde_json::Value::String(found)) => {
                return Err(ReadError::UnsupportedVersion { found });
            }
            Some(other) => {
                return Err(ReadError::UnsupportedVersion {
                    found: other.to_string(),
                });
            }
        }
        let strategy: Strategy = serde_json::from_str(text).map_err(|e| ReadError::json(&e))?;
        strategy.validate()?;
        Ok(strategy)
    }

    /// Checks what the types leave open.
    fn validate(&self) -> Result<(), ReadError> {
        for rollout in &self.rollouts {
            let at_rollout = format!("rollout \"{}\"", rollout.name);
            if let Target::Apps { selector, .. } = &rollout.target {
                check_selector(selector, &format!("{at_rollout}, target"))?;
            }
            for stage in &rollout.stages {
                let at = |field: &str| format!("{at_rollout}, stage \"{}\", {field}", stage.name);
                check_selector(&stage.select, &at("select"))?;
                if let Some(limit) = &stage.limit {
                    check_count(limit.count, &at("limit"))?;
                }
                check_count(stage.batch, &at("batch"))?;
                check_count(stage.tolerate, &at("tolerate"))?;
                if let Some(requeue) = &stage.requeue {
                    check_selector(&requeue.when, &at("requeue"))?;
                }
                for window in &stage.windows {
                    check_window(window, &at("window"))?;
                }
            }
        }
        Ok(())
    }
}

fn invalid(at: &str, message: impl Into<String>) -> ReadError {
    ReadError::Invalid {
        at: at.to_string(),
        message: message.into(),
    }
}

fn check_count(count: Count, at: &str) -> Result<(), ReadError> {
    match count {
        Count::Percent(p) if p > 100 => Err(invalid(at, format!("{p}% is above 100%"))),
        _ => Ok(()),
    }
}

/// The planner and runtime assume `and`/`or` have operands; an empty `or` would silently
/// match nothing.
fn check_selector(selector: &Selector, at: &str) -> Result<(), ReadError> {
    match selector {
        Selector::Not { inner } => check_selector(inner, at),
        Selector::And { all: items } | Selector::Or { any: items } => {
            if items.is_empty() {
                return Err(invalid(at, "an `and` or `or` selector has no operands"));
            }
            items.iter().try_for_each(|s| check_selector(s, at))
        }
        _ => Ok(()),
    }
}

fn check_window(window: &Window, at: &str) -> Result<(), ReadError> {
    for days in &window.days {
        if days.from > 6 || days.to > 6 {
            return Err(invalid(
                at,
                format!(
                    "day range {}-{} is out of range (Monday = 0 to Sunday = 6)",
                    days.from, days.to
                ),
            ));
        }
    }
    if let Some(minutes) = window.minutes
        && (minutes.from > 1440 || minutes.to > 1440)
    {
        return Err(invalid(
            at,
            format!(
                "minute range {}-{} is out of range (0 to 1440)",
                minutes.from, minutes.to
            ),
        ));
    }
    if let Some(dates) = &window.dates {
        for date in [&dates.from, &dates.to] {
            if !is_date(date) {
                return Err(invalid(
                    at,
                    format!("`{date}` is not a calendar date (`YYYY-MM-DD`)"),
                ));
            }
        }
    }
    if jiff::tz::TimeZone::get(&window.tz).is_err() {
        return Err(invalid(
            at,
            format!("`{}` is not an IANA time zone", window.tz),
        ));
    }
    Ok(())
}

/// `YYYY-MM-DD` naming a real day (jiff alone would also take other ISO 8601 forms).
fn is_date(text: &str) -> bool {
    let shape = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    shape && text.parse::<jiff::civil::Date>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Strategy {
        Strategy {
            version: VERSION.to_string(),
            source: "a.rollout".into(),
            rollouts: vec![Rollout {
                name: "web".into(),
                target: Target::AppSet {
                    name: "web".into(),
                    namespace: "argocd".into(),
                    project: None,
                },
                on_new_revision: NewRevisionPolicy::Queue,
                stages: vec![Stage {
                    windows: vec![Window {
                        mode: WindowMode::Allow,
                        days: vec![DayRange { from: 0, to: 4 }],
                        minutes: Some(MinuteRange {
                            from: 540,
                            to: 1020,
                        }),
                        dates: None,
                        tz: "Europe/London".into(),
                    }],
                    ..Stage::new("all", Selector::All)
                }],
            }],
        }
    }

    #[test]
    fn round_trips() {
        let s = minimal();
        assert_eq!(Strategy::from_json(&s.to_json()), Ok(s));
    }

    #[test]
    fn other_versions_are_refused_before_the_shape_is_looked_at() {
        let text = r#"{"version": "rollc.dev/strategy/v2", "stages": 3}"#;
        let err = Strategy::from_json(text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "IR version `rollc.dev/strategy/v2` is not supported; this rollc reads \
             `rollc.dev/strategy/v1`; recompile the strategy with this rollc"
        );
        let err = Strategy::from_json(r#"{"version": 1}"#).unwrap_err();
        assert_eq!(
            err,
            ReadError::UnsupportedVersion {
                found: "1".to_string()
            }
        );
        assert_eq!(
            Strategy::from_json(r#"{"rollouts": []}"#),
            Err(ReadError::MissingVersion)
        );
    }

    #[test]
    fn shape_errors_have_a_line_and_column() {
        let mut text = minimal().to_json();
        text = text.replace("\"bake_seconds\": 0", "\"bake_seconds\": \"1h\"");
        let line = text
            .lines()
            .position(|l| l.contains("\"1h\""))
            .expect("edited line")
            + 1;
        match Strategy::from_json(&text).unwrap_err() {
            ReadError::Json {
                message, line: l, ..
            } => {
                assert_eq!(l, line);
                assert!(
                    message.starts_with("invalid type: string \"1h\""),
                    "{message}"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = minimal().to_json().replace("\"spread_by\"", "\"spread\"");
        let err = Strategy::from_json(&text).unwrap_err().to_string();
        assert!(err.contains("unknown field `spread`"), "{err}");
        let err = Strategy::from_json("[1]").unwrap_err().to_string();
        assert!(err.contains("expected a rollc strategy IR"), "{err}");
        let err = Strategy::from_json("{\"version\": ")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 1, column 12: EOF"), "{err}");
    }

    #[test]
    fn invariants_are_checked() {
        let mut s = minimal();
        s.rollouts[0].stages[0].batch = Count::Percent(150);
        assert_eq!(
            Strategy::from_json(&s.to_json()).unwrap_err().to_string(),
            "rollout \"web\", stage \"all\", batch: 150% is above 100%"
        );
        let mut s = minimal();
        s.rollouts[0].stages[0].windows[0].tz = "Mars/Olympus".into();
        assert!(
            Strategy::from_json(&s.to_json())
                .unwrap_err()
                .to_string()
                .ends_with("window: `Mars/Olympus` is not an IANA time zone")
        );
        let mut s = minimal();
        s.rollouts[0].stages[0].windows[0].dates = Some(DateRange {
            from: "2026-02-30".into(),
            to: "2026-03-01".into(),
        });
        assert!(Strategy::from_json(&s.to_json()).is_err());
        let mut s = minimal();
        s.rollouts[0].stages[0].select = Selector::Or { any: vec![] };
        assert!(Strategy::from_json(&s.to_json()).is_err());
    }

    #[test]
    fn the_schema_pins_the_version() {
        let schema = schema();
        assert_eq!(schema["properties"]["version"]["const"], VERSION);
    }
}
