//! "Warnings on paid lines", from `summary.json`.

use crate::report::fmt::int;
use liquidator_core::codes::Warn;
use liquidator_core::output::Summary;
use maud::{Markup, html};

pub(super) fn section(s: &Summary) -> Markup {
    html! {
        section #warnings {
            h2 { "Warnings on paid lines" }
            @if s.warnings_by_code.is_empty() {
                p.empty { "No warning." }
            } @else {
                p.note {
                    "Warnings leave the claim paid; counted per line (" code { "summary.json" } ", "
                    code { "warnings_by_code" } ")."
                }
                table {
                    thead { tr { th { "Code" } th { "Mnemonic" } th { "Meaning" } th.n { "Lines" } } }
                    tbody {
                        @for (code, n) in &s.warnings_by_code {
                            @let (slug, text) = match Warn::from_code(code) {
                                Some(w) => (w.slug(), w.text()),
                                None => ("", "(code not in formats/codes.md)"),
                            };
                            tr {
                                td.code { (code) } td.code { (slug) } td { (text) }
                                td.n { (int(*n as i128)) }
                            }
                        }
                    }
                }
            }
        }
    }
}
