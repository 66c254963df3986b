//! Parser throughput: `rollc::syntax::parse` (pre-scan, pest, lowering to the AST) on a
//! typical file and on generated 1 MB and 10 MB inputs.
//!
//! Run with:
//!
//! ```text
//! cargo bench --bench parse
//! cargo bench --bench parse -- --quick      # fewer samples, for a rough figure
//! cargo bench --bench parse -- 10mb         # one input only
//! cargo bench --bench parse -- phases       # pre-scan, pest, the two parsers, 1 MB
//! ```
//!
//! `parse` reads well-formed files (all of these inputs) with the hand-written fast parser;
//! `phases` also times the path every file with an error takes (pre-scan, pest, lowering).
//!
//! Targets: at least 30 MB/s on the large inputs, under 1 ms for the ~2 KB example.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use pest::Parser as _;
use rollc::source::FileId;
use rollc::syntax::{RolloutParser, Rule, parse, parse_with_pest, scan};

/// A typical hand-written file (about 2 KB).
const TYPICAL: &str = include_str!("../examples/canary-per-region.rollout");

/// A small deterministic generator (an LCG), so every run parses the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const REGIONS: &[&str] = &[
    "eu-west-1",
    "eu-central-1",
    "us-east-1",
    "us-west-2",
    "ap-southeast-1",
    "ap-northeast-1",
];
const AREAS: &[&str] = &["emea", "amer", "apac"];
const LABELS: &[&str] = &["region", "area", "tier", "ring"];
const DURATIONS: &[&str] = &["30s", "5m", "15m", "30m", "1h", "1h30m", "2h", "1d"];

/// One rollout with a `defaults` block and `stages` stages using most stage fields, in the
/// style of `examples/`.
fn rollout(out: &mut String, rng: &mut Rng, n: usize, stages: usize) {
    let app = format!("service-{n}");
    out.push_str(&format!(
        "/// Generated rollout number {n}: {stages} stages over the fleet.\n\
         rollout \"{app}\" {{\n  target appset \"{app}\" in \"argocd\" project \"team-{}\"\n\n",
        rng.below(40)
    ));
    out.push_str(&format!(
        "  defaults {{\n    deadline {}\n    requeue when drained == \"true\" attempts {} every {}\n    on failure rollback\n  }}\n\n",
        rng.pick(DURATIONS),
        1 + rng.below(5),
        rng.pick(DURATIONS),
    ));
    for s in 0..stages {
        let region = rng.pick(REGIONS);
        out.push_str(&format!(
            "  // Stage {s} of {app}.\n  stage \"{region} {s}\" {{\n"
        ));
        match rng.below(4) {
            0 => out.push_str(&format!(
                "    select env == \"prod\" and region == \"{region}\"\n"
            )),
            1 => out.push_str(&format!(
                "    select area == \"{}\" and not (tier == \"critical\" or ring in [\"0\", \"1\"])\n",
                rng.pick(AREAS)
            )),
            2 => out.push_str(&format!(
                "    select ring == \"{}\" and `topology.kubernetes.io/zone` != \"{region}a\"\n",
                rng.below(4)
            )),
            _ => out.push_str(&format!(
                "    select region in [\"{region}\", \"{}\"] and env != \"staging\"\n",
                rng.pick(REGIONS)
            )),
        }
        if rng.below(2) == 0 {
            out.push_str(&format!("    batch {}%\n", 5 + rng.below(95)));
        } else {
            out.push_str(&format!("    batch {}\n", 1 + rng.below(10)));
        }
        if rng.below(3) == 0 {
            out.push_str(&format!("    spread by {}\n", rng.pick(LABELS)));
        }
        if rng.below(3) == 0 {
            out.push_str(&format!(
                "    max in flight {} per `topology.kubernetes.io/zone`\n",
                1 + rng.below(3)
            ));
        }
        if rng.below(4) == 0 {
            out.push_str(&format!("    tolerate {}\n", rng.below(3)));
        }
        out.push_str(&format!("    bake {}\n", rng.pick(DURATIONS)));
        if rng.below(5) == 0 {
            out.push_str(&format!(
                "    gate webhook \"https://smoke.example.com/run?suite={app}&stage={s}\" timeout 5m retries 3\n"
            ));
        }
        if rng.below(6) == 0 {
            out.push_str(&format!(
                "    gate metric prometheus \"https://prometheus.example.com\"\n         query \"sum(rate(http_requests_total{{app=\\\"{app}\\\",code=~\\\"5..\\\"}}[5m]))\"\n         below 0.01 for {} every 1m\n",
                rng.pick(DURATIONS)
            ));
        }
        out.push_str("  }\n\n");
    }
    out.push_str("}\n\n");
}

