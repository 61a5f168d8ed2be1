//! Times and durations as text: RFC 3339 formatting and parsing, Unix seconds, human durations,
//! and the durations people type (`90`, `30s`, `5m`, `1h`).

use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

pub fn now_rfc3339() -> String {
    unix_to_rfc3339(now_unix())
}

/// Now, to the millisecond (the trace file's request times: several requests start within a
/// second, and their order and spacing is what a support person reads there).
pub fn now_rfc3339_millis() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_else(|_| now_rfc3339())
}

pub fn unix_to_rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}

pub fn parse_rfc3339(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// "3 h 12 min", "45 s", "2 d 4 h": a short human duration.
pub fn human_duration(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let text = if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else if s < 86_400 {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    } else {
        format!("{} d {} h", s / 86_400, (s % 86_400) / 3600)
    };
    if secs < 0 {
        format!("{text} ago")
    } else {
        text
    }
}

/// Parses `300`, `90s`, `5m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        _ => (s, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a duration like 300, 90s, 5m or 1h"))?;
    if n == 0 {
        return Err("the duration must be more than zero".into());
    }
    Ok(Duration::from_secs(n.saturating_mul(mult)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn milliseconds() {
        let t = now_rfc3339_millis();
        assert_eq!(t.len(), "2026-12-06T04:22:28.123Z".len(), "{t}");
        assert_eq!(&t[19..20], ".", "{t}");
        assert!(OffsetDateTime::parse(&t, &Rfc3339).is_ok(), "{t}");
    }

    #[test]
    fn formats() {
        assert_eq!(unix_to_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("1970-01-01T00:01:00Z"), Some(60));
        assert_eq!(human_duration(59), "59 s");
        assert_eq!(human_duration(3 * 3600 + 12 * 60), "3 h 12 min");
        assert_eq!(human_duration(-120), "2 min ago");
        assert_eq!(human_duration(2 * 86_400 + 4 * 3600), "2 d 4 h");
    }
}
