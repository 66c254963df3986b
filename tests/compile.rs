//! `rollc compile` end to end: every example compiles to IR that matches the committed JSON
//! Schema and reads back unchanged; templates, lets and loops are expanded, defaults applied
//! and selectors normalised; output is byte-identical across runs and between `-o` and
//! stdout; exit codes and diagnostics follow `rollc check`.
//!
//! `ROLLC_UPDATE_SCHEMA=1 cargo test --test compile` rewrites `docs/ir.schema.json` after a
//! change to the IR types.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rollc::ir::{self, Strategy};
use serde_json::{Value, json};
use tempfile::TempDir;

// ----- helpers -----

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn examples_dir() -> PathBuf {
    manifest_dir().join("examples")
}

/// The example files, sorted, as names relative to `examples/`.
fn examples() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(examples_dir())
        .expect("examples/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rollout"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no examples found");
    names
}

/// Runs `rollc ARGS` in `dir` (stdout is a pipe, so `auto` colour is off).
fn rollc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollc"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("run rollc")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// Asserts the exit code, showing both streams when it differs.
#[track_caller]
fn assert_exit(out: &Output, expected: i32) {
    assert_eq!(
        out.status.code(),
        Some(expected),
        "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A temporary directory holding `files` (relative path, contents).
fn project(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, contents) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }
    dir
}

/// `rollc compile FILE` in `dir`, which must succeed: the IR text.
#[track_caller]
fn compile_text(dir: &Path, file: &str) -> String {
    let out = rollc_in(dir, &["compile", "--color", "never", file]);
    assert_exit(&out, 0);
    stdout(&out)
}

/// `rollc compile FILE` in `dir`, parsed.
#[track_caller]
fn compile(dir: &Path, file: &str) -> Value {
    let text = compile_text(dir, file);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{text}"))
}

/// The IR of one `.rollout` source compiled on its own.
#[track_caller]
fn compile_source(source: &str) -> Value {
    let dir = project(&[("a.rollout", source)]);
    compile(dir.path(), "a.rollout")
}

/// The stages of the first rollout.
fn stages(ir: &Value) -> &Vec<Value> {
    ir["rollouts"][0]["stages"].as_array().expect("stages")
}

/// The stage called `name` in the first rollout.
#[track_caller]
fn stage<'a>(ir: &'a Value, name: &str) -> &'a Value {
    stages(ir)
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stage `{name}`"))
}

fn stage_names(ir: &Value) -> Vec<&str> {
    stages(ir)
        .iter()
        .map(|s| s["name"].as_str().expect("name"))
        .collect()
}

/// `label == value` in IR form.
fn eq(label: &str, value: &str) -> Value {
    json!({"op": "eq", "key": {"attr": "label", "key": label}, "value": value})
}

// ----- a JSON Schema checker for the subset schemars emits -----

