//! The executor's clock: virtual time for simulations and tests, or real time scaled by a
//! speed factor.
//!
//! The executor never reads the system time directly: it asks the clock for `now` and, when
//! nothing else can happen sooner, waits until a time of its choosing. A virtual clock makes
//! that wait instant, so a rollout of hours is simulated in milliseconds and the simulated
//! duration is exactly what the strategy dictates.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Where run time comes from.
#[derive(Clone, Debug)]
pub enum Clock {
    /// Time moves only when the executor has nothing to do until a later instant.
    Virtual {
        /// The current instant.
        now: Timestamp,
    },
    /// Real time, `speed` times faster: run time = `origin` + (wall time since `wall_origin`)
    /// × `speed`. With speed 1 this is the wall clock.
    Real {
        /// The run time at `wall_origin`.
        origin: Timestamp,
        /// The wall time at which run time was `origin`.
        wall_origin: Timestamp,
        /// How much faster than the wall clock run time goes.
        speed: f64,
    },
}

impl Clock {
    /// A virtual clock starting at `now`.
    pub fn virtual_at(now: Timestamp) -> Clock {
        Clock::Virtual { now }
    }

    /// The wall clock, scaled: run time `origin` is now, and it goes `speed` times faster.
    pub fn real(origin: Timestamp, speed: f64) -> Clock {
        Clock::Real {
            origin,
            wall_origin: Timestamp::now(),
            speed,
        }
    }

    /// A scaled wall clock whose run time was `origin` at wall time `wall_origin`: how a
    /// restarted executor continues the clock of the process that stopped, so that the time
    /// it was down counts as time that passed.
    pub fn real_since(origin: Timestamp, wall_origin: Timestamp, speed: f64) -> Clock {
        Clock::Real {
            origin,
            wall_origin,
            speed,
        }
    }

    /// Whether this clock is virtual.
    pub fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual { .. })
    }

    /// The current run time.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::Virtual { now } => *now,
            Clock::Real {
                origin,
                wall_origin,
                speed,
            } => {
                let wall = Timestamp::now().duration_since(*wall_origin);
                let scaled = SignedDuration::try_from_secs_f64(wall.as_secs_f64() * speed)
                    .unwrap_or(SignedDuration::MAX);
                origin.saturating_add(scaled).unwrap_or(*origin)
            }
        }
    }

    /// How long, in wall time, until run time reaches `at` (zero if it has).
    pub fn wall_until(&self, at: Timestamp) -> Duration {
        match self {
            Clock::Virtual { .. } => Duration::ZERO,
            Clock::Real { speed, .. } => {
                let run = at.duration_since(self.now()).as_secs_f64().max(0.0);
                Duration::try_from_secs_f64(run / speed).unwrap_or(Duration::MAX)
            }
        }
    }

    /// Moves a virtual clock forward to `at` (never backwards); a real clock moves by
    /// itself.
    pub fn advance_to(&mut self, at: Timestamp) {
        if let Clock::Virtual { now } = self
            && at > *now
        {
            *now = at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_time_moves_only_forward_when_told() {
        let t0: Timestamp = "2026-01-05T09:00:00Z".parse().unwrap();
        let mut clock = Clock::virtual_at(t0);
        assert_eq!(clock.now(), t0);
        let later = t0 + SignedDuration::from_hours(3);
        clock.advance_to(later);
        assert_eq!(clock.now(), later);
        clock.advance_to(t0);
        assert_eq!(clock.now(), later);
        assert_eq!(
            clock.wall_until(later + SignedDuration::from_hours(1)),
            Duration::ZERO
        );
    }

    #[test]
    fn a_scaled_clock_continues_across_restarts() {
        let origin: Timestamp = "2026-01-05T09:00:00Z".parse().unwrap();
        // A process that started 10 wall seconds ago at 60× is 10 run minutes in.
        let wall_origin = Timestamp::now() - SignedDuration::from_secs(10);
        let clock = Clock::real_since(origin, wall_origin, 60.0);
        let elapsed = clock.now().duration_since(origin).as_secs_f64();
        assert!((600.0..660.0).contains(&elapsed), "{elapsed}");
        // Waiting a run minute takes a wall second.
        let wait = clock.wall_until(clock.now() + SignedDuration::from_mins(1));
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
    }
}
