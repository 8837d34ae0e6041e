//! Small value types that backup headers carry: GUIDs and MTF date-times.
//!
//! Both serialize as the text SQL Server prints and deserialize from that same text, so a
//! stored header reads back to the identical value.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest piece of rejected input quoted in a parse error (the rest is cut off), so an
/// error message stays small whatever the input.
const QUOTED_INPUT_MAX: usize = 48;

/// `input`, cut to [`QUOTED_INPUT_MAX`] characters for an error message.
fn quoted(input: &str) -> String {
    match input.char_indices().nth(QUOTED_INPUT_MAX) {
        Some((end, _)) => format!("{}...", &input[..end]),
        None => input.to_string(),
    }
}

/// A GUID in SQL Server's `uniqueidentifier` form.
///
/// Stored in Microsoft mixed-endian layout (first three fields little-endian), printed in
/// upper case as SQL Server prints it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// The all-zero GUID.
    pub const NIL: Guid = Guid([0; 16]);

    /// True for the all-zero GUID.
    pub fn is_nil(&self) -> bool {
        self.0 == [0; 16]
    }

    /// `None` for the all-zero GUID (a column SQL Server shows as NULL when unset).
    pub fn non_nil(self) -> Option<Guid> {
        (!self.is_nil()).then_some(self)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-\
             {:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
            b[3],
            b[2],
            b[1],
            b[0],
            b[5],
            b[4],
            b[7],
            b[6],
            b[8],
            b[9],
            b[10],
            b[11],
            b[12],
            b[13],
            b[14],
            b[15]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Guid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a GUID string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid GUID {input:?}: {why}")]
pub struct ParseGuidError {
    input: String,
    why: &'static str,
}

/// Byte index of each printed hex pair: the inverse of the mixed-endian printing order.
const GUID_PRINT_ORDER: [usize; 16] = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];

impl FromStr for Guid {
    type Err = ParseGuidError;

    /// Parse the printed form `5AF3E50D-A4E0-4E9B-8AEF-FE52898C6359` (either letter case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| ParseGuidError {
            input: quoted(s),
            why,
        };
        let text = s.as_bytes();
        if text.len() != 36 {
            return Err(err("expected 36 characters (8-4-4-4-12 hex digits)"));
        }
        if [8, 13, 18, 23].iter().any(|&i| text[i] != b'-') {
            return Err(err("expected dashes after 8, 12, 16 and 20 hex digits"));
        }
        let digits: Vec<u8> = text.iter().copied().filter(|&c| c != b'-').collect();
        if digits.len() != 32 {
            return Err(err("expected 32 hex digits"));
        }
        let mut bytes = [0u8; 16];
        for (pair, &at) in digits.chunks_exact(2).zip(GUID_PRINT_ORDER.iter()) {
            let hi = hex_value(pair[0]).ok_or_else(|| err("not a hex digit"))?;
            let lo = hex_value(pair[1]).ok_or_else(|| err("not a hex digit"))?;
            bytes[at] = (hi << 4) | lo;
        }
        Ok(Guid(bytes))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl<'de> Deserialize<'de> for Guid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A date and time as SQL Server writes it into a backup: server local time, whole seconds.
///
/// Printed as `YYYY-MM-DDTHH:MM:SS` (ISO 8601 without offset, as `FOR JSON` prints `datetime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupDateTime {
    /// Year (e.g. 2017).
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of month, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59.
    pub second: u8,
}

