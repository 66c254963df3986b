//! The HTTP side: hyper's HTTP/1 server, request parsing as the apiserver's
//! `RequestInfoFactory` does it, faults, RBAC, the REST verbs, and watch streams.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio::sync::watch;

use super::faults::{FaultAction, RequestRecord};
use super::kinds::{self, Format, Kind};
use super::rbac::Attributes;
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{Watcher, WriteOptions, rv_of};
use super::{Shared, State};

/// The apiserver's limit on a write request's body (`MaxRequestBodyBytes`, 3 MiB).
pub const BODY_LIMIT: usize = 3 * 1024 * 1024;

/// A response body: a whole JSON document, or the lines of a watch.
pub enum Body {
    Full(Option<Bytes>),
    Stream(UnboundedReceiver<Bytes>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx
                .poll_recv(cx)
                .map(|line| line.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

/// Accepts connections until `shutdown` changes.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let mut conn_shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(shared, req).await) }
                    });
                    let conn = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = conn_shutdown.changed() => {}
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
}

/// Decodes a query string (`a=1&b=x%2Fy`; empty pairs, as kube's `?&watch=true`, are
/// skipped).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let decoded = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match decoded {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Go's `strconv.ParseBool` truthy values.
fn truthy(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

/// A request for a resource, as the apiserver's RequestInfoFactory parses it.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceInfo {
    pub verb: String,
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

pub enum Info {
    Resource(ResourceInfo),
    NonResource { verb: String },
}

pub fn request_info(method: &Method, path: &str, params: &[(String, String)]) -> Info {
    let non_resource = || Info::NonResource {
        verb: method.as_str().to_ascii_lowercase(),
    };
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.first() {
        Some(&"api") if segs.len() >= 3 => ("", segs[1], &segs[2..]),
        Some(&"apis") if segs.len() >= 4 => (segs[1], segs[2], &segs[3..]),
        _ => return non_resource(),
    };
    let (namespace, rest) = if rest[0] == "namespaces" && rest.len() >= 3 {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    let resource = rest[0].to_string();
    let name = rest.get(1).map(|s| s.to_string());
    let subresource = rest.get(2).map(|s| s.to_string());
    let watch = params.iter().any(|(k, v)| k == "watch" && truthy(v));
    let verb = match *method {
        Method::GET | Method::HEAD => match (&name, watch) {
            (_, true) => "watch",
            (Some(_), false) => "get",
            (None, false) => "list",
        },
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => {
            if name.is_some() {
                "delete"
            } else {
                "deletecollection"
            }
        }
        _ => return non_resource(),
    };
    Info::Resource(ResourceInfo {
        verb: verb.to_string(),
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        resource,
        name,
        subresource,
    })
}

fn json_response(code: u16, value: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).expect("JSON values serialize");
    Response::builder()
        .status(code)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-cache, private")
        .body(Body::Full(Some(Bytes::from(bytes))))
        .expect("a valid response")
}

fn error_response(error: &ApiError) -> Response<Body> {
    let mut response = json_response(error.code, &error.to_status());
    if let Some(secs) = error.retry_after {
        response.headers_mut().insert(
            "Retry-After",
            secs.to_string().parse().expect("a valid header value"),
        );
    }
    response
}

fn stream_response(rx: UnboundedReceiver<Bytes>) -> Response<Body> {
    Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-cache, private")
        .body(Body::Stream(rx))
        .expect("a valid response")
}

/// What a handled request produces.
enum Outcome {
    Json(u16, Value),
    Watch(UnboundedReceiver<Bytes>, Option<WatchTimer>),
}

struct WatchTimer {
    id: u64,
    kind: Kind,
    timeout: Duration,
    bookmarks: bool,
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let arrived = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let params = parse_query(&query);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type");
    let accept = header("accept");
    let user_agent = header("user-agent");
    let info = request_info(&method, &path, &params);
    let (verb, res) = match &info {
        Info::Resource(r) => (r.verb.clone(), Some(r.clone())),
        Info::NonResource { verb } => (verb.clone(), None),
    };
    let seq = {
        let mut state = shared.state.lock().expect("state lock");
        state.next_seq += 1;
        state.next_seq
    };
    let mut record = RequestRecord {
        seq,
        at_ms: arrived.duration_since(shared.started).as_millis() as u64,
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        verb: verb.clone(),
        group: res.as_ref().map(|r| r.group.clone()),
        resource: res.as_ref().map(|r| r.resource.clone()),
        namespace: res.as_ref().and_then(|r| r.namespace.clone()),
        name: res.as_ref().and_then(|r| r.name.clone()),
        subresource: res.as_ref().and_then(|r| r.subresource.clone()),
        status: 0,
        reason: None,
        content_type: content_type.clone(),
        accept: accept.clone(),
        user_agent,
        body: None,
        fault: None,
    };

    // The body, within the apiserver's limit.
    let body = match Limited::new(req.into_body(), BODY_LIMIT).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return finish(
                &shared,
                record,
                error_response(&ApiError::entity_too_large(BODY_LIMIT)),
                None,
            );
        }
    };

    // Faults.
    let (delay, failure) = {
        let mut state = shared.state.lock().expect("state lock");
        state.faults.take(
            &verb,
            res.as_ref().map(|r| r.resource.as_str()),
            res.as_ref().and_then(|r| r.name.as_deref()),
        )
    };
    if !delay.is_zero() {
        record.fault = Some(format!("latency {}ms", delay.as_millis()));
        tokio::time::sleep(delay).await;
    }
    let mut conflict_fault = false;
    if let Some(action) = failure {
        record.fault = Some(format!("{action:?}"));
        let error = match action {
            FaultAction::Status(code) => Some(match code {
                500 => ApiError::internal("Internal error occurred: fake-argocd: injected fault"),
                503 => ApiError::unavailable(),
                504 => ApiError::new(
                    504,
                    "Timeout",
                    "the server was unable to return a response in the time allotted, but may still be processing the request",
                ),
                429 => ApiError::too_many_requests(1),
                code => ApiError::new(
                    code,
                    "InternalError",
                    format!("fake-argocd: injected fault {code}"),
                ),
            }),
            FaultAction::TooManyRequests { retry_after } => {
                Some(ApiError::too_many_requests(retry_after))
            }
            FaultAction::Gone if verb == "watch" => {
                let (tx, rx) = mpsc::unbounded_channel();
                let rv = shared.state.lock().expect("state lock").store.rv();
                let status = ApiError::expired(format!(
                    "too old resource version: {} ({rv})",
                    param(&params, "resourceVersion").unwrap_or_default()
                ))
                .to_status();
                let _ = tx.send(event_line("ERROR", &status));
                drop(tx);
                record.reason = Some("Expired".into());
                return finish(&shared, record, stream_response(rx), None);
            }
            FaultAction::Gone => Some(ApiError::expired("fake-argocd: injected 410")),
            FaultAction::Conflict => {
                conflict_fault = true;
                None
            }
            FaultAction::Latency(_) => None,
        };
        if let Some(error) = error {
            return finish(&shared, record, error_response(&error), None);
        }
    }

    let Some(res) = res else {
        // Discovery and other non-resource paths.
        let (user, allowed) = {
            let state = shared.state.lock().expect("state lock");
            let attrs = Attributes::NonResource {
                verb: verb.clone(),
                path: path.clone(),
            };
            (state.rbac.user.clone(), state.rbac.allows(&attrs))
        };
        if !allowed {
            return finish(
                &shared,
                record,
                error_response(&ApiError::forbidden_path(&user, &verb, &path)),
                None,
            );
        }
        let response = match kinds::discovery(&path, &shared.addr.to_string()) {
            Some(doc) if method == Method::GET => json_response(200, &doc),
            _ => error_response(&ApiError::no_resource()),
        };
        return finish(&shared, record, response, None);
    };

    let format = Format::from_accept(accept.as_deref().unwrap_or("application/json"));
    let protobuf = content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/vnd.kubernetes.protobuf"));
    let parsed_body = if body.is_empty() {
        None
    } else if protobuf {
        match super::proto::decode_review(&body) {
            Some(v) => Some(v),
            None => {
                let error = ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    "fake-argocd reads protobuf only for access reviews: the body of the request \
                     was in an unknown format - accepted media types include: application/json, \
                     application/yaml",
                );
                return finish(&shared, record, error_response(&error), None);
            }
        }
    } else {
        match parse_body(&body, content_type.as_deref()) {
            Ok(v) => Some(v),
            Err(e) => {
                return finish(
                    &shared,
                    record,
                    error_response(&ApiError::bad_request(e)),
                    None,
                );
            }
        }
    };
    if res.resource != "secrets" && !matches!(verb.as_str(), "get" | "list" | "watch") {
        record.body = parsed_body.clone();
    }

    let outcome = {
        let mut state = shared.state.lock().expect("state lock");
        let attrs = Attributes::Resource {
            verb: verb.clone(),
            group: res.group.clone(),
            resource: res.resource.clone(),
            subresource: res.subresource.clone(),
            namespace: res.namespace.clone(),
            name: res.name.clone(),
        };
        if !state.rbac.allows(&attrs) {
            Err(ApiError::forbidden(
                &state.rbac.user,
                &verb,
                &res.group,
                &res.resource,
                res.subresource.as_deref(),
                res.name.as_deref(),
                res.namespace.as_deref(),
            ))
        } else {
            dispatch(
                &mut state,
                &res,
                &params,
                content_type.as_deref().unwrap_or("application/json"),
                format,
                parsed_body,
                conflict_fault,
            )
        }
    };
    shared.wake.notify_one();
    match outcome {
        Ok(Outcome::Json(code, value)) => {
            finish(&shared, record, json_response(code, &value), None)
        }
        Ok(Outcome::Watch(rx, timer)) => finish(&shared, record, stream_response(rx), timer),
        Err(error) => finish(&shared, record, error_response(&error), None),
    }
}

