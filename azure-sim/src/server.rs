//! The HTTP front door: a loopback listener whose connections can be dropped
//! on purpose, and the request pipeline (faults → auth → throttle →
//! api-version → ARM's scope checks: subscription, provider registration,
//! resource group → resource provider → journal). The blob route is Azure
//! Storage's: faults, then its own auth, no ARM bucket.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::connect_info::Connected;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::error::ArmError;
use super::faults::{self, Access, FaultKind};
use super::journal::{JournalEntry, body_for_journal};
use super::routes::{ArmOp, Route, RouteKind, classify};
use super::state::{State, lock};
use super::{
    auth, blob, gallery, gallery_update, identities, marketplace, operations, providers,
    resource_groups, run_outputs, subscriptions, templates, wire,
};

/// Accepts TCP connections that a handler can later sever.
pub(crate) struct SimListener(pub TcpListener);

/// Shared per-connection switch: once set, the connection dies without answering.
#[derive(Debug, Clone, Default)]
pub(crate) struct Severed(Arc<AtomicBool>);

pub(crate) struct SimStream {
    inner: TcpStream,
    severed: Severed,
}

impl Listener for SimListener {
    type Io = SimStream;
    type Addr = Severed;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((inner, _)) => {
                    let severed = Severed::default();
                    let io = SimStream {
                        inner,
                        severed: severed.clone(),
                    };
                    return (io, severed);
                }
                // Accept errors (e.g. out of descriptors) are transient; back off briefly.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(Severed::default())
    }
}

impl Connected<IncomingStream<'_, SimListener>> for Severed {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        stream.remote_addr().clone()
    }
}

impl SimStream {
    fn is_severed(&self) -> bool {
        self.severed.0.load(Ordering::SeqCst)
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.is_severed() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.is_severed() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into()));
        }
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

pub(crate) fn router(state: Arc<State>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(state)
}

