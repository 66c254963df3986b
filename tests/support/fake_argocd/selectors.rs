//! Label selectors (`k8s.io/apimachinery/pkg/labels` syntax: `=`, `==`, `!=`, `in`,
//! `notin`, `key`, `!key`, `>`, `<`) and field selectors (`metadata.name=`,
//! `metadata.namespace=`, and `type=` on Secrets).

use std::collections::BTreeMap;

use serde_json::Value;

use super::kinds::Kind;

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Greater(i64),
    Less(i64),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector {
    requirements: Vec<(String, Op)>,
}

impl LabelSelector {
    /// Parses `text` as the apiserver does, or says why it cannot.
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut requirements = Vec::new();
        for term in split_terms(text)? {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(term)?);
        }
        Ok(LabelSelector { requirements })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|(key, op)| {
            let value = labels.get(key);
            match op {
                Op::Equals(v) => value == Some(v),
                Op::NotEquals(v) => value != Some(v),
                Op::In(vs) => value.is_some_and(|x| vs.contains(x)),
                Op::NotIn(vs) => value.is_none_or(|x| !vs.contains(x)),
                Op::Exists => value.is_some(),
                Op::DoesNotExist => value.is_none(),
                Op::Greater(n) => value
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x > *n),
                Op::Less(n) => value
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x < *n),
            }
        })
    }

    /// Whether the object's `metadata.labels` match.
    pub fn matches_object(&self, obj: &Value) -> bool {
        if self.requirements.is_empty() {
            return true;
        }
        self.matches(&labels_of(obj))
    }
}

/// The object's `metadata.labels`.
pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Splits at commas outside parentheses.
fn split_terms(text: &str) -> Result<Vec<&str>, String> {
    let mut terms = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!(
                        "unable to parse requirement: unexpected `)` in {text:?}"
                    ));
                }
            }
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!(
            "unable to parse requirement: unclosed `(` in {text:?}"
        ));
    }
    terms.push(&text[start..]);
    Ok(terms)
}

fn valid_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
    });
    name_ok && prefix_ok
}

fn valid_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

fn parse_requirement(term: &str) -> Result<(String, Op), String> {
    let bad = |why: &str| format!("unable to parse requirement: {why}: {term:?}");
    let check_key = |key: &str| {
        if valid_key(key) {
            Ok(key.to_string())
        } else {
            Err(format!(
                "unable to parse requirement: invalid label key {key:?}: name part must consist \
                 of alphanumeric characters, '-', '_' or '.', and must start and end with an \
                 alphanumeric character"
            ))
        }
    };
    let check_value = |value: &str| {
        let value = value.trim();
        if valid_value(value) {
            Ok(value.to_string())
        } else {
            Err(format!(
                "unable to parse requirement: invalid label value: {value:?}: a valid label \
                 must be an empty string or consist of alphanumeric characters, '-', '_' or '.', \
                 and must start and end with an alphanumeric character"
            ))
        }
    };
    if let Some(key) = term.strip_prefix('!') {
        return Ok((check_key(key.trim())?, Op::DoesNotExist));
    }
    for (token, make) in [
        ("==", Op::Equals as fn(String) -> Op),
        ("!=", Op::NotEquals),
        ("=", Op::Equals),
    ] {
        if let Some((key, value)) = term.split_once(token) {
            return Ok((check_key(key.trim())?, make(check_value(value)?)));
        }
    }
    for (token, greater) in [(">", true), ("<", false)] {
        if let Some((key, value)) = term.split_once(token) {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| bad("for 'Gt', 'Lt' operators, the value must be an integer"))?;
            let op = if greater { Op::Greater(n) } else { Op::Less(n) };
            return Ok((check_key(key.trim())?, op));
        }
    }
    // `key in (a, b)` / `key notin (a, b)` / `key`.
    let mut words = term.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or_default().trim();
    let rest = words.next().unwrap_or_default().trim();
    if rest.is_empty() {
        return Ok((check_key(key)?, Op::Exists));
    }
    let (notin, list) = if let Some(list) = rest.strip_prefix("notin") {
        (true, list)
    } else if let Some(list) = rest.strip_prefix("in") {
        (false, list)
    } else {
        return Err(bad(
            "found unexpected operator, expected one of '=', '!=', 'in', 'notin'",
        ));
    };
    let list = list.trim();
    let inner = list
        .strip_prefix('(')
        .and_then(|l| l.strip_suffix(')'))
        .ok_or_else(|| bad("found '', expected: '('"))?;
    let values = inner
        .split(',')
        .map(check_value)
        .collect::<Result<Vec<_>, _>>()?;
    if values.iter().all(String::is_empty) {
        return Err(bad(
            "for 'in', 'notin' operators, values set can't be empty",
        ));
    }
    let key = check_key(key)?;
    Ok((
        key,
        if notin {
            Op::NotIn(values)
        } else {
            Op::In(values)
        },
    ))
}

/// A parsed field selector.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses `text` for resources of `kind`: `metadata.name` and `metadata.namespace` for
    /// every kind, and `type` for Secrets, as the apiserver allows.
    pub fn parse(text: &str, kind: Kind) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        for term in text.split(',') {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{text}'; can't understand '{term}'"
                ));
            };
            let field = field.trim();
            let supported = matches!(field, "metadata.name" | "metadata.namespace")
                || (kind == Kind::Secret && field == "type");
            if !supported {
                return Err(format!("field label not supported: {field}"));
            }
            terms.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector { terms })
    }

    pub fn matches_object(&self, obj: &Value) -> bool {
        self.terms.iter().all(|(field, equal, value)| {
            let actual = match field.as_str() {
                "metadata.name" => obj.pointer("/metadata/name"),
                "metadata.namespace" => obj.pointer("/metadata/namespace"),
                _ => obj.get("type"),
            }
            .and_then(Value::as_str)
            .unwrap_or("");
            (actual == value) == *equal
        })
    }

    /// The name the selector pins with `metadata.name=`, if any.
    pub fn name(&self) -> Option<&str> {
        self.terms
            .iter()
            .find(|(f, eq, _)| f == "metadata.name" && *eq)
            .map(|(_, _, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn operators() {
        let l = labels(&[("env", "prod"), ("ring", "2")]);
        for (sel, want) in [
            ("env=prod", true),
            ("env==prod", true),
            ("env!=prod", false),
            ("tier!=gold", true),
            ("env in (prod, staging)", true),
            ("env notin (prod)", false),
            ("tier notin (gold)", true),
            ("env", true),
            ("!env", false),
            ("!tier", true),
            ("ring>1", true),
            ("ring<2", false),
            ("env=prod,ring in (1,2)", true),
            ("", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&l),
                want,
                "{sel}"
            );
        }
        assert!(LabelSelector::parse("env in prod").is_err());
        assert!(LabelSelector::parse("env in (prod").is_err());
        assert!(LabelSelector::parse("-bad=x").is_err());
    }
}
