//! Reading every byte of a set's data, as a restore does, in constant memory and optionally no
//! faster than a configured rate.
//!
//! What "the set's bytes" are: a set occupies `BackupSet::start_offset ..
//! BackupSet::data_end_offset` of its MTF stream, from its SSET block to the soft filemark that
//! closes its data (the trailing ESET blocks are not counted). For a plain backup the MTF stream
//! is the file, so those are file offsets and the range is read directly in `chunk_size` pieces.
//! For a compressed backup (`MSSQLBAK` container) the header reader works on the *decoded*
//! stream, so the offsets are decoded-stream offsets: the file is decoded front to back with
//! [`lrs_backup::mtf_stream`] (one decoded chunk at a time) and the decoded bytes inside the
//! range are counted. Either way the count is the set's uncompressed MTF size, so a compressed
//! set reports the same bytes as the same set written plain.

use std::time::Duration;

use futures::StreamExt;
use lrs_backup::{SetSink, SetVerifier, VerifyError};
use tokio::time::Instant;

use crate::{StripeInput, TargetError, sql};

/// Keeps the average rate of one restore under a limit by sleeping once it is ahead.
#[derive(Debug)]
pub(crate) struct Pacer {
    limit: Option<u64>,
    started: Instant,
    consumed: u64,
    slept: Duration,
}

impl Pacer {
    /// A pacer for `limit` bytes per second (`None` or 0: unlimited), starting now.
    pub(crate) fn new(limit: Option<u64>) -> Self {
        Pacer {
            limit: limit.filter(|&l| l > 0),
            started: Instant::now(),
            consumed: 0,
            slept: Duration::ZERO,
        }
    }

    /// Account for `n` more bytes and sleep as long as the plan says.
    pub(crate) async fn consumed(&mut self, n: u64) {
        self.consumed = self.consumed.saturating_add(n);
        if let Some(limit) = self.limit {
            let delay = pace(self.consumed, limit, self.started.elapsed());
            if !delay.is_zero() {
                self.slept += delay;
                tokio::time::sleep(delay).await;
            }
        }
    }

    /// Bytes accounted for so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.consumed
    }

    /// Total time the plan asked to sleep so far.
    pub(crate) fn slept(&self) -> Duration {
        self.slept
    }
}

/// The sleep plan: after `consumed` bytes in `elapsed`, how long to wait so that the average
/// rate is at most `limit` bytes per second (the time `consumed` bytes are due at that rate,
/// minus the time already spent).
pub(crate) fn pace(consumed: u64, limit: u64, elapsed: Duration) -> Duration {
    if limit == 0 {
        return Duration::ZERO;
    }
    let due_nanos = u128::from(consumed) * 1_000_000_000 / u128::from(limit);
    let due = Duration::from_nanos(u64::try_from(due_nanos).unwrap_or(u64::MAX));
    due.saturating_sub(elapsed)
}

/// Read and verify the data of every stripe (in the order given), as RESTORE does, handing the
/// verified pages and log to `sink`; return the bytes consumed. `database` names the database
/// in SQL Server's messages. A stripe written WITH MEDIAPASSWORD is refused before any read.
pub(crate) async fn consume(
    database: &str,
    stripes: &[StripeInput],
    chunk_size: usize,
    no_checksum: bool,
    pacer: &mut Pacer,
    sink: &mut (dyn SetSink + Send),
) -> Result<u64, TargetError> {
    if stripes.iter().any(|s| s.set.media.media_password) {
        return Err(sql::media_password());
    }
    let chunk = u64::try_from(chunk_size.max(1)).unwrap_or(u64::MAX);
    for stripe in stripes {
        let mut verifier = if no_checksum {
            SetVerifier::no_checksum(&stripe.set)
        } else {
            SetVerifier::new(&stripe.set)
        };
        if stripe.set.header.compressed != 0 {
            consume_compressed(database, stripe, pacer, &mut verifier, sink).await?;
        } else {
            consume_plain(database, stripe, chunk, pacer, &mut verifier, sink).await?;
        }
        verifier
            .finish()
            .map_err(|e| damaged(database, stripe, &e))?;
    }
    Ok(pacer.bytes())
}

/// SQL Server's error for a verification failure, naming the file and offset.
fn damaged(database: &str, stripe: &StripeInput, error: &VerifyError) -> TargetError {
    let device = stripe.reader.name();
    match error {
        VerifyError::Page {
            offset,
            page,
            detail,
        } => sql::corrupt_page(
            page.file,
            page.page,
            database,
            &format!("File '{device}', offset {offset}: {detail}."),
        ),
        VerifyError::BackupChecksum { .. } => {
            sql::backup_set_damage(&format!("File '{device}': {error}."))
        }
        VerifyError::Damaged { .. } => sql::malformed_set(device, &format!("{error}.")),
    }
}

