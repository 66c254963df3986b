//! Tests of reading the simulator blocks: defaults, every problem and its suggestion.

use jiff::{SignedDuration, Timestamp};

use super::error::{Place, SimError, SimProblem};
use super::spec::{self, Change, Outcome, Spec};
use crate::fleet::{self, Fleet};
use crate::source::FileId;

fn origin() -> Timestamp {
    "2026-03-01T09:00:00Z".parse().unwrap()
}

fn at(offset: &str) -> Timestamp {
    let d: SignedDuration = offset.parse().unwrap();
    origin().checked_add(d).unwrap()
}

fn fleet(yaml: &str) -> Fleet {
    match fleet::parse(FileId(0), yaml) {
        Ok(fleet) => fleet,
        Err(diags) => panic!("fleet file does not parse: {diags:#?}"),
    }
}

/// Three clusters, one drained, and whatever `extra` adds at the top level or in `a`'s
/// `sim` (`SIM` in the text).
fn with(extra: &str, sim_a: &str) -> Fleet {
    let text = format!(
        "clusters:
  - name: alpha
    server: https://a.example
    labels: {{region: eu}}
    sim: {sim_a}
  - name: beta
    server: https://b.example
    labels: {{region: us, drained: \"true\"}}
  - name: gamma
    server: https://c.example
{extra}"
    );
    fleet(&text)
}

fn ok(fleet: &Fleet) -> Spec {
    match spec::parse(fleet, origin()) {
        Ok(spec) => spec,
        Err(err) => panic!("unexpected problems: {:#?}", err.problems),
    }
}

fn problems(fleet: &Fleet) -> Vec<SimProblem> {
    match spec::parse(fleet, origin()) {
        Ok(_) => panic!("expected problems"),
        Err(SimError { problems }) => problems,
    }
}

/// The single problem of `fleet`.
fn problem(fleet: &Fleet) -> SimProblem {
    let mut all = problems(fleet);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

fn help(p: &SimProblem) -> &str {
    p.help.as_deref().unwrap_or("")
}

#[test]
fn built_in_defaults() {
    let spec = ok(&with("", "null"));
    assert_eq!(spec.head, "r2");
    assert_eq!(spec.initial, 3);
    for inc in &spec.incarnations {
        assert_eq!(inc.deployed.as_deref(), Some("r1"));
        assert_eq!(inc.behaviour.sync, SignedDuration::from_mins(5));
        assert_eq!(inc.behaviour.outcome, Outcome::Healthy);
        assert_eq!(inc.behaviour.flap_after, SignedDuration::from_mins(5));
        assert_eq!(inc.behaviour.flap_for, SignedDuration::from_mins(2));
    }
    // A drained cluster without any `drained_until` stays drained.
    assert!(spec.events.is_empty());
}

#[test]
fn cluster_keys_override_defaults() {
    let fleet = with(
        "defaults:
  revision: 9f3c2a1
  deployed: 4b7e0d2
  sync: 4m
  outcome: degraded
  drained_until: 2h
  flap_after: 1m
  flap_for: 30s",
        "{sync: 1h30m, outcome: flap, deployed: null, flap_for: 90s}",
    );
    let spec = ok(&fleet);
    assert_eq!(spec.head, "9f3c2a1");
    let [a, b, c] = &spec.incarnations[..] else {
        panic!()
    };
    assert_eq!(a.deployed, None);
    assert_eq!(a.behaviour.sync, SignedDuration::from_secs(5400));
    assert_eq!(a.behaviour.outcome, Outcome::Flap);
    assert_eq!(a.behaviour.flap_after, SignedDuration::from_mins(1));
    assert_eq!(a.behaviour.flap_for, SignedDuration::from_secs(90));
    for inc in [b, c] {
        assert_eq!(inc.deployed.as_deref(), Some("4b7e0d2"));
        assert_eq!(inc.behaviour.sync, SignedDuration::from_mins(4));
        assert_eq!(inc.behaviour.outcome, Outcome::Degraded);
    }
    // The default `drained_until` applies to the drained cluster only.
    assert_eq!(spec.events.len(), 1);
    assert_eq!(spec.events[0].at, at("2h"));
    let Change::Relabel { inc: 1, labels } = &spec.events[0].change else {
        panic!("{:?}", spec.events)
    };
    assert_eq!(labels.get("region").map(String::as_str), Some("us"));
    assert!(!labels.contains_key("drained"));
}

#[test]
fn a_drained_cluster_can_opt_out_of_the_default_expiry() {
    let text = "defaults: {drained_until: 1h}
clusters:
  - name: a
    server: https://a
    labels: {drained: \"true\"}
    sim: {drained_until: null}
";
    assert!(ok(&fleet(text)).events.is_empty());
}

#[test]
fn unknown_keys_are_suggested() {
    let p = problem(&with("", "{outcom: healthy}"));
    assert_eq!(p.place, Place::Cluster("alpha".into()));
    assert_eq!(p.field, "sim.outcom");
    assert_eq!(p.message, "unknown key `outcom`");
    assert_eq!(help(&p), "did you mean `outcome`?");
    assert_eq!(
        p.to_string(),
        "cluster `alpha`, `sim.outcom`: unknown key `outcom`"
    );

    let p = problem(&with("", "{drainedUntil: 1h}"));
    assert_eq!(help(&p), "did you mean `drained_until`?");

    let p = problem(&with("defaults: {revison: abc}", "null"));
    assert_eq!(p.place, Place::Defaults);
    assert_eq!(p.field, "defaults.revison");
    assert_eq!(help(&p), "did you mean `revision`?");

    let p = problem(&with("", "{zzzzzz: 1}"));
    assert!(help(&p).starts_with("expected `sync`, `outcome`"), "{p:?}");

    let p = problem(&with("events: [{at: 1h, revison: r3}]", "null"));
    assert_eq!(p.place, Place::Event(1));
    assert_eq!(p.field, "revison");
    assert_eq!(help(&p), "did you mean `revision`?");
}

#[test]
fn the_head_revision_belongs_in_defaults() {
    let p = problem(&with("", "{revision: r5}"));
    assert_eq!(p.field, "sim.revision");
    assert!(help(&p).contains("`defaults`"), "{p:?}");
}

#[test]
fn outcomes_are_suggested() {
    let p = problem(&with("", "{outcome: healty}"));
    assert_eq!(p.field, "sim.outcome");
    assert_eq!(p.message, "unknown outcome `healty`");
    assert_eq!(help(&p), "did you mean `healthy`?");
    for spelling in ["sync_failed", "SyncFailed", "syncfailed"] {
        let p = problem(&with("", &format!("{{outcome: {spelling}}}")));
        assert_eq!(help(&p), "did you mean `sync-failed`?", "{spelling}");
    }
    let p = problem(&with("", "{outcome: 3}"));
    assert!(p.message.starts_with("must be one of `healthy`"), "{p:?}");
}

#[test]
fn durations_use_the_language_syntax() {
    let spec = ok(&with("", "{sync: 1h30m}"));
    assert_eq!(
        spec.incarnations[0].behaviour.sync,
        SignedDuration::from_secs(5400)
    );

    let cases = [
        ("\"90\"", "`90` has no unit", "write e.g. `90s` or `90m`"),
        (
            "\"1.5h\"",
            "duration `1.5h` has a fraction",
            "durations are whole numbers of units: write `1h30m`",
        ),
        (
            "30min",
            "unknown duration unit `min` in `30min`",
            "write `30m`",
        ),
        (
            "-2h",
            "negative duration `-2h`: times count forward from the run's start",
            "write `2h`",
        ),
        ("\"\"", "the duration is empty", "durations are whole"),
        ("m5", "`m5` is not a duration", "durations are whole"),
        ("true", "must be a duration like `3m`, found a boolean", ""),
        ("20%", "`20%` is not a duration", ""),
        (
            "99999d",
            "duration `99999d` is too long",
            "the simulator takes durations of at most 36500d",
        ),
    ];
    for (text, message, help_start) in cases {
        let p = problem(&with("", &format!("{{sync: {text}}}")));
        assert_eq!(p.field, "sim.sync", "{text}");
        assert_eq!(p.message, message, "{text}");
        assert!(help(&p).starts_with(help_start), "{text}: {p:?}");
    }
    // A bare YAML number.
    let p = problem(&with("", "{sync: 5}"));
    assert!(p.message.contains("durations need a unit"), "{p:?}");
}

#[test]
fn revisions_must_be_strings() {
    let p = problem(&with("defaults: {revision: 1234567}", "null"));
    assert_eq!(p.field, "defaults.revision");
    assert_eq!(help(&p), "quote it: `\"1234567\"`");
    let p = problem(&with("", "{deployed: \"\"}"));
    assert_eq!(p.message, "must not be empty");
}

#[test]
fn drained_until_needs_a_drained_cluster() {
    let p = problem(&with("", "{drained_until: 1h}"));
    assert_eq!(p.field, "sim.drained_until");
    assert_eq!(
        p.message,
        "the cluster is not drained: it has no label `drained`"
    );
    assert!(help(&p).contains("drained: \"true\""), "{p:?}");
}

#[test]
fn the_sim_block_must_be_a_map() {
    let p = problem(&with("", "fast"));
    assert_eq!(p.field, "sim");
    assert_eq!(p.message, "must be a map, found a string");
    let p = problem(&with("defaults: [1]", "null"));
    assert_eq!(p.place, Place::Defaults);
}

#[test]
fn event_shapes() {
    let cases = [
        (
            "events: {at: 1h}",
            Place::Events,
            "events",
            "must be a list",
        ),
        ("events: [3]", Place::Event(1), "", "must be a map"),
        (
            "events: [null]",
            Place::Event(1),
            "at",
            "the event is empty",
        ),
        (
            "events: [{revision: r3}]",
            Place::Event(1),
            "at",
            "the event has no `at`",
        ),
        (
            "events: [{at: 1h}]",
            Place::Event(1),
            "",
            "the event says nothing happens",
        ),
        (
            "events: [{at: 1h, revision: r3, leave: alpha}]",
            Place::Event(1),
            "leave",
            "an event does one thing, this one has `revision` and `leave`",
        ),
        (
            "events: [{at: 1h, labels: {a: b}}]",
            Place::Event(1),
            "labels",
            "`labels` needs a `cluster`",
        ),
        (
            "events: [{at: 1h, cluster: alpha}]",
            Place::Event(1),
            "labels",
            "a `cluster` event needs `labels`",
        ),
        (
            "events: [{at: 1h, leave: alpha, labels: {a: b}}]",
            Place::Event(1),
            "labels",
            "`labels` belongs to a `cluster` event",
        ),
        (
            "events: [{at: 1h, cluster: alpha, labels: {\"Bad Key\": x}}]",
            Place::Event(1),
            "labels.Bad Key",
            "invalid label key `Bad Key`",
        ),
        (
            "events: [{at: 1h, cluster: alpha, labels: {a: [1]}}]",
            Place::Event(1),
            "labels.a",
            "label `a` must have a string value, found a list",
        ),
        (
            "events: [{at: 1h, revision: 7}]",
            Place::Event(1),
            "revision",
            "must be a string, found the number `7`",
        ),
        (
            "events: [{at: 1h, join: {server: https://z}}]",
            Place::Event(1),
            "join.name",
            "the joining cluster has no `name`",
        ),
        (
            "events: [{at: 1h, join: null}]",
            Place::Event(1),
            "join",
            "the joining cluster is empty",
        ),
        (
            "events: [{at: 1h, join: {name: z, server: https://z, labels: {a: null}}}]",
            Place::Event(1),
            "join.labels.a",
            "label `a` has no value",
        ),
        (
            "events: [{at: 1h, join: {name: z, server: https://z, sim: {outcome: flapp}}}]",
            Place::Event(1),
            "join.sim.outcome",
            "unknown outcome `flapp`",
        ),
        (
            "events: [{at: 1h, join: {name: z, server: https://z, labels: {drained: \"true\"}, \
             sim: {drained_until: 30m}}}]",
            Place::Event(1),
            "join.sim.drained_until",
            "the cluster's `drained` label would expire before it joins",
        ),
        (
            "events: [{at: 1h, join: {name: z, server: https://z, nmae: y}}]",
            Place::Event(1),
            "join.nmae",
            "unknown key `nmae`",
        ),
    ];
    for (extra, place, field, message) in cases {
        let p = problem(&with(extra, "null"));
        assert_eq!(p.place, place, "{extra}");
        assert_eq!(p.field, field, "{extra}");
        assert!(p.message.starts_with(message), "{extra}: {p:?}");
    }
}

#[test]
fn events_name_clusters_that_exist_at_their_time() {
    let p = problem(&with(
        "events: [{at: 1h, cluster: alpah, labels: {a: b}}]",
        "null",
    ));
    assert_eq!(p.field, "cluster");
    assert_eq!(p.message, "no cluster `alpah` in the fleet");
    assert_eq!(help(&p), "did you mean `alpha`?");

    let p = problem(&with("events: [{at: 1h, leave: gamme}]", "null"));
    assert_eq!(p.field, "leave");
    assert_eq!(help(&p), "did you mean `gamma`?");

    let p = problem(&with(
        "events: [{at: 1h, join: {name: beta, server: https://new}}]",
        "null",
    ));
    assert_eq!(p.field, "join.name");
    assert_eq!(
        p.message,
        "cluster `beta` is already in the fleet at this time"
    );

    let p = problem(&with(
        "events: [{at: 1h, join: {name: delta, server: https://b.example/}}]",
        "null",
    ));
    assert_eq!(p.field, "join.server");
    assert_eq!(
        p.message,
        "cluster `beta` already has server `https://b.example`"
    );

    // Listed out of time order: the label event at 30m comes before the join at 1h.
    let p = problem(&with(
        "events:
  - {at: 1h, join: {name: delta, server: https://d}}
  - {at: 30m, cluster: delta, labels: {a: b}}",
        "null",
    ));
    assert_eq!(p.place, Place::Event(2));
    assert!(
        p.message
            .starts_with("cluster `delta` is not in the fleet yet at")
    );
    assert_eq!(help(&p), "it joins in event 1");

    let p = problem(&with(
        "events:
  - {at: 2h, leave: gamma}
  - {at: 3h, leave: gamma}",
        "null",
    ));
    assert_eq!(p.place, Place::Event(2));
    assert!(p.message.starts_with("cluster `gamma` left the fleet at"));
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let fleet = with(
        "defaults: {sync: 3x}
events:
  - {at: 1h, leave: nobody}
  - {at: soon, revision: r3}",
        "{outcome: bad}",
    );
    let all = problems(&fleet);
    let places: Vec<String> = all.iter().map(|p| p.place.to_string()).collect();
    assert_eq!(
        places,
        ["defaults", "cluster `alpha`", "event 1", "event 2"],
        "{all:#?}"
    );
    let err = spec::parse(&fleet, origin()).unwrap_err();
    assert_eq!(err.to_string(), "invalid simulated fleet: 4 problems");
}

#[test]
fn changes_apply_in_time_order_and_no_ops_are_dropped() {
    let spec = ok(&with(
        "defaults: {revision: r2}
events:
  - {at: 3h, join: {name: gamma, server: https://c2, labels: {drained: \"true\"}, sim: {drained_until: 4h}}}
  - {at: 2h, leave: gamma}
  - {at: 1h, revision: r2}
  - {at: 1h, revision: r3}
  - {at: 1h, cluster: alpha, labels: {region: eu}}
  - {at: 1h, cluster: alpha, labels: {region: null, tier: gold}}",
        "null",
    ));
    let got: Vec<(Timestamp, &Change)> = spec.events.iter().map(|e| (e.at, &e.change)).collect();
    let relabel = |pairs: &[(&str, &str)]| Change::Relabel {
        inc: 0,
        labels: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let tier = relabel(&[("tier", "gold")]);
    let rev = Change::Revision("r3".into());
    let delta_drained = Change::Relabel {
        inc: 3,
        labels: std::collections::BTreeMap::new(),
    };
    assert_eq!(
        got,
        [
            (at("1h"), &rev),
            (at("1h"), &tier),
            (at("2h"), &Change::Leave(2)),
            (at("3h"), &Change::Join(3)),
            (at("4h"), &delta_drained),
        ]
    );
    // The rejoined name is a new incarnation.
    assert_eq!(spec.incarnations.len(), 4);
    assert_eq!(spec.incarnations[2].left, Some(at("2h")));
    assert_eq!(spec.incarnations[3].joined, Some(at("3h")));
    assert_eq!(spec.incarnations[3].cluster.server, "https://c2");
}

#[test]
fn an_expiry_after_a_leave_is_dropped() {
    let spec = ok(&with(
        "defaults: {drained_until: 2h}
events: [{at: 1h, leave: beta}]",
        "null",
    ));
    assert_eq!(spec.events.len(), 1);
    assert_eq!(spec.events[0].change, Change::Leave(1));
}
