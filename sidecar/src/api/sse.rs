//! `GET /api/v1/events`: the event bus as Server-Sent Events.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::Response;
use tokio::sync::broadcast::error::RecvError;

use crate::app::AppState;
use crate::serve::Body;

/// How often a comment line keeps proxies and clients from timing the stream out.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub fn stream(state: &Arc<AppState>) -> Response<Body> {
    let rx = state.events.subscribe();
    let shutdown = state.shutdown.clone();
    let first = Bytes::from_static(b": connected\n\n");
    let s = futures_util::stream::unfold(
        (rx, Some(first), shutdown),
        |(mut rx, first, shutdown)| async move {
            if let Some(f) = first {
                return Some((Ok::<_, Infallible>(Frame::data(f)), (rx, None, shutdown)));
            }
            // The stream ends when the sidecar shuts down, so the drain does not wait for it.
            let next = tokio::select! {
                _ = shutdown.cancelled() => return None,
                r = tokio::time::timeout(KEEPALIVE, rx.recv()) => r,
            };
            let text = match next {
                Err(_) => ": keepalive\n\n".to_owned(),
                Ok(Ok(ev)) => {
                    let mut data = ev.data.clone();
                    if let Some(obj) = data.as_object_mut() {
                        obj.insert(
                            "at".into(),
                            serde_json::Value::String(super::dto::ts(ev.at)),
                        );
                    }
                    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
                    format!(
                        "event: {}\nid: {}\ndata: {}\n\n",
                        ev.kind.as_str(),
                        id,
                        data
                    )
                }
                Ok(Err(RecvError::Lagged(n))) => format!(": lagged {n} events\n\n"),
                Ok(Err(RecvError::Closed)) => return None,
            };
            Some((Ok(Frame::data(Bytes::from(text))), (rx, None, shutdown)))
        },
    );
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-store")
        .body(StreamBody::new(s).boxed())
        .expect("static response parts")
}
