//! Human-readable rendering of numbers and dates, identical on server and client.

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `November 2026`; months out of range render as `Unknown month`.
pub fn month_label(year: i32, month: u8) -> String {
    match MONTHS.get(usize::from(month).wrapping_sub(1)) {
        Some(name) => format!("{name} {year}"),
        None => "Unknown month".to_string(),
    }
}

/// Lower-case hexadecimal of `bytes`: media keys in URLs.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    out
}

/// `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `1 photo`, `2,000 photos`.
pub fn photo_count(count: u64) -> String {
    if count == 1 {
        "1 photo".to_string()
    } else {
        format!("{} photos", thousands(count))
    }
}

/// Civil date (year, month, day) of a Unix timestamp in UTC.
///
/// Howard Hinnant's days-to-civil algorithm: exact for the whole `i64` second range we store.
pub fn civil_date(unix_seconds: i64) -> (i32, u8, u8) {
    let days = unix_seconds.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (year_of_era + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

/// Unix time of the first second of a month (UTC); `month` is 1 to 12.
///
/// Howard Hinnant's days-from-civil algorithm, the inverse of [`civil_date`].
pub fn month_start(year: i32, month: u8) -> i64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era - 719_468) * 86_400
}

/// The month after `(year, month)`.
pub fn next_month(year: i32, month: u8) -> (i32, u8) {
    if month >= 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

/// `2026-11-03` → Unix time of that day's first second (UTC); anything else is `None`.
pub fn parse_day(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    let month: u8 = month.parse().ok()?;
    let day: u8 = day.parse().ok()?;
    if !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let start = month_start(year, month) + i64::from(day - 1) * 86_400;
    // 31 February rolls into March: refuse it rather than guess.
    (civil_date(start) == (year, month, day)).then_some(start)
}

/// `2026-11-03`, the form `parse_day` reads and date inputs use.
pub fn iso_day(unix_seconds: i64) -> String {
    let (year, month, day) = civil_date(unix_seconds);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `2026-11-03T14:05:09Z`: RFC 3339 in UTC, for files other programs read.
pub fn rfc3339(unix_seconds: i64) -> String {
    let seconds_of_day = unix_seconds.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        iso_day(unix_seconds),
        seconds_of_day / 3600,
        seconds_of_day % 3600 / 60,
        seconds_of_day % 60
    )
}

/// `2026-11-03T14:05:09+05:30`: when a photo was taken, by the place's clock (see
/// [`taken_label`]), with the offset when the camera recorded it and none when it did not.
pub fn taken_iso(local_seconds: i64, offset_minutes: Option<i64>) -> String {
    let clock = rfc3339(local_seconds);
    let clock = clock.trim_end_matches('Z');
    match offset_minutes {
        Some(0) => format!("{clock}Z"),
        Some(offset) => format!(
            "{clock}{}{:02}:{:02}",
            if offset < 0 { '-' } else { '+' },
            offset.abs() / 60,
            offset.abs() % 60
        ),
        None => clock.to_string(),
    }
}

/// When a photo was taken, by the clock of the place: `3 November 2026, 14:05` and, when the
/// camera recorded how far that clock was from UTC, `(UTC+2)`. `local_seconds` is that clock's
/// reading counted as if it were UTC.
pub fn taken_label(local_seconds: i64, offset_minutes: Option<i32>) -> String {
    match offset_minutes {
        Some(offset) => format!(
            "{} ({})",
            clock_label(local_seconds),
            utc_offset_label(offset)
        ),
        None => clock_label(local_seconds),
    }
}

/// `UTC+2`, `UTC+5:30`, `UTC−3` (a minus sign), `UTC`.
pub fn utc_offset_label(offset_minutes: i32) -> String {
    let sign = if offset_minutes < 0 { '\u{2212}' } else { '+' };
    let (hours, minutes) = (offset_minutes.abs() / 60, offset_minutes.abs() % 60);
    match (hours, minutes) {
        (0, 0) => "UTC".to_string(),
        (hours, 0) => format!("UTC{sign}{hours}"),
        (hours, minutes) => format!("UTC{sign}{hours}:{minutes:02}"),
    }
}

/// `3 November 2026, 14:05` of a clock reading counted in seconds since 1970.
pub fn clock_label(seconds: i64) -> String {
    let seconds_of_day = seconds.rem_euclid(86_400);
    format!(
        "{}, {:02}:{:02}",
        day_label(seconds),
        seconds_of_day / 3600,
        seconds_of_day % 3600 / 60
    )
}

/// `4.2 MB`, `830 KB`: the number and its unit held together by a no-break space.
pub fn byte_size(bytes: u64) -> String {
    let (value, places, unit) = match bytes {
        0..1_000 => return format!("{bytes}\u{a0}B"),
        1_000..1_000_000 => (bytes as f64 / 1e3, 0, "KB"),
        1_000_000..1_000_000_000 => (bytes as f64 / 1e6, 1, "MB"),
        _ => (bytes as f64 / 1e9, 2, "GB"),
    };
    format!("{}\u{a0}{unit}", decimal(value, places))
}

/// `value` to `places` decimals (at most 6), rounded half away from zero: `12.35`, `-0.5`,
/// `3`. Written with integer arithmetic because Rust's float formatting (`{:.1}`, `{}` of an
/// `f64`) would bring its algorithms and tables, some 20 KB, into the WASM of every island
/// that formats a number, and its tables into the first chunk. Where `value` has no exact
/// decimals left (2^53 units of the last place) they are written as zeros.
pub fn decimal(value: f64, places: u32) -> String {
    if !value.is_finite() {
        return if value.is_nan() {
            "NaN"
        } else if value > 0.0 {
            "inf"
        } else {
            "-inf"
        }
        .into();
    }
    let places = places.min(6);
    let scale = 10u64.pow(places);
    let magnitude = value.abs();
    let (whole, fraction) = if magnitude * scale as f64 >= 9_007_199_254_740_992.0 {
        (magnitude.round() as u64, (places > 0).then_some(0))
    } else {
        let scaled = (magnitude * scale as f64).round() as u64;
        (scaled / scale, (places > 0).then_some(scaled % scale))
    };
    let negative = value < 0.0 && (whole > 0 || fraction.is_some_and(|f| f > 0));
    let sign = if negative { "-" } else { "" };
    match fraction {
        Some(fraction) => format!("{sign}{whole}.{fraction:0width$}", width = places as usize),
        None => format!("{sign}{whole}"),
    }
}

/// A configured limit in bytes, said in the unit it is a whole number of: `200 MiB`,
/// `64 KiB`, `1,000 bytes`. Limits are set in bytes, so their messages must not round
/// 209,715,200 to "209 MB".
pub fn limit_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    match bytes {
        0 => "0 bytes".to_string(),
        _ if bytes.is_multiple_of(KIB * KIB * KIB) => {
            format!("{}\u{a0}GiB", thousands(bytes >> 30))
        }
        _ if bytes.is_multiple_of(KIB * KIB) => format!("{}\u{a0}MiB", thousands(bytes >> 20)),
        _ if bytes.is_multiple_of(KIB) => format!("{}\u{a0}KiB", thousands(bytes >> 10)),
        _ => format!("{}\u{a0}bytes", thousands(bytes)),
    }
}

