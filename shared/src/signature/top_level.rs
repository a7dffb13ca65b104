//! One integer member of a JSON object, found without parsing the whole object.
//!
//! Linear puts its replay timestamp inside the signed body (`"webhookTimestamp": 1676056940508`),
//! and a full parse to read it costs as much as the MAC (issue 19). [`Member::integer_in`] instead
//! finds the quoted key with a substring search and checks only the shorter side of the text
//! around it: before the first occurrence, that exactly the outer object is open at a place where
//! a key may start; after the last, that the value is an integer and the text then closes the
//! outer object and ends. Linear sends the key near the end, so the check reads a few dozen
//! bytes whatever the body's size.
//!
//! It answers `None` ("not sure") for anything else — the key absent, written with escapes,
//! nested, not an integer, out of `i64` — and the caller then parses the body in full, so the
//! answer is the full parse's for every body it is not sure of. For a valid JSON object without
//! duplicate keys, a `Some` is the parse's answer too (the tests compare both on generated
//! objects). It does not check that the rest of the body is valid JSON: it is used only after
//! the body's signature matched, so the body is the provider's own.

use memchr::memmem::{Finder, FinderRev};

/// A top-level member to look for by name; built once (a `static`), since building the
/// substring searchers costs as much as the search in a small body.
pub(crate) struct Member {
    len: usize,
    forward: Finder<'static>,
    backward: FinderRev<'static>,
}

impl Member {
    /// `quoted_key` is the key with its quotes, e.g. `"webhookTimestamp"`, with no quote or
    /// backslash inside.
    pub(crate) fn new(quoted_key: &'static [u8]) -> Self {
        assert!(
            quoted_key.len() >= 2
                && quoted_key.starts_with(b"\"")
                && quoted_key.ends_with(b"\"")
                && !quoted_key[1..quoted_key.len() - 1].contains(&b'"')
                && !quoted_key.contains(&b'\\'),
            "a quoted key without escapes"
        );
        Self {
            len: quoted_key.len(),
            forward: Finder::new(quoted_key),
            backward: FinderRev::new(quoted_key),
        }
    }

    /// The member's value when it is an integer that fits an `i64`, or `None` when this cannot
    /// be told without a full parse.
    pub(crate) fn integer_in(&self, body: &[u8]) -> Option<i64> {
        let first = self.forward.find(body)?;
        let after_first = first + self.len;
        if first <= body.len() - after_first {
            // Nearer the start: read what comes before the first occurrence.
            return if opens_a_top_level_key(&body[..first]) {
                integer_value(&body[after_first..]).map(|(value, _)| value)
            } else {
                None
            };
        }
        // Nearer the end: read what comes after the last occurrence.
        let last = self.backward.rfind(body)?;
        if !at_key_position(&body[..last]) {
            return None;
        }
        let (value, rest) = integer_value(&body[last + self.len..])?;
        closes_the_outer_object(rest).then_some(value)
    }
}

/// Whether `prefix`, the text before a quote, leaves exactly the outer object open, outside any
/// string, just after its `{` or a `,`.
fn opens_a_top_level_key(prefix: &[u8]) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut last = 0u8;
    for &byte in prefix {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => {
                    in_string = false;
                    last = b'"';
                }
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ if is_whitespace(byte) => continue,
            _ => {}
        }
        last = byte;
    }
    !in_string && depth == 1 && matches!(last, b'{' | b',')
}

/// Whether a quote at the end of `prefix` can start a key, judged locally: it follows `{` or
/// `,`. (Such a quote is not escaped, so not inside a string: an escaped one follows a
/// backslash.) Whether that key is top-level is for [`closes_the_outer_object`] to tell.
fn at_key_position(prefix: &[u8]) -> bool {
    matches!(
        prefix.iter().rev().find(|&&b| !is_whitespace(b)),
        Some(b'{' | b',')
    )
}

/// After a key: `: <integer>` and what follows the integer, which must end it.
fn integer_value(after_key: &[u8]) -> Option<(i64, &[u8])> {
    let rest = skip_whitespace(after_key).strip_prefix(b":")?;
    let rest = skip_whitespace(rest);
    let (negative, digits_start) = match rest.first() {
        Some(b'-') => (true, &rest[1..]),
        _ => (false, rest),
    };
    let digits = digits_start
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    // JSON allows no leading zero and no empty integer; a fraction or exponent is not an integer.
    if digits == 0 || (digits > 1 && digits_start[0] == b'0') {
        return None;
    }
    let after = &digits_start[digits..];
    if !after
        .first()
        .is_some_and(|&b| b == b',' || b == b'}' || is_whitespace(b))
    {
        return None;
    }
    let mut value: i64 = 0;
    for &digit in &digits_start[..digits] {
        let digit = i64::from(digit - b'0');
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(digit)?
        } else {
            value.checked_add(digit)?
        };
    }
    Some((value, after))
}

/// Whether `rest`, the text after a member's value, closes the object that holds the member and
/// then only whitespace follows: the member was in the outer object.
fn closes_the_outer_object(rest: &[u8]) -> bool {
    let mut depth = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &byte) in rest.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return skip_whitespace(&rest[i + 1..]).is_empty();
                }
            }
            _ => {}
        }
    }
    false
}

