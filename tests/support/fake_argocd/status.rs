//! Errors as the apiserver reports them: `meta.k8s.io/v1` `Status` objects with the code,
//! reason and message wording of `k8s.io/apimachinery/pkg/api/errors`.

use serde_json::{Value, json};

use super::kinds::{Kind, qualified};

/// An error response.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    pub details: Option<Value>,
    /// A `Retry-After` header (seconds).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason: reason.to_string(),
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(details);
        self
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }

    fn resource_details(kind: Kind, name: &str) -> Value {
        json!({"name": name, "group": kind.group(), "kind": kind.plural()})
    }

    pub fn not_found(kind: Kind, name: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", kind.group_resource()),
        )
        .with_details(Self::resource_details(kind, name))
    }

    /// A path that names no resource the server serves.
    pub fn no_resource() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn already_exists(kind: Kind, name: &str) -> ApiError {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", kind.group_resource()),
        )
        .with_details(Self::resource_details(kind, name))
    }

    /// An optimistic-concurrency failure, worded as the apiserver words it.
    pub fn conflict(kind: Kind, name: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                kind.group_resource()
            ),
        )
        .with_details(Self::resource_details(kind, name))
    }

    /// A delete whose preconditions failed.
    pub fn precondition_conflict(kind: Kind, name: &str, what: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {what}",
                kind.group_resource()
            ),
        )
        .with_details(Self::resource_details(kind, name))
    }

    /// RBAC's refusal: `applications.argoproj.io "x" is forbidden: User "..." cannot delete
    /// resource "applications" in API group "argoproj.io" in the namespace "argocd"`.
    #[allow(clippy::too_many_arguments)]
    pub fn forbidden(
        user: &str,
        verb: &str,
        group: &str,
        resource: &str,
        subresource: Option<&str>,
        name: Option<&str>,
        namespace: Option<&str>,
    ) -> ApiError {
        let full_resource = match subresource {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource.to_string(),
        };
        let subject = match name {
            Some(name) => format!("{} \"{name}\"", qualified(group, resource)),
            None => qualified(group, resource),
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        ApiError::new(
            403,
            "Forbidden",
            format!(
                "{subject} is forbidden: User \"{user}\" cannot {verb} resource \
                 \"{full_resource}\" in API group \"{group}\" {scope}"
            ),
        )
        .with_details(json!({"name": name.unwrap_or(""), "group": group, "kind": resource}))
    }

    pub fn forbidden_path(user: &str, verb: &str, path: &str) -> ApiError {
        ApiError::new(
            403,
            "Forbidden",
            format!("forbidden: User \"{user}\" cannot {verb} path \"{path}\""),
        )
        .with_details(json!({}))
    }

    /// A validation failure: `Application.argoproj.io "x" is invalid: field: message`.
    pub fn invalid(kind: Kind, name: &str, causes: Vec<(String, String)>) -> ApiError {
        let group_kind = if kind.group().is_empty() {
            kind.kind().to_string()
        } else {
            format!("{}.{}", kind.kind(), kind.group())
        };
        let summary: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        let summary = if summary.len() == 1 {
            summary[0].clone()
        } else {
            format!("[{}]", summary.join(", "))
        };
        ApiError::new(
            422,
            "Invalid",
            format!("{group_kind} \"{name}\" is invalid: {summary}"),
        )
        .with_details(json!({
            "name": name,
            "group": kind.group(),
            "kind": kind.kind(),
            "causes": causes.iter().map(|(f, m)| json!({
                "reason": "FieldValueInvalid",
                "message": m,
                "field": f,
            })).collect::<Vec<_>>(),
        }))
    }

    /// Invalid request options: `ListOptions.meta.k8s.io "" is invalid: ...`.
    pub fn invalid_options(options: &str, message: &str) -> ApiError {
        ApiError::new(
            422,
            "Invalid",
            format!("{options}.meta.k8s.io \"\" is invalid: {message}"),
        )
        .with_details(json!({"group": "meta.k8s.io", "kind": options}))
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn method_not_allowed(verb: &str, kind: Kind) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!(
                "{verb} is not supported on resources of kind \"{}\"",
                kind.group_resource()
            ),
        )
    }

    /// The expiry of a resourceVersion or continue token.
    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    /// A request body over the apiserver's 3 MiB decode limit (`MaxRequestBodyBytes`).
    pub fn entity_too_large(limit: usize) -> ApiError {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    /// A patch type the resource does not take (strategic merge on a custom resource).
    pub fn unsupported_media_type() -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        )
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError::new(500, "InternalError", message.clone())
            .with_details(json!({"causes": [{"message": message}]}))
    }

    pub fn unavailable() -> ApiError {
        ApiError::new(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        )
    }

    pub fn too_many_requests(retry_after: u64) -> ApiError {
        let mut error = ApiError::new(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
        )
        .with_details(json!({"retryAfterSeconds": retry_after}));
        error.retry_after = Some(retry_after);
        error
    }
}