/// Logs the request and, for a watch, starts its bookmark and timeout timer.
fn finish(
    shared: &Arc<Shared>,
    mut record: RequestRecord,
    response: Response<Body>,
    timer: Option<WatchTimer>,
) -> Response<Body> {
    record.status = response.status().as_u16();
    if record.reason.is_none()
        && let Body::Full(Some(bytes)) = response.body()
        && record.status >= 400
    {
        record.reason = serde_json::from_slice::<Value>(bytes)
            .ok()
            .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_string));
    }
    if let Some(sink) = &shared.request_sink {
        sink(&record);
    }
    shared.state.lock().expect("state lock").log.push(record);
    if let Some(timer) = timer {
        tokio::spawn(watch_timer(shared.clone(), timer));
    }
    response
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn parse_body(body: &[u8], content_type: Option<&str>) -> Result<Value, String> {
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(e) => {
            if content_type.is_some_and(|c| c.contains("yaml")) {
                let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
                serde_saphyr::from_str(text).map_err(|e| format!("error decoding YAML: {e}"))
            } else {
                Err(format!("error decoding the request body: {e}"))
            }
        }
    }
}

fn event_line(etype: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": etype, "object": object}))
        .expect("JSON values serialize");
    line.push(b'\n');
    Bytes::from(line)
}

