//! Small value types that backup headers carry: GUIDs and MTF date-times.

use std::fmt;

use serde::{Serialize, Serializer};

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
        let ok = (1..=12).contains(&dt.month)
            && (1..=31).contains(&dt.day)
            && dt.hour < 24
            && dt.minute < 60
            && dt.second < 60;
        if ok {
            Ok(Some(dt))
        } else {
            Err(format!("invalid MTF date-time {dt}"))
        }
    }

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
}
