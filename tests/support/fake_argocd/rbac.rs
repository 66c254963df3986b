//! Kubernetes RBAC for the one user the fake serves: the Roles, ClusterRoles and bindings
//! of a YAML file (by default `deploy/rbac.yaml`) evaluated as the apiserver's RBAC
//! authorizer does, plus the discovery paths every authenticated user may read
//! (`system:discovery`, `system:public-info-viewer`).

use std::path::Path;

use serde_json::Value;

/// What a request asks to do, as the authorizer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attributes {
    Resource {
        verb: String,
        group: String,
        resource: String,
        subresource: Option<String>,
        /// `None` for a cluster-scoped request (e.g. a list across all namespaces).
        namespace: Option<String>,
        name: Option<String>,
    },
    NonResource {
        verb: String,
        path: String,
    },
}

#[derive(Clone, Debug, Default)]
struct Rule {
    api_groups: Vec<String>,
    resources: Vec<String>,
    verbs: Vec<String>,
    resource_names: Vec<String>,
    non_resource_urls: Vec<String>,
}

#[derive(Clone, Debug)]
struct Grant {
    /// `None`: granted cluster-wide (ClusterRoleBinding).
    namespace: Option<String>,
    rules: Vec<Rule>,
    /// `RoleBinding "NAME/NS" of Role "ROLE" to ServiceAccount "SA/NS"`: what RBAC names
    /// in an access review's reason.
    description: String,
}

