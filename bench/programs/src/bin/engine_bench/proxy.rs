//! A counting HTTP/1.1 proxy on loopback between the engine and Azurite.
//!
//! The engine reaches Azurite through `http://127.0.0.1:{proxy}/devstoreaccount1/…` (an IP
//! address, so path-style like Azurite itself; a SAS does not sign the host). Bytes are
//! forwarded unchanged in both directions while a small parser follows the HTTP/1.1 framing
//! (request heads, `Content-Length` and chunked bodies) to count, per kind of request:
//! requests, bytes sent, response bytes on the wire and response body bytes. Kinds: `list`
//! (`comp=list`), `read` (GET with a `Range`/`x-ms-range` header) and `other` (anything else,
//! which the engine is not expected to send). URLs are never printed: they carry the SAS.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Kinds of request the proxy tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A blob listing (`comp=list`).
    List = 0,
    /// A ranged GET of a blob.
    Read = 1,
    /// Anything else.
    Other = 2,
}

const KINDS: usize = 3;

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    request_bytes: AtomicU64,
    responses: AtomicU64,
    response_bytes: AtomicU64,
    body_bytes: AtomicU64,
    non_2xx: AtomicU64,
}

/// Totals for one kind at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Requests sent.
    pub(crate) requests: u64,
    /// Bytes of those requests (heads and bodies).
    pub(crate) request_bytes: u64,
    /// Responses received in full.
    pub(crate) responses: u64,
    /// Bytes of those responses on the wire (status line, headers, framing, body).
    pub(crate) response_bytes: u64,
    /// Body bytes of those responses (decoded from chunked framing).
    pub(crate) body_bytes: u64,
    /// Responses with a status outside 200..300.
    pub(crate) non_2xx: u64,
}

impl Totals {
    /// What happened between `earlier` and `self`.
    pub(crate) fn since(&self, earlier: &Totals) -> Totals {
        Totals {
            requests: self.requests - earlier.requests,
            request_bytes: self.request_bytes - earlier.request_bytes,
            responses: self.responses - earlier.responses,
            response_bytes: self.response_bytes - earlier.response_bytes,
            body_bytes: self.body_bytes - earlier.body_bytes,
            non_2xx: self.non_2xx - earlier.non_2xx,
        }
    }
}

/// Counts of every kind at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// By [`Kind`] index.
    pub(crate) kinds: [Totals; KINDS],
}

impl Snapshot {
    /// Totals of one kind.
    pub(crate) fn of(&self, kind: Kind) -> Totals {
        self.kinds[kind as usize]
    }

    /// What happened between `earlier` and `self`.
    pub(crate) fn since(&self, earlier: &Snapshot) -> Snapshot {
        let mut kinds = [Totals::default(); KINDS];
        for (i, k) in kinds.iter_mut().enumerate() {
            *k = self.kinds[i].since(&earlier.kinds[i]);
        }
        Snapshot { kinds }
    }
}

/// The running proxy.
#[derive(Debug)]
pub(crate) struct Proxy {
    addr: SocketAddr,
    counters: Arc<[Counters; KINDS]>,
}

impl Proxy {
    /// Listen on a free loopback port and forward every connection to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let counters: Arc<[Counters; KINDS]> = Arc::new(Default::default());
        let shared = Arc::clone(&counters);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counters = Arc::clone(&shared);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, counters).await;
                    }
                });
            }
        });
        Ok(Proxy { addr, counters })
    }

    /// `127.0.0.1:port`.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counts so far.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let mut kinds = [Totals::default(); KINDS];
        for (i, k) in kinds.iter_mut().enumerate() {
            let c = &self.counters[i];
            *k = Totals {
                requests: c.requests.load(Ordering::SeqCst),
                request_bytes: c.request_bytes.load(Ordering::SeqCst),
                responses: c.responses.load(Ordering::SeqCst),
                response_bytes: c.response_bytes.load(Ordering::SeqCst),
                body_bytes: c.body_bytes.load(Ordering::SeqCst),
                non_2xx: c.non_2xx.load(Ordering::SeqCst),
            };
        }
        Snapshot { kinds }
    }
}

/// Requests sent on one connection whose responses have not been parsed yet:
/// (kind, whether it was a HEAD).
type Pending = Arc<Mutex<VecDeque<(Kind, bool)>>>;