/// Checks `value` against `schema` (`root` resolves `$ref`s). Only the keywords schemars
/// writes for the IR are understood; any other keyword panics, so a new construct in the
/// types cannot pass unchecked.
fn conforms(value: &Value, schema: &Value, root: &Value, at: &str) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        return match schema {
            Value::Bool(true) => Ok(()),
            _ => Err(format!("{at}: schema `{schema}` rejects everything")),
        };
    };
    for (keyword, rule) in schema {
        match keyword.as_str() {
            // Annotations: they say nothing about validity (`format` only annotates in
            // draft 2020-12; the ranges it implies are `minimum`/`maximum`).
            "$schema" | "title" | "description" | "$defs" | "format" => {}
            "$ref" => {
                let name = rule
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .unwrap_or_else(|| panic!("unsupported $ref {rule}"));
                conforms(value, &root["$defs"][name], root, at)?;
            }
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::String(t) => vec![t],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => panic!("unsupported type {rule}"),
                };
                let ok = types.iter().any(|t| match *t {
                    "null" => value.is_null(),
                    "boolean" => value.is_boolean(),
                    "integer" => value.is_u64() || value.is_i64(),
                    "number" => value.is_number(),
                    "string" => value.is_string(),
                    "array" => value.is_array(),
                    "object" => value.is_object(),
                    other => panic!("unsupported type {other}"),
                });
                if !ok {
                    return Err(format!("{at}: `{value}` is not of type {rule}"));
                }
            }
            "const" if value != rule => {
                return Err(format!("{at}: `{value}` is not `{rule}`"));
            }
            "const" => {}
            "enum" if !rule.as_array().is_some_and(|a| a.contains(value)) => {
                return Err(format!("{at}: `{value}` is not one of {rule}"));
            }
            "enum" => {}
            "oneOf" | "anyOf" => {
                let passing = rule
                    .as_array()
                    .expect("a list of schemas")
                    .iter()
                    .filter(|s| conforms(value, s, root, at).is_ok())
                    .count();
                let ok = if keyword == "oneOf" {
                    passing == 1
                } else {
                    passing >= 1
                };
                if !ok {
                    return Err(format!(
                        "{at}: `{value}` matches {passing} of the {keyword} alternatives"
                    ));
                }
            }
            "properties" => {
                if let Some(object) = value.as_object() {
                    for (key, sub) in rule.as_object().expect("properties") {
                        if let Some(v) = object.get(key) {
                            conforms(v, sub, root, &format!("{at}.{key}"))?;
                        }
                    }
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for key in rule.as_array().expect("required") {
                        let key = key.as_str().expect("a key");
                        if !object.contains_key(key) {
                            return Err(format!("{at}: missing `{key}`"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(object) = value.as_object() {
                    let known = schema.get("properties").and_then(Value::as_object);
                    for (key, v) in object {
                        if known.is_some_and(|k| k.contains_key(key)) {
                            continue;
                        }
                        match rule {
                            Value::Bool(false) => {
                                return Err(format!("{at}: unexpected `{key}`"));
                            }
                            sub => conforms(v, sub, root, &format!("{at}.{key}"))?,
                        }
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, v) in items.iter().enumerate() {
                        conforms(v, rule, root, &format!("{at}[{i}]"))?;
                    }
                }
            }
            "minimum" | "maximum" => {
                if let (Some(v), Some(bound)) = (value.as_f64(), rule.as_f64()) {
                    let ok = if keyword == "minimum" {
                        v >= bound
                    } else {
                        v <= bound
                    };
                    if !ok {
                        return Err(format!("{at}: {v} breaks {keyword} {bound}"));
                    }
                }
            }
            "pattern" => {
                // The only pattern in the IR is the date shape; checked by hand since there
                // is no regex crate among the dependencies.
                assert_eq!(rule, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "unsupported pattern");
                if let Some(s) = value.as_str() {
                    let shape = s.len() == 10
                        && s.bytes().enumerate().all(|(i, b)| match i {
                            4 | 7 => b == b'-',
                            _ => b.is_ascii_digit(),
                        });
                    if !shape {
                        return Err(format!("{at}: `{s}` is not YYYY-MM-DD"));
                    }
                }
            }
            other => panic!("the test's schema checker does not understand `{other}`"),
        }
    }
    Ok(())
}

/// Checks `ir` against the committed schema.
fn conforms_to_schema(ir: &Value) -> Result<(), String> {
    let schema = ir::schema();
    conforms(ir, &schema, &schema, "$")
}

// ----- the schema -----

fn schema_path() -> PathBuf {
    manifest_dir().join("docs/ir.schema.json")
}

fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&ir::schema()).expect("schema serialises");
    text.push('\n');
    text
}

#[test]
fn committed_schema_is_up_to_date() {
    let expected = schema_text();
    let path = schema_path();
    if std::env::var_os("ROLLC_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        fs::write(&path, &expected).expect("write docs/ir.schema.json");
        return;
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "docs/ir.schema.json is stale (or missing): the IR types changed. Regenerate it with\n\
         \n    ROLLC_UPDATE_SCHEMA=1 cargo test --test compile\n\n\
         and commit the result (bump ir::VERSION if an older reader could misread the change)."
    );
}

#[test]
fn schema_lists_every_top_level_property() {
    let schema = ir::schema();
    let properties: Vec<&String> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .collect();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let ir = compile(&examples_dir(), "skyscanner.rollout");
    let mut written: Vec<&String> = ir.as_object().expect("an object").keys().collect();
    let mut listed = properties.clone();
    written.sort();
    listed.sort();
    assert_eq!(written, listed);
    let mut required_sorted = required.clone();
    required_sorted.sort_unstable();
    assert_eq!(
        required_sorted,
        written.iter().map(|s| s.as_str()).collect::<Vec<_>>()
    );
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["properties"]["version"]["const"], ir::VERSION);
}

