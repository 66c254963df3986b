//! The diagnostic code registry stays consistent with its documentation and its tests:
//! every code is explained, every explanation file belongs to a code, and every code has a
//! data case under `tests/cases/` that produces it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rollc::diagnostics::Code;

/// Codes that no data case can produce, with the test that covers each instead.
const NOT_IN_CASES: &[(&str, &str)] = &[
    (
        "R0021",
        "file too large: needs a sparse file over 4 GiB, covered by tests/cli.rs",
    ),
    (
        "R0501",
        "unsupported field in imported YAML: only `rollc import` reports it, covered by \
         tests/import_export.rs (unknown_fields_are_reported_with_their_lines)",
    ),
    (
        "R0502",
        "invalid imported YAML: only `rollc import` reports it, covered by \
         tests/import_export.rs (invalid_spec_errors_name_field_and_line)",
    ),
    (
        "R0503",
        "a feature RollingSync cannot express: only `rollc export` reports it, covered by \
         tests/import_export.rs (export_examples)",
    ),
    (
        "R0504",
        "a conversion assumption: only `rollc import` and `rollc export` report it, covered \
         by tests/import_export.rs (export_examples, import_rollingsync_appset)",
    ),
    (
        "R0505",
        "a stage that cannot be exported: only `rollc export` reports it, covered by \
         tests/import_export.rs (export_of_an_unexpressible_stage_fails_but_prints_the_rest)",
    ),
];

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn is_code_id(id: &str) -> bool {
    id.len() == 5 && id.starts_with('R') && id[1..].bytes().all(|b| b.is_ascii_digit())
}

#[test]
fn ids_are_unique_and_well_formed() {
    assert!(!Code::ALL.is_empty());
    let mut seen = BTreeSet::new();
    for code in Code::ALL {
        let id = code.id();
        assert!(
            is_code_id(id),
            "{code:?} has id `{id}`, not `R` and four digits"
        );
        assert!(seen.insert(id), "id `{id}` is used twice");
        assert_eq!(code.to_string(), id, "Display of {code:?}");
        assert_eq!(Code::from_id(id), Some(*code), "from_id({id})");
        assert_eq!(
            Code::from_id(&id.to_ascii_lowercase()),
            Some(*code),
            "from_id accepts lower case"
        );
        assert!(!code.title().trim().is_empty(), "{id} has no title");
    }
    // `ALL` is in id order, so listings and `rollc explain` are stable.
    let ids: Vec<&str> = Code::ALL.iter().map(|c| c.id()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "Code::ALL is not in id order");
    assert_eq!(Code::from_id("R9999"), None);
    assert_eq!(Code::from_id(""), None);
}

#[test]
fn every_code_has_an_explanation_headed_by_its_id() {
    for code in Code::ALL {
        let id = code.id();
        let text = code.explanation();
        assert!(!text.trim().is_empty(), "{id}: empty explanation");
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first == format!("# {id}") || first.starts_with(&format!("# {id}:")),
            "{id}: explanation must start with `# {id}`, starts with {first:?}"
        );
        // More than a heading: the explanation says something.
        assert!(
            text.lines().skip(1).any(|l| !l.trim().is_empty()),
            "{id}: explanation has only a heading"
        );
    }
}

#[test]
fn docs_codes_files_and_codes_match() {
    let dir = manifest_dir().join("docs/codes");
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("docs/codes exists") {
        let path = entry.expect("readable entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file name")
            .to_string();
        let id = name.strip_suffix(".md").unwrap_or_else(|| {
            panic!("docs/codes/{name}: only `RNNNN.md` files belong in docs/codes")
        });
        assert!(is_code_id(id), "docs/codes/{name} is not named `RNNNN.md`");
        files.insert(id.to_string());
    }
    let codes: BTreeSet<String> = Code::ALL.iter().map(|c| c.id().to_string()).collect();
    let orphans: Vec<&String> = files.difference(&codes).collect();
    assert!(
        orphans.is_empty(),
        "docs/codes has files for codes that do not exist: {orphans:?}"
    );
    let undocumented: Vec<&String> = codes.difference(&files).collect();
    assert!(
        undocumented.is_empty(),
        "codes without a docs/codes/RNNNN.md file: {undocumented:?}"
    );
    // The embedded explanation is that file, byte for byte.
    for code in Code::ALL {
        let on_disk = std::fs::read_to_string(dir.join(format!("{}.md", code.id())))
            .expect("readable explanation");
        assert_eq!(code.explanation(), on_disk, "{}", code.id());
    }
}

fn case_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable case directory") {
        let path = entry.expect("readable entry").path();
        if path.is_dir() {
            case_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rollout") {
            out.push(path);
        }
    }
}

/// The codes in a case's `// expect:` header (empty for `ok`).
fn expected_codes(path: &Path) -> Vec<String> {
    // Cases may be deliberately invalid UTF-8 (R0018); the header is always ASCII.
    let bytes = std::fs::read(path).expect("readable case");
    let src = String::from_utf8_lossy(&bytes);
    let header = src
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("// expect:"))
        .unwrap_or_else(|| panic!("{}: no `// expect:` header", path.display()))
        .trim();
    if header == "ok" {
        return Vec::new();
    }
    header.split_whitespace().map(str::to_string).collect()
}

#[test]
fn every_code_is_expected_by_some_case() {
    let mut files = Vec::new();
    case_files(&manifest_dir().join("tests/cases"), &mut files);
    assert!(!files.is_empty(), "no cases under tests/cases");

    let mut expected = BTreeSet::new();
    for path in &files {
        for id in expected_codes(path) {
            assert!(
                Code::from_id(&id).is_some_and(|c| c.id() == id),
                "{}: `{id}` in the header is not a code",
                path.display()
            );
            expected.insert(id);
        }
    }

    for (id, _why) in NOT_IN_CASES {
        assert!(
            Code::from_id(id).is_some(),
            "NOT_IN_CASES names `{id}`, which is not a code"
        );
    }
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.id())
        .filter(|id| !expected.contains(*id))
        .filter(|id| !NOT_IN_CASES.iter().any(|(skip, _)| skip == id))
        .collect();
    assert!(
        missing.is_empty(),
        "codes that no tests/cases/**/*.rollout expects (add a case, or list the code in \
         NOT_IN_CASES with the test that covers it): {missing:?}"
    );
}
