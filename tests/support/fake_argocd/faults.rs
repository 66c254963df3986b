//! Fault injection: rules that make the next matching requests fail, slow down or
//! conflict, and the request log.

use std::time::Duration;

use serde_json::{Value, json};

/// What a fault does to a request it matches.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// Answer with this status code and a `Status` body (500 `InternalError`, 503
    /// `ServiceUnavailable`, 504 `Timeout`, or any other code).
    Status(u16),
    /// 429 `TooManyRequests` with `Retry-After: <seconds>`.
    TooManyRequests { retry_after: u64 },
    /// Wait this long before handling the request normally.
    Latency(Duration),
    /// An update or patch fails with 409 `Conflict`, whatever its resourceVersion.
    Conflict,
    /// A watch gets an `ERROR` event with a 410 `Expired` Status and ends; any other
    /// request gets 410 `Expired`.
    Gone,
}

/// A fault rule: the first `times` requests matching `verb`, `resource` and `name` (each
/// `None` matches anything) get `action`.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`.
    pub verb: Option<String>,
    /// The resource, e.g. `applications`.
    pub resource: Option<String>,
    pub name: Option<String>,
    /// How many requests it still applies to (`usize::MAX`: all of them).
    pub times: usize,
    pub action: FaultAction,
}

impl Fault {
    /// A rule for the next request (any verb, any resource).
    pub fn new(action: FaultAction) -> Fault {
        Fault {
            verb: None,
            resource: None,
            name: None,
            times: 1,
            action,
        }
    }

    /// The next requests fail with `code`.
    pub fn status(code: u16) -> Fault {
        Fault::new(FaultAction::Status(code))
    }

    pub fn too_many_requests(retry_after: u64) -> Fault {
        Fault::new(FaultAction::TooManyRequests { retry_after })
    }

    pub fn latency(delay: Duration) -> Fault {
        Fault::new(FaultAction::Latency(delay)).always()
    }

    pub fn conflict() -> Fault {
        Fault::new(FaultAction::Conflict)
    }

    pub fn gone() -> Fault {
        Fault::new(FaultAction::Gone).verb("watch")
    }

    pub fn verb(mut self, verb: &str) -> Fault {
        self.verb = Some(verb.to_string());
        self
    }

    pub fn resource(mut self, resource: &str) -> Fault {
        self.resource = Some(resource.to_string());
        self
    }

    pub fn name(mut self, name: &str) -> Fault {
        self.name = Some(name.to_string());
        self
    }

    pub fn times(mut self, times: usize) -> Fault {
        self.times = times;
        self
    }

    pub fn always(self) -> Fault {
        self.times(usize::MAX)
    }

    fn matches(&self, verb: &str, resource: Option<&str>, name: Option<&str>) -> bool {
        let applicable = match self.action {
            FaultAction::Conflict => matches!(verb, "update" | "patch"),
            _ => true,
        };
        applicable
            && self.times > 0
            && self.verb.as_deref().is_none_or(|v| v == verb)
            && self.resource.as_deref().is_none_or(|r| Some(r) == resource)
            && self.name.as_deref().is_none_or(|n| Some(n) == name)
    }

    /// Parses the example binary's `--fault` syntax:
    /// `ACTION[:VERB[:RESOURCE[:NAME]]][*TIMES]`, where ACTION is a status code (`500`,
    /// `503`), `429` (with `Retry-After: 1`), `latency=MS`, `conflict` or `gone`, and
    /// `*` for TIMES means always; e.g. `503:patch:applications*2`, `latency=200`.
    pub fn parse(text: &str) -> Result<Fault, String> {
        let (spec, times) = match text.rsplit_once('*') {
            Some((spec, "")) => (spec, usize::MAX),
            Some((spec, n)) => (
                spec,
                n.parse::<usize>()
                    .map_err(|_| format!("bad repeat count in fault {text:?}"))?,
            ),
            None => (text, 1),
        };
        let mut parts = spec.split(':');
        let action = parts.next().unwrap_or_default();
        let action = if let Some(ms) = action.strip_prefix("latency=") {
            FaultAction::Latency(Duration::from_millis(
                ms.parse()
                    .map_err(|_| format!("bad latency in fault {text:?}"))?,
            ))
        } else {
            match action {
                "conflict" => FaultAction::Conflict,
                "gone" => FaultAction::Gone,
                "429" => FaultAction::TooManyRequests { retry_after: 1 },
                code => FaultAction::Status(
                    code.parse()
                        .map_err(|_| format!("unknown fault action {code:?} in {text:?}"))?,
                ),
            }
        };
        let opt = |s: Option<&str>| s.filter(|s| !s.is_empty() && *s != "*").map(str::to_string);
        let times = if matches!(action, FaultAction::Latency(_)) && !text.contains('*') {
            usize::MAX
        } else {
            times
        };
        Ok(Fault {
            verb: opt(parts.next()),
            resource: opt(parts.next()),
            name: opt(parts.next()),
            times,
            action,
        })
    }
}

