//! Azure image version ordering.
//!
//! Marketplace and gallery versions are dotted numbers (`Major.Minor.Build`, e.g.
//! `22.04.202501150`). Azure orders them numerically segment by segment, so `1.10.0` is newer
//! than `1.9.0` although it sorts first as a string. Segments may exceed `u64` (build numbers
//! built from timestamps), so they are compared as digit strings without leading zeros.

use std::cmp::Ordering;
use std::fmt;

/// A version string that follows Azure's dotted numeric format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageVersion {
    raw: String,
    /// Each segment's digits with leading zeros removed ("0" stays "0").
    segments: Vec<String>,
}

/// Why a version string is not a comparable Azure version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("the version is empty")]
    Empty,
    #[error("a segment between dots is empty")]
    EmptySegment,
    #[error("a segment is not a non-negative decimal number")]
    NonNumericSegment,
}

impl ImageVersion {
    pub fn parse(raw: &str) -> Result<Self, VersionError> {
        if raw.is_empty() {
            return Err(VersionError::Empty);
        }
        let segments = raw
            .split('.')
            .map(|segment| {
                if segment.is_empty() {
                    Err(VersionError::EmptySegment)
                } else if !segment.bytes().all(|b| b.is_ascii_digit()) {
                    Err(VersionError::NonNumericSegment)
                } else {
                    let trimmed = segment.trim_start_matches('0');
                    Ok(if trimmed.is_empty() { "0" } else { trimmed }.to_owned())
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            raw: raw.to_owned(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for ImageVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

fn compare_digits(a: &str, b: &str) -> Ordering {
    // Both are normalized (no leading zeros), so the longer number is the larger one.
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Ord for ImageVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.segments.len().max(other.segments.len());
        fn segment(v: &ImageVersion, i: usize) -> &str {
            v.segments.get(i).map_or("0", String::as_str)
        }
        (0..len)
            .map(|i| compare_digits(segment(self, i), segment(other, i)))
            .find(|o| o.is_ne())
            // `1.2` and `1.2.0` are numerically equal; prefer the more specific one, then the
            // raw text, so the order is total and the choice of "latest" is deterministic.
            .unwrap_or_else(|| {
                self.segments
                    .len()
                    .cmp(&other.segments.len())
                    .then_with(|| self.raw.cmp(&other.raw))
            })
    }
}

impl PartialOrd for ImageVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A version that was left out when choosing the latest, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredVersion {
    pub version: String,
    pub reason: VersionError,
}

/// The outcome of choosing the latest version from a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestChoice {
    /// The highest valid version, if any version was valid.
    pub latest: Option<ImageVersion>,
    /// Versions that could not be compared (they never win).
    pub ignored: Vec<IgnoredVersion>,
}

/// Chooses the highest version by Azure's numeric dotted ordering.
pub fn latest_version<S: AsRef<str>>(versions: &[S]) -> LatestChoice {
    let mut latest: Option<ImageVersion> = None;
    let mut ignored = Vec::new();
    for raw in versions {
        match ImageVersion::parse(raw.as_ref()) {
            Ok(v) => {
                if latest.as_ref().is_none_or(|l| v > *l) {
                    latest = Some(v);
                }
            }
            Err(reason) => ignored.push(IgnoredVersion {
                version: raw.as_ref().to_owned(),
                reason,
            }),
        }
    }
    LatestChoice { latest, ignored }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ImageVersion {
        ImageVersion::parse(s).unwrap()
    }

    #[test]
    fn ordering_table() {
        // (smaller, larger)
        let cases = [
            ("1.9.0", "1.10.0"),
            ("1.2.3", "1.2.4"),
            ("9.99.999", "10.0.0"),
            ("22.04.202501150", "22.04.202501151"),
            ("20.04.202412310", "22.04.202301010"),
            ("1.2", "1.2.1"),
            ("1.2", "1.2.0"),    // numerically equal: the more specific one wins
            ("1.02.0", "1.2.0"), // numerically equal: tie broken by text, deterministically
            ("1.0.0", "1.0.00000000000000000001"),
            (
                "1.0.18446744073709551615", // u64::MAX
                "1.0.18446744073709551616", // u64::MAX + 1
            ),
            (
                "1.0.99999999999999999999999",
                "1.0.100000000000000000000000",
            ),
            ("0.0.0", "0.0.1"),
            ("2024.01.09", "2024.1.10"),
        ];
        for (small, large) in cases {
            assert!(v(small) < v(large), "{small} < {large}");
            assert!(v(large) > v(small), "{large} > {small}");
            assert_eq!(v(small).cmp(&v(small)), Ordering::Equal);
        }
    }

    #[test]
    fn string_order_would_be_wrong() {
        let versions = ["1.9.0", "1.10.0", "1.2.0"];
        let mut by_string = versions;
        by_string.sort();
        assert_eq!(by_string.last(), Some(&"1.9.0"));
        assert_eq!(latest_version(&versions).latest.unwrap().as_str(), "1.10.0");
    }

    #[test]
    fn leading_zeros_compare_numerically() {
        assert!(v("1.010.0") > v("1.9.0"));
        assert!(v("0001.0.0") < v("2.0.0"));
        assert!(v("1.000.0") < v("1.1.0"));
    }

    #[test]
    fn invalid_versions_are_reported_and_never_chosen() {
        let versions = [
            "1.0.0",
            "latest",
            "2.0.0-beta",
            "",
            "3..0",
            "3.0.",
            "9.0.x",
            "-1.0.0",
            "1.5.0",
        ];
        let choice = latest_version(&versions);
        assert_eq!(choice.latest.unwrap().as_str(), "1.5.0");
        let ignored: Vec<(&str, VersionError)> = choice
            .ignored
            .iter()
            .map(|i| (i.version.as_str(), i.reason))
            .collect();
        assert_eq!(
            ignored,
            vec![
                ("latest", VersionError::NonNumericSegment),
                ("2.0.0-beta", VersionError::NonNumericSegment),
                ("", VersionError::Empty),
                ("3..0", VersionError::EmptySegment),
                ("3.0.", VersionError::EmptySegment),
                ("9.0.x", VersionError::NonNumericSegment),
                ("-1.0.0", VersionError::NonNumericSegment),
            ]
        );
    }

    #[test]
    fn empty_or_all_invalid_listing_has_no_latest() {
        assert_eq!(latest_version::<&str>(&[]).latest, None);
        let choice = latest_version(&["a", "b.c"]);
        assert_eq!(choice.latest, None);
        assert_eq!(choice.ignored.len(), 2);
    }

    #[test]
    fn choice_does_not_depend_on_input_order() {
        let mut versions = vec!["1.2", "1.2.0", "1.02.0", "0.9.9", "1.1.99"];
        let first = latest_version(&versions).latest.unwrap();
        versions.reverse();
        assert_eq!(latest_version(&versions).latest.unwrap(), first);
        versions.rotate_left(2);
        assert_eq!(latest_version(&versions).latest.unwrap(), first);
        assert_eq!(first.as_str(), "1.2.0");
    }
}
