//! The SARIF 2.1.0 format, for code-scanning services such as GitHub code scanning.

use super::{Location, Sources, full_message};
use crate::diagnostics::{Code, Diagnostic, LabelStyle, Severity};
use crate::source::{FileId, SourceMap, Span};
use serde::Serialize;
use std::collections::BTreeSet;

/// The JSON schema the output conforms to.
const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Renders diagnostics as a SARIF 2.1.0 log (pretty JSON followed by a newline) with one run.
///
/// `tool.driver.rules` lists each code that occurs, in id order, with its title and its
/// Markdown explanation. Every diagnostic becomes a result with `ruleId`, `ruleIndex`, `level`,
/// `message.text` (the message, then help, notes and suggestions on their own lines), one
/// location, the other labels as `relatedLocations`, and its suggestions as `fixes`.
///
/// Regions carry `startLine`, `startColumn`, `endLine`, `endColumn` (1-based, exclusive end),
/// `charOffset` and `charLength`, all counted in Unicode code points (the run says
/// `columnKind: unicodeCodePoints`), plus the exact `byteOffset` and `byteLength`. Spans are
/// clamped to their file and to character boundaries first, so all of these agree. Artifact
/// URIs are the files' display names with forward slashes, percent-encoded where a URI needs it.
pub fn sarif(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let sources = Sources::new(sources);
    let codes: Vec<Code> = diags
        .iter()
        .map(|d| d.code)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rules = codes.iter().map(|&code| Rule::new(code)).collect();
    let results = diags
        .iter()
        .map(|diag| {
            let rule_index = codes.binary_search(&diag.code).expect("collected above");
            SarifResult::new(diag, rule_index, &sources)
        })
        .collect();
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "rollc",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: information_uri(),
                    rules,
                },
            },
            column_kind: "unicodeCodePoints",
            results,
        }],
    };
    let mut text = serde_json::to_string_pretty(&log).expect("plain structs serialize");
    text.push('\n');
    text
}