fn bookmark(kind: Kind, rv: u64, initial_end: bool) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": kind.kind(), "apiVersion": kind.api_version(), "metadata": meta})
}

/// Sends bookmarks every `bookmark_interval` and ends the watch at its timeout.
async fn watch_timer(shared: Arc<Shared>, timer: WatchTimer) {
    let deadline = tokio::time::Instant::now() + timer.timeout;
    let interval = shared
        .state
        .lock()
        .expect("state lock")
        .bookmark_interval
        .max(Duration::from_millis(10));
    let mut shutdown = shared.shutdown.clone();
    loop {
        let next = (tokio::time::Instant::now() + interval).min(deadline);
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = shutdown.changed() => return,
        }
        let mut state = shared.state.lock().expect("state lock");
        if !state.store.has_watcher(timer.id) {
            return;
        }
        let rv = state.store.rv();
        let done = tokio::time::Instant::now() >= deadline;
        if timer.bookmarks {
            let line = event_line("BOOKMARK", &bookmark(timer.kind, rv, false));
            let alive = state
                .store
                .watchers
                .iter()
                .find(|w| w.id == timer.id)
                .is_some_and(|w| w.tx.send(line).is_ok());
            if !alive {
                state.store.remove_watcher(timer.id);
                return;
            }
        }
        if done {
            state.store.remove_watcher(timer.id);
            return;
        }
    }
}

