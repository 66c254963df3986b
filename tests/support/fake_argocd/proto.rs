//! Just enough of the Kubernetes protobuf encoding to read the two request bodies kubectl
//! always sends as protobuf and this fake answers: SelfSubjectAccessReview and
//! SelfSubjectRulesReview (`kubectl auth can-i`). Answers are JSON, which kubectl also
//! accepts. Other protobuf bodies get 415.
//!
//! Field numbers from k8s.io/api/authorization/v1 (`protobuf:"bytes,N,..."` tags):
//! SelfSubject*Review {metadata 1, spec 2}; SelfSubjectAccessReviewSpec
//! {resourceAttributes 1, nonResourceAttributes 2}; ResourceAttributes {namespace 1,
//! verb 2, group 3, version 4, resource 5, subresource 6, name 7}; NonResourceAttributes
//! {path 1, verb 2}; SelfSubjectRulesReviewSpec {namespace 1}.

use serde_json::{Map, Value, json};

/// The magic prefix of a protobuf-encoded Kubernetes object.
const MAGIC: &[u8] = b"k8s\0";

/// Length-delimited fields of a message, by field number (other wire types skipped).
fn fields(mut bytes: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let (number, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                varint(&mut bytes)?;
            }
            1 => bytes = bytes.get(8..)?,
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).ok()?;
                out.push((number, bytes.get(..len)?));
                bytes = &bytes[len..];
            }
            5 => bytes = bytes.get(4..)?,
            _ => return None,
        }
    }
    Some(out)
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn field<'a>(fields: &[(u64, &'a [u8])], number: u64) -> Option<&'a [u8]> {
    fields
        .iter()
        .rev()
        .find(|(n, _)| *n == number)
        .map(|(_, b)| *b)
}

fn strings(bytes: &[u8], names: &[(u64, &str)]) -> Option<Value> {
    let fields = fields(bytes)?;
    let mut map = Map::new();
    for (number, name) in names {
        if let Some(b) = field(&fields, *number) {
            map.insert(name.to_string(), json!(String::from_utf8_lossy(b)));
        }
    }
    Some(Value::Object(map))
}

/// Decodes a SelfSubjectAccessReview or SelfSubjectRulesReview from its protobuf
/// envelope into its JSON form; `None` for anything else.
pub fn decode_review(body: &[u8]) -> Option<Value> {
    let unknown = fields(body.strip_prefix(MAGIC)?)?;
    let type_meta = strings(field(&unknown, 1)?, &[(1, "apiVersion"), (2, "kind")])?;
    let raw = fields(field(&unknown, 2)?)?;
    let spec = fields(field(&raw, 2).unwrap_or_default())?;
    let kind = type_meta.get("kind").and_then(Value::as_str)?;
    let spec = match kind {
        "SelfSubjectAccessReview" => {
            let mut s = Map::new();
            if let Some(ra) = field(&spec, 1) {
                s.insert(
                    "resourceAttributes".into(),
                    strings(
                        ra,
                        &[
                            (1, "namespace"),
                            (2, "verb"),
                            (3, "group"),
                            (4, "version"),
                            (5, "resource"),
                            (6, "subresource"),
                            (7, "name"),
                        ],
                    )?,
                );
            }
            if let Some(nra) = field(&spec, 2) {
                s.insert(
                    "nonResourceAttributes".into(),
                    strings(nra, &[(1, "path"), (2, "verb")])?,
                );
            }
            Value::Object(s)
        }
        "SelfSubjectRulesReview" => {
            strings(field(&raw, 2).unwrap_or_default(), &[(1, "namespace")])?
        }
        _ => return None,
    };
    Some(json!({
        "apiVersion": type_meta.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": kind,
        "spec": spec,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(fields: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, bytes) in fields {
            out.push(((n << 3) | 2) as u8);
            out.push(bytes.len() as u8);
            out.extend_from_slice(bytes);
        }
        out
    }

    #[test]
    fn decodes_an_access_review() {
        let attrs = message(&[
            (1, b"argocd".to_vec()),
            (2, b"patch".to_vec()),
            (3, b"argoproj.io".to_vec()),
            (5, b"applications".to_vec()),
        ]);
        let spec = message(&[(1, attrs)]);
        let raw = message(&[(1, Vec::new()), (2, spec)]);
        let type_meta = message(&[
            (1, b"authorization.k8s.io/v1".to_vec()),
            (2, b"SelfSubjectAccessReview".to_vec()),
        ]);
        let mut body = MAGIC.to_vec();
        body.extend(message(&[(1, type_meta), (2, raw)]));
        assert_eq!(
            decode_review(&body).unwrap(),
            json!({
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {
                    "namespace": "argocd", "verb": "patch", "group": "argoproj.io", "resource": "applications",
                }},
            })
        );
    }
}
