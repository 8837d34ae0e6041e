//! The body of `GET …/restoreDetails/Default`, in the shape the caller's api-version expects
//! (docs/references.md#restore-details).
//!
//! * New shape: `type: "LRSRestore"`, integer `percentCompleted`, the counters, the three
//!   backup-set lists and `unrestorableFiles` as `[{"name": …}]`.
//! * Old shape: no `type`, a double `percentCompleted`, `unrestorableFiles` as plain strings,
//!   and exactly the other fields the old schema has (`status`, `blockReason`,
//!   `currentRestoringFileName`, `lastRestoredFileName`/`Time`, `lastUploadedFileName`/`Time`,
//!   `numberOfFilesDetected`). azure-mgmt-sql 3.0.1 misreads the new shape (each
//!   `{"name": …}` becomes the text of a Python dict in its `unrestorable_files: [str]`).
//!
//! Which version has which shape is the spec's, per exact version ([`SPEC_SHAPES`]): the
//! stable line kept the old schema through 2023-08-01 while the previews switched at
//! 2022-02-01-preview, so a date alone does not decide it. Versions not in the table follow
//! our rule ([`DetailsShape::for_api_version`]).
//!
//! Absent values are omitted, never `null`, as the real service does.

use lrs_engine::{BackupSetDetails, RestoreDetails};
use serde_json::{Map, Value, json};

use crate::json::timestamp;

/// Which restore-details shape an api-version gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailsShape {
    /// `ManagedDatabaseRestoreDetailsProperties` without `type` (double `percentCompleted`,
    /// string `unrestorableFiles`).
    Old,
    /// The schema with `type`, the counters and the backup-set lists.
    New,
    /// What the real service answered at 2019-06-01-preview (four recordings of 2020) and
    /// 2020-02-02-preview (two of 2021): the old fields less `percentCompleted` and
    /// `lastRestoredFileTime`; the fields of the file listing only once a file was found
    /// (before, `status` and `numberOfFilesDetected` alone); `currentRestoringFileName` the
    /// file restoring, else the last restored, else `"<empty value>"`.
    Recorded2019,
}

/// Versions whose answers the recordings show differing from their spec (whose schema and
/// example have `percentCompleted`): the recorded shape wins (docs/fidelity.md).
pub const RECORDED_SHAPES: &[(&str, DetailsShape)] = &[
    ("2019-06-01-preview", DetailsShape::Recorded2019),
    ("2020-02-02-preview", DetailsShape::Recorded2019),
];

/// Every `Microsoft.Sql` api-version whose spec has `ManagedDatabaseRestoreDetails.json`, with
/// the shape of its `ManagedDatabaseRestoreDetailsProperties`, read from
/// `specification/sql/resource-manager/Microsoft.Sql/{stable,preview}/<version>/ManagedDatabaseRestoreDetails.json`
/// in Azure/azure-rest-api-specs. 2026-08-01-preview is not in that repository's classic
/// layout; its shape is the one azure-mgmt-sql 5.0.0b2 (which sends it) deserializes.
pub const SPEC_SHAPES: &[(&str, DetailsShape)] = &[
    // Stable.
    ("2021-11-01", DetailsShape::Old),
    ("2023-08-01", DetailsShape::Old),
    ("2025-01-01", DetailsShape::New),
    // Previews.
    ("2020-02-02-preview", DetailsShape::Old),
    ("2020-08-01-preview", DetailsShape::Old),
    ("2020-11-01-preview", DetailsShape::Old),
    ("2021-02-01-preview", DetailsShape::Old),
    ("2021-05-01-preview", DetailsShape::Old),
    ("2021-08-01-preview", DetailsShape::Old),
    ("2021-11-01-preview", DetailsShape::Old),
    ("2022-02-01-preview", DetailsShape::New),
    ("2022-05-01-preview", DetailsShape::New),
    ("2022-08-01-preview", DetailsShape::New),
    ("2022-11-01-preview", DetailsShape::New),
    ("2023-02-01-preview", DetailsShape::New),
    ("2023-05-01-preview", DetailsShape::New),
    ("2023-08-01-preview", DetailsShape::New),
    ("2024-05-01-preview", DetailsShape::New),
    ("2024-11-01-preview", DetailsShape::New),
    ("2025-02-01-preview", DetailsShape::New),
    ("2026-08-01-preview", DetailsShape::New),
];

