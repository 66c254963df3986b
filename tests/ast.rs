//! The AST that `rollc::syntax::parse` builds: one snapshot of a file using every construct,
//! and focused tests pinning down precedence, flattening, literal values, doc comments and
//! spans.

use std::path::Path;

use rollc::ast::*;
use rollc::source::{FileId, Span};
use rollc::syntax::parse;

/// A file that uses every construct of the language at least once.
const EVERY_CONSTRUCT: &str = r#"// Every construct of the language.

import "std/rings" as rings
import "./fleet-schema.rollout"

/// Production clusters.
let prod = env == "prod"
let regions = ["eu-west-1", "us-east-1",]
let business_hours = window Mon-Fri,Sun 09:00-17:30 tz "Europe/London"
let freeze = window 2026-12-20..2027-01-04
let one_day = window 2026-11-27
let soak = 1h30m
let size = 25%
let threshold = 0.01
let attempts = 3
let strict = true
let greeting = "tab\t quote\" smile \u{1F600} dollar \$ ${name}!"

/// Canary, then the rest.
template canary_then_rest(sel: selector, domain: label, size: count = 25%, names: list<string> = []) {
  /// The canary.
  stage "canary" { select sel; limit 1 per domain; batch 1 }
  for r in names { stage "${r}" { select sel and region == r; batch size } }
  use rings.standard()
}

fleet {
  /// Where the cluster runs.
  label area: "emea" | "amer"
  label drained: bool
  label `topology.kubernetes.io/zone`: string
}

/// The checkout service.
rollout "checkout" {
  target appset "checkout" in "argocd" project "payments"
  revision pinned
  on new revision restart
  defaults {
    deadline 20m
    requeue when drained == "true" attempts 5 every 30m
    on failure rollback
  }
  use canary_then_rest(prod, region, size = 10%)
  stage "everything" {
    select (has canary or cluster.name matches "prod-*") and not region in ["x"] and zone not in regions and cluster.server != "https://a" and `topology.kubernetes.io/zone` == "a" and all
    limit 50%
    batch 2
    spread by `topology.kubernetes.io/zone`
    max in flight 1 per zone
    order by cluster.name desc
    bake 2d
    bake each 90s
    tolerate 0
    gate webhook "https://smoke.example.com/run" timeout 5m retries 3 insecure
    gate metric prometheus "https://prom.example.com" query "sum(rate(errors[5m]))" above 0.99 for 15m every 1m
    gate approval "SRE signs off"
    gate approval
    window allow business_hours
    window deny freeze
    window deny Sat-Sun 00:00-24:00
    on failure pause
  }
}

rollout "apps" {
  target apps in "argocd" project "p" where `app.kubernetes.io/part-of` == "payments"
  on new revision queue
}
"#;

/// Parses `src`, requiring no diagnostics.
fn parse_ok(src: &str) -> File {
    let parsed = parse(FileId(0), src);
    assert!(
        parsed.diagnostics.is_empty(),
        "unexpected diagnostics for {src:?}:\n{:#?}",
        parsed.diagnostics
    );
    parsed.ast.expect("a file without diagnostics has an AST")
}

/// The value of the single `let` in `let x = <expr>`, with the source it was parsed from.
fn let_value(expr: &str) -> (String, Expr) {
    let src = format!("let x = {expr}\n");
    let mut file = parse_ok(&src);
    assert_eq!(file.items.len(), 1);
    match file.items.remove(0).kind {
        ItemKind::Let(l) => (src, l.value),
        other => panic!("expected a let, got {other:?}"),
    }
}

/// The text a span covers.
fn text(src: &str, span: Span) -> &str {
    &src[span.range()]
}

/// A compact, exact rendering of an expression's structure.
fn shape(e: &Expr) -> String {
    let list = |items: &[Expr]| items.iter().map(shape).collect::<Vec<_>>().join(", ");
    match &e.kind {
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Percent(p) => format!("{p}%"),
        ExprKind::Duration(s) => format!("{s}s"),
        ExprKind::Str(s) => match s.as_plain() {
            Some(text) => format!("{text:?}"),
            None => "interp".into(),
        },
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::List(items) => format!("[{}]", list(items)),
        ExprKind::Name(i) => format!("name:{}", i.name),
        ExprKind::Qualified { module, name } => format!("name:{}.{}", module.name, name.name),
        ExprKind::Key(k) if k.quoted => format!("key:`{}`", k.key),
        ExprKind::Key(k) => format!("key:{}", k.key),
        ExprKind::Attr(ClusterAttr::Name) => "cluster.name".into(),
        ExprKind::Attr(ClusterAttr::Server) => "cluster.server".into(),
        ExprKind::All => "all".into(),
        ExprKind::Compare { lhs, op, rhs } => {
            let op = match op {
                CompareOp::Eq => "==",
                CompareOp::Ne => "!=",
                CompareOp::Matches => "matches",
            };
            format!("Cmp({} {op} {})", shape(lhs), shape(rhs))
        }
        ExprKind::In { lhs, negated, rhs } => {
            let op = if *negated { "not in" } else { "in" };
            format!("In({} {op} {})", shape(lhs), shape(rhs))
        }
        ExprKind::Has(k) => format!("Has({})", k.key),
        ExprKind::Not(inner) => format!("Not({})", shape(inner)),
        ExprKind::And(items) => format!("And[{}]", list(items)),
        ExprKind::Or(items) => format!("Or[{}]", list(items)),
        ExprKind::Window(_) => "window".into(),
        ExprKind::Error => "error".into(),
    }
}

