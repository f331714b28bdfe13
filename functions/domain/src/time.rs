//! Timestamps with a fixed-width text form.
//!
//! `createdAt` is a DynamoDB sort key compared as a string, so every timestamp is stored with
//! exactly three fractional digits: `2026-11-21T23:57:55.123Z`. Variable-width fractions would sort
//! `…55.1Z` after `…55.12Z`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

pub type Timestamp = DateTime<Utc>;

/// Now, truncated to milliseconds so that a stored and re-read value compares equal.
pub fn now() -> Timestamp {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

pub fn format(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(t))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let raw = String::deserialize(d)?;
    DateTime::parse_from_rfc3339(&raw).map(|t| t.with_timezone(&Utc)).map_err(serde::de::Error::custom)
}

/// The same for optional timestamps.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&format(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|raw| {
                DateTime::parse_from_rfc3339(&raw)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_timestamps_have_fixed_width_and_sort_as_text() {
        let a = DateTime::from_timestamp_millis(1_700_000_000_100).unwrap();
        let b = DateTime::from_timestamp_millis(1_700_000_000_120).unwrap();
        let c = DateTime::from_timestamp_millis(1_700_000_001_000).unwrap();
        let texts: Vec<String> = [a, b, c].iter().map(format).collect();
        assert_eq!(texts[0], "2023-11-14T22:13:20.100Z");
        assert!(texts.iter().all(|t| t.len() == texts[0].len()));
        assert!(texts[0] < texts[1] && texts[1] < texts[2]);
    }

    #[test]
    fn now_round_trips_through_text() {
        let t = now();
        let parsed = DateTime::parse_from_rfc3339(&format(&t)).unwrap();
        assert_eq!(parsed.with_timezone(&Utc), t);
    }
}