/// Our rule for versions not in [`SPEC_SHAPES`]: the first stable version with the new shape.
const FIRST_NEW_STABLE: &str = "2025-01-01";
/// Our rule for versions not in [`SPEC_SHAPES`]: the first preview date with the new shape.
const FIRST_NEW_PREVIEW: &str = "2022-02-01";

impl DetailsShape {
    /// The shape for an api-version: the spec's for a version in [`SPEC_SHAPES`]; otherwise
    /// our rule, which extends the table's two lines:
    ///
    /// * a stable version (a bare `YYYY-MM-DD`) is old before 2025-01-01, new from it on;
    /// * a version with a suffix after the date (`-preview`, `-privatepreview`, …) is old
    ///   before 2022-02-01, new from it on;
    /// * anything that does not start with a date gets the new shape.
    pub fn for_api_version(api_version: &str) -> Self {
        RECORDED_SHAPES
            .iter()
            .chain(SPEC_SHAPES)
            .find(|(v, _)| *v == api_version)
            .map_or_else(|| shape_by_rule(api_version), |(_, shape)| *shape)
    }
}

/// The rule for versions the spec table does not list (see [`DetailsShape::for_api_version`]).
fn shape_by_rule(api_version: &str) -> DetailsShape {
    let Some(date) = date_part(api_version) else {
        return DetailsShape::New;
    };
    let first_new = if api_version.len() == date.len() {
        FIRST_NEW_STABLE
    } else {
        FIRST_NEW_PREVIEW
    };
    if date < first_new {
        DetailsShape::Old
    } else {
        DetailsShape::New
    }
}

/// The `YYYY-MM-DD` prefix of an api-version, when it has one.
fn date_part(api_version: &str) -> Option<&str> {
    let date = api_version.get(..10)?;
    let b = date.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10)).then_some(date)
}

/// The whole resource: `properties` in the api-version's shape plus `id` (the request path),
/// `name: "Default"` and the resource type.
pub fn restore_details_body(details: &RestoreDetails, api_version: &str, id: &str) -> Value {
    json!({
        "properties": restore_details_properties(details, DetailsShape::for_api_version(api_version)),
        "id": id,
        "name": "Default",
        "type": "Microsoft.Sql/managedInstances/databases/restoreDetails",
    })
}

/// `properties` in the given shape.
pub fn restore_details_properties(details: &RestoreDetails, shape: DetailsShape) -> Value {
    if shape == DetailsShape::Recorded2019 {
        return recorded_2019_properties(details);
    }
    let mut p = Map::new();
    let put_opt = |p: &mut Map<String, Value>, key: &str, value: Option<Value>| {
        if let Some(v) = value {
            p.insert(key.to_string(), v);
        }
    };
    let string = |s: &Option<String>| s.as_ref().map(|s| Value::from(s.as_str()));
    let time = |t: &Option<chrono::DateTime<chrono::Utc>>| t.as_ref().map(|t| timestamp(t).into());

    if shape == DetailsShape::New {
        p.insert("type".into(), "LRSRestore".into());
    }
    p.insert("status".into(), details.status.as_str().into());
    put_opt(&mut p, "blockReason", string(&details.block_reason));
    put_opt(
        &mut p,
        "lastUploadedFileName",
        string(&details.last_uploaded_file_name),
    );
    put_opt(
        &mut p,
        "lastUploadedFileTime",
        time(&details.last_uploaded_file_time),
    );
    put_opt(
        &mut p,
        "lastRestoredFileName",
        string(&details.last_restored_file_name),
    );
    put_opt(
        &mut p,
        "lastRestoredFileTime",
        time(&details.last_restored_file_time),
    );
    put_opt(
        &mut p,
        "currentRestoringFileName",
        string(&details.current_restoring_file_name),
    );
    let percent = if details.percent_completed.is_finite() {
        details.percent_completed.clamp(0.0, 100.0)
    } else {
        0.0
    };
    match shape {
        DetailsShape::Old => {
            p.insert("percentCompleted".into(), json!(percent));
            p.insert(
                "numberOfFilesDetected".into(),
                details.number_of_files_detected.into(),
            );
            let names: Vec<Value> = details
                .unrestorable_files
                .iter()
                .map(|f| Value::from(f.name.as_str()))
                .collect();
            p.insert("unrestorableFiles".into(), names.into());
        }
        DetailsShape::Recorded2019 => {}
        DetailsShape::New => {
            p.insert("percentCompleted".into(), whole_percent(percent).into());
            p.insert(
                "currentRestoredSizeMB".into(),
                details.current_restored_size_mb.into(),
            );
            p.insert(
                "currentRestorePlanSizeMB".into(),
                details.current_restore_plan_size_mb.into(),
            );
            put_opt(
                &mut p,
                "currentBackupType",
                string(&details.current_backup_type),
            );
            for (key, n) in [
                ("numberOfFilesDetected", details.number_of_files_detected),
                ("numberOfFilesQueued", details.number_of_files_queued),
                ("numberOfFilesSkipped", details.number_of_files_skipped),
                ("numberOfFilesRestoring", details.number_of_files_restoring),
                ("numberOfFilesRestored", details.number_of_files_restored),
                (
                    "numberOfFilesUnrestorable",
                    details.number_of_files_unrestorable,
                ),
            ] {
                p.insert(key.into(), n.into());
            }
            for (key, sets) in [
                ("fullBackupSets", &details.full_backup_sets),
                ("diffBackupSets", &details.diff_backup_sets),
                ("logBackupSets", &details.log_backup_sets),
            ] {
                p.insert(key.into(), sets.iter().map(backup_set).collect());
            }
            let files: Vec<Value> = details
                .unrestorable_files
                .iter()
                .map(|f| json!({"name": f.name}))
                .collect();
            p.insert("unrestorableFiles".into(), files.into());
        }
    }
    Value::Object(p)
}