fn shape_of(expr: &str) -> String {
    shape(&let_value(expr).1)
}

fn rollout_of(file: &File, index: usize) -> (&Item, &Rollout) {
    let item = &file.items[index];
    match &item.kind {
        ItemKind::Rollout(r) => (item, r),
        other => panic!("item {index} is not a rollout: {other:?}"),
    }
}

fn stages(rollout: &Rollout) -> Vec<&Stage> {
    rollout
        .body
        .iter()
        .filter_map(|item| match item {
            RolloutItem::Stages(StageSeqItem::Stage(s)) => Some(s),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The whole tree

#[test]
fn every_construct_snapshot() {
    let file = parse_ok(EVERY_CONSTRUCT);
    let json = serde_json::to_string_pretty(&file).expect("the AST serialises");
    insta::assert_snapshot!("every_construct", json);
}

#[test]
fn examples_parse_without_diagnostics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rollout"))
        .collect();
    entries.sort();
    for path in entries {
        let src = std::fs::read_to_string(&path).expect("examples are UTF-8");
        let parsed = parse(FileId(0), &src);
        assert!(
            parsed.diagnostics.is_empty(),
            "{} has diagnostics:\n{:#?}",
            path.display(),
            parsed.diagnostics
        );
        let ast = parsed.ast.expect("an example has an AST");
        assert!(
            ast.items
                .iter()
                .any(|i| matches!(i.kind, ItemKind::Rollout(_))),
            "{} has no rollout",
            path.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 4,
        "expected the examples/*.rollout files, found {checked}"
    );
}

#[test]
fn json_objects_have_no_duplicate_keys() {
    let file = parse_ok(EVERY_CONSTRUCT);
    let json = serde_json::to_string(&file).expect("the AST serialises");
    if let Err(err) = serde_json::from_str::<NoDuplicateKeys>(&json) {
        panic!("the AST's JSON repeats a key: {err}");
    }
}

/// Any JSON value, refusing objects that repeat a key (which `serde_json::Value` would
/// silently collapse).
struct NoDuplicateKeys;

impl<'de> serde::Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NoDuplicateKeysVisitor)
    }
}

struct NoDuplicateKeysVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicateKeysVisitor {
    type Value = NoDuplicateKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_str<E>(self, _: &str) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_unit<E>(self) -> Result<NoDuplicateKeys, E> {
        Ok(NoDuplicateKeys)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<NoDuplicateKeys, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(NoDuplicateKeys)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<NoDuplicateKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            map.next_value::<NoDuplicateKeys>()?;
        }
        Ok(NoDuplicateKeys)
    }
}

// ---------------------------------------------------------------------------------------------
// Operators

