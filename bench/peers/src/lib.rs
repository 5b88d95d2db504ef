// SPDX-License-Identifier: ISC
//! What the six peers share, so that they differ only in the pattern: the
//! command line, the runtime, the listener, the ids, the frame parser and
//! shutdown on SIGTERM. The protocol is doc/protocol.md; the peers keep its
//! routing rules (ids in accept order and never reused, frames to unknown
//! ids dropped, order per sender and destination, whole payloads, a payload
//! of --max-frame bytes without its 0x00 ends the sender's connection) but
//! none of patchbayd's policies beyond them (no waiting rooms, no memory
//! budget, no slow-consumer timeout, no counters).

use bytes::{Buf, Bytes, BytesMut};
use std::future::Future;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// How much a read asks for at most.
pub const READ_CHUNK: usize = 64 * 1024;

/// What the reactors queue for one destination before they disconnect it
/// as a slow consumer (patchbayd's default --outbox).
pub const OUTBOX_LIMIT: usize = 1024 * 1024;

/// A destination's write is made of at most this many queued bytes.
pub const WRITE_CHUNK: usize = 256 * 1024;

/// The command line.
pub struct Opts {
    pub listen: String,
    pub threads: Option<usize>,
    pub max_frame: usize,
}

fn usage(name: &str) -> ! {
    eprintln!(
        "usage: {} [--listen ADDR:PORT] [--threads N] [--max-frame BYTES]\n\
         \x20 -l, --listen     address to listen on (default 127.0.0.1:8080; port 0: any)\n\
         \x20 -t, --threads    tokio worker threads (default: tokio's, one per CPU)\n\
         \x20 -f, --max-frame  longest frame, payload and its 0x00 (default 65536)\n\
         \x20 -v               accepted and ignored (the test harness passes it)",
        name
    );
    std::process::exit(2)
}

/// Parses the command line; a bad one exits with status 2.
pub fn parse_args(name: &str) -> Opts {
    let mut o = Opts {
        listen: "127.0.0.1:8080".to_string(),
        threads: None,
        max_frame: 65536,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |what: &str| -> String {
            match inline.clone().or_else(|| args.next()) {
                Some(v) => v,
                None => {
                    eprintln!("{}: {} needs a value", name, what);
                    usage(name)
                }
            }
        };
        match key.as_str() {
            "-l" | "--listen" => o.listen = value("--listen"),
            "-t" | "--threads" => match value("--threads").parse::<usize>() {
                Ok(n) if n > 0 => o.threads = Some(n),
                _ => {
                    eprintln!("{}: --threads needs a number above 0", name);
                    usage(name)
                }
            },
            "-f" | "--max-frame" => match value("--max-frame").parse::<usize>() {
                Ok(n) if n > 0 => o.max_frame = n,
                _ => {
                    eprintln!("{}: --max-frame needs a number above 0", name);
                    usage(name)
                }
            },
            "-v" | "--verbose" => {}
            "-h" | "--help" => usage(name),
            _ => {
                eprintln!("{}: unknown argument '{}'", name, a);
                usage(name)
            }
        }
    }
    o
}

/// Raises the soft descriptor limit to the hard one: a client is a
/// descriptor, and the benchmarks connect 10,000.
fn raise_nofile() {
    // SAFETY: getrlimit and setrlimit only read and write `rl`.
    unsafe {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 && rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        }
    }
}

/// Runs a peer: parses the command line, binds, prints "listening on
/// ADDR:PORT" on standard error (the line the benchmarks and tests wait
/// for), serves with `serve` until SIGTERM or SIGINT, then exits with
/// status 0 at once, whatever is still queued.
pub fn main<F, Fut>(name: &str, serve: F) -> !
where
    F: FnOnce(TcpListener, Opts) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let opts = parse_args(name);
    raise_nofile();
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.enable_all();
    if let Some(n) = opts.threads {
        b.worker_threads(n);
    }
    let rt = match b.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: cannot start the runtime: {}", name, e);
            std::process::exit(1)
        }
    };
    let name = name.to_string();
    rt.block_on(async move {
        let listener = match TcpListener::bind(opts.listen.as_str()).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("{}: cannot listen on {}: {}", name, opts.listen, e);
                std::process::exit(1)
            }
        };
        match listener.local_addr() {
            Ok(a) => eprintln!("listening on {}", a),
            Err(e) => {
                eprintln!("{}: {}", name, e);
                std::process::exit(1)
            }
        }
        tokio::spawn(serve(listener, opts));
        stop_signal().await;
    });
    std::process::exit(0)
}

/// Waits for SIGTERM or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    futures::future::poll_fn(|cx| {
        if term.poll_recv(cx).is_ready() || int.poll_recv(cx).is_ready() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// Accepts the next connection. Failures (out of descriptors, a
