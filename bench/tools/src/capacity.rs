//! DynamoDB's billing arithmetic, on items as DynamoDB JSON (the wire form): item sizes by the
//! rules of <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html>
//! and the units a read or write of that size is billed. The pipeline bench prices the calls it
//! sees with these (bench/tools/benches/pipeline/cost.rs).

use serde_json::Value;

/// A write unit covers a started KB of the item written.
pub const WRITE_UNIT: f64 = 1024.0;
/// A read unit covers a started 4 KB read strongly consistent (two such reads eventually
/// consistent).
pub const READ_UNIT: f64 = 4096.0;

/// Billed units for `size` bytes: one per started `unit`, at least one.
pub fn units(size: usize, unit: f64) -> f64 {
    (size as f64 / unit).ceil().max(1.0)
}

/// A strongly consistent read costs a full unit, an eventually consistent one half.
pub fn consistency(request: &Value) -> f64 {
    if request["ConsistentRead"].as_bool() == Some(true) {
        1.0
    } else {
        0.5
    }
}

/// The key attributes of `item` (DynamoDB JSON), as one comparable string.
pub fn key_of(item: &Value, keys: &[String]) -> String {
    keys.iter()
        .map(|k| format!("{k}={}", item[k]))
        .collect::<Vec<_>>()
        .join("\u{0}")
}

/// An item's size by DynamoDB's rules (names plus values, see the module comment).
pub fn item_size(item: &Value) -> usize {
    item.as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, str::len),
        "N" => number_size(inner.as_str().unwrap_or("0")),
        "B" => base64_len(inner.as_str().unwrap_or("")),
        "BOOL" | "NULL" => 1,
        "SS" => list(inner).map(|v| v.as_str().map_or(0, str::len)).sum(),
        "NS" => list(inner)
            .map(|v| number_size(v.as_str().unwrap_or("0")))
            .sum(),
        "BS" => list(inner)
            .map(|v| base64_len(v.as_str().unwrap_or("")))
            .sum(),
        "L" => 3 + list(inner).map(|v| 1 + value_size(v)).sum::<usize>(),
        "M" => {
            3 + inner
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, v)| 1 + name.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

fn list(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

/// One byte per two significant digits, plus one.
fn number_size(text: &str) -> usize {
    let digits: String = text
        .chars()
        .take_while(|c| !matches!(c, 'e' | 'E'))
        .filter(char::is_ascii_digit)
        .collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

fn base64_len(text: &str) -> usize {
    let padding = text.bytes().rev().take_while(|b| *b == b'=').count();
    (text.len() / 4 * 3).saturating_sub(padding)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        // Examples worked from the item-size page: a string is its bytes, a number one byte per
        // two significant digits plus one, a map or list 3 bytes plus one per element.
        assert_eq!(item_size(&json!({ "id": { "S": "abc" } })), 2 + 3);
        assert_eq!(number_size("1700000000"), 1 + 1); // "17" significant
        assert_eq!(number_size("123.45"), 3 + 1);
        assert_eq!(number_size("-0.0012"), 1 + 1);
        assert_eq!(base64_len("aGVsbG8="), 5);
        assert_eq!(
            item_size(
                &json!({ "m": { "M": { "k": { "S": "v" } } }, "l": { "L": [{ "BOOL": true }] } })
            ),
            (1 + 3 + 1 + 1 + 1) + (1 + 3 + 1 + 1)
        );
    }

    #[test]
    fn units_round_up_and_never_fall_below_one() {
        assert_eq!(units(0, WRITE_UNIT), 1.0);
        assert_eq!(units(1024, WRITE_UNIT), 1.0);
        assert_eq!(units(1025, WRITE_UNIT), 2.0);
        assert_eq!(units(4097, READ_UNIT), 2.0);
    }

    #[test]
    fn a_key_is_its_key_attributes_whatever_else_the_item_holds() {
        let keys = vec!["pk".to_owned(), "sk".to_owned()];
        let stored = json!({ "pk": { "S": "a" }, "sk": { "N": "1" }, "other": { "BOOL": true } });
        let asked = json!({ "sk": { "N": "1" }, "pk": { "S": "a" } });
        assert_eq!(key_of(&stored, &keys), key_of(&asked, &keys));
        assert_ne!(
            key_of(&stored, &keys),
            key_of(&json!({ "pk": { "S": "a" }, "sk": { "N": "2" } }), &keys)
        );
    }
}
