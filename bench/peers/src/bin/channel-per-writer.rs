// SPDX-License-Identifier: ISC
//! channel-per-writer: a task per client reads and parses and sends each
//! frame to a dispatcher task, which hands it on through a bounded channel
//! to a task per destination that owns that destination's write half. A
//! slow destination is absorbed by its own channel until that is full;
//! then the dispatcher waits to hand it the next frame, and every client
//! waits with it. Buffering: CHANNEL frames to the dispatcher, and
//! OUTBOX frames per destination.

use bytes::{Bytes, BytesMut};
use patchbay_peers::{id_bytes, Msg, WRITE_CHUNK};
use std::collections::HashMap;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

/// Frames queued for one destination's writer task.
const OUTBOX: usize = 1024;

fn main() {
    patchbay_peers::main("channel-per-writer", |l, o| {
        patchbay_peers::serve_through(l, o, dispatcher)
    })
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