fn list_kind_name(kind: Kind) -> String {
    format!("{}List", kind.kind())
}

/// A continue token: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"ns/name\u0000"}`, the
/// shape of the apiserver's.
fn encode_continue(rv: u64, start: &str) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{start}\u{0}")});
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, String), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let rv = v.get("rv").and_then(Value::as_u64).ok_or_else(bad)?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(bad)?;
    Ok((rv, start.trim_end_matches('\u{0}').to_string()))
}

fn object_key(obj: &Value) -> String {
    format!(
        "{}/{}",
        obj.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        obj.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    )
}

/// The object as the client asked to see it.
fn present(kind: Kind, obj: &Value, format: Format) -> Value {
    match format {
        Format::Full => obj.clone(),
        Format::Metadata => kinds::partial_metadata(obj),
        Format::Table => kinds::table(
            kind,
            std::slice::from_ref(obj),
            json!({"resourceVersion": rv_of(obj)}),
            jiff::Timestamp::now(),
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    state: &mut State,
    res: &ResourceInfo,
    params: &[(String, String)],
    content_type: &str,
    format: Format,
    body: Option<Value>,
    conflict_fault: bool,
) -> Result<Outcome, ApiError> {
    if res.group == "authorization.k8s.io" && res.version == "v1" {
        return self_review(state, res, body);
    }
    let Some(kind) = Kind::from_rest(&res.group, &res.version, &res.resource) else {
        let Some(kind) = kinds::unstored(&res.group, &res.version, &res.resource) else {
            return Err(ApiError::no_resource());
        };
        // A resource of which there are none.
        let qualified = kinds::qualified(&res.group, &res.resource);
        return match res.verb.as_str() {
            "list" if format == Format::Table => Ok(Outcome::Json(
                200,
                json!({
                    "kind": "Table",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": {"resourceVersion": state.store.rv().to_string()},
                    "columnDefinitions": [
                        {"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0},
                        {"name": "Age", "type": "date", "format": "", "description": "", "priority": 0},
                    ],
                    "rows": [],
                }),
            )),
            "list" => Ok(Outcome::Json(
                200,
                json!({
                    "kind": format!("{kind}List"),
                    "apiVersion": res.version,
                    "metadata": {"resourceVersion": state.store.rv().to_string()},
                    "items": [],
                }),
            )),
            "get" => Err(ApiError::new(
                404,
                "NotFound",
                format!(
                    "{qualified} \"{}\" not found",
                    res.name.as_deref().unwrap_or_default()
                ),
            )),
            verb => Err(ApiError::new(
                405,
                "MethodNotAllowed",
                format!("fake-argocd does not {verb} {qualified}"),
            )),
        };
    };
    match res.subresource.as_deref() {
        None => {}
        Some("status") if kind.has_status_subresource() => {}
        Some(_) => return Err(ApiError::no_resource()),
    }
    let verb = res.verb.as_str();
    let ns = match (&res.namespace, verb) {
        (Some(ns), _) => Some(ns.clone()),
        (None, "list" | "watch") => None,
        (None, _) => return Err(ApiError::no_resource()),
    };
    let opts = WriteOptions {
        dry_run: param(params, "dryRun").is_some_and(|v| v == "All"),
        internal: false,
    };
    let labels = LabelSelector::parse(param(params, "labelSelector").unwrap_or_default())
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(param(params, "fieldSelector").unwrap_or_default(), kind)
        .map_err(ApiError::bad_request)?;
    let name = res.name.clone().unwrap_or_default();
    let ns_str = ns.clone().unwrap_or_default();
    match verb {
        "list" => list(state, kind, ns.as_deref(), params, format, &labels, &fields),
        "watch" => watch(
            state,
            kind,
            ns,
            params,
            format,
            labels,
            fields,
            res.name.as_deref(),
        ),
        "get" => {
            let obj = state
                .store
                .get(kind, &ns_str, &name)
                .ok_or_else(|| ApiError::not_found(kind, &name))?;
            Ok(Outcome::Json(200, present(kind, obj, format)))
        }
        "create" => {
            let body = body.ok_or_else(|| ApiError::bad_request("the request has no body"))?;
            let created = state.store.create(kind, &ns_str, body, opts)?;
            Ok(Outcome::Json(201, created))
        }
        "update" => {
            let body = body.ok_or_else(|| ApiError::bad_request("the request has no body"))?;
            if let Some(body_name) = body.pointer("/metadata/name").and_then(Value::as_str)
                && body_name != name
            {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
            let expected = body
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            if expected.is_none()
                && kind.is_custom()
                && state.store.get(kind, &ns_str, &name).is_some()
            {
                return Err(ApiError::invalid(
                    kind,
                    &name,
                    vec![(
                        "metadata.resourceVersion".into(),
                        "Invalid value: 0x0: must be specified for an update".into(),
                    )],
                ));
            }
            if conflict_fault && state.store.get(kind, &ns_str, &name).is_some() {
                return Err(ApiError::conflict(kind, &name));
            }
            let updated = state.store.update(
                kind,
                &ns_str,
                &name,
                body,
                expected.as_deref(),
                res.subresource.is_some(),
                opts,
            )?;
            Ok(Outcome::Json(200, updated))
        }
        "patch" => {
            let patch = body.ok_or_else(|| ApiError::bad_request("the request has no body"))?;
            let media = content_type.split(';').next().unwrap_or_default().trim();
            let current = state.store.get(kind, &ns_str, &name).cloned();
            let mut new = match (&current, media) {
                (Some(c), _) => c.clone(),
                (None, "application/apply-patch+yaml") => json!({"metadata": {"name": name}}),
                (None, _) => return Err(ApiError::not_found(kind, &name)),
            };
            match media {
                "application/merge-patch+json" => super::patch::merge(&mut new, &patch),
                "application/strategic-merge-patch+json" if kind.is_custom() => {
                    return Err(ApiError::unsupported_media_type());
                }
                // Built-in types whose fields the fake stores have no list merge keys
                // that matter here: a strategic merge patch acts as a merge patch.
                "application/strategic-merge-patch+json" => super::patch::merge(&mut new, &patch),
                "application/json-patch+json" => super::patch::json_patch(&mut new, &patch)
                    .map_err(|e| ApiError::new(422, "Invalid", e))?,
                "application/apply-patch+yaml" => {
                    if param(params, "fieldManager").is_none_or(str::is_empty) {
                        return Err(ApiError::invalid_options(
                            "PatchOptions",
                            "fieldManager: Required value: is required for apply patch",
                        ));
                    }
                    super::patch::merge(&mut new, &strip_nulls(patch));
                }
                other => {
                    return Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        format!(
                            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other})"
                        ),
                    ));
                }
            }
            if current.is_none() {
                let created = state.store.create(kind, &ns_str, new, opts)?;
                return Ok(Outcome::Json(201, created));
            }
            if conflict_fault {
                return Err(ApiError::conflict(kind, &name));
            }
            // A patch that carries metadata.resourceVersion is a precondition on it.
            let expected = new
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            let updated = state.store.update(
                kind,
                &ns_str,
                &name,
                new,
                expected.as_deref(),
                res.subresource.is_some(),
                opts,
            )?;
            Ok(Outcome::Json(200, updated))
        }
        "delete" => {
            let preconditions = body.as_ref().and_then(|b| b.get("preconditions"));
            let dry_run = opts.dry_run
                || body
                    .as_ref()
                    .and_then(|b| b.get("dryRun"))
                    .and_then(Value::as_array)
                    .is_some_and(|d| d.iter().any(|x| x == "All"));
            let deleted = state.store.delete(
                kind,
                &ns_str,
                &name,
                preconditions,
                WriteOptions { dry_run, ..opts },
            )?;
            if kind.is_custom() {
                Ok(Outcome::Json(200, deleted))
            } else {
                Ok(Outcome::Json(
                    200,
                    json!({
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Success",
                        "details": {
                            "name": name,
                            "group": kind.group(),
                            "kind": kind.plural(),
                            "uid": deleted.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
                        },
                    }),
                ))
            }
        }
        other => Err(ApiError::method_not_allowed(other, kind)),
    }
}