/// The permissions of one user.
#[derive(Clone, Debug)]
pub struct Rbac {
    /// `system:serviceaccount:NS:NAME`, or another user name.
    pub user: String,
    /// `None`: everything is allowed (RBAC off).
    grants: Option<Vec<Grant>>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn rules_of(role: &Value) -> Vec<Rule> {
    role.get("rules")
        .and_then(Value::as_array)
        .map(|rules| {
            rules
                .iter()
                .map(|r| Rule {
                    api_groups: strings(r.get("apiGroups")),
                    resources: strings(r.get("resources")),
                    verbs: strings(r.get("verbs")),
                    resource_names: strings(r.get("resourceNames")),
                    non_resource_urls: strings(r.get("nonResourceURLs")),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn meta<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc.get("metadata")?.get(key)?.as_str()
}

impl Rbac {
    /// No RBAC: every request is allowed.
    pub fn allow_all(user: &str) -> Rbac {
        Rbac {
            user: user.to_string(),
            grants: None,
        }
    }

    /// The permissions `user` (`system:serviceaccount:NS:NAME` for a ServiceAccount) gets
    /// from the bindings in the YAML documents of `path`.
    pub fn load(path: &Path, user: &str) -> Result<Rbac, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read RBAC file {}: {e}", path.display()))?;
        Rbac::parse(&text, user).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str, user: &str) -> Result<Rbac, String> {
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(text).map_err(|e| format!("invalid YAML: {e}"))?;
        let docs: Vec<&Value> = docs
            .iter()
            .flat_map(|d| match d.get("kind").and_then(Value::as_str) {
                Some("List") => d
                    .get("items")
                    .and_then(Value::as_array)
                    .map(|items| items.iter().collect())
                    .unwrap_or_default(),
                _ => vec![d],
            })
            .filter(|d| !d.is_null())
            .collect();
        let sa = user
            .strip_prefix("system:serviceaccount:")
            .and_then(|rest| rest.split_once(':'));
        let subject_matches = |s: &Value, binding_ns: Option<&str>| {
            let kind = s.get("kind").and_then(Value::as_str);
            let name = s.get("name").and_then(Value::as_str);
            match kind {
                Some("ServiceAccount") => sa.is_some_and(|(ns, n)| {
                    let subject_ns = s.get("namespace").and_then(Value::as_str).or(binding_ns);
                    name == Some(n) && subject_ns == Some(ns)
                }),
                Some("User") => name == Some(user),
                Some("Group") => {
                    name == Some("system:authenticated")
                        || (sa.is_some() && name == Some("system:serviceaccounts"))
                        || sa.is_some_and(|(ns, _)| {
                            name == Some(&format!("system:serviceaccounts:{ns}"))
                        })
                }
                _ => false,
            }
        };
        let find_role = |kind: &str, name: &str, ns: Option<&str>| {
            docs.iter().find(|d| {
                d.get("kind").and_then(Value::as_str) == Some(kind)
                    && meta(d, "name") == Some(name)
                    && (kind == "ClusterRole" || meta(d, "namespace") == ns)
            })
        };
        let mut grants = Vec::new();
        for doc in &docs {
            let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
            if kind != "RoleBinding" && kind != "ClusterRoleBinding" {
                continue;
            }
            let ns = if kind == "RoleBinding" {
                Some(meta(doc, "namespace").ok_or_else(|| {
                    format!(
                        "RoleBinding {:?} has no metadata.namespace",
                        meta(doc, "name").unwrap_or_default()
                    )
                })?)
            } else {
                None
            };
            let subjects = doc
                .get("subjects")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if !subjects.iter().any(|s| subject_matches(s, ns)) {
                continue;
            }
            let role_kind = doc
                .pointer("/roleRef/kind")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let role_name = doc
                .pointer("/roleRef/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let role = find_role(role_kind, role_name, ns).ok_or_else(|| {
                format!(
                    "binding refers to {role_kind} {role_name:?}, which the file does not define"
                )
            })?;
            let binding_name = meta(doc, "name").unwrap_or_default();
            let binding = match ns {
                Some(ns) => format!("{kind} \"{binding_name}/{ns}\""),
                None => format!("{kind} \"{binding_name}\""),
            };
            let subject = match sa {
                Some((sa_ns, sa_name)) => format!("ServiceAccount \"{sa_name}/{sa_ns}\""),
                None => format!("User \"{user}\""),
            };
            grants.push(Grant {
                namespace: ns.map(str::to_string),
                rules: rules_of(role),
                description: format!("{binding} of {role_kind} \"{role_name}\" to {subject}"),
            });
        }
        Ok(Rbac {
            user: user.to_string(),
            grants: Some(grants),
        })
    }

    /// Whether RBAC allows the request.
    pub fn allows(&self, attrs: &Attributes) -> bool {
        self.decide(attrs).is_some()
    }

    /// `Some(reason)` when RBAC allows the request, with the reason an access review
    /// gives (`RBAC: allowed by RoleBinding "rollc/argocd" of Role "rollc" to
    /// ServiceAccount "rollc/argocd"`).
    pub fn decide(&self, attrs: &Attributes) -> Option<String> {
        let Some(grants) = &self.grants else {
            return Some("RBAC is off".to_string());
        };
        let basic = "RBAC: allowed by ClusterRoleBinding \"system:basic-user\" of ClusterRole \"system:basic-user\" to Group \"system:authenticated\"";
        let discovery = "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\" to Group \"system:authenticated\"";
        let allowed_by = |g: &Grant| Some(format!("RBAC: allowed by {}", g.description));
        match attrs {
            Attributes::NonResource { verb, path } => {
                if verb == "get" && discovery_path(path) {
                    return Some(discovery.to_string());
                }
                grants
                    .iter()
                    .filter(|g| g.namespace.is_none())
                    .find(|g| {
                        g.rules.iter().any(|r| {
                            has(&r.verbs, verb)
                                && r.non_resource_urls.iter().any(|u| {
                                    u == "*"
                                        || u == path
                                        || u.strip_suffix('*').is_some_and(|p| path.starts_with(p))
                                })
                        })
                    })
                    .and_then(allowed_by)
            }
            Attributes::Resource {
                verb,
                group,
                resource,
                subresource,
                namespace,
                name,
            } => {
                if group == "authorization.k8s.io"
                    && verb == "create"
                    && matches!(
                        resource.as_str(),
                        "selfsubjectaccessreviews" | "selfsubjectrulesreviews"
                    )
                {
                    return Some(basic.to_string());
                }
                let full = match subresource {
                    Some(s) => format!("{resource}/{s}"),
                    None => resource.clone(),
                };
                grants
                    .iter()
                    .filter(|g| match &g.namespace {
                        None => true,
                        Some(ns) => namespace.as_deref() == Some(ns.as_str()),
                    })
                    .find(|g| {
                        g.rules.iter().any(|r| {
                            has(&r.verbs, verb)
                                && has(&r.api_groups, group)
                                && (has(&r.resources, &full)
                                    || (subresource.is_some()
                                        && r.resources.iter().any(|x| {
                                            x == &format!(
                                                "*/{}",
                                                subresource.as_deref().unwrap_or_default()
                                            )
                                        })))
                                && (r.resource_names.is_empty()
                                    || name.as_ref().is_some_and(|n| r.resource_names.contains(n)))
                        })
                    })
                    .and_then(allowed_by)
            }
        }
    }

    /// The rules that apply in `namespace`, as a SelfSubjectRulesReview reports them:
    /// `(resourceRules, nonResourceRules)`, including what every authenticated user gets.
    pub fn rules_in(&self, namespace: &str) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
        use serde_json::json;
        let mut resource_rules = vec![json!({
            "verbs": ["create"],
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        })];
        let mut non_resource_rules = vec![json!({
            "verbs": ["get"],
            "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"],
        })];
        let Some(grants) = &self.grants else {
            resource_rules.push(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
            non_resource_rules.push(json!({"verbs": ["*"], "nonResourceURLs": ["*"]}));
            return (resource_rules, non_resource_rules);
        };
        for grant in grants {
            if grant.namespace.as_deref().is_some_and(|ns| ns != namespace) {
                continue;
            }
            for rule in &grant.rules {
                if !rule.non_resource_urls.is_empty() {
                    non_resource_rules.push(
                        json!({"verbs": rule.verbs, "nonResourceURLs": rule.non_resource_urls}),
                    );
                }
                if !rule.resources.is_empty() {
                    let mut r = json!({"verbs": rule.verbs, "apiGroups": rule.api_groups, "resources": rule.resources});
                    if !rule.resource_names.is_empty() {
                        r["resourceNames"] = json!(rule.resource_names);
                    }
                    resource_rules.push(r);
                }
            }
        }
        (resource_rules, non_resource_rules)
    }
}

fn has(list: &[String], item: &str) -> bool {
    list.iter().any(|x| x == "*" || x == item)
}

/// Paths every authenticated user may GET.
fn discovery_path(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    path.is_empty()
        || matches!(
            path,
            "/api" | "/apis" | "/version" | "/healthz" | "/livez" | "/readyz"
        )
        || path.starts_with("/api/")
        || path.starts_with("/apis/")
        || path.starts_with("/openapi/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(verb: &str, group: &str, resource: &str, ns: Option<&str>) -> Attributes {
        Attributes::Resource {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: None,
            namespace: ns.map(str::to_string),
            name: Some("x".into()),
        }
    }

    #[test]
    fn deploy_rbac_is_least_privilege() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac.yaml");
        let rbac = Rbac::load(&path, "system:serviceaccount:argocd:rollc").unwrap();
        let ns = Some("argocd");
        assert!(rbac.allows(&res("list", "", "secrets", ns)));
        assert!(!rbac.allows(&res("get", "", "secrets", ns)));
        assert!(!rbac.allows(&res("create", "", "secrets", ns)));
        assert!(rbac.allows(&res("patch", "argoproj.io", "applications", ns)));
        assert!(!rbac.allows(&res("update", "argoproj.io", "applications", ns)));
        assert!(!rbac.allows(&res("list", "argoproj.io", "applicationsets", ns)));
        assert!(!rbac.allows(&res("delete", "argoproj.io", "applications", ns)));
        assert!(!rbac.allows(&res("create", "argoproj.io", "applications", ns)));
        assert!(!rbac.allows(&res("update", "argoproj.io", "applicationsets", ns)));
        assert!(rbac.allows(&res("delete", "", "configmaps", ns)));
        assert!(rbac.allows(&res("update", "coordination.k8s.io", "leases", ns)));
        assert!(!rbac.allows(&res("delete", "coordination.k8s.io", "leases", ns)));
        assert!(!rbac.allows(&res("list", "", "pods", ns)));
        assert!(!rbac.allows(&res("list", "", "secrets", Some("default"))));
        assert!(!rbac.allows(&res("list", "", "secrets", None)));
        let other = Rbac::load(&path, "system:serviceaccount:argocd:someone").unwrap();
        assert!(!other.allows(&res("list", "", "secrets", ns)));
    }
}
