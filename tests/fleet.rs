//! The fleet inventory through the public API: the example fleet, JSON fleets, Argo CD
//! cluster Secret lists (and that their credentials never leak), precise diagnostics for
//! malformed files, and selector matching with Kubernetes semantics and globs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rollc::ast::ClusterAttr;
use rollc::diagnostics::{Code, Diagnostic, LabelStyle};
use rollc::fleet::{self, Cluster, Fleet, glob_match, matches};
use rollc::hir::{Attr, Loc, Selector, SelectorKind};
use rollc::source::{FileId, LineIndex, Span};

const FILE: FileId = FileId(7);

fn parse_ok(text: &str) -> Fleet {
    match fleet::parse(FILE, text) {
        Ok(fleet) => fleet,
        Err(diags) => panic!("unexpected errors: {diags:#?}"),
    }
}

fn parse_err(text: &str) -> Vec<Diagnostic> {
    match fleet::parse(FILE, text) {
        Ok(fleet) => panic!("expected errors, parsed {fleet:#?}"),
        Err(diags) => {
            for d in &diags {
                assert_eq!(d.code, Code::InvalidFleet, "{d:#?}");
                assert!(d.is_error());
                assert_eq!(d.file, FILE);
                assert!(d.span.end as usize <= text.len(), "{d:#?}");
            }
            diags
        }
    }
}

/// 1-based line of a span's start.
fn line(text: &str, span: Span) -> usize {
    LineIndex::new(text).line_of(span.start as usize) + 1
}

/// `(message, line)` of each diagnostic.
fn summary(text: &str) -> Vec<(String, usize)> {
    parse_err(text)
        .into_iter()
        .map(|d| (d.message, line(text, d.span)))
        .collect()
}

/// Asserts a single diagnostic with this message on this line, and returns it.
fn single(text: &str, message: &str, at_line: usize) -> Diagnostic {
    let diags = parse_err(text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = diags.into_iter().next().unwrap();
    assert_eq!(d.message, message);
    assert_eq!(line(text, d.span), at_line, "{d:#?}");
    d
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ------------------------------------------------------------------------- fleet files

#[test]
fn example_fleet_parses() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fleet.yaml"))
        .unwrap();
    let fleet = parse_ok(&text);
    assert!(fleet.clusters.len() >= 24, "{}", fleet.clusters.len());
    let values = |key: &str| -> BTreeSet<&str> {
        fleet.clusters.iter().filter_map(|c| c.label(key)).collect()
    };
    assert_eq!(values("area").len(), 3);
    assert_eq!(values("region").len(), 6);
    let drained = fleet
        .clusters
        .iter()
        .filter(|c| c.label("drained") == Some("true"))
        .count();
    assert!(drained > 0);
    let first = &fleet.clusters[0];
    assert_eq!(first.name, "staging-euw1");
    assert!(first.server.starts_with("https://"));
    assert_eq!(
        first.label("topology.kubernetes.io/zone"),
        Some("eu-west-1a")
    );
    // Every cluster knows where it came from.
    for c in &fleet.clusters {
        let source = c.source.as_ref().expect("parsed clusters have a source");
        assert_eq!(source.file, FILE);
        assert_eq!(&text[source.name.range()], c.name);
        for (key, value) in &c.labels {
            assert_eq!(&text[source.labels[key].range()], format!("\"{value}\""));
        }
    }
    // It serializes as plain data.
    let json = serde_json::to_value(&fleet).unwrap();
    assert_eq!(json["clusters"][0]["name"], "staging-euw1");
    assert!(json["clusters"][0].get("source").is_none());
    assert!(json["clusters"][0].get("sim").is_none());
}

const YAML_FLEET: &str = r#"# two clusters
defaults:
  sync: 30s
events:
  - at: 5m
    drain: prod-b
clusters:
  - name: prod-a
    server: https://a.example.com
    labels:
      env: "prod"
      ring: 0
      drained: true
      version: 1.10
      flag: yes
      zero-padded: 007
    sim:
      sync: 2m
      fail: [1, 3]
  - name: prod-b
    server: https://b.example.com
"#;

const JSON_FLEET: &str = r#"{
  "defaults": {"sync": "30s"},
  "events": [{"at": "5m", "drain": "prod-b"}],
  "clusters": [
    {"name": "prod-a", "server": "https://a.example.com",
     "labels": {"env": "prod", "ring": "0", "drained": "true", "version": "1.10",
                "flag": "yes", "zero-padded": "007"},
     "sim": {"sync": "2m", "fail": [1, 3]}},
    {"name": "prod-b", "server": "https://b.example.com", "labels": {}}
  ]
}"#;

