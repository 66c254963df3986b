//! The HTTP requests behind gates: one webhook attempt, one Prometheus instant query.
//!
//! The executor owns gate timing and retries (it runs on a clock that may be virtual), so
//! every call here is exactly one request with its own timeout. Errors are values the
//! executor can keep in the run state and show an operator: they are `Clone`, their messages
//! are lower-case and name the URL with any userinfo (`user:password@`) removed.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::Serialize;
use serde_json::Value;

/// How much of an unexpected response body an error quotes.
const BODY_QUOTE_BYTES: usize = 200;

/// The largest Prometheus answer read. One series is a few hundred bytes; an unaggregated
/// query over a big fleet can be megabytes, and is an error anyway.
const MAX_QUERY_RESPONSE: usize = 16 << 20;

/// An HTTP client for gate probes: TLS through rustls with the ring provider and the
/// platform's root certificates, no redirects, no proxies.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
}

/// What a webhook gate is told about itself: the JSON body of its POST.
///
/// ```json
/// {"run_id": "r-42", "rollout": "storefront", "stage": "eu-west-1", "revision": "4f2a9c1", "gate": 0}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WebhookCall {
    /// The run being gated.
    pub run_id: String,
    /// The rollout's name.
    pub rollout: String,
    /// The stage whose gate this is.
    pub stage: String,
    /// The revision the run deploys.
    pub revision: String,
    /// The gate's index among the stage's gates, from 0.
    pub gate: usize,
}

/// Why a probe failed. Every variant that concerns a request names its URL, redacted.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProbeError {
    /// The HTTP client could not be set up (TLS configuration).
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    /// The URL does not parse or is not http(s).
    #[error("`{url}` is not a usable URL: {reason}")]
    InvalidUrl {
        /// The URL, redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No complete response within the timeout.
    #[error("no response from `{url}` within {}", show_duration(*.timeout))]
    Timeout {
        /// The URL, redacted.
        url: String,
        /// The timeout that ran out.
        timeout: Duration,
    },
    /// The TCP connection could not be made (refused, unreachable, DNS).
    #[error("cannot connect to `{url}`: {reason}")]
    Connect {
        /// The URL, redacted.
        url: String,
        /// The cause, from the operating system or the resolver.
        reason: String,
    },
    /// The TLS handshake failed (certificate, protocol, or a plain-http server).
    #[error("TLS with `{url}` failed: {reason}")]
    Tls {
        /// The URL, redacted.
        url: String,
        /// The cause, from rustls.
        reason: String,
    },
    /// Any other transport failure (the connection broke, the response was not HTTP).
    #[error("request to `{url}` failed: {reason}")]
    Request {
        /// The URL, redacted.
        url: String,
        /// The cause.
        reason: String,
    },
    /// The server answered with a status other than 2xx.
    #[error(
        "`{url}` answered {status}{}{}",
        if (300..400).contains(status) { " (redirects are not followed)" } else { "" },
        quote_body(body)
    )]
    Status {
        /// The URL, redacted.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (at most 200 bytes, lossy UTF-8).
        body: String,
    },
    /// The response is not the Prometheus HTTP API's JSON.
    #[error("`{url}` did not answer like the Prometheus query API: {reason}")]
    BadResponse {
        /// The URL, redacted.
        url: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// Prometheus refused or failed the query (`"status": "error"`).
    #[error("Prometheus at `{url}` rejected query `{query}`: {error_type}: {error}")]
    Query {
        /// The Prometheus URL, redacted.
        url: String,
        /// The PromQL query.
        query: String,
        /// Prometheus's `errorType` (`bad_data`, `execution`, `timeout`, ...).
        error_type: String,
        /// Prometheus's `error` message.
        error: String,
    },
    /// The query returned no sample at that time.
    #[error("query `{query}` returned no data at {at}")]
    NoData {
        /// The PromQL query.
        query: String,
        /// The evaluation time.
        at: jiff::Timestamp,
    },
    /// The query returned several series where a gate needs one number.
    #[error(
        "query `{query}` returned {series} series; a metric gate needs exactly one value, so \
         aggregate the query to one series, e.g. `sum(...)`"
    )]
    ManySeries {
        /// The PromQL query.
        query: String,
        /// How many series came back.
        series: usize,
    },
    /// The query's result is not an instant vector or scalar.
    #[error(
        "query `{query}` returned a {result_type}; a metric gate needs an instant vector or a \
         scalar{}",
        if result_type == "matrix" { " (apply a function to the range, e.g. `rate(...)`)" } else { "" }
    )]
    WrongType {
        /// The PromQL query.
        query: String,
        /// Prometheus's `resultType`.
        result_type: String,
    },
    /// The value is NaN or infinite, which no threshold can judge.
    #[error("query `{query}` returned `{value}`, not a finite number")]
    NotFinite {
        /// The PromQL query.
        query: String,
        /// The value as Prometheus wrote it.
        value: String,
    },
}

