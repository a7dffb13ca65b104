//! Reading function configuration from the environment, once, at init. Invalid configuration is an
//! error that stops the function from starting: it never falls back to a default silently.

use std::str::FromStr;

/// A configuration variable that is missing or cannot be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is not set")]
    Missing { name: &'static str },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A variable's value in the process environment (`None` when unset or not Unicode): the lookup
/// a deployed function reads its configuration with.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The value of a variable that must be set and non-empty.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    required_in(&env, name)
}

/// [`required`], over any lookup of variables by name (e.g. a template's function environment).
pub fn required_in(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    match lookup(name) {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError::Missing { name }),
    }
}

/// The parsed value of an optional variable, or `default` when it is unset or empty.
pub fn optional<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    optional_in(&env, name, default)
}

/// [`optional`], over any lookup of variables by name (e.g. a template's function environment).
pub fn optional_in<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match lookup(name) {
        Some(v) if !v.trim().is_empty() => {
            v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: e.to_string(),
            })
        }
        _ => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn a_lookup_gives_set_values_and_defaults_for_unset_or_blank_ones() {
        let vars = lookup(&[("COUNT", " 7 "), ("BLANK", "  "), ("NAME", "orders")]);
        assert_eq!(optional_in(&vars, "COUNT", 1_u32).ok(), Some(7));
        assert_eq!(optional_in(&vars, "BLANK", 1_u32).ok(), Some(1));
        assert_eq!(optional_in(&vars, "UNSET", 1_u32).ok(), Some(1));
        assert_eq!(required_in(&vars, "NAME").ok().as_deref(), Some("orders"));
        assert!(matches!(
            required_in(&vars, "BLANK"),
            Err(ConfigError::Missing { name: "BLANK" })
        ));
    }

    #[test]
    fn an_unparsable_value_is_an_error_that_names_the_variable() {
        let vars = lookup(&[("COUNT", "lots")]);
        let err = optional_in(&vars, "COUNT", 1_u32).expect_err("refused");
        assert!(matches!(err, ConfigError::Invalid { name: "COUNT", .. }));
        assert!(err.to_string().contains("COUNT"), "{err}");
    }
}
