//! Time windows: whether new clusters may start at an instant, and when that next changes.
//!
//! Pure functions over the IR's [`Window`]s; no clock and no I/O. The semantics, also in
//! `docs/language.md` §9:
//!
//! - An instant is *open* when it is inside at least one allow window (if there are any)
//!   and inside no deny window. No windows: always open.
//! - A window's days, times and dates are wall-clock values in its time zone. A window with
//!   a time range is, for every matching day `D`, the interval from `D` at `from` to `D` at
//!   `to` (`to = 1440` is the next midnight). A range with `to < from` wraps: it ends on the
//!   day after `D`, and that part after midnight belongs to `D`, whose weekday and date are
//!   the ones judged (`Fri 22:00-06:00` is Friday 22:00 to Saturday 06:00, and Friday 03:00
//!   is outside it unless Thursday matches too).
//! - A boundary at a wall-clock time that a DST change skips or repeats is resolved with
//!   jiff's *compatible* disambiguation: a skipped time counts as the same time with the
//!   offset before the change (01:30 on London's spring-forward day is 02:30 BST), a
//!   repeated time counts at its first occurrence.
//! - Intervals are half-open, `[start, end)`: an instant that is a window's start is inside
//!   it, its end is not.
//!
//! Windows that [`validate`] rejects (possible only in hand-written IR) fail closed: an
//! invalid allow window never matches and an invalid deny window always matches, so they
//! never let a cluster start. The executor should call [`validate`] before a run and refuse
//! invalid windows with its message.
//!
//! [`next_open`] and [`next_change`] step from boundary to boundary (interval ends, computed
//! per window in its zone), never minute by minute, and look at most [`HORIZON_DAYS`] ahead.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::ir::{Window, WindowMode};

/// How far [`next_open`] and [`next_change`] look ahead, in days.
pub const HORIZON_DAYS: i64 = 400;

/// The days-of-week mask with every day set.
const EVERY_DAY: u8 = 0x7f;

/// Whether a new cluster may start at `t`: inside at least one allow window when there are
/// any, and inside no deny window.
pub fn is_open(windows: &[Window], t: Timestamp) -> bool {
    open_at(&prepare_all(windows), t)
}

/// The first instant at or after `t` when [`is_open`] holds; `None` if there is none within
/// [`HORIZON_DAYS`] days (contradictory windows, or a freeze longer than that).
pub fn next_open(windows: &[Window], t: Timestamp) -> Option<Timestamp> {
    let rules = prepare_all(windows);
    if open_at(&rules, t) {
        return Some(t);
    }
    // Closed now, so the next change is the next opening.
    change_after(&rules, t)
}

/// The first instant after `t` when [`is_open`] changes value (the executor's next wakeup);
/// `None` if it does not change within [`HORIZON_DAYS`] days.
///
/// [`is_open`] is constant on `[t, next_change(t))` and differs at `next_change(t)`.
pub fn next_change(windows: &[Window], t: Timestamp) -> Option<Timestamp> {
    change_after(&prepare_all(windows), t)
}

/// Checks what the compiler guarantees and hand-written IR may break: a known IANA time
/// zone, days 0 to 6, minutes 0 to 1440 with a non-empty range, real `YYYY-MM-DD` dates in
/// order. The error names the window by its position from 1, e.g.
/// ``window 2: `Mars/Olympus` is not an IANA time zone``.
pub fn validate(windows: &[Window]) -> Result<(), String> {
    for (i, window) in windows.iter().enumerate() {
        Rule::new(window).map_err(|e| format!("window {}: {e}", i + 1))?;
    }
    Ok(())
}

/// A window resolved for evaluation: its zone looked up, days as a mask, dates parsed.
struct Rule {
    /// A deny window.
    deny: bool,
    /// Bit `i` set when weekday `i` (Monday = 0) matches.
    days: u8,
    /// `(from, to)` minutes; `None` for the whole day (also for `0..1440`).
    minutes: Option<(u16, u16)>,
    /// Inclusive date range.
    dates: Option<(Date, Date)>,
    /// The zone the window's wall-clock values are read in.
    tz: TimeZone,
}

/// A window ready for evaluation, or one that is invalid and fails closed.
enum Prepared {
    Valid(Rule),
    /// Matches always when deny, never when allow: no boundaries.
    Invalid {
        deny: bool,
    },
}

