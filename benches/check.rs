//! `check` end to end: a generated repository of 1,000 files (950 strategies of about 2 KB
//! and 50 shared libraries) that import one another, through the release binary; and a 10 MB single file through the whole pipeline
//! (parse, resolve, type check, lint) in process.
//!
//! Run with:
//!
//! ```text
//! cargo bench --bench check
//! cargo bench --bench check -- repo      # the 1,000-file repository only
//! ```
//!
//! Targets: the repository under 0.5 s wall in release; the 10 MB file at 20 MB/s or more.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rollc::check::{Root, check};
use rollc::resolve::InMemory;

const REGIONS: &[&str] = &[
    "eu-west-1",
    "eu-central-1",
    "us-east-1",
    "us-west-2",
    "ap-southeast-1",
    "ap-northeast-1",
];

/// A shared library file: a schema-free set of `let`s and two templates.
fn library(n: usize) -> String {
    let mut s = format!("/// Shared definitions, part {n}.\n");
    let _ = writeln!(s, "let soak_{n} = {}m", 10 + n % 50);
    let _ = writeln!(
        s,
        "let regions_{n} = [{}]",
        REGIONS
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "let prod_{n} = env == \"prod\" and tier != \"experimental\""
    );
    let _ = writeln!(
        s,
        "/// Canary then the rest.\ntemplate canary_{n}(sel: selector, domain: label = region, size: count = 25%) {{\n  stage \"canary {n}\" {{ select sel; limit 1 per domain; bake each 10m; deadline 30m }}\n  stage \"rest {n}\" {{ select sel; batch size; spread by domain }}\n}}"
    );
    let _ = writeln!(
        s,
        "/// Region by region.\ntemplate regional_{n}(list: list<string>, soak: duration = 1h) {{\n  for r in list {{\n    stage \"${{r}} {n}\" {{ select region == r and env == \"prod\"; batch 25%; bake soak; tolerate 1 }}\n  }}\n}}"
    );
    s
}

/// A strategy file importing two libraries; about 2 KB.
fn strategy(n: usize, libs: usize) -> String {
    let (a, b) = (n % libs, (n * 7 + 3) % libs);
    let mut s =
        format!("import \"./lib/lib-{a}.rollout\" as a\nimport \"./lib/lib-{b}.rollout\" as b\n\n");
    let _ = writeln!(
        s,
        "/// Service {n}: staging, canaries per region, then region by region."
    );
    let _ = writeln!(s, "rollout \"service-{n}\" {{");
    let _ = writeln!(
        s,
        "  target appset \"service-{n}\" in \"argocd\" project \"team-{}\"",
        n % 17
    );
    let _ = writeln!(
        s,
        "  defaults {{\n    requeue when drained == \"true\" attempts 5 every 30m\n    on failure rollback\n  }}"
    );
    let _ = writeln!(
        s,
        "  stage \"staging\" {{\n    select env == \"staging\"\n    batch 100%\n    bake a.soak_{a}\n    gate webhook \"https://smoke.example.com/service-{n}\" timeout 5m retries 3\n  }}"
    );
    let _ = writeln!(
        s,
        "  use a.canary_{a}(a.prod_{a} and area == \"emea\", region, size = 20%)"
    );
    let _ = writeln!(s, "  use b.regional_{b}(b.regions_{b}, soak = 45m)");
    let _ = writeln!(
        s,
        "  stage \"stragglers\" {{\n    select env == \"prod\" and not (region in [\"eu-west-1\", \"us-east-1\"])\n    batch 10%\n    max in flight 1 per `topology.kubernetes.io/zone`\n    gate metric prometheus \"https://prometheus.example.com\"\n      query \"sum(rate(http_requests_total{{code=~\\\"5..\\\",service=\\\"service-{n}\\\"}}[5m])) / sum(rate(http_requests_total{{service=\\\"service-{n}\\\"}}[5m]))\"\n      below 0.01 for 10m every 1m\n    window allow Mon-Thu 09:00-16:00 tz \"Europe/London\"\n    window deny 2026-12-20..2027-01-04\n  }}"
    );
    let _ = writeln!(
        s,
        "  /// The critical tier last, one cluster at a time, with an approval first.\n  stage \"critical\" {{\n    select tier == \"critical\" and env == \"prod\"\n    batch 1\n    bake 2h\n    deadline 45m\n    tolerate 0\n    order by ring desc\n    gate approval \"SRE on call signs off service-{n}\"\n  }}\n  /// Everything left, spread over regions, inside business hours, outside the freeze.\n  stage \"rest\" {{\n    select all\n    batch 20%\n    spread by region\n    max in flight 2 per `topology.kubernetes.io/zone`\n    bake 30m\n    deadline 40m\n    tolerate 5%\n    window allow Mon-Fri 08:00-18:00 tz \"America/New_York\"\n    window deny 2026-11-26..2026-11-30\n    gate webhook \"https://smoke.example.com/service-{n}/final\" timeout 10m retries 5\n  }}"
    );
    s.push_str("}\n");
    s
}

fn write_repo(dir: &Path, files: usize, libs: usize) -> usize {
    std::fs::create_dir_all(dir.join("lib")).expect("lib dir");
    let mut bytes = 0;
    for i in 0..libs {
        let text = library(i);
        bytes += text.len();
        std::fs::write(dir.join(format!("lib/lib-{i}.rollout")), text).expect("write lib");
    }
    for i in 0..files - libs {
        let text = strategy(i, libs);
        bytes += text.len();
        std::fs::write(dir.join(format!("service-{i}.rollout")), text).expect("write strategy");
    }
    bytes
}

fn repo(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = write_repo(dir.path(), 1000, 50);
    eprintln!(
        "repository: 1000 files, {bytes} bytes ({} per file on average)",
        bytes / 1000
    );
    let bin = env!("CARGO_BIN_EXE_rollc");
    // A clean repository must check clean, or the benchmark measures error rendering.
    let out = Command::new(bin)
        .arg("check")
        .arg(dir.path())
        .output()
        .expect("run rollc");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut group = c.benchmark_group("check");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("repo 1000 files through the binary", |b| {
        b.iter(|| {
            let status = Command::new(bin)
                .arg("check")
                .arg(dir.path())
                .output()
                .expect("run")
                .status;
            assert!(status.success());
        })
    });
    group.finish();
}

fn big_file(c: &mut Criterion) {
    // One file with a library inlined and many strategies using it, about 10 MB.
    let mut text = library(0);
    let mut n = 0;
    while text.len() < 10 * 1024 * 1024 {
        let s = strategy(n, 1)
            .replace(
                "import \"./lib/lib-0.rollout\" as a\nimport \"./lib/lib-0.rollout\" as b\n",
                "",
            )
            .replace("a.", "")
            .replace("b.", "");
        text.push_str(&s);
        n += 1;
    }
    let mut fs = InMemory::new();
    fs.insert("big/main.rollout", text.clone());
    let roots = [Root::file("big/main.rollout")];
    let checked = check(&fs, &roots);
    assert!(
        checked.diagnostics.is_empty(),
        "{:?}",
        checked.diagnostics.first()
    );
    let mut group = c.benchmark_group("check");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("10 MB single file in process", |b| {
        b.iter(|| black_box(check(&fs, &roots)))
    });
    group.finish();
}

criterion_group!(benches, repo, big_file);
criterion_main!(benches);
