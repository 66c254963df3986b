//! The requests behind gates, through `rollc::runtime::probe::Http`: webhooks against a local
//! HTTP server, metric queries against a real Prometheus backfilled with known samples.

#[path = "support/prometheus.rs"]
mod prometheus;
#[path = "support/webhook_server.rs"]
mod webhook_server;

use std::time::{Duration, Instant};

use jiff::Timestamp;
use rollc::runtime::probe::{Http, ProbeError, WebhookCall};

use prometheus::Prometheus;
use webhook_server::{Reply, Server};

fn call() -> WebhookCall {
    WebhookCall {
        run_id: "run-7".into(),
        rollout: "storefront".into(),
        stage: "eu-west-1".into(),
        revision: "4f2a9c1".into(),
        gate: 1,
    }
}

const TIMEOUT: Duration = Duration::from_secs(5);

/// A port with nothing listening on it.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn webhook_2xx_passes_and_posts_the_gate_as_json() {
    let http = Http::new().unwrap();
    for status in [200, 204] {
        let body = if status == 204 { "" } else { "ok" };
        let server = Server::start(Reply::Status(status, body.into())).await;
        let url = format!("{}/hooks/gate?team=web", server.base);
        http.webhook(&url, &call(), TIMEOUT)
            .await
            .unwrap_or_else(|e| panic!("{status}: {e}"));
        let received = server.received();
        assert_eq!(received.len(), 1, "exactly one request per call");
        let request = &received[0];
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/hooks/gate?team=web");
        assert_eq!(request.header("content-type"), Some("application/json"));
        let json: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "run_id": "run-7",
                "rollout": "storefront",
                "stage": "eu-west-1",
                "revision": "4f2a9c1",
                "gate": 1
            })
        );
    }
}

#[tokio::test]
async fn webhook_other_statuses_fail_with_status_and_body() {
    let http = Http::new().unwrap();
    for (status, body) in [(500, "database is on fire"), (404, "no such hook")] {
        let server = Server::start(Reply::Status(status, body.into())).await;
        let url = format!("{}/hook", server.base);
        let error = http.webhook(&url, &call(), TIMEOUT).await.unwrap_err();
        assert_eq!(
            error,
            ProbeError::Status {
                url: url.clone(),
                status,
                body: body.into()
            }
        );
        assert_eq!(
            error.to_string(),
            format!("`{url}` answered {status}: {body}")
        );
    }
    // A redirect is not followed: it is an answer other than 2xx.
    let server = Server::start(Reply::Status(302, String::new())).await;
    let error = http
        .webhook(&server.base, &call(), TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProbeError::Status { status: 302, .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .ends_with("answered 302 (redirects are not followed)"),
        "{error}"
    );
    // Only the first 200 bytes of a long body.
    let server = Server::start(Reply::Status(503, "x".repeat(5000))).await;
    let ProbeError::Status { body, .. } = http
        .webhook(&server.base, &call(), TIMEOUT)
        .await
        .unwrap_err()
    else {
        panic!("not a status error");
    };
    assert_eq!(body, "x".repeat(200));
}

#[tokio::test]
async fn webhook_times_out_within_the_timeout() {
    let http = Http::new().unwrap();
    let server = Server::start(Reply::Hang).await;
    let url = format!("{}/slow", server.base);
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let error = http.webhook(&url, &call(), timeout).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(
        error,
        ProbeError::Timeout {
            url: url.clone(),
            timeout
        }
    );
    assert_eq!(
        error.to_string(),
        format!("no response from `{url}` within 300ms")
    );
    assert!(
        took >= timeout && took < Duration::from_secs(2),
        "took {took:?}"
    );
    assert_eq!(server.received().len(), 1, "the request did arrive");
}

#[tokio::test]
async fn webhook_connection_refused_fails() {
    let http = Http::new().unwrap();
    let url = format!("http://127.0.0.1:{}/hook", closed_port());
    let error = http.webhook(&url, &call(), TIMEOUT).await.unwrap_err();
    let ProbeError::Connect { url: shown, reason } = &error else {
        panic!("not a connect error: {error:?}");
    };
    assert_eq!(shown, &url);
    assert!(reason.contains("refused"), "{reason}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot connect to `{url}`: ")),
        "{error}"
    );
}

