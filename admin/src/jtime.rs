//! Java's local-time renderings used by mqadmin output.

/// (year, month, day, hour, minute, second) of `secs` in the local time zone.
#[cfg(unix)]
fn local_fields(secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    let t = secs as libc::time_t;
    // SAFETY: a zeroed `tm` is a valid value; localtime_r only writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return utc_fields(secs);
    }
    (
        tm.tm_year as i64 + 1900,
        tm.tm_mon as i64 + 1,
        tm.tm_mday as i64,
        tm.tm_hour as i64,
        tm.tm_min as i64,
        tm.tm_sec as i64,
    )
}

#[cfg(not(unix))]
fn local_fields(secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    utc_fields(secs)
}

/// Civil date from days since the epoch (proleptic Gregorian).
#[cfg_attr(unix, allow(dead_code))]
fn utc_fields(secs: i64) -> (i64, i64, i64, i64, i64, i64) {
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

/// `UtilAll.timeMillisToHumanString2`: `yyyy-MM-dd HH:mm:ss,SSS`.
pub fn human2(ms: i64) -> String {
    let (y, mo, d, h, mi, s) = local_fields(ms.div_euclid(1000));
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02},{:03}", ms.rem_euclid(1000))
}

/// `UtilAll.formatDate(date, "yyyy-MM-dd HH:mm:ss")`.
pub fn date_time(ms: i64) -> String {
    let (y, mo, d, h, mi, s) = local_fields(ms.div_euclid(1000));
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(utc_fields(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(utc_fields(1_795_291_936), (2026, 11, 21, 20, 12, 16));
        assert_eq!(human2(1_234).len(), "1970-01-01 00:00:01,234".len());
    }
}
