//! UTC timestamps as CloudWatch, SNS and EventBridge write them (`2026-11-25T18:00:00Z`,
//! `2026-11-25T18:00:00.123+0000`, `2026-11-25T18:00:00.123+00:00`), normalised to RFC 3339 UTC.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::macros::{datetime, format_description};
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// A point in time, always UTC, millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The first instant RFC 3339 can write.
    pub const MIN: Self = Self(datetime!(0000-01-01 00:00:00 UTC));
    /// The last instant RFC 3339 can write, at millisecond precision.
    pub const MAX: Self = Self(datetime!(9999-12-31 23:59:59.999 UTC));

    /// Parses RFC 3339 and the `+0000` offset form CloudWatch uses in alarm payloads.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
            return Self::from_offset(t);
        }
        // `2026-11-25T18:00:00.123+0000` / `...-0500`: RFC 3339 but for the colon in the offset.
        // `split_at_checked`: the last five bytes may start inside a multi-byte character.
        let (body, off) = s.split_at_checked(s.len().checked_sub(5)?)?;
        let (sign, digits) = match off.as_bytes() {
            [b'+', d @ ..] => (1, d),
            [b'-', d @ ..] => (-1, d),
            _ => return None,
        };
        let &[h1, h2, m1, m2] = digits else { return None };
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let (hours, minutes) = ((h1 - b'0') * 10 + (h2 - b'0'), (m1 - b'0') * 10 + (m2 - b'0'));
        let (hours, minutes) = (i8::try_from(hours).ok()?, i8::try_from(minutes).ok()?);
        let offset = UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()?;
        let with_frac = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
        let without = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        let local =
            PrimitiveDateTime::parse(body, with_frac).or_else(|_| PrimitiveDateTime::parse(body, without)).ok()?;
        Self::from_offset(local.assume_offset(offset))
    }

    pub fn from_unix_millis(ms: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok().and_then(Self::from_offset)
    }

    pub fn now() -> Self {
        let now = OffsetDateTime::now_utc();
        Self::from_offset(now).unwrap_or(Self(now))
    }

    /// The same instant in UTC; `None` outside years 0000..=9999, the range RFC 3339 can write (a
    /// local time of 9999-12-31 with a negative offset is already year 10000 in UTC).
    fn from_offset(t: OffsetDateTime) -> Option<Self> {
        let t = t.checked_to_offset(UtcOffset::UTC)?;
        if t < Self::MIN.0 || t > Self::MAX.0 {
            return None;
        }
        // Millisecond precision: what every AWS API here round-trips.
        let t = t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000).unwrap_or(t);
        Some(Self(t))
    }

    pub fn unix_millis(self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// `20261125T180000Z`: compact, sortable, valid in Step Functions execution names.
    pub fn compact(self) -> String {
        let t = self.0;
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    /// `self` moved by `minutes`, held at [`Self::MIN`] or [`Self::MAX`] rather than overflowing: a
    /// time stamp from an event may sit at either end.
    pub fn plus_minutes(self, minutes: i64) -> Self {
        let t = self.0.saturating_add(Duration::seconds(minutes.saturating_mul(60)));
        Self(t.clamp(Self::MIN.0, Self::MAX.0))
    }

    /// Whole seconds from `earlier` to `self` (negative if `earlier` is later).
    pub fn seconds_since(self, earlier: Self) -> i64 {
        (self.0 - earlier.0).whole_seconds()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // RFC 3339 of a UTC time never fails to format.
        let s = self.0.format(&Rfc3339).map_err(|_| fmt::Error)?;
        f.write_str(&s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_aws_form() {
        let z = Timestamp::parse("2019-10-02T17:04:40.989Z").unwrap();
        assert_eq!(Timestamp::parse("2019-10-02T17:04:40.989+0000"), Some(z));
        assert_eq!(Timestamp::parse("2019-10-02T17:04:40.989+00:00"), Some(z));
        assert_eq!(Timestamp::parse("2019-10-02T19:04:40.989+0200"), Some(z));
        assert_eq!(Timestamp::parse("2019-10-02T12:04:40.989-0500"), Some(z));
        assert_eq!(Timestamp::parse("2019-10-02T17:04:40+0000").unwrap().compact(), "20191002T170440Z");
        assert_eq!(z.to_string(), "2019-10-02T17:04:40.989Z");
        assert_eq!(z.compact(), "20191002T170440Z");
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "yesterday", "2019-10-02", "2019-10-02T17:04:40.989+00x0", "2019-13-02T17:04:40Z", "+0000"] {
            assert_eq!(Timestamp::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn arithmetic() {
        let t = Timestamp::parse("2026-11-25T18:00:00Z").unwrap();
        assert_eq!(t.plus_minutes(60).seconds_since(t), 3600);
        assert_eq!(Timestamp::from_unix_millis(t.unix_millis()), Some(t));
    }
}