fn prepare_all(windows: &[Window]) -> Vec<Prepared> {
    windows
        .iter()
        .map(|w| match Rule::new(w) {
            Ok(rule) => Prepared::Valid(rule),
            Err(_) => Prepared::Invalid {
                deny: w.mode == WindowMode::Deny,
            },
        })
        .collect()
}

impl Prepared {
    fn deny(&self) -> bool {
        match self {
            Prepared::Valid(rule) => rule.deny,
            Prepared::Invalid { deny } => *deny,
        }
    }

    fn contains(&self, t: Timestamp) -> bool {
        match self {
            Prepared::Valid(rule) => rule.contains(t),
            Prepared::Invalid { deny } => *deny,
        }
    }

    fn next_boundary(&self, pos: Timestamp, horizon: Timestamp) -> Option<Timestamp> {
        match self {
            Prepared::Valid(rule) => rule.next_boundary(pos, horizon),
            Prepared::Invalid { .. } => None,
        }
    }
}

fn open_at(rules: &[Prepared], t: Timestamp) -> bool {
    let mut any_allow = false;
    let mut allowed = false;
    for rule in rules {
        if rule.deny() {
            if rule.contains(t) {
                return false;
            }
        } else {
            any_allow = true;
            // One matching allow window is enough; the rest only matter for deny.
            allowed = allowed || rule.contains(t);
        }
    }
    !any_allow || allowed
}

/// The first instant after `t` where [`open_at`] differs from its value at `t`.
///
/// Each window's membership is a union of half-open intervals, so it is constant between
/// consecutive interval ends; so is the combination. Walking the merged sequence of all
/// windows' ends and testing each is exact. Each window's next end is recomputed only once
/// the walk has passed it.
fn change_after(rules: &[Prepared], t: Timestamp) -> Option<Timestamp> {
    if rules.is_empty() {
        return None;
    }
    let horizon = t
        .checked_add(SignedDuration::from_hours(HORIZON_DAYS * 24))
        .unwrap_or(Timestamp::MAX);
    let state = open_at(rules, t);
    let mut next: Vec<Option<Timestamp>> =
        rules.iter().map(|r| r.next_boundary(t, horizon)).collect();
    loop {
        let b = next.iter().flatten().copied().min()?;
        if b > horizon {
            return None;
        }
        if open_at(rules, b) != state {
            return Some(b);
        }
        for (rule, n) in rules.iter().zip(next.iter_mut()) {
            if *n == Some(b) {
                *n = rule.next_boundary(b, horizon);
            }
        }
    }
}

impl Rule {
    fn new(w: &Window) -> Result<Rule, String> {
        let tz =
            TimeZone::get(&w.tz).map_err(|_| format!("`{}` is not an IANA time zone", w.tz))?;
        let mut days = if w.days.is_empty() { EVERY_DAY } else { 0 };
        for range in &w.days {
            if range.from > 6 || range.to > 6 {
                return Err(format!(
                    "day range {}-{} is out of range (Monday = 0 to Sunday = 6)",
                    range.from, range.to
                ));
            }
            // Inclusive, wrapping past Sunday when `to < from` (`Fri-Mon`).
            let mut day = range.from;
            loop {
                days |= 1 << day;
                if day == range.to {
                    break;
                }
                day = (day + 1) % 7;
            }
        }
        let minutes = match w.minutes {
            None => None,
            Some(m) if m.from > 1440 || m.to > 1440 => {
                return Err(format!(
                    "minute range {}-{} is out of range (0 to 1440)",
                    m.from, m.to
                ));
            }
            Some(m) if m.from == m.to => {
                return Err(format!(
                    "minute range {}-{} is empty (it starts and ends at the same minute)",
                    m.from, m.to
                ));
            }
            // The whole day: a day window, whose consecutive days merge into one interval.
            Some(m) if m.from == 0 && m.to == 1440 => None,
            Some(m) => Some((m.from, m.to)),
        };
        let dates = match &w.dates {
            None => None,
            Some(range) => {
                let (from, to) = (date(&range.from)?, date(&range.to)?);
                if to < from {
                    return Err(format!(
                        "date range {}..{} ends before it starts",
                        range.from, range.to
                    ));
                }
                Some((from, to))
            }
        };
        Ok(Rule {
            deny: w.mode == WindowMode::Deny,
            days,
            minutes,
            dates,
            tz,
        })
    }

