//! The runtime: executes a compiled strategy ([`crate::ir`]) against a [`Backend`], with a
//! run-state store and a clock as seams.
//!
//! (Being written.)

pub mod probe;
pub mod window;

#[allow(unused_imports)]
use crate::backends::Backend;
pub mod clock;
pub mod core;
pub mod drive;
pub mod event;
