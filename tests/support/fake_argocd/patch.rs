//! JSON merge patches (RFC 7386) and JSON patches (RFC 6902).

use serde_json::Value;

/// Applies a JSON merge patch: objects merge recursively, `null` removes, anything else
/// replaces (arrays included).
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Applies a JSON patch, or says which operation failed and why.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let ops = patch
        .as_array()
        .ok_or("the JSON patch must be an array of operations")?;
    for (i, op) in ops.iter().enumerate() {
        apply_op(target, op).map_err(|e| format!("operation {i} ({op}): {e}"))?;
    }
    Ok(())
}

fn field<'a>(op: &'a Value, name: &str) -> Result<&'a Value, String> {
    op.get(name).ok_or_else(|| format!("missing `{name}`"))
}

fn pointer_tokens(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("invalid JSON pointer {path:?}"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn apply_op(target: &mut Value, op: &Value) -> Result<(), String> {
    let name = field(op, "op")?.as_str().ok_or("`op` is not a string")?;
    let path = field(op, "path")?
        .as_str()
        .ok_or("`path` is not a string")?;
    match name {
        "add" => add(target, path, field(op, "value")?.clone()),
        "remove" => remove(target, path).map(|_| ()),
        "replace" => {
            let slot = target.pointer_mut(path).ok_or_else(|| {
                format!("replace operation does not apply: doc is missing key: {path}")
            })?;
            *slot = field(op, "value")?.clone();
            Ok(())
        }
        "move" => {
            let from = field(op, "from")?
                .as_str()
                .ok_or("`from` is not a string")?;
            let value = remove(target, from)?;
            add(target, path, value)
        }
        "copy" => {
            let from = field(op, "from")?
                .as_str()
                .ok_or("`from` is not a string")?;
            let value = target.pointer(from).cloned().ok_or_else(|| {
                format!("copy operation does not apply: doc is missing from path: {from}")
            })?;
            add(target, path, value)
        }
        "test" => {
            let want = field(op, "value")?;
            match target.pointer(path) {
                Some(have) if have == want => Ok(()),
                _ => Err(format!("testing value {path} failed: test failed")),
            }
        }
        other => Err(format!("unexpected operation {other:?}")),
    }
}

fn split_parent(path: &str) -> Result<(String, String), String> {
    let mut tokens = pointer_tokens(path)?;
    let last = tokens
        .pop()
        .ok_or_else(|| "the root cannot be added to or removed".to_string())?;
    let parent = tokens
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect::<String>();
    Ok((parent, last))
}

fn add(target: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *target = value;
        return Ok(());
    }
    let (parent, last) = split_parent(path)?;
    let parent_value = target
        .pointer_mut(&parent)
        .ok_or_else(|| format!("add operation does not apply: doc is missing path: {path}"))?;
    match parent_value {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            if last == "-" {
                items.push(value);
                return Ok(());
            }
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid array index {last:?}"))?;
            if i > items.len() {
                return Err(format!(
                    "add operation does not apply: index {i} out of bounds"
                ));
            }
            items.insert(i, value);
            Ok(())
        }
        _ => Err(format!(
            "add operation does not apply: {parent} is not a container"
        )),
    }
}

fn remove(target: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split_parent(path)?;
    let missing = || format!("remove operation does not apply: doc is missing path: {path}");
    match target.pointer_mut(&parent).ok_or_else(missing)? {
        Value::Object(map) => map.remove(&last).ok_or_else(missing),
        Value::Array(items) => {
            let i: usize = last.parse().map_err(|_| missing())?;
            if i < items.len() {
                Ok(items.remove(i))
            } else {
                Err(missing())
            }
        }
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "d": [1, 2], "e": 1});
        merge(
            &mut doc,
            &json!({"a": {"b": null, "x": 3}, "d": [3], "e": null}),
        );
        assert_eq!(doc, json!({"a": {"c": 2, "x": 3}, "d": [3]}));
    }

    #[test]
    fn json_patches() {
        let mut doc = json!({"a": {"b": [1, 2]}, "c": "x"});
        json_patch(
            &mut doc,
            &json!([
                {"op": "test", "path": "/c", "value": "x"},
                {"op": "add", "path": "/a/b/-", "value": 3},
                {"op": "replace", "path": "/c", "value": "y"},
                {"op": "add", "path": "/a~1b", "value": true},
                {"op": "remove", "path": "/a/b/0"},
                {"op": "copy", "from": "/c", "path": "/d"},
                {"op": "move", "from": "/d", "path": "/e"},
            ]),
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({"a": {"b": [2, 3]}, "c": "y", "a/b": true, "e": "y"})
        );
        assert!(
            json_patch(
                &mut doc,
                &json!([{"op": "test", "path": "/c", "value": "z"}])
            )
            .is_err()
        );
        assert!(
            json_patch(
                &mut doc,
                &json!([{"op": "replace", "path": "/zz", "value": 1}])
            )
            .is_err()
        );
    }
}
