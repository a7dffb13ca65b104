//! From a JSON value to a [`Node`]: every rule EventBridge applies to a pattern that can be
//! checked without an event, each refusal naming the path of the offending key.
//!
//! The rules follow the EventBridge user guide (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html>
//! and the pages it links) and, where the guide is silent, the checks of EventBridge's
//! open-source matcher (<https://github.com/aws/event-ruler>, `JsonRuleCompiler.java`):
//! - a pattern is a non-empty object; a field's value is an object (nested pattern) or a
//!   non-empty array (a leaf); a leaf's items are strings, numbers, `true`, `false`, `null` or
//!   one-key matcher objects;
//! - `$or` is an array of at least two non-empty objects, whose keys (at any depth) may not be
//!   operator names;
//! - `numeric` is `["=", n]`, one bound (`">"`, `">="`, `"<"`, `"<="` and a number) or a lower
//!   bound then an upper bound (`[">", 0, "<=", 5]`), the lower below the upper;
//! - `anything-but` takes a string, a number, a non-empty list of only strings or only numbers,
//!   or one of `prefix`, `suffix`, `equals-ignore-case`, `wildcard` with a string or a non-empty
//!   list of strings (empty prefixes and suffixes refused);
//! - `prefix` and `suffix` take a string or `{"equals-ignore-case": string}`;
//!   `equals-ignore-case`, `wildcard` and `cidr` take a string; `exists` takes `true` or `false`.

use serde_json::{Map, Value};

use crate::Limits;
use crate::case;
use crate::cidr::Cidr;
use crate::error::{Path, PatternError, Step};
use crate::matcher::{AnythingBut, Bound, Field, Leaf, Matcher, Node, Range};
use crate::wildcard::Wildcard;

const OR: &str = "$or";

/// Keys a `$or` branch may not use, since they would read as operators.
const OPERATOR_NAMES: [&str; 13] = [
    "prefix",
    "suffix",
    "equals-ignore-case",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "wildcard",
    "=",
    "<",
    "<=",
    ">",
    ">=",
];

/// Compiles `pattern`, already checked against [`Limits::max_bytes`], into its root node and
/// the number of `exists: false` leaves it holds.
pub(crate) fn compile(pattern: &Value, limits: &Limits) -> Result<(Node, usize), PatternError> {
    let mut compiler = Compiler {
        limits,
        path: Path::default(),
        keys: Vec::new(),
        values: 0,
        absence_slots: 0,
    };
    match pattern {
        Value::Object(object) => {
            let root = compiler.node(object, 1, false)?;
            Ok((root, compiler.absence_slots))
        }
        other => Err(compiler
            .path
            .refuse(format!("a pattern is a JSON object, not {}", kind(other)))),
    }
}

struct Compiler<'p, 'l> {
    limits: &'l Limits,
    /// Where the compiler is, for refusals: keys, `$or` and array indices.
    path: Path<'p>,
    /// The object keys only, from the root to the field being compiled, for `exists: false`.
    keys: Vec<&'p str>,
    values: usize,
    /// How many leaves have `exists: false`: each gets a slot in the match's memo.
    absence_slots: usize,
}

