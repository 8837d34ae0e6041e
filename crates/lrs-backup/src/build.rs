//! Turns decoded blocks and records into the report rows ([`BackupHeader`], [`FileListEntry`],
//! [`MediaLabel`]), applying SQL Server's documented NULL rules and the derivations recorded in
//! `docs/backup-reader.md`.

use crate::collation::{code_page, collation_name};
use crate::config::{Scin, Sfin, SqlConfig};
use crate::error::FormatError;
use crate::lsn::Lsn;
use crate::model::{
    BackupHeader, BackupSet, BackupType, ConfigSource, FileListEntry, FileType, HeaderPath,
    MediaLabel, RecoveryModel,
};
use crate::mtf::{MediaSetInfo, SSET_ATTR_COPY, SsetBlock, TapeBlock, VolbBlock};

/// SQL Server's software vendor ID.
const SQL_SERVER_VENDOR_ID: u32 = 4608;
/// HEADERONLY `DeviceType` for disk.
const DEVICE_TYPE_DISK: u8 = 2;

// SCIN flag bits with documented HEADERONLY meanings.
const FLAG_BULK_LOGGED: u32 = 0x1;
const FLAG_SNAPSHOT: u32 = 0x2;
const FLAG_READ_ONLY: u32 = 0x4;
const FLAG_SINGLE_USER: u32 = 0x8;
const FLAG_CHECKSUMS: u32 = 0x10;
const FLAG_DAMAGED: u32 = 0x20;
const FLAG_INCOMPLETE_METADATA: u32 = 0x80;
const FLAG_FORCE_OFFLINE: u32 = 0x100;

// Database status bits (SCIN+244) that carry the recovery model.
const STATUS_SIMPLE: u32 = 0x8;
const STATUS_BULK_LOGGED: u32 = 0x4;

/// The LABELONLY row.
pub(crate) fn build_label(tape: &TapeBlock, media: &MediaSetInfo, compressed: bool) -> MediaLabel {
    MediaLabel {
        media_name: tape.media_name.clone(),
        media_set_id: media.media_set_id,
        family_count: media.family_count,
        family_sequence_number: media.family_sequence_number,
        media_family_id: None,
        media_sequence_number: tape.media_sequence_number,
        media_label_present: u8::from(tape.attributes & 0x2 != 0),
        media_description: tape.media_description.clone(),
        software_name: tape.software_name.clone(),
        software_vendor_id: u32::from(tape.software_vendor_id),
        media_date: tape.media_date,
        mirror_count: media.mirror_count,
        is_compressed: u8::from(compressed),
    }
}

/// One backup set from its SSET/VOLB blocks and a configuration copy.
pub(crate) fn build_set(
    sset: &SsetBlock,
    volb: &VolbBlock,
    config: &SqlConfig,
    media: &MediaSetInfo,
    source: ConfigSource,
    compressed: bool,
    (start_offset, data_end_offset): (u64, u64),
) -> Result<BackupSet, FormatError> {
    let scin = &config.scin;
    let header = build_header(sset, volb, scin, compressed);
    let files = config.files.iter().map(|f| build_file(f, config)).collect();
    Ok(BackupSet {
        header,
        files,
        media: *media,
        config_source: source,
        last_full_backup_guid: scin.last_full_backup_guid.non_nil(),
        last_log_backup_lsn: scin.last_log_backup_lsn.non_zero(),
        utc_offset_minutes: sset.utc_offset_minutes,
        start_offset,
        data_end_offset,
        header_path: match source {
            ConfigSource::Final => HeaderPath::Direct,
            ConfigSource::Provisional => HeaderPath::Provisional,
        },
    })
}

