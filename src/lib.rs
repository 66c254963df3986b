//! rollc: a compiler and runtime for fleet-wide Argo CD rollout strategies.
//!
//! The pipeline runs one way: [`source`] text → [`syntax`] (pest, lowering) → [`ast`] →
//! later phases. Diagnostics are plain data ([`diagnostics`]) rendered only at the edge
//! ([`cli`]).

// The pest-generated parser names `alloc` (pest is built without `std`, which turns off its
// per-rule stack probe: the pre-scan already bounds nesting, so the probe is pure cost).
extern crate alloc;

pub mod ast;
pub mod backends;
pub mod check;
pub mod cli;
pub mod diagnostics;
pub mod export;
pub mod fleet;
pub mod hir;
pub mod import;
pub mod ir;
pub mod lint;
pub mod plan;
pub mod resolve;
pub mod runtime;
pub mod source;
pub mod stdlib;
pub mod store;
pub mod syntax;
pub mod types;
