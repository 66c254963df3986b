//! Argo CD cluster Secrets as the API server sends them, read without ever touching `config`.
//!
//! The same guarantee as the fleet-file reader (`crate::fleet`'s secret module), for the JSON
//! the API server returns from `list` and `watch`: [`SecretFields`] has fields for `name` and
//! `server` only, and its deserializer classifies each `data` key without keeping it and
//! skips every other value with [`IgnoredAny`], so the bytes of `config` (the cluster's
//! credentials) never become a Rust value, and no serde error can quote them (the
//! deserializer accepts any value and records only *that* something was wrong). The metadata
//! keeps `name`, `namespace`, `labels`, `resourceVersion` and `uid`; `annotations` (where
//! `kubectl.kubernetes.io/last-applied-configuration` can hold the whole Secret in plain
//! text) and `managedFields` are skipped unread as well.
//!
//! The raw response still passes through the HTTP client's buffer (Kubernetes cannot filter
//! fields out of a Secret); kube only logs that text when deserialization fails, which these
//! types never do for well-formed JSON.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::fleet::SECRET_TYPE_LABEL;

/// An Argo CD cluster Secret: its identity and labels, and of its data only `name` and
/// `server`. There is no field that could hold `config`.
#[derive(Clone, Debug, Default)]
pub struct ClusterSecret {
    /// `name`, `namespace`, `labels`, `resourceVersion` and `uid` only.
    pub metadata: ObjectMeta,
    /// `data.name` and `data.server`, decoded.
    pub data: SecretFields,
}

/// The two entries of a cluster Secret's `data` rollc reads, base64-decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretFields {
    /// `data.name`: the Argo CD cluster name.
    pub name: Option<String>,
    /// `data.server`: the cluster's API server URL, as written (see [`normalize_server`]).
    pub server: Option<String>,
    /// Entries that were present but unusable (not a string, not base64, not UTF-8): their
    /// key only (`"name"` or `"server"`), never their value.
    pub invalid: Vec<&'static str>,
}

impl ClusterSecret {
    /// The Secret's own name.
    pub fn secret_name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// The cluster's labels: the Secret's labels without [`SECRET_TYPE_LABEL`].
    pub fn cluster_labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.metadata.labels.clone().unwrap_or_default();
        labels.remove(SECRET_TYPE_LABEL);
        labels
    }

    /// The normalised server URL, if the Secret has one.
    pub fn server(&self) -> Option<String> {
        self.data.server.as_deref().map(normalize_server)
    }
}

/// A server URL as Argo CD compares them: without trailing `/` (Argo CD's `SecretToCluster`
/// strips it) and without surrounding whitespace.
pub fn normalize_server(server: &str) -> String {
    server.trim().trim_end_matches('/').to_string()
}

impl kube::Resource for ClusterSecret {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Secret".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "secrets".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl<'de> Deserialize<'de> for ClusterSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ClusterSecret, D::Error> {
        /// Only the known fields are read; serde skips every other key (`stringData` is
        /// never returned by the API server, `type`, `immutable`, ...) unread.
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            metadata: Option<MetaWire>,
            #[serde(default)]
            data: SecretFields,
        }
        /// No `annotations`, no `managedFields`: see the module docs.
        #[derive(Deserialize)]
        struct MetaWire {
            name: Option<String>,
            namespace: Option<String>,
            labels: Option<BTreeMap<String, String>>,
            #[serde(rename = "resourceVersion")]
            resource_version: Option<String>,
            uid: Option<String>,
        }
        let wire = Wire::deserialize(deserializer)?;
        let meta = wire.metadata.map(|m| ObjectMeta {
            name: m.name,
            namespace: m.namespace,
            labels: m.labels,
            resource_version: m.resource_version,
            uid: m.uid,
            ..ObjectMeta::default()
        });
        Ok(ClusterSecret {
            metadata: meta.unwrap_or_default(),
            data: wire.data,
        })
    }
}

