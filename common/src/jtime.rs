//! Calendar fields of an epoch time in the local time zone, as Java's
//! `Calendar`/`SimpleDateFormat` see them: mqadmin output, index file names
//! and the cleaner's `deleteWhen` hour all render local time.

/// (year, month 1-12, day, hour, minute, second).
pub type Fields = (i64, i64, i64, i64, i64, i64);

/// Local calendar fields of `secs`, or `None` when the C library cannot
/// convert them.
#[cfg(unix)]
pub fn try_local_fields(secs: i64) -> Option<Fields> {
    let t = secs as libc::time_t;
    // SAFETY: a zeroed `tm` is a valid value; localtime_r only writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return None;
    }
    Some((
        tm.tm_year as i64 + 1900,
        tm.tm_mon as i64 + 1,
        tm.tm_mday as i64,
        tm.tm_hour as i64,
        tm.tm_min as i64,
        tm.tm_sec as i64,
    ))
}

#[cfg(not(unix))]
pub fn try_local_fields(_secs: i64) -> Option<Fields> {
    None
}

/// Local calendar fields of `secs`; UTC when local time is unavailable.
pub fn local_fields(secs: i64) -> Fields {
    try_local_fields(secs).unwrap_or_else(|| utc_fields(secs))
}

/// UTC calendar fields of `secs` (civil date from days since 1970-01-01,
/// Howard Hinnant's algorithm, proleptic Gregorian).
pub fn utc_fields(secs: i64) -> Fields {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(utc_fields(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(utc_fields(1_795_291_936), (2026, 11, 21, 20, 12, 16));
        assert_eq!(utc_fields(-1), (1969, 12, 31, 23, 59, 59));
        assert_eq!(utc_fields(951_782_400), (2000, 2, 29, 0, 0, 0));
    }
}
