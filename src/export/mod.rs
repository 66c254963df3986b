//! `rollc export`: a checked strategy in another tool's format, as far as that format can
//! express it.
//!
//! The only format so far is Argo CD's RollingSync ([`rollingsync`]). An export never
//! silently weakens a strategy: every feature the format cannot express is a warning
//! ([`Code::NotExpressible`](crate::diagnostics::Code::NotExpressible)) naming the stage and
//! pointing at the field, a stage that cannot be expressed at all is an error
//! ([`Code::CannotExport`](crate::diagnostics::Code::CannotExport)), and the assumptions the
//! export makes are a note
//! ([`Code::ConversionAssumption`](crate::diagnostics::Code::ConversionAssumption)).

pub mod rollingsync;

pub use rollingsync::rollingsync;

use crate::diagnostics::Diagnostic;

/// The result of an export.
#[derive(Debug)]
pub struct Exported {
    /// The exported document(s), with what could not be expressed left out (and named in a
    /// comment where a whole stage is missing).
    pub text: String,
    /// Warnings, errors and notes, pointing into the strategy's sources.
    pub diagnostics: Vec<Diagnostic>,
}

impl Exported {
    /// True when every stage was exported (possibly with warnings): no error diagnostic.
    pub fn complete(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}