/// JSON's whitespace (RFC 8259 §2), which is narrower than ASCII's.
fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_whitespace(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_whitespace(b))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::{Map, Value, json};

    use super::*;

    fn found(body: &str) -> Option<i64> {
        Member::new(br#""webhookTimestamp""#).integer_in(body.as_bytes())
    }

    /// The full parse this must agree with (what `linear` falls back to).
    fn parsed(body: &str) -> Option<i64> {
        #[derive(Deserialize)]
        struct Only {
            #[serde(rename = "webhookTimestamp")]
            value: Option<serde_json::Number>,
        }
        if !body.trim_start().starts_with('{') {
            return None;
        }
        serde_json::from_str::<Only>(body).ok()?.value?.as_i64()
    }

    #[test]
    fn the_key_is_read_at_either_end_of_the_object() {
        assert_eq!(
            found(r#"{"webhookTimestamp":17,"a":[1,{"b":"}"}]}"#),
            Some(17)
        );
        assert_eq!(
            found(r#"{"a":[1,{"b":"{"}],"webhookTimestamp":17}"#),
            Some(17)
        );
        assert_eq!(
            found("{\n  \"a\": 1,\n  \"webhookTimestamp\" :\t-42 \n}\n"),
            Some(-42)
        );
        assert_eq!(found(r#"{"webhookTimestamp":0}"#), Some(0));
        assert_eq!(
            found(&format!(r#"{{"webhookTimestamp":{}}}"#, i64::MIN)),
            Some(i64::MIN)
        );
    }

    #[test]
    fn a_key_inside_a_string_or_a_nested_object_is_not_taken() {
        for body in [
            // Inside a string value, escaped quotes around the name.
            r#"{"a":"\"webhookTimestamp\":1","b":2}"#,
            r#"{"b":2,"a":"x\"webhookTimestamp\":1"}"#,
            // A key that ends with the name after an escaped quote.
            r#"{"x\"webhookTimestamp":1,"b":2,"c":3,"d":4}"#,
            r#"{"b":2,"c":3,"d":4,"x\"webhookTimestamp":1}"#,
            // Nested, near either end.
            r#"{"data":{"webhookTimestamp":1},"b":"long enough to be nearer the start"}"#,
            r#"{"b":"long enough to be nearer the end","data":{"webhookTimestamp":1}}"#,
            r#"{"b":"long enough to be nearer the end","data":[{"webhookTimestamp":1}]}"#,
            // As a value, not a key.
            r#"{"a":"webhookTimestamp","b":1}"#,
        ] {
            assert_eq!(found(body), None, "{body}");
            assert_eq!(parsed(body), None, "{body}");
        }
    }

    #[test]
    fn what_is_not_a_plain_integer_is_left_to_the_full_parse() {
        for value in [
            "1.5",
            "1e3",
            "-",
            "01",
            "\"1\"",
            "null",
            "99999999999999999999",
            "-99999999999999999999",
        ] {
            let body = format!(r#"{{"webhookTimestamp":{value}}}"#);
            assert_eq!(found(&body), None, "{body}");
        }
        // Absent, or spelled with an escape that the full parse does decode.
        assert_eq!(found(r#"{"a":1}"#), None);
        let escaped = r#"{"webhook\u0054imestamp":5}"#;
        assert_eq!((found(escaped), parsed(escaped)), (None, Some(5)));
    }

    #[test]
    fn unbalanced_text_is_not_trusted() {
        for body in [
            r#"{"a":1}],"webhookTimestamp":1,"padding":"xxxxxxxxxxxxxxxxxxxxxx"}"#,
            r#"{"padding":"xxxxxxxxxxxxxxxxxxxxxx","webhookTimestamp":1}}"#,
            r#"{"padding":"xxxxxxxxxxxxxxxxxxxxxx","webhookTimestamp":1,"a":{}"#,
            r#"{"padding":"xxxxxxxxxxxxxxxxxxxxxx","webhookTimestamp":1} trailing"#,
        ] {
            assert_eq!(found(body), None, "{body}");
        }
    }

    /// A small deterministic generator (xorshift), so the comparison below covers many shapes
    /// without a property-testing dependency.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn key(&mut self) -> String {
            const KEYS: [&str; 7] = [
                "webhookTimestamp",
                "a",
                "zz",
                "x\"webhookTimestamp",
                "webhookTimestamp\\",
                "{",
                "webhookTimestam",
            ];
            KEYS[self.below(KEYS.len() as u64) as usize].to_owned()
        }

        fn value(&mut self, depth: u32) -> Value {
            match self.below(if depth >= 3 { 4 } else { 6 }) {
                0 => json!(self.next() as i64 >> self.below(64)),
                1 => {
                    const TEXTS: [&str; 4] =
                        ["webhookTimestamp", "\"webhookTimestamp\":1", "}]\\", "ü"];
                    Value::from(TEXTS[self.below(4) as usize])
                }
                2 => json!(self.below(1000) as f64 / 8.0),
                3 => Value::Null,
                4 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
                _ => self.object(depth + 1),
            }
        }

        fn object(&mut self, depth: u32) -> Value {
            let mut map = Map::new();
            for _ in 0..self.below(6) {
                let key = self.key();
                let value = self.value(depth);
                map.insert(key, value);
            }
            Value::Object(map)
        }
    }

    #[test]
    fn on_generated_objects_every_answer_is_the_full_parses() {
        let mut generator = Gen(0x9e37_79b9_7f4a_7c15);
        let mut answered = 0;
        for round in 0..20_000 {
            let mut object = generator.object(0);
            if round % 2 == 0 {
                let value = generator.next() as i64 >> generator.below(64);
                object["webhookTimestamp"] = json!(value);
            }
            let body = if round % 3 == 0 {
                serde_json::to_string_pretty(&object)
            } else {
                serde_json::to_string(&object)
            }
            .expect("serialises");
            let expected = parsed(&body);
            if let Some(value) = found(&body) {
                assert_eq!(Some(value), expected, "{body}");
                answered += 1;
            }
        }
        // Most objects with an integer timestamp must be answered without the full parse, or
        // this module saves nothing.
        assert!(answered > 5_000, "answered {answered} of 20000");
    }
}
