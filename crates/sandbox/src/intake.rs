//! What every request passes on its way to a handler: the counters ([`Stats`]), the holds a test
//! placed (`hold`), the configured latency, and for the FHIR data endpoints the faults the plan
//! draws (`faults`), answered here as real servers and networks fail: error statuses, proxy
//! pages, broken and truncated bodies, slow answers, tokens expired or revoked.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::faults::{data_type, request_key, FaultKind};
use crate::fhir;
use crate::state::Shared;
use crate::stats::{InFlight, Stats};

/// Middleware counting requests by endpoint and protocol, FHIR requests in flight and 401 responses, holding
/// the requests a test asked for (`hold`), adding the configured latency and injecting the
/// planned faults (`faults`).
pub(crate) async fn count_request(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let arrived = Instant::now();
    let stats = &shared.stats;
    Stats::bump(&stats.requests);
    if request.version() == axum::http::Version::HTTP_2 {
        Stats::bump(&stats.http2_requests);
    }
    let path = request.uri().path();
    // The path after the FHIR base (either spelling), for FHIR requests.
    let under = |base: &str| {
        path.strip_prefix(base)
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .map(str::to_owned)
    };
    let fhir_rest =
        under(&shared.base_path).or_else(|| shared.alternate_base_path.as_deref().and_then(under));
    let mut _in_flight = None;
    if let Some(rest) = &fhir_rest {
        Stats::bump(&stats.fhir_requests);
        _in_flight = Some(InFlight::enter(stats));
        let target = match request.uri().query() {
            Some(query) => format!("{rest}?{query}"),
            None => rest.clone(),
        };
        shared.holds.pass(&target).await;
    } else if path == "/oauth/authorize" {
        Stats::bump(&stats.authorize_requests);
    } else if path == "/oauth/token" {
        Stats::bump(&stats.token_requests);
    }
    let latency = shared.config.quirks.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = match fhir_rest {
        Some(_) if !admitted_by_rate(&shared) => rate_limited(),
        Some(rest) => {
            let response = apply(&shared, &rest, request, next).await;
            stats.answered_fhir(arrived.elapsed());
            response
        }
        None => next.run(request).await,
    };
    if response.status() == StatusCode::UNAUTHORIZED {
        Stats::bump(&stats.unauthorized);
    }
    response
}

/// Whether a FHIR request is within `Quirks::rate_limit` (always, without one).
fn admitted_by_rate(shared: &Shared) -> bool {
    let Some(limit) = &shared.config.quirks.rate_limit else {
        return true;
    };
    let admitted = shared.rate.admit(limit);
    if !admitted {
        Stats::bump(&shared.stats.rate_limited);
    }
    admitted
}

/// eClinicalWorks' answer over its rate: 429 and no `Retry-After`; the client must guess.
fn rate_limited() -> Response {
    let body = serde_json::json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "throttled", "diagnostics": "Rate limit exceeded"}],
    });
    fhir::fhir_json(StatusCode::TOO_MANY_REQUESTS, body.to_string())
}

