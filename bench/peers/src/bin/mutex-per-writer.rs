// SPDX-License-Identifier: ISC
//! mutex-per-writer: a task per client; each client's write half behind a
//! mutex of its own, the table of them behind a read-write lock taken only
//! to look destinations up. The nearest pattern to patchbayd's design:
//! senders to different destinations never wait for each other, but a
//! sender whose destination's socket is full waits in its write, holding
//! that writer's lock, and so stops reading; senders to other
//! destinations go on. Buffering: none beyond each client's read buffer.

use patchbay_peers::{accept, id_bytes, log_too_long, Batch, Frames, Ids, Opts};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, RwLock};

type Writer = Arc<Mutex<OwnedWriteHalf>>;
type Table = Arc<RwLock<HashMap<u32, Writer>>>;

fn main() {
    patchbay_peers::main("mutex-per-writer", serve)
}

async fn serve(listener: TcpListener, opts: Opts) {
    let table: Table = Arc::new(RwLock::new(HashMap::new()));
    let mut ids = Ids::default();
    loop {
        let stream = accept(&listener).await;
        let id = ids.next();
        let (r, w) = stream.into_split();
        let writer = Arc::new(Mutex::new(w));
        // In the table before the id is written, so that a frame sent the
        // moment the client has its id finds it, but under its lock, so
        // that such a frame waits for the id.
        let mut w = writer.clone().lock_owned().await;
        table.write().await.insert(id, writer);
        if w.write_all(&id_bytes(id)).await.is_err() {
            drop(w);
            table.write().await.remove(&id);
            continue;
        }
        drop(w);
        tokio::spawn(client(id, r, table.clone(), opts.max_frame));
    }
}

async fn client(id: u32, mut r: OwnedReadHalf, table: Table, max_frame: usize) {
    let mut frames = Frames::new(max_frame);
    let mut batch = Batch::default();
    let mut targets = Vec::new();
    loop {
        match frames.read_from(&mut r).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let too_long = batch.fill(&mut frames);
        if !batch.is_empty() {
            {
                let t = table.read().await;
                for (dest, bytes) in batch.drain() {
                    // Unknown or gone: dropped.
                    if let Some(w) = t.get(&dest) {
                        targets.push((dest, w.clone(), bytes));
                    }
                }
            }
            for (dest, w, bytes) in targets.drain(..) {
                let failed = w.lock().await.write_all(&bytes).await.is_err();
                if failed {
                    table.write().await.remove(&dest);
                }
            }
        }
        if too_long {
            log_too_long(id, max_frame);
            break;
        }
    }
    table.write().await.remove(&id);
}