/// SelfSubjectAccessReview and SelfSubjectRulesReview (`kubectl auth can-i`, and
/// clients that check their permissions up front): answered from the same RBAC rules.
fn self_review(
    state: &State,
    res: &ResourceInfo,
    body: Option<Value>,
) -> Result<Outcome, ApiError> {
    let kind = match res.resource.as_str() {
        "selfsubjectaccessreviews" => "SelfSubjectAccessReview",
        "selfsubjectrulesreviews" => "SelfSubjectRulesReview",
        _ => return Err(ApiError::no_resource()),
    };
    if res.verb != "create" || res.name.is_some() {
        return Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!(
                "{} is not supported on resources of kind \"{}.authorization.k8s.io\"",
                res.verb, res.resource
            ),
        ));
    }
    let mut review = body.ok_or_else(|| ApiError::bad_request("the request has no body"))?;
    let spec = review.get("spec").cloned().unwrap_or_else(|| json!({}));
    let str_of = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let status = if kind == "SelfSubjectRulesReview" {
        let (resource_rules, non_resource_rules) = state.rbac.rules_in(&str_of(&spec, "namespace"));
        json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false})
    } else {
        let attrs = if let Some(ra) = spec.get("resourceAttributes") {
            let opt = |k: &str| Some(str_of(ra, k)).filter(|s| !s.is_empty());
            Attributes::Resource {
                verb: str_of(ra, "verb"),
                group: str_of(ra, "group"),
                resource: str_of(ra, "resource"),
                subresource: opt("subresource"),
                namespace: opt("namespace"),
                name: opt("name"),
            }
        } else if let Some(nra) = spec.get("nonResourceAttributes") {
            Attributes::NonResource {
                verb: str_of(nra, "verb"),
                path: str_of(nra, "path"),
            }
        } else {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!(
                    "{kind}.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified"
                ),
            ));
        };
        match state.rbac.decide(&attrs) {
            Some(reason) => json!({"allowed": true, "reason": reason}),
            None => json!({"allowed": false}),
        }
    };
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!(kind);
    review["metadata"] = json!({"creationTimestamp": null});
    review["status"] = status;
    Ok(Outcome::Json(201, review))
}