/// [`DetailsShape::Recorded2019`]'s `properties`.
fn recorded_2019_properties(details: &RestoreDetails) -> Value {
    let mut p = Map::new();
    p.insert("status".into(), details.status.as_str().into());
    if let Some(reason) = &details.block_reason {
        p.insert("blockReason".into(), reason.as_str().into());
    }
    if details.number_of_files_detected > 0 {
        let current = details
            .current_restoring_file_name
            .as_deref()
            .or(details.last_restored_file_name.as_deref())
            .unwrap_or("<empty value>");
        p.insert("currentRestoringFileName".into(), current.into());
        if let Some(last) = &details.last_restored_file_name {
            p.insert("lastRestoredFileName".into(), last.as_str().into());
        }
        let names: Vec<Value> = details
            .unrestorable_files
            .iter()
            .map(|f| Value::from(f.name.as_str()))
            .collect();
        p.insert("unrestorableFiles".into(), names.into());
    }
    p.insert(
        "numberOfFilesDetected".into(),
        details.number_of_files_detected.into(),
    );
    if details.number_of_files_detected > 0 {
        if let Some(name) = &details.last_uploaded_file_name {
            p.insert("lastUploadedFileName".into(), name.as_str().into());
        }
        if let Some(time) = &details.last_uploaded_file_time {
            p.insert("lastUploadedFileTime".into(), timestamp(time).into());
        }
    }
    Value::Object(p)
}

/// The int32 `percentCompleted` of the new shape: the percentage rounded down.
fn whole_percent(percent: f64) -> u8 {
    // `percent` is finite and clamped to 0..=100, so the cast is exact after floor().
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let whole = percent.floor() as u8;
    whole
}