#[tokio::test]
async fn webhook_https_to_a_plain_http_server_is_a_tls_error() {
    let http = Http::new().unwrap();
    let server = Server::start(Reply::Status(200, "ok".into())).await;
    let url = format!("https://127.0.0.1:{}/hook", server.port);
    let error = http.webhook(&url, &call(), TIMEOUT).await.unwrap_err();
    let ProbeError::Tls { url: shown, reason } = &error else {
        panic!("not a TLS error: {error:?}");
    };
    assert_eq!(shown, &url);
    assert!(reason.contains("is the server plain http?"), "{reason}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("TLS with `{url}` failed: ")),
        "{error}"
    );
}

#[tokio::test]
async fn webhook_credentials_are_sent_but_never_shown() {
    let http = Http::new().unwrap();
    let server = Server::start(Reply::Status(403, "denied".into())).await;
    let url = format!("http://bot:s3cret@127.0.0.1:{}/hook", server.port);
    let error = http.webhook(&url, &call(), TIMEOUT).await.unwrap_err();
    let shown = format!("http://127.0.0.1:{}/hook", server.port);
    assert_eq!(error.to_string(), format!("`{shown}` answered 403: denied"));
    // reqwest turns the userinfo into basic authentication.
    assert_eq!(
        server.received()[0].header("authorization"),
        Some("Basic Ym90OnMzY3JldA==")
    );
    // Nor in transport errors.
    let url = format!("http://bot:s3cret@127.0.0.1:{}/hook", closed_port());
    let error = http.webhook(&url, &call(), TIMEOUT).await.unwrap_err();
    assert!(matches!(error, ProbeError::Connect { .. }), "{error:?}");
    assert!(!error.to_string().contains("s3cret"), "{error}");
    assert!(!format!("{error:?}").contains("s3cret"), "{error:?}");
}

#[tokio::test]
async fn webhook_rejects_unusable_urls() {
    let http = Http::new().unwrap();
    for url in ["not a url", "ftp://example.com/hook", "http://"] {
        let error = http.webhook(url, &call(), TIMEOUT).await.unwrap_err();
        assert!(
            matches!(error, ProbeError::InvalidUrl { .. }),
            "{url}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with(&format!("`{url}` is not a usable URL: "))
        );
    }
}

/// The end of the backfilled hour (2024-06-01T12:00:00Z).
const END: i64 = 1_717_243_200;

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap()
}

/// An hour of samples every 15 s up to [`END`]: two error-ratio series (0.002 and 0.5) and
/// a latency that steps from 0.1 to 0.35 half way.
fn samples() -> String {
    let times: Vec<i64> = (0..=240).map(|i| END - 3600 + i * 15).collect();
    let mut text = String::new();
    text.push_str("# HELP rollc_test_error_ratio Share of failed requests.\n");
    text.push_str("# TYPE rollc_test_error_ratio gauge\n");
    for (app, value) in [("search", "0.002"), ("checkout", "0.5")] {
        for t in &times {
            text.push_str(&format!(
                "rollc_test_error_ratio{{app=\"{app}\"}} {value} {t}\n"
            ));
        }
    }
    text.push_str("# HELP rollc_test_latency_seconds Request latency.\n");
    text.push_str("# TYPE rollc_test_latency_seconds gauge\n");
    for t in &times {
        let value = if *t < END - 1800 { "0.1" } else { "0.35" };
        text.push_str(&format!(
            "rollc_test_latency_seconds{{app=\"search\"}} {value} {t}\n"
        ));
    }
    text.push_str("# EOF\n");
    text
}

