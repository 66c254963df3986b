//! Every stdlib module is imported and expanded: each template with its defaults and with
//! arguments, through the library's `check` (an in-memory source) and through the binary.

use std::process::Command;

use rollc::check::{Root, check};
use rollc::hir::{Count, Gate, Program, SelectorKind};
use rollc::resolve::InMemory;

/// Checks one in-memory file and returns its program, failing on any diagnostic.
fn program(src: &str) -> Program {
    let mut fs = InMemory::new();
    fs.insert("strategies/main.rollout", src);
    let checked = check(&fs, &[Root::file("strategies/main.rollout")]);
    let rendered = rollc::diagnostics::render::human(&checked.diagnostics, &checked.sources, false);
    assert!(
        checked.diagnostics.is_empty(),
        "unexpected diagnostics:\n{rendered}"
    );
    checked
        .programs
        .into_iter()
        .next()
        .flatten()
        .expect("the root was read")
}

fn stage_names(p: &Program) -> Vec<&str> {
    p.rollouts[0]
        .stages
        .iter()
        .map(|s| s.name.as_str())
        .collect()
}

#[test]
fn rings_standard_and_progressive() {
    let p = program(
        r#"import "std/rings" as rings
rollout "r" { target appset "a"; use rings.standard() }
rollout "p" { target appset "a"; use rings.progressive(key = tier, bake2 = 1d, reason = "ok?") }
"#,
    );
    assert_eq!(stage_names(&p), ["ring 0", "ring 1", "ring 2", "ring 3"]);
    let standard = &p.rollouts[0].stages;
    assert_eq!(standard[0].bake.as_ref().map(|b| b.value), Some(3600));
    assert_eq!(
        standard[0].batch.as_ref().map(|b| b.value),
        Some(Count::Percent(10))
    );
    let progressive = &p.rollouts[1].stages;
    // The `key` argument replaces the label the rings select on.
    let select = progressive[0].select.as_ref().expect("ring 0 selects");
    assert!(
        matches!(&select.kind, SelectorKind::Eq { key: rollc::hir::Attr::Label(k), value } if k == "tier" && value == "0")
    );
    assert_eq!(progressive[2].bake.as_ref().map(|b| b.value), Some(86_400));
    assert!(
        progressive
            .iter()
            .flat_map(|s| &s.gates)
            .any(|g| matches!(&g.value, Gate::Approval { reason: Some(r) } if r == "ok?"))
    );
}

#[test]
fn canary_per_domain_and_fixed() {
    let p = program(
        r#"import "std/canary" as canary
rollout "d" { target appset "a"; use canary.per_domain(env == "prod", zone, rest_batch = 2) }
rollout "f" { target appset "a"; use canary.fixed(env == "prod") }
"#,
    );
    let d = &p.rollouts[0].stages;
    assert_eq!(
        d.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["canary", "rest"]
    );
    let limit = d[0].limit.as_ref().expect("canary has a limit");
    assert_eq!(limit.count.value, Count::Int(1));
    assert_eq!(limit.per.as_ref().map(|k| k.value.as_str()), Some("zone"));
    assert_eq!(
        d[1].spread_by.as_ref().map(|k| k.value.as_str()),
        Some("zone")
    );
    assert_eq!(d[1].batch.as_ref().map(|b| b.value), Some(Count::Int(2)));
    assert_eq!(p.rollouts[1].stages.len(), 2);
    // Both expansions remember the `use` they came from.
    assert!(d.iter().all(|s| !s.expanded_from.is_empty()));
}

#[test]
fn regions_one_by_one() {
    let p = program(
        r#"import "std/regions" as regions
rollout "g" {
  target appset "a"
  use regions.one_by_one(["eu-west-1", "us-east-1"], prometheus = "https://prom.example.com", query = "sum(rate(errors_total[5m]))")
}
rollout "u" { target appset "a"; use regions.one_by_one_ungated(["ap-southeast-1"], bake_time = 2h) }
"#,
    );
    assert_eq!(stage_names(&p), ["eu-west-1", "us-east-1"]);
    let gate = &p.rollouts[0].stages[1].gates[0].value;
    assert!(
        matches!(gate, Gate::Metric { url, threshold, .. } if url == "https://prom.example.com" && (*threshold - 0.01).abs() < 1e-12)
    );
    assert_eq!(
        p.rollouts[1].stages[0].bake.as_ref().map(|b| b.value),
        Some(7200)
    );
}

#[test]
fn windows_by_alias_and_unqualified() {
    let p = program(
        r#"import "std/windows" as windows
rollout "w" {
  target appset "a"
  stage "prod" {
    select all
    window allow windows.business_hours_london
    window deny windows.year_end_freeze_2026
    window deny windows.weekend
  }
}
"#,
    );
    let windows = &p.rollouts[0].stages[0].windows;
    assert_eq!(windows.len(), 3);
    assert_eq!(windows[0].value.tz.as_deref(), Some("Europe/London"));
    assert_eq!(windows[0].value.hours, Some((9 * 60, 17 * 60)));
    assert!(windows[1].value.dates.is_some());
    assert_eq!(windows[2].value.days, [(5, 6)]);

    let unqualified = program(
        "import \"std/windows\"\nrollout \"w\" { target appset \"a\"; stage \"s\" { select all; window deny weekend } }\n",
    );
    assert_eq!(unqualified.rollouts[0].stages[0].windows.len(), 1);
}

#[test]
fn a_wrong_argument_points_into_the_stdlib_and_at_the_use() {
    let mut fs = InMemory::new();
    fs.insert(
        "s/main.rollout",
        "import \"std/rings\" as rings\nfleet { label ring: \"0\" | \"1\" }\nrollout \"r\" { target appset \"a\"; use rings.standard() }\n",
    );
    let checked = check(&fs, &[Root::file("s/main.rollout")]);
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code.id()).collect();
    assert_eq!(
        codes,
        ["R0251", "R0251"],
        "rings 2 and 3 are not in the schema"
    );
    let d = &checked.diagnostics[0];
    assert_eq!(checked.sources.get(d.file).name(), "<stdlib/rings.rollout>");
    assert!(
        d.labels
            .iter()
            .any(|l| checked.sources.get(l.file).name() == "s/main.rollout")
    );
}

#[test]
fn the_binary_checks_every_stdlib_module() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("all.rollout");
    std::fs::write(
        &file,
        r#"import "std/rings" as rings
import "std/canary" as canary
import "std/regions" as regions
import "std/windows" as windows
rollout "all" {
  target appset "a"
  use rings.standard()
  use canary.fixed(env == "prod")
  use regions.one_by_one_ungated(["eu-west-1"])
  stage "late" { select all; window allow windows.business_hours_tokyo }
}
"#,
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_rollc"))
        .args(["check", "--color", "never", "--format", "json"])
        .arg(&file)
        .output()
        .expect("run rollc");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    assert_eq!(out.status.code(), Some(0));
}

fn rollc(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rollc"))
        .args(args)
        .output()
        .expect("run rollc");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rollc_doc_lists_and_shows_modules() {
    let (code, out, _) = rollc(&["doc"]);
    assert_eq!(code, Some(0));
    for name in ["std/canary", "std/regions", "std/rings", "std/windows"] {
        assert!(out.contains(name), "`rollc doc` lists {name}:\n{out}");
    }
    let (code, out, _) = rollc(&["doc", "std/rings"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("template standard(key: label = ring"), "{out}");
    assert!(out.contains("template progressive("), "{out}");
    let (code, _, err) = rollc(&["doc", "std/ringz"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("std/rings"),
        "suggests the right module: {err}"
    );
}
