// SPDX-License-Identifier: ISC
//! poll-reactor: one task whose every wake-up walks all the sockets by hand,
//! accepting, reading (poll_read) and writing (poll_write) as far as each
//! will go, with all the state in plain `&mut` and no synchronization at
//! all: the shape of a C epoll loop, with tokio as the poller. What it
//! gives up: a wake-up costs a visit to every client, busy or idle, so
//! 10,000 idle clients tax every message, and all routing runs on one
//! core. Buffering: a destination's queue is bounded by OUTBOX_LIMIT; one
//! that goes past it (a client that does not read) is disconnected as a
//! slow consumer, as Redis does with its output buffer limit.

use bytes::{Buf, BufMut, BytesMut};
use futures::future::poll_fn;
use patchbay_peers::{
    id_bytes, log_too_long, Batch, Frames, Ids, Opts, OUTBOX_LIMIT, READ_CHUNK,
};
use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Passes over all the sockets per wake-up before the task yields to the
/// runtime, waking itself, when every pass still made progress.
const PASSES: usize = 4;

struct Client {
    s: TcpStream,
    frames: Frames,
    out: BytesMut,
}

struct Reactor {
    listener: TcpListener,
    ids: Ids,
    clients: HashMap<u32, Client>,
    /// The ids, to walk while the map changes underneath.
    order: Vec<u32>,
    gone: Vec<u32>,
    batch: Batch,
    max_frame: usize,
}

fn main() {
    patchbay_peers::main("poll-reactor", serve)
}

async fn serve(listener: TcpListener, opts: Opts) {
    let mut r = Reactor {
        listener,
        ids: Ids::default(),
        clients: HashMap::new(),
        order: Vec::new(),
        gone: Vec::new(),
        batch: Batch::default(),
        max_frame: opts.max_frame,
    };
    poll_fn(|cx| r.poll(cx)).await
}

impl Reactor {
    /// One wake-up. It returns Pending only after a pass in which every
    /// socket returned Pending (each has then registered the waker) or had
    /// nothing to do, or after PASSES passes, having woken itself.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..PASSES {
            let mut progress = self.accept(cx);
            self.order.clear();
            self.order.extend(self.clients.keys().copied());
            for i in 0..self.order.len() {
                progress |= self.read(cx, self.order[i]);
            }
            for i in 0..self.order.len() {
                progress |= self.write(cx, self.order[i]);
            }
            for id in self.gone.drain(..) {
                self.clients.remove(&id);
            }
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn accept(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        loop {
            match self.listener.poll_accept(cx) {
                Poll::Ready(Ok((s, _))) => {
                    let _ = s.set_nodelay(true);
                    let id = self.ids.next();
                    let mut out = BytesMut::new();
                    out.extend_from_slice(&id_bytes(id));
                    self.clients.insert(
                        id,
                        Client {
                            s,
                            frames: Frames::new(self.max_frame),
                            out,
                        },
                    );
                    progress = true;
                }
                // Out of descriptors and the like: try again next wake-up
                // (the connection stays in the backlog).
                Poll::Ready(Err(e)) => {
                    eprintln!("accept: {}", e);
                    return progress;
                }
                Poll::Pending => return progress,
            }
        }
    }

    /// One read from `id`, its frames queued for their destinations.
    fn read(&mut self, cx: &mut Context<'_>, id: u32) -> bool {
        let c = match self.clients.get_mut(&id) {
            Some(c) if !self.gone.contains(&id) => c,
            _ => return false,
        };
        let room = c.frames.room();
        let n = {
            // SAFETY: poll_read only writes into the uninitialized room
            // (it never reads it), as tokio's own read_buf does.
            let spare = unsafe { room.chunk_mut().as_uninit_slice_mut() };
            let len = spare.len().min(READ_CHUNK);
            let mut rb = ReadBuf::uninit(&mut spare[..len]);
            match Pin::new(&mut c.s).poll_read(cx, &mut rb) {
                Poll::Pending => return false,
                Poll::Ready(Err(_)) => 0,
                Poll::Ready(Ok(())) => rb.filled().len(),
            }
        };
        if n == 0 {
            self.gone.push(id);
            return true;
        }
        // SAFETY: poll_read initialized the first n bytes of the room.
        unsafe { room.advance_mut(n) };
        let too_long = self.batch.fill(&mut c.frames);
        for (dest, bytes) in self.batch.drain() {
            // Unknown or gone: dropped.
            if self.gone.contains(&dest) {
                continue;
            }
            if let Some(d) = self.clients.get_mut(&dest) {
                d.out.extend_from_slice(&bytes);
                if d.out.len() > OUTBOX_LIMIT {
                    eprintln!(
                        "client {} disconnected as slow consumer: more than {} bytes queued",
                        dest, OUTBOX_LIMIT
                    );
                    self.gone.push(dest);
                }
            }
        }
        if too_long {
            log_too_long(id, self.max_frame);
            self.gone.push(id);
        }
        true
    }

    /// Writes what is queued for `id` until it is written or the socket is
    /// full.
    fn write(&mut self, cx: &mut Context<'_>, id: u32) -> bool {
        let c = match self.clients.get_mut(&id) {
            Some(c) if !self.gone.contains(&id) => c,
            _ => return false,
        };
        let mut progress = false;
        while !c.out.is_empty() {
            match Pin::new(&mut c.s).poll_write(cx, &c.out) {
                Poll::Pending => break,
                Poll::Ready(Ok(n)) if n > 0 => {
                    c.out.advance(n);
                    progress = true;
                }
                _ => {
                    self.gone.push(id);
                    return true;
                }
            }
        }
        progress
    }
}
