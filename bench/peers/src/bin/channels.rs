// SPDX-License-Identifier: ISC
//! channels: a task per client reads and parses, and sends each frame with
//! its destination down one channel to a dispatcher task that owns every
//! write half; no lock anywhere. Everything funnels through the one
//! dispatcher, which writes the frames it has gathered destination by
//! destination: one core's worth of routing, and a destination whose
//! socket is full stops the dispatcher, and so every client, until it
//! reads. Buffering: the channel holds at most CHANNEL frames.

use bytes::BytesMut;
use patchbay_peers::{id_bytes, Msg, WRITE_CHUNK};
use std::collections::HashMap;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

fn main() {
    patchbay_peers::main("channels", |l, o| {
        patchbay_peers::serve_through(l, o, dispatcher)
    })
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