impl BackupDateTime {
    /// Decode the 5-byte MTF_DATE_TIME bit packing (big-endian bits:
    /// 14 year, 4 month, 5 day, 5 hour, 6 minute, 6 second). All zero means "not set".
    /// Returns `Err` with a reason when a field is out of range.
    pub fn from_mtf(b: [u8; 5]) -> Result<Option<Self>, String> {
        let x = b.iter().fold(0u64, |acc, &v| (acc << 8) | u64::from(v));
        if x == 0 {
            return Ok(None);
        }
        // Each mask keeps the value within its type, so the narrowing casts are exact.
        #[allow(clippy::cast_possible_truncation)]
        let dt = BackupDateTime {
            year: (x >> 26) as u16,
            month: ((x >> 22) & 0xF) as u8,
            day: ((x >> 17) & 0x1F) as u8,
            hour: ((x >> 12) & 0x1F) as u8,
            minute: ((x >> 6) & 0x3F) as u8,
            second: (x & 0x3F) as u8,
        };
        if dt.is_valid() {
            Ok(Some(dt))
        } else {
            Err(format!("invalid MTF date-time {dt}"))
        }
    }

    /// Every field within the range the MTF packing and the calendar allow.
    fn is_valid(&self) -> bool {
        self.year <= Self::MAX_YEAR
            && (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
    }

    /// Largest year the 14-bit MTF year field holds.
    const MAX_YEAR: u16 = (1 << 14) - 1;

    /// Encode to the 5-byte MTF_DATE_TIME form (used by tests and writers).
    pub fn to_mtf(self) -> [u8; 5] {
        let x = (u64::from(self.year) << 26)
            | (u64::from(self.month) << 22)
            | (u64::from(self.day) << 17)
            | (u64::from(self.hour) << 12)
            | (u64::from(self.minute) << 6)
            | u64::from(self.second);
        let be = x.to_be_bytes();
        [be[3], be[4], be[5], be[6], be[7]]
    }
}

impl fmt::Display for BackupDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

impl Serialize for BackupDateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a date-time string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid backup date-time {input:?}: {why}")]
pub struct ParseDateTimeError {
    input: String,
    why: &'static str,
}

impl FromStr for BackupDateTime {
    type Err = ParseDateTimeError;

    /// Parse the printed form `2017-06-01T12:59:12` (a year above 9999 has five digits).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| ParseDateTimeError {
            input: quoted(s),
            why,
        };
        let shape = || err("expected YYYY-MM-DDTHH:MM:SS");
        let (date, time) = s.split_once('T').ok_or_else(shape)?;
        let mut date = date.split('-');
        let mut time = time.split(':');
        let field = |part: Option<&str>, widths: std::ops::RangeInclusive<usize>| {
            let part =
                part.filter(|p| widths.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
            // At most five ASCII digits always fit a u32.
            part.and_then(|p| p.parse::<u32>().ok()).ok_or_else(shape)
        };
        let year = field(date.next(), 4..=5)?;
        let month = field(date.next(), 2..=2)?;
        let day = field(date.next(), 2..=2)?;
        let hour = field(time.next(), 2..=2)?;
        let minute = field(time.next(), 2..=2)?;
        let second = field(time.next(), 2..=2)?;
        if date.next().is_some() || time.next().is_some() {
            return Err(shape());
        }
        let range = || {
            err(
                "field out of range (year 0-16383, month 1-12, day 1-31, hour 0-23, minute and second 0-59)",
            )
        };
        let small = |v: u32| u8::try_from(v).map_err(|_| range());
        let dt = BackupDateTime {
            year: u16::try_from(year).map_err(|_| range())?,
            month: small(month)?,
            day: small(day)?,
            hour: small(hour)?,
            minute: small(minute)?,
            second: small(second)?,
        };
        if !dt.is_valid() {
            return Err(range());
        }
        Ok(dt)
    }
}