/// The project's repository or home page from Cargo.toml, if either is set.
fn information_uri() -> Option<&'static str> {
    [env!("CARGO_PKG_REPOSITORY"), env!("CARGO_PKG_HOMEPAGE")]
        .into_iter()
        .find(|uri| !uri.is_empty())
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// A file name as a URI reference: backslashes become `/`, and bytes that may not appear in a
/// URI path (spaces, `<`, `>`, `%`, non-ASCII, ...) are percent-encoded.
fn uri(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        match byte {
            b'\\' => out.push('/'),
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'/'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
            | b':'
            | b'@' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    information_uri: Option<&'static str>,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    short_description: Text,
    full_description: Markdown,
    help: Markdown,
    default_configuration: Configuration,
}

impl Rule {
    fn new(code: Code) -> Rule {
        let explanation = Markdown {
            text: code.explanation(),
            markdown: code.explanation(),
        };
        Rule {
            id: code.id(),
            short_description: Text {
                text: code.title().to_owned(),
            },
            full_description: explanation.clone(),
            help: explanation,
            default_configuration: Configuration {
                level: level(code.severity()),
            },
        }
    }
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

/// A `message` object or `multiformatMessageString` with plain text only.
#[derive(Serialize)]
struct Text {
    text: String,
}

/// A `multiformatMessageString` with text and Markdown.
#[derive(Clone, Serialize)]
struct Markdown {
    text: &'static str,
    markdown: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<SarifLocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<SarifLocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fixes: Vec<Fix>,
}

impl SarifResult {
    fn new(diag: &Diagnostic, rule_index: usize, sources: &Sources<'_>) -> SarifResult {
        // The first primary label at the diagnostic's own position is the result's location;
        // every other label is related.
        let main = diag.labels.iter().position(|label| {
            label.style == LabelStyle::Primary && label.file == diag.file && label.span == diag.span
        });
        let mut location = SarifLocation::new(None, diag.file, diag.span, sources);
        location.message = main
            .map(|i| diag.labels[i].message.clone())
            .filter(|message| !message.is_empty())
            .map(|text| Text { text });
        let related_locations = diag
            .labels
            .iter()
            .enumerate()
            .filter(|&(i, _)| Some(i) != main)
            .enumerate()
            .map(|(id, (_, label))| {
                let mut related = SarifLocation::new(Some(id), label.file, label.span, sources);
                related.message = Some(Text {
                    text: label.message.clone(),
                });
                related
            })
            .collect();
        let fixes = diag
            .suggestions
            .iter()
            .map(|suggestion| Fix {
                description: Text {
                    text: suggestion.message.clone(),
                },
                artifact_changes: vec![ArtifactChange {
                    artifact_location: ArtifactLocation {
                        uri: uri(sources.name(suggestion.file)),
                    },
                    replacements: vec![Replacement {
                        deleted_region: Region::new(
                            sources.locate(suggestion.file, suggestion.span),
                        ),
                        inserted_content: Text {
                            text: suggestion.replacement.clone(),
                        },
                    }],
                }],
            })
            .collect();
        SarifResult {
            rule_id: diag.code.id(),
            rule_index,
            level: level(diag.severity),
            message: Text {
                text: full_message(diag, sources),
            },
            locations: vec![location],
            related_locations,
            fixes,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Text>,
}

impl SarifLocation {
    fn new(id: Option<usize>, file: FileId, span: Span, sources: &Sources<'_>) -> SarifLocation {
        let at = sources.locate(file, span);
        SarifLocation {
            id,
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation { uri: uri(at.file) },
                region: Region::new(at),
            },
            message: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
    char_offset: usize,
    char_length: usize,
    byte_offset: usize,
    byte_length: usize,
}

impl Region {
    fn new(at: Location<'_>) -> Region {
        Region {
            start_line: at.line,
            start_column: at.column,
            end_line: at.end_line,
            end_column: at.end_column,
            char_offset: at.char_offset,
            char_length: at.char_length,
            byte_offset: at.byte_offset,
            byte_length: at.byte_length,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Fix {
    description: Text,
    artifact_changes: Vec<ArtifactChange>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactChange {
    artifact_location: ArtifactLocation,
    replacements: Vec<Replacement>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Replacement {
    deleted_region: Region,
    inserted_content: Text,
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{SOURCE, sample};
    use super::*;
    use serde_json::{Value, json as j};

    fn parse(diags: &[Diagnostic], sources: &SourceMap) -> Value {
        let text = sarif(diags, sources);
        assert!(text.ends_with("}\n"));
        serde_json::from_str(&text).expect("valid JSON")
    }

    #[test]
    fn log_run_and_rules() {
        let (sources, diags) = sample();
        let log = parse(&diags, &sources);
        assert_eq!(log["$schema"], SCHEMA);
        assert_eq!(log["version"], "2.1.0");
        let runs = log["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0]["columnKind"], "unicodeCodePoints");
        let driver = &runs[0]["tool"]["driver"];
        assert_eq!(driver["name"], "rollc");
        assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
        let rules = driver["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["R0003", "R0005", "R0007"]);
        let rule = &rules[1];
        assert_eq!(rule["shortDescription"]["text"], "`=` used for comparison");
        assert_eq!(
            rule["fullDescription"]["text"],
            Code::SingleEquals.explanation()
        );
        assert_eq!(rule["help"]["markdown"], Code::SingleEquals.explanation());
        assert_eq!(rule["defaultConfiguration"]["level"], "error");
    }

    #[test]
    fn results_locations_and_fixes() {
        let (sources, diags) = sample();
        let log = parse(&diags, &sources);
        let results = log["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);

        let first = &results[0];
        assert_eq!(first["ruleId"], "R0005");
        assert_eq!(first["ruleIndex"], 1);
        assert_eq!(first["level"], "error");
        assert_eq!(
            first["message"]["text"],
            "`=` is not a comparison\nhelp: use `==` to compare a label key with a value\n\
             note: `=` only assigns fields\nsuggestion: replace `=` with `==`"
        );
        let eq = SOURCE.find(" = ").unwrap() + 1;
        let chars = SOURCE[..eq].chars().count();
        assert_eq!(
            first["locations"],
            j!([{
                "physicalLocation": {
                    "artifactLocation": {"uri": "rings/eu.rollout"},
                    "region": {
                        "startLine": 2, "startColumn": 17, "endLine": 2, "endColumn": 18,
                        "charOffset": chars, "charLength": 1,
                        "byteOffset": eq, "byteLength": 1,
                    },
                },
                "message": {"text": "expected `==` here"},
            }])
        );
        let related = first["relatedLocations"].as_array().unwrap();
        assert_eq!(related.len(), 1);
        assert_eq!(related[0]["id"], 0);
        assert_eq!(related[0]["message"]["text"], "this label key is compared");
        let region = &related[0]["physicalLocation"]["region"];
        assert_eq!([&region["startColumn"], &region["endColumn"]], [10, 16]);
        assert_eq!([&region["charLength"], &region["byteLength"]], [6, 7]);

        let fix = &first["fixes"][0];
        assert_eq!(fix["description"]["text"], "use `==`");
        let change = &fix["artifactChanges"][0];
        assert_eq!(change["artifactLocation"]["uri"], "rings/eu.rollout");
        let replacement = &change["replacements"][0];
        assert_eq!(replacement["deletedRegion"]["charOffset"], chars);
        assert_eq!(replacement["deletedRegion"]["charLength"], 1);
        assert_eq!(replacement["insertedContent"]["text"], "==");

        assert_eq!(results[1]["level"], "warning");
        assert_eq!(results[1]["ruleIndex"], 2);
        assert!(results[1].get("relatedLocations").is_none());
        let insert = &results[2]["fixes"][0]["artifactChanges"][0]["replacements"][0];
        assert_eq!(insert["deletedRegion"]["charLength"], 0);
        assert_eq!(
            insert["deletedRegion"]["charOffset"],
            SOURCE.chars().count()
        );
        assert_eq!(insert["insertedContent"]["text"], "}\n");
    }

    #[test]
    fn uris_use_forward_slashes_and_percent_encoding() {
        assert_eq!(uri("rings\\eu.rollout"), "rings/eu.rollout");
        assert_eq!(uri("<stdlib/rings.rollout>"), "%3Cstdlib/rings.rollout%3E");
        assert_eq!(uri("a b/é%.rollout"), "a%20b/%C3%A9%25.rollout");
    }

    #[test]
    fn empty_log_still_has_a_run() {
        let (sources, _) = sample();
        let log = parse(&[], &sources);
        assert_eq!(log["runs"][0]["results"], j!([]));
        assert_eq!(log["runs"][0]["tool"]["driver"]["rules"], j!([]));
    }
}