#[test]
fn yaml_and_json_fleets_agree() {
    let yaml = parse_ok(YAML_FLEET);
    let json = parse_ok(JSON_FLEET);
    assert_eq!(yaml, json);
    let a = &yaml.clusters[0];
    // Unquoted scalars keep their spelling as label values.
    assert_eq!(
        a.labels,
        labels(&[
            ("env", "prod"),
            ("ring", "0"),
            ("drained", "true"),
            ("version", "1.10"),
            ("flag", "yes"),
            ("zero-padded", "007"),
        ])
    );
    assert_eq!(
        a.sim,
        Some(serde_json::json!({"sync": "2m", "fail": [1, 3]}))
    );
    assert_eq!(yaml.clusters[1].labels, BTreeMap::new());
    assert_eq!(yaml.clusters[1].sim, None);
    assert_eq!(yaml.defaults, Some(serde_json::json!({"sync": "30s"})));
    assert_eq!(
        yaml.events,
        Some(serde_json::json!([{"at": "5m", "drain": "prod-b"}]))
    );
    let out = serde_json::to_value(&yaml).unwrap();
    assert_eq!(out["clusters"][0]["sim"]["fail"][1], 3);
    assert_eq!(out["defaults"]["sync"], "30s");
}

#[test]
fn empty_cluster_list_is_an_empty_fleet() {
    assert_eq!(parse_ok("clusters: []\n"), Fleet::default());
    assert_eq!(parse_ok("{\"clusters\": []}"), Fleet::default());
}

#[test]
fn ten_thousand_clusters_parse() {
    let mut text = String::from("clusters:\n");
    for i in 0..10_000 {
        text.push_str(&format!(
            "  - name: c{i}\n    server: https://c{i}.example.com\n    labels: {{region: \"r{}\", ring: \"{}\", env: prod, tier: standard, zone: z{}}}\n    sim: {{sync: 1m}}\n",
            i % 6,
            i % 4,
            i % 3
        ));
    }
    let fleet = parse_ok(&text);
    assert_eq!(fleet.clusters.len(), 10_000);
    assert_eq!(fleet.clusters[9_999].label("ring"), Some("3"));
}

// ------------------------------------------------------------------------- Secret lists

const MARKER: &str = "SECRET-MARKER-DO-NOT-LEAK";

fn b64(s: &str) -> String {
    BASE64.encode(s)
}