impl<'de> Deserialize<'de> for BackupDateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_prints_mixed_endian_upper_case() {
        let g = Guid([
            0x0d, 0xe5, 0xf3, 0x5a, 0xe0, 0xa4, 0x9b, 0x4e, 0x8a, 0xef, 0xfe, 0x52, 0x89, 0x8c,
            0x63, 0x59,
        ]);
        assert_eq!(g.to_string(), "5AF3E50D-A4E0-4E9B-8AEF-FE52898C6359");
        assert!(Guid::NIL.non_nil().is_none());
    }

    #[test]
    fn mtf_date_round_trip_and_validation() {
        let dt = BackupDateTime {
            year: 2017,
            month: 6,
            day: 1,
            hour: 12,
            minute: 59,
            second: 12,
        };
        assert_eq!(BackupDateTime::from_mtf(dt.to_mtf()), Ok(Some(dt)));
        assert_eq!(dt.to_string(), "2017-06-01T12:59:12");
        assert_eq!(BackupDateTime::from_mtf([0; 5]), Ok(None));
        let bad = BackupDateTime { month: 13, ..dt };
        assert!(BackupDateTime::from_mtf(bad.to_mtf()).is_err());
    }

    #[test]
    fn guid_parses_its_printed_form_in_either_case() {
        let text = "5AF3E50D-A4E0-4E9B-8AEF-FE52898C6359";
        let g: Guid = text.parse().expect("valid");
        assert_eq!(
            g.0,
            [
                0x0d, 0xe5, 0xf3, 0x5a, 0xe0, 0xa4, 0x9b, 0x4e, 0x8a, 0xef, 0xfe, 0x52, 0x89, 0x8c,
                0x63, 0x59
            ]
        );
        assert_eq!(g.to_string(), text);
        assert_eq!(text.to_lowercase().parse::<Guid>(), Ok(g));
        for (bad, why) in [
            (
                "5AF3E50D-A4E0-4E9B-8AEF-FE52898C635",
                "expected 36 characters",
            ),
            ("5AF3E50DA-4E0-4E9B-8AEF-FE52898C6359", "expected dashes"),
            ("5AF3E50D-A4E0-4E9B-8AEF-FE52898C635G", "not a hex digit"),
            (
                "5AF3E50D-A4E0-4E9B-8AEF-FE52898C635\u{e9}",
                "expected 36 characters",
            ),
        ] {
            let err = bad.parse::<Guid>().expect_err(bad).to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        // A long input is quoted only in part.
        let long = "x".repeat(10_000);
        let err = long.parse::<Guid>().expect_err("long").to_string();
        assert!(err.len() < 200, "{err}");
    }

    #[test]
    fn date_time_parses_its_printed_form_and_checks_ranges() {
        let dt: BackupDateTime = "2017-06-01T12:59:12".parse().expect("valid");
        assert_eq!(
            dt,
            BackupDateTime {
                year: 2017,
                month: 6,
                day: 1,
                hour: 12,
                minute: 59,
                second: 12
            }
        );
        // The largest MTF year prints with five digits and reads back.
        let far = BackupDateTime { year: 16383, ..dt };
        assert_eq!(far.to_string(), "16383-06-01T12:59:12");
        assert_eq!(far.to_string().parse(), Ok(far));
        let early = BackupDateTime { year: 7, ..dt };
        assert_eq!(early.to_string().parse(), Ok(early));
        for (bad, why) in [
            ("2017-13-01T12:59:12", "out of range"),
            ("2017-06-00T12:59:12", "out of range"),
            ("2017-06-01T24:00:00", "out of range"),
            ("16384-06-01T12:59:12", "out of range"),
            ("99999-06-01T12:59:12", "out of range"),
            ("2017-06-01 12:59:12", "expected YYYY-MM-DDTHH:MM:SS"),
            ("2017-6-01T12:59:12", "expected YYYY-MM-DDTHH:MM:SS"),
            ("2017-06-01T12:59:12:00", "expected YYYY-MM-DDTHH:MM:SS"),
            ("2017-06-01T12:59", "expected YYYY-MM-DDTHH:MM:SS"),
            ("2017-06-01T12:59:+2", "expected YYYY-MM-DDTHH:MM:SS"),
            ("", "expected YYYY-MM-DDTHH:MM:SS"),
        ] {
            let err = bad.parse::<BackupDateTime>().expect_err(bad).to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
