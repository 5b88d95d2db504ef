// SPDX-License-Identifier: ISC
//! channel-per-writer: a task per client reads and parses and sends each
//! frame to a dispatcher task, which hands it on through a bounded channel
//! to a task per destination that owns that destination's write half. A
//! slow destination is absorbed by its own channel until that is full;
//! then the dispatcher waits to hand it the next frame, and every client
//! waits with it. Buffering: CHANNEL frames to the dispatcher, and
//! OUTBOX frames per destination.

use bytes::{Bytes, BytesMut};
use patchbay_peers::{accept, id_bytes, log_too_long, Frames, Ids, Next, Opts, WRITE_CHUNK};
use std::collections::HashMap;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Frames (and joins and leaves) queued for the dispatcher.
const CHANNEL: usize = 1024;
/// Frames queued for one destination's writer task.
const OUTBOX: usize = 1024;

enum Msg {
    Join(u32, OwnedWriteHalf),
    Frame(u32, Bytes),
    Leave(u32),
}

fn main() {
    patchbay_peers::main("channel-per-writer", serve)
}

async fn serve(listener: TcpListener, opts: Opts) {
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

/// Routes: a channel per destination, made at its join, closed at its
/// leave (its writer then stops once it has written what it holds).
async fn dispatcher(mut rx: mpsc::Receiver<Msg>) {
    let mut outboxes: HashMap<u32, mpsc::Sender<Bytes>> = HashMap::new();
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Join(id, w) => {
                let (otx, orx) = mpsc::channel(OUTBOX);
                tokio::spawn(writer(id, w, orx));
                outboxes.insert(id, otx);
            }
            Msg::Leave(id) => {
                outboxes.remove(&id);
            }
            Msg::Frame(dest, frame) => {
                // Unknown or gone: dropped. A writer that has stopped (its
                // write failed) closes its channel.
                let closed = match outboxes.get(&dest) {
                    Some(o) => o.send(frame).await.is_err(),
                    None => false,
                };
                if closed {
                    outboxes.remove(&dest);
                }
            }
        }
    }
}

/// One destination: its id first, then what its channel brings, as many
/// frames per write as are queued (up to WRITE_CHUNK bytes).
async fn writer(id: u32, mut w: OwnedWriteHalf, mut rx: mpsc::Receiver<Bytes>) {
    if w.write_all(&id_bytes(id)).await.is_err() {
        return;
    }
    let mut buf = BytesMut::new();
    while let Some(frame) = rx.recv().await {
        buf.extend_from_slice(&frame);
        while buf.len() < WRITE_CHUNK {
            match rx.try_recv() {
                Ok(f) => buf.extend_from_slice(&f),
                Err(_) => break,
            }
        }
        if w.write_all(&buf).await.is_err() {
            return;
        }
        buf.clear();
    }
}
