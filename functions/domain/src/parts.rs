//! Part-size arithmetic for S3 multipart uploads.
//!
//! S3's limits (user guide, "Amazon S3 multipart upload limits"): parts of 5 MiB to 5 GiB (the last
//! part may be smaller), part numbers 1 to 10,000, hence objects up to 10,000 × 5 GiB.

use super::Invalid;

pub const MIB: u64 = 1024 * 1024;
pub const GIB: u64 = 1024 * MIB;
pub const MIN_PART_SIZE: u64 = 5 * MIB;
pub const MAX_PART_SIZE: u64 = 5 * GIB;
pub const MAX_PARTS: u32 = 10_000;
pub const MAX_OBJECT_SIZE: u64 = MAX_PARTS as u64 * MAX_PART_SIZE;

/// The operator's size settings every plan follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeRules {
    /// The part size when the client asks for none.
    pub default_part_size: u64,
    /// The largest video an upload may declare or store (at most [`MAX_OBJECT_SIZE`]).
    pub max_video_size: u64,
}

impl SizeRules {
    /// The highest part number an upload of unknown size may use: parts past it could only
    /// carry bytes beyond the maximum video size.
    pub fn max_parts_unknown(&self, part_size: u64) -> u32 {
        u32::try_from(self.max_video_size.div_ceil(part_size)).unwrap_or(MAX_PARTS).min(MAX_PARTS)
    }
}

/// How an upload is cut into parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartPlan {
    pub part_size: u64,
    /// Known only when the object's size was declared.
    pub part_count: Option<u32>,
}

impl PartPlan {
    /// The highest part number the client may use.
    pub fn max_parts(&self, rules: &SizeRules) -> u32 {
        self.part_count.unwrap_or_else(|| rules.max_parts_unknown(self.part_size))
    }

    /// The exact length of part `n` (1-based, at most the part count) of a `size`-byte object:
    /// every part but the last is `part_size` long.
    pub fn length_of(&self, n: u32, size: u64) -> u64 {
        let before = u64::from(n.saturating_sub(1)) * self.part_size;
        size.saturating_sub(before).min(self.part_size)
    }

    /// Checks the length a client states for part `n` of an upload of unknown size. Each part is
    /// at most `part_size`, and part `n` may end no later than the maximum video size would if
    /// every part before it were full — so whichever parts are uploaded, their total stays within
    /// the maximum, with no running count to keep.
    pub fn check_stated_length(&self, n: u32, length: u64, rules: &SizeRules) -> Result<(), Invalid> {
        if !(1..=self.part_size).contains(&length) {
            return Err(Invalid::new(
                "invalid_part_size",
                format!("part {n}: its size must be 1 to {} bytes (the upload's partSize)", self.part_size),
            ));
        }
        let end = u64::from(n - 1) * self.part_size + length;
        if end > rules.max_video_size {
            return Err(Invalid::new(
                "video_too_large",
                format!(
                    "part {n} of {length} bytes would take the video to {end} bytes, past the maximum of {} bytes",
                    rules.max_video_size
                ),
            ));
        }
        Ok(())
    }
}

