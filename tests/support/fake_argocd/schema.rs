//! Structural schema handling for Applications, as the apiextensions apiserver does it for
//! a custom resource: unknown fields are pruned (silently dropped), `null` in a
//! non-nullable field is dropped, and values of the wrong type or missing required fields
//! are refused with 422 `Invalid`.
//!
//! Only the top-level field set and the `operation` field are checked, against the schema
//! copied from the real CRD (application-operation-schema.json beside this file): those
//! are what a client that starts syncs writes. `spec` and `status` are stored as given.

use std::sync::OnceLock;

use serde_json::Value;

fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        serde_json::from_str(include_str!("application-operation-schema.json"))
            .expect("the bundled schema is JSON")
    })
}

/// Prunes and checks an Application; returns the validation errors as
/// `(field path, message)`.
pub fn application(obj: &mut Value) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    let schema = schema();
    if let Some(map) = obj.as_object_mut() {
        let allowed: Vec<&str> = schema["topLevelProperties"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        map.retain(|k, _| allowed.contains(&k.as_str()));
        if map.get("operation").is_some_and(Value::is_null) {
            map.remove("operation");
        }
        if let Some(op) = map.get_mut("operation") {
            check(op, &schema["operation"], "operation", &mut errors);
        }
    }
    errors
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check(value: &mut Value, schema: &Value, path: &str, errors: &mut Vec<(String, String)>) {
    let int_or_string = schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let have = type_name(value);
    let type_ok = if int_or_string {
        matches!(have, "integer" | "string")
    } else {
        match schema.get("type").and_then(Value::as_str) {
            None => true,
            Some("number") => matches!(have, "integer" | "number"),
            Some(want) => want == have,
        }
    };
    if !type_ok {
        let want = if int_or_string {
            "integer or string".to_string()
        } else {
            schema["type"].as_str().unwrap_or_default().to_string()
        };
        errors.push((
            path.to_string(),
            format!("Invalid value: \"{have}\": {path} in body must be of type {want}: \"{have}\""),
        ));
        return;
    }
    let preserve = schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let nullable = |s: &Value| s.get("nullable").and_then(Value::as_bool).unwrap_or(false);
            map.retain(|key, v| {
                let sub = properties.and_then(|p| p.get(key)).or(additional);
                match sub {
                    Some(sub) => !v.is_null() || nullable(sub),
                    None => preserve,
                }
            });
            for (key, v) in map.iter_mut() {
                if let Some(sub) = properties.and_then(|p| p.get(key)).or(additional) {
                    check(v, sub, &format!("{path}.{key}"), errors);
                }
            }
            for required in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !map.contains_key(required) {
                    errors.push((format!("{path}.{required}"), "Required value".to_string()));
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    check(item, item_schema, &format!("{path}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prunes_unknown_fields_and_checks_types() {
        let mut app = json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "a"},
            "bogus": 1,
            "operation": {
                "sync": {"revision": "abc", "pinnedRevision": "typo", "prune": null},
                "initiatedBy": {"username": "rollc"},
            },
        });
        assert!(application(&mut app).is_empty());
        assert_eq!(
            app,
            json!({
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": "a"},
                "operation": {"sync": {"revision": "abc"}, "initiatedBy": {"username": "rollc"}},
            })
        );
        let mut bad = json!({"operation": {"sync": {"revision": 42}, "info": [{"name": "x"}]}});
        let errors = application(&mut bad);
        assert_eq!(
            errors,
            vec![
                (
                    "operation.info[0].value".to_string(),
                    "Required value".to_string()
                ),
                (
                    "operation.sync.revision".to_string(),
                    "Invalid value: \"integer\": operation.sync.revision in body must be of type string: \"integer\"".to_string()
                ),
            ]
        );
    }
}
