//! Case-insensitive comparisons for `equals-ignore-case` and its `prefix`, `suffix` and
//! `anything-but` forms. The pattern's side is case-folded once when compiled (character by
//! character, with [`fold`]); the event's side is folded on the fly, without allocating.

/// The case-folded form of a pattern string: each character lowercased on its own, so that it
/// compares equal to the event's characters folded the same way.
pub(crate) fn fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

fn folded(text: &str) -> impl DoubleEndedIterator<Item = char> + '_ {
    text.chars().flat_map(char::to_lowercase)
}

/// Whether `text` equals `want` (already folded) ignoring case.
pub(crate) fn equals(text: &str, want: &str) -> bool {
    if text.is_ascii() && want.is_ascii() {
        return text.eq_ignore_ascii_case(want);
    }
    folded(text).eq(want.chars())
}

/// Whether `text` starts with `prefix` (already folded) ignoring case.
pub(crate) fn starts_with(text: &str, prefix: &str) -> bool {
    let mut text = folded(text);
    prefix.chars().all(|c| text.next() == Some(c))
}

/// Whether `text` ends with `suffix` (already folded) ignoring case.
pub(crate) fn ends_with(text: &str, suffix: &str) -> bool {
    let mut text = folded(text).rev();
    suffix.chars().rev().all(|c| text.next() == Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_and_unicode_text_compare_ignoring_case() {
        assert!(equals("EventBridge", &fold("eventbridge")));
        assert!(equals("ÉTÉ", &fold("été")));
        assert!(!equals("EventBridge", &fold("eventbridg")));
        assert!(!equals("été", &fold("ete")));
    }

    #[test]
    fn prefixes_and_suffixes_compare_ignoring_case() {
        assert!(starts_with("EVENTBRIDGE", &fold("EventB")));
        assert!(!starts_with("Even", &fold("EventB")));
        assert!(ends_with("image.PNG", &fold(".png")));
        assert!(ends_with("ÜBER", &fold("über")));
        assert!(!ends_with("png", &fold(".png")));
    }

    #[test]
    fn an_empty_prefix_or_suffix_matches_any_text() {
        assert!(starts_with("anything", ""));
        assert!(ends_with("", ""));
    }
}
