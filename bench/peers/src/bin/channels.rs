// SPDX-License-Identifier: ISC
//! channels: a task per client reads and parses, and sends each frame with
//! its destination down one channel to a dispatcher task that owns every
//! write half; no lock anywhere. Everything funnels through the one
//! dispatcher, which writes the frames it has gathered destination by
//! destination: one core's worth of routing, and a destination whose
//! socket is full stops the dispatcher, and so every client, until it
//! reads. Buffering: the channel holds at most CHANNEL frames.

use bytes::{Bytes, BytesMut};
use patchbay_peers::{accept, id_bytes, log_too_long, Frames, Ids, Next, Opts, WRITE_CHUNK};
use std::collections::HashMap;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Frames (and joins and leaves) queued for the dispatcher.
const CHANNEL: usize = 1024;

enum Msg {
    Join(u32, OwnedWriteHalf),
    Frame(u32, Bytes),
    Leave(u32),
}

fn main() {
    patchbay_peers::main("channels", serve)
}

async fn serve(listener: TcpListener, opts: Opts) {
    let (tx, rx) = mpsc::channel(CHANNEL);
    tokio::spawn(dispatcher(rx));
    let mut ids = Ids::default();
    loop {
        let stream = accept(&listener).await;
        let id = ids.next();
        let (r, w) = stream.into_split();
        // The dispatcher writes the id before anything else for it.
        if tx.send(Msg::Join(id, w)).await.is_err() {
            return;
        }
        tokio::spawn(client(id, r, tx.clone(), opts.max_frame));
    }
}

async fn client(id: u32, mut r: OwnedReadHalf, tx: mpsc::Sender<Msg>, max_frame: usize) {
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

/// Owns the writers. It takes what is queued (up to WRITE_CHUNK bytes a
/// destination), then writes it, a destination at a time.
async fn dispatcher(mut rx: mpsc::Receiver<Msg>) {
    let mut writers: HashMap<u32, OwnedWriteHalf> = HashMap::new();
    let mut pending: Vec<(u32, BytesMut)> = Vec::new();
    while let Some(mut msg) = rx.recv().await {
        let mut queued = 0;
        loop {
            match msg {
                Msg::Join(id, mut w) => {
                    if w.write_all(&id_bytes(id)).await.is_ok() {
                        writers.insert(id, w);
                    }
                }
                // Frames already gathered for it are dropped at the write.
                Msg::Leave(id) => {
                    writers.remove(&id);
                }
                Msg::Frame(dest, frame) => {
                    if writers.contains_key(&dest) {
                        queued += frame.len();
                        match pending.iter_mut().find(|p| p.0 == dest) {
                            Some(p) => p.1.extend_from_slice(&frame),
                            None => pending.push((dest, BytesMut::from(&frame[..]))),
                        }
                    }
                }
            }
            if queued >= WRITE_CHUNK {
                break;
            }
            msg = match rx.try_recv() {
                Ok(m) => m,
                Err(_) => break,
            };
        }
        for (dest, bytes) in pending.drain(..) {
            if let Some(w) = writers.get_mut(&dest) {
                if w.write_all(&bytes).await.is_err() {
                    writers.remove(&dest);
                }
            }
        }
    }
}
