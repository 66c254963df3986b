//! `rollc explain`: the long explanation of a diagnostic code.

use std::io::Write;

use super::{CliError, EXIT_OK, EXIT_USAGE, report};
use crate::diagnostics::Code;
use crate::syntax::suggest;

pub(super) fn run(code: Option<&str>, list: bool, stderr_color: bool) -> u8 {
    let text = match (code, list) {
        (Some(id), _) => match Code::from_id(id) {
            Some(code) => code.explanation().to_string(),
            None => {
                let ids: Vec<&str> = Code::ALL.iter().map(|c| c.id()).collect();
                let help = match suggest::closest(&id.to_ascii_uppercase(), &ids) {
                    Some(best) => {
                        format!("did you mean `{best}`? `rollc explain --list` shows every code")
                    }
                    None => "`rollc explain --list` shows every code".to_string(),
                };
                report(
                    CliError::UnknownCode {
                        code: id.to_string(),
                        help,
                    },
                    stderr_color,
                );
                return EXIT_USAGE;
            }
        },
        (None, _) => Code::ALL
            .iter()
            .map(|c| format!("{}  {:<10}{}\n", c.id(), c.severity().as_str(), c.title()))
            .collect(),
    };
    let mut out = std::io::stdout().lock();
    let text = if text.ends_with('\n') {
        text
    } else {
        text + "\n"
    };
    match out.write_all(text.as_bytes()) {
        Ok(()) => EXIT_OK,
        Err(err) => {
            report(CliError::Write(err), stderr_color);
            EXIT_USAGE
        }
    }
}
