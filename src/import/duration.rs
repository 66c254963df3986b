//! Go durations (`time.ParseDuration`), the form of `metav1.Duration` fields such as a
//! ProgressiveRollout's `requeue.interval`: `30m`, `1h30m`, `90s`, `1.5h`, `1h0m0s`, `300ms`.

/// A parsed Go duration in whole seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoDuration {
    /// The duration in seconds, rounded up to a whole second.
    pub seconds: u64,
    /// False when rounding was needed (the input had a fraction of a second).
    pub exact: bool,
}

/// Nanoseconds per unit, longest names first so `ms` is not read as `m`.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a Go duration string as `time.ParseDuration` does: one or more decimal numbers,
/// each with an optional fraction and a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`); `0`
/// alone is zero. Negative durations are refused (nothing here can wait a negative time).
pub fn parse_go_duration(text: &str) -> Result<GoDuration, String> {
    let s = text.trim();
    if s == "0" {
        return Ok(GoDuration {
            seconds: 0,
            exact: true,
        });
    }
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s.starts_with('-') {
        return Err(format!("`{s}` is negative"));
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(after) => {
                let n = after.bytes().take_while(u8::is_ascii_digit).count();
                after.split_at(n)
            }
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(format!("`{s}` has a unit without a number"));
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        let Some(&(_, size)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(if unit.is_empty() {
                format!("`{s}` has a number without a unit")
            } else if unit == "d" {
                format!("Go durations have no `d` unit (`{s}`): write hours, e.g. `24h`")
            } else {
                format!("unknown unit `{unit}` in `{s}`")
            });
        };
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| format!("`{s}` is too large"))?
        };
        let mut part = whole
            .checked_mul(size)
            .ok_or_else(|| format!("`{s}` is too large"))?;
        if !frac.is_empty() {
            // Go keeps nanosecond precision; 18 digits is finer than that for every unit
            // and keeps the arithmetic far from overflowing.
            let digits = &frac[..frac.len().min(18)];
            let value: u128 = digits.parse().map_err(|_| format!("`{s}` is too large"))?;
            part += value * size / 10u128.pow(digits.len() as u32);
        }
        nanos = nanos
            .checked_add(part)
            .ok_or_else(|| format!("`{s}` is too large"))?;
        rest = after;
    }
    let seconds = nanos.div_ceil(1_000_000_000);
    let seconds = u64::try_from(seconds).map_err(|_| format!("`{s}` is too large"))?;
    Ok(GoDuration {
        seconds,
        exact: nanos.is_multiple_of(1_000_000_000),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> u64 {
        let d = parse_go_duration(text).unwrap();
        assert!(d.exact, "{text}");
        d.seconds
    }

    #[test]
    fn go_forms() {
        assert_eq!(secs("30m"), 1800);
        assert_eq!(secs("1h"), 3600);
        assert_eq!(secs("90s"), 90);
        assert_eq!(secs("1h30m"), 5400);
        assert_eq!(secs("1h0m0s"), 3600);
        assert_eq!(secs("1.5h"), 5400);
        assert_eq!(secs("0"), 0);
        assert_eq!(secs("+5m"), 300);
        assert_eq!(secs("2000ms"), 2);
        assert_eq!(secs(".5m"), 30);
        assert_eq!(secs("0.000000000000000000000000000001h"), 0);
    }

    #[test]
    fn fractions_of_a_second_round_up() {
        let d = parse_go_duration("300ms").unwrap();
        assert_eq!((d.seconds, d.exact), (1, false));
        let d = parse_go_duration("1.25s").unwrap();
        assert_eq!((d.seconds, d.exact), (2, false));
    }

    #[test]
    fn errors() {
        for bad in [
            "",
            "30",
            "30min",
            "1d",
            "-5m",
            "h",
            ".m",
            "1e3s",
            "99999999999999999999999999h",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }
}