#[test]
fn the_schema_checker_rejects_what_it_should() {
    let ir = compile(&examples_dir(), "approval-and-windows.rollout");
    assert_eq!(conforms_to_schema(&ir), Ok(()));
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut ir = ir.clone();
        edit(&mut ir);
        conforms_to_schema(&ir)
    };
    assert!(broken(&|ir| ir["extra"] = json!(1)).is_err());
    assert!(broken(&|ir| ir["version"] = json!("rollc.dev/strategy/v0")).is_err());
    fn prod(ir: &mut Value) -> &mut Value {
        &mut ir["rollouts"][0]["stages"][2]
    }
    assert!(broken(&|ir| prod(ir)["batch"] = json!({"percent": 101})).is_err());
    assert!(broken(&|ir| prod(ir)["batch"] = json!({"int": -1})).is_err());
    assert!(broken(&|ir| prod(ir)["on_failure"] = json!("explode")).is_err());
    assert!(broken(&|ir| prod(ir)["windows"][1]["dates"]["from"] = json!("soon")).is_err());
    assert!(broken(&|ir| prod(ir)["select"] = json!({"op": "eq", "key": "env"})).is_err());
    assert!(
        broken(&|ir| {
            prod(ir).as_object_mut().unwrap().remove("gates");
        })
        .is_err()
    );
}

// ----- every example -----

#[test]
fn every_example_compiles_to_ir_that_conforms_and_reads_back() {
    for name in examples() {
        let out = rollc_in(&examples_dir(), &["compile", "--color", "never", &name]);
        assert_exit(&out, 0);
        assert_eq!(
            stderr(&out),
            "",
            "{name}: a clean example prints nothing on stderr"
        );
        let text = stdout(&out);
        assert!(text.ends_with("}\n"), "{name}: trailing newline");
        assert!(
            text.starts_with("{\n  \"version\""),
            "{name}: two-space pretty JSON"
        );
        let ir: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(ir["version"], ir::VERSION, "{name}");
        assert_eq!(
            ir["source"],
            name.as_str(),
            "{name}: source is the path as given"
        );
        assert!(!stages(&ir).is_empty(), "{name}: has stages");
        if let Err(err) = conforms_to_schema(&ir) {
            panic!("{name}: IR does not conform to docs/ir.schema.json: {err}");
        }
        // serde round trip (unknown fields are denied, so nothing is dropped on the way).
        let strategy = Strategy::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            strategy.to_json(),
            text,
            "{name}: from_json then to_json is identity"
        );
        assert_eq!(Strategy::from_json(&strategy.to_json()), Ok(strategy));
    }
}

#[test]
fn skyscanner_stages_limits_batches_and_requeue() {
    let ir = compile(&examples_dir(), "skyscanner.rollout");
    let rollout = &ir["rollouts"][0];
    assert_eq!(rollout["name"], "my-app-set");
    assert_eq!(
        rollout["target"],
        json!({"by": "appset", "name": "my-app-set", "namespace": "argocd", "project": null})
    );
    assert_eq!(
        stage_names(&ir),
        ["canary in EMEA", "eu-west-1", "eu-central-1"]
    );
    let canary = stage(&ir, "canary in EMEA");
    assert_eq!(canary["limit"], json!({"count": {"int": 2}, "per": null}));
    assert_eq!(canary["batch"], json!({"int": 2}));
    assert_eq!(canary["spread_by"], "region");
    assert_eq!(canary["select"], eq("area", "emea"));
    assert_eq!(stage(&ir, "eu-west-1")["batch"], json!({"percent": 25}));
    assert_eq!(stage(&ir, "eu-west-1")["limit"], Value::Null);
    // The rollout's `defaults { requeue ... }` reaches every stage.
    for s in stages(&ir) {
        assert_eq!(
            s["requeue"],
            json!({"when": eq("drained", "true"), "attempts": 5, "every_seconds": 1800}),
            "stage {}",
            s["name"]
        );
    }
}

