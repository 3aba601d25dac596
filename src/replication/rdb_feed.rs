//! `SYNC` (and `PSYNC` from tools that are not Strata replicas) answered as Redis answers
//! it: a bulk reply holding an RDB of the whole dataset, which `redis-cli --rdb FILE`
//! saves. The RDB is written to a temporary file in the data directory on a blocking
//! thread (the server keeps serving), with a newline sent every second meanwhile — Redis's
//! keep-alive while a replica waits for its copy — then streamed in bounded chunks.
//!
//! The export reads the live dataset key by key: it is not one moment in time when writes
//! run during it (Redis's fork gives one). Depends on `rdb_dataset` and the socket.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::socket::Socket;
use crate::state::ServerState;
use crate::storage::now_ms;

/// Bytes per write while streaming the file.
const CHUNK: usize = 64 * 1024;

/// Sends the dataset as `$<len>\r\n<rdb>` and returns; the caller closes the connection
/// (Strata does not follow an RDB with a command stream for tools).
pub async fn serve(state: Arc<ServerState>, socket: &mut Socket) {
    let path =
        state
            .storage
            .data_dir()
            .join(format!("temp-sync-{}-{}.rdb", std::process::id(), now_ms()));
    let export_path = path.clone();
    let export_state = state.clone();
    let mut job = tokio::task::spawn_blocking(move || -> Result<u64, String> {
        let file = std::fs::File::create(&export_path).map_err(|e| e.to_string())?;
        let mut out = std::io::BufWriter::new(file);
        crate::rdb_dataset::export(&export_state.storage, &mut out).map_err(|e| e.to_string())?;
        let file = out.into_inner().map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        file.metadata().map(|m| m.len()).map_err(|e| e.to_string())
    });
    let outcome = loop {
        tokio::select! {
            done = &mut job => break done.map_err(|e| e.to_string()).and_then(|r| r),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if socket.write_all(b"\n").await.is_err() {
                    // The tool went away; let the export finish and clean up.
                    let _ = (&mut job).await;
                    let _ = std::fs::remove_file(&path);
                    return;
                }
            }
        }
    };
    match outcome {
        Ok(len) => {
            if let Err(e) = stream_file(socket, &path, len).await {
                tracing::warn!("SYNC: sending the RDB failed: {e}");
            }
        }
        Err(e) => {
            tracing::warn!("SYNC: writing the RDB failed: {e}");
            let _ = socket
                .write_all(format!("-ERR RDB export failed: {e}\r\n").as_bytes())
                .await;
        }
    }
    let _ = std::fs::remove_file(&path);
}

async fn stream_file(socket: &mut Socket, path: &std::path::Path, len: u64) -> std::io::Result<()> {
    let mut file = tokio::fs::File::open(path).await?;
    socket.write_all(format!("${len}\r\n").as_bytes()).await?;
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        socket.write_all(&buffer[..n]).await?;
    }
    socket.flush().await
}
