// SPDX-License-Identifier: ISC
//! select-reactor: one task owns every socket and all the state and waits
//! on all the I/O at once: the listener and a FuturesUnordered of
//! operations in flight (a read per client, a write per destination with
//! bytes queued), each of which hands its socket half back when it
//! completes. No lock, no channel, no shared state; but all the routing
//! runs on one core whatever the runtime's threads, and each operation is
//! a boxed future. Buffering: a destination's queue is bounded by
//! OUTBOX_LIMIT; one that goes past it (a client that does not read) is
//! disconnected as a slow consumer, as Redis does with its output buffer
//! limit, since a reactor cannot wait for it without stalling everyone.

use bytes::BytesMut;
use futures::future::{poll_fn, AbortHandle, Abortable};
use futures::stream::{FuturesUnordered, StreamExt};
use patchbay_peers::{
    accept, id_bytes, log_too_long, Batch, Frames, Ids, Opts, OUTBOX_LIMIT, WRITE_CHUNK,
};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// A completed operation, with the socket half (and the buffer) it used.
enum Done {
    Read(u32, OwnedReadHalf, Frames, io::Result<usize>),
    Wrote(u32, OwnedWriteHalf, io::Result<()>),
    /// Aborted: its client was disconnected meanwhile.
    Aborted,
}

type Op = Pin<Box<dyn Future<Output = Done> + Send>>;

struct Client {
    /// None while a write is in flight.
    w: Option<OwnedWriteHalf>,
    /// Queued, not yet handed to a write.
    out: BytesMut,
    /// Handed to the write in flight.
    writing: usize,
    read_abort: AbortHandle,
    write_abort: Option<AbortHandle>,
}

struct Reactor {
    clients: HashMap<u32, Client>,
    ops: FuturesUnordered<Op>,
    max_frame: usize,
}

fn main() {
    patchbay_peers::main("select-reactor", serve)
}

enum Event {
    Accepted(TcpStream),
    Done(Done),
}

async fn serve(listener: TcpListener, opts: Opts) {
    let mut r = Reactor {
        clients: HashMap::new(),
        ops: FuturesUnordered::new(),
        max_frame: opts.max_frame,
    };
    let mut ids = Ids::default();
    loop {
        // The select: whichever of accept and the operations is ready.
        let ev = {
            let accepting = accept(&listener);
            futures::pin_mut!(accepting);
            let ops = &mut r.ops;
            poll_fn(|cx| {
                if let Poll::Ready(s) = accepting.as_mut().poll(cx) {
                    return Poll::Ready(Event::Accepted(s));
                }
                match ops.poll_next_unpin(cx) {
                    Poll::Ready(Some(d)) => Poll::Ready(Event::Done(d)),
                    // Empty: only a new client can bring work.
                    _ => Poll::Pending,
                }
            })
            .await
        };
        match ev {
            Event::Accepted(s) => r.join(ids.next(), s),
            Event::Done(Done::Read(id, rh, frames, res)) => r.read_done(id, rh, frames, res),
            Event::Done(Done::Wrote(id, w, res)) => r.write_done(id, w, res),
            Event::Done(Done::Aborted) => {}
        }
    }
}

impl Reactor {
    fn join(&mut self, id: u32, s: TcpStream) {
        let (rh, w) = s.into_split();
        let (read_abort, reg) = AbortHandle::new_pair();
        self.read(id, rh, Frames::new(self.max_frame), reg);
        let mut out = BytesMut::new();
        out.extend_from_slice(&id_bytes(id));
        self.clients.insert(
            id,
            Client {
                w: Some(w),
                out,
                writing: 0,
                read_abort,
                write_abort: None,
            },
        );
        self.flush(id);
    }

    fn read(
        &mut self,
        id: u32,
        mut rh: OwnedReadHalf,
        mut frames: Frames,
        reg: futures::future::AbortRegistration,
    ) {
        let op = async move {
            let res = frames.read_from(&mut rh).await;
            Done::Read(id, rh, frames, res)
        };
        self.ops.push(Box::pin(async move {
            Abortable::new(op, reg).await.unwrap_or(Done::Aborted)
        }));
    }

    fn read_done(&mut self, id: u32, rh: OwnedReadHalf, mut frames: Frames, res: io::Result<usize>) {
        match res {
            Ok(n) if n > 0 => {}
            _ => return self.leave(id),
        }
        let mut batch = Batch::default();
        let too_long = batch.fill(&mut frames);
        for (dest, bytes) in batch.drain() {
            // Unknown or gone: dropped.
            let over = match self.clients.get_mut(&dest) {
                Some(c) => {
                    c.out.extend_from_slice(&bytes);
                    c.out.len() + c.writing > OUTBOX_LIMIT
                }
                None => continue,
            };
            if over {
                eprintln!(
                    "client {} disconnected as slow consumer: more than {} bytes queued",
                    dest, OUTBOX_LIMIT
                );
                self.leave(dest);
            } else {
                self.flush(dest);
            }
        }
        if too_long {
            log_too_long(id, self.max_frame);
            return self.leave(id);
        }
        // The sender may have been its own slow consumer.
        if let Some(c) = self.clients.get_mut(&id) {
            let (abort, reg) = AbortHandle::new_pair();
            c.read_abort = abort;
            self.read(id, rh, frames, reg);
        }
    }

    /// Starts a write of what is queued for `id`, unless one is in flight.
    fn flush(&mut self, id: u32) {
        let c = match self.clients.get_mut(&id) {
            Some(c) if !c.out.is_empty() && c.w.is_some() => c,
            _ => return,
        };
        let mut w = c.w.take().unwrap();
        let n = c.out.len().min(WRITE_CHUNK);
        let buf = c.out.split_to(n).freeze();
        c.writing = n;
        let (abort, reg) = AbortHandle::new_pair();
        c.write_abort = Some(abort);
        let op = async move {
            let res = w.write_all(&buf).await;
            Done::Wrote(id, w, res)
        };
        self.ops.push(Box::pin(async move {
            Abortable::new(op, reg).await.unwrap_or(Done::Aborted)
        }));
    }

    fn write_done(&mut self, id: u32, w: OwnedWriteHalf, res: io::Result<()>) {
        if res.is_err() {
            return self.leave(id);
        }
        if let Some(c) = self.clients.get_mut(&id) {
            c.w = Some(w);
            c.writing = 0;
            c.write_abort = None;
            self.flush(id);
        }
    }

    /// Disconnects `id`: its operations in flight are aborted, which drops
    /// the socket halves they hold, and with the last the socket.
    fn leave(&mut self, id: u32) {
        if let Some(c) = self.clients.remove(&id) {
            c.read_abort.abort();
            if let Some(a) = c.write_abort {
                a.abort();
            }
        }
    }
}