#[test]
fn canary_per_region_expands_lets_and_the_for_loop() {
    let ir = compile(&examples_dir(), "canary-per-region.rollout");
    let regions = [
        "ap-northeast-1",
        "ap-southeast-1",
        "eu-central-1",
        "eu-west-1",
        "us-west-2",
        "us-east-1",
    ];
    let mut expected = vec!["staging", "canary per region"];
    expected.extend(regions);
    assert_eq!(stage_names(&ir), expected, "loop order is the list's order");
    assert_eq!(
        ir["rollouts"][0]["target"]["selector"],
        eq("app.kubernetes.io/part-of", "search")
    );
    // `let prod = env == "prod"` is substituted.
    assert_eq!(stage(&ir, "canary per region")["select"], eq("env", "prod"));
    for region in regions {
        let s = stage(&ir, region);
        assert_eq!(
            s["select"],
            json!({"op": "and", "all": [eq("env", "prod"), eq("region", region)]})
        );
        let query = s["gates"][0]["query"].as_str().expect("metric query");
        assert!(query.contains(&format!("region=\\\"{region}\\\"").replace('\\', "")));
        assert_eq!(s["deadline_seconds"], 900, "defaults apply to loop stages");
        assert_eq!(s["on_failure"], "rollback");
    }
    let canary = stage(&ir, "canary per region");
    assert_eq!(
        canary["limit"],
        json!({"count": {"int": 1}, "per": "region"})
    );
    assert_eq!(
        canary["deadline_seconds"], 2700,
        "a stage's own field beats defaults"
    );
    assert_eq!(canary["bake_each_seconds"], 1200);
    assert_eq!(
        canary["gates"][0],
        json!({
            "gate": "webhook",
            "url": "https://smoke.search.example.com/run?suite=canary",
            "timeout_seconds": 300,
            "retries": 3,
            "insecure": false
        })
    );
    assert_eq!(canary["gates"][1]["threshold"], 0.01);
    assert_eq!(canary["gates"][1]["window_seconds"], 900);
}

#[test]
fn approval_and_windows_resolve_windows_and_gates() {
    let ir = compile(&examples_dir(), "approval-and-windows.rollout");
    assert_eq!(ir["rollouts"][0]["on_new_revision"], "restart");
    let prod = stage(&ir, "prod");
    assert_eq!(
        prod["windows"],
        json!([
            {"mode": "allow", "days": [{"from": 0, "to": 4}],
             "minutes": {"from": 540, "to": 1020}, "dates": null, "tz": "Europe/London"},
            {"mode": "deny", "days": [], "minutes": null,
             "dates": {"from": "2026-12-20", "to": "2027-01-04"}, "tz": "UTC"},
            {"mode": "deny", "days": [], "minutes": null,
             "dates": {"from": "2026-11-27", "to": "2026-11-27"}, "tz": "UTC"},
        ])
    );
    assert_eq!(
        prod["order_by"],
        json!({"key": {"attr": "label", "key": "tier"}, "descending": true})
    );
    assert_eq!(prod["max_in_flight"], json!({"count": 2, "per": "area"}));
    assert_eq!(prod["tolerate"], json!({"percent": 5}));
    assert_eq!(prod["on_failure"], "rollback");
    assert_eq!(stage(&ir, "staging")["on_failure"], "pause");
    assert_eq!(
        stage(&ir, "staging")["gates"],
        json!([{"gate": "approval",
                "reason": "Release manager signs off staging before production"}])
    );
}

// ----- expansion, defaults and normalisation -----

#[test]
fn templates_lets_and_loops_are_expanded() {
    let ir = compile_source(
        r#"import "std/rings" as rings

let zones = ["b", "a"]
let prod = env == "prod"

template pair(name: string, sel: selector, size: count = 3) {
  stage "${name} first" {
    select sel
    limit 1
  }
  stage "${name} rest" {
    select sel
    batch size
  }
}

rollout "web" {
  target appset "web"
  use rings.standard(bake2 = 1d, batch_size = 2)
  for z in zones {
    stage "zone ${z}" {
      select prod and zone == z
    }
  }
  use pair("staging", env == "staging", size = 50%)
}
"#,
    );
    assert_eq!(
        stage_names(&ir),
        [
            "ring 0",
            "ring 1",
            "ring 2",
            "ring 3",
            "zone b",
            "zone a",
            "staging first",
            "staging rest"
        ]
    );
    let bakes: Vec<&Value> = stages(&ir)[..4]
        .iter()
        .map(|s| &s["bake_seconds"])
        .collect();
    assert_eq!(bakes, [3600, 14400, 86400, 0]);
    for s in &stages(&ir)[..4] {
        assert_eq!(s["batch"], json!({"int": 2}), "template argument");
    }
    assert_eq!(stage(&ir, "ring 2")["select"], eq("ring", "2"));
    assert_eq!(
        stage(&ir, "zone a")["select"],
        json!({"op": "and", "all": [eq("env", "prod"), eq("zone", "a")]})
    );
    assert_eq!(stage(&ir, "staging first")["select"], eq("env", "staging"));
    assert_eq!(stage(&ir, "staging rest")["batch"], json!({"percent": 50}));
    // Nothing of the source's reuse constructs survives.
    let text = ir.to_string();
    for word in ["template", "rings.", "${", "\"use\"", "zones"] {
        assert!(!text.contains(word), "`{word}` left in the IR");
    }
}

