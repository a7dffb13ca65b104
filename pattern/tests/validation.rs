//! Refusals: every pattern EventBridge would refuse and that can be told without an event is
//! refused here, naming the JSON path of the offending key; the limits hold exactly at their
//! bounds.

use hookpost_pattern::{EventPattern, Limits, PatternError};
use serde_json::{Value, json};

fn refusal(pattern: Value) -> PatternError {
    match EventPattern::from_value(&pattern) {
        Ok(_) => panic!("{pattern} was accepted"),
        Err(error) => error,
    }
}

fn path_of(pattern: Value) -> String {
    refusal(pattern).path
}

#[test]
fn a_pattern_is_a_non_empty_object() {
    for not_an_object in [
        json!([]),
        json!("source"),
        json!(1),
        json!(null),
        json!(true),
    ] {
        assert_eq!(path_of(not_an_object), "$");
    }
    assert_eq!(path_of(json!({})), "$");
    assert_eq!(path_of(json!({"body": {}})), "body");
}

#[test]
fn text_that_is_not_json_is_refused_as_a_whole() {
    let error = EventPattern::parse(r#"{"source": ["a"]"#).expect_err("truncated");
    assert_eq!(error.path, "$");
    assert!(
        error.reason.starts_with("not valid JSON"),
        "{}",
        error.reason
    );
}

#[test]
fn a_field_is_an_array_or_an_object() {
    let error = refusal(json!({"body": {"amount": 5}}));
    assert_eq!(error.path, "body.amount");
    assert!(
        error.reason.contains("`[5]`"),
        "the reason suggests the fix: {}",
        error.reason
    );
    assert_eq!(path_of(json!({"source": "billing"})), "source");
    assert_eq!(path_of(json!({"source": null})), "source");
}

#[test]
fn an_operator_outside_an_array_is_refused_with_the_fix() {
    let error = refusal(json!({"source": {"prefix": "bill"}}));
    assert_eq!(error.path, "source.prefix");
    assert!(
        error.reason.contains(r#"[{"prefix": "bill"}]"#),
        "{}",
        error.reason
    );
}

#[test]
fn an_empty_leaf_array_is_refused() {
    assert_eq!(path_of(json!({"body": {"tags": []}})), "body.tags");
}

#[test]
fn a_leaf_item_is_a_scalar_or_a_matcher_object() {
    assert_eq!(
        path_of(json!({"body": {"tags": ["a", ["b"]]}})),
        "body.tags[1]"
    );
}

#[test]
fn a_matcher_object_has_exactly_one_known_operator() {
    assert_eq!(path_of(json!({"x": [{}]})), "x[0]");
    assert_eq!(
        path_of(json!({"x": [{"prefix": "a", "suffix": "b"}]})),
        "x[0]"
    );
    let error = refusal(json!({"x": ["ok", {"regex": "a.*"}]}));
    assert_eq!(error.path, "x[1].regex");
    assert!(error.reason.contains("not an operator"), "{}", error.reason);
    // Operator names are exact.
    assert_eq!(path_of(json!({"x": [{"Prefix": "a"}]})), "x[0].Prefix");
    assert_eq!(path_of(json!({"x": [{"exactly": "a"}]})), "x[0].exactly");
}

#[test]
fn string_operators_take_strings() {
    for operator in ["equals-ignore-case", "wildcard", "cidr"] {
        assert_eq!(
            path_of(json!({"x": [{operator: 5}]})),
            format!("x[0].{operator}")
        );
    }
    assert_eq!(path_of(json!({"x": [{"prefix": 5}]})), "x[0].prefix");
    assert_eq!(path_of(json!({"x": [{"suffix": ["a"]}]})), "x[0].suffix");
}

#[test]
fn prefix_and_suffix_objects_take_equals_ignore_case_only() {
    assert_eq!(
        path_of(json!({"x": [{"prefix": {"wildcard": "a*"}}]})),
        "x[0].prefix.wildcard"
    );
    assert_eq!(
        path_of(json!({"x": [{"suffix": {"equals-ignore-case": 1}}]})),
        "x[0].suffix.equals-ignore-case"
    );
    assert_eq!(path_of(json!({"x": [{"suffix": {}}]})), "x[0].suffix");
}

#[test]
fn exists_takes_a_boolean() {
    assert_eq!(path_of(json!({"x": [{"exists": "true"}]})), "x[0].exists");
    assert_eq!(path_of(json!({"x": [{"exists": null}]})), "x[0].exists");
}

#[test]
fn numeric_takes_an_operator_and_a_number_or_a_lower_then_an_upper_bound() {
    let bad_shapes = [
        json!(5),
        json!([]),
        json!(["<"]),
        json!([10, "<"]),
        json!(["<", "10"]),
        json!(["!=", 10]),
        json!(["=", 1, "<", 2]),
        json!(["<", 10, ">=", 0]),
        json!([">", 0, ">", 5]),
        json!([">", 0, "<=", 5, "<", 6]),
        json!([">", 5, "<", 5]),
        json!([">=", 6, "<=", 5]),
    ];
    for shape in bad_shapes {
        assert_eq!(
            path_of(json!({"body": {"amount": [{"numeric": shape.clone()}]}})),
            "body.amount[0].numeric",
            "{shape}"
        );
    }
    for good in [
        json!(["=", 3.018e2]),
        json!(["<", 10]),
        json!(["<=", -1]),
        json!([">", 0]),
        json!([">=", 0, "<", 0.5]),
    ] {
        assert!(
            EventPattern::from_value(&json!({"x": [{"numeric": good.clone()}]})).is_ok(),
            "{good} refused"
        );
    }
}

#[test]
fn anything_but_takes_values_of_one_type_or_a_known_object() {
    assert_eq!(
        path_of(json!({"x": [{"anything-but": null}]})),
        "x[0].anything-but"
    );
    assert_eq!(
        path_of(json!({"x": [{"anything-but": true}]})),
        "x[0].anything-but"
    );
    assert_eq!(
        path_of(json!({"x": [{"anything-but": []}]})),
        "x[0].anything-but"
    );
    assert_eq!(
        path_of(json!({"x": [{"anything-but": ["a", 1]}]})),
        "x[0].anything-but[1]"
    );
    assert_eq!(
        path_of(json!({"x": [{"anything-but": [1, "a"]}]})),
        "x[0].anything-but[1]"
    );
    assert_eq!(
        path_of(json!({"x": [{"anything-but": [null]}]})),
        "x[0].anything-but[0]"
    );
    assert_eq!(
        path_of(json!({"x": [{"anything-but": {"numeric": [">", 1]}}]})),
        "x[0].anything-but.numeric"
    );
    assert_eq!(
        path_of(json!({"x": [{"anything-but": {"prefix": "a", "suffix": "b"}}]})),
        "x[0].anything-but"
    );
    assert_eq!(
        path_of(json!({"x": [{"anything-but": {"prefix": 1}}]})),
        "x[0].anything-but.prefix"
    );
    assert_eq!(
        path_of(json!({"x": [{"anything-but": {"prefix": []}}]})),
        "x[0].anything-but.prefix"
    );
    assert_eq!(
        path_of(json!({"x": [{"anything-but": {"suffix": ["ok", 2]}}]})),
        "x[0].anything-but.suffix[1]"
    );
}

#[test]
fn anything_but_refuses_an_empty_prefix_or_suffix() {
    assert_eq!(
        path_of(json!({"x": [{"anything-but": {"prefix": ""}}]})),
        "x[0].anything-but.prefix"
    );
    assert_eq!(
        path_of(json!({"x": [{"anything-but": {"suffix": ["a", ""]}}]})),
        "x[0].anything-but.suffix[1]"
    );
}

#[test]
fn wildcards_refuse_two_stars_in_a_row_and_unknown_escapes() {
    assert_eq!(
        path_of(json!({"x": [{"wildcard": "a**b"}]})),
        "x[0].wildcard"
    );
    assert_eq!(
        path_of(json!({"x": [{"wildcard": "a\\b"}]})),
        "x[0].wildcard"
    );
    assert_eq!(
        path_of(json!({"x": [{"anything-but": {"wildcard": ["ok*", "bad**"]}}]})),
        "x[0].anything-but.wildcard[1]"
    );
    assert!(EventPattern::from_value(&json!({"x": [{"wildcard": "a\\**\\\\"}]})).is_ok());
}

#[test]
fn cidr_refuses_what_is_not_a_block() {
    for block in [
        "10.0.0.0",
        "10.0.0.0/33",
        "10.0.0.0/32",
        "fe80::/128",
        "example.com/8",
        "10.0.0.0/8/8",
    ] {
        assert_eq!(
            path_of(json!({"headers": {"x-forwarded-for": [{"cidr": block}]}})),
            "headers.x-forwarded-for[0].cidr",
            "{block}"
        );
    }
}

#[test]
fn or_takes_two_or_more_non_empty_objects() {
    assert_eq!(path_of(json!({"$or": {"a": ["x"]}})), "$or");
    assert_eq!(path_of(json!({"$or": []})), "$or");
    assert_eq!(
        path_of(json!({"body": {"$or": [{"a": ["x"]}]}})),
        "body.$or"
    );
    assert_eq!(path_of(json!({"$or": [{"a": ["x"]}, ["b"]]})), "$or[1]");
    assert_eq!(path_of(json!({"$or": [{"a": ["x"]}, {}]})), "$or[1]");
    assert_eq!(
        path_of(json!({"$or": [{"a": ["x"]}, {"b": []}]})),
        "$or[1].b"
    );
}

#[test]
fn or_branches_may_not_use_operator_names_as_fields() {
    assert_eq!(
        path_of(json!({"$or": [{"numeric": [123]}, {"prefix": ["abc"]}]})),
        "$or[0].numeric"
    );
    assert_eq!(
        path_of(json!({"$or": [{"a": {"exists": [true]}}, {"b": ["x"]}]})),
        "$or[0].a.exists"
    );
    // Outside `$or`, a field may be called anything.
    assert!(EventPattern::from_value(&json!({"prefix": ["abc"], "numeric": [1]})).is_ok());
}

#[test]
fn the_error_displays_its_path_and_reason() {
    let error = refusal(json!({"body": {"amount": [{"numeric": ["<", 10, ">=", 0]}]}}));
    let shown = error.to_string();
    assert!(
        shown.starts_with("pattern at `body.amount[0].numeric`: "),
        "{shown}"
    );
    assert!(shown.contains("lower bound"), "{shown}");
}

// Limits

fn limits() -> Limits {
    Limits {
        max_depth: 3,
        max_bytes: 100,
        max_values: 4,
        max_wildcards_per_value: 2,
    }
}

fn accepted(pattern: &Value, limits: &Limits) -> bool {
    EventPattern::from_value_with_limits(pattern, limits).is_ok()
}

#[test]
fn the_defaults_are_the_documented_ones() {
    assert_eq!(
        Limits::default(),
        Limits {
            max_depth: 10,
            max_bytes: 2048,
            max_values: 150,
            max_wildcards_per_value: 5
        }
    );
}

#[test]
fn depth_is_accepted_at_the_limit_and_refused_one_over() {
    let at = json!({"a": {"b": {"c": [1]}}});
    let over = json!({"a": {"b": {"c": {"d": [1]}}}});
    assert!(accepted(&at, &limits()));
    let error = EventPattern::from_value_with_limits(&over, &limits()).expect_err("too deep");
    assert_eq!(error.path, "a.b.c");
}

#[test]
fn or_branches_count_as_a_level() {
    let at = json!({"a": {"$or": [{"b": [1]}, {"c": [2]}]}});
    let over = json!({"a": {"$or": [{"b": [1]}, {"c": {"d": [2]}}]}});
    assert!(accepted(&at, &limits()));
    assert_eq!(
        EventPattern::from_value_with_limits(&over, &limits())
            .expect_err("too deep")
            .path,
        "a.$or[1].c"
    );
}

#[test]
fn the_default_depth_holds_ten_levels() {
    let nested = |levels: usize| {
        let mut pattern = json!([1]);
        for _ in 0..levels {
            pattern = json!({ "a": pattern });
        }
        pattern
    };
    assert!(EventPattern::from_value(&nested(10)).is_ok());
    assert!(EventPattern::from_value(&nested(11)).is_err());
}

#[test]
fn values_are_accepted_at_the_limit_and_refused_one_over() {
    assert!(accepted(
        &json!({"a": [1, 2], "b": {"c": [3, 4]}}),
        &limits()
    ));
    let error = EventPattern::from_value_with_limits(
        &json!({"a": [1, 2], "b": {"c": [3, 4, 5]}}),
        &limits(),
    )
    .expect_err("too many values");
    assert_eq!(error.path, "b.c[2]");
}

#[test]
fn anything_but_lists_count_each_value() {
    assert!(accepted(
        &json!({"a": [{"anything-but": [1, 2, 3, 4]}]}),
        &limits()
    ));
    assert!(!accepted(
        &json!({"a": [{"anything-but": [1, 2, 3, 4, 5]}]}),
        &limits()
    ));
    assert!(!accepted(
        &json!({"a": [{"anything-but": {"prefix": ["a", "b", "c"]}}, "x", "y"]}),
        &limits()
    ));
}

#[test]
fn the_default_values_limit_holds_150() {
    let values = |n: usize| json!({ "a": (0..n).collect::<Vec<usize>>() });
    assert!(EventPattern::from_value(&values(150)).is_ok());
    assert!(EventPattern::from_value(&values(151)).is_err());
}

#[test]
fn wildcards_per_value_are_accepted_at_the_limit_and_refused_one_over() {
    assert!(accepted(&json!({"a": [{"wildcard": "*x*"}]}), &limits()));
    let error =
        EventPattern::from_value_with_limits(&json!({"a": [{"wildcard": "*x*y*"}]}), &limits())
            .expect_err("too many stars");
    assert_eq!(error.path, "a[0].wildcard");
    // Escaped stars are text, not wildcards.
    assert!(accepted(
        &json!({"a": [{"wildcard": "*x\\*y*"}]}),
        &limits()
    ));
    assert!(!accepted(
        &json!({"a": [{"anything-but": {"wildcard": "*x*y*"}}]}),
        &limits()
    ));
}

/// `{"a":["xx…x"]}` padded to exactly `bytes` bytes of compact JSON.
fn sized(bytes: usize) -> Value {
    let overhead = r#"{"a":[""]}"#.len();
    json!({ "a": ["x".repeat(bytes - overhead)] })
}

#[test]
fn size_is_accepted_at_the_limit_and_refused_one_over() {
    assert_eq!(serde_json::to_string(&sized(100)).expect("JSON").len(), 100);
    assert!(accepted(&sized(100), &limits()));
    let error =
        EventPattern::from_value_with_limits(&sized(101), &limits()).expect_err("too large");
    assert_eq!(error.path, "$");
}

#[test]
fn parse_measures_the_text_as_given() {
    let text = serde_json::to_string(&sized(2048)).expect("JSON");
    assert!(EventPattern::parse(&text).is_ok());
    let padded = format!(" {text}");
    assert_eq!(
        EventPattern::parse(&padded).expect_err("too large").path,
        "$"
    );
}

#[test]
fn an_oversized_text_is_refused_before_it_is_parsed() {
    // Not JSON at all: refused for its size, so the parser never ran.
    let error = EventPattern::parse(&"[".repeat(3000)).expect_err("too large");
    assert!(error.reason.contains("2048"), "{}", error.reason);
}

#[test]
fn a_value_nested_far_past_every_limit_is_refused_without_overflowing() {
    let mut deep = json!([1]);
    for _ in 0..100_000 {
        deep = Value::Array(vec![deep]);
    }
    let mut pattern = serde_json::Map::new();
    pattern.insert("a".to_owned(), deep);
    let pattern = Value::Object(pattern);
    assert_eq!(
        EventPattern::from_value(&pattern)
            .expect_err("too large")
            .path,
        "$"
    );
    // Dropping a value this deep recurses in serde_json itself; the test leaks it rather than
    // measure serde_json's stack.
    std::mem::forget(pattern);
}
