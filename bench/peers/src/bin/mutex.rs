// SPDX-License-Identifier: ISC
//! mutex: a task per client; every client's write half lives in one table
//! behind one tokio::sync::Mutex, which a sender holds while it writes its
//! frames to their destinations. The simplest pattern, and its known
//! weakness: a destination whose socket is full keeps the lock, and with it
//! every other sender, until it reads. Buffering: none beyond each client's
//! read buffer (one read and at most one unfinished frame); back-pressure
//! goes through the lock.

use patchbay_peers::{accept, id_bytes, log_too_long, Batch, Frames, Ids, Opts};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

type Table = Arc<Mutex<HashMap<u32, OwnedWriteHalf>>>;

fn main() {
    patchbay_peers::main("mutex", serve)
}

async fn serve(listener: TcpListener, opts: Opts) {
    let table: Table = Arc::new(Mutex::new(HashMap::new()));
    let mut ids = Ids::default();
    loop {
        let stream = accept(&listener).await;
        let id = ids.next();
        let (r, mut w) = stream.into_split();
        {
            // The id goes out under the lock, so that no frame for this
            // client can be written before it.
            let mut t = table.lock().await;
            if w.write_all(&id_bytes(id)).await.is_err() {
                continue;
            }
            t.insert(id, w);
        }
        tokio::spawn(client(id, r, table.clone(), opts.max_frame));
    }
}

async fn client(id: u32, mut r: OwnedReadHalf, table: Table, max_frame: usize) {
    let mut frames = Frames::new(max_frame);
    let mut batch = Batch::default();
    loop {
        match frames.read_from(&mut r).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let too_long = batch.fill(&mut frames);
        if !batch.is_empty() {
            let mut t = table.lock().await;
            for (dest, bytes) in batch.drain() {
                // Unknown or gone: dropped. A write that fails means the
                // destination has gone: it leaves the table.
                if let Some(w) = t.get_mut(&dest) {
                    if w.write_all(&bytes).await.is_err() {
                        t.remove(&dest);
                    }
                }
            }
        }
        if too_long {
            log_too_long(id, max_frame);
            break;
        }
    }
    table.lock().await.remove(&id);
}
