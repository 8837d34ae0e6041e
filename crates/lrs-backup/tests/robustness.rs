//! Bad input never panics and always gets a specific, located error: random bytes, every
//! truncation of a real backup, mutated configuration records, broken checksums, non-backups.
//! Also covers files holding several backup sets (`WITH NOINIT`), built from real sets.

mod support;

use lrs_backup::{BackupError, BackupMedia, ErrorKind, ReadOptions};
use proptest::prelude::*;
use support::fixtures;

const SMALL_LOG: &str = "dataplat-appveyor-lab/sql2008-backups/dbareports/LOG/SQL2008_dbareports_LOG_20170518_041837.trn";
const STOPAT: &str = "dataplat-appveyor-lab/sql2008-backups/StopAt";

fn read(data: &[u8], allow_truncated: bool) -> Result<BackupMedia, BackupError> {
    lrs_backup::read_backup_from_bytes(
        "input.bak",
        data.to_vec(),
        ReadOptions {
            allow_truncated,
            ..ReadOptions::default()
        },
    )
}

fn fixture(rel: &str) -> Option<Vec<u8>> {
    fixtures().map(|dir| std::fs::read(dir.join(rel)).expect("read fixture"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = read(&data, false);
        let _ = read(&data, true);
    }

    #[test]
    fn random_bytes_after_a_tape_magic_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut data = b"TAPE".to_vec();
        data.extend_from_slice(&tail);
        let err = read(&data, true).expect_err("random bytes are not a backup");
        prop_assert_eq!(err.file, "input.bak");
    }
}

#[test]
fn every_truncation_of_a_real_backup_is_a_truncation_error() {
    let Some(data) = fixture(SMALL_LOG) else {
        return;
    };
    assert!(read(&data, false).is_ok());
    let mut first_readable = None;
    for len in 1..data.len() {
        let err = read(&data[..len], false).expect_err("a cut file is not complete");
        assert!(
            matches!(err.kind, ErrorKind::Truncated(_)),
            "cut at {len}: {err}"
        );
        // Lenient mode reads the start copy (MSCI) as soon as its records and the header of
        // the pad stream that ends the block are there, and from then on at every longer cut.
        match read(&data[..len], true) {
            Ok(media) => {
                assert!(media.truncated, "cut at {len}");
                assert_eq!(
                    media.sets[0].header.database_name.as_deref(),
                    Some("dbareports")
                );
                first_readable.get_or_insert(len);
            }
            Err(e) => assert!(
                first_readable.is_none(),
                "cut at {len} unreadable again: {e}"
            ),
        }
    }
    // MSCI at 3584: header 56 bytes, MQCI stream header 22 + 2908 bytes of records, aligned to
    // 6572, then the SPAD stream header (22 bytes).
    assert_eq!(first_readable, Some(6594));
}

