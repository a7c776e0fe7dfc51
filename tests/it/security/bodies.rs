//! An endpoint that answers without end (security finding, low): the client
//! reads at most 32 MiB of a body, with or without a Content-Length.

use image_refresh::azure::{AzureError, ResourcePath};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::azure_client::stub::client_at;

/// Answers every request with `chunks` chunks of 1 MiB, in chunked encoding.
async fn endless(chunks: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                            transfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("100000\r\n{}\r\n", "x".repeat(1 << 20));
                for _ in 0..chunks {
                    if stream.write_all(chunk.as_bytes()).await.is_err() {
                        return; // the client hung up, as it should
                    }
                }
                let _ = stream.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    base
}

#[tokio::test]
async fn a_body_past_the_cap_is_refused_without_reading_it_all() {
    let arm = client_at(&endless(1024).await);
    let error = arm
        .get(&ResourcePath::subscription("sub"), "2025-01-01")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AzureError::UnexpectedBody { detail, .. } if detail.contains("32 MiB")),
        "{error:?}"
    );
}