/// Applies the plan to one request: answers it with a fault, or passes it on.
async fn apply(shared: &Shared, rest: &str, request: Request, next: Next) -> Response {
    let Some(resource_type) = data_type(rest) else {
        return next.run(request).await;
    };
    let key = request_key(
        request.method().as_str(),
        request.uri().path(),
        request.uri().query(),
    );
    let Some((kind, plan)) = shared.faults.decide(resource_type, &key) else {
        return next.run(request).await;
    };
    match kind {
        FaultKind::TooManyRequestsSeconds => {
            let seconds = plan.retry_after.as_secs().to_string();
            status(StatusCode::TOO_MANY_REQUESTS, &seconds)
        }
        FaultKind::TooManyRequestsDate => {
            let at = SystemTime::now() + plan.retry_after;
            status(StatusCode::TOO_MANY_REQUESTS, &httpdate::fmt_http_date(at))
        }
        FaultKind::InternalServerError => status(StatusCode::INTERNAL_SERVER_ERROR, ""),
        FaultKind::BadGateway => proxy_page(StatusCode::BAD_GATEWAY),
        FaultKind::ServiceUnavailable => status(StatusCode::SERVICE_UNAVAILABLE, ""),
        FaultKind::GatewayTimeout => proxy_page(StatusCode::GATEWAY_TIMEOUT),
        FaultKind::ResetBeforeBody => {
            let broken = futures_util::stream::once(async { Err::<Bytes, _>(reset()) });
            let mut response = Response::new(Body::from_stream(broken));
            set_type(&mut response, fhir::FHIR_JSON);
            response
        }
        FaultKind::ResetMidBody => {
            let (mut response, bytes) = real_answer(request, next).await;
            let half = bytes.slice(..bytes.len() / 2);
            response.headers_mut().remove(header::CONTENT_LENGTH);
            *response.body_mut() = Body::from_stream(first_then(half, Some(reset())));
            response
        }
        FaultKind::TruncatedWithLength => {
            let (mut response, bytes) = real_answer(request, next).await;
            let half = bytes.slice(..bytes.len() / 2);
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(half.len()));
            *response.body_mut() = Body::from(half);
            response
        }
        FaultKind::TruncatedWithoutLength => {
            let (mut response, bytes) = real_answer(request, next).await;
            let half = bytes.slice(..bytes.len() / 2);
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            // A stream (no exact size) that ends early: the server closes the connection
            // short of the announced length.
            *response.body_mut() = Body::from_stream(first_then(half, None));
            response
        }
        FaultKind::InvalidJson => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, fhir::FHIR_JSON)],
            INVALID_JSON,
        )
            .into_response(),
        FaultKind::HtmlLoginPage => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            LOGIN_PAGE,
        )
            .into_response(),
        FaultKind::Slow => {
            tokio::time::sleep(plan.slow).await;
            next.run(request).await
        }
        FaultKind::AccessTokenExpired => {
            if let Some(token) = bearer_token(&request) {
                shared.auth().expire_access_token(&token);
            }
            next.run(request).await
        }
        FaultKind::RefreshTokenRevoked => {
            if let Some(token) = bearer_token(&request) {
                shared.auth().revoke_grant_of(&token);
            }
            next.run(request).await
        }
    }
}

const INVALID_JSON: &str = r#"{"resourceType":"Bundle","type":"searchset","total":1,"entry":[{"resource":{"resourceType":"Basic","id":"x"}},]}"#;

const LOGIN_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Patient Portal - Sign in</title></head>\n<body><h1>Your session has ended</h1>\n<form method=\"post\" action=\"/portal/login\"><label>Username <input name=\"username\"></label>\n<label>Password <input type=\"password\" name=\"password\"></label>\n<button>Sign in</button></form></body></html>\n";

/// A body that sends `first`, pauses (so the status line, headers and `first` reach the
/// client) and then fails with `error`, or simply ends when there is none.
fn first_then(
    first: Bytes,
    error: Option<std::io::Error>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    use futures_util::StreamExt as _;
    let rest = futures_util::stream::once(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        error
    })
    .filter_map(|error| async move { error.map(Err) });
    futures_util::stream::once(async move { Ok(first) }).chain(rest)
}

fn reset() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "injected connection reset",
    )
}

fn set_type(response: &mut Response, content_type: &'static str) {
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
}

/// A FHIR error status with an OperationOutcome; `retry_after` when not empty.
fn status(code: StatusCode, retry_after: &str) -> Response {
    let body = serde_json::json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "transient", "diagnostics": format!("injected fault: HTTP {}", code.as_u16())}],
    });
    let mut response = fhir::fhir_json(code, body.to_string());
    if let Ok(value) = HeaderValue::from_str(retry_after) {
        if !retry_after.is_empty() {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// What a reverse proxy sends when the server behind it fails.
fn proxy_page(code: StatusCode) -> Response {
    let reason = code.canonical_reason().unwrap_or("Error");
    let body = format!(
        "<html>\r\n<head><title>{n} {reason}</title></head>\r\n<body>\r\n<center><h1>{n} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        n = code.as_u16()
    );
    (code, [(header::CONTENT_TYPE, "text/html")], body).into_response()
}

/// The handler's real answer, with its body read whole.
async fn real_answer(request: Request, next: Next) -> (Response, Bytes) {
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    // The sandbox's own bodies are in memory; a failure here only shortens the answer.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    (Response::from_parts(parts, Body::empty()), bytes)
}

fn bearer_token(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}