async fn consume_plain(
    database: &str,
    stripe: &StripeInput,
    chunk: u64,
    pacer: &mut Pacer,
    verifier: &mut SetVerifier,
    sink: &mut (dyn SetSink + Send),
) -> Result<(), TargetError> {
    let reader = &stripe.reader;
    let (start, end) = (stripe.set.start_offset, stripe.set.data_end_offset);
    let size = reader
        .size()
        .await
        .map_err(|e| read_error(stripe, &format!("size: {e}")))?;
    if end > size {
        return Err(read_error(
            stripe,
            &format!("the set's data ends at offset {end} but the file has only {size} bytes"),
        ));
    }
    // The next piece is read (on its own task) while this one is verified, so reading and
    // checking overlap instead of adding up.
    let read = |from: u64| {
        let to = end.min(from.saturating_add(chunk));
        let reader = std::sync::Arc::clone(reader);
        (
            to,
            tokio::spawn(async move { reader.read_range(from..to).await }),
        )
    };
    let mut pos = start;
    let mut next = (pos < end).then(|| read(pos));
    while let Some((to, pending)) = next.take() {
        let bytes = pending
            .await
            .map_err(|e| read_error(stripe, &format!("bytes {pos}..{to}: the read failed: {e}")))?
            .map_err(|e| read_error(stripe, &format!("bytes {pos}..{to}: {e}")))?;
        if bytes.len() as u64 != to - pos {
            return Err(read_error(
                stripe,
                &format!(
                    "bytes {pos}..{to}: the source returned {} bytes instead of {}",
                    bytes.len(),
                    to - pos
                ),
            ));
        }
        if to < end {
            next = Some(read(to));
        }
        verifier
            .feed_into(&bytes, sink)
            .map_err(|e| damaged(database, stripe, &e))?;
        pacer.consumed(to - pos).await;
        pos = to;
    }
    Ok(())
}

async fn consume_compressed(
    database: &str,
    stripe: &StripeInput,
    pacer: &mut Pacer,
    verifier: &mut SetVerifier,
    sink: &mut (dyn SetSink + Send),
) -> Result<(), TargetError> {
    let (start, end) = (stripe.set.start_offset, stripe.set.data_end_offset);
    let mut stream = lrs_backup::mtf_stream(std::sync::Arc::clone(&stripe.reader));
    let mut pos = 0u64;
    while pos < end {
        let Some(piece) = stream.next().await else {
            return Err(read_error(
                stripe,
                &format!(
                    "the decoded backup ends at offset {pos}, before the set's data ends at {end}"
                ),
            ));
        };
        let piece = piece.map_err(|e| read_error(stripe, &e.to_string()))?;
        let piece_end = pos + piece.len() as u64;
        let counted = piece_end.min(end).saturating_sub(pos.max(start));
        if counted > 0 {
            let from = usize::try_from(pos.max(start) - pos).unwrap_or(0);
            let to = from + usize::try_from(counted).unwrap_or(0);
            verifier
                .feed_into(&piece[from..to], sink)
                .map_err(|e| damaged(database, stripe, &e))?;
            pacer.consumed(counted).await;
        }
        pos = piece_end;
    }
    Ok(())
}

fn read_error(stripe: &StripeInput, what: &str) -> TargetError {
    TargetError::Read(format!(
        "{} (backup set {} at position {}): {what}",
        stripe.reader.name(),
        stripe.set.header.backup_set_guid,
        stripe.set.header.position
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_sleeps_until_the_bytes_are_due() {
        let ms = Duration::from_millis;
        assert_eq!(pace(1_000_000, 1_000_000, Duration::ZERO), ms(1000));
        assert_eq!(pace(500_000, 1_000_000, ms(200)), ms(300));
        assert_eq!(pace(500_000, 1_000_000, ms(500)), Duration::ZERO);
        assert_eq!(
            pace(500_000, 1_000_000, ms(900)),
            Duration::ZERO,
            "behind: no sleep"
        );
        assert_eq!(pace(3, 2, Duration::ZERO), ms(1500));
        assert_eq!(
            pace(u64::MAX, 1, Duration::ZERO),
            Duration::from_nanos(u64::MAX)
        );
        assert_eq!(
            pace(10, 0, Duration::ZERO),
            Duration::ZERO,
            "0 means unlimited"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pacer_keeps_the_average_under_the_limit_in_virtual_time() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Some(1 << 20));
        for _ in 0..8 {
            p.consumed(256 << 10).await;
        }
        assert_eq!(p.bytes(), 2 << 20);
        // 2 MiB at 1 MiB/s: due after 2 s; the clock only moves by the planned sleeps.
        assert_eq!(p.slept(), Duration::from_secs(2));
        assert!(t0.elapsed() >= Duration::from_secs(2));
        assert!(t0.elapsed() < Duration::from_secs(2) + Duration::from_millis(10));

        let mut unlimited = Pacer::new(None);
        unlimited.consumed(u64::MAX).await;
        assert_eq!(unlimited.slept(), Duration::ZERO);
    }
}
