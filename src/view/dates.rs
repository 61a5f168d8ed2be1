//! FHIR dates on the page: `2019`, `2019-03`, `2019-03-04` and `2019-03-04T10:20:00+01:00` as
//! day numbers (for chart axes and sorting) and as short text. The clock time is shown as
//! written (the zone the server wrote it in), without seconds.

/// Days since 1970-01-01 (the time of day as a fraction, in the written zone) of a date,
/// partial date or dateTime; `None` when it is not one.
pub fn day_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let year = num(0..4)?;
    let month = if b.len() >= 7 && b[4] == b'-' {
        num(5..7)?
    } else {
        1
    };
    let day = if b.len() >= 10 && b[7] == b'-' {
        num(8..10)?
    } else {
        1
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut days = days_from_civil(year, month, day) as f64;
    if b.len() >= 16 && b[10] == b'T' && b[13] == b':' {
        let (h, m) = (num(11..13)?, num(14..16)?);
        days += (h * 60 + m) as f64 / 1440.0;
    }
    Some(days)
}

/// `2019-03-04 10:20` for a dateTime, the date itself otherwise; text that is not a date is
/// shown as it is.
pub fn short(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 16 && b[10] == b'T' && day_number(s).is_some() {
        format!("{} {}", &s[..10], &s[11..16])
    } else {
        s.to_owned()
    }
}

/// The date part only (`2019-03-04`, or a partial date as it is).
pub fn date_only(s: &str) -> &str {
    match s.get(..10) {
        Some(d) if day_number(s).is_some() => d,
        _ => s,
    }
}

/// `(year, month, day)` of a day number.
pub fn civil(day_number: f64) -> (i64, u32, u32) {
    civil_from_days(day_number.floor() as i64)
}

/// The day number of a calendar date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar date of a day number (Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_and_full_dates() {
        assert_eq!(day_number("1970-01-01"), Some(0.0));
        assert_eq!(day_number("1970-01-02T12:00:00Z"), Some(1.5));
        assert_eq!(day_number("2000"), day_number("2000-01-01"));
        assert_eq!(day_number("2000-03"), day_number("2000-03-01"));
        for bad in ["", "soon", "2000-13-01", "20x0", "2000-02-40"] {
            assert_eq!(day_number(bad), None, "{bad}");
        }
        let d = day_number("2024-02-29").unwrap();
        assert_eq!(civil(d), (2024, 2, 29));
        assert_eq!(
            civil_from_days(days_from_civil(1899, 12, 31)),
            (1899, 12, 31)
        );
        assert_eq!(short("2019-03-04T10:20:00+01:00"), "2019-03-04 10:20");
        assert_eq!(short("2019-03"), "2019-03");
        assert_eq!(short("unknown"), "unknown");
        assert_eq!(date_only("2019-03-04T10:20:00Z"), "2019-03-04");
    }
}
