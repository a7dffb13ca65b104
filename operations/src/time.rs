//! Instants as operators write them: an RFC 3339 time, or a duration before now (`90m`, `24h`,
//! `7days`), as the archive and the dead-letter filters take them.

use std::time::{Duration, SystemTime};

use hookpost_shared::clock::rfc3339;

/// `text` as an RFC 3339 instant (UTC, the archive's format), reading a duration as that long
/// before `now`.
pub fn parse_instant(text: &str, now: SystemTime) -> Result<String, String> {
    let text = text.trim();
    if let Ok(at) = humantime::parse_rfc3339_weak(text) {
        return Ok(rfc3339(at));
    }
    let ago: Duration = humantime::parse_duration(text).map_err(|_| {
        format!(
            "`{text}` is neither an RFC 3339 time (2026-11-22T08:00:00Z) nor a duration (90m, 24h, 7days)"
        )
    })?;
    // A SystemTime can be before the epoch, which RFC 3339 formatting does not take.
    let at = now
        .checked_sub(ago)
        .filter(|at| *at >= SystemTime::UNIX_EPOCH)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    Ok(rfc3339(at))
}

/// Seconds from `at` (RFC 3339) to `now`; `None` when unreadable or in the future.
pub fn age_seconds(at: &str, now: SystemTime) -> Option<u64> {
    let then = humantime::parse_rfc3339_weak(at).ok()?;
    now.duration_since(then).ok().map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).expect("instant")
    }

    #[test]
    fn an_instant_is_an_rfc3339_time_or_a_duration_ago() {
        let now = at("2026-11-22T12:00:00Z");
        assert_eq!(
            parse_instant("2h", now).expect("duration"),
            rfc3339(at("2026-11-22T10:00:00Z"))
        );
        assert_eq!(
            parse_instant("2026-11-21T08:30:00Z", now).expect("instant"),
            rfc3339(at("2026-11-21T08:30:00Z"))
        );
        assert!(parse_instant("yesterday-ish", now).is_err());
    }

    #[test]
    fn a_duration_longer_than_the_epoch_is_the_epoch() {
        let now = at("1970-01-01T00:01:00Z");
        assert_eq!(
            parse_instant("3h", now).expect("duration"),
            rfc3339(SystemTime::UNIX_EPOCH)
        );
    }
}
