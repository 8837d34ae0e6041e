//! The `lrs` binary as users run it: `headeronly`, `filelistonly`, `labelonly` on real backups.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// RESTORE HEADERONLY's columns, in SQL Server's order.
const HEADERONLY_COLUMNS: &[&str] = &[
    "BackupName",
    "BackupDescription",
    "BackupType",
    "ExpirationDate",
    "Compressed",
    "Position",
    "DeviceType",
    "UserName",
    "ServerName",
    "DatabaseName",
    "DatabaseVersion",
    "DatabaseCreationDate",
    "BackupSize",
    "FirstLSN",
    "LastLSN",
    "CheckpointLSN",
    "DatabaseBackupLSN",
    "BackupStartDate",
    "BackupFinishDate",
    "SortOrder",
    "CodePage",
    "UnicodeLocaleId",
    "UnicodeComparisonStyle",
    "CompatibilityLevel",
    "SoftwareVendorId",
    "SoftwareVersionMajor",
    "SoftwareVersionMinor",
    "SoftwareVersionBuild",
    "MachineName",
    "Flags",
    "BindingID",
    "RecoveryForkID",
    "Collation",
    "FamilyGUID",
    "HasBulkLoggedData",
    "IsSnapshot",
    "IsReadOnly",
    "IsSingleUser",
    "HasBackupChecksums",
    "IsDamaged",
    "BeginsLogChain",
    "HasIncompleteMetaData",
    "IsForceOffline",
    "IsCopyOnly",
    "FirstRecoveryForkID",
    "ForkPointLSN",
    "RecoveryModel",
    "DifferentialBaseLSN",
    "DifferentialBaseGUID",
    "BackupTypeDescription",
    "BackupSetGUID",
    "CompressedBackupSize",
    "Containment",
    "KeyAlgorithm",
    "EncryptorThumbprint",
    "EncryptorType",
];

const FILELISTONLY_COLUMNS: &[&str] = &[
    "LogicalName",
    "PhysicalName",
    "Type",
    "FileGroupName",
    "Size",
    "MaxSize",
    "FileID",
    "CreateLSN",
    "DropLSN",
    "UniqueID",
    "ReadOnlyLSN",
    "ReadWriteLSN",
    "BackupSizeInBytes",
    "SourceBlockSize",
    "FileGroupID",
    "LogGroupGUID",
    "DifferentialBaseLSN",
    "DifferentialBaseGUID",
    "IsReadOnly",
    "IsPresent",
    "TDEThumbprint",
    "SnapshotURL",
];

const LABELONLY_COLUMNS: &[&str] = &[
    "MediaName",
    "MediaSetId",
    "FamilyCount",
    "FamilySequenceNumber",
    "MediaFamilyId",
    "MediaSequenceNumber",
    "MediaLabelPresent",
    "MediaDescription",
    "SoftwareName",
    "SoftwareVendorId",
    "MediaDate",
    "MirrorCount",
    "IsCompressed",
];

fn fixtures() -> Option<PathBuf> {
    lrs_testkit::real_fixtures()
}

fn lrs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lrs"))
        .args(args)
        .output()
        .expect("run lrs")
}

fn json(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "lrs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout).expect("JSON output") {
        Value::Array(rows) => rows,
        other => panic!("expected an array, got {other}"),
    }
}

fn keys(row: &Value) -> Vec<String> {
    row.as_object().expect("object").keys().cloned().collect()
}