impl<'de> Deserialize<'de> for SecretFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SecretFields, D::Error> {
        deserializer.deserialize_any(FieldsVisitor)
    }
}

/// Accepts any value: a mapping is read for `name` and `server`, anything else is no data.
struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = SecretFields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretFields, A::Error> {
        let mut fields = SecretFields::default();
        while let Some(key) = map.next_key::<Key>()? {
            let (name, slot) = match key {
                Key::Name => ("name", &mut fields.name),
                Key::Server => ("server", &mut fields.server),
                Key::Other => {
                    // `config` and everything else: skipped without being read into a value.
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            match map.next_value::<Base64Text>()?.0 {
                Some(text) => *slot = Some(text),
                None => fields.invalid.push(name),
            }
        }
        Ok(fields)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SecretFields, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(SecretFields::default())
    }

    fn visit_unit<E>(self) -> Result<SecretFields, E> {
        Ok(SecretFields::default())
    }

    fn visit_none<E>(self) -> Result<SecretFields, E> {
        Ok(SecretFields::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<SecretFields, D::Error> {
        d.deserialize_any(FieldsVisitor)
    }

    fn visit_bool<E>(self, _: bool) -> Result<SecretFields, E> {
        Ok(SecretFields::default())
    }

    fn visit_i64<E>(self, _: i64) -> Result<SecretFields, E> {
        Ok(SecretFields::default())
    }

    fn visit_u64<E>(self, _: u64) -> Result<SecretFields, E> {
        Ok(SecretFields::default())
    }

    fn visit_f64<E>(self, _: f64) -> Result<SecretFields, E> {
        Ok(SecretFields::default())
    }

    fn visit_str<E>(self, _: &str) -> Result<SecretFields, E> {
        Ok(SecretFields::default())
    }
}

/// A key of `data`, classified without keeping its text.
enum Key {
    Name,
    Server,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "name" => Key::Name,
                    "server" => Key::Server,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The base64-decoded UTF-8 text of a `name` / `server` value; `None` for anything else
/// (never an error, so no message can quote the value).
struct Base64Text(Option<String>);

impl<'de> Deserialize<'de> for Base64Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Base64Text, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Base64Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_str<E>(self, v: &str) -> Result<Base64Text, E> {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(v.trim())
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok());
                Ok(Base64Text(decoded))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Base64Text, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Base64Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Base64Text, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Base64Text(None))
            }
            fn visit_unit<E>(self) -> Result<Base64Text, E> {
                Ok(Base64Text(None))
            }
            fn visit_none<E>(self) -> Result<Base64Text, E> {
                Ok(Base64Text(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Base64Text, D::Error> {
                d.deserialize_any(TextVisitor)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Base64Text, E> {
                Ok(Base64Text(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Base64Text, E> {
                Ok(Base64Text(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Base64Text, E> {
                Ok(Base64Text(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Base64Text, E> {
                Ok(Base64Text(None))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKER: &str = "TOPSECRET-bearer-token-0xDEADBEEF";

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn secret_json() -> String {
        let config =
            format!(r#"{{"bearerToken":"{MARKER}","tlsClientConfig":{{"insecure":false}}}}"#);
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "cluster-prod-euw1-01",
                "namespace": "argocd",
                "resourceVersion": "42",
                "labels": {
                    "argocd.argoproj.io/secret-type": "cluster",
                    "region": "eu-west-1",
                },
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": format!("{{\"stringData\":{{\"config\":\"{MARKER}\"}}}}"),
                },
                "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:data": {"f:config": {}}}}],
            },
            "type": "Opaque",
            "data": {
                "config": b64(&config),
                "name": b64("prod-euw1-01"),
                "server": b64("https://k.example.com/"),
                "shard": b64("1"),
            },
        })
        .to_string()
    }

    #[test]
    fn decodes_name_server_labels_and_never_config() {
        let text = secret_json();
        // The marker is in the input, in `config` and in the annotation...
        assert!(text.contains(&b64(&format!(
            r#"{{"bearerToken":"{MARKER}","tlsClientConfig":{{"insecure":false}}}}"#
        ))));
        let secret: ClusterSecret = serde_json::from_str(&text).unwrap();
        assert_eq!(secret.data.name.as_deref(), Some("prod-euw1-01"));
        assert_eq!(secret.server().as_deref(), Some("https://k.example.com"));
        assert_eq!(secret.secret_name(), "cluster-prod-euw1-01");
        assert_eq!(
            secret.cluster_labels(),
            BTreeMap::from([("region".to_string(), "eu-west-1".to_string())])
        );
        // ...and nowhere in what was kept: not in Debug output, not in any field.
        let debug = format!("{secret:?} {:#?}", secret);
        assert!(!debug.contains(MARKER), "{debug}");
        assert!(!debug.contains(&b64(MARKER)[..12]));
        assert!(!debug.contains("bearerToken"));
        assert!(!debug.contains("last-applied"));
        // The kept metadata re-serialized holds no annotation either.
        let meta = serde_json::to_string(&secret.metadata).unwrap();
        assert!(!meta.contains(MARKER), "{meta}");
        assert!(!meta.contains("annotations"));
        assert!(!meta.contains("managedFields"));
        // The types have exactly these fields (a `config` field would not compile here).
        let ClusterSecret {
            metadata: _,
            data: _,
        } = &secret;
        let SecretFields {
            name: _,
            server: _,
            invalid,
        } = &secret.data;
        assert!(invalid.is_empty());
    }

    #[test]
    fn odd_values_never_fail_and_never_leak() {
        // Not base64, not a string, a list for `data`: no error (an error message could quote
        // the value), just missing fields.
        let text = serde_json::json!({
            "metadata": {"name": "s"},
            "data": {"name": "%%%not-base64", "server": {"x": MARKER}, "config": [MARKER]},
        })
        .to_string();
        let secret: ClusterSecret = serde_json::from_str(&text).unwrap();
        assert_eq!(secret.data.name, None);
        assert_eq!(secret.data.invalid, vec!["name", "server"]);
        assert!(!format!("{secret:?}").contains(MARKER));
        for data in ["null", "[1,2]", "\"x\"", "3"] {
            let text = format!(r#"{{"metadata":{{"name":"s"}},"data":{data}}}"#);
            let secret: ClusterSecret = serde_json::from_str(&text).unwrap();
            assert_eq!(secret.data, SecretFields::default());
        }
    }

    #[test]
    fn a_list_of_secrets_decodes_through_kube_types() {
        let text = format!(
            r#"{{"kind":"SecretList","apiVersion":"v1","metadata":{{"resourceVersion":"7"}},"items":[{}]}}"#,
            secret_json()
        );
        let list: kube::core::ObjectList<ClusterSecret> = serde_json::from_str(&text).unwrap();
        assert_eq!(list.items.len(), 1);
        assert!(!format!("{list:?}").contains(MARKER));
        let event = format!(r#"{{"type":"MODIFIED","object":{}}}"#, secret_json());
        let event: kube::core::WatchEvent<ClusterSecret> = serde_json::from_str(&event).unwrap();
        let kube::core::WatchEvent::Modified(secret) = event else {
            panic!("a MODIFIED event");
        };
        assert!(!format!("{secret:?}").contains(MARKER));
    }

    #[test]
    fn server_normalisation() {
        assert_eq!(
            normalize_server("https://k.example.com/"),
            "https://k.example.com"
        );
        assert_eq!(
            normalize_server("https://k.example.com//"),
            "https://k.example.com"
        );
        assert_eq!(
            normalize_server(" https://k.example.com:6443 "),
            "https://k.example.com:6443"
        );
        assert_eq!(
            normalize_server("https://kubernetes.default.svc"),
            "https://kubernetes.default.svc"
        );
    }
}