/// The faults in force.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub rules: Vec<Fault>,
}

impl Faults {
    /// The actions that apply to a request, consuming one use of each matching rule: the
    /// total latency, then the first failure, if any.
    pub fn take(
        &mut self,
        verb: &str,
        resource: Option<&str>,
        name: Option<&str>,
    ) -> (Duration, Option<FaultAction>) {
        let mut delay = Duration::ZERO;
        let mut failure = None;
        for rule in &mut self.rules {
            if !rule.matches(verb, resource, name) {
                continue;
            }
            match rule.action {
                FaultAction::Latency(d) => delay += d,
                _ if failure.is_some() => continue,
                ref action => failure = Some(action.clone()),
            }
            if rule.times != usize::MAX {
                rule.times -= 1;
            }
        }
        self.rules.retain(|r| r.times > 0);
        (delay, failure)
    }
}

/// One request the fake received.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRecord {
    /// Arrival order, from 1.
    pub seq: u64,
    /// Milliseconds since the fake started, at arrival.
    pub at_ms: u64,
    pub method: String,
    pub path: String,
    /// The raw query string (`""` when there is none).
    pub query: String,
    /// The authorization verb: `get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `delete`, `deletecollection`; for non-resource paths (discovery) the lower-case
    /// HTTP method.
    pub verb: String,
    /// API group (`""` for core), resource, namespace, name and subresource of a resource
    /// request.
    pub group: Option<String>,
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The response status (for a watch: that of the response head, 200 once streaming).
    pub status: u16,
    /// The `Status` reason of an error response.
    pub reason: Option<String>,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub user_agent: Option<String>,
    /// The request body, parsed as JSON, for writes (never for Secrets).
    pub body: Option<Value>,
    /// The fault injected into this request, if any.
    pub fault: Option<String>,
}

impl RequestRecord {
    /// The record as one JSON object (the example binary's `--log-requests` line).
    pub fn to_json(&self) -> Value {
        json!({
            "seq": self.seq,
            "at_ms": self.at_ms,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "verb": self.verb,
            "group": self.group,
            "resource": self.resource,
            "namespace": self.namespace,
            "name": self.name,
            "subresource": self.subresource,
            "status": self.status,
            "reason": self.reason,
            "content_type": self.content_type,
            "fault": self.fault,
        })
    }

    /// A query parameter (decoded), if present.
    pub fn param(&self, key: &str) -> Option<String> {
        super::http::parse_query(&self.query)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Whether this was a request on `resource` with authorization verb `verb`.
    pub fn is(&self, verb: &str, resource: &str) -> bool {
        self.verb == verb && self.resource.as_deref() == Some(resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_command_line_syntax() {
        let f = Fault::parse("503:patch:applications*2").unwrap();
        assert_eq!(f.action, FaultAction::Status(503));
        assert_eq!(
            (f.verb.as_deref(), f.resource.as_deref(), f.times),
            (Some("patch"), Some("applications"), 2)
        );
        let f = Fault::parse("latency=200").unwrap();
        assert_eq!(
            (f.action, f.times),
            (FaultAction::Latency(Duration::from_millis(200)), usize::MAX)
        );
        let f = Fault::parse("429:*:secrets*").unwrap();
        assert_eq!(
            (f.verb, f.resource.as_deref(), f.times),
            (None, Some("secrets"), usize::MAX)
        );
        assert_eq!(
            Fault::parse("gone:watch").unwrap().action,
            FaultAction::Gone
        );
        assert_eq!(Fault::parse("conflict").unwrap().times, 1);
        assert!(Fault::parse("teapot").is_err());
    }

    #[test]
    fn rules_are_consumed() {
        let mut faults = Faults {
            rules: vec![Fault::status(500).verb("get").times(2), Fault::conflict()],
        };
        assert_eq!(faults.take("list", None, None), (Duration::ZERO, None));
        assert_eq!(
            faults.take("get", None, None).1,
            Some(FaultAction::Status(500))
        );
        assert_eq!(
            faults.take("patch", None, None).1,
            Some(FaultAction::Conflict)
        );
        assert_eq!(
            faults.take("get", None, None).1,
            Some(FaultAction::Status(500))
        );
        assert_eq!(faults.take("get", None, None).1, None);
        assert!(faults.rules.is_empty());
    }
}
