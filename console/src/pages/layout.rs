//! What every page shares: the document around it, the navigation, the hidden CSRF field, the
//! copy button, and the pages for a refusal and a failure.

use axum::response::Html;
use http::StatusCode;
use maud::{DOCTYPE, Markup, html};

use crate::guard::CSRF_FIELD;
use crate::launch::Token;

/// The sections in the navigation, each with its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    DeadLetters,
    Events,
    Subscriptions,
    Charts,
    None,
}

const NAV: [(Section, &str, &str, &str); 5] = [
    (Section::Overview, "/", "Overview", "nav-overview"),
    (
        Section::DeadLetters,
        "/dead-letters",
        "Dead letters",
        "nav-dead-letters",
    ),
    (Section::Events, "/events", "Events", "nav-events"),
    (
        Section::Subscriptions,
        "/subscriptions",
        "Subscriptions",
        "nav-subscriptions",
    ),
    (Section::Charts, "/charts", "Charts", "nav-charts"),
];

/// A whole page.
pub fn page(title: &str, section: Section, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · Hookpost console" }
                    // No favicon request: the guard would answer it 404 on every page.
                    link rel="icon" href="data:,";
                    link rel="stylesheet" href="/assets/console.css";
                    script src="/assets/console.js" defer {}
                }
                body {
                    a.skip-link href="#main" { "Skip to content" }
                    header.top {
                        span.brand { "Hookpost console" }
                        nav aria-label="Main" {
                            ul {
                                @for (s, href, label, id) in NAV {
                                    li {
                                        a id=(id) href=(href)
                                            aria-current=[(s == section).then_some("page")] { (label) }
                                    }
                                }
                            }
                        }
                    }
                    main #main tabindex="-1" {
                        h1 #page-title { (title) }
                        (body)
                    }
                }
            }
        }
        .into_string(),
    )
}

/// The hidden field every form that changes something carries.
pub fn csrf(token: &Token) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(token.expose()); }
}

/// A button that copies the text of the element `target` (shown by the script; without it the
/// text is still selectable).
pub fn copy_button(target: &str, label: &str) -> Markup {
    html! {
        button.copy type="button" data-copy=(target) data-testid=(format!("copy-{target}")) hidden {
            (label)
        }
    }
}

/// A notice after a change, announced to screen readers.
pub fn notice(id: &str, body: Markup) -> Markup {
    html! { div.notice id=(id) role="status" { (body) } }
}

/// A refused request: a page with no navigation (the refused caller may not see the others).
pub fn refusal(status: StatusCode, message: &str) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (status.as_u16()) " · Hookpost console" }
                    link rel="icon" href="data:,";
                }
                body {
                    main {
                        h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or_default()) }
                        p #refusal { (message) }
                    }
                }
            }
        }
        .into_string(),
    )
}

/// An operation that failed: what failed, and the field at fault.
pub fn failure(status: StatusCode, field: Option<&str>, message: &str) -> Html<String> {
    page(
        status.canonical_reason().unwrap_or("Error"),
        Section::None,
        html! {
            div.error #error role="alert" data-field=[field] {
                @if let Some(field) = field {
                    p { "The value of " strong #error-field { (field) } " was not accepted." }
                }
                p #error-message { (message) }
            }
            p { a href="/" { "Back to the overview" } }
        },
    )
}

/// A timestamp as the archive writes it, shown to the second.
pub fn time(at: &str) -> Markup {
    let short = at
        .get(..19)
        .map(|s| s.replace('T', " "))
        .unwrap_or_else(|| at.to_owned());
    html! { time datetime=(at) { (short) } }
}

/// Seconds as the largest whole unit (`3h`, `2d`).
pub fn age(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_page_escapes_the_message_and_names_the_field() {
        let Html(page) = failure(
            StatusCode::BAD_REQUEST,
            Some("since"),
            "<script>alert(1)</script>",
        );
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<script>alert"));
        assert!(page.contains(r#"data-field="since""#));
    }

    #[test]
    fn ages_read_in_their_largest_whole_unit() {
        assert_eq!(age(59), "59s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(3 * 3600), "3h");
        assert_eq!(age(3 * 86_400), "3d");
    }
}
