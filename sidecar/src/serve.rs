//! The one HTTP accept loop, shared by the API listener, the portal listener and the simulators.
//!
//! Why a module of its own: hyper 1.x leaves the accept loop and graceful shutdown to the
//! caller. Writing it once means every listener gets the same behaviour: connections are
//! served on their own task, header reads time out (slowloris), and on shutdown the loop
//! stops accepting and waits (bounded) for in-flight requests to finish.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

/// Response body used by every listener: a full buffer or a stream (SSE).
pub type Body = BoxBody<Bytes, Infallible>;

/// A whole-buffer body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// Anything that turns a request into a response. Implemented for closures.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        req: Request<Incoming>,
        peer: std::net::SocketAddr,
    ) -> impl Future<Output = Response<Body>> + Send;
}

/// How long in-flight requests get to finish after shutdown was asked for.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serve `handler` on `listener` until `shutdown` resolves, then drain in-flight connections.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) {
    let tracker = TaskTracker::new();
    let (close_tx, close_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let mut close_rx = close_rx.clone();
        tracker.spawn(async move {
            let service = service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler.handle(req, peer).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = close_rx.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let _ = close_tx.send(true);
    tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: connections still open after drain timeout");
    }
}

impl<F, Fut> Handler for F
where
    F: Fn(Request<Incoming>, std::net::SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send,
{
    fn handle(
        &self,
        req: Request<Incoming>,
        peer: std::net::SocketAddr,
    ) -> impl Future<Output = Response<Body>> + Send {
        (self)(req, peer)
    }
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Over the limit. `drained`: the rest was read and thrown away, so the connection can
    /// stay open; otherwise the caller must answer with `Connection: close`.
    TooLarge { drained: bool },
    /// The client's stream broke.
    Broken,
}

/// Bodies this large are still read (and discarded) after a 413, to keep keep-alive working.
pub const DRAIN_CAP: usize = 1024 * 1024;

/// Read a request body up to `limit` bytes.
pub async fn read_body(
    req: Request<Incoming>,
    limit: usize,
) -> Result<(http::request::Parts, Bytes), (http::request::Parts, BodyError)> {
    let (parts, mut body) = req.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut buf = bytes::BytesMut::new();
    let mut seen: usize = 0;
    let too_large_already = declared.is_some_and(|len| len > limit as u64);
    if declared.is_some_and(|len| len > DRAIN_CAP as u64) {
        return Err((parts, BodyError::TooLarge { drained: false }));
    }
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(_) => return Err((parts, BodyError::Broken)),
        };
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > DRAIN_CAP {
                return Err((parts, BodyError::TooLarge { drained: false }));
            }
            if !too_large_already && seen <= limit {
                buf.extend_from_slice(&data);
            }
        }
    }
    if too_large_already || seen > limit {
        return Err((parts, BodyError::TooLarge { drained: true }));
    }
    Ok((parts, buf.freeze()))
}

/// Mark a response so the connection closes after it (the request body was not read).
pub fn close_connection(resp: &mut hyper::Response<Body>) {
    resp.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
}
