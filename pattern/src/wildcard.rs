//! `wildcard` values: `*` matches any run of characters (none included), `\*` is a literal
//! asterisk and `\\` a literal backslash. As in EventBridge, two `*` in a row and any other
//! escape are refused (<https://github.com/aws/event-ruler#wildcard-matching>).
//!
//! A value is split once into the literal segments between its `*`s; matching then checks the
//! first segment as a prefix, the last as a suffix, and finds the middle ones left to right.
//! For `*`-only globs the leftmost occurrence is always a safe choice, so this never backtracks:
//! the cost is linear in the string for each segment.

/// A compiled wildcard value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wildcard {
    /// The literal text between the `*`s: one more segment than there are `*`.
    segments: Vec<String>,
}

/// Why a wildcard value is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WildcardError {
    Consecutive { at: usize },
    BadEscape { at: usize },
    TooMany { max: usize },
}

impl WildcardError {
    pub(crate) fn reason(self) -> String {
        match self {
            WildcardError::Consecutive { at } => format!(
                "two `*` in a row at character {at}; one `*` already matches any run of characters"
            ),
            WildcardError::BadEscape { at } => format!(
                "`\\` at character {at} escapes neither `*` nor `\\` (write `\\*` for a literal `*`, `\\\\` for a literal `\\`)"
            ),
            WildcardError::TooMany { max } => {
                format!("more than {max} `*` in one wildcard value")
            }
        }
    }
}

impl Wildcard {
    pub(crate) fn parse(value: &str, max_wildcards: usize) -> Result<Self, WildcardError> {
        let mut segments = vec![String::new()];
        let mut stars = 0;
        let mut previous_was_star = false;
        let mut chars = value.chars().enumerate();
        while let Some((at, c)) = chars.next() {
            match c {
                '*' => {
                    if previous_was_star {
                        return Err(WildcardError::Consecutive { at });
                    }
                    stars += 1;
                    if stars > max_wildcards {
                        return Err(WildcardError::TooMany { max: max_wildcards });
                    }
                    segments.push(String::new());
                    previous_was_star = true;
                    continue;
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('*' | '\\'))) => push_char(&mut segments, escaped),
                    _ => return Err(WildcardError::BadEscape { at }),
                },
                other => push_char(&mut segments, other),
            }
            previous_was_star = false;
        }
        Ok(Wildcard { segments })
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        let [first, middle @ .., last] = self.segments.as_slice() else {
            // No `*` at all: the value is literal text.
            return self.segments.first().is_some_and(|only| only == text);
        };
        if text.len() < first.len() + last.len()
            || !text.starts_with(first.as_str())
            || !text.ends_with(last.as_str())
        {
            return false;
        }
        // Both cuts fall on character boundaries: `text` starts with `first` and ends with `last`.
        let mut rest = &text[first.len()..text.len() - last.len()];
        for segment in middle {
            match rest.find(segment.as_str()) {
                Some(at) => rest = &rest[at + segment.len()..],
                None => return false,
            }
        }
        true
    }
}

fn push_char(segments: &mut [String], c: char) {
    if let Some(segment) = segments.last_mut() {
        segment.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wildcard(value: &str) -> Wildcard {
        match Wildcard::parse(value, 5) {
            Ok(wildcard) => wildcard,
            Err(error) => panic!("{value:?} refused: {}", error.reason()),
        }
    }

    #[test]
    fn a_star_matches_any_run_including_none() {
        let w = wildcard("dir/*.png");
        assert!(w.matches("dir/a.png"));
        assert!(w.matches("dir/.png"));
        assert!(w.matches("dir/a/b/c.png"));
        assert!(!w.matches("dir/a.jpg"));
        assert!(!w.matches("other/a.png"));
    }

    #[test]
    fn prefix_and_suffix_segments_may_not_overlap() {
        let w = wildcard("ab*ba");
        assert!(!w.matches("aba"));
        assert!(w.matches("abba"));
        assert!(w.matches("abxba"));
    }

    #[test]
    fn middle_segments_are_found_in_order() {
        let w = wildcard("*a*b*");
        assert!(w.matches("xaxbx"));
        assert!(w.matches("ab"));
        assert!(!w.matches("ba"));
    }

    #[test]
    fn a_value_without_star_is_literal() {
        let w = wildcard("exact");
        assert!(w.matches("exact"));
        assert!(!w.matches("exactly"));
    }

    #[test]
    fn escaped_star_and_backslash_are_literal() {
        let w = wildcard(r"a\*b");
        assert!(w.matches("a*b"));
        assert!(!w.matches("axb"));
        let w = wildcard(r"c:\\*");
        assert!(w.matches(r"c:\windows"));
        assert!(!w.matches("c:/windows"));
    }

    #[test]
    fn an_escaped_star_next_to_a_wildcard_is_not_two_in_a_row() {
        let w = wildcard(r"\**");
        assert!(w.matches("*anything"));
        assert!(!w.matches("anything"));
    }

    #[test]
    fn multibyte_text_is_cut_on_character_boundaries() {
        let w = wildcard("é*ü");
        assert!(w.matches("éü"));
        assert!(w.matches("éaü"));
        assert!(!w.matches("é"));
    }

    #[test]
    fn refusals_say_where() {
        assert_eq!(
            Wildcard::parse("a**b", 5),
            Err(WildcardError::Consecutive { at: 2 })
        );
        assert_eq!(
            Wildcard::parse(r"a\b", 5),
            Err(WildcardError::BadEscape { at: 1 })
        );
        assert_eq!(
            Wildcard::parse(r"ab\", 5),
            Err(WildcardError::BadEscape { at: 2 })
        );
        assert_eq!(
            Wildcard::parse("*a*b*", 2),
            Err(WildcardError::TooMany { max: 2 })
        );
    }
}
