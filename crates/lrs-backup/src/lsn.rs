//! Log sequence numbers as SQL Server stores and prints them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A SQL Server log sequence number.
///
/// Stored in backups as 10 bytes: `u32` virtual-log-file sequence, `u32` log block offset,
/// `u16` slot. Field order makes the derived ordering the log order. Printed the way
/// `RESTORE HEADERONLY` prints `numeric(25,0)`: `vlf * 10^15 + block * 10^5 + slot`.
/// Serialized (JSON) as that decimal in a string, because it exceeds 2^53.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn {
    /// Virtual log file sequence number.
    pub vlf: u32,
    /// Log block offset within the VLF (in 512-byte units).
    pub block: u32,
    /// Log record slot within the block.
    pub slot: u16,
}

impl Lsn {
    /// The all-zero LSN, which SQL Server reports as `0` (or NULL, by column).
    pub const ZERO: Lsn = Lsn {
        vlf: 0,
        block: 0,
        slot: 0,
    };

    /// Decode the 10-byte on-disk form.
    pub fn from_bytes(b: [u8; 10]) -> Self {
        Lsn {
            vlf: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            block: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            slot: u16::from_le_bytes([b[8], b[9]]),
        }
    }

    /// Encode to the 10-byte on-disk form.
    pub fn to_bytes(self) -> [u8; 10] {
        let mut out = [0u8; 10];
        out[0..4].copy_from_slice(&self.vlf.to_le_bytes());
        out[4..8].copy_from_slice(&self.block.to_le_bytes());
        out[8..10].copy_from_slice(&self.slot.to_le_bytes());
        out
    }

    /// True for the all-zero LSN.
    pub fn is_zero(self) -> bool {
        self == Lsn::ZERO
    }

    /// The `numeric(25,0)` value.
    pub fn to_numeric(self) -> u128 {
        u128::from(self.vlf) * 1_000_000_000_000_000
            + u128::from(self.block) * 100_000
            + u128::from(self.slot)
    }

    /// `None` for the zero LSN (columns SQL Server shows as NULL when unset).
    pub fn non_zero(self) -> Option<Lsn> {
        (!self.is_zero()).then_some(self)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_numeric())
    }
}

/// Why a decimal LSN string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid LSN {input:?}: {why}")]
pub struct ParseLsnError {
    input: String,
    why: &'static str,
}

impl FromStr for Lsn {
    type Err = ParseLsnError;

    /// Parse the decimal `numeric(25,0)` form, e.g. `19000000021500001`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why| ParseLsnError {
            input: s.to_string(),
            why,
        };
        if s.is_empty() || s.len() > 25 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("expected 1 to 25 decimal digits"));
        }
        let n: u128 = s.parse().map_err(|_| err("not a number"))?;
        let slot = n % 100_000;
        let block = (n / 100_000) % 10_000_000_000;
        let vlf = n / 1_000_000_000_000_000;
        Ok(Lsn {
            vlf: u32::try_from(vlf).map_err(|_| err("VLF sequence exceeds 32 bits"))?,
            block: u32::try_from(block).map_err(|_| err("block offset exceeds 32 bits"))?,
            slot: u16::try_from(slot).map_err(|_| err("slot exceeds 16 bits"))?,
        })
    }
}

impl Serialize for Lsn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Lsn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_sql_server_numeric_form() {
        // Published in a dbatools issue: (25,57,64) -> 25000000005700064.
        let lsn = Lsn {
            vlf: 25,
            block: 57,
            slot: 64,
        };
        assert_eq!(lsn.to_string(), "25000000005700064");
        assert_eq!(Lsn::ZERO.to_string(), "0");
        let max = Lsn {
            vlf: u32::MAX,
            block: u32::MAX,
            slot: u16::MAX,
        };
        assert_eq!(max.to_string(), "4294967295429496729565535");
    }

    #[test]
    fn parses_back_and_orders_like_the_log() {
        let a: Lsn = "19000000020400004".parse().expect("valid");
        let b: Lsn = "19000000021500001".parse().expect("valid");
        assert_eq!(
            a,
            Lsn {
                vlf: 19,
                block: 204,
                slot: 4
            }
        );
        assert!(a < b);
        assert!(
            Lsn {
                vlf: 2,
                block: 0,
                slot: 0
            } > Lsn {
                vlf: 1,
                block: u32::MAX,
                slot: 9
            }
        );
        assert!("12a".parse::<Lsn>().is_err());
        assert!("".parse::<Lsn>().is_err());
        assert!("99999999999000000000000000".parse::<Lsn>().is_err());
    }

    #[test]
    fn byte_round_trip() {
        let lsn = Lsn {
            vlf: 0x1234_5678,
            block: 0x9abc_def0,
            slot: 0x4321,
        };
        assert_eq!(Lsn::from_bytes(lsn.to_bytes()), lsn);
        assert_eq!(lsn.to_bytes()[0], 0x78);
    }
}
