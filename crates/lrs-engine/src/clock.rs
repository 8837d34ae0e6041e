//! Emulated time: a clock that can run faster than real time so tests and demos can live
//! through a 47-hour patch window or a 30-day job lifetime in seconds.

use std::fmt;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

/// The engine's source of "now" (emulated time).
pub trait Clock: Send + Sync + fmt::Debug {
    /// Current emulated time, truncated to microseconds (what the store keeps).
    fn now(&self) -> DateTime<Utc>;
    /// How long (real time) to wait for `emulated` to pass.
    fn real_duration(&self, emulated: TimeDelta) -> Duration;
}

/// Emulated time that runs `scale` times faster than real time from the moment it was made.
/// Scale 1 is the wall clock.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    real_origin: Instant,
    emulated_origin: DateTime<Utc>,
    scale: f64,
}

impl ScaledClock {
    /// A clock starting at the current wall time and running `scale` times as fast
    /// (values ≤ 0 or not finite are treated as 1).
    pub fn new(scale: f64) -> Self {
        Self::starting_at(Utc::now(), scale)
    }

    /// A clock starting at `origin` (emulated), running `scale` times as fast.
    pub fn starting_at(origin: DateTime<Utc>, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        ScaledClock {
            real_origin: Instant::now(),
            emulated_origin: origin,
            scale,
        }
    }

    /// The speed-up factor.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        // Elapsed real time × scale, saturating far beyond any run.
        let emulated =
            Duration::try_from_secs_f64(self.real_origin.elapsed().as_secs_f64() * self.scale)
                .ok()
                .and_then(|d| TimeDelta::from_std(d).ok())
                .unwrap_or(TimeDelta::MAX);
        let now = self
            .emulated_origin
            .checked_add_signed(emulated)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        truncate_to_micros(now)
    }

    fn real_duration(&self, emulated: TimeDelta) -> Duration {
        let secs = emulated.num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6;
        Duration::from_secs_f64(secs / self.scale)
    }
}

/// `t` without its sub-microsecond part (the store's precision).
pub fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_clock_maps_emulated_waits_to_real_ones() {
        let clock = ScaledClock::new(3600.0);
        // One emulated hour is one real second at 3600×.
        assert_eq!(
            clock.real_duration(TimeDelta::hours(1)),
            Duration::from_secs(1)
        );
        assert_eq!(
            clock.real_duration(TimeDelta::hours(47)),
            Duration::from_secs(47)
        );
        assert_eq!(clock.real_duration(TimeDelta::seconds(-5)), Duration::ZERO);
    }

    #[test]
    fn scaled_clock_runs_forward_from_its_origin() {
        let origin = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let clock = ScaledClock::starting_at(origin, 1000.0);
        let now = clock.now();
        assert!(now >= origin);
        assert_eq!(now.timestamp_subsec_nanos() % 1000, 0);
        assert_eq!(ScaledClock::new(f64::NAN).scale(), 1.0);
        assert_eq!(ScaledClock::new(-2.0).scale(), 1.0);
    }
}
