//! Wall-clock and log-position arithmetic for generated chains.

use lrs_backup::{BackupDateTime, Lsn};

/// Where the database's transaction log is: advances as work is logged.
#[derive(Debug, Clone)]
pub(crate) struct LogClock {
    vlf: u32,
    block: u32,
}

/// 512-byte log blocks per virtual log file (a 16 MiB VLF).
const BLOCKS_PER_VLF: u64 = 32 * 1024;

impl LogClock {
    pub(crate) fn new(vlf: u32, block: u32) -> Self {
        Self { vlf, block }
    }

    /// The current position (the next record's LSN).
    pub(crate) fn now(&self) -> Lsn {
        Lsn {
            vlf: self.vlf,
            block: self.block,
            slot: 1,
        }
    }

    /// Log `bytes` of work and return the new position.
    pub(crate) fn advance(&mut self, bytes: u64) -> Lsn {
        let blocks = u64::from(self.block) + bytes.div_ceil(512).max(1);
        let extra_vlfs = blocks / BLOCKS_PER_VLF;
        self.vlf = self
            .vlf
            .saturating_add(u32::try_from(extra_vlfs).unwrap_or(u32::MAX));
        self.block = u32::try_from(blocks % BLOCKS_PER_VLF)
            .unwrap_or(0)
            .max(if extra_vlfs > 0 { 2 } else { 0 });
        self.now()
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// `t` plus `seconds`.
pub(crate) fn add_seconds(t: BackupDateTime, seconds: u64) -> BackupDateTime {
    let days = days_from_civil(i64::from(t.year), i64::from(t.month), i64::from(t.day));
    let secs = days * 86_400
        + i64::from(t.hour) * 3600
        + i64::from(t.minute) * 60
        + i64::from(t.second)
        + i64::try_from(seconds).unwrap_or(i64::MAX / 2);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    // Every component is bounded by the arithmetic above.
    #[allow(clippy::cast_possible_truncation)]
    BackupDateTime {
        year: y.clamp(0, 9999) as u16,
        month: m as u8,
        day: d as u8,
        hour: (rem / 3600) as u8,
        minute: (rem / 60 % 60) as u8,
        second: (rem % 60) as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_roll_over_months_and_years() {
        let t = BackupDateTime {
            year: 2024,
            month: 2,
            day: 28,
            hour: 23,
            minute: 59,
            second: 30,
        };
        let next = add_seconds(t, 31);
        assert_eq!(next.to_string(), "2024-02-29T00:00:01");
        let new_year = BackupDateTime {
            year: 2025,
            month: 12,
            day: 31,
            hour: 23,
            minute: 0,
            second: 0,
        };
        assert_eq!(
            add_seconds(new_year, 3600).to_string(),
            "2026-01-01T00:00:00"
        );
    }

    #[test]
    fn the_log_clock_rolls_into_the_next_vlf() {
        let mut c = LogClock::new(30, 32_760);
        let before = c.now();
        let after = c.advance(64 * 1024);
        assert!(after > before);
        assert_eq!(after.vlf, 31);
    }
}