/// Chooses the part size: the requested one if it is valid for `size`, else the default, grown
/// (in whole MiB) until the object fits in 10,000 parts.
pub fn plan(size: Option<u64>, requested: Option<u64>, rules: &SizeRules) -> Result<PartPlan, Invalid> {
    let default_part_size = rules.default_part_size;
    if let Some(size) = size {
        if size == 0 {
            return Err(Invalid::new("invalid_size", "size must be at least 1 byte"));
        }
        if size > MAX_OBJECT_SIZE {
            return Err(Invalid::new(
                "invalid_size",
                format!("size {size} exceeds S3's maximum object size of {MAX_OBJECT_SIZE} bytes"),
            ));
        }
        if size > rules.max_video_size {
            return Err(Invalid::new(
                "video_too_large",
                format!("size {size} exceeds the maximum video size of {} bytes", rules.max_video_size),
            ));
        }
    }

    let part_size = match requested {
        Some(ps) => {
            if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&ps) {
                return Err(Invalid::new(
                    "invalid_part_size",
                    format!(
                        "partSize must be between {MIN_PART_SIZE} (5 MiB) and {MAX_PART_SIZE} (5 GiB) bytes"
                    ),
                ));
            }
            if let Some(size) = size
                && size.div_ceil(ps) > u64::from(MAX_PARTS)
            {
                return Err(Invalid::new(
                    "invalid_part_size",
                    format!(
                        "partSize {ps} would need more than {MAX_PARTS} parts; use at least {}",
                        size.div_ceil(u64::from(MAX_PARTS))
                    ),
                ));
            }
            ps
        }
        None => {
            let needed = size.map_or(0, |s| s.div_ceil(u64::from(MAX_PARTS)).div_ceil(MIB) * MIB);
            default_part_size.max(needed).clamp(MIN_PART_SIZE, MAX_PART_SIZE)
        }
    };

    let part_count =
        size.map(|s| u32::try_from(s.div_ceil(part_size)).expect("part count was checked against MAX_PARTS"));
    Ok(PartPlan { part_size, part_count })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEFAULT: &SizeRules = &SizeRules { default_part_size: 8 * MIB, max_video_size: MAX_OBJECT_SIZE };

    #[test]
    fn small_known_size_uses_the_default_and_one_part() {
        let p = plan(Some(1), None, DEFAULT).unwrap();
        assert_eq!(p, PartPlan { part_size: DEFAULT.default_part_size, part_count: Some(1) });
    }

    #[test]
    fn requested_part_size_is_honoured() {
        let p = plan(Some(23 * MIB), Some(5 * MIB), DEFAULT).unwrap();
        assert_eq!(p, PartPlan { part_size: 5 * MIB, part_count: Some(5) });
    }

    #[test]
    fn unknown_size_has_no_part_count_and_may_use_every_part_number() {
        let p = plan(None, None, DEFAULT).unwrap();
        assert_eq!(p.part_count, None);
        assert_eq!(p.max_parts(DEFAULT), MAX_PARTS);
        assert_eq!(p.part_size, DEFAULT.default_part_size);
        // A smaller maximum video size leaves fewer part numbers.
        let rules = SizeRules { default_part_size: 8 * MIB, max_video_size: 20 * MIB };
        assert_eq!(plan(None, None, &rules).unwrap().max_parts(&rules), 3);
    }

    #[test]
    fn a_known_size_has_exact_part_lengths_and_the_maximum_bounds_it() {
        let p = plan(Some(23 * MIB), Some(5 * MIB), DEFAULT).unwrap();
        let lengths: Vec<u64> = (1..=5).map(|n| p.length_of(n, 23 * MIB)).collect();
        assert_eq!(lengths, [5 * MIB, 5 * MIB, 5 * MIB, 5 * MIB, 3 * MIB]);
        let rules = SizeRules { default_part_size: 8 * MIB, max_video_size: 20 * MIB };
        assert_eq!(plan(Some(20 * MIB + 1), None, &rules).unwrap_err().code, "video_too_large");
        assert!(plan(Some(20 * MIB), None, &rules).is_ok());
    }

    #[test]
    fn stated_lengths_of_an_unknown_size_upload_stay_within_the_maximum() {
        let rules = SizeRules { default_part_size: 8 * MIB, max_video_size: 20 * MIB };
        let p = plan(None, None, &rules).unwrap();
        assert!(p.check_stated_length(1, 8 * MIB, &rules).is_ok());
        assert!(p.check_stated_length(3, 4 * MIB, &rules).is_ok());
        assert_eq!(p.check_stated_length(3, 4 * MIB + 1, &rules).unwrap_err().code, "video_too_large");
        assert_eq!(p.check_stated_length(1, 8 * MIB + 1, &rules).unwrap_err().code, "invalid_part_size");
        assert_eq!(p.check_stated_length(1, 0, &rules).unwrap_err().code, "invalid_part_size");
    }

    #[test]
    fn large_size_grows_the_part_size_to_fit_ten_thousand_parts() {
        let size = 200 * GIB;
        let p = plan(Some(size), None, DEFAULT).unwrap();
        assert!(p.part_count.unwrap() <= MAX_PARTS);
        assert_eq!(p.part_size % MIB, 0);
        assert_eq!(p.part_size, 21 * MIB);
    }

    #[test]
    fn the_largest_object_fits_exactly() {
        let p = plan(Some(MAX_OBJECT_SIZE), None, DEFAULT).unwrap();
        assert_eq!(p, PartPlan { part_size: MAX_PART_SIZE, part_count: Some(MAX_PARTS) });
        assert_eq!(plan(Some(MAX_OBJECT_SIZE + 1), None, DEFAULT).unwrap_err().code, "invalid_size");
    }

    #[test]
    fn zero_size_is_invalid() {
        assert_eq!(plan(Some(0), None, DEFAULT).unwrap_err().code, "invalid_size");
    }

    #[test]
    fn part_sizes_outside_s3_limits_are_invalid() {
        for ps in [0, MIN_PART_SIZE - 1, MAX_PART_SIZE + 1] {
            assert_eq!(plan(Some(10), Some(ps), DEFAULT).unwrap_err().code, "invalid_part_size");
        }
    }

    #[test]
    fn requested_part_size_too_small_for_the_size_says_the_minimum() {
        let err = plan(Some(100 * GIB), Some(5 * MIB), DEFAULT).unwrap_err();
        assert_eq!(err.code, "invalid_part_size");
        assert!(err.message.contains("10737419"), "{}", err.message);
    }

    proptest! {
        #[test]
        fn any_valid_size_gets_a_plan_within_s3_limits(size in 1..=MAX_OBJECT_SIZE) {
            let p = plan(Some(size), None, DEFAULT).unwrap();
            prop_assert!((MIN_PART_SIZE..=MAX_PART_SIZE).contains(&p.part_size));
            let count = p.part_count.unwrap();
            prop_assert!((1..=MAX_PARTS).contains(&count));
            prop_assert!(u64::from(count) * p.part_size >= size);
            prop_assert!(u64::from(count - 1) * p.part_size < size);
        }
    }
}
