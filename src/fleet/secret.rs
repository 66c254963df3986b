//! Argo CD cluster Secrets, as `kubectl get secrets -l argocd.argoproj.io/secret-type=cluster
//! -o yaml` prints them, read without ever touching their credentials.
//!
//! A cluster Secret's `data.config` holds the cluster's credentials (bearer token, client key,
//! ...). rollc must never decode, keep, print or log it. That is guaranteed by the types here,
//! not by care at each use: [`SecretData`] has fields for `name` and `server` only, and its
//! deserializer skips every other entry unread, so a `config` value never reaches a Rust value.
//! The same holds for `metadata`: [`SecretMeta`] keeps `name` and `labels` only, so the
//! `kubectl.kubernetes.io/last-applied-configuration` annotation (which can hold a whole
//! Secret manifest in plain text) is skipped as well.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use super::yaml::{Node, NodeKind, skip_map, skip_seq};

/// The label that marks a Secret as an Argo CD cluster Secret.
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";

/// One item of a Kubernetes `List` / `SecretList`.
#[derive(Debug, Deserialize)]
pub(crate) struct SecretItem {
    /// `Secret` (absent in a `SecretList` straight from the API).
    pub kind: Option<Node>,
    /// Name and labels only.
    pub metadata: Option<Spanned<SecretMeta>>,
    /// Base64 `name` and `server` only.
    pub data: Option<Spanned<SecretData>>,
    /// Plain `name` and `server` only (declarative manifests; overrides `data`).
    #[serde(rename = "stringData")]
    pub string_data: Option<Spanned<SecretData>>,
}

/// The parts of a Secret's `metadata` rollc reads. No `annotations`: see the module docs.
#[derive(Debug, Deserialize)]
pub(crate) struct SecretMeta {
    /// The Secret's own name (for messages).
    pub name: Option<Node>,
    /// The Secret's labels, which become the cluster's labels.
    pub labels: Option<Node>,
}

/// The entries of a Secret's `data` or `stringData` that rollc reads: `name` and `server`.
///
/// There is deliberately no field for `config`, and no catch-all: every other entry is
/// skipped by the parser without being converted into a Rust value.
#[derive(Debug, Default)]
pub(crate) struct SecretData {
    /// `name`: base64 in `data`, plain in `stringData`.
    pub name: Option<Node>,
    /// `server`: base64 in `data`, plain in `stringData`.
    pub server: Option<Node>,
    /// Duplicate `name` / `server` keys: the key that came again, and where.
    pub duplicates: Vec<(&'static str, Location)>,
    /// Set when the value was not a mapping: what it was instead (e.g. "a string").
    pub not_a_map: Option<&'static str>,
}

impl<'de> Deserialize<'de> for SecretData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SecretData, D::Error> {
        deserializer.deserialize_any(SecretDataVisitor)
    }
}

/// Accepts any value so that no serde error (whose text would quote the value) can come out
/// of a Secret's data: anything but a mapping is recorded in [`SecretData::not_a_map`].
struct SecretDataVisitor;

impl SecretDataVisitor {
    fn not_a_map(what: &'static str) -> SecretData {
        SecretData {
            not_a_map: Some(what),
            ..SecretData::default()
        }
    }
}

impl<'de> Visitor<'de> for SecretDataVisitor {
    type Value = SecretData;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretData, A::Error> {
        let mut data = SecretData::default();
        // Keys are classified without keeping their text; values are read only for our
        // two keys and skipped unread otherwise.
        while let Some(key) = map.next_key::<Spanned<KeyName>>()? {
            let slot = match key.value {
                KeyName::Name => Some(("name", &mut data.name)),
                KeyName::Server => Some(("server", &mut data.server)),
                KeyName::Other => None,
            };
            match slot {
                Some((name, slot)) => {
                    let value = map.next_value::<Node>()?;
                    if slot.is_some() {
                        data.duplicates.push((name, key.referenced));
                    } else {
                        *slot = Some(value);
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(data)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<SecretData, A::Error> {
        skip_seq(seq)?;
        Ok(Self::not_a_map("a list"))
    }

    fn visit_unit<E>(self) -> Result<SecretData, E> {
        // `data:` with nothing: no entries.
        Ok(SecretData::default())
    }

    fn visit_none<E>(self) -> Result<SecretData, E> {
        Ok(SecretData::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<SecretData, D::Error> {
        deserializer.deserialize_any(SecretDataVisitor)
    }

    fn visit_bool<E>(self, _: bool) -> Result<SecretData, E> {
        Ok(Self::not_a_map("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<SecretData, E> {
        Ok(Self::not_a_map("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<SecretData, E> {
        Ok(Self::not_a_map("a number"))
    }

    fn visit_i128<E>(self, _: i128) -> Result<SecretData, E> {
        Ok(Self::not_a_map("a number"))
    }

    fn visit_u128<E>(self, _: u128) -> Result<SecretData, E> {
        Ok(Self::not_a_map("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<SecretData, E> {
        Ok(Self::not_a_map("a number"))
    }

    fn visit_str<E>(self, _: &str) -> Result<SecretData, E> {
        Ok(Self::not_a_map("a string"))
    }

    fn visit_bytes<E>(self, _: &[u8]) -> Result<SecretData, E> {
        Ok(Self::not_a_map("a string"))
    }
}

/// A key of `data` / `stringData`, classified without keeping its text.
enum KeyName {
    Name,
    Server,
    Other,
}

impl<'de> Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<KeyName, D::Error> {
        deserializer.deserialize_any(KeyNameVisitor)
    }
}

struct KeyNameVisitor;

impl<'de> Visitor<'de> for KeyNameVisitor {
    type Value = KeyName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyName, E> {
        Ok(match v {
            "name" => KeyName::Name,
            "server" => KeyName::Server,
            _ => KeyName::Other,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<KeyName, A::Error> {
        skip_seq(seq)?;
        Ok(KeyName::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<KeyName, A::Error> {
        skip_map(map)?;
        Ok(KeyName::Other)
    }

    fn visit_unit<E>(self) -> Result<KeyName, E> {
        Ok(KeyName::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<KeyName, E> {
        Ok(KeyName::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<KeyName, E> {
        Ok(KeyName::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<KeyName, E> {
        Ok(KeyName::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<KeyName, E> {
        Ok(KeyName::Other)
    }
}

/// The `kind` of a node when it is a string.
pub(crate) fn kind_str(node: &Node) -> Option<&str> {
    match &node.kind {
        NodeKind::Str(s) => Some(s),
        _ => None,
    }
}
