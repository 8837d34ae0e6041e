//! Collation name and code page from the collation ID SQL Server stores in the SCIN record.
//!
//! The ID has the TDS collation layout: LCID in bits 0..19, comparison flags in bits 20..27
//! (ignore case, accent, kana, width; binary; binary2; UTF-8) and a version in bits 28..31.
//! A non-zero sort ID selects a legacy SQL collation instead (e.g. 52 =
//! `SQL_Latin1_General_CP1_CI_AS`). Unknown values give `None` rather than a guess.

/// SQL collations by sort ID: (name, code page).
const SQL_COLLATIONS: &[(u8, &str, u16)] = &[
    (30, "SQL_Latin1_General_CP437_BIN", 437),
    (31, "SQL_Latin1_General_CP437_CS_AS", 437),
    (32, "SQL_Latin1_General_CP437_CI_AS", 437),
    (40, "SQL_Latin1_General_CP850_BIN", 850),
    (41, "SQL_Latin1_General_CP850_CS_AS", 850),
    (42, "SQL_Latin1_General_CP850_CI_AS", 850),
    (51, "SQL_Latin1_General_CP1_CS_AS", 1252),
    (52, "SQL_Latin1_General_CP1_CI_AS", 1252),
    (53, "SQL_Latin1_General_Pref_CP1_CI_AS", 1252),
    (54, "SQL_Latin1_General_CP1_CI_AI", 1252),
];

/// Windows collation designators by LCID: (LCID, designator, code page).
const WINDOWS_COLLATIONS: &[(u32, &str, u16)] = &[
    (0x0401, "Arabic", 1256),
    (0x0404, "Chinese_Taiwan_Stroke", 950),
    (0x0405, "Czech", 1250),
    (0x0406, "Danish_Norwegian", 1252),
    (0x0407, "Latin1_General", 1252),
    (0x0408, "Greek", 1253),
    (0x0409, "Latin1_General", 1252),
    (0x040A, "Traditional_Spanish", 1252),
    (0x040B, "Finnish_Swedish", 1252),
    (0x040C, "French", 1252),
    (0x040D, "Hebrew", 1255),
    (0x040E, "Hungarian", 1250),
    (0x040F, "Icelandic", 1252),
    (0x0410, "Latin1_General", 1252),
    (0x0411, "Japanese", 932),
    (0x0412, "Korean_Wansung", 949),
    (0x0413, "Latin1_General", 1252),
    (0x0415, "Polish", 1250),
    (0x0418, "Romanian", 1250),
    (0x0419, "Cyrillic_General", 1251),
    (0x041A, "Croatian", 1250),
    (0x041B, "Slovak", 1250),
    (0x041C, "Albanian", 1250),
    (0x041E, "Thai", 874),
    (0x041F, "Turkish", 1254),
    (0x0422, "Ukrainian", 1251),
    (0x0424, "Slovenian", 1250),
    (0x0425, "Estonian", 1257),
    (0x0426, "Latvian", 1257),
    (0x0427, "Lithuanian", 1257),
    (0x042A, "Vietnamese", 1258),
    (0x0804, "Chinese_PRC", 936),
    (0x0C0A, "Modern_Spanish", 1252),
];

const IGNORE_CASE: u32 = 1 << 20;
const IGNORE_ACCENT: u32 = 1 << 21;
const IGNORE_KANA: u32 = 1 << 22;
const IGNORE_WIDTH: u32 = 1 << 23;
const BINARY: u32 = 1 << 24;
const BINARY2: u32 = 1 << 25;
const UTF8: u32 = 1 << 26;

/// The collation name SQL Server reports, or `None` when the ID is not in our tables.
pub fn collation_name(collation_id: u32, sort_id: u8) -> Option<String> {
    if sort_id != 0 {
        return SQL_COLLATIONS
            .iter()
            .find(|c| c.0 == sort_id)
            .map(|c| c.1.to_string());
    }
    let (designator, _) = windows_designator(collation_id)?;
    let version = match collation_id >> 28 {
        0 => "",
        1 => "_100",
        2 => "_140",
        _ => return None,
    };
    let mut name = format!("{designator}{version}");
    if collation_id & BINARY2 != 0 {
        name.push_str("_BIN2");
    } else if collation_id & BINARY != 0 {
        name.push_str("_BIN");
    } else {
        name.push_str(if collation_id & IGNORE_CASE != 0 {
            "_CI"
        } else {
            "_CS"
        });
        name.push_str(if collation_id & IGNORE_ACCENT != 0 {
            "_AI"
        } else {
            "_AS"
        });
        if collation_id & IGNORE_KANA == 0 {
            name.push_str("_KS");
        }
        if collation_id & IGNORE_WIDTH == 0 {
            name.push_str("_WS");
        }
    }
    if collation_id & UTF8 != 0 {
        name.push_str("_UTF8");
    }
    Some(name)
}

/// The collation's code page (HEADERONLY `CodePage`), 0 when unknown.
pub fn code_page(collation_id: u32, sort_id: u8) -> u16 {
    if collation_id & UTF8 != 0 {
        return 65001;
    }
    if sort_id != 0 {
        return SQL_COLLATIONS
            .iter()
            .find(|c| c.0 == sort_id)
            .map_or(0, |c| c.2);
    }
    windows_designator(collation_id).map_or(0, |(_, cp)| cp)
}

fn windows_designator(collation_id: u32) -> Option<(&'static str, u16)> {
    let lcid = collation_id & 0xF_FFFF;
    WINDOWS_COLLATIONS
        .iter()
        .find(|c| c.0 == lcid)
        .map(|c| (c.1, c.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_and_windows_collations() {
        // Seen in the real fixtures: 0x00D00409 with sort ID 52 and with sort ID 0.
        assert_eq!(
            collation_name(0x00D0_0409, 52).as_deref(),
            Some("SQL_Latin1_General_CP1_CI_AS")
        );
        assert_eq!(
            collation_name(0x00D0_0409, 0).as_deref(),
            Some("Latin1_General_CI_AS")
        );
        assert_eq!(code_page(0x00D0_0409, 0), 1252);
        assert_eq!(
            collation_name(0x1000_042A | IGNORE_CASE, 0).as_deref(),
            Some("Vietnamese_100_CI_AS_KS_WS")
        );
        assert_eq!(code_page(0x042A, 0), 1258);
        assert_eq!(
            collation_name(0x0100_0409, 0).as_deref(),
            Some("Latin1_General_BIN")
        );
        assert_eq!(collation_name(0x0000_0001, 0), None);
        assert_eq!(code_page(0x0000_0001, 0), 0);
        assert_eq!(collation_name(0x00D0_0409, 99), None);
    }
}
