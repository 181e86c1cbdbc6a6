//! Portal request handling: ties the page building blocks to vouchers, grants and the controller.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use crate::app::AppState;
use crate::serve::{full, Body};

pub async fn handle(
    state: Arc<AppState>,
    _req: Request<Incoming>,
    _peer: SocketAddr,
) -> Response<Body> {
    state.metrics.portal_requests.inc();
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .body(full("not found"))
        .expect("static response parts")
}
