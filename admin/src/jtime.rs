//! Java's local-time renderings used by mqadmin output.

use rmq_common::jtime::local_fields;

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
    fn renders_java_layouts() {
        assert_eq!(human2(1_234).len(), "1970-01-01 00:00:01,234".len());
        assert_eq!(date_time(1_234).len(), "1970-01-01 00:00:01".len());
    }
}
