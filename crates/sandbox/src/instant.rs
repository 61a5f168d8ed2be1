//! FHIR time values: formatting `instant`s, parsing date search values (`_lastUpdated`,
//! `date`, `authoredon`…: `ge2024-01-01`, `gt2024-05-01T10:00:00.123Z`) into half-open ranges
//! of unix nanoseconds, and the ranges of the dates and Periods inside resources.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Month, OffsetDateTime, UtcOffset};

/// `2024-05-01T10:00:00.123Z`, the form `meta.lastUpdated` uses.
pub(crate) fn format_instant(t: OffsetDateTime) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// `2024-05-01T10:00:00Z`, for clinical dateTimes.
pub(crate) fn format_date_time(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.to_offset(UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// `2024-05-01`
pub(crate) fn format_date(d: Date) -> String {
    let fmt = format_description!("[year]-[month]-[day]");
    d.format(&fmt).unwrap_or_else(|_| d.year().to_string())
}

/// Search prefixes the sandbox implements (FHIR R4 3.1.1.5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prefix {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// One date search value: a prefix and the range `[start, end)` its precision implies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DateFilter {
    prefix: Prefix,
    start: i128,
    end: i128,
}

impl DateFilter {
    /// `name` is the search parameter's, for the messages.
    pub(crate) fn parse(name: &str, value: &str) -> Result<DateFilter, String> {
        let (prefix, rest) = match value.get(..2) {
            Some("eq") => (Prefix::Eq, &value[2..]),
            Some("gt") => (Prefix::Gt, &value[2..]),
            Some("ge") => (Prefix::Ge, &value[2..]),
            Some("lt") => (Prefix::Lt, &value[2..]),
            Some("le") => (Prefix::Le, &value[2..]),
            Some("ne" | "sa" | "eb" | "ap") => {
                return Err(format!(
                    "prefix {:?} is not supported for {name}; use eq, gt, ge, lt or le",
                    &value[..2]
                ))
            }
            _ => (Prefix::Eq, value),
        };
        // An unencoded '+' in a query string arrives as a space; take it back for offsets.
        let rest = rest.replace(' ', "+");
        let (start, end) = parse_range(&rest).ok_or_else(|| {
            format!("{name} value {value:?} is not a FHIR date, dateTime or instant")
        })?;
        Ok(DateFilter { prefix, start, end })
    }

    /// Whether a resource last updated at `t` (unix nanoseconds) matches.
    pub(crate) fn matches(&self, t: i128) -> bool {
        self.matches_range((t, t + 1))
    }

    /// Whether a resource value covering `[start, end)` matches (FHIR R4 3.1.1.5.6: `eq` wants
    /// the value inside the search range; `ge`, `gt`, `le`, `lt` want some of it on that side).
    pub(crate) fn matches_range(&self, (start, end): (i128, i128)) -> bool {
        match self.prefix {
            Prefix::Eq => self.start <= start && end <= self.end,
            Prefix::Gt => end > self.end,
            Prefix::Ge => end > self.start,
            Prefix::Lt => start < self.start,
            Prefix::Le => start < self.end,
        }
    }

    /// The smallest time that can match, so a sorted index can skip ahead.
    pub(crate) fn lower_bound(&self) -> Option<i128> {
        match self.prefix {
            Prefix::Eq | Prefix::Ge => Some(self.start),
            Prefix::Gt => Some(self.end),
            Prefix::Lt | Prefix::Le => None,
        }
    }
}

/// The range a resource's date element covers: a date, dateTime or instant (its precision), or
/// a Period (`start` to `end`; an open side reaches as far as time goes). `None` when the
/// element is absent or unreadable.
pub(crate) fn element_range(value: &serde_json::Value) -> Option<(i128, i128)> {
    match value {
        serde_json::Value::String(text) => parse_range(text),
        serde_json::Value::Object(period) => {
            let side = |key: &str| {
                period
                    .get(key)
                    .and_then(|v| v.as_str())
                    .and_then(parse_range)
            };
            let (start, end) = (side("start"), side("end"));
            if start.is_none() && end.is_none() {
                return None;
            }
            Some((
                start.map_or(i128::MIN, |(s, _)| s),
                end.map_or(i128::MAX, |(_, e)| e),
            ))
        }
        _ => None,
    }
}

/// `[start, end)` in unix nanoseconds for `YYYY`, `YYYY-MM`, `YYYY-MM-DD` (UTC) or an RFC 3339
/// instant (the end is one unit of its last given digit later).
fn parse_range(value: &str) -> Option<(i128, i128)> {
    if value.contains('T') {
        let t = OffsetDateTime::parse(value, &Rfc3339).ok()?;
        let start = t.unix_timestamp_nanos();
        let digits = fraction_digits(value).min(9);
        let unit = 10i128.pow(9 - digits);
        return Some((start, start + unit));
    }
    let mut parts = value.split('-');
    let year: i32 = parse_digits(parts.next()?, 4)?;
    let month = match parts.next() {
        Some(m) => Some(parse_digits::<u8>(m, 2)?),
        None => None,
    };
    let day = match parts.next() {
        Some(d) => Some(parse_digits::<u8>(d, 2)?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    let (start, end) = match (month, day) {
        (None, _) => (
            Date::from_calendar_date(year, Month::January, 1).ok()?,
            Date::from_calendar_date(year.checked_add(1)?, Month::January, 1).ok()?,
        ),
        (Some(m), None) => {
            let month = Month::try_from(m).ok()?;
            let start = Date::from_calendar_date(year, month, 1).ok()?;
            let next_year = if month == Month::December {
                year + 1
            } else {
                year
            };
            (
                start,
                Date::from_calendar_date(next_year, month.next(), 1).ok()?,
            )
        }
        (Some(m), Some(d)) => {
            let start = Date::from_calendar_date(year, Month::try_from(m).ok()?, d).ok()?;
            (start, start.next_day()?)
        }
    };
    let nanos = |d: Date| d.midnight().assume_utc().unix_timestamp_nanos();
    Some((nanos(start), nanos(end)))
}

fn parse_digits<T: std::str::FromStr>(s: &str, len: usize) -> Option<T> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Digits after the seconds' decimal point (0 when there is none).
fn fraction_digits(value: &str) -> u32 {
    match value.split_once('.') {
        Some((_, frac)) => frac.bytes().take_while(u8::is_ascii_digit).count() as u32,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn nanos(t: OffsetDateTime) -> i128 {
        t.unix_timestamp_nanos()
    }

    #[test]
    fn formats_instants_with_milliseconds() {
        let t = datetime!(2024-05-01 10:00:00.5 UTC);
        assert_eq!(format_instant(t), "2024-05-01T10:00:00.500Z");
    }

    #[test]
    fn gt_a_millisecond_instant_excludes_that_instant() {
        let t = datetime!(2024-05-01 10:00:00.123 UTC);
        let f = DateFilter::parse("_lastUpdated", "gt2024-05-01T10:00:00.123Z").unwrap();
        assert!(!f.matches(nanos(t)));
        assert!(f.matches(nanos(t) + 1_000_000));
    }

    #[test]
    fn dates_cover_the_whole_day_month_or_year() {
        let inside = nanos(datetime!(2024-02-29 23:59 UTC));
        assert!(DateFilter::parse("_lastUpdated", "2024-02-29")
            .unwrap()
            .matches(inside));
        assert!(DateFilter::parse("_lastUpdated", "2024-02")
            .unwrap()
            .matches(inside));
        assert!(DateFilter::parse("_lastUpdated", "eq2024")
            .unwrap()
            .matches(inside));
        assert!(!DateFilter::parse("_lastUpdated", "gt2024-02")
            .unwrap()
            .matches(inside));
        assert!(DateFilter::parse("_lastUpdated", "lt2024-03")
            .unwrap()
            .matches(inside));
        assert!(DateFilter::parse("_lastUpdated", "le2024-12")
            .unwrap()
            .matches(inside));
    }

    #[test]
    fn offsets_survive_an_unencoded_plus() {
        let f = DateFilter::parse("_lastUpdated", "ge2024-05-01T12:00:00 02:00").unwrap();
        assert!(f.matches(nanos(datetime!(2024-05-01 10:00 UTC))));
        assert!(!f.matches(nanos(datetime!(2024-05-01 09:59 UTC))));
    }

    #[test]
    fn periods_and_points_against_each_prefix() {
        let range = |v: serde_json::Value| element_range(&v).unwrap();
        let march = range(serde_json::json!({"start": "2024-03-01", "end": "2024-03-31"}));
        let f = |v: &str| DateFilter::parse("date", v).unwrap();
        assert!(f("ge2024-03-15").matches_range(march));
        assert!(!f("ge2024-04-01").matches_range(march));
        assert!(f("lt2024-03-02").matches_range(march));
        assert!(!f("lt2024-03-01").matches_range(march));
        assert!(f("eq2024-03").matches_range(march));
        assert!(!f("eq2024-03-15").matches_range(march));
        let open = range(serde_json::json!({"start": "2020-01-01T00:00:00Z"}));
        assert!(f("gt2030").matches_range(open));
        let point = range(serde_json::json!("2024-05-01T10:00:00Z"));
        assert!(f("2024-05-01").matches_range(point));
        assert!(f("le2024-05-01T10:00:00Z").matches_range(point));
        assert!(!f("gt2024-05-01T10:00:00Z").matches_range(point));
        assert!(element_range(&serde_json::json!({})).is_none());
        assert!(element_range(&serde_json::json!("not a date")).is_none());
    }

    #[test]
    fn messages_name_the_parameter() {
        let e = DateFilter::parse("authoredon", "ne2024").unwrap_err();
        assert!(e.contains("authoredon"), "{e}");
        let e = DateFilter::parse("date", "soon").unwrap_err();
        assert!(e.starts_with("date value"), "{e}");
    }

    #[test]
    fn rejects_garbage_and_unsupported_prefixes() {
        for bad in [
            "",
            "gt",
            "2024-13",
            "2024-02-30",
            "24-01-01",
            "ne2024",
            "2024-01-01T10",
        ] {
            assert!(DateFilter::parse("date", bad).is_err(), "{bad}");
        }
    }
}