#[test]
fn defaults_are_applied() {
    let ir = compile_source(
        r#"rollout "web" {
  target apps where app == "web"
  stage "bare" {
    select env == "prod"
    gate webhook "https://hooks.example.com/ok"
    gate metric prometheus "https://prom.example.com" query "up" above 0.5
    window allow Mon-Fri 09:00-17:00
    requeue when drained == "true"
  }
}
"#,
    );
    assert_eq!(
        ir["rollouts"][0]["target"],
        json!({"by": "apps", "selector": eq("app", "web"), "namespace": "argocd",
               "project": null})
    );
    assert_eq!(ir["rollouts"][0]["on_new_revision"], "queue");
    let bare = stage(&ir, "bare");
    assert_eq!(bare["batch"], json!({"int": 1}));
    assert_eq!(bare["limit"], Value::Null);
    assert_eq!(bare["tolerate"], json!({"int": 0}));
    assert_eq!(bare["on_failure"], "pause");
    assert_eq!(
        bare["order_by"],
        json!({"key": {"attr": "name"}, "descending": false})
    );
    assert_eq!(bare["bake_seconds"], 0);
    assert_eq!(bare["bake_each_seconds"], 0);
    assert_eq!(bare["deadline_seconds"], Value::Null);
    assert_eq!(
        bare["requeue"],
        json!({
            "when": eq("drained", "true"),
            "attempts": ir::DEFAULT_REQUEUE_ATTEMPTS,
            "every_seconds": ir::DEFAULT_REQUEUE_EVERY
        })
    );
    assert_eq!(
        bare["gates"],
        json!([
            {"gate": "webhook", "url": "https://hooks.example.com/ok",
             "timeout_seconds": ir::DEFAULT_WEBHOOK_TIMEOUT,
             "retries": ir::DEFAULT_WEBHOOK_RETRIES, "insecure": false},
            {"gate": "metric", "url": "https://prom.example.com", "query": "up",
             "comparison": "above", "threshold": 0.5,
             "window_seconds": ir::DEFAULT_METRIC_WINDOW,
             "every_seconds": ir::DEFAULT_METRIC_EVERY},
        ])
    );
    assert_eq!(bare["windows"][0]["tz"], "UTC");
    // The documented values, so a change to a default is a visible decision.
    assert_eq!(
        (ir::DEFAULT_WEBHOOK_TIMEOUT, ir::DEFAULT_WEBHOOK_RETRIES),
        (30, 2)
    );
    assert_eq!(
        (ir::DEFAULT_REQUEUE_ATTEMPTS, ir::DEFAULT_REQUEUE_EVERY),
        (3, 900)
    );
}

#[test]
fn rollout_defaults_fill_every_stage_unless_overridden() {
    let ir = compile_source(
        r#"rollout "web" {
  target appset "web"
  defaults {
    batch 2
    deadline 10m
    on failure abort
  }
  stage "a" { select env == "a" }
  stage "b" {
    select env == "b"
    batch 5
    on failure rollback
  }
}
"#,
    );
    let (a, b) = (stage(&ir, "a"), stage(&ir, "b"));
    assert_eq!(
        (&a["batch"], &a["deadline_seconds"], &a["on_failure"]),
        (&json!({"int": 2}), &json!(600), &json!("abort"))
    );
    assert_eq!(
        (&b["batch"], &b["deadline_seconds"], &b["on_failure"]),
        (&json!({"int": 5}), &json!(600), &json!("rollback"))
    );
}