    /// Whether day `d` is one of the window's (weekday and date range).
    fn day_matches(&self, d: Date) -> bool {
        let weekday = d.weekday().to_monday_zero_offset();
        self.days & (1 << weekday) != 0 && self.dates.is_none_or(|(from, to)| from <= d && d <= to)
    }

    /// The first matching day in `[d, last]`. At most a week of weekdays is tried: after
    /// that the mask repeats.
    fn next_matching(&self, mut d: Date, last: Date) -> Option<Date> {
        if let Some((from, to)) = self.dates {
            if d < from {
                d = from;
            }
            if d > to {
                return None;
            }
        }
        for _ in 0..7 {
            if d > last {
                return None;
            }
            if self.day_matches(d) {
                return Some(d);
            }
            d = d.tomorrow().ok()?;
        }
        None
    }

    /// The local date at `t` in the window's zone.
    fn local_date(&self, t: Timestamp) -> Date {
        self.tz.to_datetime(t).date()
    }

    /// Day `d` at `minute` after midnight (1440: the next midnight) as an instant, with
    /// compatible disambiguation for times a DST change skips or repeats.
    fn at(&self, d: Date, minute: u16) -> Option<Timestamp> {
        let (d, minute) = if minute >= 1440 {
            (d.tomorrow().ok()?, 0)
        } else {
            (d, minute)
        };
        let time = Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0).ok()?;
        self.tz
            .to_ambiguous_timestamp(DateTime::from_parts(d, time))
            .compatible()
            .ok()
    }

    /// The time-range interval of matching day `d`, `None` when empty.
    fn interval(&self, d: Date, (from, to): (u16, u16)) -> Option<(Timestamp, Timestamp)> {
        let start = self.at(d, from)?;
        let end = if from < to {
            self.at(d, to)?
        } else {
            self.at(d.tomorrow().ok()?, to)?
        };
        (start < end).then_some((start, end))
    }

    fn contains(&self, t: Timestamp) -> bool {
        let d = self.local_date(t);
        let Some(minutes) = self.minutes else {
            // Whole days: the interval of day `d` is exactly the instants whose local date
            // is `d` (its start is `d`'s first instant, even when midnight is skipped).
            return self.day_matches(d);
        };
        // The days whose interval can reach `t`: `d`, the day before (a wrapping range),
        // and one more for a range pushed past midnight by a DST gap.
        let mut anchor = d.yesterday().and_then(Date::yesterday).unwrap_or(d);
        while anchor <= d {
            if self.day_matches(anchor)
                && let Some((start, end)) = self.interval(anchor, minutes)
                && start <= t
                && t < end
            {
                return true;
            }
            let Ok(following) = anchor.tomorrow() else {
                break;
            };
            anchor = following;
        }
        false
    }

    /// The first interval end (start or end) strictly after `pos`; `None` when there is
    /// none up to about `horizon`.
    fn next_boundary(&self, pos: Timestamp, horizon: Timestamp) -> Option<Timestamp> {
        let d = self.local_date(pos);
        // Two days past the horizon's local date covers a wrapping range's end.
        let last = self
            .local_date(horizon)
            .tomorrow()
            .and_then(Date::tomorrow)
            .unwrap_or(Date::MAX);
        let Some(minutes) = self.minutes else {
            if self.day_matches(d) {
                // Inside a run of matching days: its end is the next midnight after it.
                let run_end = self.run_end(d, last);
                return self.at(run_end.tomorrow().ok()?, 0);
            }
            let start = self.next_matching(d.tomorrow().ok()?, last)?;
            return self.at(start, 0);
        };
        let mut best: Option<Timestamp> = None;
        let mut anchor = d.yesterday().and_then(Date::yesterday).unwrap_or(d);
        while let Some(day) = self.next_matching(anchor, last) {
            let Some(start) = self.at(day, minutes.0) else {
                break;
            };
            // Later days start later still: nothing more can come before `best`.
            if best.is_some_and(|b| start >= b) {
                break;
            }
            if let Some((start, end)) = self.interval(day, minutes) {
                let candidate = if start > pos {
                    Some(start)
                } else if end > pos {
                    Some(end)
                } else {
                    None
                };
                if let Some(c) = candidate {
                    best = Some(best.map_or(c, |b| b.min(c)));
                }
            }
            let Ok(following) = day.tomorrow() else {
                break;
            };
            anchor = following;
        }
        best
    }

    /// The last day of the run of consecutive matching days that contains `d` (a matching
    /// day), or `last` if the run reaches it.
    fn run_end(&self, d: Date, last: Date) -> Date {
        if self.days == EVERY_DAY {
            // Only the date range can end the run.
            return self.dates.map_or(last, |(_, to)| to.min(last)).max(d);
        }
        // Some weekday is missing, so the run ends within a week.
        let mut end = d;
        while end < last {
            match end.tomorrow() {
                Ok(next) if self.day_matches(next) => end = next,
                _ => break,
            }
        }
        end
    }
}