/// `3 November 2026`.
pub fn day_label(unix_seconds: i64) -> String {
    let (year, month, day) = civil_date(unix_seconds);
    format!("{day} {}", month_label(year, month))
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_as_float_formatting_would() {
        for (value, places) in [
            (0.0, 0),
            (0.0, 2),
            (1.5, 0),
            (2.675, 1),
            (12.345678, 3),
            (-3.25, 1),
            (99.96, 1),
            (1234567.891, 2),
            (1e13 + 0.25, 2),
            (0.000_4, 3),
        ] {
            let ours = decimal(value, places);
            let theirs = format!("{value:.*}", places as usize);
            // Ties may round differently (float formatting rounds the exact binary value to
            // even); anything else must agree to the digit.
            let tie = ((value.abs() * 10f64.powi(places as i32)).fract() - 0.5).abs() < 1e-9;
            if !tie {
                assert_eq!(ours, theirs, "{value} to {places}");
            }
        }
        assert_eq!(decimal(2.5, 0), "3");
        assert_eq!(decimal(-2.5, 0), "-3");
        // Unlike `{:.1}`, no negative zero: "-0.0" says nothing a reader wants.
        assert_eq!(decimal(-0.04, 1), "0.0");
        assert_eq!(decimal(-0.004, 2), "0.00");
        assert_eq!(decimal(7.0, 3), "7.000");
        assert_eq!(decimal(1e14 + 0.25, 2), "100000000000000.00");
        assert_eq!(decimal(3e16, 0), "30000000000000000");
        assert_eq!(decimal(f64::NAN, 1), "NaN");
        assert_eq!(decimal(f64::NEG_INFINITY, 1), "-inf");
        assert_eq!(byte_size(4_200_000), "4.2\u{a0}MB");
        assert_eq!(byte_size(830_400), "830\u{a0}KB");
        assert_eq!(byte_size(1_234_567_890), "1.23\u{a0}GB");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(2_000_000), "2,000,000");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn limits_are_said_in_the_unit_they_are_whole_in() {
        assert_eq!(limit_size(200 * 1024 * 1024), "200\u{a0}MiB");
        assert_eq!(limit_size(2 << 30), "2\u{a0}GiB");
        assert_eq!(limit_size(64 * 1024), "64\u{a0}KiB");
        assert_eq!(limit_size(100_000), "100,000\u{a0}bytes");
        assert_eq!(limit_size(0), "0 bytes");
    }

    #[test]
    fn rfc3339_is_utc_to_the_second() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(
            rfc3339(1_793_491_200 + 2 * 86_400 + 50_709),
            "2026-11-03T14:05:09Z"
        );
    }

    #[test]
    fn civil_date_matches_known_days() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(-1), (1969, 12, 31));
        assert_eq!(civil_date(951_782_400), (2000, 2, 29));
        assert_eq!(civil_date(1_795_996_800), (2026, 11, 30));
    }

    #[test]
    fn month_start_inverts_civil_date() {
        assert_eq!(month_start(1970, 1), 0);
        assert_eq!(month_start(2026, 11), 1_793_491_200);
        assert_eq!(month_start(2000, 3), 951_868_800);
        for year in [1900, 1969, 1999, 2000, 2024, 2100] {
            for month in 1..=12u8 {
                let start = month_start(year, month);
                assert_eq!(civil_date(start), (year, month, 1));
                assert_eq!(
                    civil_date(start - 1).1,
                    if month == 1 { 12 } else { month - 1 }
                );
            }
        }
        assert_eq!(next_month(2026, 12), (2027, 1));
    }

    #[test]
    fn days_parse_strictly_and_round_trip() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2026-11-03"), Some(1_793_491_200 + 2 * 86_400));
        assert_eq!(
            parse_day("2000-02-29").map(iso_day).as_deref(),
            Some("2000-02-29")
        );
        for bad in [
            "",
            "2026-02-30",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "26-01-01",
            "2026-01-01-01",
            "2026/01/01",
            "abcd-ef-gh",
            "2026-01-00",
            "2025-02-29",
        ] {
            assert_eq!(parse_day(bad), None, "{bad:?} accepted");
        }
        assert_eq!(
            taken_label(1_793_491_200 + 3_600 * 14 + 300, None),
            "1 November 2026, 14:05"
        );
        assert_eq!(
            taken_label(1_793_491_200, Some(330)),
            "1 November 2026, 00:00 (UTC+5:30)"
        );
        assert_eq!(utc_offset_label(-180), "UTC\u{2212}3");
        assert_eq!(taken_iso(0, None), "1970-01-01T00:00:00");
        assert_eq!(taken_iso(0, Some(-90)), "1970-01-01T00:00:00-01:30");
        assert_eq!(taken_iso(0, Some(0)), "1970-01-01T00:00:00Z");
        assert_eq!(utc_offset_label(0), "UTC");
        assert_eq!(byte_size(4_200_000), "4.2\u{a0}MB");
        assert_eq!(byte_size(999), "999\u{a0}B");
    }

    #[test]
    fn month_label_rejects_out_of_range_months() {
        assert_eq!(month_label(2026, 11), "November 2026");
        assert_eq!(month_label(2026, 0), "Unknown month");
        assert_eq!(month_label(2026, 13), "Unknown month");
    }
}