/// Server-side apply treats `null` as "no opinion"; the fake's approximation merges the
/// applied configuration without them.
fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

#[allow(clippy::too_many_arguments)]
fn list(
    state: &mut State,
    kind: Kind,
    ns: Option<&str>,
    params: &[(String, String)],
    format: Format,
    labels: &LabelSelector,
    fields: &FieldSelector,
) -> Result<Outcome, ApiError> {
    let rv_param = param(params, "resourceVersion").unwrap_or_default();
    let rv_match = param(params, "resourceVersionMatch").unwrap_or_default();
    let limit: Option<usize> = match param(params, "limit") {
        Some(l) => Some(
            l.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
        ),
        None => None,
    }
    .filter(|l| *l > 0);
    if !rv_match.is_empty() && rv_param.is_empty() {
        return Err(ApiError::invalid_options(
            "ListOptions",
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
        ));
    }
    let (snapshot_rv, start, items) = match param(params, "continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let (rv, start) = decode_continue(token)?;
            let items = state.store.list_at(kind, ns, rv).map_err(|_| {
                ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. \
                     You can start a new list without the continue parameter.",
                )
            })?;
            (rv, Some(start), items)
        }
        None => {
            let current = state.store.rv();
            if rv_match == "Exact" {
                let rv: u64 = rv_param.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version {rv_param:?}"))
                })?;
                (rv, None, state.store.list_at(kind, ns, rv)?)
            } else {
                (current, None, state.store.list(kind, ns))
            }
        }
    };
    let mut matching: Vec<Value> = items
        .into_iter()
        .filter(|o| labels.matches_object(o) && fields.matches_object(o))
        .filter(|o| {
            start
                .as_ref()
                .is_none_or(|s| object_key(o).as_str() > s.as_str())
        })
        .collect();
    let mut list_meta = json!({"resourceVersion": snapshot_rv.to_string()});
    if let Some(limit) = limit
        && matching.len() > limit
    {
        let remaining = matching.len() - limit;
        matching.truncate(limit);
        let last = object_key(matching.last().expect("limit > 0"));
        list_meta["continue"] = json!(encode_continue(snapshot_rv, &last));
        list_meta["remainingItemCount"] = json!(remaining);
    }
    let body = match format {
        Format::Table => kinds::table(kind, &matching, list_meta, jiff::Timestamp::now()),
        Format::Metadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": list_meta,
            "items": matching.iter().map(kinds::partial_metadata).collect::<Vec<_>>(),
        }),
        Format::Full => {
            // Built-in lists carry no per-item kind/apiVersion in JSON; custom resource
            // lists do.
            if !kind.is_custom() {
                for item in &mut matching {
                    if let Some(o) = item.as_object_mut() {
                        o.remove("kind");
                        o.remove("apiVersion");
                    }
                }
            }
            json!({
                "kind": list_kind_name(kind),
                "apiVersion": kind.api_version(),
                "metadata": list_meta,
                "items": matching,
            })
        }
    };
    Ok(Outcome::Json(200, body))
}