impl<'p> Compiler<'p, '_> {
    fn node(
        &mut self,
        object: &'p Map<String, Value>,
        depth: usize,
        in_or: bool,
    ) -> Result<Node, PatternError> {
        if depth > self.limits.max_depth {
            return Err(self.path.refuse(format!(
                "the pattern nests more than {} objects deep",
                self.limits.max_depth
            )));
        }
        if object.is_empty() {
            return Err(self
                .path
                .refuse("an object in a pattern needs at least one field"));
        }
        let mut fields = Vec::with_capacity(object.len());
        let mut any_of = Vec::new();
        for (key, value) in object {
            if in_or && OPERATOR_NAMES.contains(&key.as_str()) {
                return Err(self.path.refuse_at(
                    Step::Key(key),
                    format!("`{key}` is an operator name and cannot be a field inside `$or`"),
                ));
            }
            self.path.push(Step::Key(key));
            if key == OR {
                any_of = self.any_of(value, depth)?;
            } else {
                self.keys.push(key);
                let field = match value {
                    Value::Object(nested) => Field::Object(self.node(nested, depth + 1, in_or)?),
                    Value::Array(items) => Field::Leaf(self.leaf(items)?),
                    other if OPERATOR_NAMES.contains(&key.as_str()) => {
                        return Err(self.path.refuse(format!(
                            "`{key}` reads as a field here; an operator goes inside the field's array, as in `[{{\"{key}\": {other}}}]`"
                        )));
                    }
                    other => {
                        return Err(self.path.refuse(format!(
                            "a field's value is an array of values to match or an object of fields, not {}; write `[{other}]` to match it exactly",
                            kind(other),
                        )));
                    }
                };
                self.keys.pop();
                fields.push((key.clone(), field));
            }
            self.path.pop();
        }
        // Leaves before nested objects: a match checks `type` before it walks into `body`.
        fields.sort_by_key(|(_, field)| matches!(field, Field::Object(_)));
        let may_match_absent = fields.iter().all(|(_, field)| field.may_match_absent())
            && (any_of.is_empty() || any_of.iter().any(|branch: &Node| branch.may_match_absent));
        Ok(Node {
            fields,
            any_of,
            may_match_absent,
        })
    }

    fn any_of(&mut self, value: &'p Value, depth: usize) -> Result<Vec<Node>, PatternError> {
        let Value::Array(branches) = value else {
            return Err(self.path.refuse(format!(
                "`$or` takes an array of at least two objects, not {}",
                kind(value)
            )));
        };
        if branches.len() < 2 {
            return Err(self.path.refuse(format!(
                "`$or` needs at least two objects, not {}",
                branches.len()
            )));
        }
        let mut nodes = Vec::with_capacity(branches.len());
        for (index, branch) in branches.iter().enumerate() {
            self.path.push(Step::Index(index));
            let Value::Object(object) = branch else {
                return Err(self.path.refuse(format!(
                    "each item of `$or` is an object of fields, not {}",
                    kind(branch)
                )));
            };
            nodes.push(self.node(object, depth + 1, true)?);
            self.path.pop();
        }
        Ok(nodes)
    }

    fn leaf(&mut self, items: &'p [Value]) -> Result<Leaf, PatternError> {
        if items.is_empty() {
            return Err(self
                .path
                .refuse("an empty array matches nothing; give at least one value or matcher"));
        }
        let mut leaf = Leaf {
            exists_true: false,
            exists_false: false,
            path: Vec::new(),
            absence_slot: 0,
            matchers: Vec::with_capacity(items.len()),
        };
        for (index, item) in items.iter().enumerate() {
            self.path.push(Step::Index(index));
            self.count_value(1)?;
            match item {
                Value::String(s) => leaf.matchers.push(Matcher::String(s.clone())),
                Value::Number(n) => leaf.matchers.push(Matcher::Number(n.clone())),
                Value::Bool(b) => leaf.matchers.push(Matcher::Bool(*b)),
                Value::Null => leaf.matchers.push(Matcher::Null),
                Value::Object(operator) => match self.operator(operator)? {
                    Operator::Exists(true) => leaf.exists_true = true,
                    Operator::Exists(false) => leaf.exists_false = true,
                    Operator::Match(matcher) => leaf.matchers.push(matcher),
                },
                Value::Array(_) => {
                    return Err(self.path.refuse(
                        "a value to match is a string, number, boolean, null or a matcher object, not an array",
                    ));
                }
            }
            self.path.pop();
        }
        if leaf.exists_false {
            leaf.path = self.keys.iter().map(|key| (*key).to_owned()).collect();
            leaf.absence_slot = self.absence_slots;
            self.absence_slots += 1;
        }
        Ok(leaf)
    }

    fn count_value(&mut self, n: usize) -> Result<(), PatternError> {
        self.values += n;
        if self.values > self.limits.max_values {
            return Err(self.path.refuse(format!(
                "the pattern holds more than {} values",
                self.limits.max_values
            )));
        }
        Ok(())
    }

    /// A matcher object such as `{"prefix": "eu-"}`: exactly one known key.
    fn operator(&mut self, object: &'p Map<String, Value>) -> Result<Operator, PatternError> {
        let mut entries = object.iter();
        let (Some((name, argument)), None) = (entries.next(), entries.next()) else {
            return Err(self.path.refuse(format!(
                "a matcher object has exactly one key, the operator name, not {}",
                object.len()
            )));
        };
        self.path.push(Step::Key(name));
        let operator = match name.as_str() {
            "prefix" => self.prefix_or_suffix(argument, true)?,
            "suffix" => self.prefix_or_suffix(argument, false)?,
            "equals-ignore-case" => Operator::Match(Matcher::EqualsIgnoreCase(case::fold(
                self.string(argument, name)?,
            ))),
            "wildcard" => Operator::Match(Matcher::Wildcard(self.wildcard(argument)?)),
            "cidr" => Operator::Match(Matcher::Cidr(
                Cidr::parse(self.string(argument, name)?)
                    .map_err(|reason| self.path.refuse(reason))?,
            )),
            "exists" => match argument {
                Value::Bool(b) => Operator::Exists(*b),
                other => {
                    return Err(self
                        .path
                        .refuse(format!("`exists` takes true or false, not {}", kind(other))));
                }
            },
            "numeric" => Operator::Match(Matcher::Numeric(self.numeric(argument)?)),
            "anything-but" => Operator::Match(Matcher::AnythingBut(self.anything_but(argument)?)),
            unknown => {
                return Err(self.path.refuse(format!(
                    "`{unknown}` is not an operator; the operators are prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists and cidr"
                )));
            }
        };
        self.path.pop();
        Ok(operator)
    }

    fn string<'v>(&self, argument: &'v Value, operator: &str) -> Result<&'v str, PatternError> {
        argument.as_str().ok_or_else(|| {
            self.path.refuse(format!(
                "`{operator}` takes a string, not {}",
                kind(argument)
            ))
        })
    }

    fn prefix_or_suffix(
        &mut self,
        argument: &'p Value,
        prefix: bool,
    ) -> Result<Operator, PatternError> {
        let name = if prefix { "prefix" } else { "suffix" };
        let matcher = match argument {
            Value::String(s) if prefix => Matcher::Prefix(s.clone()),
            Value::String(s) => Matcher::Suffix(s.clone()),
            Value::Object(inner) => {
                let mut entries = inner.iter();
                let (Some((inner_name, inner_argument)), None) = (entries.next(), entries.next())
                else {
                    return Err(self.path.refuse(format!(
                        "`{name}` takes a string or {{\"equals-ignore-case\": string}}"
                    )));
                };
                if inner_name != "equals-ignore-case" {
                    return Err(self.path.refuse_at(
                        Step::Key(inner_name),
                        format!("`{name}` takes a string or {{\"equals-ignore-case\": string}}, not `{inner_name}`"),
                    ));
                }
                self.path.push(Step::Key(inner_name));
                let folded = case::fold(self.string(inner_argument, inner_name)?);
                self.path.pop();
                if prefix {
                    Matcher::PrefixIgnoreCase(folded)
                } else {
                    Matcher::SuffixIgnoreCase(folded)
                }
            }
            other => {
                return Err(self.path.refuse(format!(
                    "`{name}` takes a string or {{\"equals-ignore-case\": string}}, not {}",
                    kind(other)
                )));
            }
        };
        Ok(Operator::Match(matcher))
    }

    fn wildcard(&self, argument: &Value) -> Result<Wildcard, PatternError> {
        let text = self.string(argument, "wildcard")?;
        Wildcard::parse(text, self.limits.max_wildcards_per_value)
            .map_err(|error| self.path.refuse(error.reason()))
    }

    fn numeric(&self, argument: &Value) -> Result<Range, PatternError> {
        const SHAPE: &str = "`numeric` takes [\"=\", n], one bound such as [\">=\", 0], or a lower then an upper bound such as [\">\", 0, \"<=\", 5]";
        let Value::Array(terms) = argument else {
            return Err(self.path.refuse(format!("{SHAPE}, not {}", kind(argument))));
        };
        let mut bounds = Vec::with_capacity(2);
        for pair in terms.chunks(2) {
            let [Value::String(operator), Value::Number(n)] = pair else {
                return Err(self.path.refuse(format!(
                    "{SHAPE}: each operator is a string followed by a number"
                )));
            };
            // Without serde_json's arbitrary_precision every JSON number has an f64 value.
            let value = n.as_f64().unwrap_or(f64::NAN);
            bounds.push((operator.as_str(), value));
        }
        match bounds.as_slice() {
            [("=", n)] => Ok(Range {
                lower: Some(Bound {
                    value: *n,
                    inclusive: true,
                }),
                upper: Some(Bound {
                    value: *n,
                    inclusive: true,
                }),
            }),
            [(op, n)] => {
                if let Some(lower) = lower_bound(op, *n) {
                    Ok(Range {
                        lower: Some(lower),
                        upper: None,
                    })
                } else if let Some(upper) = upper_bound(op, *n) {
                    Ok(Range {
                        lower: None,
                        upper: Some(upper),
                    })
                } else {
                    Err(self
                        .path
                        .refuse(format!("{SHAPE}: `{op}` is not one of =, <, <=, >, >=")))
                }
            }
            [(low_op, low), (high_op, high)] => {
                let (Some(lower), Some(upper)) =
                    (lower_bound(low_op, *low), upper_bound(high_op, *high))
                else {
                    return Err(self.path.refuse(format!(
                        "{SHAPE}: a range is a lower bound (> or >=) then an upper bound (< or <=), not `{low_op}` then `{high_op}`"
                    )));
                };
                if lower.value >= upper.value {
                    return Err(self.path.refuse(format!(
                        "the lower bound {} is not below the upper bound {}",
                        lower.value, upper.value
                    )));
                }
                Ok(Range {
                    lower: Some(lower),
                    upper: Some(upper),
                })
            }
            _ => Err(self
                .path
                .refuse(format!("{SHAPE}, not {} terms", terms.len()))),
        }
    }

    fn anything_but(&mut self, argument: &'p Value) -> Result<AnythingBut, PatternError> {
        match argument {
            Value::String(s) => {
                self.count_extra(1)?;
                Ok(AnythingBut::Strings(vec![s.clone()]))
            }
            Value::Number(n) => {
                self.count_extra(1)?;
                Ok(AnythingBut::Numbers(vec![n.as_f64().unwrap_or(f64::NAN)]))
            }
            Value::Array(items) => self.anything_but_list(items),
            Value::Object(inner) => {
                let mut entries = inner.iter();
                let (Some((name, inner_argument)), None) = (entries.next(), entries.next()) else {
                    return Err(self.path.refuse(
                        "`anything-but` takes one of prefix, suffix, equals-ignore-case or wildcard when given an object",
                    ));
                };
                self.path.push(Step::Key(name));
                if !matches!(name.as_str(), "prefix" | "suffix" | "equals-ignore-case" | "wildcard") {
                    return Err(self.path.refuse(format!(
                        "`anything-but` takes prefix, suffix, equals-ignore-case or wildcard, not `{name}`"
                    )));
                }
                let strings = self.strings(inner_argument, name)?;
                let excluded = match name.as_str() {
                    "prefix" | "suffix" => {
                        if let Some(index) = strings.iter().position(|s| s.is_empty()) {
                            let reason = format!("an empty {name} would exclude every string");
                            return Err(if matches!(inner_argument, Value::Array(_)) {
                                self.path.refuse_at(Step::Index(index), reason)
                            } else {
                                self.path.refuse(reason)
                            });
                        }
                        let owned = strings.into_iter().map(str::to_owned).collect();
                        if name == "prefix" {
                            AnythingBut::Prefixes(owned)
                        } else {
                            AnythingBut::Suffixes(owned)
                        }
                    }
                    "equals-ignore-case" => {
                        AnythingBut::IgnoreCase(strings.into_iter().map(case::fold).collect())
                    }
                    _ => AnythingBut::Wildcards(self.anything_but_wildcards(&strings, inner_argument)?),
                };
                self.path.pop();
                Ok(excluded)
            }
            other => Err(self.path.refuse(format!(
                "`anything-but` takes a string, a number, a list of strings or of numbers, or an object such as {{\"prefix\": \"init\"}}, not {}",
                kind(other)
            ))),
        }
    }

    fn anything_but_wildcards(
        &self,
        texts: &[&str],
        argument: &Value,
    ) -> Result<Vec<Wildcard>, PatternError> {
        texts
            .iter()
            .enumerate()
            .map(|(index, text)| {
                Wildcard::parse(text, self.limits.max_wildcards_per_value).map_err(|error| {
                    if matches!(argument, Value::Array(_)) {
                        self.path.refuse_at(Step::Index(index), error.reason())
                    } else {
                        self.path.refuse(error.reason())
                    }
                })
            })
            .collect()
    }

    fn anything_but_list(&mut self, items: &'p [Value]) -> Result<AnythingBut, PatternError> {
        match items.first() {
            None => Err(self
                .path
                .refuse("`anything-but` needs at least one value to exclude")),
            Some(Value::String(_)) => {
                let mut strings = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let Value::String(s) = item else {
                        return Err(self.path.refuse_at(
                            Step::Index(index),
                            format!("an `anything-but` list holds only strings or only numbers; this one starts with strings, not {}", kind(item)),
                        ));
                    };
                    strings.push(s.clone());
                }
                self.count_extra(items.len())?;
                Ok(AnythingBut::Strings(strings))
            }
            Some(Value::Number(_)) => {
                let mut numbers = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let Value::Number(n) = item else {
                        return Err(self.path.refuse_at(
                            Step::Index(index),
                            format!("an `anything-but` list holds only strings or only numbers; this one starts with numbers, not {}", kind(item)),
                        ));
                    };
                    numbers.push(n.as_f64().unwrap_or(f64::NAN));
                }
                self.count_extra(items.len())?;
                Ok(AnythingBut::Numbers(numbers))
            }
            Some(other) => Err(self.path.refuse_at(
                Step::Index(0),
                format!(
                    "an `anything-but` list holds only strings or only numbers, not {}",
                    kind(other)
                ),
            )),
        }
    }

    /// A string or a non-empty list of strings, for the object forms of `anything-but`.
    fn strings<'v>(
        &mut self,
        argument: &'v Value,
        operator: &str,
    ) -> Result<Vec<&'v str>, PatternError> {
        match argument {
            Value::String(s) => {
                self.count_extra(1)?;
                Ok(vec![s.as_str()])
            }
            Value::Array(items) if !items.is_empty() => {
                let mut strings = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let Value::String(s) = item else {
                        return Err(self.path.refuse_at(
                            Step::Index(index),
                            format!("`{operator}` takes strings, not {}", kind(item)),
                        ));
                    };
                    strings.push(s.as_str());
                }
                self.count_extra(items.len())?;
                Ok(strings)
            }
            Value::Array(_) => Err(self
                .path
                .refuse(format!("`{operator}` needs at least one string"))),
            other => Err(self.path.refuse(format!(
                "`{operator}` takes a string or a list of strings, not {}",
                kind(other)
            ))),
        }
    }

    /// Counts the values of an `anything-but`: the leaf item holding it already counted one.
    fn count_extra(&mut self, n: usize) -> Result<(), PatternError> {
        self.count_value(n.saturating_sub(1))
    }
}

enum Operator {
    Exists(bool),
    Match(Matcher),
}

fn lower_bound(operator: &str, value: f64) -> Option<Bound> {
    match operator {
        ">" => Some(Bound {
            value,
            inclusive: false,
        }),
        ">=" => Some(Bound {
            value,
            inclusive: true,
        }),
        _ => None,
    }
}

fn upper_bound(operator: &str, value: f64) -> Option<Bound> {
    match operator {
        "<" => Some(Bound {
            value,
            inclusive: false,
        }),
        "<=" => Some(Bound {
            value,
            inclusive: true,
        }),
        _ => None,
    }
}

/// How a refusal names a JSON value's type.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