impl Http {
    /// A client with rustls (ring provider, the platform's roots), no redirects (a webhook
    /// or Prometheus behind a login redirect fails with its 3xx instead of a confusing
    /// follow-up) and no proxies from the environment.
    pub fn new() -> Result<Http, ProbeError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // Without system roots (a slim image without ca-certificates) plain-http probes
        // still work, and https ones fail with the reason instead of the whole client.
        let verifier: Arc<dyn ServerCertVerifier> =
            match rustls_platform_verifier::Verifier::new(provider.clone()) {
                Ok(verifier) => Arc::new(verifier),
                Err(e) => Arc::new(NoRoots {
                    reason: format!(
                        "no trusted root certificates ({e}); install the system's CA \
                         certificates (Debian: `ca-certificates`)"
                    ),
                    schemes: provider
                        .signature_verification_algorithms
                        .supported_schemes(),
                }),
            };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ProbeError::Client(format!("TLS versions: {e}")))?
            .dangerous()
            // Not dangerous: the platform verifier checks chains and names against the
            // system's roots; `dangerous()` is only rustls's door to a custom verifier.
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("rollc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProbeError::Client(chain(&e)))?;
        Ok(Http { client })
    }

    /// One webhook call: POST `url` with `call` as its JSON body, giving up after `timeout`
    /// (connecting, sending and reading the whole response). A 2xx status passes; any other
    /// is [`ProbeError::Status`] with the start of the body.
    pub async fn webhook(
        &self,
        url: &str,
        call: &WebhookCall,
        timeout: Duration,
    ) -> Result<(), ProbeError> {
        let shown = redact(url);
        let parsed = parse_url(url, &shown)?;
        let response = self
            .client
            .post(parsed)
            .json(call)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| transport(&e, &shown, timeout))?;
        let status = response.status();
        if status.is_success() {
            // The status is the answer. A short body is drained so the connection can be
            // reused; a long or broken one does not turn a pass into a failure.
            let _ = read_start(response, 64 * 1024, &shown, timeout).await;
            return Ok(());
        }
        let body = read_start(response, BODY_QUOTE_BYTES, &shown, timeout).await?;
        Err(ProbeError::Status {
            url: shown,
            status: status.as_u16(),
            body: quote_start(&body),
        })
    }

    /// One Prometheus instant query: `GET {url}/api/v1/query?query=..&time=<unix seconds>`,
    /// giving up after `timeout`. `url` may have a trailing slash, a path prefix
    /// (`https://gw.example.com/prometheus`) and query parameters of its own.
    ///
    /// The result must be one number: a vector of exactly one sample or a scalar, finite.
    pub async fn metric(
        &self,
        url: &str,
        query: &str,
        at: jiff::Timestamp,
        timeout: Duration,
    ) -> Result<f64, ProbeError> {
        let shown = redact(url);
        let mut endpoint = parse_url(url, &shown)?;
        let path = format!("{}/api/v1/query", endpoint.path().trim_end_matches('/'));
        endpoint.set_path(&path);
        endpoint
            .query_pairs_mut()
            .append_pair("query", query)
            .append_pair("time", &unix_seconds(at));
        let response = self
            .client
            .get(endpoint)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| transport(&e, &shown, timeout))?;
        let status = response.status();
        // Prometheus reports bad queries as 400/422/503 with its JSON error body, so the
        // body is read whatever the status.
        let body = read_start(response, MAX_QUERY_RESPONSE + 1, &shown, timeout).await?;
        if body.len() > MAX_QUERY_RESPONSE {
            return Err(ProbeError::BadResponse {
                url: shown,
                reason: format!(
                    "the answer to `{query}` is larger than {} MiB; aggregate the query to \
                     one series, e.g. `sum(...)`",
                    MAX_QUERY_RESPONSE >> 20
                ),
            });
        }
        let json: Value = match serde_json::from_slice(&body) {
            Ok(json) => json,
            Err(_) if !status.is_success() => {
                return Err(ProbeError::Status {
                    url: shown,
                    status: status.as_u16(),
                    body: quote_start(&body),
                });
            }
            Err(e) => {
                return Err(ProbeError::BadResponse {
                    url: shown,
                    reason: format!("the body is not JSON ({e})"),
                });
            }
        };
        interpret(&json, status, &shown, query, at)
    }
}

