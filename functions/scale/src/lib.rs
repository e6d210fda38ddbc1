//! The scale Lambda's configuration, read once at cold start (variables in docs/WORKFLOW.md).

use autoheal_domain::capacity::CapacityPolicy;
use autoheal_lambda::env::{ConfigError, Source, parsed_or};

/// MAX_BROKERS: the hard ceiling, checked again by the step that changes the cluster.
pub fn max_brokers_from_env(src: &impl Source) -> Result<u32, ConfigError> {
    parsed_or(src, "MAX_BROKERS", CapacityPolicy::default().max_brokers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling() {
        assert_eq!(max_brokers_from_env(&[("MAX_BROKERS", "8")]), Ok(8));
        assert!(max_brokers_from_env(&[("MAX_BROKERS", "many")]).is_err());
    }
}
