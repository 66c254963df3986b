//! `rollc doc`: the documentation of the stdlib (or of a local file), from its `///` comments.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use super::{CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, report};
use crate::ast::{self, ItemKind};
use crate::source::FileId;
use crate::{stdlib, syntax};

pub(super) fn run(module: Option<&str>, stderr_color: bool) -> u8 {
    let text = match module {
        None => {
            let mut out = String::from(
                "The rollc standard library. `rollc doc std/NAME` shows a module.\n\n",
            );
            for (name, src) in stdlib::MODULES {
                let summary = module_summary(src);
                let summary = summary
                    .strip_prefix(&format!("std/{name}:"))
                    .unwrap_or(&summary)
                    .trim();
                let _ = writeln!(out, "  std/{name:<10} {summary}");
            }
            out
        }
        Some(spec) => {
            let (display, src) = match spec.strip_prefix("std/") {
                Some(name) => match stdlib::source(name) {
                    Some(src) => (stdlib::display_path(name), src.to_string()),
                    None => {
                        let names = stdlib::names();
                        let help = match syntax::suggest::closest(name, &names) {
                            Some(best) => format!("did you mean `std/{best}`?"),
                            None => format!("the stdlib has {}", syntax::suggest::list(&names)),
                        };
                        report(
                            CliError::UnknownCode {
                                code: spec.to_string(),
                                help,
                            },
                            stderr_color,
                        );
                        return EXIT_USAGE;
                    }
                },
                None => match std::fs::read_to_string(Path::new(spec)) {
                    Ok(src) => (spec.to_string(), src),
                    Err(source) => {
                        report(
                            CliError::Read {
                                path: spec.to_string(),
                                source,
                            },
                            stderr_color,
                        );
                        return EXIT_USAGE;
                    }
                },
            };
            let parsed = syntax::parse(FileId(0), &src);
            let Some(file) = parsed.ast else {
                eprintln!("error: `{display}` has syntax errors; run `rollc check {spec}`");
                return EXIT_FAILED;
            };
            render_module(&display, &src, &file)
        }
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => EXIT_OK,
        Err(err) => {
            report(CliError::Write(err), stderr_color);
            EXIT_USAGE
        }
    }
}

/// The first line of the module's leading `//` comment block, or of its first doc comment.
fn module_summary(src: &str) -> String {
    src.lines()
        .map(str::trim)
        .find(|l| l.starts_with("//") && l.trim_start_matches('/').trim().len() > 1)
        .map(|l| l.trim_start_matches('/').trim().to_string())
        .unwrap_or_default()
}

fn render_module(display: &str, src: &str, file: &ast::File) -> String {
    let mut out = format!("{display}\n");
    let header: Vec<&str> = src
        .lines()
        .take_while(|l| l.trim_start().starts_with("//") && !l.trim_start().starts_with("///"))
        .map(|l| {
            let text = l.trim_start().trim_start_matches('/');
            text.strip_prefix(' ').unwrap_or(text).trim_end()
        })
        .collect();
    if !header.is_empty() {
        let _ = writeln!(out, "\n{}", header.join("\n").trim());
    }
    for item in &file.items {
        let signature = match &item.kind {
            ItemKind::Template(t) => {
                let params: Vec<String> = t
                    .params
                    .iter()
                    .map(|p| {
                        src[p.span.range()]
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect();
                format!("template {}({})", t.name.name, params.join(", "))
            }
            ItemKind::Let(l) => format!("let {} = {}", l.name.name, &src[l.value.span.range()]),
            _ => continue,
        };
        let _ = writeln!(out, "\n{signature}");
        if let Some(doc) = &item.doc {
            for line in doc.text.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    out
}
