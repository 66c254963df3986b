//! The project's own diagnostic type: plain data, rendered only at the edge by [`render`].

pub mod codes;
pub mod render;

pub use codes::Code;

use crate::source::{FileId, Span};
use serde::Serialize;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Extra information, never fails a check.
    Note,
    /// Probably a mistake; fails `check` only with `--deny-warnings`.
    Warning,
    /// The input is wrong; `check` exits 1.
    Error,
}

impl Severity {
    /// The lower-case name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Whether a label marks the place of the problem or a related place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelStyle {
    /// Where the problem is.
    Primary,
    /// Context, e.g. where an unclosed block opened.
    Secondary,
}

/// A span with a short message, in one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    /// Primary or secondary.
    pub style: LabelStyle,
    /// The file the span points into.
    pub file: FileId,
    /// The marked bytes.
    pub span: Span,
    /// Text shown beside the mark (may be empty).
    pub message: String,
}

/// A machine-applicable fix: replace `span` in `file` with `replacement`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// What the fix does, e.g. "replace with `==`".
    pub message: String,
    /// The file to edit.
    pub file: FileId,
    /// The bytes to replace (empty to insert).
    pub span: Span,
    /// The new text.
    pub replacement: String,
}

/// One problem found in the sources.
///
/// Messages are lower-case, without a final period, with user input in backticks; longer
/// explanations go into `help`, labels and `rollc explain CODE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable identifier, `R` and four digits.
    pub code: Code,
    /// Error, warning or note.
    pub severity: Severity,
    /// One line saying what is wrong.
    pub message: String,
    /// The file the diagnostic belongs to.
    pub file: FileId,
    /// The main position; also the first primary label's span.
    pub span: Span,
    /// Primary label first, then secondary ones.
    pub labels: Vec<Label>,
    /// How to fix it, if there is more to say than the message.
    pub help: Option<String>,
    /// Further notes shown after the help.
    pub notes: Vec<String>,
    /// Fixes an editor can apply.
    pub suggestions: Vec<Suggestion>,
    /// Structured facts for tools (JSON output), e.g. a stage's counts after rounding.
    pub data: Option<Data>,
}

/// Structured facts a diagnostic carries beyond its text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Data {
    /// The clusters the diagnostic is about (uncovered, in an unlisted label value, ...).
    Clusters {
        /// Cluster names, in fleet order.
        clusters: Vec<String>,
    },
    /// Clusters two stages select.
    Overlap {
        /// The stage that takes them.
        first: String,
        /// The later stage that also selects them.
        second: String,
        /// Cluster names.
        clusters: Vec<String>,
    },
    /// A stage's counts after the rounding rule.
    StageCounts {
        /// The rollout.
        rollout: String,
        /// The stage.
        stage: String,
        /// Clusters its `select` matches.
        selected: u64,
        /// Of those, clusters no earlier stage took (the base of `limit`).
        candidates: u64,
        /// Clusters it updates (the base of `batch`).
        clusters: u64,
        /// `limit` after rounding.
        limit: Option<u64>,
        /// `batch` after rounding.
        batch: u64,
    },
}

impl Diagnostic {
    /// A diagnostic with the code's default severity and a primary label at `span`.
    pub fn new(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            file,
            span,
            labels: vec![Label {
                style: LabelStyle::Primary,
                file,
                span,
                message: String::new(),
            }],
            help: None,
            notes: Vec::new(),
            suggestions: Vec::new(),
            data: None,
        }
    }

    /// Sets the primary label's text.
    pub fn with_label(mut self, message: impl Into<String>) -> Diagnostic {
        if let Some(primary) = self.labels.first_mut() {
            primary.message = message.into();
        }
        self
    }

    /// Adds a secondary label in the same file.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            style: LabelStyle::Secondary,
            file: self.file,
            span,
            message: message.into(),
        });
        self
    }

    /// Adds a secondary label in another file (e.g. a definition in an imported module).
    pub fn with_secondary_in(
        mut self,
        file: FileId,
        span: Span,
        message: impl Into<String>,
    ) -> Diagnostic {
        self.labels.push(Label {
            style: LabelStyle::Secondary,
            file,
            span,
            message: message.into(),
        });
        self
    }

    /// Sets the help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Adds a machine-applicable replacement in the same file.
    pub fn with_suggestion(
        mut self,
        message: impl Into<String>,
        span: Span,
        replacement: impl Into<String>,
    ) -> Diagnostic {
        self.suggestions.push(Suggestion {
            message: message.into(),
            file: self.file,
            span,
            replacement: replacement.into(),
        });
        self
    }

    /// Attaches structured data.
    pub fn with_data(mut self, data: Data) -> Diagnostic {
        self.data = Some(data);
        self
    }

    /// Overrides the severity (e.g. a lint promoted to an error).
    pub fn with_severity(mut self, severity: Severity) -> Diagnostic {
        self.severity = severity;
        self
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