fn build_header(sset: &SsetBlock, volb: &VolbBlock, scin: &Scin, compressed: bool) -> BackupHeader {
    let backup_type = scin.backup_type;
    let flags = scin.flags;
    let differential = backup_type.is_differential();
    let (first_recovery_fork_id, fork_point_lsn) = first_fork(scin);
    BackupHeader {
        backup_name: sset.backup_name.clone(),
        backup_description: sset.backup_description.clone(),
        backup_type,
        expiration_date: None,
        compressed: u8::from(compressed),
        position: sset.position,
        device_type: DEVICE_TYPE_DISK,
        user_name: sset.user_name.clone(),
        server_name: scin.server_name.clone(),
        database_name: scin.database_name.clone(),
        database_version: scin.database_version,
        database_creation_date: scin.database_creation_date,
        backup_size: scin.backup_size,
        first_lsn: scin.first_lsn,
        last_lsn: scin.last_lsn,
        checkpoint_lsn: scin.checkpoint_lsn,
        database_backup_lsn: scin.database_backup_lsn,
        backup_start_date: scin.backup_start_date,
        backup_finish_date: scin.backup_finish_date,
        sort_order: u16::from(scin.sort_order),
        code_page: code_page(scin.collation_id, scin.collation_sort_id),
        unicode_locale_id: scin.unicode_locale_id,
        unicode_comparison_style: scin.unicode_comparison_style,
        compatibility_level: scin.compatibility_level,
        software_vendor_id: SQL_SERVER_VENDOR_ID,
        software_version_major: scin.software_version_major,
        software_version_minor: scin.software_version_minor,
        software_version_build: scin.software_version_build,
        machine_name: volb.machine_name.clone(),
        flags,
        binding_id: scin.binding_id,
        recovery_fork_id: scin.recovery_fork_id,
        collation: collation_name(scin.collation_id, scin.collation_sort_id),
        family_guid: scin.family_guid,
        has_bulk_logged_data: flags & FLAG_BULK_LOGGED != 0,
        is_snapshot: flags & FLAG_SNAPSHOT != 0,
        is_read_only: flags & FLAG_READ_ONLY != 0,
        is_single_user: flags & FLAG_SINGLE_USER != 0,
        has_backup_checksums: flags & FLAG_CHECKSUMS != 0,
        is_damaged: flags & FLAG_DAMAGED != 0,
        begins_log_chain: backup_type.is_log() && scin.last_log_backup_lsn.is_zero(),
        has_incomplete_meta_data: flags & FLAG_INCOMPLETE_METADATA != 0,
        is_force_offline: flags & FLAG_FORCE_OFFLINE != 0,
        is_copy_only: sset.attributes & SSET_ATTR_COPY != 0,
        first_recovery_fork_id,
        fork_point_lsn,
        recovery_model: recovery_model(scin.database_status),
        differential_base_lsn: differential.then_some(scin.differential_base_lsn),
        differential_base_guid: differential.then_some(scin.differential_base_guid),
        backup_type_description: backup_type.description(),
        backup_set_guid: sset.backup_set_guid,
        compressed_backup_size: scin.compressed_backup_size.unwrap_or(scin.backup_size),
        containment: 0,
        key_algorithm: None,
        encryptor_thumbprint: None,
        encryptor_type: None,
    }
}

/// `FirstRecoveryForkID` / `ForkPointLSN`: a log backup whose first record precedes the
/// current fork's starting point began on the parent fork; everything else began on the
/// current fork (and SQL Server shows ForkPointLSN as NULL).
fn first_fork(scin: &Scin) -> (crate::values::Guid, Option<Lsn>) {
    let spans_fork = scin.backup_type == BackupType::TransactionLog
        && !scin.fork_point_lsn.is_zero()
        && !scin.parent_recovery_fork_id.is_nil()
        && scin.first_lsn < scin.fork_point_lsn;
    if spans_fork {
        (scin.parent_recovery_fork_id, Some(scin.fork_point_lsn))
    } else {
        (scin.recovery_fork_id, None)
    }
}

fn recovery_model(status: u32) -> RecoveryModel {
    if status & STATUS_SIMPLE != 0 {
        RecoveryModel::Simple
    } else if status & STATUS_BULK_LOGGED != 0 {
        RecoveryModel::BulkLogged
    } else {
        RecoveryModel::Full
    }
}

fn build_file(file: &Sfin, config: &SqlConfig) -> FileListEntry {
    let file_group_name = config
        .filegroups
        .iter()
        .find(|g| file.filegroup_id != 0 && g.id == file.filegroup_id)
        .and_then(|g| g.name.clone());
    FileListEntry {
        logical_name: file.logical_name.clone(),
        physical_name: file.physical_name.clone(),
        file_type: FileType::from_code(file.type_code),
        file_group_name,
        size: file.size,
        max_size: file.max_size,
        file_id: file.file_id,
        create_lsn: Lsn::ZERO,
        drop_lsn: Lsn::ZERO,
        unique_id: file.unique_id,
        read_only_lsn: Lsn::ZERO,
        read_write_lsn: Lsn::ZERO,
        backup_size_in_bytes: u64::from(file.pages_in_backup) * 8192,
        source_block_size: file.source_block_size,
        file_group_id: file.filegroup_id,
        log_group_guid: None,
        differential_base_lsn: file.differential_base_lsn,
        differential_base_guid: file.differential_base_guid.non_nil(),
        is_read_only: false,
        is_present: true,
        tde_thumbprint: None,
        snapshot_url: None,
    }
}
