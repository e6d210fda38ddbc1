//! Typed configuration from the environment, read once at cold start. A missing or malformed value
//! fails the init with a message that names the variable.

use std::str::FromStr;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid { name: &'static str, value: String, reason: String },
}

/// Where values come from: the process environment in Lambdas, a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl<const N: usize> Source for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }
}

pub fn required(src: &impl Source, name: &'static str) -> Result<String, ConfigError> {
    src.get(name).ok_or(ConfigError::Missing(name))
}

pub fn optional(src: &impl Source, name: &'static str) -> Option<String> {
    src.get(name)
}

/// Parses a value, or returns the default when the variable is unset.
pub fn parsed_or<T>(src: &impl Source, name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match src.get(name) {
        None => Ok(default),
        Some(value) => value.parse().map_err(|e: T::Err| ConfigError::Invalid { name, reason: e.to_string(), value }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_names_the_variable() {
        let env = [("A", "12"), ("B", "x")];
        assert_eq!(required(&env, "A"), Ok("12".to_owned()));
        assert_eq!(required(&env, "C"), Err(ConfigError::Missing("C")));
        assert_eq!(parsed_or(&env, "A", 1u32), Ok(12));
        assert_eq!(parsed_or(&env, "C", 1u32), Ok(1));
        let e = parsed_or(&env, "B", 1u32).unwrap_err().to_string();
        assert!(e.contains("B=\"x\""), "{e}");
    }
}