#[test]
fn headeronly_json_uses_sql_server_column_names() {
    let Some(dir) = fixtures() else { return };
    let rows = json(&lrs(&[
        "headeronly",
        "--json",
        dir.to_str().expect("utf-8 path"),
    ]));
    let (ok, errors): (Vec<&Value>, Vec<&Value>) =
        rows.iter().partition(|r| r.get("Error").is_none());
    assert_eq!(
        ok.len(),
        45,
        "one row per backup set, compressed ones included"
    );
    assert!(errors.is_empty(), "{errors:?}");
    let northwind = ok
        .iter()
        .find(|r| {
            r["File"]
                .as_str()
                .is_some_and(|f| f.ends_with("northwind.bak"))
        })
        .expect("the compressed fixture");
    assert_eq!(northwind["Compressed"], 1);
    assert_eq!(northwind["DatabaseName"], "NORTHWIND");
    let mut expected = vec!["File".to_string()];
    expected.extend(HEADERONLY_COLUMNS.iter().map(|c| (*c).to_string()));
    expected.push("HeaderPath".to_string());
    for row in &ok {
        assert_eq!(keys(row), expected);
        assert_eq!(row["HeaderPath"], "direct", "{}", row["File"]);
    }
    let stopat = ok
        .iter()
        .find(|r| {
            r["File"]
                .as_str()
                .is_some_and(|f| f.ends_with("StopAt_23.trn"))
        })
        .expect("StopAt_23.trn row");
    assert_eq!(stopat["FirstLSN"], "19000000021500001");
    assert_eq!(stopat["BackupType"], 2);
    assert_eq!(stopat["BackupTypeDescription"], "Transaction Log");
    assert_eq!(stopat["DatabaseName"], "StopAt");
    assert_eq!(stopat["ServerName"], "JUMPBOX\\SQL2008R2");
    assert_eq!(stopat["Position"], 1);
    assert_eq!(stopat["Compressed"], 0);
    assert_eq!(stopat["HasBackupChecksums"], false);
    assert_eq!(stopat["DifferentialBaseLSN"], Value::Null);
    assert_eq!(stopat["RecoveryModel"], "FULL");
}