/// A cluster Secret as `kubectl get -o yaml` prints it, with a `config` holding the marker.
fn secret(secret_name: &str, name: &str, server: &str, extra_labels: &str) -> String {
    let config = format!(
        r#"{{"bearerToken":"{MARKER}","tlsClientConfig":{{"insecure":false,"caData":"{MARKER}"}}}}"#
    );
    let last_applied =
        format!(r#"{{"apiVersion":"v1","kind":"Secret","stringData":{{"config":"{MARKER}"}}}}"#);
    format!(
        r#"- apiVersion: v1
  data:
    config: {config}
    name: {name}
    server: {server}
  kind: Secret
  metadata:
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: '{last_applied}'
      managed-by: argocd.argoproj.io
    creationTimestamp: "2026-01-01T00:00:00Z"
    labels:
      argocd.argoproj.io/secret-type: cluster
{extra_labels}    name: {secret_name}
    namespace: argocd
    resourceVersion: "1234"
    uid: 5c0e1f8a-0000-0000-0000-000000000000
  type: Opaque
"#,
        config = b64(&config),
        name = b64(name),
        server = b64(server),
    )
}

fn secret_list(items: &[String]) -> String {
    format!(
        "apiVersion: v1\nitems:\n{}kind: List\nmetadata:\n  resourceVersion: \"\"\n",
        items.concat()
    )
}

/// Every form in which the marker could leak: raw, and base64 at each of the three byte
/// alignments it can have inside a larger encoded value, and the encoded configs themselves.
fn leak_forms() -> Vec<String> {
    let mut forms = vec![MARKER.to_owned()];
    for pad in 0..3 {
        let encoded = b64(&format!("{}{MARKER}", "x".repeat(pad)));
        // Skip the characters that depend on the padding prefix, keep a stable middle run.
        let skip = (pad * 4).div_ceil(3) + 1;
        forms.push(encoded[skip..skip + 20].to_owned());
    }
    forms
}

fn assert_no_leak(what: &str, output: &str) {
    for form in leak_forms() {
        assert!(
            !output.contains(&form),
            "{what} leaks the Secret config ({form}):\n{output}"
        );
    }
}

#[test]
fn leak_forms_would_catch_a_leak() {
    // The check itself works: a base64 config containing the marker is caught.
    let encoded = b64(&format!(r#"{{"bearerToken":"{MARKER}"}}"#));
    assert!(leak_forms().iter().any(|f| encoded.contains(f.as_str())));
}

#[test]
fn secret_list_reads_names_servers_and_labels_only() {
    let text = secret_list(&[
        secret(
            "cluster-prod-a",
            "prod-a",
            "https://a.example.com/",
            "      region: eu-west-1\n      ring: \"1\"\n",
        ),
        secret("cluster-prod-b", "prod-b", "https://b.example.com", ""),
    ]);
    let fleet = parse_ok(&text);
    assert_eq!(fleet.clusters.len(), 2);
    let a = &fleet.clusters[0];
    assert_eq!(a.name, "prod-a");
    // Argo CD drops the trailing slash.
    assert_eq!(a.server, "https://a.example.com");
    // The secret-type label is not a cluster label.
    assert_eq!(a.labels, labels(&[("region", "eu-west-1"), ("ring", "1")]));
    assert_eq!(a.sim, None);
    assert_eq!(fleet.clusters[1].labels, BTreeMap::new());
    assert_eq!(fleet.defaults, None);

    assert_no_leak("Debug", &format!("{fleet:?}"));
    assert_no_leak("pretty Debug", &format!("{fleet:#?}"));
    assert_no_leak("JSON", &serde_json::to_string(&fleet).unwrap());
}

#[test]
fn secret_list_string_data_and_secret_list_kind() {
    let text = format!(
        r#"kind: SecretList
apiVersion: v1
items:
  - metadata:
      name: c1
      labels: {{argocd.argoproj.io/secret-type: cluster, env: dev}}
    stringData:
      name: dev-1
      server: https://dev-1.example.com
      config: '{{"bearerToken": "{MARKER}"}}'
    data:
      name: {}
"#,
        b64("ignored-because-stringData-wins")
    );
    let fleet = parse_ok(&text);
    assert_eq!(fleet.clusters.len(), 1);
    assert_eq!(fleet.clusters[0].name, "dev-1");
    assert_eq!(fleet.clusters[0].server, "https://dev-1.example.com");
    assert_eq!(fleet.clusters[0].labels, labels(&[("env", "dev")]));
    assert_no_leak("Debug", &format!("{fleet:#?}"));
    assert_no_leak("JSON", &serde_json::to_string(&fleet).unwrap());
}

#[test]
fn secret_list_errors_never_leak_the_config() {
    let mut bad_base64 = secret("cluster-bad", "x", "https://x", "");
    bad_base64 = bad_base64.replace(&format!("    name: {}\n", b64("x")), "    name: '%%%'\n");
    let items = [
        secret("cluster-a", "a", "https://same", ""),
        // Duplicate server.
        secret("cluster-b", "b", "https://same", ""),
        // Duplicate name.
        secret("cluster-c", "a", "https://c", ""),
        bad_base64,
        // A repository Secret among the clusters.
        secret("repo", "r", "https://r", "").replace(
            "argocd.argoproj.io/secret-type: cluster",
            "argocd.argoproj.io/secret-type: repository",
        ),
        // Data that is not a map.
        format!(
            "- kind: Secret\n  metadata:\n    name: cluster-d\n    labels:\n      argocd.argoproj.io/secret-type: cluster\n  data: {}\n",
            b64(MARKER)
        ),
        // Data that is a list holding the config.
        format!(
            "- kind: Secret\n  metadata:\n    name: cluster-e\n    labels:\n      argocd.argoproj.io/secret-type: cluster\n  data: [{}, '{MARKER}']\n",
            b64(MARKER)
        ),
        // No name at all, and an invalid label key.
        format!(
            "- kind: Secret\n  metadata:\n    name: cluster-f\n    labels:\n      argocd.argoproj.io/secret-type: cluster\n      Bad Key: x\n  data:\n    server: {}\n    config: {}\n",
            b64("https://f"),
            b64(MARKER)
        ),
    ];
    let text = secret_list(&items);
    let diags = parse_err(&text);
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    let expected = [
        "`data.name` of Secret `cluster-bad` is not valid base64",
        "Secret `repo` is a `repository` Secret, not an Argo CD cluster Secret",
        "`data` of Secret `cluster-d` must be a map, found a string",
        "`data` of Secret `cluster-e` must be a map, found a list",
        "invalid label key `Bad Key` in Secret `cluster-f`: ` ` is not allowed: use letters, digits, `-`, `_` and `.`",
        "Secret `cluster-f` has no `name` in `data` or `stringData`",
        "duplicate cluster server `https://same` (cluster `b`)",
        "duplicate cluster name `a`",
    ];
    for e in expected {
        assert!(messages.contains(&e), "missing {e:?} in {messages:#?}");
    }
    assert_eq!(diags.len(), expected.len(), "{messages:#?}");
    assert_no_leak("diagnostics", &format!("{diags:#?}"));
    assert_no_leak("diagnostics JSON", &serde_json::to_string(&diags).unwrap());
}

#[test]
fn secret_list_syntax_error_does_not_quote_the_config() {
    // A YAML error right inside the config line.
    let text =
        secret_list(&[secret("c", "a", "https://a", "")]).replace("    config: ", "    config: [");
    let diags = parse_err(&text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_no_leak("syntax error", &format!("{diags:#?}"));
}

#[test]
fn secret_list_shape_errors() {
    let d = single(
        "apiVersion: v1\nkind: ConfigMapList\nitems: []\n",
        "expected a `List` of cluster Secrets, found kind `ConfigMapList`",
        2,
    );
    assert!(d.help.unwrap().contains("kubectl get secrets"));
    single(
        "kind: Secret\nmetadata:\n  name: x\n",
        "expected a `List` of cluster Secrets, found a single `Secret`",
        1,
    );
    single(
        "kind: List\nitems:\n  - kind: ConfigMap\n    metadata: {name: x}\n",
        "item 1 is `ConfigMap`, not a `Secret`",
        3,
    );
    single(
        "kind: List\nitems:\n  - kind: Secret\n    metadata:\n      name: plain\n    data: {}\n",
        "Secret `plain` is not an Argo CD cluster Secret: it has no `argocd.argoproj.io/secret-type` label",
        3,
    );
    // An empty list is an empty fleet.
    assert_eq!(
        parse_ok("apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: \"\"\n"),
        Fleet::default()
    );
}

// ------------------------------------------------------------------------- diagnostics

#[test]
fn missing_name_and_server() {
    single(
        "clusters:\n  - name: a\n    server: https://a\n  - name: b\n    labels: {}\n",
        "cluster `b` has no `server`",
        4,
    );
    single(
        "clusters:\n  - name: a\n    server: https://a\n  - name: b\n    server: https://b\n  - server: https://c\n",
        "cluster 3 has no `name`",
        6,
    );
    single(
        "clusters:\n  - name: \"\"\n    server: https://a\n",
        "cluster 1 has an empty `name`",
        2,
    );
    single(
        "clusters:\n  - name: a\n    server:\n",
        "cluster `a` has an empty `server`",
        3,
    );
    single(
        "clusters:\n  - name: [a]\n    server: https://a\n",
        "`name` of cluster 1 must be a string, found a list",
        2,
    );
}

#[test]
fn labels_must_map_strings_to_strings() {
    let text = "clusters:\n  - name: prod-euw1-01\n    server: https://a\n    labels:\n      - region=eu-west-1\n";
    let d = single(
        text,
        "`labels` of cluster `prod-euw1-01` must map strings to strings, found a list",
        4,
    );
    assert!(d.help.is_some());
    single(
        "clusters:\n  - name: a\n    server: https://a\n    labels:\n      region: eu-west-1\n      zones: [a, b]\n",
        "label `zones` of cluster `a` must have a string value, found a list",
        6,
    );
    single(
        "clusters:\n  - name: a\n    server: https://a\n    labels:\n      ring: {n: 1}\n",
        "label `ring` of cluster `a` must have a string value, found a map",
        5,
    );
    let d = single(
        "clusters:\n  - name: a\n    server: https://a\n    labels:\n      drained:\n",
        "label `drained` of cluster `a` has no value",
        5,
    );
    assert!(d.help.unwrap().contains("\"\""));
}

#[test]
fn label_keys_are_kubernetes_label_keys() {
    single(
        "clusters:\n  - name: a\n    server: https://a\n    labels:\n      ok.example.com/fine: x\n      -bad: x\n",
        "invalid label key `-bad` in cluster `a`: the name part must start and end with a letter or digit",
        6,
    );
    single(
        "clusters:\n  - name: a\n    server: https://a\n    labels:\n      Example.COM/x: y\n",
        "invalid label key `Example.COM/x` in cluster `a`: prefix `Example.COM` is not a lower-case DNS subdomain",
        5,
    );
}

#[test]
fn duplicate_names_and_servers() {
    let text = "clusters:\n  - name: x\n    server: https://a\n  - name: y\n    server: https://b\n  - name: x\n    server: https://c\n  - name: z\n    server: https://b\n";
    let diags = parse_err(text);
    assert_eq!(diags.len(), 2, "{diags:#?}");
    let name = &diags[0];
    assert_eq!(name.message, "duplicate cluster name `x`");
    assert_eq!(line(text, name.span), 6);
    assert_eq!(&text[name.span.range()], "x");
    assert_eq!(name.labels.len(), 2);
    assert_eq!(name.labels[1].style, LabelStyle::Secondary);
    assert_eq!(line(text, name.labels[1].span), 2);
    let server = &diags[1];
    assert_eq!(
        server.message,
        "duplicate cluster server `https://b` (cluster `z`)"
    );
    assert_eq!(line(text, server.span), 9);
    assert_eq!(line(text, server.labels[1].span), 5);
    assert!(!server.notes.is_empty());
}

#[test]
fn duplicate_keys_point_at_both() {
    let text = "clusters:\n  - name: a\n    server: https://a\n    labels:\n      ring: \"1\"\n      ring: \"2\"\n";
    let d = single(text, "duplicate key `ring` in this map", 6);
    assert_eq!(line(text, d.labels[1].span), 5);
    single(
        "clusters: []\nclusters: []\n",
        "duplicate key `clusters` at the top level",
        2,
    );
}

#[test]
fn unknown_keys_suggest_the_known_one() {
    let text = "clusters:\n  - name: a\n    server: https://a\n    lables:\n      env: prod\n";
    let d = single(text, "unknown key `lables` in cluster `a`", 4);
    assert_eq!(d.help.as_deref(), Some("did you mean `labels`?"));
    assert_eq!(d.suggestions[0].replacement, "labels");
    assert_eq!(&text[d.suggestions[0].span.range()], "lables");
    let d = single("cluster: []\n", "unknown top-level key `cluster`", 1);
    // ... and the missing `clusters` is reported too? No: one problem, one message.
    assert_eq!(d.help.as_deref(), Some("did you mean `clusters`?"));
}

#[test]
fn whole_file_problems() {
    single("", "the fleet file is empty", 1);
    single("# only a comment\n", "the fleet file is empty", 1);
    single(
        "- name: a\n  server: https://a\n",
        "the fleet file is a list: put the clusters under a top-level `clusters` key",
        1,
    );
    single(
        "\n\njust text\n",
        "the fleet file must be a map with a `clusters` list, found a string",
        3,
    );
    single("defaults: {}\n", "the fleet file has no `clusters` list", 1);
    single(
        "clusters:\n  name: a\n",
        "`clusters` must be a list, found a map",
        1,
    );
    single(
        "clusters:\n  - just-a-name\n",
        "cluster 1 must be a map with `name`, `server` and `labels`, found a string",
        2,
    );
}

#[test]
fn yaml_syntax_errors_point_at_the_line() {
    let text = "clusters:\n  - name: a\n    server: [https://a\n  - name: b\n";
    let diags = parse_err(text);
    assert_eq!(diags.len(), 1);
    assert!(
        diags[0]
            .message
            .starts_with("the fleet file is not valid YAML: "),
        "{}",
        diags[0].message
    );
    assert!(
        !diags[0].message.contains("at line"),
        "{}",
        diags[0].message
    );
    // The parser notices at the `:` of `name: b` inside the unclosed flow list.
    assert_eq!(line(text, diags[0].span), 4);
    assert_eq!(&text[diags[0].span.range()], ":");

    let text = "clusters:\n  - name: a\n   server: b\n";
    let diags = parse_err(text);
    assert_eq!(line(text, diags[0].span), 3, "{diags:#?}");

    let text = "{\"clusters\": [\n  {\"name\": \"a\", \"server\": \"b\"}\n  {\"name\": \"c\"}\n]}";
    let diags = parse_err(text);
    assert_eq!(diags.len(), 1);
    assert!(line(text, diags[0].span) >= 2, "{diags:#?}");
}

#[test]
fn all_problems_are_reported_together() {
    let text = "clusters:\n  - name: a\n  - server: https://b\n  - name: c\n    server: https://c\n    labels: [x]\n  - name: c\n    server: https://d\n";
    assert_eq!(
        summary(text),
        vec![
            ("cluster `a` has no `server`".to_owned(), 2),
            ("cluster 2 has no `name`".to_owned(), 3),
            (
                "`labels` of cluster `c` must map strings to strings, found a list".to_owned(),
                6
            ),
            ("duplicate cluster name `c`".to_owned(), 7),
        ]
    );
}

// ------------------------------------------------------------------------- selectors

fn sel(kind: SelectorKind) -> Selector {
    Selector {
        kind,
        loc: Loc::new(FileId(0), Span::default()),
    }
}

fn label(key: &str) -> Attr {
    Attr::Label(key.to_owned())
}

fn eq(key: &str, value: &str) -> Selector {
    sel(SelectorKind::Eq {
        key: label(key),
        value: value.to_owned(),
    })
}

fn ne(key: &str, value: &str) -> Selector {
    sel(SelectorKind::Ne {
        key: label(key),
        value: value.to_owned(),
    })
}

fn is_in(key: &str, values: &[&str]) -> Selector {
    sel(SelectorKind::In {
        key: label(key),
        values: values.iter().map(|v| v.to_string()).collect(),
    })
}

fn not_in(key: &str, values: &[&str]) -> Selector {
    sel(SelectorKind::NotIn {
        key: label(key),
        values: values.iter().map(|v| v.to_string()).collect(),
    })
}

fn has(key: &str) -> Selector {
    sel(SelectorKind::Has {
        key: key.to_owned(),
    })
}

fn not(inner: Selector) -> Selector {
    sel(SelectorKind::Not {
        inner: Box::new(inner),
    })
}

fn and(all: Vec<Selector>) -> Selector {
    sel(SelectorKind::And { all })
}

fn or(any: Vec<Selector>) -> Selector {
    sel(SelectorKind::Or { any })
}

fn glob(attr: Attr, pattern: &str) -> Selector {
    sel(SelectorKind::Matches {
        key: attr,
        pattern: pattern.to_owned(),
    })
}

fn name_is(op: fn(Attr, String) -> SelectorKind, value: &str) -> Selector {
    sel(op(Attr::Cluster(ClusterAttr::Name), value.to_owned()))
}

#[test]
fn selector_truth_table() {
    let eu = Cluster::new(
        "prod-euw1-01",
        "https://a.eu-west-1.eks.amazonaws.com",
        labels(&[("region", "eu-west-1"), ("env", "prod")]),
    );
    let us = Cluster::new(
        "prod-use1-01",
        "https://b.us-east-1.eks.amazonaws.com",
        labels(&[
            ("region", "us-east-1"),
            ("env", "prod"),
            ("drained", "true"),
        ]),
    );
    let bare = Cluster::new("lab", "https://lab", BTreeMap::new());
    let clusters = [&eu, &us, &bare];

    let cases: Vec<(&str, Selector, [bool; 3])> = vec![
        ("all", sel(SelectorKind::All), [true, true, true]),
        (
            "region == eu",
            eq("region", "eu-west-1"),
            [true, false, false],
        ),
        // `!=` matches clusters without the label.
        (
            "region != eu",
            ne("region", "eu-west-1"),
            [false, true, true],
        ),
        (
            "region in [eu, us]",
            is_in("region", &["eu-west-1", "us-east-1"]),
            [true, true, false],
        ),
        ("region in []", is_in("region", &[]), [false, false, false]),
        // `not in` matches clusters without the label.
        (
            "region not in [us]",
            not_in("region", &["us-east-1"]),
            [true, false, true],
        ),
        (
            "region not in []",
            not_in("region", &[]),
            [true, true, true],
        ),
        ("has drained", has("drained"), [false, true, false]),
        ("not has drained", not(has("drained")), [true, false, true]),
        // `not (k == v)` is `k != v`.
        (
            "not region == eu",
            not(eq("region", "eu-west-1")),
            [false, true, true],
        ),
        (
            "has region and region != eu",
            and(vec![has("region"), ne("region", "eu-west-1")]),
            [false, true, false],
        ),
        (
            "drained == true or region == eu",
            or(vec![eq("drained", "true"), eq("region", "eu-west-1")]),
            [true, true, false],
        ),
        ("empty and", and(vec![]), [true, true, true]),
        ("empty or", or(vec![]), [false, false, false]),
        (
            "cluster.name == lab",
            name_is(|key, value| SelectorKind::Eq { key, value }, "lab"),
            [false, false, true],
        ),
        (
            "cluster.name != lab",
            name_is(|key, value| SelectorKind::Ne { key, value }, "lab"),
            [true, true, false],
        ),
        (
            "cluster.server in [..]",
            sel(SelectorKind::In {
                key: Attr::Cluster(ClusterAttr::Server),
                values: vec!["https://lab".into()],
            }),
            [false, false, true],
        ),
        (
            "cluster.server not in [..]",
            sel(SelectorKind::NotIn {
                key: Attr::Cluster(ClusterAttr::Server),
                values: vec!["https://lab".into()],
            }),
            [true, true, false],
        ),
        (
            "cluster.name matches prod-*",
            glob(Attr::Cluster(ClusterAttr::Name), "prod-*"),
            [true, true, false],
        ),
        (
            "cluster.name matches *-euw1-??",
            glob(Attr::Cluster(ClusterAttr::Name), "*-euw1-??"),
            [true, false, false],
        ),
        (
            "cluster.server matches https://*.eu-west-1.eks.amazonaws.com",
            glob(
                Attr::Cluster(ClusterAttr::Server),
                "https://*.eu-west-1.eks.amazonaws.com",
            ),
            [true, false, false],
        ),
        // `matches` on a missing label is false, even for `*`.
        (
            "region matches *",
            glob(label("region"), "*"),
            [true, true, false],
        ),
        (
            "region matches us-*-1",
            glob(label("region"), "us-*-1"),
            [false, true, false],
        ),
        // Exact comparison, no normalisation.
        (
            "region == EU-WEST-1",
            eq("region", "EU-WEST-1"),
            [false, false, false],
        ),
    ];
    for (what, selector, expected) in cases {
        for (cluster, want) in clusters.iter().zip(expected) {
            assert_eq!(
                matches(&selector, cluster),
                want,
                "`{what}` on `{}`",
                cluster.name
            );
        }
    }

    let fleet = Fleet::new(vec![eu.clone(), us.clone(), bare.clone()]);
    let not_us = ne("region", "us-east-1");
    let selected: Vec<&str> = fleet.select(&not_us).map(|c| c.name.as_str()).collect();
    assert_eq!(selected, ["prod-euw1-01", "lab"]);
    assert_eq!(fleet.get("lab"), Some(&bare));
}

#[test]
fn glob_semantics() {
    let yes = [
        ("prod-*", "prod-euw1-01"),
        ("prod-*", "prod-"),
        ("*-euw1-??", "prod-euw1-01"),
        ("*", ""),
        ("*", "anything at all"),
        ("**", ""),
        ("", ""),
        ("?", "é"),
        ("a*b*c", "abc"),
        ("a*b*c", "aXbYbZc"),
        ("*a", "aaa"),
        ("a?c", "abc"),
        (
            "https://*.eks.amazonaws.com",
            "https://x.gr7.eu-west-1.eks.amazonaws.com",
        ),
    ];
    for (pattern, text) in yes {
        assert!(
            glob_match(pattern, text),
            "{pattern:?} should match {text:?}"
        );
    }
    let no = [
        ("prod-*", "staging-euw1"),
        ("prod-*", "xprod-a"),
        ("*-euw1-??", "prod-euw1-1"),
        ("*-euw1-??", "prod-euw1-001"),
        ("", "a"),
        ("?", ""),
        ("a*b*c", "abcd"),
        ("a?c", "ac"),
        ("abc", "ABC"),
        ("[ab]", "a"),
    ];
    for (pattern, text) in no {
        assert!(
            !glob_match(pattern, text),
            "{pattern:?} should not match {text:?}"
        );
    }
}

#[test]
fn globs_with_many_stars_on_long_inputs_run_fast() {
    let long = "a".repeat(20_000);
    let long_b = format!("{long}b");
    let many_stars = format!("{}b", "*a".repeat(50));
    let start = Instant::now();
    assert!(!glob_match(&many_stars, &long));
    assert!(glob_match(&many_stars, &long_b));
    assert!(!glob_match(&"*?".repeat(200).to_string(), &"x".repeat(100)));
    assert!(glob_match(&format!("{}*", "*".repeat(1000)), &long));
    assert!(!glob_match("*a*a*a*a*a*a*a*a*a*a*c", &long));
    // A backtracking matcher takes exponential time on these; ours is O(pattern × text).
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn wrong_shapes_in_a_secret_list() {
    let text = "kind: List\nitems:\n  - kind: Secret\n    metadata: just-a-string\n";
    let diags = parse_err(text);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(
        diags[0]
            .message
            .starts_with("unexpected content in the fleet file: "),
        "{}",
        diags[0].message
    );
    assert_eq!(line(text, diags[0].span), 4);
    single(
        "kind: List\nitems: {a: b}\n",
        "unexpected content in the fleet file: expected a list here",
        2,
    );
    single(
        "clusters: []\n---\nclusters: []\n",
        "the fleet file is not valid YAML: the file holds more than one YAML document",
        3,
    );
}