/// Reads the Prometheus API's answer down to one number.
fn interpret(
    json: &Value,
    status: reqwest::StatusCode,
    url: &str,
    query: &str,
    at: jiff::Timestamp,
) -> Result<f64, ProbeError> {
    let bad = |reason: &str| ProbeError::BadResponse {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    match json.get("status").and_then(Value::as_str) {
        Some("success") if status.is_success() => {}
        Some("error") => {
            let text = |key: &str| {
                json.get(key)
                    .and_then(Value::as_str)
                    .unwrap_or("unknown")
                    .to_string()
            };
            return Err(ProbeError::Query {
                url: url.to_string(),
                query: query.to_string(),
                error_type: text("errorType"),
                error: text("error"),
            });
        }
        _ if !status.is_success() => {
            return Err(ProbeError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                body: truncate(&json.to_string(), BODY_QUOTE_BYTES).to_string(),
            });
        }
        _ => return Err(bad("no `\"status\": \"success\"`")),
    }
    let data = json.get("data").ok_or_else(|| bad("no `data`"))?;
    let result_type = data
        .get("resultType")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no `data.resultType`"))?;
    let result = data.get("result").ok_or_else(|| bad("no `data.result`"))?;
    // A sample is `[<unix seconds>, "<value>"]`; only the value matters.
    let sample = |pair: &Value| -> Result<f64, ProbeError> {
        let text = pair
            .get(1)
            .and_then(Value::as_str)
            .ok_or_else(|| bad("a sample is not `[time, \"value\"]`"))?;
        let value: f64 = text
            .parse()
            .map_err(|_| bad(&format!("sample value `{text}` is not a number")))?;
        if value.is_finite() {
            Ok(value)
        } else {
            Err(ProbeError::NotFinite {
                query: query.to_string(),
                value: text.to_string(),
            })
        }
    };
    match result_type {
        "scalar" => sample(result),
        "vector" => {
            let series = result
                .as_array()
                .ok_or_else(|| bad("`data.result` of a vector is not a list"))?;
            match series.as_slice() {
                [] => Err(ProbeError::NoData {
                    query: query.to_string(),
                    at,
                }),
                [one] => sample(
                    one.get("value")
                        .ok_or_else(|| bad("a vector sample has no `value`"))?,
                ),
                many => Err(ProbeError::ManySeries {
                    query: query.to_string(),
                    series: many.len(),
                }),
            }
        }
        other => Err(ProbeError::WrongType {
            query: query.to_string(),
            result_type: other.to_string(),
        }),
    }
}

/// The certificate verifier when the system has no root certificates: it trusts nothing and
/// says why, so only https probes fail.
#[derive(Debug)]
struct NoRoots {
    reason: String,
    schemes: Vec<SignatureScheme>,
}

impl ServerCertVerifier for NoRoots {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General(self.reason.clone()))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(self.reason.clone()))
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(self.reason.clone()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// Parses a probe URL, accepting only http and https.
fn parse_url(url: &str, shown: &str) -> Result<reqwest::Url, ProbeError> {
    let invalid = |reason: String| ProbeError::InvalidUrl {
        url: shown.to_string(),
        reason,
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(invalid(format!(
            "the scheme is `{other}`, not `http` or `https`"
        ))),
    }
}

/// Reads at most about `limit` bytes of a response body (whole chunks, then cut).
async fn read_start(
    mut response: reqwest::Response,
    limit: usize,
    shown: &str,
    timeout: Duration,
) -> Result<Vec<u8>, ProbeError> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response
            .chunk()
            .await
            .map_err(|e| transport(&e, shown, timeout))?
        {
            Some(chunk) => body.extend_from_slice(&chunk),
            None => break,
        }
    }
    Ok(body)
}

/// Classifies a reqwest failure by its cause, never quoting reqwest's own message (it
/// contains the URL with its userinfo).
fn transport(e: &reqwest::Error, shown: &str, timeout: Duration) -> ProbeError {
    let url = shown.to_string();
    if e.is_timeout() {
        return ProbeError::Timeout { url, timeout };
    }
    let reason = chain(e);
    if let Some(tls) = rustls_cause(e) {
        let mut reason = tls.to_string();
        if matches!(
            tls,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
        ) {
            // What a plain-http server's answer looks like to a TLS client.
            reason.push_str(" (is the server plain http?)");
        }
        return ProbeError::Tls { url, reason };
    }
    if e.is_connect() {
        ProbeError::Connect { url, reason }
    } else {
        ProbeError::Request { url, reason }
    }
}

