//! How many brokers a remediation asks for: one step per AZ at a time (MSK needs a multiple of the AZ
//! count), never shrinking, never beyond a hard ceiling.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The operator's bounds on growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityPolicy {
    /// Brokers added per availability zone by one remediation (≥ 1).
    pub step_per_az: u32,
    /// Hard ceiling on the cluster's broker count.
    pub max_brokers: u32,
}

impl Default for CapacityPolicy {
    fn default() -> Self {
        Self { step_per_az: 1, max_brokers: 12 }
    }
}

/// Why no larger target exists.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CapacityRefusal {
    #[error(
        "cluster has {current} brokers; the ceiling MAX_BROKERS={max} leaves no room for another {az_count} (one per AZ); raise MAX_BROKERS or scale up the instance type instead"
    )]
    AtCeiling { current: u32, max: u32, az_count: u32 },
    #[error("cluster reports {az_count} availability zones; expected at least 1")]
    NoZones { az_count: u32 },
    #[error(
        "cluster has {current} brokers over {az_count} AZs; MSK keeps a multiple of the AZ count, so this description is inconsistent"
    )]
    Uneven { current: u32, az_count: u32 },
    #[error("policy step_per_az={step} is invalid; it must be at least 1")]
    BadStep { step: u32 },
}

/// The broker count to scale to: `current + step_per_az × az_count`, cut down to the largest multiple of
/// the AZ count within the ceiling; refused when that would not add a single broker.
pub fn target_brokers(current: u32, az_count: u32, policy: CapacityPolicy) -> Result<u32, CapacityRefusal> {
    if az_count == 0 {
        return Err(CapacityRefusal::NoZones { az_count });
    }
    if policy.step_per_az == 0 {
        return Err(CapacityRefusal::BadStep { step: policy.step_per_az });
    }
    if !current.is_multiple_of(az_count) {
        return Err(CapacityRefusal::Uneven { current, az_count });
    }
    let wanted = current.saturating_add(policy.step_per_az.saturating_mul(az_count));
    let ceiling = policy.max_brokers / az_count * az_count;
    let target = wanted.min(ceiling);
    if target <= current {
        return Err(CapacityRefusal::AtCeiling { current, max: policy.max_brokers, az_count });
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(step: u32, max: u32) -> CapacityPolicy {
        CapacityPolicy { step_per_az: step, max_brokers: max }
    }

    #[test]
    fn one_per_az_by_default() {
        assert_eq!(target_brokers(2, 2, CapacityPolicy::default()), Ok(4));
        assert_eq!(target_brokers(3, 3, CapacityPolicy::default()), Ok(6));
        assert_eq!(target_brokers(6, 3, p(2, 30)), Ok(12));
    }

    #[test]
    fn ceiling_cuts_to_a_multiple_of_the_azs() {
        assert_eq!(target_brokers(6, 3, p(2, 10)), Ok(9));
        assert_eq!(target_brokers(4, 2, p(1, 5)), Err(CapacityRefusal::AtCeiling { current: 4, max: 5, az_count: 2 }));
        assert_eq!(
            target_brokers(12, 2, p(1, 12)),
            Err(CapacityRefusal::AtCeiling { current: 12, max: 12, az_count: 2 })
        );
        // Already above a lowered ceiling: refuse, never shrink.
        assert!(matches!(target_brokers(12, 3, p(1, 6)), Err(CapacityRefusal::AtCeiling { .. })));
    }

    #[test]
    fn inconsistent_inputs() {
        assert_eq!(
            target_brokers(3, 2, CapacityPolicy::default()),
            Err(CapacityRefusal::Uneven { current: 3, az_count: 2 })
        );
        assert_eq!(target_brokers(2, 0, CapacityPolicy::default()), Err(CapacityRefusal::NoZones { az_count: 0 }));
        assert_eq!(target_brokers(2, 2, p(0, 12)), Err(CapacityRefusal::BadStep { step: 0 }));
    }

    proptest! {
        #[test]
        fn never_shrinks_never_exceeds_always_multiple(az in 1u32..=6, k in 0u32..=20, step in 1u32..=4, max in 0u32..=200) {
            let current = az * k;
            match target_brokers(current, az, p(step, max)) {
                Ok(t) => {
                    prop_assert!(t > current);
                    prop_assert!(t <= max);
                    prop_assert_eq!(t % az, 0);
                    prop_assert!(t - current <= step * az);
                }
                Err(CapacityRefusal::AtCeiling { .. }) => prop_assert!(current + az > max),
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}
