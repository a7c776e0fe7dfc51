//! The daemon's HTTP endpoint: `/metrics`, `/healthz`, `/readyz`, on hyper's
//! HTTP/1 server (the product links no web framework; see `.ci/run`).
//!
//! Bounded so that a slow or hostile client cannot pin the daemon: a few
//! connections at once (more are closed at once), request heads of a few KiB
//! read within seconds, one request per connection, no request body read, and
//! every connection closed after [`CONNECTION_TIMEOUT`]. It runs in tasks of
//! its own; checks and builds never wait for it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::Metrics;

/// Connections served at once; Prometheus needs one.
const MAX_CONNECTIONS: usize = 8;
/// The longest a connection may stay open, whatever the client does.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest request head read; none of the routes takes a body.
const MAX_HEAD: usize = 8 * 1024;
const MAX_BODY: u64 = 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("listen on {addr} for /metrics ([service] metrics_listen)")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Whether the endpoint says healthy and ready; the daemon sets both.
#[derive(Clone)]
pub struct Probes {
    ready: Arc<AtomicBool>,
    /// `Err(reason)` when the process cannot do its work.
    health: Arc<dyn Fn() -> Result<(), String> + Send + Sync>,
}

impl Probes {
    pub fn new(health: impl Fn() -> Result<(), String> + Send + Sync + 'static) -> Probes {
        Probes {
            ready: Arc::new(AtomicBool::new(false)),
            health: Arc::new(health),
        }
    }

    /// Start-up is done: `/readyz` answers 200 from now on.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
}

/// The running endpoint; dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    pub async fn start(
        addr: SocketAddr,
        metrics: Metrics,
        probes: Probes,
    ) -> Result<Server, ServerError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let addr = listener.local_addr().unwrap_or(addr);
        let task = tokio::spawn(accept(listener, metrics, probes));
        Ok(Server { addr, task })
    }

    /// The address it listens on (the port the OS chose for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

async fn accept(listener: TcpListener, metrics: Metrics, probes: Probes) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of descriptors, say: wait rather than spin.
                tracing::debug!(%error, "could not accept a metrics connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Over the limit: closed at once rather than queued.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let metrics = metrics.clone();
        let probes = probes.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let answer = route(&request, &metrics, &probes);
                async move { Ok::<_, Infallible>(answer) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
            drop(slot);
        });
    }
}

fn route(request: &Request<Incoming>, metrics: &Metrics, probes: &Probes) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if !matches!(path, "/metrics" | "/healthz" | "/readyz") {
        return text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /healthz or /readyz\n",
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut answer = text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
        answer
            .headers_mut()
            .insert(hyper::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return answer;
    }
    if request.body().size_hint().lower() > MAX_BODY {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "no request body expected\n");
    }
    match path {
        "/metrics" => match metrics.encode() {
            Ok(body) => {
                let mut answer = Response::new(Full::new(Bytes::from(body)));
                answer.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static(
                        prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                    ),
                );
                answer
            }
            Err(_) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not encode the metrics\n",
            ),
        },
        "/healthz" => match (probes.health)() {
            Ok(()) => text(StatusCode::OK, "ok\n"),
            Err(reason) => text(StatusCode::SERVICE_UNAVAILABLE, &format!("{reason}\n")),
        },
        _ if probes.ready.load(Ordering::Acquire) => text(StatusCode::OK, "ready\n"),
        _ => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: resuming unfinished builds\n",
        ),
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut answer = Response::new(Full::new(Bytes::from(body.to_owned())));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    answer
}
