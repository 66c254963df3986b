//! The registry of diagnostic codes: each code's id, default severity, title and long
//! explanation (`docs/codes/RNNNN.md`, embedded so `rollc explain` works from any directory).
//!
//! Ranges: `R00xx` syntax, `R01xx` names and modules, `R02xx` types, `R03xx` lints.

use super::Severity;
use serde::{Serialize, Serializer};

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $id:literal, $severity:ident, $title:literal; )*) => {
        /// A stable diagnostic code. The set only grows; ids are never reused.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in id order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The id, e.g. `R0001`.
            pub fn id(self) -> &'static str {
                match self { $( Code::$variant => $id, )* }
            }

            /// The severity a diagnostic with this code has unless overridden.
            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$severity, )* }
            }

            /// A short title for listings.
            pub fn title(self) -> &'static str {
                match self { $( Code::$variant => $title, )* }
            }

            /// The long explanation in Markdown, as printed by `rollc explain`.
            pub fn explanation(self) -> &'static str {
                match self {
                    $( Code::$variant => include_str!(concat!("../../docs/codes/", $id, ".md")), )*
                }
            }
        }
    };
}

codes! {
    /// pest could not match the input and no more specific diagnosis applies.
    UnexpectedToken = "R0001", Error, "unexpected token";
    /// A string literal runs to the end of its line.
    UnterminatedString = "R0002", Error, "unterminated string";
    /// A `{`, `(` or `[` is never closed.
    UnclosedDelimiter = "R0003", Error, "unclosed delimiter";
    /// A `}`, `)` or `]` closes nothing, or closes the wrong kind of bracket.
    UnexpectedCloser = "R0004", Error, "unexpected closing delimiter";
    /// `=` written where the comparison `==` is meant.
    SingleEquals = "R0005", Error, "`=` used for comparison";
    /// `&&`, `||` or `!` instead of `and`, `or`, `not`.
    CStyleOperator = "R0006", Error, "C-style logical operator";
    /// `maxUnavailable: 2` and similar YAML habits.
    YamlStyleField = "R0007", Error, "YAML-style field";
    /// A malformed duration such as `30min` or `1.5h`.
    InvalidDuration = "R0008", Error, "invalid duration";
    /// A percentage outside 0–100% or with a fraction.
    InvalidPercent = "R0009", Error, "invalid percentage";
    /// A malformed or out-of-range number.
    InvalidNumber = "R0010", Error, "invalid number";
    /// A field name that the block does not know.
    UnknownField = "R0011", Error, "unknown field";
    /// A keyword in a place where it cannot appear.
    MisplacedKeyword = "R0012", Error, "keyword out of place";
    /// An unknown escape such as `\q` in a string.
    InvalidEscape = "R0013", Error, "invalid escape sequence";
    /// A backtick-quoted label key that Kubernetes would reject.
    InvalidLabelKey = "R0014", Error, "invalid label key";
    /// A time window with an impossible day, time or date.
    InvalidWindow = "R0015", Error, "invalid time window";
    /// A comparison whose left side is not a label key or cluster attribute.
    ComparisonOperand = "R0016", Error, "comparison needs a label key";
    /// The same field twice in one block.
    DuplicateField = "R0017", Error, "duplicate field";
    /// The file's bytes are not UTF-8.
    NotUtf8 = "R0018", Error, "file is not UTF-8";
    /// Brackets or `not`s nested deeper than the compiler allows.
    NestingTooDeep = "R0019", Error, "nesting too deep";
    /// `a == b == c` and other chained comparisons.
    ChainedComparison = "R0020", Error, "chained comparison";
    /// A file larger than the compiler accepts.
    FileTooLarge = "R0021", Error, "file too large";
}

impl Code {
    /// Looks up a code by id, accepting lower case (`r0001`).
    pub fn from_id(id: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|code| code.id().eq_ignore_ascii_case(id))
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}