#[test]
fn precedence_comparison_not_and_or() {
    let (src, e) = let_value(r#"a == "x" or b == "y" and not c == "z""#);
    // Or[Compare, And[Compare, Not(Compare)]], checked node by node.
    let ExprKind::Or(or) = &e.kind else {
        panic!("top is not `or`: {e:?}")
    };
    assert_eq!(or.len(), 2);
    assert!(matches!(
        &or[0].kind,
        ExprKind::Compare { lhs, op: CompareOp::Eq, rhs }
            if matches!(&lhs.kind, ExprKind::Key(k) if k.key == "a" && !k.quoted)
            && matches!(&rhs.kind, ExprKind::Str(s) if s.as_plain().as_deref() == Some("x"))
    ));
    let ExprKind::And(and) = &or[1].kind else {
        panic!("second operand is not `and`: {:?}", or[1])
    };
    assert_eq!(and.len(), 2);
    assert!(matches!(
        &and[0].kind,
        ExprKind::Compare {
            op: CompareOp::Eq,
            ..
        }
    ));
    let ExprKind::Not(negated) = &and[1].kind else {
        panic!("`not` does not wrap the last comparison: {:?}", and[1])
    };
    assert!(matches!(
        &negated.kind,
        ExprKind::Compare {
            op: CompareOp::Eq,
            ..
        }
    ));

    assert_eq!(
        text(&src, e.span),
        r#"a == "x" or b == "y" and not c == "z""#
    );
    assert_eq!(text(&src, or[1].span), r#"b == "y" and not c == "z""#);
    assert_eq!(text(&src, and[1].span), r#"not c == "z""#);
    assert_eq!(text(&src, negated.span), r#"c == "z""#);
}

#[test]
fn precedence_table() {
    for (src, want) in [
        (
            r#"a == "1" and b == "2" or c == "3""#,
            r#"Or[And[Cmp(key:a == "1"), Cmp(key:b == "2")], Cmp(key:c == "3")]"#,
        ),
        (
            r#"a == "1" or b == "2" and c == "3""#,
            r#"Or[Cmp(key:a == "1"), And[Cmp(key:b == "2"), Cmp(key:c == "3")]]"#,
        ),
        (
            r#"(a == "1" or b == "2") and c == "3""#,
            r#"And[Or[Cmp(key:a == "1"), Cmp(key:b == "2")], Cmp(key:c == "3")]"#,
        ),
        (
            r#"not a == "1" and b == "2""#,
            r#"And[Not(Cmp(key:a == "1")), Cmp(key:b == "2")]"#,
        ),
        (
            r#"not has a or b != "2""#,
            r#"Or[Not(Has(a)), Cmp(key:b != "2")]"#,
        ),
        (r#"not not a == "1""#, r#"Not(Not(Cmp(key:a == "1")))"#),
        (
            r#"a in ["1", "2"] and b not in xs"#,
            r#"And[In(key:a in ["1", "2"]), In(key:b not in name:xs)]"#,
        ),
        (
            r#"cluster.name matches "p-*" or cluster.server == "https://h""#,
            r#"Or[Cmp(cluster.name matches "p-*"), Cmp(cluster.server == "https://h")]"#,
        ),
        (
            r#"`example.com/x` == "1""#,
            r#"Cmp(key:`example.com/x` == "1")"#,
        ),
        (r#"((all))"#, "all"),
        ("emea", "name:emea"),
    ] {
        assert_eq!(shape_of(src), want, "for `{src}`");
    }
}

#[test]
fn and_or_chains_are_flat() {
    assert_eq!(
        shape_of(r#"a == "1" and b == "2" and c == "3" and has d"#),
        r#"And[Cmp(key:a == "1"), Cmp(key:b == "2"), Cmp(key:c == "3"), Has(d)]"#
    );
    assert_eq!(
        shape_of("has a or has b or has c or has d"),
        "Or[Has(a), Has(b), Has(c), Has(d)]"
    );
    // Mixed chains flatten within each operator only.
    assert_eq!(
        shape_of("has a and has b or has c and has d and has e"),
        "Or[And[Has(a), Has(b)], And[Has(c), Has(d), Has(e)]]"
    );
    // Parentheses keep their own group.
    assert_eq!(
        shape_of("has a and (has b and has c)"),
        "And[Has(a), Has(b), Has(c)]"
    );
    assert_eq!(
        shape_of("has a and (has b or has c) and has d"),
        "And[Has(a), Or[Has(b), Has(c)], Has(d)]"
    );
    // A long chain stays one level deep.
    let long = (0..200)
        .map(|i| format!("has l{i}"))
        .collect::<Vec<_>>()
        .join(" and ");
    let (_, e) = let_value(&long);
    let ExprKind::And(items) = &e.kind else {
        panic!("not an and chain")
    };
    assert_eq!(items.len(), 200);
    assert!(items.iter().all(|i| matches!(i.kind, ExprKind::Has(_))));
}

#[test]
fn not_in_versus_not_of_in() {
    let (src, e) = let_value(r#"region not in ["a", "b"]"#);
    assert!(
        matches!(&e.kind, ExprKind::In { negated: true, .. }),
        "{e:?}"
    );
    assert_eq!(text(&src, e.span), r#"region not in ["a", "b"]"#);

    let (_, e) = let_value("region not \n  in xs");
    assert_eq!(shape(&e), "In(key:region not in name:xs)");

    let (src, e) = let_value(r#"not (region in ["a", "b"])"#);
    let ExprKind::Not(inner) = &e.kind else {
        panic!("not a `not`: {e:?}")
    };
    assert!(
        matches!(&inner.kind, ExprKind::In { negated: false, .. }),
        "{inner:?}"
    );
    assert_eq!(text(&src, e.span), r#"not (region in ["a", "b"])"#);

    // Without parentheses `not` still applies to the whole comparison.
    assert_eq!(
        shape_of(r#"not region in ["a"]"#),
        r#"Not(In(key:region in ["a"]))"#
    );
}

#[test]
fn comparison_left_names_become_label_keys() {
    let (src, e) = let_value(r#"region == "eu-west-1""#);
    let ExprKind::Compare { lhs, rhs, .. } = &e.kind else {
        panic!("{e:?}")
    };
    let ExprKind::Key(key) = &lhs.kind else {
        panic!("lhs is not a key: {lhs:?}")
    };
    assert_eq!(key.key, "region");
    assert!(!key.quoted);
    assert_eq!(text(&src, key.span), "region");
    assert_eq!(text(&src, rhs.span), r#""eu-west-1""#);

    // A name on the right stays a name (a `let` or loop variable).
    assert_eq!(shape_of("region == r"), "Cmp(key:region == name:r)");
}

// ---------------------------------------------------------------------------------------------
// Literals

#[test]
fn durations_are_seconds() {
    for (lit, secs) in [
        ("0s", 0),
        ("90s", 90),
        ("30m", 1_800),
        ("1h", 3_600),
        ("1h30m", 5_400),
        ("2d", 172_800),
        ("1d2h3m4s", 93_784),
        ("1d30s", 86_430),
    ] {
        let (_, e) = let_value(lit);
        assert_eq!(e.kind, ExprKind::Duration(secs), "for {lit}");
    }
}

#[test]
fn numbers_and_percents() {
    for (lit, want) in [
        ("0%", ExprKind::Percent(0)),
        ("25%", ExprKind::Percent(25)),
        ("100%", ExprKind::Percent(100)),
        ("0", ExprKind::Int(0)),
        ("42", ExprKind::Int(42)),
        ("18446744073709551615", ExprKind::Int(u64::MAX)),
        ("0.01", ExprKind::Float(0.01)),
        ("true", ExprKind::Bool(true)),
        ("false", ExprKind::Bool(false)),
        ("all", ExprKind::All),
    ] {
        let (src, e) = let_value(lit);
        assert_eq!(e.kind, want, "for {lit}");
        assert_eq!(text(&src, e.span), lit);
    }
}

#[test]
fn lists_allow_trailing_commas_and_nesting() {
    assert_eq!(shape_of(r#"["a", "b",]"#), r#"["a", "b"]"#);
    assert_eq!(shape_of("[]"), "[]");
    assert_eq!(shape_of("[[1, 2], [3]]"), "[[1, 2], [3]]");
    assert_eq!(shape_of("[1h, 10%, x]"), "[3600s, 10%, name:x]");
}

#[test]
fn string_escapes_and_interpolation_parts() {
    let (src, e) =
        let_value(r#""pre ${region}-${zone} \${not} \"q\" \\ \n\t\r \u{1F600}\u{e9} end""#);
    let ExprKind::Str(s) = &e.kind else {
        panic!("{e:?}")
    };
    let parts: Vec<String> = s
        .parts
        .iter()
        .map(|p| match p {
            StrPart::Text(t) => format!("T({t})"),
            StrPart::Interp(i) => format!("I({})", i.name),
        })
        .collect();
    assert_eq!(
        parts,
        [
            "T(pre )",
            "I(region)",
            "T(-)",
            "I(zone)",
            "T( ${not} \"q\" \\ \n\t\r \u{1F600}\u{e9} end)",
        ]
    );
    assert_eq!(s.as_plain(), None);
    // Interpolated names point at the name, without `${` and `}`.
    for part in &s.parts {
        if let StrPart::Interp(ident) = part {
            assert_eq!(text(&src, ident.span), ident.name);
        }
    }
    // The literal's span includes its quotes.
    assert!(text(&src, s.span).starts_with("\"pre "));
    assert!(text(&src, s.span).ends_with(" end\""));
    assert_eq!(s.span, e.span);
}

#[test]
fn plain_and_empty_strings() {
    let (_, e) = let_value(r#""""#);
    let ExprKind::Str(s) = &e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(s.parts, [StrPart::Text(String::new())]);
    assert_eq!(s.as_plain().as_deref(), Some(""));

    let (_, e) = let_value(r#""${r}""#);
    let ExprKind::Str(s) = &e.kind else {
        panic!("{e:?}")
    };
    assert!(matches!(&s.parts[..], [StrPart::Interp(i)] if i.name == "r"));

    let (_, e) = let_value(r#""Zürich \u{1_F6_00}""#);
    let ExprKind::Str(s) = &e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(s.as_plain().as_deref(), Some("Zürich \u{1F600}"));
}

#[test]
fn windows() {
    let src = "let w = window Mon-Fri,Sun 9:30-24:00 2026-12-20..2027-01-04 tz \"Europe/London\"\n";
    let file = parse_ok(src);
    let ItemKind::Let(l) = &file.items[0].kind else {
        panic!()
    };
    let ExprKind::Window(w) = &l.value.kind else {
        panic!("{:?}", l.value)
    };
    assert_eq!(
        w.days.iter().map(|d| (d.from, d.to)).collect::<Vec<_>>(),
        [(0, 4), (6, 6)]
    );
    assert_eq!(text(src, w.days[0].span), "Mon-Fri");
    assert_eq!(text(src, w.days[1].span), "Sun");
    let hours = w.hours.expect("hours");
    assert_eq!((hours.from, hours.to), (9 * 60 + 30, 1440));
    assert_eq!(text(src, hours.span), "9:30-24:00");
    let dates = w.dates.expect("dates");
    assert_eq!(
        (dates.from, dates.to),
        (
            Date {
                year: 2026,
                month: 12,
                day: 20
            },
            Date {
                year: 2027,
                month: 1,
                day: 4
            }
        )
    );
    assert_eq!(text(src, dates.span), "2026-12-20..2027-01-04");
    assert_eq!(
        w.tz.as_ref().and_then(StrLit::as_plain).as_deref(),
        Some("Europe/London")
    );
    assert_eq!(
        text(src, w.span),
        "Mon-Fri,Sun 9:30-24:00 2026-12-20..2027-01-04 tz \"Europe/London\""
    );
    assert_eq!(
        text(src, l.value.span),
        &src["let w = ".len()..src.len() - 1]
    );

    // A single date is a one-day range; a bare day list has no hours.
    let src = "let w = window 2026-11-27\nlet v = window Sat-Sun\n";
    let file = parse_ok(src);
    let windows: Vec<&WindowSpec> = file
        .items
        .iter()
        .map(|i| match &i.kind {
            ItemKind::Let(Let {
                value:
                    Expr {
                        kind: ExprKind::Window(w),
                        ..
                    },
                ..
            }) => &**w,
            other => panic!("{other:?}"),
        })
        .collect();
    let single = windows[0].dates.expect("a date");
    assert_eq!(single.from, single.to);
    assert!(windows[0].days.is_empty() && windows[0].hours.is_none() && windows[0].tz.is_none());
    assert_eq!(
        windows[1]
            .days
            .iter()
            .map(|d| (d.from, d.to))
            .collect::<Vec<_>>(),
        [(5, 6)]
    );
    assert!(windows[1].hours.is_none() && windows[1].dates.is_none());
}

// ---------------------------------------------------------------------------------------------
// Doc comments

#[test]
fn doc_comments_attach_to_items_stages_and_labels() {
    let src = "\
/// Line one.
/// Line two.
rollout \"r\" {
  /// The canary stage.
  stage \"canary\" { select all }
  stage \"undocumented\" { select all }
}

/// Documented fleet.
fleet {
  /// Where it runs.
  label area: \"emea\" | \"amer\"
  // An ordinary comment.
  label tier: string
}
";
    let file = parse_ok(src);
    let (item, rollout) = rollout_of(&file, 0);
    let doc = item.doc.as_ref().expect("the rollout's doc");
    assert_eq!(doc.text, "Line one.\nLine two.");
    assert_eq!(text(src, doc.span), "/// Line one.\n/// Line two.");
    // The item's span starts at its keyword, after the doc.
    assert!(text(src, item.span).starts_with("rollout \"r\" {"));
    assert!(text(src, item.span).ends_with('}'));

    let stages = stages(rollout);
    let stage_doc = stages[0].doc.as_ref().expect("the stage's doc");
    assert_eq!(stage_doc.text, "The canary stage.");
    assert_eq!(text(src, stage_doc.span), "/// The canary stage.");
    assert!(stages[1].doc.is_none());

    let fleet_item = &file.items[1];
    assert_eq!(
        fleet_item.doc.as_ref().map(|d| d.text.as_str()),
        Some("Documented fleet.")
    );
    let ItemKind::Fleet(fleet) = &fleet_item.kind else {
        panic!()
    };
    assert_eq!(
        fleet.labels[0].doc.as_ref().map(|d| d.text.as_str()),
        Some("Where it runs.")
    );
    assert!(fleet.labels[1].doc.is_none(), "a `//` comment is not a doc");
}

#[test]
fn doc_comments_separated_by_a_blank_line_are_not_attached() {
    let src = "\
/// Orphaned.

let a = 1

/// Orphaned stage doc.

rollout \"r\" {
  /// Also orphaned.

  stage \"s\" { select all }
}

fleet {
  /// Orphaned label doc.

  label area: string
}
";
    let file = parse_ok(src);
    assert!(
        file.items.iter().all(|i| i.doc.is_none()),
        "{:#?}",
        file.items
    );
    let (_, rollout) = rollout_of(&file, 1);
    assert!(stages(rollout)[0].doc.is_none());
    let ItemKind::Fleet(fleet) = &file.items[2].kind else {
        panic!()
    };
    assert!(fleet.labels[0].doc.is_none());
}

#[test]
fn doc_comment_details() {
    let src = "\
//// Four slashes are an ordinary comment.
let a = 1
/// Kept:   inner spaces, first space stripped.
///
///No space.
let b = 2
/// Docs on a let.\r
let c = 3
";
    let file = parse_ok(src);
    assert!(file.items[0].doc.is_none());
    assert_eq!(
        file.items[1].doc.as_ref().map(|d| d.text.as_str()),
        Some("Kept:   inner spaces, first space stripped.\n\nNo space.")
    );
    let doc_c = file.items[2].doc.as_ref().expect("doc on c");
    assert_eq!(doc_c.text, "Docs on a let.");
    assert_eq!(text(src, doc_c.span), "/// Docs on a let.");
}

// ---------------------------------------------------------------------------------------------
// Spans

#[test]
fn spans_are_byte_offsets_of_the_right_text() {
    let src = "\
// é and 東京 before anything, so byte offsets differ from char offsets.
let zone_key = `topology.kubernetes.io/zone` == \"a\"
template t(sel: selector, names: list<string> = [\"x\"]) { stage \"t\" { select sel } }
rollout \"ünï\" {
  target appset \"app\" in \"argocd\" project \"p\"
  use t(all, names = [\"y\"])
  stage \"s\" {
    select not (region in [\"a\"]) and cluster.name matches \"p-*\"
    max in flight 1 per `topology.kubernetes.io/zone`
    bake each 15m
    on failure rollback
    gate webhook \"https://h\" timeout 5m
  }
}
";
    let file = parse_ok(src);
    assert_eq!(file.span, Span::new(0, src.len()));

    // let: name, key with backticks, comparison.
    let ItemKind::Let(l) = &file.items[0].kind else {
        panic!()
    };
    assert_eq!(text(src, l.name.span), "zone_key");
    assert_eq!(
        text(src, l.value.span),
        "`topology.kubernetes.io/zone` == \"a\""
    );
    let ExprKind::Compare { lhs, .. } = &l.value.kind else {
        panic!()
    };
    let ExprKind::Key(key) = &lhs.kind else {
        panic!()
    };
    assert!(key.quoted);
    assert_eq!(key.key, "topology.kubernetes.io/zone");
    assert_eq!(text(src, key.span), "`topology.kubernetes.io/zone`");

    // template: params and types.
    let ItemKind::Template(t) = &file.items[1].kind else {
        panic!()
    };
    assert_eq!(text(src, t.name.span), "t");
    assert_eq!(text(src, t.params[0].span), "sel: selector");
    assert_eq!(text(src, t.params[1].span), "names: list<string> = [\"x\"]");
    assert_eq!(text(src, t.params[1].ty.span), "list<string>");
    let arg = t.params[1].ty.arg.as_ref().expect("list<T> has T");
    assert_eq!(arg.name.name, "string");
    assert_eq!(text(src, arg.span), "string");
    assert_eq!(
        text(src, t.params[1].default.as_ref().expect("default").span),
        "[\"x\"]"
    );

    // rollout: name, target, use and args.
    let (item, rollout) = rollout_of(&file, 2);
    let ItemKind::Rollout(r) = &item.kind else {
        panic!()
    };
    assert_eq!(text(src, r.name.span), "\"ünï\"");
    assert_eq!(r.name.as_plain().as_deref(), Some("ünï"));
    let RolloutItem::Target(target) = &rollout.body[0] else {
        panic!()
    };
    assert_eq!(
        text(src, target.span),
        "target appset \"app\" in \"argocd\" project \"p\""
    );
    assert_eq!(
        text(src, target.namespace.as_ref().expect("ns").span),
        "\"argocd\""
    );
    assert_eq!(
        text(src, target.project.as_ref().expect("project").span),
        "\"p\""
    );
    let RolloutItem::Stages(StageSeqItem::Use(u)) = &rollout.body[1] else {
        panic!()
    };
    assert_eq!(text(src, u.span), "use t(all, names = [\"y\"])");
    assert_eq!(
        u.path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["t"]
    );
    assert!(u.args[0].name.is_none());
    assert_eq!(text(src, u.args[0].span), "all");
    assert_eq!(
        u.args[1].name.as_ref().map(|n| n.name.as_str()),
        Some("names")
    );
    assert_eq!(text(src, u.args[1].span), "names = [\"y\"]");
    assert_eq!(text(src, u.args[1].value.span), "[\"y\"]");

    // stage and its fields.
    let stage = stages(rollout)[0];
    assert!(text(src, stage.span).starts_with("stage \"s\" {"));
    assert!(text(src, stage.span).ends_with('}'));
    assert_eq!(text(src, stage.name.span), "\"s\"");
    let field_texts: Vec<(&str, &str)> = stage
        .fields
        .iter()
        .map(|f| (text(src, f.keyword_span), text(src, f.span)))
        .collect();
    assert_eq!(
        field_texts,
        [
            (
                "select",
                "select not (region in [\"a\"]) and cluster.name matches \"p-*\""
            ),
            (
                "max in flight",
                "max in flight 1 per `topology.kubernetes.io/zone`"
            ),
            ("bake each", "bake each 15m"),
            ("on failure", "on failure rollback"),
            ("gate", "gate webhook \"https://h\" timeout 5m"),
        ]
    );

    // The selector: `and` of `not (...)` and `matches`.
    let FieldKind::Select { selector } = &stage.fields[0].kind else {
        panic!()
    };
    assert_eq!(
        text(src, selector.span),
        "not (region in [\"a\"]) and cluster.name matches \"p-*\""
    );
    let ExprKind::And(parts) = &selector.kind else {
        panic!("{selector:?}")
    };
    assert_eq!(text(src, parts[0].span), "not (region in [\"a\"])");
    assert_eq!(text(src, parts[1].span), "cluster.name matches \"p-*\"");
    let ExprKind::Compare { lhs, .. } = &parts[1].kind else {
        panic!()
    };
    assert_eq!(text(src, lhs.span), "cluster.name");

    let FieldKind::MaxInFlight { count, per } = &stage.fields[1].kind else {
        panic!()
    };
    assert_eq!(text(src, count.span), "1");
    assert_eq!(text(src, per.span), "`topology.kubernetes.io/zone`");

    let FieldKind::Gate(gate) = &stage.fields[4].kind else {
        panic!()
    };
    assert_eq!(
        text(src, gate.span),
        "gate webhook \"https://h\" timeout 5m"
    );
    let GateKind::Webhook { url, timeout, .. } = &gate.kind else {
        panic!()
    };
    assert_eq!(text(src, url.span), "\"https://h\"");
    assert_eq!(text(src, timeout.as_ref().expect("timeout").span), "5m");
}

#[test]
fn parenthesised_expressions_keep_balanced_spans() {
    // Every node's text is balanced: a span never cuts a parenthesis in half.
    for expr in [
        r#"(region == "a")"#,
        r#"not (region == "a")"#,
        r#"(has a) and (has b)"#,
        r#"(has a or has b) and has c"#,
        r#"has c and (has a or has b)"#,
    ] {
        let (src, e) = let_value(expr);
        let mut stack = vec![&e];
        while let Some(node) = stack.pop() {
            let t = text(&src, node.span);
            assert_eq!(
                t.matches('(').count(),
                t.matches(')').count(),
                "unbalanced span {t:?} in `{expr}`"
            );
            match &node.kind {
                ExprKind::And(items) | ExprKind::Or(items) | ExprKind::List(items) => {
                    stack.extend(items)
                }
                ExprKind::Not(inner) => stack.push(inner),
                ExprKind::Compare { lhs, rhs, .. } | ExprKind::In { lhs, rhs, .. } => {
                    stack.push(lhs);
                    stack.push(rhs);
                }
                _ => {}
            }
        }
        // The outermost expression covers everything after `let x = `.
        assert_eq!(text(&src, e.span), expr);
    }
}

#[test]
fn rollout_level_statements() {
    let src = "\
rollout \"r\" {
  target apps in \"argocd\" where team == \"a\"
  revision pinned
  on new revision restart
  defaults { bake 1h }
  for r in rs { stage \"${r}\" { select region == r } }
}
rollout \"q\" { target appset \"q\"; on new revision queue }
";
    let file = parse_ok(src);
    let (_, r) = rollout_of(&file, 0);
    let RolloutItem::Target(target) = &r.body[0] else {
        panic!()
    };
    let TargetKind::Apps { selector } = &target.kind else {
        panic!()
    };
    assert_eq!(text(src, selector.span), "team == \"a\"");
    assert!(target.project.is_none());
    let RolloutItem::Revision(pin) = &r.body[1] else {
        panic!()
    };
    assert_eq!(text(src, pin.span), "revision pinned");
    let RolloutItem::OnNewRevision(on_new) = &r.body[2] else {
        panic!()
    };
    assert_eq!(on_new.policy, NewRevisionPolicy::Restart);
    assert_eq!(text(src, on_new.span), "on new revision restart");
    let RolloutItem::Defaults(defaults) = &r.body[3] else {
        panic!()
    };
    assert_eq!(text(src, defaults.span), "defaults { bake 1h }");
    assert_eq!(defaults.fields.len(), 1);
    let RolloutItem::Stages(StageSeqItem::For(f)) = &r.body[4] else {
        panic!()
    };
    assert_eq!(f.var.name, "r");
    assert_eq!(shape(&f.iter), "name:rs");
    assert_eq!(f.body.len(), 1);
    assert!(text(src, f.span).starts_with("for r in rs {"));

    let (_, q) = rollout_of(&file, 1);
    let RolloutItem::Target(target) = &q.body[0] else {
        panic!()
    };
    assert!(
        matches!(&target.kind, TargetKind::AppSet { name } if name.as_plain().as_deref() == Some("q"))
    );
    assert!(target.namespace.is_none());
    let RolloutItem::OnNewRevision(on_new) = &q.body[1] else {
        panic!()
    };
    assert_eq!(on_new.policy, NewRevisionPolicy::Queue);
}

#[test]
fn imports_and_module_uses() {
    let src = "import \"std/rings\" as rings\nimport \"./x.rollout\"\nrollout \"r\" { use rings.standard(size = 10%) }\n";
    let file = parse_ok(src);
    let ItemKind::Import(a) = &file.items[0].kind else {
        panic!()
    };
    assert_eq!(a.path.as_plain().as_deref(), Some("std/rings"));
    assert_eq!(a.alias.as_ref().map(|i| text(src, i.span)), Some("rings"));
    let ItemKind::Import(b) = &file.items[1].kind else {
        panic!()
    };
    assert_eq!(b.path.as_plain().as_deref(), Some("./x.rollout"));
    assert!(b.alias.is_none());
    let (_, r) = rollout_of(&file, 2);
    let RolloutItem::Stages(StageSeqItem::Use(u)) = &r.body[0] else {
        panic!()
    };
    assert_eq!(
        u.path.iter().map(|i| text(src, i.span)).collect::<Vec<_>>(),
        ["rings", "standard"]
    );
    assert_eq!(
        u.args[0].name.as_ref().map(|n| n.name.as_str()),
        Some("size")
    );
    assert_eq!(u.args[0].value.kind, ExprKind::Percent(10));
}

#[test]
fn field_values() {
    let src = "\
rollout \"r\" {
  stage \"s\" {
    limit 1 per region
    order by tier desc
    requeue when drained == \"true\" attempts 5 every 30m
    gate metric prometheus \"https://p\" query \"q\" above 0.99 for 15m every 1m
    gate approval \"why\"
    gate webhook \"http://h\" insecure
    window deny Sat-Sun
    window allow hours
  }
  stage \"t\" { order by cluster.server; limit 10%; requeue when has x; gate approval }
}
";
    let file = parse_ok(src);
    let (_, r) = rollout_of(&file, 0);
    let stages = stages(r);
    let kinds: Vec<&FieldKind> = stages[0].fields.iter().map(|f| &f.kind).collect();

    let FieldKind::Limit { count, per } = kinds[0] else {
        panic!()
    };
    assert_eq!(count.kind, ExprKind::Int(1));
    assert_eq!(per.as_ref().map(|k| k.key.as_str()), Some("region"));

    let FieldKind::OrderBy { key, descending } = kinds[1] else {
        panic!()
    };
    assert_eq!(shape(key), "key:tier");
    assert!(*descending);

    let FieldKind::Requeue {
        when,
        attempts,
        every,
    } = kinds[2]
    else {
        panic!()
    };
    assert_eq!(shape(when), "Cmp(key:drained == \"true\")");
    assert_eq!(
        attempts.as_ref().map(|a| a.kind.clone()),
        Some(ExprKind::Int(5))
    );
    assert_eq!(
        every.as_ref().map(|e| e.kind.clone()),
        Some(ExprKind::Duration(1_800))
    );

    let Gate {
        kind:
            GateKind::Metric {
                url,
                query,
                comparison,
                threshold,
                window,
                every,
            },
        ..
    } = gate(kinds[3])
    else {
        panic!()
    };
    assert_eq!(shape(url), "\"https://p\"");
    assert_eq!(shape(query), "\"q\"");
    assert_eq!(*comparison, MetricComparison::Above);
    assert_eq!(threshold.kind, ExprKind::Float(0.99));
    assert_eq!(
        window.as_ref().map(|w| w.kind.clone()),
        Some(ExprKind::Duration(900))
    );
    assert_eq!(
        every.as_ref().map(|w| w.kind.clone()),
        Some(ExprKind::Duration(60))
    );

    let Gate {
        kind: GateKind::Approval { reason },
        ..
    } = gate(kinds[4])
    else {
        panic!()
    };
    assert_eq!(reason.as_ref().map(shape).as_deref(), Some("\"why\""));

    let Gate {
        kind:
            GateKind::Webhook {
                insecure,
                timeout,
                retries,
                ..
            },
        ..
    } = gate(kinds[5])
    else {
        panic!()
    };
    assert!(*insecure);
    assert!(timeout.is_none() && retries.is_none());

    assert!(matches!(
        kinds[6],
        FieldKind::Window { mode: WindowMode::Deny, spec } if matches!(spec.kind, ExprKind::Window(_))
    ));
    assert!(matches!(
        kinds[7],
        FieldKind::Window { mode: WindowMode::Allow, spec } if shape(spec) == "name:hours"
    ));

    let t: Vec<&FieldKind> = stages[1].fields.iter().map(|f| &f.kind).collect();
    assert!(
        matches!(t[0], FieldKind::OrderBy { key, descending: false } if shape(key) == "cluster.server")
    );
    assert!(
        matches!(t[1], FieldKind::Limit { count, per: None } if count.kind == ExprKind::Percent(10))
    );
    assert!(matches!(
        t[2],
        FieldKind::Requeue {
            attempts: None,
            every: None,
            ..
        }
    ));
    assert!(matches!(
        &gate(t[3]).kind,
        GateKind::Approval { reason: None }
    ));
}

/// The gate of a `gate` field.
fn gate(kind: &FieldKind) -> &Gate {
    match kind {
        FieldKind::Gate(gate) => gate,
        other => panic!("not a gate: {other:?}"),
    }
}

#[test]
fn failure_policies() {
    for (word, policy) in [
        ("pause", FailurePolicy::Pause),
        ("abort", FailurePolicy::Abort),
        ("rollback", FailurePolicy::Rollback),
    ] {
        let src = format!("rollout \"r\" {{ defaults {{ on failure {word} }} }}");
        let file = parse_ok(&src);
        let (_, r) = rollout_of(&file, 0);
        let RolloutItem::Defaults(d) = &r.body[0] else {
            panic!()
        };
        assert_eq!(
            d.fields[0].kind,
            FieldKind::OnFailure { policy },
            "for {word}"
        );
    }
}

#[test]
fn fleet_label_types() {
    let src = "fleet {\n  label area: \"emea\" | \"amer\"\n  label `example.com/tier`: string\n  label one: \"x\"\n}\n";
    let file = parse_ok(src);
    let ItemKind::Fleet(fleet) = &file.items[0].kind else {
        panic!()
    };
    let LabelType::Enum { values } = &fleet.labels[0].ty else {
        panic!()
    };
    assert_eq!(
        values
            .iter()
            .map(|v| v.as_plain().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["emea", "amer"]
    );
    assert_eq!(
        text(src, fleet.labels[0].span),
        "label area: \"emea\" | \"amer\""
    );
    let label = &fleet.labels[1];
    assert!(label.key.quoted);
    assert_eq!(label.key.key, "example.com/tier");
    assert!(matches!(&label.ty, LabelType::Named { name } if name.name == "string"));
    assert!(matches!(&fleet.labels[2].ty, LabelType::Enum { values } if values.len() == 1));
}

#[test]
fn files_without_items() {
    for src in [
        "",
        "\n",
        "// only a comment",
        ";;;",
        "\u{FEFF}// a byte order mark\n",
    ] {
        let file = parse_ok(src);
        assert!(file.items.is_empty(), "{src:?}");
        assert_eq!(file.span, Span::new(0, src.len()));
    }
}

#[test]
fn errors_still_give_a_tree() {
    // Lowering reports mistakes and keeps going: the tree has an Error node where the
    // malformed literal was, and the rest of the stage is intact.
    let src = "rollout \"r\" { stage \"s\" { select a == \"x\" && has b; bake 30min; batch 2 } }";
    let parsed = parse(FileId(0), src);
    let codes: Vec<&str> = parsed.diagnostics.iter().map(|d| d.code.id()).collect();
    assert_eq!(codes, ["R0006", "R0008"]);
    let file = parsed.ast.expect("lowering errors keep the tree");
    let (_, r) = rollout_of(&file, 0);
    let fields: Vec<&FieldKind> = stages(r)[0].fields.iter().map(|f| &f.kind).collect();
    assert!(
        matches!(fields[0], FieldKind::Select { selector } if shape(selector) == "And[Cmp(key:a == \"x\"), Has(b)]")
    );
    assert!(matches!(fields[1], FieldKind::Bake { duration } if duration.kind == ExprKind::Error));
    assert!(matches!(fields[2], FieldKind::Batch { count } if count.kind == ExprKind::Int(2)));
}

#[test]
fn spans_exclude_trailing_whitespace_and_comments() {
    let src = "\
let a = has x  // trailing comment
let w = window Mon-Fri
rollout \"r\" {
  target appset \"x\" in \"y\"
  // a comment between statements
  stage \"s\" {
    bake 1h // soak
    window allow Mon-Fri
    select has a
    gate approval
    gate webhook \"u\" timeout 5m
    tolerate 1
  }
}
";
    let file = parse_ok(src);
    let texts: Vec<&str> = file.items[..2].iter().map(|i| text(src, i.span)).collect();
    assert_eq!(texts, ["let a = has x", "let w = window Mon-Fri"]);
    let (_, r) = rollout_of(&file, 2);
    let RolloutItem::Target(target) = &r.body[0] else {
        panic!()
    };
    assert_eq!(text(src, target.span), "target appset \"x\" in \"y\"");
    let fields: Vec<&str> = stages(r)[0]
        .fields
        .iter()
        .map(|f| text(src, f.span))
        .collect();
    assert_eq!(
        fields,
        [
            "bake 1h",
            "window allow Mon-Fri",
            "select has a",
            "gate approval",
            "gate webhook \"u\" timeout 5m",
            "tolerate 1",
        ]
    );
    let FieldKind::Window { spec, .. } = &stages(r)[0].fields[1].kind else {
        panic!()
    };
    assert_eq!(text(src, spec.span), "Mon-Fri");
}