#[test]
fn sql_server_2005_and_2012_backups_and_the_path_that_found_them() {
    let Some(dir) = fixtures() else { return };
    let more = dir.parent().expect("parent").join("real-more");
    assert!(more.is_dir(), "{} is missing", more.display());
    let more = more.to_str().expect("utf-8 path");
    let fast = json(&lrs(&["headeronly", "--json", more]));
    let walked = json(&lrs(&["headeronly", "--json", "--block-walk", more]));
    let summary = |rows: &[Value]| -> Vec<(String, String, String)> {
        rows.iter()
            .map(|r| {
                (
                    r["DatabaseName"].as_str().expect("name").to_string(),
                    format!(
                        "{}.{}",
                        r["SoftwareVersionMajor"], r["SoftwareVersionMinor"]
                    ),
                    r["HeaderPath"].as_str().expect("path").to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        summary(&fast),
        [
            (
                "smartshopaspmvc5".into(),
                "11.0".into(),
                "tail-search".into()
            ),
            ("Northwind".into(), "9.0".into(), "direct".into()),
        ]
    );
    assert!(summary(&walked).iter().all(|(_, _, p)| p == "block-walk"));
    for (a, b) in fast.iter().zip(&walked) {
        let (mut a, mut b) = (a.clone(), b.clone());
        a["HeaderPath"] = Value::Null;
        b["HeaderPath"] = Value::Null;
        assert_eq!(a, b, "every column is the same either way");
    }
    let files = json(&lrs(&["filelistonly", "--json", more]));
    assert_eq!(files.len(), 4, "a data and a log file each");
    let labels = json(&lrs(&["labelonly", "--json", more]));
    assert_eq!(labels.len(), 2);
}

#[test]
fn filelistonly_and_labelonly_json() {
    let Some(dir) = fixtures() else { return };
    let stripe = dir.join("dataplat-appveyor-lab/sql2008-backups/RestoreTimeStripe");
    let stripe = stripe.to_str().expect("utf-8 path");
    let labels = json(&lrs(&["labelonly", "--json", stripe]));
    assert_eq!(labels.len(), 16);
    let mut expected = vec!["File".to_string()];
    expected.extend(LABELONLY_COLUMNS.iter().map(|c| (*c).to_string()));
    for row in &labels {
        assert_eq!(keys(row), expected);
        assert_eq!(row["FamilyCount"], 2);
        let in_stripe2 = row["File"].as_str().expect("file").contains("/Stripe2/");
        assert_eq!(row["FamilySequenceNumber"], if in_stripe2 { 2 } else { 1 });
    }
    let files = json(&lrs(&["filelistonly", "--json", stripe]));
    assert_eq!(files.len(), 32, "data + log file per backup");
    let mut expected = vec!["File".to_string(), "Position".to_string()];
    expected.extend(FILELISTONLY_COLUMNS.iter().map(|c| (*c).to_string()));
    for row in &files {
        assert_eq!(keys(row), expected);
    }
    assert_eq!(files[0]["Type"], "D");
    assert_eq!(files[0]["FileGroupName"], "PRIMARY");
    assert_eq!(files[1]["Type"], "L");
    assert_eq!(files[1]["FileGroupName"], Value::Null);
}

#[test]
fn table_output_and_exit_codes() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let text = scratch.path().join("notes.txt");
    std::fs::write(&text, "not a backup").expect("write");
    let out = lrs(&["headeronly", text.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "nothing readable: failure");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("not a SQL Server backup"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("none of the 1 file(s)"));

    let Some(dir) = fixtures() else { return };
    let stopat = dir.join("dataplat-appveyor-lab/sql2008-backups/StopAt");
    let out = lrs(&[
        "headeronly",
        stopat.to_str().expect("utf-8"),
        text.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "some files readable: success");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("File"), "{stdout}");
    assert!(stdout.contains("19000000021500001"));
    assert!(stdout.contains("Not readable as a backup (1):"));
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains("Transaction Log"))
            .count(),
        4
    );
}

#[test]
fn plan_prints_the_restore_as_tsql_and_json() {
    let Some(dir) = fixtures() else { return };
    let stopat = dir.join("dataplat-appveyor-lab/sql2008-backups/StopAt");
    let stopat = stopat.to_str().expect("utf-8");
    let out = lrs(&["plan", "--profile", "ga", "--target", "StopAt_Copy", stopat]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let restores: Vec<&str> = text.lines().filter(|l| l.starts_with("RESTORE")).collect();
    assert_eq!(restores.len(), 5, "{text}");
    assert!(
        restores[0].starts_with("RESTORE DATABASE [StopAt_Copy] FROM DISK = N'"),
        "{}",
        restores[0]
    );
    assert!(restores[0].contains("StopAt.bak' WITH FILE = 1, NORECOVERY;"));
    assert!(
        restores[4].starts_with("RESTORE LOG [StopAt_Copy]")
            && restores[4].contains("StopAt_23.trn")
    );
    assert!(text.contains("-- Then, at cutover: RESTORE DATABASE [StopAt_Copy] WITH RECOVERY;"));

    // The 2021 profile requires CHECKSUM, which these backups lack.
    let out = lrs(&["plan", stopat]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("RESTORE")).count(),
        0,
        "{text}"
    );
    assert!(text.contains("without CHECKSUM"), "{text}");

    let out = lrs(&["plan", "--profile", "ga", "--json", stopat]);
    let plan: Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    assert_eq!(plan["order"].as_array().map(Vec::len), Some(5));
    assert_eq!(plan["database"], "StopAt");
    assert_eq!(plan["redoLsn"], "19000000024600001");
}

fn rows(out: &Output) -> Vec<Value> {
    match serde_json::from_slice(&out.stdout).expect("JSON output") {
        Value::Array(rows) => rows,
        other => panic!("expected an array, got {other}"),
    }
}

#[test]
fn verify_passes_every_real_backup_but_the_password_protected_one() {
    let Some(dir) = fixtures() else { return };
    let more = dir.parent().expect("parent").join("real-more");
    let out = lrs(&[
        "verify",
        "--json",
        dir.to_str().expect("utf-8"),
        more.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "one set fails: exit 1");
    let rows = rows(&out);
    assert_eq!(rows.len(), 47, "one row per set of every file");
    let invalid: Vec<&Value> = rows.iter().filter(|r| r["Valid"] == false).collect();
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert!(
        invalid[0]["File"]
            .as_str()
            .expect("file")
            .ends_with("passwd.bak")
    );
    assert_eq!(invalid[0]["ErrorNumber"], 3279);
    assert_eq!(
        invalid[0]["Error"],
        "Access is denied due to a password failure"
    );
    // The checksummed dbareports sets had their pages and backup checksums verified.
    let checked: u64 = rows
        .iter()
        .map(|r| r["BackupChecksums"].as_u64().expect("count"))
        .sum();
    assert_eq!(checked, 8);
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 47 backup set(s) failed"));

    // The real checksummed full with one flipped byte in a page's rows: 3183, page named.
    let real = dir.join(
        "dataplat-appveyor-lab/sql2008-backups/dbareports/FULL/SQL2008_dbareports_FULL_20170518_041739.bak",
    );
    let mut bytes = std::fs::read(&real).expect("read");
    let mqda = lrs_backup::mtf_layout(&bytes)
        .expect("layout")
        .into_iter()
        .flat_map(|b| b.streams)
        .find(|s| s.tag.0 == *b"MQDA")
        .expect("data stream");
    let page_at = usize::try_from(mqda.offset).expect("o") + 22 + 2 + 30 * 8192;
    let page = u32::from_le_bytes(bytes[page_at + 32..page_at + 36].try_into().expect("u32"));
    bytes[page_at + 4000] ^= 0x01;
    let scratch = tempfile::tempdir().expect("dir");
    let copy = scratch.path().join("full.bak");
    std::fs::write(&copy, &bytes).expect("write");
    let out = lrs(&["verify", "--json", copy.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let damaged = crate::rows(&out);
    assert_eq!(damaged[0]["ErrorNumber"], 3183);
    let error = damaged[0]["Error"].as_str().expect("text");
    assert!(
        error.starts_with(&format!("page (1:{page}) at offset ")),
        "{error}"
    );
}

#[test]
fn verify_names_a_corrupt_page_and_fails() {
    let dir = tempfile::tempdir().expect("dir");
    let out_dir = dir.path().join("chain");
    let out_dir = out_dir.to_str().expect("utf-8");
    let forged = lrs(&[
        "forge",
        "chain",
        "--db",
        "Sales",
        "--out",
        out_dir,
        "--checksum",
        "--logs",
        "1",
        "--data-size",
        "1MiB",
    ]);
    assert!(
        forged.status.success(),
        "{}",
        String::from_utf8_lossy(&forged.stderr)
    );
    let clean = lrs(&["verify", out_dir]);
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&clean.stdout)
            .matches("The backup set on file 1 is valid.")
            .count(),
        2
    );
    // Flip one byte in page 20 of the full's data stream.
    let full = std::path::Path::new(out_dir).join("Sales_FULL_01.bak");
    let mut bytes = std::fs::read(&full).expect("read");
    let layout = lrs_backup::mtf_layout(&bytes).expect("layout");
    let mqda = layout
        .iter()
        .flat_map(|b| b.streams.iter())
        .find(|s| s.tag.0 == *b"MQDA")
        .expect("data stream");
    let at = usize::try_from(mqda.offset).expect("o") + 22 + 2 + 20 * 8192 + 1000;
    bytes[at] ^= 0x04;
    std::fs::write(&full, &bytes).expect("write");
    let out = lrs(&["verify", "--json", out_dir]);
    assert_eq!(out.status.code(), Some(1));
    let rows = rows(&out);
    let bad = rows
        .iter()
        .find(|r| r["Valid"] == false)
        .expect("the full fails");
    assert_eq!(bad["ErrorNumber"], 3183);
    let error = bad["Error"].as_str().expect("text");
    assert!(error.starts_with("page (1:20) at offset "), "{error}");
    assert!(error.contains("incorrect page checksum"), "{error}");
    // Piped output carries no progress bar.
    assert!(!String::from_utf8_lossy(&out.stderr).contains('\r'));
}