/// A file of at least `size` bytes made of generated rollouts.
fn generate(size: usize) -> String {
    let mut rng = Rng(0x5eed_4011_c0de_f00d);
    let mut out = String::with_capacity(size + 4096);
    out.push_str("// Generated for the parser benchmark.\n\nlet prod = env == \"prod\"\n\n");
    let mut n = 0;
    while out.len() < size {
        let stages = 2 + rng.below(8) as usize;
        rollout(&mut out, &mut rng, n, stages);
        n += 1;
    }
    out
}

/// Parses `src` once outside the measurement and insists it is clean, so the benchmark
/// measures the full pipeline (scan, pest, lowering) rather than an early error exit.
fn assert_clean(name: &str, src: &str) {
    let parsed = parse(FileId(0), src);
    assert!(
        parsed.diagnostics.is_empty() && parsed.ast.is_some(),
        "benchmark input `{name}` does not parse cleanly: {:#?}",
        &parsed.diagnostics[..parsed.diagnostics.len().min(3)]
    );
}

fn typical(c: &mut Criterion) {
    assert_clean("typical", TYPICAL);
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(TYPICAL.len() as u64));
    group.bench_with_input(
        BenchmarkId::new("typical", TYPICAL.len()),
        TYPICAL,
        |b, src| b.iter(|| parse(FileId(0), black_box(src))),
    );
    group.finish();
}

fn large(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    // A 10 MB parse took a second with pest (about 0.2 s with the fast parser): one iteration
    // per sample, ten samples, and a measurement time that fits them.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1));
    for (name, size, secs) in [("1mb", 1 << 20, 5), ("10mb", 10 << 20, 20)] {
        let src = generate(size);
        assert_clean(name, &src);
        group.measurement_time(Duration::from_secs(secs));
        group.throughput(Throughput::Bytes(src.len() as u64));
        group.bench_with_input(BenchmarkId::new(name, src.len()), src.as_str(), |b, src| {
            b.iter(|| parse(FileId(0), black_box(src)))
        });
    }
    group.finish();
}

/// Where the time goes, on the 1 MB input: the structural pre-scan alone, pest alone (building
/// the pair tree), `parse` (the fast parser, dropping the AST), and `parse_with_pest` (pre-scan,
/// pest, lowering, dropping the AST: the path of files with errors).
fn phases(c: &mut Criterion) {
    let src = generate(1 << 20);
    let mut group = c.benchmark_group("phases-1mb");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Bytes(src.len() as u64));
    group.bench_function("scan", |b| {
        b.iter(|| scan::scan(FileId(0), black_box(&src)))
    });
    group.bench_function("pest", |b| {
        // pest parses the pre-scan's copy, comments blanked (as `parse` does).
        let input = rollc::syntax::pest_input(&src);
        assert!(RolloutParser::parse(Rule::file, &input).is_ok());
        b.iter(|| RolloutParser::parse(Rule::file, black_box(&input)).map(|pairs| pairs.count()))
    });
    group.bench_function("parse", |b| b.iter(|| parse(FileId(0), black_box(&src))));
    group.bench_function("parse_with_pest", |b| {
        b.iter(|| parse_with_pest(FileId(0), black_box(&src)))
    });
    group.finish();
}

criterion_group!(benches, typical, large, phases);
criterion_main!(benches);