async fn relay(client: TcpStream, server: TcpStream, counters: Arc<[Counters; KINDS]>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let pending: Pending = Arc::default();

    let up_counters = Arc::clone(&counters);
    let up_pending = Arc::clone(&pending);
    let upstream = async move {
        let mut parser = RequestParser::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // Parse first: the request is queued before its response can come back.
            parser.feed(&buf[..n], &up_counters, &up_pending);
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downstream = async move {
        let mut parser = ResponseParser::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            parser.feed(&buf[..n], &counters, &pending);
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        parser.eof(&counters, &pending);
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

/// Follows request heads and bodies on one connection.
#[derive(Debug, Default)]
struct RequestParser {
    line: Vec<u8>,
    /// Request line and headers of the request being read (lower-cased names).
    head: Vec<String>,
    head_bytes: u64,
    body_left: u64,
    /// Kind of the request whose body is being skipped.
    current: Option<Kind>,
}

impl RequestParser {
    fn feed(&mut self, mut data: &[u8], counters: &[Counters; KINDS], pending: &Pending) {
        while !data.is_empty() {
            if self.body_left > 0 {
                let k = usize::try_from(self.body_left).map_or(data.len(), |l| l.min(data.len()));
                self.body_left -= k as u64;
                if let Some(kind) = self.current {
                    counters[kind as usize]
                        .request_bytes
                        .fetch_add(k as u64, Ordering::SeqCst);
                }
                data = &data[k..];
                continue;
            }
            match data.iter().position(|&b| b == b'\n') {
                None => {
                    self.line.extend_from_slice(data);
                    self.head_bytes += data.len() as u64;
                    data = &[];
                }
                Some(p) => {
                    self.line.extend_from_slice(&data[..=p]);
                    self.head_bytes += (p + 1) as u64;
                    data = &data[p + 1..];
                    let line = String::from_utf8_lossy(&self.line)
                        .trim_end_matches(['\r', '\n'])
                        .to_string();
                    self.line.clear();
                    if line.is_empty() {
                        if !self.head.is_empty() {
                            self.end_of_head(counters, pending);
                        }
                    } else {
                        self.head.push(line);
                    }
                }
            }
        }
    }

    fn end_of_head(&mut self, counters: &[Counters; KINDS], pending: &Pending) {
        let request_line = self.head.first().cloned().unwrap_or_default();
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_ascii_uppercase();
        let target = parts.next().unwrap_or_default();
        let mut ranged = false;
        let mut length = 0u64;
        for header in self.head.iter().skip(1) {
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            match name.trim().to_ascii_lowercase().as_str() {
                "range" | "x-ms-range" => ranged = true,
                "content-length" => length = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
        let kind = if target.contains("comp=list") {
            Kind::List
        } else if method == "GET" && ranged {
            Kind::Read
        } else {
            Kind::Other
        };
        let c = &counters[kind as usize];
        c.requests.fetch_add(1, Ordering::SeqCst);
        c.request_bytes.fetch_add(self.head_bytes, Ordering::SeqCst);
        if let Ok(mut queue) = pending.lock() {
            queue.push_back((kind, method == "HEAD"));
        }
        self.head.clear();
        self.head_bytes = 0;
        self.body_left = length;
        self.current = Some(kind);
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Status line and headers.
    #[default]
    Head,
    /// A body of known length.
    Body(u64),
    /// A body that ends when the connection closes.
    UntilClose,
    /// A chunk-size line.
    ChunkSize,
    /// Chunk data, then its CRLF.
    ChunkData(u64),
    ChunkEnd(u64),
    /// Trailer lines after the last chunk.
    Trailer,
}

/// Follows response framing on one connection.
#[derive(Debug, Default)]
struct ResponseParser {
    state: State,
    line: Vec<u8>,
    status: u16,
    length: Option<u64>,
    chunked: bool,
    first_line: bool,
    wire: u64,
    body: u64,
    /// The request this response answers.
    current: Option<(Kind, bool)>,
}

impl ResponseParser {
    fn feed(&mut self, mut data: &[u8], counters: &[Counters; KINDS], pending: &Pending) {
        while !data.is_empty() {
            match self.state {
                State::Body(left) | State::ChunkData(left) | State::ChunkEnd(left) => {
                    let k = usize::try_from(left).map_or(data.len(), |l| l.min(data.len()));
                    self.wire += k as u64;
                    if !matches!(self.state, State::ChunkEnd(_)) {
                        self.body += k as u64;
                    }
                    data = &data[k..];
                    let left = left - k as u64;
                    self.state = match (self.state, left) {
                        (State::Body(_), 0) => {
                            self.finish(counters);
                            State::Head
                        }
                        (State::Body(_), l) => State::Body(l),
                        (State::ChunkData(_), 0) => State::ChunkEnd(2),
                        (State::ChunkData(_), l) => State::ChunkData(l),
                        (State::ChunkEnd(_), 0) => State::ChunkSize,
                        (_, l) => State::ChunkEnd(l),
                    };
                }
                State::UntilClose => {
                    self.wire += data.len() as u64;
                    self.body += data.len() as u64;
                    data = &[];
                }
                State::Head | State::ChunkSize | State::Trailer => {
                    match data.iter().position(|&b| b == b'\n') {
                        None => {
                            self.line.extend_from_slice(data);
                            self.wire += data.len() as u64;
                            data = &[];
                        }
                        Some(p) => {
                            self.line.extend_from_slice(&data[..=p]);
                            self.wire += (p + 1) as u64;
                            data = &data[p + 1..];
                            let line = String::from_utf8_lossy(&self.line)
                                .trim_end_matches(['\r', '\n'])
                                .to_string();
                            self.line.clear();
                            self.on_line(&line, counters, pending);
                        }
                    }
                }
            }
        }
    }

    fn on_line(&mut self, line: &str, counters: &[Counters; KINDS], pending: &Pending) {
        match self.state {
            State::Head => {
                if !self.first_line {
                    if line.is_empty() {
                        return;
                    }
                    self.first_line = true;
                    self.status = line
                        .split_whitespace()
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    self.length = None;
                    self.chunked = false;
                    if self.current.is_none() {
                        self.current = pending.lock().ok().and_then(|mut q| q.pop_front());
                    }
                    return;
                }
                if !line.is_empty() {
                    if let Some((name, value)) = line.split_once(':') {
                        match name.trim().to_ascii_lowercase().as_str() {
                            "content-length" => self.length = value.trim().parse().ok(),
                            "transfer-encoding" => {
                                self.chunked = value.to_ascii_lowercase().contains("chunked");
                            }
                            _ => {}
                        }
                    }
                    return;
                }
                // End of the head.
                self.first_line = false;
                let head_request = self.current.is_some_and(|(_, head)| head);
                if (100..200).contains(&self.status) {
                    // An interim response: the real one follows for the same request.
                    return;
                }
                if head_request || self.status == 204 || self.status == 304 {
                    self.finish(counters);
                } else if self.chunked {
                    self.state = State::ChunkSize;
                } else {
                    match self.length {
                        Some(0) => self.finish(counters),
                        Some(n) => self.state = State::Body(n),
                        None => self.state = State::UntilClose,
                    }
                }
            }
            State::ChunkSize => {
                let size = line.split(';').next().unwrap_or("").trim();
                match u64::from_str_radix(size, 16) {
                    Ok(0) => self.state = State::Trailer,
                    Ok(n) => self.state = State::ChunkData(n),
                    // Unparseable framing: count the rest as body of this response.
                    Err(_) => self.state = State::UntilClose,
                }
            }
            // Trailer fields are skipped; an empty line ends the response.
            State::Trailer if line.is_empty() => {
                self.finish(counters);
                self.state = State::Head;
            }
            _ => {}
        }
    }

    fn finish(&mut self, counters: &[Counters; KINDS]) {
        let kind = self.current.take().map_or(Kind::Other, |(k, _)| k);
        let c = &counters[kind as usize];
        c.responses.fetch_add(1, Ordering::SeqCst);
        c.response_bytes.fetch_add(self.wire, Ordering::SeqCst);
        c.body_bytes.fetch_add(self.body, Ordering::SeqCst);
        if !(200..300).contains(&self.status) {
            c.non_2xx.fetch_add(1, Ordering::SeqCst);
        }
        self.wire = 0;
        self.body = 0;
        self.state = State::Head;
    }

    fn eof(&mut self, counters: &[Counters; KINDS], _pending: &Pending) {
        if self.state == State::UntilClose {
            self.finish(counters);
        }
    }
}
