//! Values of the language and their types.

use crate::hir::{Loc, Selector, Window};

/// A type, as written in template parameters and named in "expected X, found Y".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    /// Whole numbers.
    Int,
    /// `25%`.
    Percent,
    /// An int or a percent: a number of clusters.
    Count,
    /// A decimal or an int.
    Number,
    /// `1h30m`.
    Duration,
    /// Text.
    String,
    /// An absolute http(s) URL, written as a string.
    Url,
    /// `true` / `false`.
    Bool,
    /// A cluster selector.
    Selector,
    /// A label key.
    Label,
    /// A time window.
    Window,
    /// A list of one element type.
    List(Box<Type>),
}

impl Type {
    /// Parses a type name (`list` needs its argument separately).
    pub fn named(name: &str) -> Option<Type> {
        Some(match name {
            "int" => Type::Int,
            "percent" => Type::Percent,
            "count" => Type::Count,
            "number" => Type::Number,
            "duration" => Type::Duration,
            "string" => Type::String,
            "url" => Type::Url,
            "bool" => Type::Bool,
            "selector" => Type::Selector,
            "label" => Type::Label,
            "window" => Type::Window,
            _ => return None,
        })
    }

    /// Every type name, for suggestions.
    pub const NAMES: &'static [&'static str] = &[
        "int", "percent", "count", "number", "duration", "string", "url", "bool", "selector",
        "label", "window", "list",
    ];

    /// How messages name the type.
    pub fn describe(&self) -> String {
        match self {
            Type::Int => "an integer".into(),
            Type::Percent => "a percentage".into(),
            Type::Count => "a count (an integer or a percentage)".into(),
            Type::Number => "a number".into(),
            Type::Duration => "a duration".into(),
            Type::String => "a string".into(),
            Type::Url => "a URL string".into(),
            Type::Bool => "`true` or `false`".into(),
            Type::Selector => "a selector".into(),
            Type::Label => "a label key".into(),
            Type::Window => "a time window".into(),
            Type::List(inner) => format!("a list of {}", plural(inner)),
        }
    }
}

fn plural(ty: &Type) -> String {
    match ty {
        Type::Int => "integers".into(),
        Type::Percent => "percentages".into(),
        Type::Count => "counts".into(),
        Type::Number => "numbers".into(),
        Type::Duration => "durations".into(),
        Type::String => "strings".into(),
        Type::Url => "URLs".into(),
        Type::Bool => "booleans".into(),
        Type::Selector => "selectors".into(),
        Type::Label => "label keys".into(),
        Type::Window => "windows".into(),
        Type::List(inner) => format!("lists of {}", plural(inner)),
    }
}

/// A value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `42`
    Int(u64),
    /// `25%`
    Percent(u8),
    /// Seconds.
    Duration(u64),
    /// `0.01`
    Float(f64),
    /// Text.
    Str(String),
    /// `true` / `false`
    Bool(bool),
    /// `[...]`
    List(Vec<Val>),
    /// A selector.
    Selector(Selector),
    /// A label key.
    Label(String),
    /// A window without its allow/deny mode.
    Window(Window),
}

impl Value {
    /// How messages name the value's type.
    pub fn describe(&self) -> String {
        match self {
            Value::Int(n) => format!("the integer `{n}`"),
            Value::Percent(p) => format!("the percentage `{p}%`"),
            Value::Duration(_) => "a duration".into(),
            Value::Float(_) => "a decimal number".into(),
            Value::Str(s) => format!("the string `\"{s}\"`"),
            Value::Bool(b) => format!("`{b}`"),
            Value::List(_) => "a list".into(),
            Value::Selector(_) => "a selector".into(),
            Value::Label(k) => format!("the label key `{k}`"),
            Value::Window(_) => "a time window".into(),
        }
    }

    /// Whether the value has type `ty`.
    pub fn is(&self, ty: &Type) -> bool {
        match (self, ty) {
            (Value::Int(_), Type::Int | Type::Count | Type::Number) => true,
            (Value::Percent(_), Type::Percent | Type::Count) => true,
            (Value::Duration(_), Type::Duration) => true,
            (Value::Float(_), Type::Number) => true,
            (Value::Str(_), Type::String | Type::Url) => true,
            (Value::Bool(_), Type::Bool) => true,
            (Value::Selector(_), Type::Selector) => true,
            (Value::Label(_), Type::Label) => true,
            (Value::Window(_), Type::Window) => true,
            (Value::List(items), Type::List(inner)) => items.iter().all(|v| v.value.is(inner)),
            _ => false,
        }
    }
}

/// A value with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Val {
    /// The value.
    pub value: Value,
    /// Where the value itself is written.
    pub loc: Loc,
    /// The name it was reached through and that name's definition, for "defined here".
    pub via: Option<(String, Loc)>,
}

impl Val {
    /// A value written at `loc`.
    pub fn new(value: Value, loc: Loc) -> Val {
        Val {
            value,
            loc,
            via: None,
        }
    }
}
