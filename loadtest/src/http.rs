//! A lean HTTP/1.1 client: one keep-alive connection = one hyper `SendRequest`, one request
//! in flight at a time. The load loops own their connections explicitly (no pool to hide
//! how many sockets are open), and reconnect only after a transport error.

use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub type Req = Request<Full<Bytes>>;

pub struct Conn {
    addr: SocketAddr,
    tx: SendRequest<Full<Bytes>>,
}

/// A response, body read in full.
pub struct Resp {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { addr, tx })
    }

    /// [`Conn::connect`] from the local address `src` (a guest on another loopback address).
    pub async fn connect_from(src: std::net::IpAddr, addr: SocketAddr) -> Result<Conn> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(src, 0))?;
        let stream = socket
            .connect(addr)
            .await
            .with_context(|| format!("connect {addr} from {src}"))?;
        stream.set_nodelay(true)?;
        let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { addr, tx })
    }

    /// True when the server closed the connection (the sidecar closes keep-alive connections
    /// idle for longer than its 10 s header-read timeout).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Send one request and read the whole body. Errors are transport errors.
    pub async fn send(&mut self, req: Req) -> Result<Resp, hyper::Error> {
        self.tx.ready().await?;
        let resp = self.tx.send_request(req).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Replace a broken connection.
    pub async fn reconnect(&mut self) -> Result<()> {
        *self = Conn::connect(self.addr).await?;
        Ok(())
    }
}

/// Builds requests for the sidecar's JSON API (Host and Bearer token pre-encoded).
#[derive(Clone)]
pub struct Api {
    host: HeaderValue,
    auth: HeaderValue,
}

impl Api {
    pub fn new(addr: SocketAddr, token: &str) -> Result<Api> {
        Ok(Api {
            host: HeaderValue::from_str(&addr.to_string())?,
            auth: HeaderValue::from_str(&format!("Bearer {token}"))?,
        })
    }

    fn base(&self, method: Method, path: &str) -> http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.host.clone())
            .header(header::AUTHORIZATION, self.auth.clone())
    }

    pub fn get(&self, path: &str) -> Req {
        self.base(Method::GET, path)
            .body(Full::new(Bytes::new()))
            .expect("valid request")
    }

    pub fn json(&self, method: Method, path: &str, body: Bytes) -> Req {
        self.base(method, path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .expect("valid request")
    }

    /// One set-up call on `conn`: JSON in, JSON out, `want` status or an error naming both.
    pub async fn call(
        &self,
        conn: &mut Conn,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
        want: &[u16],
    ) -> Result<serde_json::Value> {
        let req = match body {
            Some(b) => self.json(method.clone(), path, Bytes::from(serde_json::to_vec(&b)?)),
            None => self
                .base(method.clone(), path)
                .body(Full::new(Bytes::new()))?,
        };
        if conn.is_closed() {
            conn.reconnect().await?;
        }
        let resp = conn
            .send(req)
            .await
            .with_context(|| format!("{method} {path}"))?;
        if !want.contains(&resp.status.as_u16()) {
            bail!(
                "{method} {path}: HTTP {} (expected {want:?}): {}",
                resp.status,
                String::from_utf8_lossy(&resp.body)
            );
        }
        if resp.body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&resp.body)
            .with_context(|| format!("{method} {path}: response is not JSON"))
    }
}