/// connection reset before it was accepted) are logged and waited out
/// rather than retried at once in a busy loop.
pub async fn accept(l: &TcpListener) -> TcpStream {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                let _ = s.set_nodelay(true);
                return s;
            }
            Err(e) => {
                eprintln!("accept: {}", e);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Ids in accept order, never given twice. (After 2^32 connections they
/// would wrap; the benchmarks make far fewer.)
#[derive(Default)]
pub struct Ids(u32);

impl Ids {
    pub fn next(&mut self) -> u32 {
        let id = self.0;
        self.0 = self.0.wrapping_add(1);
        id
    }
}

/// What a client's id looks like on the wire.
pub fn id_bytes(id: u32) -> [u8; 4] {
    id.to_be_bytes()
}

/// The logged reason for a payload that ran past --max-frame, as patchbayd
/// words it.
pub fn log_too_long(id: u32, max_frame: usize) {
    eprintln!(
        "client {} protocol error: frame longer than {} bytes",
        id, max_frame
    );
}

/// One step of the parser.
pub enum Next {
    /// A whole frame: its destination, and its payload with the 0x00.
    Frame(u32, Bytes),
    /// No whole frame in what was read so far.
    More,
    /// --max-frame bytes of payload without a 0x00: a protocol error.
    TooLong,
}

/// A client's input: what was read and not yet parsed into frames. It
/// holds at most one unfinished frame (--max-frame bytes and its header)
/// and one read: the bound on what a sender can make a peer hold.
pub struct Frames {
    buf: BytesMut,
    /// Payload bytes of the first frame already searched for the 0x00.
    scanned: usize,
    max_frame: usize,
}

impl Frames {
    pub fn new(max_frame: usize) -> Frames {
        Frames {
            buf: BytesMut::new(),
            scanned: 0,
            max_frame,
        }
    }

    /// Makes room for the next read: READ_CHUNK bytes.
    pub fn room(&mut self) -> &mut BytesMut {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        &mut self.buf
    }

    /// Reads once from `r` (0: end of stream).
    pub async fn read_from<R: AsyncRead + Unpin>(&mut self, r: &mut R) -> io::Result<usize> {
        r.read_buf(self.room()).await
    }

    /// The next whole frame, if any.
    pub fn next(&mut self) -> Next {
        if self.buf.len() < 4 {
            return Next::More;
        }
        let body = &self.buf[4..];
        match memchr::memchr(0, &body[self.scanned..]) {
            Some(at) => {
                let end = 4 + self.scanned + at + 1;
                let mut frame = self.buf.split_to(end);
                let dest = frame.get_u32();
                self.scanned = 0;
                Next::Frame(dest, frame.freeze())
            }
            None => {
                self.scanned = body.len();
                if body.len() >= self.max_frame {
                    Next::TooLong
                } else {
                    Next::More
                }
            }
        }
    }
}

/// The frames of one read, grouped by destination in the order they came,
/// so that a destination gets one write per read rather than one per frame.
/// A read holds few destinations (pairs: one, fan-out: 16), so a list.
#[derive(Default)]
pub struct Batch {
    groups: Vec<(u32, BytesMut)>,
}

impl Batch {
    pub fn push(&mut self, dest: u32, frame: &[u8]) {
        match self.groups.iter_mut().find(|g| g.0 == dest) {
            Some(g) => g.1.extend_from_slice(frame),
            None => self.groups.push((dest, BytesMut::from(frame))),
        }
    }

    /// Parses every whole frame of `f` into the batch; true when the
    /// sender broke the protocol (the frames before are still in it).
    pub fn fill(&mut self, f: &mut Frames) -> bool {
        loop {
            match f.next() {
                Next::Frame(dest, frame) => self.push(dest, &frame),
                Next::More => return false,
                Next::TooLong => return true,
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    pub fn drain(&mut self) -> std::vec::Drain<'_, (u32, BytesMut)> {
        self.groups.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(f: &mut Frames, b: &[u8]) {
        f.room().extend_from_slice(b);
    }

    #[test]
    fn frames_split_and_coalesced() {
        let mut f = Frames::new(16);
        feed(&mut f, b"\0\0\0\x01he");
        assert!(matches!(f.next(), Next::More));
        feed(&mut f, b"llo\0\0\0\0\x02\0\0\0");
        match f.next() {
            Next::Frame(d, p) => assert_eq!((d, &p[..]), (1, &b"hello\0"[..])),
            _ => panic!("no frame"),
        }
        match f.next() {
            Next::Frame(d, p) => assert_eq!((d, &p[..]), (2, &b"\0"[..])),
            _ => panic!("no empty frame"),
        }
        assert!(matches!(f.next(), Next::More));
    }

    #[test]
    fn max_frame_boundary() {
        let mut f = Frames::new(4);
        feed(&mut f, b"\0\0\0\x01abc\0\0\0\0\x01abcd");
        assert!(matches!(f.next(), Next::Frame(1, _)));
        assert!(matches!(f.next(), Next::TooLong));
    }
}

/// What a client task of the channel patterns (channels,
/// channel-per-writer) sends to their dispatcher.
pub enum Msg {
    Join(u32, OwnedWriteHalf),
    Frame(u32, Bytes),
    Leave(u32),
}

/// Frames (and joins and leaves) queued for the dispatcher.
pub const CHANNEL: usize = 1024;

/// The client half of the channel patterns: accepts, gives ids, and runs a
/// task per client that reads, parses and sends its join, frames and leave
/// down one channel to `dispatcher`, the pattern's own half, which owns
/// every write half (and writes each id before anything else for it).
pub async fn serve_through<D, Fut>(listener: TcpListener, opts: Opts, dispatcher: D)
where
    D: FnOnce(mpsc::Receiver<Msg>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(CHANNEL);
    tokio::spawn(dispatcher(rx));
    let mut ids = Ids::default();
    loop {
        let stream = accept(&listener).await;
        let id = ids.next();
        let (r, w) = stream.into_split();
        if tx.send(Msg::Join(id, w)).await.is_err() {
            return;
        }
        tokio::spawn(channel_client(id, r, tx.clone(), opts.max_frame));
    }
}

async fn channel_client(id: u32, mut r: OwnedReadHalf, tx: mpsc::Sender<Msg>, max_frame: usize) {
    let mut frames = Frames::new(max_frame);
    'read: loop {
        match frames.read_from(&mut r).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            match frames.next() {
                Next::Frame(dest, frame) => {
                    if tx.send(Msg::Frame(dest, frame)).await.is_err() {
                        return;
                    }
                }
                Next::More => break,
                Next::TooLong => {
                    log_too_long(id, max_frame);
                    break 'read;
                }
            }
        }
    }
    let _ = tx.send(Msg::Leave(id)).await;
}
