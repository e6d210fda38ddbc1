//! What the added brokers cost: a small built-in table of MSK Standard broker list prices, so the
//! approval email can say "+2 × kafka.m5.large ≈ $306.60/month" without a Pricing API call (and
//! the permission it needs). A type that is not in the table is said to be unknown, never guessed.

use std::fmt;

/// Where the prices come from, shown under every estimate.
pub const PRICE_SOURCE: &str = "Amazon MSK on-demand list prices for Standard brokers, US East (N. Virginia), \
     from https://aws.amazon.com/msk/pricing/ as of 2025-06; broker hours only (storage, data transfer and \
     taxes not included)";
/// The region the table's prices are for.
pub const PRICE_REGION: &str = "us-east-1";
/// Hours in a month as AWS bills them (365 × 24 / 12).
pub const HOURS_PER_MONTH: u64 = 730;

/// One instance type's price per broker-hour, in millionths of a US dollar (exact integer sums).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerPrice {
    pub instance_type: &'static str,
    pub micro_usd_per_hour: u64,
}

const fn p(instance_type: &'static str, micro_usd_per_hour: u64) -> BrokerPrice {
    BrokerPrice { instance_type, micro_usd_per_hour }
}

/// Standard broker list prices (per broker per hour, us-east-1).
pub const PRICES: &[BrokerPrice] = &[
    p("kafka.t3.small", 45_600),
    p("kafka.m5.large", 210_000),
    p("kafka.m5.xlarge", 420_000),
    p("kafka.m5.2xlarge", 840_000),
    p("kafka.m5.4xlarge", 1_680_000),
    p("kafka.m5.8xlarge", 3_360_000),
    p("kafka.m5.12xlarge", 5_040_000),
    p("kafka.m5.16xlarge", 6_720_000),
    p("kafka.m5.24xlarge", 10_080_000),
    p("kafka.m7g.large", 204_000),
    p("kafka.m7g.xlarge", 408_000),
    p("kafka.m7g.2xlarge", 816_000),
    p("kafka.m7g.4xlarge", 1_632_000),
    p("kafka.m7g.8xlarge", 3_264_000),
    p("kafka.m7g.12xlarge", 4_896_000),
    p("kafka.m7g.16xlarge", 6_528_000),
];

pub fn broker_price(instance_type: &str) -> Option<BrokerPrice> {
    PRICES.iter().copied().find(|p| p.instance_type == instance_type)
}

/// The cost of adding brokers, as far as the table knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CostEstimate {
    Known {
        added: u32,
        price: BrokerPrice,
        cluster_region: String,
    },
    /// The instance type is not in the table (Express brokers, a new family…).
    UnknownType {
        added: u32,
        instance_type: String,
    },
    /// Nobody told us the instance type.
    NoType {
        added: u32,
    },
}

pub fn cost_of(added: u32, instance_type: Option<&str>, cluster_region: &str) -> CostEstimate {
    match instance_type {
        None => CostEstimate::NoType { added },
        Some(t) => match broker_price(t) {
            Some(price) => CostEstimate::Known { added, price, cluster_region: cluster_region.to_owned() },
            None => CostEstimate::UnknownType { added, instance_type: t.to_owned() },
        },
    }
}

impl CostEstimate {
    /// Added cost per month in cents, rounded half up (None when the price is unknown).
    pub fn monthly_cents(&self) -> Option<u64> {
        match self {
            Self::Known { added, price, .. } => {
                Some((u64::from(*added) * price.micro_usd_per_hour * HOURS_PER_MONTH + 5_000) / 10_000)
            }
            _ => None,
        }
    }
}

/// `$1,234.56` from micro-dollars, to the cent; sub-cent hourly prices keep four decimals.
fn dollars_micro(micro: u64, decimals: u32) -> String {
    let scale = 10u64.pow(6 - decimals);
    let units = (micro + scale / 2) / scale;
    let (whole, frac) = (units / 10u64.pow(decimals), units % 10u64.pow(decimals));
    format!("${}.{:0width$}", thousands(whole), frac, width = decimals as usize)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for CostEstimate {
    /// The cost section of the email: what, how much per hour and per month, where the price is from.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Known { added, price, cluster_region } => {
                let hourly = u64::from(*added) * price.micro_usd_per_hour;
                let hourly_decimals = if price.micro_usd_per_hour.is_multiple_of(10_000) { 2 } else { 4 };
                writeln!(
                    f,
                    "  +{added} x {} at {}/hour each = {}/hour, about {}/month ({HOURS_PER_MONTH} hours)",
                    price.instance_type,
                    dollars_micro(price.micro_usd_per_hour, hourly_decimals),
                    dollars_micro(hourly, hourly_decimals),
                    dollars_micro(hourly * HOURS_PER_MONTH, 2),
                )?;
                writeln!(f, "  Prices: {PRICE_SOURCE}.")?;
                if cluster_region != PRICE_REGION {
                    writeln!(f, "  The cluster is in {cluster_region}: its prices differ from {PRICE_REGION}'s.")?;
                }
                Ok(())
            }
            Self::UnknownType { added, instance_type } => writeln!(
                f,
                "  +{added} x {instance_type}: no built-in price for this instance type; see https://aws.amazon.com/msk/pricing/"
            ),
            Self::NoType { added } => writeln!(
                f,
                "  +{added} brokers: instance type unknown, so no estimate; see https://aws.amazon.com/msk/pricing/"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_m5_large_for_a_month() {
        let c = cost_of(2, Some("kafka.m5.large"), "us-east-1");
        // 2 × $0.21 × 730 = $306.60
        assert_eq!(c.monthly_cents(), Some(30_660));
        let text = c.to_string();
        assert!(text.contains("+2 x kafka.m5.large at $0.21/hour each = $0.42/hour, about $306.60/month"), "{text}");
        assert!(text.contains("US East (N. Virginia)") && text.contains("2025-06"), "{text}");
        assert!(!text.contains("prices differ"), "{text}");
    }

    #[test]
    fn sub_cent_prices_and_other_regions() {
        let text = cost_of(2, Some("kafka.t3.small"), "eu-west-1").to_string();
        // 2 × $0.0456 × 730 = $66.576 → $66.58
        assert!(text.contains("at $0.0456/hour each = $0.0912/hour, about $66.58/month"), "{text}");
        assert!(text.contains("eu-west-1"), "{text}");
        let big = cost_of(12, Some("kafka.m5.24xlarge"), "us-east-1").to_string();
        assert!(big.contains("about $88,300.80/month"), "{big}");
    }

    #[test]
    fn unknown_types_are_not_guessed() {
        let c = cost_of(2, Some("express.m7g.large"), "us-east-1");
        assert_eq!(c.monthly_cents(), None);
        assert!(c.to_string().contains("no built-in price for this instance type"));
        assert!(cost_of(2, None, "us-east-1").to_string().contains("instance type unknown"));
    }

    #[test]
    fn the_table_is_consistent() {
        for p in PRICES {
            assert!(p.instance_type.starts_with("kafka."), "{}", p.instance_type);
            assert!(p.micro_usd_per_hour > 0);
            assert_eq!(PRICES.iter().filter(|q| q.instance_type == p.instance_type).count(), 1);
        }
        // Within a family, price doubles with size (large → xlarge → 2xlarge → 4xlarge).
        for family in ["m5", "m7g"] {
            let at = |size: &str| broker_price(&format!("kafka.{family}.{size}")).unwrap().micro_usd_per_hour;
            assert_eq!(at("xlarge"), 2 * at("large"));
            assert_eq!(at("4xlarge"), 4 * at("xlarge"));
        }
    }
}
