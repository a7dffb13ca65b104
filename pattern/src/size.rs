//! A pattern's size as compact JSON, measured without recursion and without writing it out:
//! a `Value` built in code can nest deeper than any stack, and an oversized one should cost no
//! more than the limit to refuse.

use std::fmt::{self, Write as _};
use std::io;

use serde_json::Value;

/// Whether `value`, written as compact JSON (as `serde_json::to_string` writes it), takes more
/// than `max` bytes.
pub(crate) fn exceeds(value: &Value, max: usize) -> bool {
    let mut counter = Counter { bytes: 0 };
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Null | Value::Bool(true) => counter.bytes += 4,
            Value::Bool(false) => counter.bytes += 5,
            Value::Number(n) => {
                // Writing to the counter cannot fail.
                let _ = write!(counter, "{n}");
            }
            Value::String(s) => counter.add_string(s),
            Value::Array(items) => {
                // Brackets, commas, and at least one byte per item: refuse before pushing them.
                counter.bytes += 2 + items.len().saturating_sub(1);
                if counter.bytes + items.len() > max {
                    return true;
                }
                pending.extend(items.iter().rev());
            }
            Value::Object(object) => {
                // Braces, commas, and a colon per entry.
                counter.bytes += 2 + object.len().saturating_sub(1) + object.len();
                if counter.bytes > max {
                    return true;
                }
                for (key, value) in object {
                    counter.add_string(key);
                    if counter.bytes > max {
                        return true;
                    }
                    pending.push(value);
                }
            }
        }
        if counter.bytes > max {
            return true;
        }
    }
    false
}

struct Counter {
    bytes: usize,
}

impl Counter {
    /// Adds a string as serde_json writes it: quoted, with its escapes.
    fn add_string(&mut self, s: &str) {
        // A string is written without recursion, and writing to the counter cannot fail.
        let _ = serde_json::to_writer(&mut *self, s);
    }
}

impl fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes += s.len();
        Ok(())
    }
}

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The exact compact length, from serde_json itself.
    fn written(value: &Value) -> usize {
        match serde_json::to_string(value) {
            Ok(text) => text.len(),
            Err(error) => panic!("{value} does not serialize: {error}"),
        }
    }

    #[test]
    fn the_measure_is_exactly_serde_jsons_compact_length() {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-12.5e-3),
            json!(1e300),
            json!(u64::MAX),
            json!("quote \" backslash \\ tab \t unicode é \u{1}"),
            json!([]),
            json!({}),
            json!([1, [2, [3]], {"a": []}]),
            json!({"k\"ey": {"b": [null, true, "x"]}, "c": {}}),
        ];
        for value in values {
            let len = written(&value);
            assert!(!exceeds(&value, len), "{value} measured over {len}");
            assert!(exceeds(&value, len - 1), "{value} measured under {len}");
        }
    }
}