/// Every metric case against one server (starting Prometheus takes a few seconds); the
/// guard kills it at the end, also when an assertion fails.
#[tokio::test]
async fn metric_queries_against_a_real_prometheus() {
    let server = Prometheus::start(&samples());
    let http = Http::new().unwrap();
    let inside = at(END - 600);
    let query = |url: String, q: &'static str, t: Timestamp| {
        let http = http.clone();
        async move { http.metric(&url, q, t, TIMEOUT).await }
    };
    let url = server.url.clone();

    // A value read back exactly, with or without a trailing slash on the URL.
    let search = r#"rollc_test_error_ratio{app="search"}"#;
    assert_eq!(query(url.clone(), search, inside).await, Ok(0.002));
    assert_eq!(query(format!("{url}/"), search, inside).await, Ok(0.002));

    // The evaluation time is honoured.
    let latency = "rollc_test_latency_seconds";
    assert_eq!(query(url.clone(), latency, at(END - 2700)).await, Ok(0.1));
    assert_eq!(query(url.clone(), latency, at(END - 300)).await, Ok(0.35));

    // Aggregated to one series, as a vector and as a scalar.
    let expected = 0.002 + 0.5;
    for q in [
        "sum(rollc_test_error_ratio)",
        "scalar(sum(rollc_test_error_ratio))",
    ] {
        let value = query(url.clone(), q, inside).await.unwrap();
        assert!((value - expected).abs() < 1e-12, "{q}: {value}");
    }

    // Unaggregated: two series, and the error says to aggregate.
    let error = query(url.clone(), "rollc_test_error_ratio", inside)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ProbeError::ManySeries {
            query: "rollc_test_error_ratio".into(),
            series: 2
        }
    );
    let message = error.to_string();
    assert!(
        message.contains("returned 2 series") && message.contains("`sum(...)`"),
        "{message}"
    );

    // No data: after the samples (beyond the 5-minute lookback) and before them.
    for t in [at(END + 3600), at(END - 7200)] {
        assert_eq!(
            query(url.clone(), search, t).await,
            Err(ProbeError::NoData {
                query: search.into(),
                at: t
            })
        );
    }

    // Bad PromQL: Prometheus's own error.
    let bad = "sum(rollc_test_error_ratio";
    let error = query(url.clone(), bad, inside).await.unwrap_err();
    let ProbeError::Query {
        error_type,
        error: message,
        ..
    } = &error
    else {
        panic!("not a query error: {error:?}");
    };
    assert_eq!(error_type, "bad_data");
    assert!(message.contains("parse error"), "{message}");
    assert!(
        error.to_string().starts_with(&format!(
            "Prometheus at `{url}` rejected query `{bad}`: bad_data: "
        )),
        "{error}"
    );

    // Values no threshold can judge.
    for (q, shown) in [("vector(0) / 0", "NaN"), ("vector(1) / 0", "+Inf")] {
        assert_eq!(
            query(url.clone(), q, inside).await,
            Err(ProbeError::NotFinite {
                query: q.into(),
                value: shown.into()
            })
        );
    }

    // A range vector is not one value.
    let error = query(url.clone(), "rollc_test_error_ratio[5m]", inside)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ProbeError::WrongType { result_type, .. } if result_type == "matrix"),
        "{error:?}"
    );

    // Without the route prefix the API is not there; credentials never show.
    let root = server.root.replace("http://", "http://reader:hunter2@");
    let error = query(root, search, inside).await.unwrap_err();
    assert!(
        matches!(error, ProbeError::Status { status: 404, .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("`{}` answered 404", server.root)),
        "{error}"
    );

    // Unreachable Prometheus.
    let gone = format!("http://127.0.0.1:{}", closed_port());
    let error = query(gone.clone(), search, inside).await.unwrap_err();
    assert!(
        matches!(&error, ProbeError::Connect { url, .. } if *url == gone),
        "{error:?}"
    );

    // The per-request timeout applies (a server that never answers).
    let hang = Server::start(Reply::Hang).await;
    let started = Instant::now();
    let error = http
        .metric(&hang.base, search, inside, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(error, ProbeError::Timeout { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));

    drop(server);
}
