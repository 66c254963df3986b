//! Judging a sync from an Application's status: per Application, then per cluster (every
//! Application of the cluster). Pure functions of the status and the request.
//!
//! Only rollc's own operation for *this* request counts: it is recognised by
//! `initiatedBy.username: rollc`, its revision, and the `rollc.requestedAt` info entry, which
//! holds the request's time exactly, so an older operation (another run, an earlier attempt
//! at the same revision, a human's sync) never passes for it. After it `Succeeded`, sync and
//! health status are trusted only when they postdate it: `status.reconciledAt` at or after
//! the operation's `finishedAt` (argo-cd#29410: status from before the sync is stale). An
//! Application compared with the requested revision must be `Synced` and `Healthy`; one that
//! Argo CD compares with another revision (the source head moved on, or a rollback to an
//! older revision, which Argo CD always shows as `OutOfSync` against `targetRevision`) is done
//! when its fresh health is `Healthy` and the operation's `syncResult.revision` is the
//! requested one. Without `reconciledAt` (never reconciled) only a status compared with the
//! requested revision is trusted.

use jiff::Timestamp;

use super::app::{Application, INITIATOR, OperationState};
use crate::backends::{ClusterStatus, SyncRequest};

/// What one Application says about a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not done yet, and why.
    Progressing(Wait),
    /// Synced at the revision and healthy, after rollc's operation succeeded.
    Healthy,
    /// Health `Degraded` or `Missing` after rollc's operation finished.
    Degraded(String),
    /// rollc's operation failed or errored.
    SyncFailed(String),
}

/// Why an Application is not done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// rollc's operation for this request is not in the status (not written yet, not picked
    /// up yet, or another operation runs first).
    NotStarted,
    /// It runs.
    Running,
    /// It succeeded, but the status has not been recomputed since.
    Refresh,
    /// It succeeded and the fresh status is `OutOfSync` at the requested revision.
    OutOfSync,
    /// It succeeded and health is neither `Healthy` nor a failure (`Progressing`,
    /// `Suspended`, `Unknown`).
    Health,
}

/// The `info` value that identifies `request` in rollc's operation.
pub fn request_token(request: &SyncRequest) -> String {
    request.at.to_string()
}

/// Whether `state` is the state of rollc's operation for `request`.
pub fn is_ours(state: &OperationState, request: &SyncRequest) -> bool {
    state
        .operation
        .as_ref()
        .is_some_and(|op| op.is_rollc_request(&request.revision, &request_token(request)))
}

/// Whether the app's pending top-level `operation` is rollc's for `request`.
pub fn pending_is_ours(app: &Application, request: &SyncRequest) -> bool {
    app.operation
        .as_ref()
        .is_some_and(|op| op.is_rollc_request(&request.revision, &request_token(request)))
}

/// Whether the request's sync is visible on the app at all: pending, running, finished, or
/// (when a later operation replaced its state) in the history.
pub fn started(app: &Application, request: &SyncRequest) -> bool {
    pending_is_ours(app, request)
        || app
            .status
            .operation_state
            .as_ref()
            .is_some_and(|s| is_ours(s, request))
        || in_history(app, request).is_some()
}

/// When rollc's sync for `request` finished, if a history entry shows it: started by rollc,
/// at the revision, no earlier than the request (history has no `info`, so the start time,
/// whole seconds, is compared with the request's time truncated to seconds).
fn in_history(app: &Application, request: &SyncRequest) -> Option<Option<Timestamp>> {
    let since = Timestamp::from_second(request.at.as_second()).ok()?;
    app.status.history.iter().flatten().rev().find_map(|h| {
        let by_rollc =
            h.initiated_by.as_ref().and_then(|i| i.username.as_deref()) == Some(INITIATOR);
        let started = h
            .deploy_started_at
            .as_deref()
            .or(h.deployed_at.as_deref())
            .and_then(parse_time)?;
        (by_rollc && h.revision.as_deref() == Some(request.revision.as_str()) && started >= since)
            .then(|| h.deployed_at.as_deref().and_then(parse_time))
    })
}

/// An RFC 3339 time as Kubernetes writes them.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    text.parse().ok()
}