#[test]
fn selectors_are_normalised() {
    let ir = compile_source(
        r#"rollout "web" {
  target appset "web"
  stage "and" {
    select env == "prod" and (tier in ["b", "a", "b", "c", "a"] and (not not region == "x" and has zone))
  }
  stage "or" {
    select env == "a" or (env == "b" or (env == "c" or env == "d"))
  }
  stage "not in" {
    select not (tier not in ["z", "y", "z"])
  }
  stage "mixed" {
    select (env == "a" and tier == "t") or (env == "b" or region matches "eu-*")
  }
}
"#,
    );
    assert_eq!(
        stage(&ir, "and")["select"],
        json!({"op": "and", "all": [
            eq("env", "prod"),
            {"op": "in", "key": {"attr": "label", "key": "tier"}, "values": ["a", "b", "c"]},
            eq("region", "x"),
            {"op": "has", "key": "zone"},
        ]})
    );
    assert_eq!(
        stage(&ir, "or")["select"],
        json!({"op": "or", "any": [eq("env", "a"), eq("env", "b"), eq("env", "c"), eq("env", "d")]})
    );
    assert_eq!(
        stage(&ir, "not in")["select"],
        json!({"op": "not", "inner":
            {"op": "not_in", "key": {"attr": "label", "key": "tier"}, "values": ["y", "z"]}})
    );
    // An `and` inside an `or` stays: only same-operator nesting flattens.
    assert_eq!(
        stage(&ir, "mixed")["select"],
        json!({"op": "or", "any": [
            {"op": "and", "all": [eq("env", "a"), eq("tier", "t")]},
            eq("env", "b"),
            {"op": "matches", "key": {"attr": "label", "key": "region"}, "pattern": "eu-*"},
        ]})
    );
}

// ----- determinism and output -----

#[test]
fn output_is_byte_identical_across_runs_and_between_stdout_and_file() {
    for name in examples() {
        let first = rollc_in(&examples_dir(), &["compile", &name]);
        let second = rollc_in(&examples_dir(), &["compile", &name]);
        assert_exit(&first, 0);
        assert_eq!(first.stdout, second.stdout, "{name}: two runs differ");

        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("ir.json");
        let written = rollc_in(
            &examples_dir(),
            &["compile", &name, "-o", out.to_str().expect("UTF-8 path")],
        );
        assert_exit(&written, 0);
        assert!(
            written.stdout.is_empty(),
            "{name}: nothing on stdout with -o"
        );
        assert_eq!(
            fs::read(&out).expect("output written"),
            first.stdout,
            "{name}: -o and stdout differ"
        );
    }
}

#[test]
fn source_is_the_path_as_given_and_nothing_absolute_leaks() {
    let dir = project(&[(
        "strategies/web.rollout",
        "rollout \"web\" {\n  target appset \"web\"\n  stage \"all\" { select all }\n}\n",
    )]);
    let text = compile_text(dir.path(), "strategies/web.rollout");
    let ir: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(ir["source"], "strategies/web.rollout");
    let root = dir.path().to_string_lossy();
    assert!(!text.contains(root.as_ref()), "absolute path in the IR");
    // The same file reached by another relative path differs only in `source`.
    let inner = compile_text(&dir.path().join("strategies"), "web.rollout");
    assert_eq!(
        inner.replace("\"web.rollout\"", "\"strategies/web.rollout\""),
        text
    );
}

#[test]
fn snapshot_of_the_skyscanner_ir() {
    insta::assert_snapshot!(
        "skyscanner_ir",
        compile_text(&examples_dir(), "skyscanner.rollout")
    );
}

// ----- exit codes and diagnostics -----

const BROKEN: &str = "rollout \"web\" {\n  target appset \"web\"\n  stage \"a\" {\n    select env == \"prod\"\n    batch 2x\n  }\n}\n";

