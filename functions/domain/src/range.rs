//! Which bytes a GET should serve, per RFC 9110 §14 (Range) and §13.1.5 (If-Range).
//!
//! The `Range` header is parsed by `http-range-header`; what a parsed range means for a
//! representation of a given size is decided here, because RFC 9110 differs from that crate's
//! `validate` in the corners: a suffix longer than the representation selects all of it (not
//! 416), `last-pos < first-pos` makes the header invalid (ignored, not 416), `bytes=0-` of an empty
//! representation is unsatisfiable, and the unit is case-insensitive.

use http_range_header::{EndPosition, RangeUnsatisfiableError, StartPosition, parse_range_header};

/// What to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// No usable range: the whole representation (200).
    Full,
    /// Bytes `start..=end` (206).
    Partial { start: u64, end: u64 },
    /// A valid range that selects nothing of this representation (416, `bytes */size`).
    Unsatisfiable,
}

/// The bytes `header` selects of a `size`-byte representation. Invalid syntax, other units and
/// multiple ranges are treated as if there were no `Range` header, as RFC 9110 allows.
pub fn select(header: Option<&str>, size: u64) -> Selection {
    let Some(header) = header else {
        return Selection::Full;
    };
    let Some(spec) = header.get(..6).filter(|unit| unit.eq_ignore_ascii_case("bytes=")).map(|_| &header[6..])
    else {
        return Selection::Full;
    };
    let parsed = match parse_range_header(&format!("bytes={spec}")) {
        Ok(parsed) => parsed,
        // `bytes=-0` is well-formed and selects nothing.
        Err(RangeUnsatisfiableError::ZeroSuffix) if !spec.contains(',') => {
            return Selection::Unsatisfiable;
        }
        Err(_) => return Selection::Full,
    };
    let [range] = parsed.ranges.as_slice() else {
        return Selection::Full;
    };
    match (range.start, range.end) {
        (StartPosition::Index(first), EndPosition::Index(last)) if last < first => Selection::Full,
        (StartPosition::Index(first), _) if first >= size => Selection::Unsatisfiable,
        (StartPosition::Index(first), EndPosition::Index(last)) => {
            Selection::Partial { start: first, end: last.min(size - 1) }
        }
        (StartPosition::Index(first), EndPosition::LastByte) => {
            Selection::Partial { start: first, end: size - 1 }
        }
        // A suffix of an empty representation selects zero bytes, which a 206 can't express.
        (StartPosition::FromLast(_), _) if size == 0 => Selection::Full,
        (StartPosition::FromLast(n), _) => Selection::Partial { start: size - n.min(size), end: size - 1 },
    }
}

impl Selection {
    /// Caps a partial selection at `cap` bytes (a Lambda reply is limited to 6 MB); players ask
    /// for the rest with the next request.
    pub fn capped(self, cap: u64) -> Self {
        match self {
            Selection::Partial { start, end } => {
                Selection::Partial { start, end: end.min(start.saturating_add(cap.max(1) - 1)) }
            }
            other => other,
        }
    }
}

/// RFC 9110 §8.8.3.2 strong comparison: both strong and identical.
pub fn strong_match(a: &str, b: &str) -> bool {
    !a.starts_with("W/") && !b.starts_with("W/") && a == b
}

/// RFC 9110 §13.1.2 `If-None-Match` with weak comparison: `*` or any listed tag.
pub fn none_match(header: &str, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    header.trim() == "*" || header.split(',').any(|tag| opaque(tag) == opaque(etag))
}

#[cfg(test)]
mod tests {
    use super::Selection::*;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_9110_cases() {
        let cases: &[(&str, u64, Selection)] = &[
            ("bytes=0-1", 100, Partial { start: 0, end: 1 }), // Safari's probe
            ("bytes=0-0", 1, Partial { start: 0, end: 0 }),
            ("bytes=10-", 100, Partial { start: 10, end: 99 }),
            ("bytes=-10", 100, Partial { start: 90, end: 99 }),
            ("bytes=-1", 100, Partial { start: 99, end: 99 }), // the last byte
            ("bytes=99-99", 100, Partial { start: 99, end: 99 }),
            ("bytes=-500", 100, Partial { start: 0, end: 99 }), // suffix longer than the object
            ("bytes=50-5000", 100, Partial { start: 50, end: 99 }), // last-pos clamped
            ("Bytes=0-1", 100, Partial { start: 0, end: 1 }),   // unit is case-insensitive
            ("bytes=100-", 100, Unsatisfiable),
            ("bytes=100-200", 100, Unsatisfiable),
            ("bytes=-0", 100, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=-5", 0, Full),
            ("bytes=5-1", 100, Full), // invalid: ignored
            ("bytes=abc", 100, Full),
            ("bytes=", 100, Full),
            ("items=0-1", 100, Full),     // another unit: ignored
            ("bytes=0-1,5-6", 100, Full), // multiple ranges: treated as absent
            ("bytes=1-2-3", 100, Full),
            ("bytes=+1-2", 100, Full),
            ("", 100, Full),
        ];
        for (header, size, want) in cases {
            assert_eq!(select(Some(header), *size), *want, "{header:?} of {size}");
        }
        assert_eq!(select(None, 10), Full);
    }

    #[test]
    fn capping_keeps_the_start_and_shortens_the_end() {
        assert_eq!(Partial { start: 10, end: 99 }.capped(5), Partial { start: 10, end: 14 });
        assert_eq!(Partial { start: 0, end: 1 }.capped(5), Partial { start: 0, end: 1 });
        assert_eq!(Full.capped(5), Full);
    }

    #[test]
    fn validators_compare_as_rfc_9110_says() {
        assert!(strong_match("\"a\"", "\"a\""));
        assert!(!strong_match("W/\"a\"", "\"a\""));
        assert!(none_match("\"x\", W/\"a\"", "\"a\""));
        assert!(none_match("*", "\"a\""));
        assert!(!none_match("\"b\"", "\"a\""));
    }

    proptest! {
        #[test]
        fn any_selection_lies_inside_the_representation(header in ".{0,40}", size in 0u64..10_000) {
            if let Partial { start, end } = select(Some(&header), size) {
                prop_assert!(start <= end && end < size);
            }
        }

        #[test]
        fn well_formed_first_last_ranges_select_exactly(first in 0u64..2000, len in 1u64..2000, size in 1u64..3000) {
            let last = first + len - 1;
            let got = select(Some(&format!("bytes={first}-{last}")), size);
            if first >= size {
                prop_assert_eq!(got, Unsatisfiable);
            } else {
                prop_assert_eq!(got, Partial { start: first, end: last.min(size - 1) });
            }
        }
    }
}