async fn handle(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    ConnectInfo(severed): ConnectInfo<Severed>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let route = classify(&method, uri.path());
    let query_raw = uri.query().unwrap_or_default().to_owned();
    let query = wire::parse_pairs(&query_raw);
    let is_form = matches!(route.kind, RouteKind::Entra { .. });

    let response = answer(&state, &route, &method, &query, &headers, &body).await;
    let status = match &response {
        Some(resp) => resp.status().as_u16(),
        None => 0,
    };
    lock(&state.journal).record(JournalEntry {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: query_raw,
        body: body_for_journal(&body, is_form),
        status,
        route: route.name.to_owned(),
    });
    match response {
        Some(resp) => resp,
        None => {
            severed.0.store(true, Ordering::SeqCst);
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The answer to one request; `None` means drop the connection.
async fn answer(
    state: &Arc<State>,
    route: &Route,
    method: &Method,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<Response> {
    let plan = lock(&state.faults).plan(route.name);
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    let access = Route::access(method);
    let subscription = match &route.kind {
        RouteKind::Arm { subscription, .. } | RouteKind::UnknownArm { subscription } => {
            Some(subscription.as_str())
        }
        _ => None,
    };
    if let RouteKind::Blob { .. } = route.kind {
        match plan.action {
            Some(FaultKind::Drop) => return None,
            Some(FaultKind::Status { code }) => return Some(blob::fault_error(state, Some(code))),
            Some(FaultKind::Throttle { .. }) => return Some(blob::fault_error(state, None)),
            Some(FaultKind::Latency { .. }) | None => {}
        }
    }
    match plan.action {
        Some(FaultKind::Drop) => return None,
        Some(FaultKind::Status { code }) => {
            return Some(faults::status_error(code).into_response());
        }
        Some(FaultKind::Throttle { retry_after_secs }) => {
            let mut resp =
                faults::throttled_error(subscription.unwrap_or_default(), access, retry_after_secs)
                    .into_response();
            wire::set_header(&mut resp, "retry-after", &retry_after_secs.to_string());
            wire::set_header(&mut resp, access.header(), "0");
            return Some(resp);
        }
        Some(FaultKind::Latency { .. }) | None => {}
    }
    let resp = match &route.kind {
        RouteKind::Msi => auth::msi_token(state, query, headers),
        RouteKind::Entra { tenant } => {
            let form = wire::parse_pairs(&String::from_utf8_lossy(body));
            auth::entra_token(state, tenant, &form)
        }
        RouteKind::Blob {
            account,
            container,
            blob,
        } => blob::get(state, method, headers, account, container, blob),
        RouteKind::NotFound => ArmError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The requested path was not found.",
        )
        .into_response(),
        RouteKind::UnknownArm { subscription } | RouteKind::Arm { subscription, .. } => {
            arm(state, route, subscription, method, query, headers, body)
        }
    };
    Some(resp)
}

fn arm(
    state: &Arc<State>,
    route: &Route,
    subscription: &str,
    method: &Method,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    if let Err(resp) = auth::check_arm(state, headers) {
        return *resp;
    }
    let access = Route::access(method);
    let remaining = match lock(&state.throttle).take(subscription, access) {
        Ok(left) => left,
        Err(t) => {
            let mut resp =
                faults::throttled_error(subscription, access, t.retry_after_secs).into_response();
            wire::set_header(&mut resp, "retry-after", &t.retry_after_secs.to_string());
            wire::set_header(&mut resp, access.header(), "0");
            return resp;
        }
    };
    let mut resp = match &route.kind {
        RouteKind::Arm {
            api_version, op, ..
        } => match check_api_version(query, api_version).and_then(|()| {
            let namespace = match access {
                Access::Write => op.write_namespace(),
                Access::Read => None,
            };
            resource_groups::check_scope(state, subscription, op.resource_group(), namespace)
        }) {
            Err(e) => e.into_response(),
            Ok(()) => dispatch(state, subscription, op.clone(), query, body),
        },
        _ => ArmError::new(
            StatusCode::NOT_FOUND,
            "InvalidResourceType",
            format!("The resource type or operation '{method}' could not be found for this path."),
        )
        .into_response(),
    };
    wire::set_header(&mut resp, access.header(), &remaining.to_string());
    let request_id = uuid::Uuid::new_v4().to_string();
    wire::set_header(&mut resp, "x-ms-request-id", &request_id);
    wire::set_header(&mut resp, "x-ms-correlation-request-id", &request_id);
    resp
}

fn check_api_version(query: &[(String, String)], expected: &str) -> Result<(), ArmError> {
    let Some(given) = wire::query_value(query, "api-version") else {
        return Err(ArmError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    if expected.split(',').any(|accepted| accepted == given) {
        return Ok(());
    }
    let expected = expected.replace(',', "', '");
    let date = given.split('-').take(3).collect::<Vec<_>>();
    let well_formed = date.len() == 3
        && date.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        && given.len() >= 10;
    if !well_formed {
        return Err(ArmError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{given}' is invalid. The supported versions are '{expected}'."
            ),
        ));
    }
    Err(ArmError::bad_request(
        "NoRegisteredProviderFound",
        format!(
            "No registered resource provider found for API version '{given}'. The supported api-versions are '{expected}'."
        ),
    ))
}

fn dispatch(
    state: &Arc<State>,
    subscription: &str,
    op: ArmOp,
    query: &[(String, String)],
    body: &Bytes,
) -> Response {
    match op {
        ArmOp::MarketList(p) => marketplace::list(state, &p, query),
        ArmOp::MarketGet(p, v) => marketplace::get(state, &p, &v),
        ArmOp::TemplateList(rg) => templates::list(state, subscription, &rg),
        ArmOp::TemplatePut(p) => templates::put(state, &p, body),
        ArmOp::TemplateGet(p) => templates::get(state, &p),
        ArmOp::TemplateDelete(p) => templates::delete(state, &p),
        ArmOp::TemplateRun(p) => templates::run(state, &p),
        ArmOp::TemplateCancel(p) => templates::cancel(state, &p),
        ArmOp::RunOutputs(p) => run_outputs::list(state, &p),
        ArmOp::RunOutput(p, name) => run_outputs::get(state, &p, &name),
        ArmOp::OperationStatus { id } => operations::status(state, &id),
        ArmOp::OperationResult { id } => operations::result(state, &id),
        ArmOp::GalleryImageGet(p) => gallery::image_definition_get(state, &p),
        ArmOp::GalleryVersionList(p) => gallery::version_list(state, &p),
        ArmOp::GalleryVersionGet(p, v) => gallery::version_get(state, &p, &v),
        ArmOp::GalleryVersionDelete(p, v) => gallery::version_delete(state, &p, &v),
        ArmOp::GalleryVersionUpdate(p, v) => gallery_update::version_update(state, &p, &v, body),
        ArmOp::ImageGet(p) => gallery::managed_image_get(state, &p),
        ArmOp::ImageDelete(p) => gallery::managed_image_delete(state, &p),
        ArmOp::SubscriptionGet => subscriptions::get(state, subscription),
        ArmOp::LocationList => subscriptions::locations(state, subscription),
        ArmOp::ResourceGroupGet(rg) => resource_groups::get(state, subscription, &rg),
        ArmOp::ResourceList(rg) => resource_groups::list_resources(state, subscription, &rg),
        ArmOp::ProviderGet(ns) => providers::get(state, subscription, &ns),
        ArmOp::IdentityGet(p) => {
            let version = wire::query_value(query, "api-version").unwrap_or_default();
            identities::get(state, &p, version)
        }
    }
}