/// Judges one Application against `request`.
pub fn judge(app: &Application, request: &SyncRequest) -> Verdict {
    let ours = app
        .status
        .operation_state
        .as_ref()
        .filter(|s| is_ours(s, request));
    let Some(state) = ours else {
        // A later operation may have replaced our finished one: the history still shows it.
        return match in_history(app, request) {
            Some(finished) => after_success(app, request, finished, Some(&request.revision)),
            None => Verdict::Progressing(Wait::NotStarted),
        };
    };
    match state.phase.as_deref() {
        Some("Failed") | Some("Error") => Verdict::SyncFailed(
            state
                .message
                .clone()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| {
                    format!(
                        "the sync ended in phase {}",
                        state.phase.as_deref().unwrap_or("")
                    )
                }),
        ),
        Some("Succeeded") => after_success(
            app,
            request,
            state.finished_at.as_deref().and_then(parse_time),
            state
                .sync_result
                .as_ref()
                .and_then(|r| r.revision.as_deref()),
        ),
        // Running, Terminating (it becomes Failed), or not yet set.
        _ => Verdict::Progressing(Wait::Running),
    }
}

/// Judges the status after rollc's operation succeeded at `finished`.
fn after_success(
    app: &Application,
    request: &SyncRequest,
    finished: Option<Timestamp>,
    synced_revision: Option<&str>,
) -> Verdict {
    let reconciled = app.status.reconciled_at.as_deref().and_then(parse_time);
    let fresh = match (reconciled, finished) {
        (Some(r), Some(f)) => Some(r >= f),
        // Reconciled, but the finish time is unknown: trust it.
        (Some(_), None) => Some(true),
        (None, _) => None,
    };
    if fresh == Some(false) {
        return Verdict::Progressing(Wait::Refresh);
    }
    let at_revision = app.compared_revision() == Some(request.revision.as_str());
    // A status compared with another revision is trusted only when known to be fresh.
    if !at_revision && fresh != Some(true) {
        return Verdict::Progressing(Wait::Refresh);
    }
    let health = app.status.health.status.as_deref().unwrap_or("");
    if matches!(health, "Degraded" | "Missing") {
        let message = app
            .status
            .health
            .message
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| format!("health is {health}"));
        return Verdict::Degraded(message);
    }
    let sync = app.status.sync.status.as_deref().unwrap_or("");
    if at_revision {
        if sync != "Synced" {
            return Verdict::Progressing(Wait::OutOfSync);
        }
    } else if synced_revision != Some(request.revision.as_str()) {
        // Compared with another revision, and the operation did not deploy ours either.
        return Verdict::Progressing(Wait::OutOfSync);
    }
    if health == "Healthy" {
        Verdict::Healthy
    } else {
        Verdict::Progressing(Wait::Health)
    }
}

/// A cluster's status from its Applications' verdicts: a failed sync first, then a degraded
/// app, then anything still progressing; healthy only when every app is.
pub fn combine<'a>(verdicts: impl IntoIterator<Item = (&'a str, Verdict)>) -> ClusterStatus {
    let mut failed = Vec::new();
    let mut degraded = Vec::new();
    let mut progressing = false;
    let mut any = false;
    for (app, verdict) in verdicts {
        any = true;
        match verdict {
            Verdict::SyncFailed(m) => failed.push(format!("Application `{app}`: {m}")),
            Verdict::Degraded(m) => degraded.push(format!("Application `{app}`: {m}")),
            Verdict::Progressing(_) => progressing = true,
            Verdict::Healthy => {}
        }
    }
    if !failed.is_empty() {
        return ClusterStatus::SyncFailed {
            reason: summarize(failed),
        };
    }
    if !degraded.is_empty() {
        return ClusterStatus::Degraded {
            reason: summarize(degraded),
        };
    }
    if progressing || !any {
        ClusterStatus::Progressing
    } else {
        ClusterStatus::Healthy
    }
}

