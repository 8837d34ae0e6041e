//! The whole MTF byte stream of a backup, plain or compressed, as an async stream of pieces:
//! what a restore (or a verifier) consumes. Memory stays constant whatever the file size: one
//! read window (plain) or a few file windows and one decoded chunk (compressed).

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};

use crate::container::{ChunkStream, MAGIC};
use crate::error::{BackupError, ErrorKind, FormatError};
use crate::range::RangeRead;

/// Bytes read per request from a plain (uncompressed) file.
const PLAIN_PIECE: u64 = 1024 * 1024;

enum State {
    Start(Arc<dyn RangeRead>),
    Plain {
        reader: Arc<dyn RangeRead>,
        pos: u64,
        size: u64,
    },
    Compressed(Box<ChunkStream>),
    Done,
}

/// Stream the MTF bytes of the backup behind `reader`: the file itself when it is plain
/// (starts with `TAPE`), the decoded chunks when it is an `MSSQLBAK` container.
pub fn mtf_stream(reader: Arc<dyn RangeRead>) -> BoxStream<'static, Result<Bytes, BackupError>> {
    let name = reader.name().to_string();
    futures::stream::try_unfold(State::Start(reader), |state| async move {
        let mut state = state;
        loop {
            match state {
                State::Start(reader) => state = start(reader).await?,
                State::Plain { reader, pos, size } => {
                    if pos >= size {
                        return Ok(None);
                    }
                    let end = (pos + PLAIN_PIECE).min(size);
                    let bytes = reader
                        .read_range(pos..end)
                        .await
                        .map_err(|e| FormatError::new(pos, ErrorKind::Io(e.to_string())))?;
                    return Ok(Some((
                        bytes,
                        State::Plain {
                            reader,
                            pos: end,
                            size,
                        },
                    )));
                }
                State::Compressed(mut chunks) => {
                    return Ok(chunks.next().await?.map(|b| (b, State::Compressed(chunks))));
                }
                State::Done => return Ok(None),
            }
        }
    })
    .map(move |r: Result<Bytes, FormatError>| r.map_err(|e| e.in_file(name.clone())))
    .boxed()
}

async fn start(reader: Arc<dyn RangeRead>) -> Result<State, FormatError> {
    let size = reader
        .size()
        .await
        .map_err(|e| FormatError::new(0, ErrorKind::Io(e.to_string())))?;
    let head = reader
        .read_range(0..size.min(8))
        .await
        .map_err(|e| FormatError::new(0, ErrorKind::Io(e.to_string())))?;
    if head.starts_with(MAGIC) {
        return Ok(State::Compressed(Box::new(
            ChunkStream::open(reader, size).await?,
        )));
    }
    if head.starts_with(b"TAPE") {
        return Ok(State::Plain {
            reader,
            pos: 0,
            size,
        });
    }
    if size == 0 {
        return Ok(State::Done);
    }
    Err(FormatError::new(
        0,
        ErrorKind::NotABackup("starts with neither \"TAPE\" nor \"MSSQLBAK\"".into()),
    ))
}