#[test]
fn truncations_of_a_large_backup_at_block_boundaries() {
    let Some(data) = fixture("HoangDe13-WebDentalClinic/WebDentalClinic-2019.bak") else {
        return;
    };
    for block in (512..data.len()).step_by(512) {
        for len in [block - 1, block, block + 1] {
            let err = read(&data[..len], false).expect_err("cut");
            assert!(
                matches!(err.kind, ErrorKind::Truncated(_)),
                "cut at {len}: {err}"
            );
            let _ = read(&data[..len], true);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Configuration records are not checksummed: mutating them must still never panic.
    #[test]
    fn mutated_configuration_records_never_panic(
        edits in proptest::collection::vec((3584usize..15872, any::<u8>()), 1..16)
    ) {
        let Some(mut data) = fixture(SMALL_LOG) else { return Ok(()) };
        for (at, value) in edits {
            data[at] = value;
        }
        let _ = read(&data, false);
        let _ = read(&data, true);
    }
}

#[test]
fn broken_checksums_are_reported_where_they_are() {
    let Some(data) = fixture(SMALL_LOG) else {
        return;
    };
    let mut sset = data.clone();
    sset[1536 + 20] ^= 0x40; // SSET logical address: header checksum no longer matches
    let err = read(&sset, false).expect_err("bad SSET");
    assert_eq!(err.offset, 1536);
    assert!(
        matches!(
            err.kind,
            ErrorKind::BadChecksum {
                what: "SSET block header",
                ..
            }
        ),
        "{err}"
    );

    let mut stream = data.clone();
    stream[3640 + 8] ^= 0x01; // MSCI's MQCI stream length
    let err = read(&stream, false).expect_err("bad stream header");
    assert_eq!(err.offset, 3640);
    assert!(
        matches!(
            err.kind,
            ErrorKind::BadChecksum {
                what: "stream header",
                ..
            }
        ),
        "{err}"
    );

    let mut msls = data;
    msls[8704 + 4] ^= 0x01; // MSLS block attributes
    let err = read(&msls, false).expect_err("bad MSLS");
    assert_eq!(err.offset, 8704);
    assert!(err.to_string().contains("MSLS block"), "{err}");
}

/// Deterministic bytes that look like ciphertext.
fn noise(len: u32) -> Vec<u8> {
    (0..len)
        .map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()[2])
        .collect()
}

/// A soft filemark block as SQL Server writes them: "SFMB", vendor attribute, checksum.
fn soft_filemark(size: usize) -> Vec<u8> {
    let mut b = vec![0u8; size];
    b[..4].copy_from_slice(b"SFMB");
    b[4..8].copy_from_slice(&0x8000_0000u32.to_le_bytes());
    let sum = b[..50]
        .chunks_exact(2)
        .fold(0u16, |x, w| x ^ u16::from_le_bytes([w[0], w[1]]));
    b[50..52].copy_from_slice(&sum.to_le_bytes());
    b
}

#[test]
fn encrypted_backups_are_recognised_by_their_clear_filemarks() {
    // WITH ENCRYPTION: an unreadable head, soft filemark blocks in clear, one at the end.
    for sfm in [512usize, 4096] {
        let mut data = noise(64 * 1024);
        data.extend_from_slice(&soft_filemark(sfm));
        let err = read(&data, false).expect_err("encrypted");
        assert!(matches!(err.kind, ErrorKind::Encrypted(_)), "{sfm}: {err}");
        assert!(err.to_string().contains("WITH ENCRYPTION"));
    }
    // The same bytes without the filemark are just not a backup.
    let noise = noise(64 * 1024);
    assert!(matches!(
        read(&noise, false).expect_err("noise").kind,
        ErrorKind::NotABackup(_)
    ));
}

#[test]
fn things_that_are_not_backups() {
    let err = read(b"", false).expect_err("empty");
    assert_eq!(err.kind, ErrorKind::NotABackup("the file is empty".into()));
    let err = read(b"BACKUP DATABASE [Sales] TO DISK = 'x'", false).expect_err("text");
    assert!(matches!(err.kind, ErrorKind::NotABackup(_)), "{err}");
    assert_eq!(err.offset, 0);
    assert!(
        err.to_string().contains("42 41 43 4B"),
        "names the bytes found: {err}"
    );
    let mut compressed = b"MSSQLBAK".to_vec();
    compressed.extend_from_slice(&2u32.to_le_bytes());
    let err = read(&compressed, false).expect_err("a container header alone");
    assert!(matches!(err.kind, ErrorKind::Truncated(_)), "{err}");
    let err = read(b"TAPE", false).expect_err("too short");
    assert!(matches!(err.kind, ErrorKind::Truncated(_)), "{err}");
}

/// Write a soft filemark table listing `earlier` (file offsets), newest first, into the SFMB
/// block `block`, as SQL Server does for every filemark it writes.
fn write_filemark_table(block: &mut [u8], earlier: &[u64]) {
    let used = u32::try_from(earlier.len()).expect("few");
    block[56..60].copy_from_slice(&used.to_le_bytes());
    for (k, mark) in earlier.iter().rev().enumerate() {
        block[72 + 8 * k..80 + 8 * k].copy_from_slice(&mark.to_le_bytes());
    }
}

/// Append the backup sets of `files` (real single-set files with 512-byte soft filemarks) into
/// one file, the way `BACKUP ... WITH NOINIT` appends sets: `TAPE SFMB | set | SFMB | set ...`,
/// ending with a soft filemark whose table lists every earlier one, newest first.
fn append_sets(files: &[Vec<u8>]) -> Vec<u8> {
    const SFM: usize = 512;
    const FIRST_SET: usize = 1536;
    let mut out = files[0][..FIRST_SET].to_vec();
    let mut marks = vec![1024u64];
    let filemark = files[0][files[0].len() - SFM..].to_vec();
    for (i, file) in files.iter().enumerate() {
        if i > 0 {
            let mut between = filemark.clone();
            write_filemark_table(&mut between, &marks);
            marks.push(out.len() as u64);
            out.extend_from_slice(&between);
        }
        let set_at = out.len();
        let body = &file[FIRST_SET..file.len() - SFM];
        // The set's closing filemark is the last SFMB before its two ESET blocks.
        let close = (0..body.len())
            .step_by(SFM)
            .rev()
            .find(|&at| body[at..].starts_with(b"SFMB"))
            .expect("closing SFMB");
        out.extend_from_slice(body);
        write_filemark_table(&mut out[set_at + close..set_at + close + SFM], &marks);
        marks.push((set_at + close) as u64);
        let position = u16::try_from(i + 1).expect("few sets");
        out[set_at + 62..set_at + 64].copy_from_slice(&position.to_le_bytes());
    }
    let mut last = filemark;
    write_filemark_table(&mut last, &marks);
    out.extend_from_slice(&last);
    out
}

#[test]
fn several_backup_sets_in_one_file() {
    let Some(dir) = fixtures() else { return };
    let names = ["StopAt_1.trn", "StopAt_2.trn", "StopAt_21.trn"];
    let files: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(dir.join(STOPAT).join(n)).expect("read"))
        .collect();
    let singles: Vec<BackupMedia> = files
        .iter()
        .map(|f| read(f, false).expect("single"))
        .collect();
    for count in 1..=3 {
        let media = read(&append_sets(&files[..count]), false).expect("appended sets");
        assert_eq!(media.sets.len(), count);
        for (i, set) in media.sets.iter().enumerate() {
            let single = &singles[i].sets[0].header;
            assert_eq!(usize::from(set.header.position), i + 1);
            assert_eq!(set.header.first_lsn, single.first_lsn, "set {}", i + 1);
            assert_eq!(set.header.last_lsn, single.last_lsn, "set {}", i + 1);
            assert_eq!(set.header.backup_set_guid, single.backup_set_guid);
            assert_eq!(set.header.backup_finish_date, single.backup_finish_date);
        }
    }
    // Cutting the appended file after the second set's data reports the missing end.
    let both = append_sets(&files[..2]);
    let media = read(&both, false).expect("two sets");
    let close = usize::try_from(media.sets[1].data_end_offset).expect("offset") + 512;
    let err = read(&both[..close], false).expect_err("second set incomplete");
    assert!(matches!(err.kind, ErrorKind::Truncated(_)), "{err}");
    // Leniently, both sets are there with their final values; the file is marked cut.
    let cut = read(&both[..close], true).expect("lenient read");
    assert!(cut.truncated);
    assert_eq!(cut.sets.len(), 2);
    assert_eq!(
        cut.sets[1].header.last_lsn,
        singles[1].sets[0].header.last_lsn
    );
}