#[test]
fn errors_exit_1_with_diagnostics_on_stderr_and_no_output() {
    let dir = project(&[("bad.rollout", BROKEN)]);
    let out = rollc_in(dir.path(), &["compile", "--color", "never", "bad.rollout"]);
    assert_exit(&out, 1);
    assert!(out.stdout.is_empty(), "no IR on stdout: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("bad.rollout:5:"), "located diagnostic:\n{err}");
    assert!(err.contains("error"), "{err}");
    assert!(!err.contains('\x1b'), "no colour with --color never");

    let out = rollc_in(
        dir.path(),
        &[
            "compile",
            "--color",
            "never",
            "bad.rollout",
            "-o",
            "ir.json",
        ],
    );
    assert_exit(&out, 1);
    assert!(!dir.path().join("ir.json").exists(), "no output file");

    // An existing artifact is left alone rather than truncated.
    fs::write(dir.path().join("ir.json"), "previous").unwrap();
    let out = rollc_in(dir.path(), &["compile", "bad.rollout", "-o", "ir.json"]);
    assert_exit(&out, 1);
    assert_eq!(
        fs::read_to_string(dir.path().join("ir.json")).unwrap(),
        "previous"
    );
}

#[test]
fn diagnostics_are_coloured_on_request() {
    let dir = project(&[("bad.rollout", BROKEN)]);
    let out = rollc_in(dir.path(), &["compile", "--color", "always", "bad.rollout"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains('\x1b'), "colour with --color always");
}

#[test]
fn warnings_are_shown_but_do_not_stop_compilation() {
    let dir = project(&[(
        "warn.rollout",
        "rollout \"web\" {\n  target appset \"web\"\n  stage \"all\" { select all }\n  stage \"never\" { select env == \"x\" }\n}\n",
    )]);
    let out = rollc_in(dir.path(), &["compile", "--color", "never", "warn.rollout"]);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("warning"), "warning shown:\n{err}");
    assert!(err.contains("R0304"), "{err}");
    let ir: Value = serde_json::from_str(&stdout(&out)).expect("IR on stdout");
    assert_eq!(stage_names(&ir), ["all", "never"]);
}

#[test]
fn unreadable_input_exits_2() {
    let dir = project(&[("sub/keep", "")]);
    for missing in ["missing.rollout", "sub"] {
        let out = rollc_in(dir.path(), &["compile", "--color", "never", missing]);
        assert_exit(&out, 2);
        assert!(out.stdout.is_empty());
        let err = stderr(&out);
        assert!(
            err.contains(&format!("cannot read `{missing}`")),
            "{missing}:\n{err}"
        );
    }
}

#[test]
fn output_into_a_missing_directory_exits_2_with_a_precise_error() {
    let dir = project(&[(
        "web.rollout",
        "rollout \"web\" {\n  target appset \"web\"\n  stage \"all\" { select all }\n}\n",
    )]);
    let out = rollc_in(
        dir.path(),
        &[
            "compile",
            "--color",
            "never",
            "web.rollout",
            "-o",
            "nope/deeper/ir.json",
        ],
    );
    assert_exit(&out, 2);
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("cannot write `nope/deeper/ir.json`: directory `nope/deeper` does not exist"),
        "{err}"
    );
    assert!(!dir.path().join("nope").exists());

    // A parent that is a file: the OS error is passed on, with the path.
    fs::write(dir.path().join("file"), "").unwrap();
    let out = rollc_in(
        dir.path(),
        &[
            "compile",
            "--color",
            "never",
            "web.rollout",
            "-o",
            "file/ir.json",
        ],
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("cannot write `file/ir.json`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn ir_read_back_refuses_other_versions_precisely() {
    let text = compile_text(&examples_dir(), "rings.rollout");
    let other = text.replace(ir::VERSION, "rollc.dev/strategy/v9");
    let err = Strategy::from_json(&other).unwrap_err().to_string();
    assert_eq!(
        err,
        "IR version `rollc.dev/strategy/v9` is not supported; this rollc reads \
         `rollc.dev/strategy/v1`; recompile the strategy with this rollc"
    );
    let renamed = text.replacen("\"bake_seconds\"", "\"bake\"", 1);
    let err = Strategy::from_json(&renamed).unwrap_err();
    let line = text
        .lines()
        .position(|l| l.contains("\"bake_seconds\""))
        .expect("a bake")
        + 1;
    match err {
        ir::ReadError::Json {
            message, line: at, ..
        } => {
            assert!(message.starts_with("unknown field `bake`"), "{message}");
            assert_eq!(at, line);
        }
        other => panic!("unexpected {other:?}"),
    }
}