/// A `YYYY-MM-DD` calendar date (only that form, as the IR specifies).
fn date(text: &str) -> Result<Date, String> {
    let shape = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    shape
        .then(|| text.parse::<Date>().ok())
        .flatten()
        .ok_or_else(|| format!("`{text}` is not a calendar date (`YYYY-MM-DD`)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{DateRange, DayRange, MinuteRange};

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// A window from compact parts: days `(from, to)`, minutes `(from, to)`, dates.
    fn window(
        mode: WindowMode,
        days: &[(u8, u8)],
        minutes: Option<(u16, u16)>,
        dates: Option<(&str, &str)>,
        tz: &str,
    ) -> Window {
        Window {
            mode,
            days: days
                .iter()
                .map(|&(from, to)| DayRange { from, to })
                .collect(),
            minutes: minutes.map(|(from, to)| MinuteRange { from, to }),
            dates: dates.map(|(from, to)| DateRange {
                from: from.into(),
                to: to.into(),
            }),
            tz: tz.into(),
        }
    }

    fn allow(days: &[(u8, u8)], minutes: Option<(u16, u16)>, tz: &str) -> Window {
        window(WindowMode::Allow, days, minutes, None, tz)
    }

    fn deny(days: &[(u8, u8)], minutes: Option<(u16, u16)>, tz: &str) -> Window {
        window(WindowMode::Deny, days, minutes, None, tz)
    }

    fn freeze(from: &str, to: &str, tz: &str) -> Window {
        window(WindowMode::Deny, &[], None, Some((from, to)), tz)
    }

    const fn hm(h: u16, m: u16) -> u16 {
        h * 60 + m
    }

    #[test]
    fn no_windows_is_always_open() {
        let t = ts("2026-05-01T12:00:00Z");
        assert!(is_open(&[], t));
        assert_eq!(next_open(&[], t), Some(t));
        assert_eq!(next_change(&[], t), None);
        assert_eq!(validate(&[]), Ok(()));
    }

    #[test]
    fn weekday_business_hours() {
        // `window allow Mon-Fri 09:00-17:00` (UTC). 2026-05-01 is a Friday.
        let w = [allow(&[(0, 4)], Some((hm(9, 0), hm(17, 0))), "UTC")];
        assert!(!is_open(&w, ts("2026-05-01T08:59:59Z")));
        assert!(is_open(&w, ts("2026-05-01T09:00:00Z")));
        assert!(is_open(&w, ts("2026-05-01T16:59:59Z")));
        assert!(!is_open(&w, ts("2026-05-01T17:00:00Z")));
        assert!(!is_open(&w, ts("2026-05-02T10:00:00Z")), "saturday");
        assert_eq!(
            next_change(&w, ts("2026-05-01T12:00:00Z")),
            Some(ts("2026-05-01T17:00:00Z"))
        );
        // Friday evening waits for Monday morning.
        assert_eq!(
            next_open(&w, ts("2026-05-01T17:00:00Z")),
            Some(ts("2026-05-04T09:00:00Z"))
        );
        assert_eq!(
            next_open(&w, ts("2026-05-04T10:00:00Z")),
            Some(ts("2026-05-04T10:00:00Z"))
        );
    }

    #[test]
    fn deny_weekend() {
        let w = [deny(&[(5, 6)], None, "UTC")];
        assert!(is_open(&w, ts("2026-05-01T23:59:59Z")));
        assert!(!is_open(&w, ts("2026-05-02T00:00:00Z")));
        assert!(!is_open(&w, ts("2026-05-03T23:59:59Z")));
        assert!(is_open(&w, ts("2026-05-04T00:00:00Z")));
        // The whole weekend is one closed interval, not two.
        assert_eq!(
            next_change(&w, ts("2026-05-01T12:00:00Z")),
            Some(ts("2026-05-02T00:00:00Z"))
        );
        assert_eq!(
            next_change(&w, ts("2026-05-02T12:00:00Z")),
            Some(ts("2026-05-04T00:00:00Z"))
        );
    }

    #[test]
    fn wrapping_day_range() {
        // `Fri-Mon` = Friday, Saturday, Sunday, Monday.
        let w = [allow(&[(4, 0)], None, "UTC")];
        assert!(!is_open(&w, ts("2026-04-30T12:00:00Z")), "thursday");
        for day in ["2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04"] {
            assert!(is_open(&w, ts(&format!("{day}T12:00:00Z"))), "{day}");
        }
        assert!(!is_open(&w, ts("2026-05-05T12:00:00Z")), "tuesday");
        assert_eq!(
            next_change(&w, ts("2026-05-01T12:00:00Z")),
            Some(ts("2026-05-05T00:00:00Z"))
        );
    }

    #[test]
    fn date_freeze_across_year_end() {
        let w = [freeze("2026-12-20", "2027-01-04", "UTC")];
        assert!(is_open(&w, ts("2026-12-19T23:59:59Z")));
        assert!(!is_open(&w, ts("2026-12-20T00:00:00Z")));
        assert!(!is_open(&w, ts("2026-12-31T23:59:59Z")));
        assert!(!is_open(&w, ts("2027-01-04T23:59:59Z")));
        assert!(is_open(&w, ts("2027-01-05T00:00:00Z")));
        assert_eq!(
            next_open(&w, ts("2026-12-25T10:00:00Z")),
            Some(ts("2027-01-05T00:00:00Z"))
        );
        assert_eq!(
            next_change(&w, ts("2026-06-01T00:00:00Z")),
            Some(ts("2026-12-20T00:00:00Z"))
        );
        // In New York the freeze is five hours later in UTC.
        let ny = [freeze("2026-12-20", "2027-01-04", "America/New_York")];
        assert!(is_open(&ny, ts("2026-12-20T04:59:59Z")));
        assert!(!is_open(&ny, ts("2026-12-20T05:00:00Z")));
        assert_eq!(
            next_open(&ny, ts("2026-12-25T10:00:00Z")),
            Some(ts("2027-01-05T05:00:00Z"))
        );
        // A single day, as `window deny 2026-11-27` compiles.
        let day = [freeze("2026-11-27", "2026-11-27", "UTC")];
        assert!(!is_open(&day, ts("2026-11-27T12:00:00Z")));
        assert_eq!(
            next_change(&day, ts("2026-11-27T12:00:00Z")),
            Some(ts("2026-11-28T00:00:00Z"))
        );
    }

    #[test]
    fn wrap_past_midnight_belongs_to_the_start_day() {
        // `window allow Fri 22:00-06:00`: Friday 22:00 to Saturday 06:00.
        let w = [allow(&[(4, 4)], Some((hm(22, 0), hm(6, 0))), "UTC")];
        assert!(
            !is_open(&w, ts("2026-05-01T03:00:00Z")),
            "friday morning is thursday's"
        );
        assert!(!is_open(&w, ts("2026-05-01T21:59:59Z")));
        assert!(is_open(&w, ts("2026-05-01T22:00:00Z")));
        assert!(is_open(&w, ts("2026-05-02T05:59:59Z")));
        assert!(!is_open(&w, ts("2026-05-02T06:00:00Z")));
        assert!(!is_open(&w, ts("2026-05-02T23:00:00Z")), "saturday night");
        assert_eq!(
            next_open(&w, ts("2026-05-02T06:00:00Z")),
            Some(ts("2026-05-08T22:00:00Z"))
        );
        assert_eq!(
            next_change(&w, ts("2026-05-01T23:00:00Z")),
            Some(ts("2026-05-02T06:00:00Z"))
        );
        // A wrap on the last day of a date range still runs into the next morning.
        let dated = [window(
            WindowMode::Deny,
            &[],
            Some((hm(22, 0), hm(6, 0))),
            Some(("2026-12-31", "2026-12-31")),
            "UTC",
        )];
        assert!(!is_open(&dated, ts("2027-01-01T05:00:00Z")));
        assert!(is_open(&dated, ts("2026-12-31T05:00:00Z")));
        // `22:00-24:00` ends at midnight; `24:00` is the next day's start.
        let late = [allow(&[(4, 4)], Some((hm(22, 0), 1440)), "UTC")];
        assert!(is_open(&late, ts("2026-05-01T23:59:59Z")));
        assert_eq!(
            next_change(&late, ts("2026-05-01T23:00:00Z")),
            Some(ts("2026-05-02T00:00:00Z"))
        );
    }

    #[test]
    fn several_time_zones() {
        // Business hours in Tokyo or in New York; Kathmandu's deny at +05:45.
        let w = [
            allow(&[(0, 4)], Some((hm(9, 0), hm(17, 0))), "Asia/Tokyo"),
            allow(&[(0, 4)], Some((hm(9, 0), hm(17, 0))), "America/New_York"),
            deny(&[], Some((hm(12, 0), hm(13, 0))), "Asia/Kathmandu"),
        ];
        // Monday 2026-05-04: Tokyo 09:00 JST = 00:00Z; New York 09:00 EDT = 13:00Z.
        assert!(!is_open(&w, ts("2026-05-03T23:59:00Z")));
        assert!(is_open(&w, ts("2026-05-04T00:00:00Z")));
        // Kathmandu noon = 06:15Z.
        assert!(!is_open(&w, ts("2026-05-04T06:15:00Z")));
        assert!(is_open(&w, ts("2026-05-04T07:15:00Z")));
        assert!(
            !is_open(&w, ts("2026-05-04T08:00:00Z")),
            "after tokyo, before new york"
        );
        assert!(is_open(&w, ts("2026-05-04T13:00:00Z")));
        assert_eq!(
            next_change(&w, ts("2026-05-04T00:00:00Z")),
            Some(ts("2026-05-04T06:15:00Z"))
        );
        assert_eq!(
            next_open(&w, ts("2026-05-04T08:00:00Z")),
            Some(ts("2026-05-04T13:00:00Z"))
        );
        // Friday 17:00 in New York is 21:00Z; Monday 09:00 in Tokyo is Sunday 00:00Z.
        assert_eq!(
            next_open(&w, ts("2026-05-08T21:00:00Z")),
            Some(ts("2026-05-11T00:00:00Z"))
        );
    }

    #[test]
    fn business_hours_follow_london_summer_time() {
        let w = [allow(
            &[(0, 4)],
            Some((hm(9, 0), hm(17, 0))),
            "Europe/London",
        )];
        // Friday 2026-03-27 is GMT, Monday 2026-03-30 is BST.
        assert!(is_open(&w, ts("2026-03-27T09:00:00Z")));
        assert!(!is_open(&w, ts("2026-03-27T08:59:00Z")));
        assert_eq!(
            next_open(&w, ts("2026-03-27T17:00:00Z")),
            Some(ts("2026-03-30T08:00:00Z"))
        );
        assert_eq!(
            next_change(&w, ts("2026-03-30T08:00:00Z")),
            Some(ts("2026-03-30T16:00:00Z"))
        );
    }

    #[test]
    fn dst_spring_forward_skipped_boundary() {
        // London, 2026-03-29: 01:00 GMT jumps to 02:00 BST (01:00Z). A 01:30 start does not
        // exist; compatibly it is 01:30 with the GMT offset, i.e. 02:30 BST = 01:30Z.
        let w = [allow(&[], Some((hm(1, 30), hm(3, 0))), "Europe/London")];
        assert!(!is_open(&w, ts("2026-03-29T01:15:00Z")));
        assert!(is_open(&w, ts("2026-03-29T01:30:00Z")));
        assert!(
            !is_open(&w, ts("2026-03-29T02:00:00Z")),
            "03:00 BST ends it"
        );
        assert_eq!(
            next_open(&w, ts("2026-03-28T23:00:00Z")),
            Some(ts("2026-03-29T01:30:00Z"))
        );
        assert_eq!(
            next_change(&w, ts("2026-03-29T01:30:00Z")),
            Some(ts("2026-03-29T02:00:00Z"))
        );
        // The day before and after are the usual 90 minutes.
        assert!(is_open(&w, ts("2026-03-28T01:30:00Z")));
        assert!(is_open(&w, ts("2026-03-30T00:30:00Z")));
        // A whole-day window on the short day is 23 hours long.
        let sunday = [allow(&[(6, 6)], None, "Europe/London")];
        assert_eq!(
            next_change(&sunday, ts("2026-03-29T00:00:00Z")),
            Some(ts("2026-03-29T23:00:00Z"))
        );
    }

    #[test]
    fn dst_fall_back_repeated_boundary() {
        // London, 2026-10-25: 02:00 BST falls back to 01:00 GMT (01:00Z). 01:30 happens twice;
        // the window starts at the first (00:30Z) and ends at 02:30 GMT (02:30Z).
        let w = [deny(&[], Some((hm(1, 30), hm(2, 30))), "Europe/London")];
        assert!(is_open(&w, ts("2026-10-25T00:29:59Z")));
        assert!(!is_open(&w, ts("2026-10-25T00:30:00Z")));
        assert!(
            !is_open(&w, ts("2026-10-25T01:45:00Z")),
            "the repeated hour"
        );
        assert!(!is_open(&w, ts("2026-10-25T02:29:59Z")));
        assert!(is_open(&w, ts("2026-10-25T02:30:00Z")));
        assert_eq!(
            next_change(&w, ts("2026-10-25T00:00:00Z")),
            Some(ts("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            next_open(&w, ts("2026-10-25T00:30:00Z")),
            Some(ts("2026-10-25T02:30:00Z"))
        );
        // A whole-day window on the long day is 25 hours long.
        let sunday = [deny(&[(6, 6)], None, "Europe/London")];
        assert_eq!(
            next_open(&sunday, ts("2026-10-24T23:00:00Z")),
            Some(ts("2026-10-26T00:00:00Z"))
        );
    }

    #[test]
    fn contradictory_windows_never_open() {
        let w = [
            allow(&[(0, 0)], Some((hm(9, 0), hm(10, 0))), "UTC"),
            deny(&[(0, 0)], None, "UTC"),
        ];
        let t = ts("2026-05-01T00:00:00Z");
        assert!(!is_open(&w, t));
        assert_eq!(next_open(&w, t), None);
        assert_eq!(next_change(&w, t), None);
        // A freeze longer than the horizon.
        let long = [freeze("2026-01-01", "2028-01-01", "UTC")];
        assert_eq!(next_open(&long, ts("2026-02-01T00:00:00Z")), None);
    }

    #[test]
    fn invalid_windows_fail_closed() {
        let t = ts("2026-05-01T12:00:00Z");
        let bad_allow = [allow(&[], None, "Mars/Olympus")];
        assert!(!is_open(&bad_allow, t));
        assert_eq!(next_open(&bad_allow, t), None);
        let bad_deny = [
            allow(&[], None, "UTC"),
            window(
                WindowMode::Deny,
                &[],
                None,
                Some(("2026-13-01", "2026-13-02")),
                "UTC",
            ),
        ];
        assert!(!is_open(&bad_deny, t));
        assert_eq!(
            validate(&bad_allow),
            Err("window 1: `Mars/Olympus` is not an IANA time zone".into())
        );
        assert_eq!(
            validate(&bad_deny),
            Err("window 2: `2026-13-01` is not a calendar date (`YYYY-MM-DD`)".into())
        );
        let cases = [
            (
                allow(&[(0, 7)], None, "UTC"),
                "day range 0-7 is out of range",
            ),
            (
                allow(&[], Some((0, 1441)), "UTC"),
                "minute range 0-1441 is out of range",
            ),
            (
                allow(&[], Some((600, 600)), "UTC"),
                "minute range 600-600 is empty",
            ),
            (
                window(
                    WindowMode::Deny,
                    &[],
                    None,
                    Some(("2027-01-04", "2026-12-20")),
                    "UTC",
                ),
                "date range 2027-01-04..2026-12-20 ends before it starts",
            ),
        ];
        for (w, message) in cases {
            let error = validate(std::slice::from_ref(&w)).unwrap_err();
            assert!(
                error.starts_with(&format!("window 1: {message}")),
                "{error}"
            );
            // Never a panic, whatever the instant.
            let _ = next_change(&[w], t);
        }
    }

    #[test]
    fn whole_day_minutes_and_extreme_instants() {
        let w = [allow(&[(0, 4)], Some((0, 1440)), "UTC")];
        assert_eq!(
            next_change(&w, ts("2026-05-04T12:00:00Z")),
            Some(ts("2026-05-09T00:00:00Z"))
        );
        let mixed = [
            allow(&[(0, 4)], Some((hm(9, 0), hm(17, 0))), "Europe/London"),
            freeze("2026-12-20", "2027-01-04", "UTC"),
        ];
        for t in [Timestamp::MIN, Timestamp::MAX] {
            let _ = is_open(&mixed, t);
            let _ = next_open(&mixed, t);
            let _ = next_change(&mixed, t);
        }
    }

    /// A small deterministic generator (xorshift64*), so the property test needs no crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Window sets with zones, wraps, DST and freezes mixed.
    fn scenarios() -> Vec<Vec<Window>> {
        vec![
            vec![allow(
                &[(0, 4)],
                Some((hm(9, 0), hm(17, 0))),
                "Europe/London",
            )],
            vec![
                allow(&[(0, 4)], Some((hm(9, 0), hm(17, 0))), "Europe/London"),
                allow(&[(5, 5)], Some((hm(10, 0), hm(12, 0))), "Europe/London"),
                freeze("2026-12-20", "2027-01-04", "UTC"),
                freeze("2026-11-27", "2026-11-27", "UTC"),
            ],
            vec![
                allow(&[(4, 4)], Some((hm(22, 0), hm(6, 0))), "America/New_York"),
                deny(&[], Some((hm(1, 30), hm(2, 30))), "Europe/London"),
            ],
            vec![
                allow(&[], Some((hm(1, 30), hm(3, 0))), "Europe/London"),
                allow(&[(0, 4)], Some((hm(9, 0), hm(17, 0))), "Asia/Kathmandu"),
                deny(&[(5, 6)], None, "Australia/Sydney"),
            ],
            vec![deny(&[(4, 0)], None, "Europe/Berlin")],
            vec![
                window(
                    WindowMode::Allow,
                    &[(0, 2), (4, 4)],
                    Some((hm(23, 15), hm(0, 45))),
                    Some(("2026-03-01", "2026-11-30")),
                    "America/Los_Angeles",
                ),
                deny(&[], Some((hm(0, 0), hm(0, 30))), "UTC"),
            ],
        ]
    }

    #[test]
    fn next_change_is_exact() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // 2026-01-01 to 2027-12-31, with half the instants near London's DST changes.
        let base = ts("2026-01-01T00:00:00Z").as_second();
        let dst = [
            ts("2026-03-29T01:00:00Z").as_second(),
            ts("2026-10-25T01:00:00Z").as_second(),
        ];
        let minute = SignedDuration::from_mins(1);
        let dated_end = ts("2026-12-01T08:45:00Z");
        for (n, scenario) in scenarios().into_iter().enumerate() {
            for i in 0..60 {
                let second = if i % 2 == 0 {
                    base + rng.below(2 * 365 * 86_400) as i64
                } else {
                    dst[i % 4 / 2] - 86_400 + rng.below(2 * 86_400) as i64
                };
                let t = Timestamp::from_second(second).unwrap();
                let state = is_open(&scenario, t);
                let change = next_change(&scenario, t);
                assert_eq!(
                    next_open(&scenario, t),
                    if state { Some(t) } else { change },
                    "next_open at {t}"
                );
                // Every scenario keeps changing, except the dated one (the last) after its
                // last date, where it stays closed.
                assert_eq!(
                    change.is_none(),
                    n == 5 && t >= dated_end,
                    "next_change at {t} in scenario {n}"
                );
                let limit = t + SignedDuration::from_hours(48);
                if let Some(change) = change {
                    assert!(change > t);
                    assert_ne!(is_open(&scenario, change), state, "flips at {change}");
                    assert_eq!(
                        is_open(&scenario, change - SignedDuration::from_nanos(1)),
                        state,
                        "just before {change}"
                    );
                }
                let change = change.map_or(limit, |c| c.min(limit));
                // Constant on [t, change): every minute, up to two days.
                let mut probe = t;
                while probe < change {
                    assert_eq!(is_open(&scenario, probe), state, "at {probe} (t = {t})");
                    probe += minute;
                }
            }
        }
    }
}