/// The rustls error somewhere in the cause chain. rustls errors reach reqwest wrapped in an
/// `io::Error`, whose `source()` skips the wrapped error itself, hence `get_ref`.
fn rustls_cause<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && let Some(tls) = rustls_cause(inner)
        {
            return Some(tls);
        }
        next = err.source();
    }
    None
}

/// The causes under a reqwest error, joined with `: `, without reqwest's top-level message
/// (which names the unredacted URL) and without repeats (hyper repeats its causes).
fn chain(e: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut last = String::new();
    let mut next = e.source();
    while let Some(err) = next {
        let text = err.to_string();
        // hyper's client wraps every cause in `client error (Connect)` and the like, which
        // says nothing the variant does not. Wrappers may also repeat their cause's text.
        let wrapper = text.starts_with("client error (");
        if !text.is_empty() && !wrapper && !last.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        last = text;
        next = err.source();
    }
    if out.is_empty() {
        // No cause to quote: say which kind of failure reqwest saw.
        out.push_str(if e.is_builder() {
            "the request could not be built"
        } else if e.is_body() {
            "the request or response body failed"
        } else if e.is_decode() {
            "the response could not be decoded"
        } else {
            "unknown error"
        });
    }
    out
}

/// `url` with its userinfo (`user:password@`) removed, otherwise as written.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_len].rfind('@') {
        Some(at) => format!("{}{}", &url[..authority_start], &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// A timestamp as Prometheus's `time` parameter: unix seconds, with milliseconds when
/// there are any.
fn unix_seconds(at: jiff::Timestamp) -> String {
    let ms = at.as_millisecond();
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    match abs % 1000 {
        0 => format!("{sign}{}", abs / 1000),
        frac => format!("{sign}{}.{frac:03}", abs / 1000),
    }
}

/// A duration as an operator writes it: `300ms`, `30s`.
fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// `: <body>` for a non-empty body (trimmed), nothing for an empty one.
fn quote_body(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        String::new()
    } else {
        format!(": {}", body.escape_debug())
    }
}

/// The first [`BODY_QUOTE_BYTES`] bytes of a body as text (lossy UTF-8, cut on a
/// character boundary).
fn quote_start(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(BODY_QUOTE_BYTES + 4)]);
    truncate(&text, BODY_QUOTE_BYTES).to_string()
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_userinfo_only() {
        assert_eq!(
            redact("https://bot:s3cret@hooks.example.com/a@b?x=1"),
            "https://hooks.example.com/a@b?x=1"
        );
        assert_eq!(
            redact("http://prom.example.com:9090/"),
            "http://prom.example.com:9090/"
        );
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn unix_seconds_keeps_milliseconds() {
        let at = |ms| jiff::Timestamp::from_millisecond(ms).unwrap();
        assert_eq!(unix_seconds(at(1_700_000_000_000)), "1700000000");
        assert_eq!(unix_seconds(at(1_700_000_000_250)), "1700000000.250");
        assert_eq!(unix_seconds(at(-1_500)), "-1.500");
    }

    #[test]
    fn interpret_reads_one_number() {
        let at = jiff::Timestamp::UNIX_EPOCH;
        let ok = reqwest::StatusCode::OK;
        let read = |json: &str| interpret(&serde_json::from_str(json).unwrap(), ok, "u", "q", at);
        assert_eq!(
            read(r#"{"status":"success","data":{"resultType":"scalar","result":[1,"0.5"]}}"#),
            Ok(0.5)
        );
        assert_eq!(
            read(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#),
            Err(ProbeError::NoData {
                query: "q".into(),
                at
            })
        );
        assert!(matches!(
            read(
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}"#
            ),
            Err(ProbeError::NotFinite { .. })
        ));
        assert!(matches!(
            read(
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}}"#
            ),
            Err(ProbeError::NotFinite { .. })
        ));
        assert!(matches!(
            read(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#),
            Err(ProbeError::WrongType { .. })
        ));
    }

    #[test]
    fn quote_start_cuts_on_a_character() {
        assert_eq!(quote_start("é".repeat(150).as_bytes()), "é".repeat(100));
        let odd = format!("x{}", "é".repeat(150));
        assert_eq!(quote_start(odd.as_bytes()).len(), 199);
        assert_eq!(quote_start(b"short"), "short");
    }

    #[test]
    fn truncate_respects_characters() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
