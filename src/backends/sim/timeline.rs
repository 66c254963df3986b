//! What one simulated sync reports and when: the status facts of a [`SyncRequest`] given
//! the cluster's behaviour, and when (if ever) the revision is deployed.

use jiff::Timestamp;

use super::spec::{Behaviour, Outcome};
use crate::backends::{ClusterStatus, SyncRequest};

/// The facts of one sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// Status changes, in time order (the first is `Progressing` at the request's `at`).
    pub facts: Vec<(Timestamp, ClusterStatus)>,
    /// When the requested revision is running on the cluster; `None` when the sync fails.
    pub deployed_at: Option<Timestamp>,
}

/// The timeline of `request` on a cluster that behaves as `behaviour` and ran `initial`
/// before the run. A sync back to `initial` (a rollback) always ends healthy: the old
/// revision was good. Times past jiff's range are dropped (never reached).
pub fn timeline(behaviour: &Behaviour, initial: Option<&str>, request: &SyncRequest) -> Timeline {
    let at = request.at;
    let rev = &request.revision;
    let end = at.checked_add(behaviour.sync).ok();
    let mut facts = vec![(at, ClusterStatus::Progressing)];
    let push = |facts: &mut Vec<_>, t: Option<Timestamp>, status| {
        if let Some(t) = t {
            facts.push((t, status));
        }
    };
    let outcome = if initial == Some(rev.as_str()) {
        Outcome::Healthy
    } else {
        behaviour.outcome
    };
    let deployed_at = match outcome {
        Outcome::Healthy => {
            push(&mut facts, end, ClusterStatus::Healthy);
            end
        }
        Outcome::Degraded => {
            push(&mut facts, end, degraded(rev));
            end
        }
        Outcome::SyncFailed => {
            push(
                &mut facts,
                end,
                ClusterStatus::SyncFailed {
                    reason: format!(
                        "simulated: one or more objects failed to apply at revision {rev}"
                    ),
                },
            );
            None
        }
        Outcome::NeverHealthy => end,
        Outcome::Flap => {
            let down = end.and_then(|t| t.checked_add(behaviour.flap_after).ok());
            let up = down.and_then(|t| t.checked_add(behaviour.flap_for).ok());
            push(&mut facts, end, ClusterStatus::Healthy);
            push(&mut facts, down, degraded(rev));
            push(&mut facts, up, ClusterStatus::Healthy);
            end
        }
    };
    Timeline { facts, deployed_at }
}

fn degraded(revision: &str) -> ClusterStatus {
    ClusterStatus::Degraded {
        reason: format!("simulated: health Degraded at revision {revision}"),
    }
}
