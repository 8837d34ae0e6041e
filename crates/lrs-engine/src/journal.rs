//! The emulated target's journal kept in the state store, so that nodes sharing a store share
//! the target too: any node sees every database's redo point and applied sets, and continues a
//! migration another node began (`lrs serve --target-journal store`).
//!
//! The target calls its journal synchronously (under its own lock); the store is async. The
//! journal therefore owns a connection on a thread of its own and answers over a channel: a call
//! blocks its caller for one store round trip.

use std::fmt;
use std::sync::mpsc;

use lrs_target::{Journal, LogEntry, TargetError, decode_entry, encode_entry};

enum Request {
    Newer(u64, mpsc::Sender<Result<Vec<LogEntry>, TargetError>>),
    Append(u64, String, mpsc::Sender<Result<bool, TargetError>>),
}

/// The target journal in the store at a URL (a `target_log` table).
pub struct StoreJournal {
    requests: mpsc::Sender<Request>,
}

impl fmt::Debug for StoreJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreJournal")
    }
}

fn io(what: impl fmt::Display) -> TargetError {
    TargetError::Io(format!("shared target journal: {what}"))
}

impl StoreJournal {
    /// Connect to the store at `url` (the same URL the engine's store uses) on a thread of the
    /// journal's own.
    pub fn open(url: &str) -> Result<StoreJournal, TargetError> {
        let (requests, inbox) = mpsc::channel::<Request>();
        let (ready, started) = mpsc::channel::<Result<(), TargetError>>();
        let url = url.to_string();
        std::thread::Builder::new()
            .name("target-journal".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready.send(Err(io(e)));
                        return;
                    }
                };
                let store = match runtime.block_on(lrs_store::open_store(&url)) {
                    Ok(store) => store,
                    Err(e) => {
                        let _ = ready.send(Err(io(e)));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                while let Ok(request) = inbox.recv() {
                    match request {
                        Request::Newer(seq, reply) => {
                            let result = runtime
                                .block_on(store.target_lines_after(seq))
                                .map_err(io)
                                .and_then(|lines| {
                                    lines
                                        .iter()
                                        .map(|(n, line)| {
                                            decode_entry(line).map_err(|why| {
                                                io(format!("line {n} is not an entry: {why}"))
                                            })
                                        })
                                        .collect()
                                });
                            let _ = reply.send(result);
                        }
                        Request::Append(seq, line, reply) => {
                            let result =
                                match runtime.block_on(store.append_target_line(seq, &line)) {
                                    Ok(()) => Ok(true),
                                    Err(lrs_store::StoreError::Conflict(_)) => Ok(false),
                                    Err(e) => Err(io(e)),
                                };
                            let _ = reply.send(result);
                        }
                    }
                }
            })
            .map_err(io)?;
        started.recv().map_err(io)??;
        Ok(StoreJournal { requests })
    }

    fn ask<T>(
        &self,
        request: impl FnOnce(mpsc::Sender<Result<T, TargetError>>) -> Request,
    ) -> Result<T, TargetError> {
        let (reply, answer) = mpsc::channel();
        self.requests
            .send(request(reply))
            .map_err(|_| io("the journal thread has stopped"))?;
        answer
            .recv()
            .map_err(|_| io("the journal thread has stopped"))?
    }
}

impl Journal for StoreJournal {
    fn replay(&mut self) -> Result<Vec<LogEntry>, TargetError> {
        self.newer(0)
    }

    fn newer(&mut self, seq: u64) -> Result<Vec<LogEntry>, TargetError> {
        self.ask(|reply| Request::Newer(seq, reply))
    }

    fn append(&mut self, entry: &LogEntry) -> Result<bool, TargetError> {
        let line = encode_entry(entry)?;
        self.ask(|reply| Request::Append(entry.seq, line, reply))
    }
}
