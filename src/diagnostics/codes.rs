//! The registry of diagnostic codes: each code's id, default severity, title and long
//! explanation (`docs/codes/RNNNN.md`, embedded so `rollc explain` works from any directory).
//!
//! Ranges: `R00xx` syntax, `R01xx` names and modules, `R02xx` types, `R03xx` lints, `R04xx`
//! checks against a fleet, `R05xx` import and export.

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

    /// An imported file does not exist or is not a `./` or `../` path.
    ImportNotFound = "R0101", Error, "import not found";
    /// An import leaves the directory tree being checked, or is absolute.
    ImportEscapes = "R0102", Error, "import outside the checked tree";
    /// Files import each other in a cycle.
    ImportCycle = "R0103", Error, "import cycle";
    /// `std/NAME` names no stdlib module.
    UnknownStdModule = "R0104", Error, "unknown stdlib module";
    /// A name that nothing defines.
    UnknownName = "R0105", Error, "unknown name";
    /// Two definitions of one name in one scope.
    DuplicateDefinition = "R0106", Error, "duplicate definition";
    /// A definition hides another of the same name.
    Shadowing = "R0107", Warning, "shadowed name";
    /// A template or `let` that refers to itself, directly or not.
    Recursion = "R0108", Error, "recursive definition";
    /// Template arguments that do not fit its parameters.
    TemplateArguments = "R0109", Error, "wrong template arguments";
    /// An import path with `${...}`, or an unusable alias.
    InvalidImport = "R0110", Error, "invalid import";

    /// A value of the wrong type.
    TypeMismatch = "R0201", Error, "type mismatch";
    /// A value outside the range its field allows.
    OutOfRange = "R0202", Error, "value out of range";
    /// A time zone that is not in the IANA database.
    UnknownTimeZone = "R0203", Error, "unknown time zone";
    /// `deadline` not longer than `bake each`.
    DeadlineTooShort = "R0204", Error, "deadline shorter than bake each";
    /// A URL that cannot be parsed or is not http(s).
    InvalidUrl = "R0205", Error, "invalid URL";
    /// A stage with no `select`, in itself or in `defaults`.
    MissingSelect = "R0206", Error, "stage selects nothing";
    /// A rollout without `target`.
    MissingTarget = "R0207", Error, "missing target";
    /// A rollout statement that may appear once, written twice.
    DuplicateStatement = "R0208", Error, "duplicate statement";
    /// A type name that does not exist.
    UnknownType = "R0209", Error, "unknown type";
    /// `${name}` of a value that is not text.
    InvalidInterpolation = "R0210", Error, "invalid interpolation";

    /// A label key the fleet schema does not declare.
    UnknownLabel = "R0250", Error, "unknown label key";
    /// A label value the fleet schema does not allow.
    UnknownLabelValue = "R0251", Error, "unknown label value";
    /// The same label declared twice.
    DuplicateLabel = "R0252", Error, "duplicate label declaration";

    /// Two stages of a rollout with one name.
    DuplicateStage = "R0301", Error, "duplicate stage name";
    /// Two rollouts with one name.
    DuplicateRollout = "R0302", Error, "duplicate rollout name";
    /// A selector no cluster can match.
    UnsatisfiableSelector = "R0303", Error, "unsatisfiable selector";
    /// A stage whose clusters earlier stages already take.
    UnreachableStage = "R0304", Warning, "stage can never select anything";
    /// A `limit` larger than the clusters the stage can match.
    LimitTooLarge = "R0305", Warning, "limit larger than the selection";
    /// A requeue selector that matches every cluster the stage selects.
    RequeueEverything = "R0306", Warning, "requeue matches the whole stage";
    /// A webhook gate over plain `http`.
    InsecureWebhook = "R0307", Error, "webhook is not https";
    /// A metric gate with an empty query.
    EmptyQuery = "R0308", Error, "empty metric query";
    /// A rollout without stages.
    NoStages = "R0309", Warning, "rollout has no stages";
    /// An approval gate on the last stage gates nothing.
    TrailingApproval = "R0310", Warning, "approval after the last stage";

    /// Clusters no stage selects.
    UncoveredClusters = "R0401", Warning, "clusters no stage selects";
    /// Clusters two stages select.
    OverlappingStages = "R0402", Warning, "clusters selected by two stages";
    /// A stage that selects no cluster of the fleet.
    EmptyStage = "R0403", Warning, "stage selects no cluster";
    /// Label values in the fleet that the schema does not list.
    FleetOutsideSchema = "R0404", Warning, "fleet label outside the schema";
    /// A stage's counts after rounding, for review.
    StageCounts = "R0405", Note, "stage counts after rounding";
    /// A fleet file that cannot be read as an inventory.
    InvalidFleet = "R0406", Error, "invalid fleet file";

    /// A field (or document) of an imported spec that `rollc import` does not translate.
    UnsupportedImport = "R0501", Warning, "unsupported field in imported spec";
    /// An imported spec that is malformed or cannot be translated.
    InvalidImportedSpec = "R0502", Error, "invalid imported spec";
    /// A feature of a strategy that the export format cannot express.
    NotExpressible = "R0503", Warning, "feature the export format cannot express";
    /// An assumption an import or export makes, or a difference in semantics it accepts.
    ConversionAssumption = "R0504", Note, "conversion assumption";
    /// A stage (or a file) that cannot be exported at all.
    CannotExport = "R0505", Error, "cannot export";
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
