//! Each operator on its own, with the edge cases a subscription filter meets: arrays in the
//! event, missing keys, numbers as numbers, values of another type, escapes, IPv6, nested
//! `$or`, and a webhook body that is not a JSON object.

use hookpost_pattern::EventPattern;
use serde_json::{Value, json};

fn pattern(value: Value) -> EventPattern {
    match EventPattern::from_value(&value) {
        Ok(pattern) => pattern,
        Err(error) => panic!("{value} refused: {error}"),
    }
}

/// Whether a pattern with `leaf` at key `x` matches each of `events`' values at `x`.
fn leaf_matches(leaf: Value, values: &[Value]) -> Vec<bool> {
    let pattern = pattern(json!({ "x": leaf }));
    values
        .iter()
        .map(|value| pattern.matches(&json!({ "x": value })))
        .collect()
}

fn matches(pattern_value: Value, event: Value) -> bool {
    pattern(pattern_value).matches(&event)
}

// Exact values

#[test]
fn strings_match_exactly_and_case_sensitively() {
    assert_eq!(
        leaf_matches(
            json!(["Alice"]),
            &[json!("Alice"), json!("alice"), json!("Alice "), json!("")]
        ),
        [true, false, false, false]
    );
}

#[test]
fn numbers_compare_as_numbers_whatever_their_spelling() {
    let pattern = EventPattern::parse(r#"{"x": [300]}"#).expect("valid");
    for event in [
        r#"{"x": 300}"#,
        r#"{"x": 300.0}"#,
        r#"{"x": 3.0e2}"#,
        r#"{"x": 3e2}"#,
    ] {
        let event: Value = serde_json::from_str(event).expect("JSON");
        assert!(pattern.matches(&event), "{event} should match 300");
    }
    assert!(!pattern.matches(&json!({"x": 300.5})));
    assert!(!pattern.matches(&json!({"x": -300})));
}

#[test]
fn large_integers_compare_exactly_not_as_rounded_floats() {
    // Both round to the same f64 (2^53 + 1 is not representable); as integers they differ.
    assert_eq!(
        leaf_matches(
            json!([9_007_199_254_740_993_u64]),
            &[
                json!(9_007_199_254_740_993_u64),
                json!(9_007_199_254_740_992_u64)
            ]
        ),
        [true, false]
    );
}

#[test]
fn a_number_never_matches_its_text_and_text_never_matches_a_number() {
    assert_eq!(leaf_matches(json!([5]), &[json!("5")]), [false]);
    assert_eq!(leaf_matches(json!(["5"]), &[json!(5)]), [false]);
    assert_eq!(
        leaf_matches(json!([true]), &[json!("true"), json!(true), json!(false)]),
        [false, true, false]
    );
}

#[test]
fn null_matches_null_only_and_not_a_missing_key() {
    let pattern = pattern(json!({"x": [null]}));
    assert!(pattern.matches(&json!({"x": null})));
    assert!(!pattern.matches(&json!({"x": ""})));
    assert!(!pattern.matches(&json!({"x": 0})));
    assert!(!pattern.matches(&json!({"y": null})));
}

// Arrays in the event

#[test]
fn an_event_array_matches_when_any_element_does() {
    assert_eq!(
        leaf_matches(
            json!(["admin"]),
            &[json!(["user", "admin"]), json!(["user"]), json!([])]
        ),
        [true, false, false]
    );
}

#[test]
fn nested_event_arrays_are_flattened() {
    assert_eq!(
        leaf_matches(json!([7]), &[json!([[1, 2], [3, [7]]])]),
        [true]
    );
}

#[test]
fn objects_inside_an_event_array_are_not_leaf_values() {
    assert_eq!(
        leaf_matches(json!(["a"]), &[json!([{"x": "a"}]), json!({"x": "a"})]),
        [false, false]
    );
}

#[test]
fn a_nested_pattern_must_match_within_one_element_of_an_array_of_objects() {
    let pattern = pattern(json!({"items": {"sku": ["A"], "qty": [2]}}));
    assert!(pattern.matches(&json!({"items": [{"sku": "B", "qty": 2}, {"sku": "A", "qty": 2}]})));
    assert!(!pattern.matches(&json!({"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]})));
    assert!(!pattern.matches(&json!({"items": []})));
}

// Missing keys

#[test]
fn a_missing_key_matches_nothing_but_exists_false() {
    let leaves = [
        json!(["a"]),
        json!([null]),
        json!([{"prefix": ""}]),
        json!([{"suffix": ""}]),
        json!([{"equals-ignore-case": ""}]),
        json!([{"wildcard": "*"}]),
        json!([{"anything-but": "a"}]),
        json!([{"anything-but": {"prefix": "a"}}]),
        json!([{"numeric": [">=", 0]}]),
        json!([{"cidr": "0.0.0.0/0"}]),
        json!([{"exists": true}]),
    ];
    for leaf in leaves {
        assert!(
            !matches(json!({"x": leaf}), json!({"y": "a"})),
            "{leaf} matched a missing key"
        );
    }
    assert!(matches(
        json!({"x": [{"exists": false}]}),
        json!({"y": "a"})
    ));
}

#[test]
fn a_missing_parent_object_matches_only_absence() {
    assert!(!matches(
        json!({"detail": {"state": ["running"]}}),
        json!({"source": "x"})
    ));
    assert!(matches(
        json!({"detail": {"state": [{"exists": false}]}}),
        json!({"source": "x"})
    ));
    assert!(!matches(
        json!({"detail": {"state": [{"exists": false}], "kind": ["a"]}}),
        json!({"source": "x"})
    ));
}

#[test]
fn exists_false_under_an_array_of_objects_means_no_element_has_the_field() {
    let pattern = pattern(json!({"items": {"note": [{"exists": false}]}}));
    assert!(pattern.matches(&json!({"items": [{"sku": "A"}, {"sku": "B"}]})));
    assert!(!pattern.matches(&json!({"items": [{"sku": "A"}, {"sku": "B", "note": "x"}]})));
    assert!(pattern.matches(&json!({"items": []})));
    // With another field, the absence still covers every element.
    let pattern = self::pattern(json!({"items": {"sku": ["A"], "note": [{"exists": false}]}}));
    assert!(!pattern.matches(&json!({"items": [{"sku": "A"}, {"sku": "B", "note": "x"}]})));
    assert!(pattern.matches(&json!({"items": [{"sku": "A"}, {"sku": "B"}]})));
}

#[test]
fn many_exists_false_leaves_are_each_answered() {
    // More than the 64 absences a match remembers without allocating.
    let mut fields = serde_json::Map::new();
    for i in 0..70 {
        fields.insert(format!("k{i}"), json!([{"exists": false}]));
    }
    let pattern = pattern(Value::Object(fields));
    assert!(pattern.matches(&json!({"other": 1})));
    for present in ["k0", "k63", "k64", "k69"] {
        assert!(
            !pattern.matches(&json!({ present: 1 })),
            "{present} is present"
        );
    }
}

// String operators against values of other types

#[test]
fn string_operators_never_match_numbers_booleans_or_null() {
    let leaves = [
        json!([{"prefix": ""}]),
        json!([{"prefix": {"equals-ignore-case": ""}}]),
        json!([{"suffix": ""}]),
        json!([{"suffix": {"equals-ignore-case": ""}}]),
        json!([{"equals-ignore-case": "true"}]),
        json!([{"wildcard": "*"}]),
        json!([{"cidr": "0.0.0.0/0"}]),
    ];
    for leaf in leaves {
        assert_eq!(
            leaf_matches(
                leaf.clone(),
                &[json!(5), json!(true), json!(null), json!("true")]
            ),
            [false, false, false, !leaf.to_string().contains("cidr")],
            "{leaf}"
        );
    }
}

#[test]
fn numeric_never_matches_a_number_written_as_text() {
    assert_eq!(
        leaf_matches(json!([{"numeric": [">", 0]}]), &[json!("5"), json!(5)]),
        [false, true]
    );
}

// prefix, suffix, equals-ignore-case

#[test]
fn prefix_and_suffix_are_case_sensitive_unless_asked() {
    assert_eq!(
        leaf_matches(
            json!([{"prefix": "eu-"}]),
            &[json!("eu-west-1"), json!("EU-west-1")]
        ),
        [true, false]
    );
    assert_eq!(
        leaf_matches(
            json!([{"prefix": {"equals-ignore-case": "eu-"}}]),
            &[json!("EU-west-1"), json!("us-east-1")]
        ),
        [true, false]
    );
    assert_eq!(
        leaf_matches(
            json!([{"suffix": ".png"}]),
            &[json!("a.png"), json!("a.PNG")]
        ),
        [true, false]
    );
    assert_eq!(
        leaf_matches(
            json!([{"suffix": {"equals-ignore-case": ".PNG"}}]),
            &[json!("a.png"), json!("png")]
        ),
        [true, false]
    );
}

#[test]
fn equals_ignore_case_folds_unicode_too() {
    assert_eq!(
        leaf_matches(
            json!([{"equals-ignore-case": "Straße"}]),
            &[json!("STRAßE"), json!("straße"), json!("strasse")]
        ),
        [true, true, false]
    );
}

// wildcard

#[test]
fn a_wildcard_star_spans_any_run_and_an_escaped_star_is_literal() {
    // The JSON text `"a\\*b"` is the wildcard value `a\*b`.
    let pattern = EventPattern::parse(r#"{"x": [{"wildcard": "a\\*b*"}]}"#).expect("valid");
    assert!(pattern.matches(&json!({"x": "a*b"})));
    assert!(pattern.matches(&json!({"x": "a*bcd"})));
    assert!(!pattern.matches(&json!({"x": "axb"})));
    assert!(!pattern.matches(&json!({"x": "ab"})));
}

#[test]
fn a_wildcard_matches_arn_shapes() {
    assert_eq!(
        leaf_matches(
            json!([{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]),
            &[
                json!("arn:aws:events:us-east-1:123456789012:event-bus/default"),
                json!("arn:aws:events:eu-west-1:123456789012:event-bus/default")
            ]
        ),
        [true, false]
    );
}

// anything-but

#[test]
fn anything_but_matches_values_of_any_other_type() {
    assert_eq!(
        leaf_matches(
            json!([{"anything-but": "initializing"}]),
            &[json!(5), json!(null), json!(true), json!("initializing")]
        ),
        [true, true, true, false]
    );
    assert_eq!(
        leaf_matches(
            json!([{"anything-but": 123}]),
            &[json!("123"), json!(123), json!(1.23e2)]
        ),
        [true, false, false]
    );
    assert_eq!(
        leaf_matches(
            json!([{"anything-but": {"prefix": "init"}}]),
            &[json!(7), json!("init-1")]
        ),
        [true, false]
    );
}

#[test]
fn anything_but_on_an_array_matches_when_any_element_is_not_excluded() {
    // The same rule as Amazon SNS documents for its filter policies: `[100, 50]` holds a value
    // that is neither 100 nor 500. https://docs.aws.amazon.com/sns/latest/dg/numeric-value-matching.html
    assert_eq!(
        leaf_matches(
            json!([{"anything-but": [100, 500]}]),
            &[json!([100, 50]), json!([100, 500]), json!(101), json!(100)]
        ),
        [true, false, true, false]
    );
}

#[test]
fn anything_but_never_matches_a_missing_or_empty_field() {
    let pattern = pattern(json!({"x": [{"anything-but": "a"}]}));
    assert!(!pattern.matches(&json!({})));
    assert!(!pattern.matches(&json!({"x": []})));
    assert!(!pattern.matches(&json!({"x": {"nested": "b"}})));
}

#[test]
fn anything_but_object_forms_exclude_what_they_name() {
    assert_eq!(
        leaf_matches(
            json!([{"anything-but": {"prefix": ["init", "error"]}}]),
            &[json!("error: x"), json!("ok")]
        ),
        [false, true]
    );
    assert_eq!(
        leaf_matches(
            json!([{"anything-but": {"suffix": ["1234", "6789"]}}]),
            &[json!("i-6789"), json!("i-0000")]
        ),
        [false, true]
    );
    assert_eq!(
        leaf_matches(
            json!([{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]),
            &[json!("STOPPED"), json!("running")]
        ),
        [false, true]
    );
    assert_eq!(
        leaf_matches(
            json!([{"anything-but": {"wildcard": ["*/bin/*.jar", "*/bin/*.class"]}}]),
            &[json!("/opt/bin/app.jar"), json!("/opt/lib/app.jar")]
        ),
        [false, true]
    );
}

// numeric

#[test]
fn numeric_bounds_are_inclusive_or_exclusive_as_written() {
    let values = [json!(-1), json!(0), json!(0.5), json!(10), json!(10.000001)];
    assert_eq!(
        leaf_matches(json!([{"numeric": [">=", 0, "<", 10]}]), &values),
        [false, true, true, false, false]
    );
    assert_eq!(
        leaf_matches(json!([{"numeric": [">", 0, "<=", 10]}]), &values),
        [false, false, true, true, false]
    );
    assert_eq!(
        leaf_matches(json!([{"numeric": ["<", 0]}]), &values),
        [true, false, false, false, false]
    );
    assert_eq!(
        leaf_matches(json!([{"numeric": [">=", 10]}]), &values),
        [false, false, false, true, true]
    );
    assert_eq!(
        leaf_matches(json!([{"numeric": ["=", 0.5]}]), &values),
        [false, false, true, false, false]
    );
}

// exists

#[test]
fn exists_counts_null_and_scalars_in_arrays_but_not_objects_or_empty_arrays() {
    let values = [
        json!(null),
        json!(""),
        json!([1]),
        json!([]),
        json!({}),
        json!({"a": 1}),
        json!([{"a": 1}]),
    ];
    assert_eq!(
        leaf_matches(json!([{"exists": true}]), &values),
        [true, true, true, false, false, false, false]
    );
    assert_eq!(
        leaf_matches(json!([{"exists": false}]), &values),
        [false, false, false, true, true, true, true]
    );
}

#[test]
fn exists_false_or_a_value_matches_either() {
    let leaf = json!([{"exists": false}, "on"]);
    assert_eq!(
        leaf_matches(leaf.clone(), &[json!("on"), json!("off")]),
        [true, false]
    );
    assert!(matches(json!({"x": leaf}), json!({})));
}

// cidr

#[test]
fn cidr_matches_ipv4_and_ipv6_addresses_in_the_block() {
    assert_eq!(
        leaf_matches(
            json!([{"cidr": "192.168.0.0/16"}]),
            &[
                json!("192.168.4.2"),
                json!("192.169.0.1"),
                json!("2001:db8::1")
            ]
        ),
        [true, false, false]
    );
    assert_eq!(
        leaf_matches(
            json!([{"cidr": "2001:db8:1234::/48"}]),
            &[
                json!("2001:db8:1234:ffff::1"),
                json!("2001:DB8:1234::abcd"),
                json!("2001:db8:1235::1"),
                json!("192.168.4.2")
            ]
        ),
        [true, true, false, false]
    );
}

// $or

#[test]
fn or_nested_inside_or_and_inside_objects() {
    let pattern = pattern(json!({
        "type": ["order.created"],
        "body": {
            "$or": [
                {"total": [{"numeric": [">", 1000]}]},
                {"customer": {"tier": ["gold"]}, "$or": [{"country": ["FR"]}, {"country": ["DE"]}]}
            ]
        }
    }));
    assert!(pattern.matches(&json!({"type": "order.created", "body": {"total": 5000}})));
    assert!(pattern.matches(&json!({"type": "order.created", "body": {"total": 5, "customer": {"tier": "gold"}, "country": "DE"}})));
    assert!(!pattern.matches(&json!({"type": "order.created", "body": {"total": 5, "customer": {"tier": "gold"}, "country": "US"}})));
    assert!(!pattern.matches(&json!({"type": "order.created", "body": {"total": 5, "customer": {"tier": "silver"}, "country": "FR"}})));
    assert!(!pattern.matches(&json!({"type": "order.updated", "body": {"total": 5000}})));
}

#[test]
fn or_branches_may_name_the_same_key() {
    let pattern =
        pattern(json!({"$or": [{"x": [{"numeric": ["<", 0]}]}, {"x": [{"numeric": [">", 100]}]}]}));
    assert_eq!(
        [json!(-1), json!(50), json!(101)].map(|x| pattern.matches(&json!({"x": x}))),
        [true, false, true]
    );
}

// The Hookpost envelope

fn envelope(body: Value) -> Value {
    json!({
        "type": "invoice.paid",
        "source": "billing",
        "headers": {"content-type": "application/json"},
        "body": body,
    })
}

#[test]
fn a_body_that_is_not_an_object_never_matches_a_pattern_reading_a_body_field() {
    let readers = [
        json!({"body": {"id": [{"exists": true}]}}),
        json!({"body": {"id": [{"anything-but": "x"}]}}),
        json!({"body": {"id": [{"prefix": ""}]}}),
        json!({"body": {"nested": {"id": [{"wildcard": "*"}]}}}),
    ];
    for reader in readers {
        let pattern = pattern(reader.clone());
        for body in [
            json!("{\"id\": 1}"),
            json!(42),
            json!(null),
            json!(["id"]),
            json!(true),
        ] {
            assert!(
                !pattern.matches(&envelope(body.clone())),
                "{reader} matched body {body}"
            );
        }
        assert!(
            pattern.matches(&envelope(json!({"id": "y", "nested": {"id": "z"}}))),
            "{reader} never matches"
        );
    }
}

#[test]
fn a_string_body_has_no_fields_so_a_field_of_it_does_not_exist() {
    let pattern = pattern(json!({"body": {"id": [{"exists": false}]}}));
    assert!(pattern.matches(&envelope(json!("plain text"))));
    assert!(!pattern.matches(&envelope(json!({"id": 1}))));
}

#[test]
fn the_body_itself_can_be_matched_as_a_value() {
    let pattern = pattern(json!({"body": [{"prefix": "ping"}]}));
    assert!(pattern.matches(&envelope(json!("ping 1"))));
    assert!(!pattern.matches(&envelope(json!({"ping": 1}))));
}

#[test]
fn looks_into_names_the_top_level_keys_any_leaf_reads() {
    let pattern = pattern(json!({
        "type": [{"prefix": "invoice."}],
        "$or": [{"source": ["billing"]}, {"headers": {"x-test": [{"exists": true}]}}]
    }));
    assert!(pattern.looks_into("type"));
    assert!(pattern.looks_into("source"));
    assert!(pattern.looks_into("headers"));
    assert!(!pattern.looks_into("body"));
    assert!(!pattern.looks_into("x-test"));
    assert!(self::pattern(json!({"body": {"a": [{"exists": false}]}})).looks_into("body"));
}

#[test]
fn the_pattern_keeps_its_value_as_given_and_compares_by_it() {
    let text = r#"{"source": ["billing"], "body": {"amount": [{"numeric": [">", 10]}]}}"#;
    let parsed = EventPattern::parse(text).expect("valid");
    let value: Value = serde_json::from_str(text).expect("JSON");
    assert_eq!(parsed.as_value(), &value);
    assert_eq!(EventPattern::from_value(&value).expect("valid"), parsed);
    assert_eq!(parsed.clone(), parsed);
    assert_ne!(
        EventPattern::parse(r#"{"source": ["other"]}"#).expect("valid"),
        parsed
    );
}

#[test]
fn an_event_that_is_not_an_object_has_no_fields() {
    assert!(!matches(json!({"x": ["a"]}), json!("a")));
    assert!(!matches(json!({"x": ["a"]}), json!(["a"])));
    assert!(matches(json!({"x": [{"exists": false}]}), json!(42)));
}

#[test]
fn deeply_nested_event_arrays_stop_being_followed_without_overflowing() {
    fn nested(depth: usize) -> Value {
        let mut value = json!("needle");
        for _ in 0..depth {
            value = Value::Array(vec![value]);
        }
        // Not `json!`, which would serialize (and recurse through) the value to embed it.
        let mut event = serde_json::Map::new();
        event.insert("x".to_owned(), value);
        Value::Object(event)
    }
    let pattern = pattern(json!({"x": ["needle"]}));
    assert!(pattern.matches(&nested(100)));
    let deep = nested(100_000);
    assert!(!pattern.matches(&deep));
    // Dropping a value this deep recurses in serde_json itself; the test leaks it rather than
    // measure serde_json's stack.
    std::mem::forget(deep);
}