fn summarize(mut reasons: Vec<String>) -> String {
    let more = reasons.len() - 1;
    let mut first = reasons.swap_remove(0);
    if more > 0 {
        first.push_str(&format!(" (and {more} more)"));
    }
    first
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const R: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
    const OLD: &str = "0000000000000000000000000000000000000000";

    fn request() -> SyncRequest {
        SyncRequest {
            cluster: "prod-1".into(),
            revision: R.into(),
            run: "run-1".into(),
            stage: "canary".into(),
            at: "2026-03-01T10:00:00.250Z".parse().unwrap(),
        }
    }

    /// rollc's operation for [`request`], as the controller copies it into the state.
    fn our_op() -> serde_json::Value {
        json!({
            "sync": {"revision": R},
            "initiatedBy": {"username": "rollc"},
            "info": [
                {"name": "Reason", "value": "rollc run run-1 stage canary"},
                {"name": "rollc.requestedAt", "value": "2026-03-01T10:00:00.25Z"},
            ],
        })
    }

    struct S {
        op: Option<serde_json::Value>,
        phase: Option<&'static str>,
        message: &'static str,
        finished: &'static str,
        reconciled: Option<&'static str>,
        sync: &'static str,
        revision: &'static str,
        health: &'static str,
        health_message: &'static str,
        result_revision: &'static str,
    }

    fn base() -> S {
        S {
            op: Some(our_op()),
            phase: Some("Succeeded"),
            message: "successfully synced (all tasks run)",
            finished: "2026-03-01T10:00:30Z",
            reconciled: Some("2026-03-01T10:00:31Z"),
            sync: "Synced",
            revision: R,
            health: "Healthy",
            health_message: "",
            result_revision: R,
        }
    }

    fn app(s: S) -> Application {
        let mut status = json!({
            "sync": {"status": s.sync, "revision": s.revision},
            "health": {"status": s.health, "message": s.health_message},
        });
        if let Some(r) = s.reconciled {
            status["reconciledAt"] = json!(r);
        }
        if let Some(phase) = s.phase {
            status["operationState"] = json!({
                "operation": s.op,
                "phase": phase,
                "message": s.message,
                "startedAt": "2026-03-01T10:00:01Z",
                "finishedAt": if phase == "Running" { serde_json::Value::Null } else { json!(s.finished) },
                "syncResult": {"revision": s.result_revision},
            });
        }
        serde_json::from_value(json!({"metadata": {"name": "app"}, "status": status})).unwrap()
    }

    fn verdict(s: S) -> Verdict {
        judge(&app(s), &request())
    }

    #[test]
    fn the_token_is_the_requests_time() {
        assert_eq!(request_token(&request()), "2026-03-01T10:00:00.25Z");
    }

    #[test]
    fn judging_table() {
        use Verdict::*;
        // Done: our operation succeeded, fresh status Synced at R and Healthy.
        assert_eq!(verdict(base()), Healthy);
        // Stale status from before the trigger: an older operation (another request) that
        // succeeded at the same revision with Synced/Healthy says nothing.
        let mut older = our_op();
        older["info"][1]["value"] = json!("2026-03-01T09:00:00Z");
        assert_eq!(
            verdict(S {
                op: Some(older),
                ..base()
            }),
            Progressing(Wait::NotStarted)
        );
        // A human's operation, or none at all.
        assert_eq!(
            verdict(S {
                op: Some(json!({"sync": {"revision": R}, "initiatedBy": {"username": "admin"}})),
                ..base()
            }),
            Progressing(Wait::NotStarted)
        );
        assert_eq!(
            verdict(S {
                phase: None,
                ..base()
            }),
            Progressing(Wait::NotStarted)
        );
        // Our operation at a different revision is not ours.
        let mut wrong = our_op();
        wrong["sync"]["revision"] = json!(OLD);
        assert_eq!(
            verdict(S {
                op: Some(wrong),
                ..base()
            }),
            Progressing(Wait::NotStarted)
        );
        // Running, Terminating.
        assert_eq!(
            verdict(S {
                phase: Some("Running"),
                ..base()
            }),
            Progressing(Wait::Running)
        );
        assert_eq!(
            verdict(S {
                phase: Some("Terminating"),
                ..base()
            }),
            Progressing(Wait::Running)
        );
        // Succeeded, but the status predates the finish (not reconciled since).
        assert_eq!(
            verdict(S {
                reconciled: Some("2026-03-01T10:00:10Z"),
                ..base()
            }),
            Progressing(Wait::Refresh)
        );
        // ...even when that stale status reads Degraded: not judged on it.
        assert_eq!(
            verdict(S {
                reconciled: Some("2026-03-01T10:00:10Z"),
                health: "Degraded",
                ..base()
            }),
            Progressing(Wait::Refresh)
        );
        // Succeeded, fresh, OutOfSync at R.
        assert_eq!(
            verdict(S {
                sync: "OutOfSync",
                ..base()
            }),
            Progressing(Wait::OutOfSync)
        );
        // Succeeded, status compared with the old revision and not reconciled since: stale.
        assert_eq!(
            verdict(S {
                revision: OLD,
                reconciled: None,
                ..base()
            }),
            Progressing(Wait::Refresh)
        );
        // Wrong revision, fresh, and the operation did not deploy R either.
        assert_eq!(
            verdict(S {
                revision: OLD,
                result_revision: OLD,
                ..base()
            }),
            Progressing(Wait::OutOfSync)
        );
        // Fresh status compared with another revision (head moved on, or a rollback shown
        // OutOfSync against targetRevision): the operation deployed R and health is fresh.
        assert_eq!(
            verdict(S {
                revision: OLD,
                sync: "OutOfSync",
                ..base()
            }),
            Healthy
        );
        // Never reconciled, but compared with R: trusted.
        assert_eq!(
            verdict(S {
                reconciled: None,
                ..base()
            }),
            Healthy
        );
        // Health still progressing / suspended.
        assert_eq!(
            verdict(S {
                health: "Progressing",
                ..base()
            }),
            Progressing(Wait::Health)
        );
        assert_eq!(
            verdict(S {
                health: "Suspended",
                ..base()
            }),
            Progressing(Wait::Health)
        );
        // Degraded / Missing after success.
        assert_eq!(
            verdict(S {
                health: "Degraded",
                health_message: "Deployment web exceeded its progress deadline",
                ..base()
            }),
            Degraded("Deployment web exceeded its progress deadline".into())
        );
        assert_eq!(
            verdict(S {
                health: "Missing",
                ..base()
            }),
            Degraded("health is Missing".into())
        );
        // Degraded while running is not judged yet.
        assert_eq!(
            verdict(S {
                phase: Some("Running"),
                health: "Degraded",
                ..base()
            }),
            Progressing(Wait::Running)
        );
        // Failed, Error.
        assert_eq!(
            verdict(S {
                phase: Some("Failed"),
                message: "one or more objects failed to apply",
                ..base()
            }),
            SyncFailed("one or more objects failed to apply".into())
        );
        assert_eq!(
            verdict(S {
                phase: Some("Error"),
                message: "",
                ..base()
            }),
            SyncFailed("the sync ended in phase Error".into())
        );
    }

    #[test]
    fn history_shows_a_replaced_operation() {
        // Our sync finished, then someone else's operation replaced the state.
        let mut a = app(S {
            op: Some(json!({"sync": {"revision": R}, "initiatedBy": {"username": "admin"}})),
            ..base()
        });
        let history = json!([
            {"revision": OLD, "deployedAt": "2026-02-01T00:00:00Z", "deployStartedAt": "2026-02-01T00:00:00Z", "initiatedBy": {"username": "rollc"}},
            {"revision": R, "deployedAt": "2026-03-01T10:00:30Z", "deployStartedAt": "2026-03-01T10:00:01Z", "initiatedBy": {"username": "rollc"}},
        ]);
        a.status.history = serde_json::from_value(history).unwrap();
        assert_eq!(judge(&a, &request()), Verdict::Healthy);
        assert!(started(&a, &request()));
        // An entry from before the request does not count.
        let mut later = request();
        later.at = "2026-03-01T11:00:00Z".parse().unwrap();
        assert_eq!(judge(&a, &later), Verdict::Progressing(Wait::NotStarted));
        assert!(!started(&a, &later));
    }

    #[test]
    fn a_cluster_is_the_sum_of_its_apps() {
        use Verdict::*;
        assert_eq!(
            combine([("a", Healthy), ("b", Healthy)]),
            ClusterStatus::Healthy
        );
        assert_eq!(
            combine([("a", Healthy), ("b", Progressing(Wait::Running))]),
            ClusterStatus::Progressing
        );
        assert_eq!(
            combine([
                ("a", Degraded("x".into())),
                ("b", Progressing(Wait::Running))
            ]),
            ClusterStatus::Degraded {
                reason: "Application `a`: x".into()
            }
        );
        assert_eq!(
            combine([
                ("a", Degraded("x".into())),
                ("b", SyncFailed("y".into())),
                ("c", SyncFailed("z".into()))
            ]),
            ClusterStatus::SyncFailed {
                reason: "Application `b`: y (and 1 more)".into()
            }
        );
        assert_eq!(combine([]), ClusterStatus::Progressing);
    }
}
