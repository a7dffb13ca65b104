//! Properties that hold for every event, checked over a few thousand generated ones (a fixed
//! seed, so a failure reproduces). Each property also asserts that both of its outcomes
//! occurred, so none can pass by matching nothing.

use hookpost_pattern::EventPattern;
use serde_json::{Map, Value, json};

/// A small deterministic generator (xorshift64*), enough to vary events without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const KEYS: [&str; 3] = ["a", "b", "c"];
const WORDS: [&str; 6] = ["", "init", "initial", "Run", "running", "a*b"];

fn scalar(rng: &mut Rng) -> Value {
    match rng.below(5) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => json!(rng.below(5)),
        3 => json!(rng.below(5) as f64 / 2.0),
        _ => json!(*rng.pick(&WORDS)),
    }
}

fn value(rng: &mut Rng, depth: u32) -> Value {
    match (depth, rng.below(6)) {
        (0, _) | (_, 0..=2) => scalar(rng),
        (_, 3) => Value::Array((0..rng.below(3)).map(|_| value(rng, depth - 1)).collect()),
        _ => object(rng, depth - 1),
    }
}

fn object(rng: &mut Rng, depth: u32) -> Value {
    let mut map = Map::new();
    for key in KEYS {
        if rng.below(2) == 0 {
            map.insert(key.to_owned(), value(rng, depth));
        }
    }
    Value::Object(map)
}

fn events() -> Vec<Value> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..4000).map(|_| object(&mut rng, 3)).collect()
}

fn pattern(value: Value) -> EventPattern {
    match EventPattern::from_value(&value) {
        Ok(pattern) => pattern,
        Err(error) => panic!("{value} refused: {error}"),
    }
}

/// Counts how often `outcome` was true and false over `events`, failing on the first event for
/// which `holds` is false.
fn check(events: &[Value], mut case: impl FnMut(&Value) -> (bool, bool)) -> (usize, usize) {
    let (mut yes, mut no) = (0, 0);
    for event in events {
        let (holds, outcome) = case(event);
        assert!(holds, "the property fails for {event}");
        if outcome { yes += 1 } else { no += 1 }
    }
    (yes, no)
}

fn assert_both_seen((yes, no): (usize, usize), what: &str) {
    assert!(
        yes > 50 && no > 50,
        "{what}: only {yes} true and {no} false outcomes"
    );
}

#[test]
fn exists_true_and_exists_false_on_the_same_key_are_never_both_true_nor_both_false() {
    let events = events();
    for path in [
        json!({"a": null}),
        json!({"a": {"b": null}}),
        json!({"a": {"b": {"c": null}}}),
    ] {
        let with = |leaf: Value| {
            let mut text = path.to_string();
            text = text.replace("null", &leaf.to_string());
            pattern(serde_json::from_str(&text).expect("JSON"))
        };
        let exists = with(json!([{"exists": true}]));
        let absent = with(json!([{"exists": false}]));
        let seen = check(&events, |event| {
            let (e, a) = (exists.matches(event), absent.matches(event));
            (e != a, e)
        });
        assert_both_seen(seen, &format!("exists at {path}"));
    }
}

#[test]
fn a_value_and_anything_but_that_value_split_every_scalar_field() {
    let events = events();
    for excluded in [json!("init"), json!(""), json!(2), json!(1.5)] {
        let exact = pattern(json!({"a": [excluded.clone()]}));
        let but = pattern(json!({"a": [{"anything-but": excluded.clone()}]}));
        let seen = check(&events, |event| {
            let scalar = event
                .get("a")
                .is_some_and(|a| !a.is_array() && !a.is_object());
            let (e, b) = (exact.matches(event), but.matches(event));
            // On a scalar exactly one holds; elsewhere (missing, object, array) at least the
            // exact value never holds without being in the field.
            (
                if scalar {
                    e != b
                } else {
                    !e || event["a"].is_array()
                },
                e,
            )
        });
        assert!(seen.0 > 0, "{excluded} never matched exactly");
    }
}

#[test]
fn or_of_two_patterns_is_either_and_a_merged_pattern_is_both() {
    let events = events();
    let leaves = [
        ("a", json!([{"prefix": "init"}])),
        ("b", json!([{"numeric": [">=", 1, "<", 2.5]}])),
        ("c", json!([{"exists": false}])),
        ("a", json!([{"anything-but": {"suffix": "ing"}}])),
        ("b", json!([null, true])),
    ];
    let mut or_seen = (0, 0);
    let mut and_seen = (0, 0);
    for (i, (key_a, leaf_a)) in leaves.iter().enumerate() {
        for (key_b, leaf_b) in &leaves[i + 1..] {
            let left = pattern(json!({ *key_a: leaf_a }));
            let right = pattern(json!({ *key_b: leaf_b }));
            let either = pattern(json!({"$or": [{ *key_a: leaf_a }, { *key_b: leaf_b }]}));
            let seen = check(&events, |event| {
                let expected = left.matches(event) || right.matches(event);
                (either.matches(event) == expected, expected)
            });
            or_seen = (or_seen.0 + seen.0, or_seen.1 + seen.1);
            if key_a != key_b {
                let both = pattern(json!({ *key_a: leaf_a, *key_b: leaf_b }));
                let seen = check(&events, |event| {
                    let expected = left.matches(event) && right.matches(event);
                    (both.matches(event) == expected, expected)
                });
                and_seen = (and_seen.0 + seen.0, and_seen.1 + seen.1);
            }
        }
    }
    assert_both_seen(or_seen, "$or");
    assert_both_seen(and_seen, "AND");
}

#[test]
fn a_range_is_its_lower_bound_and_its_upper_bound() {
    let events = events();
    let range = pattern(json!({"a": [{"numeric": [">", 0.5, "<=", 2]}]}));
    let lower = pattern(json!({"a": [{"numeric": [">", 0.5]}]}));
    let upper = pattern(json!({"a": [{"numeric": ["<=", 2]}]}));
    let seen = check(&events, |event| {
        // Scalar fields only: on an array, the bounds may hold for different elements.
        let scalar = event.get("a").is_some_and(|a| !a.is_array());
        let r = range.matches(event);
        (
            !scalar || r == (lower.matches(event) && upper.matches(event)),
            r,
        )
    });
    assert_both_seen(seen, "range");
}

#[test]
fn wildcards_agree_with_prefix_suffix_and_contains() {
    let words = [
        "", "init", "initial", "Run", "running", "a*b", "xa*by", "ab", "*",
    ];
    for needle in ["in", "n", "a", "ru"] {
        let starts = pattern(json!({"a": [{"wildcard": format!("{needle}*")}]}));
        let prefix = pattern(json!({"a": [{"prefix": needle}]}));
        let ends = pattern(json!({"a": [{"wildcard": format!("*{needle}")}]}));
        let suffix = pattern(json!({"a": [{"suffix": needle}]}));
        let inside = pattern(json!({"a": [{"wildcard": format!("*{needle}*")}]}));
        for word in words {
            let event = json!({"a": word});
            assert_eq!(
                starts.matches(&event),
                prefix.matches(&event),
                "{needle}* on {word:?}"
            );
            assert_eq!(
                ends.matches(&event),
                suffix.matches(&event),
                "*{needle} on {word:?}"
            );
            assert_eq!(
                inside.matches(&event),
                word.contains(needle),
                "*{needle}* on {word:?}"
            );
        }
    }
    let literal = pattern(json!({"a": [{"wildcard": "a\\*b"}]}));
    let words_with_star: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| literal.matches(&json!({"a": w})))
        .collect();
    assert_eq!(words_with_star, ["a*b"]);
}
