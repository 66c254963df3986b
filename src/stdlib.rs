//! The standard library: strategies written in the rollout language itself, embedded into
//! the binary and registered under `<stdlib/NAME.rollout>` pseudo-paths so diagnostics can
//! point into them.

/// Every stdlib module: the name after `std/` and its source.
pub const MODULES: &[(&str, &str)] = &[
    ("canary", include_str!("../stdlib/canary.rollout")),
    ("regions", include_str!("../stdlib/regions.rollout")),
    ("rings", include_str!("../stdlib/rings.rollout")),
    ("windows", include_str!("../stdlib/windows.rollout")),
];

/// The source of `std/NAME`.
pub fn source(name: &str) -> Option<&'static str> {
    MODULES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, src)| *src)
}

/// The pseudo-path diagnostics use for `std/NAME`.
pub fn display_path(name: &str) -> String {
    format!("<stdlib/{name}.rollout>")
}

/// The module names, for "did you mean".
pub fn names() -> Vec<&'static str> {
    MODULES.iter().map(|(n, _)| *n).collect()
}