#[allow(clippy::too_many_arguments)]
fn watch(
    state: &mut State,
    kind: Kind,
    ns: Option<String>,
    params: &[(String, String)],
    format: Format,
    labels: LabelSelector,
    mut fields: FieldSelector,
    name: Option<&str>,
) -> Result<Outcome, ApiError> {
    if let Some(name) = name {
        // GET .../NAME?watch=true is a watch of that one object.
        fields = FieldSelector::parse(&format!("metadata.name={name}"), kind)
            .map_err(ApiError::bad_request)?;
    }
    let rv_param = param(params, "resourceVersion")
        .unwrap_or_default()
        .to_string();
    let rv_match = param(params, "resourceVersionMatch").unwrap_or_default();
    let send_initial = param(params, "sendInitialEvents").map(truthy);
    let bookmarks = param(params, "allowWatchBookmarks").is_some_and(truthy);
    if send_initial == Some(true) {
        if rv_match != "NotOlderThan" {
            return Err(ApiError::invalid_options(
                "ListOptions",
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !bookmarks {
            return Err(ApiError::invalid_options(
                "ListOptions",
                "allowWatchBookmarks: Forbidden: sendInitialEvents requires allowWatchBookmarks=true",
            ));
        }
    } else if !rv_match.is_empty() {
        return Err(ApiError::invalid_options(
            "ListOptions",
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ));
    }
    let timeout = param(params, "timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let (tx, rx) = mpsc::unbounded_channel();
    let watcher = Watcher {
        id: 0,
        kind,
        namespace: ns.clone(),
        labels,
        fields,
        format,
        tx,
    };
    let synthetic = send_initial == Some(true)
        || (send_initial.is_none() && (rv_param.is_empty() || rv_param == "0"));
    if synthetic {
        for obj in state.store.list(kind, ns.as_deref()) {
            if watcher.labels.matches_object(&obj) && watcher.fields.matches_object(&obj) {
                let _ = watcher.tx.send(watcher.line("ADDED", &obj));
            }
        }
        if send_initial == Some(true) {
            let _ = watcher.tx.send(event_line(
                "BOOKMARK",
                &bookmark(kind, state.store.rv(), true),
            ));
        }
    } else if !rv_param.is_empty() && rv_param != "0" {
        let rv: u64 = rv_param.parse().map_err(|_| {
            ApiError::bad_request(format!("invalid resource version: {rv_param:?}"))
        })?;
        match state.store.changes_since(rv) {
            Ok(changes) => {
                for change in changes {
                    if let Some(etype) = watcher.event_for(&change) {
                        let _ = watcher
                            .tx
                            .send(watcher.line(etype.as_str(), &change.object));
                    }
                }
            }
            Err(expired) => {
                // As the watch cache does: 200, then an ERROR event with the 410, then
                // the end of the stream; the client re-lists.
                let _ = watcher.tx.send(event_line("ERROR", &expired.to_status()));
                return Ok(Outcome::Watch(rx, None));
            }
        }
    }
    let id = state.store.add_watcher(watcher);
    Ok(Outcome::Watch(
        rx,
        Some(WatchTimer {
            id,
            kind,
            timeout,
            bookmarks,
        }),
    ))
}
