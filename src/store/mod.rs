//! Run state: where runs are journaled, how one executor holds a run, and how operators
//! reach a run from another process.
//!
//! The embedded store is a local directory (default `.rollc/`, see [`local`]). A run's
//! state is its journal ([`crate::runtime::event::Record`]s, one JSON object per line) plus
//! the strategy and fleet it was started with ([`RunMeta`]); everything else is rebuilt by
//! replaying the journal.

pub mod local;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ir;
use crate::runtime::core::Intent;

pub use local::{LocalStore, RunLock, StoreError};

/// What a run was started with: enough for any process to resume it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// The run's id.
    pub id: String,
    /// When it was created (wall time).
    pub created: Timestamp,
    /// The strategy file or IR it came from, as given.
    pub source: String,
    /// The rollout it executes.
    pub rollout: ir::Rollout,
    /// The fleet, as given to `--fleet` (`sim:PATH` with an absolute path).
    pub fleet: String,
    /// Run time scale: `None` for virtual time, else real time this many times faster.
    pub speed: Option<f64>,
    /// Run time at the start.
    pub origin: Timestamp,
    /// Wall time at the start (for a scaled real clock).
    pub wall_origin: Timestamp,
    /// The revision to pin, when one was asked for (`--revision`, `undo`); else the
    /// fleet's head at the start.
    pub revision: Option<String>,
    /// The run this one undoes or follows, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
}

/// An operator's request, as written to the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntentFile {
    /// A unique id (also the file's name).
    pub id: String,
    /// What is asked.
    pub intent: IntentKind,
    /// Who asked: user and host.
    pub by: String,
    /// When (wall time).
    pub at: Timestamp,
}

/// The operator requests an executor can receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentKind {
    /// `rollc pause`.
    Pause,
    /// `rollc resume`.
    Resume,
    /// `rollc promote`.
    Promote,
    /// `rollc promote --full`.
    PromoteFull,
    /// `rollc abort`.
    Abort,
    /// `rollc retry`.
    Retry,
}

impl IntentKind {
    /// The executor's form of the request.
    pub fn intent(self) -> Intent {
        match self {
            IntentKind::Pause => Intent::Pause,
            IntentKind::Resume => Intent::Resume,
            IntentKind::Promote => Intent::Promote { full: false },
            IntentKind::PromoteFull => Intent::Promote { full: true },
            IntentKind::Abort => Intent::Abort,
            IntentKind::Retry => Intent::Retry,
        }
    }

    /// The command that sends it.
    pub fn command(self) -> &'static str {
        match self {
            IntentKind::Pause => "pause",
            IntentKind::Resume => "resume",
            IntentKind::Promote => "promote",
            IntentKind::PromoteFull => "promote --full",
            IntentKind::Abort => "abort",
            IntentKind::Retry => "retry",
        }
    }
}

/// What came of an intent, written back for the operator who sent it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// Whether it was carried out.
    pub accepted: bool,
    /// What happened, or why not.
    pub message: String,
}

/// Who this process is, for locks and journal records: `user@host (pid N)`.
pub fn whoami() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host} (pid {})", std::process::id())
}