fn backup_set(set: &BackupSetDetails) -> Value {
    let mut v = Map::new();
    v.insert("status".into(), set.status.as_str().into());
    v.insert(
        "firstStripeName".into(),
        set.first_stripe_name.as_str().into(),
    );
    v.insert("numberOfStripes".into(), set.number_of_stripes.into());
    v.insert("backupSizeMB".into(), set.backup_size_mb.into());
    if let Some(t) = &set.restore_started {
        v.insert("restoreStartedTimestampUtc".into(), timestamp(t).into());
    }
    if let Some(t) = &set.restore_finished {
        v.insert("restoreFinishedTimestampUtc".into(), timestamp(t).into());
    }
    Value::Object(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use lrs_engine::UnrestorableFile;

    fn details() -> RestoreDetails {
        let t = |h, m, s| Utc.with_ymd_and_hms(2022, 5, 9, h, m, s).single();
        RestoreDetails {
            status: "Restoring".into(),
            block_reason: None,
            last_uploaded_file_name: Some("log11.bak".into()),
            last_uploaded_file_time: Utc.with_ymd_and_hms(2022, 3, 1, 7, 54, 21).single(),
            last_restored_file_name: Some("log9_1.bak".into()),
            last_restored_file_time: t(12, 27, 20),
            percent_completed: 53.9,
            current_restored_size_mb: 25,
            current_restore_plan_size_mb: 47,
            current_backup_type: Some("Log".into()),
            current_restoring_file_name: Some("log10.bak".into()),
            number_of_files_detected: 25,
            number_of_files_queued: 1,
            number_of_files_skipped: 8,
            number_of_files_restoring: 1,
            number_of_files_restored: 14,
            number_of_files_unrestorable: 1,
            full_backup_sets: vec![BackupSetDetails {
                status: "Restored".into(),
                first_stripe_name: "full3_1.bak".into(),
                number_of_stripes: 3,
                backup_size_mb: 3,
                restore_started: t(12, 15, 40),
                restore_finished: t(12, 18, 41),
            }],
            diff_backup_sets: vec![],
            log_backup_sets: vec![BackupSetDetails {
                status: "Queued".into(),
                first_stripe_name: "log11.bak".into(),
                number_of_stripes: 1,
                backup_size_mb: 7,
                restore_started: None,
                restore_finished: None,
            }],
            unrestorable_files: vec![UnrestorableFile {
                name: "ImageFile.JPG".into(),
                reason: "not a backup".into(),
            }],
        }
    }

    /// The fields of the old `ManagedDatabaseRestoreDetailsProperties` (stable 2021-11-01 and
    /// 2023-08-01, previews up to 2021-11-01-preview), all of them.
    const OLD_SCHEMA_FIELDS: &[&str] = &[
        "status",
        "currentRestoringFileName",
        "lastRestoredFileName",
        "lastRestoredFileTime",
        "percentCompleted",
        "unrestorableFiles",
        "numberOfFilesDetected",
        "lastUploadedFileName",
        "lastUploadedFileTime",
        "blockReason",
    ];

    #[test]
    fn version_2019_06_01_preview_answers_as_recorded() {
        let shape = DetailsShape::for_api_version("2019-06-01-preview");
        assert_eq!(shape, DetailsShape::Recorded2019);
        // Restoring (recording of 2020-09-03, step 8: the same keys).
        let mut d = details();
        d.last_restored_file_name = None;
        assert_eq!(
            restore_details_properties(&d, shape),
            json!({"status":"Restoring","currentRestoringFileName":"log10.bak",
                   "unrestorableFiles":["ImageFile.JPG"],"numberOfFilesDetected":25,
                   "lastUploadedFileName":"log11.bak","lastUploadedFileTime":"2022-03-01T07:54:21Z"})
        );
        // Completed: the last restored file is also the "current" one (2020-08-26, step 33).
        let mut d = details();
        d.status = "Completed".into();
        d.current_restoring_file_name = None;
        let p = restore_details_properties(&d, shape);
        assert_eq!(p["currentRestoringFileName"], "log9_1.bak");
        assert_eq!(p["lastRestoredFileName"], "log9_1.bak");
        assert!(p.get("percentCompleted").is_none() && p.get("lastRestoredFileTime").is_none());
        // Files found, nothing restoring yet (2020-09-03, step 6).
        let mut d = details();
        d.status = "Initializing".into();
        d.current_restoring_file_name = None;
        d.last_restored_file_name = None;
        assert_eq!(
            restore_details_properties(&d, shape)["currentRestoringFileName"],
            "<empty value>"
        );
        // Nothing found yet (2020-08-26, steps 6 and 8).
        let mut d = details();
        d.status = "Initializing".into();
        d.number_of_files_detected = 0;
        assert_eq!(
            restore_details_properties(&d, shape),
            json!({"status":"Initializing","numberOfFilesDetected":0})
        );
    }

    /// Every version in `versions` gets `shape`.
    fn assert_shape(shape: DetailsShape, versions: &[&str]) {
        for v in versions {
            assert_eq!(DetailsShape::for_api_version(v), shape, "{v}");
        }
    }

    #[test]
    fn stable_versions_have_the_spec_shape() {
        // 2023-08-01 keeps the old shape though every preview since 2022-02-01 has the new.
        for (v, shape) in [
            ("2021-11-01", DetailsShape::Old),
            ("2023-08-01", DetailsShape::Old),
            ("2023-08-01-preview", DetailsShape::New),
            ("2025-01-01", DetailsShape::New),
        ] {
            assert_eq!(DetailsShape::for_api_version(v), shape, "{v}");
        }
    }

    #[test]
    fn preview_versions_have_the_spec_shape() {
        // Except where the recordings say otherwise.
        assert_shape(
            DetailsShape::Recorded2019,
            &["2019-06-01-preview", "2020-02-02-preview"],
        );
        assert_shape(
            DetailsShape::Old,
            &[
                "2020-08-01-preview",
                "2020-11-01-preview",
                "2021-02-01-preview",
                "2021-05-01-preview",
                "2021-08-01-preview",
                "2021-11-01-preview",
            ],
        );
        assert_shape(
            DetailsShape::New,
            &[
                "2022-02-01-preview",
                "2022-05-01-preview",
                "2022-08-01-preview",
                "2022-11-01-preview",
                "2023-02-01-preview",
                "2023-05-01-preview",
                "2023-08-01-preview",
                "2024-05-01-preview",
                "2024-11-01-preview",
                "2025-02-01-preview",
                "2026-08-01-preview",
            ],
        );
    }

    #[test]
    fn unknown_versions_follow_the_rule() {
        assert_shape(
            DetailsShape::Old,
            &[
                "2018-06-01-preview",
                "2017-03-01-preview",
                "2022-01-15-preview",
                "2021-12-01-privatepreview",
                "2022-06-01",
                "2024-12-31",
            ],
        );
        assert_shape(
            DetailsShape::New,
            &[
                "2022-03-01-preview",
                "2025-06-01-preview",
                "2027-01-01-preview",
                "2025-06-01",
                "2026-01-01",
                "latest",
                "",
            ],
        );
    }

    #[test]
    fn the_rule_agrees_with_every_version_in_the_table() {
        // The rule is the table's two lines extended; a spec version it would get wrong
        // would be a sign the rule no longer fits.
        for (v, shape) in SPEC_SHAPES {
            assert_eq!(shape_by_rule(v), *shape, "{v}");
        }
    }

    #[test]
    fn the_body_follows_the_exact_version() {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/managedInstances/mi/databases/db/restoreDetails/Default";
        let recorded = |v: &str| RECORDED_SHAPES.iter().any(|(r, _)| *r == v);
        for (v, shape) in SPEC_SHAPES.iter().filter(|(v, _)| !recorded(v)) {
            let body = restore_details_body(&details(), v, id);
            let p = &body["properties"];
            match shape {
                DetailsShape::Old => {
                    assert!(p.get("type").is_none(), "{v}");
                    assert!(p["percentCompleted"].is_f64(), "{v}");
                    assert_eq!(p["unrestorableFiles"], json!(["ImageFile.JPG"]), "{v}");
                }
                DetailsShape::Recorded2019 => panic!("{v}: the spec table has no recorded shape"),
                DetailsShape::New => {
                    assert_eq!(p["type"], "LRSRestore", "{v}");
                    assert!(p["percentCompleted"].is_u64(), "{v}");
                    assert_eq!(
                        p["unrestorableFiles"],
                        json!([{"name": "ImageFile.JPG"}]),
                        "{v}"
                    );
                }
            }
        }
    }

    #[test]
    fn old_shape_has_exactly_the_old_schema_fields() {
        let mut d = details();
        d.block_reason = Some("blocked".into());
        let p = restore_details_properties(&d, DetailsShape::Old);
        let mut keys: Vec<&str> = p
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        let mut want = OLD_SCHEMA_FIELDS.to_vec();
        want.sort_unstable();
        assert_eq!(keys, want);
    }

    #[test]
    fn new_shape_matches_the_spec_example_fields() {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/managedInstances/mi/databases/db/restoreDetails/Default";
        let body = restore_details_body(&details(), "2024-11-01-preview", id);
        assert_eq!(
            body,
            json!({
                "properties": {
                    "type": "LRSRestore",
                    "status": "Restoring",
                    "lastUploadedFileName": "log11.bak",
                    "lastUploadedFileTime": "2022-03-01T07:54:21Z",
                    "lastRestoredFileName": "log9_1.bak",
                    "lastRestoredFileTime": "2022-05-09T12:27:20Z",
                    "currentRestoringFileName": "log10.bak",
                    "percentCompleted": 53,
                    "currentRestoredSizeMB": 25,
                    "currentRestorePlanSizeMB": 47,
                    "currentBackupType": "Log",
                    "numberOfFilesDetected": 25,
                    "numberOfFilesQueued": 1,
                    "numberOfFilesSkipped": 8,
                    "numberOfFilesRestoring": 1,
                    "numberOfFilesRestored": 14,
                    "numberOfFilesUnrestorable": 1,
                    "fullBackupSets": [{
                        "status": "Restored", "firstStripeName": "full3_1.bak",
                        "numberOfStripes": 3, "backupSizeMB": 3,
                        "restoreStartedTimestampUtc": "2022-05-09T12:15:40Z",
                        "restoreFinishedTimestampUtc": "2022-05-09T12:18:41Z"
                    }],
                    "diffBackupSets": [],
                    "logBackupSets": [{
                        "status": "Queued", "firstStripeName": "log11.bak",
                        "numberOfStripes": 1, "backupSizeMB": 7
                    }],
                    "unrestorableFiles": [{"name": "ImageFile.JPG"}]
                },
                "id": id,
                "name": "Default",
                "type": "Microsoft.Sql/managedInstances/databases/restoreDetails"
            })
        );
        assert!(body["properties"]["percentCompleted"].is_u64());
        assert!(body["properties"].get("blockReason").is_none());
    }

    #[test]
    fn old_shape_has_strings_a_double_and_no_type() {
        let mut d = details();
        d.block_reason = Some("Gap in the log chain after log9_1.bak".into());
        let p = restore_details_properties(&d, DetailsShape::Old);
        assert_eq!(
            p,
            json!({
                "status": "Restoring",
                "blockReason": "Gap in the log chain after log9_1.bak",
                "lastUploadedFileName": "log11.bak",
                "lastUploadedFileTime": "2022-03-01T07:54:21Z",
                "lastRestoredFileName": "log9_1.bak",
                "lastRestoredFileTime": "2022-05-09T12:27:20Z",
                "currentRestoringFileName": "log10.bak",
                "percentCompleted": 53.9,
                "numberOfFilesDetected": 25,
                "unrestorableFiles": ["ImageFile.JPG"]
            })
        );
        assert!(p["percentCompleted"].is_f64());
    }

    #[test]
    fn absent_values_are_omitted_and_percent_is_clamped() {
        let d = RestoreDetails {
            status: "Initializing".into(),
            block_reason: None,
            last_uploaded_file_name: None,
            last_uploaded_file_time: None,
            last_restored_file_name: None,
            last_restored_file_time: None,
            percent_completed: f64::NAN,
            current_restored_size_mb: 0,
            current_restore_plan_size_mb: 0,
            current_backup_type: None,
            current_restoring_file_name: None,
            number_of_files_detected: 0,
            number_of_files_queued: 0,
            number_of_files_skipped: 0,
            number_of_files_restoring: 0,
            number_of_files_restored: 0,
            number_of_files_unrestorable: 0,
            full_backup_sets: vec![],
            diff_backup_sets: vec![],
            log_backup_sets: vec![],
            unrestorable_files: vec![],
        };
        let old = restore_details_properties(&d, DetailsShape::Old);
        assert_eq!(
            old,
            json!({"status":"Initializing","percentCompleted":0.0,"numberOfFilesDetected":0,"unrestorableFiles":[]})
        );
        let new = restore_details_properties(&d, DetailsShape::New);
        assert!(
            new.as_object()
                .is_some_and(|o| o.values().all(|v| !v.is_null()))
        );
        assert!(new.get("currentBackupType").is_none());
        let mut over = d.clone();
        over.percent_completed = 140.0;
        assert_eq!(
            restore_details_properties(&over, DetailsShape::New)["percentCompleted"],
            100
        );
    }
}
