//! The object store: one global resourceVersion, a bounded history of changes (for watches
//! that resume and for consistent list pages), and the open watches, fed as objects change.
//!
//! Writes follow the apiserver's rules: server-set metadata (`uid`, `resourceVersion`,
//! `creationTimestamp`, `generation`), optimistic concurrency on `metadata.resourceVersion`,
//! no event and no new resourceVersion for a write that changes nothing, size limits, and
//! the status subresource split where the CRD has one.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use hyper::body::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc::UnboundedSender;

use super::kinds::{self, Format, Kind};
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;

/// `(kind, namespace, name)`; the map order is the apiserver's list order.
pub type Key = (Kind, String, String);

/// etcd's default request size limit (`--max-request-bytes`, 1.5 MiB): a stored object at
/// least this large is refused with the error etcd gives the apiserver.
pub const ETCD_LIMIT: usize = 1_572_864;
/// The total size of a ConfigMap's or Secret's data (`core.MaxSecretSize`, 1 MiB).
pub const DATA_LIMIT: usize = 1_048_576;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as a watch reports it.
#[derive(Clone, Debug)]
pub struct Change {
    pub rv: u64,
    pub key: Key,
    pub etype: EventType,
    /// The object after the change (for a delete: the object as deleted, at `rv`).
    pub object: Value,
    /// The object before the change.
    pub prev: Option<Value>,
}

/// An open watch.
pub struct Watcher {
    pub id: u64,
    pub kind: Kind,
    /// `None`: all namespaces.
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub format: Format,
    /// Lines of the response body; dropping it ends the response.
    pub tx: UnboundedSender<Bytes>,
}

impl Watcher {
    fn sees(&self, key: &Key, obj: &Value) -> bool {
        self.kind == key.0
            && self.namespace.as_ref().is_none_or(|ns| *ns == key.1)
            && self.labels.matches_object(obj)
            && self.fields.matches_object(obj)
    }

    /// The event this watch reports for `change`, if any: a change that moves an object
    /// into or out of the selection is reported as ADDED or DELETED, as the watch cache
    /// does.
    pub fn event_for(&self, change: &Change) -> Option<EventType> {
        if self.kind != change.key.0 {
            return None;
        }
        let now = self.sees(&change.key, &change.object);
        let before = change
            .prev
            .as_ref()
            .is_some_and(|p| self.sees(&change.key, p));
        match change.etype {
            EventType::Added => now.then_some(EventType::Added),
            EventType::Deleted => (now || before).then_some(EventType::Deleted),
            EventType::Modified => match (before, now) {
                (true, true) => Some(EventType::Modified),
                (false, true) => Some(EventType::Added),
                (true, false) => Some(EventType::Deleted),
                (false, false) => None,
            },
        }
    }

    /// A line of the watch body.
    pub fn line(&self, etype: &str, obj: &Value) -> Bytes {
        let object = match self.format {
            Format::Full => obj.clone(),
            Format::Metadata => kinds::partial_metadata(obj),
            Format::Table => kinds::table(
                self.kind,
                std::slice::from_ref(obj),
                json!({"resourceVersion": rv_of(obj)}),
                jiff::Timestamp::now(),
            ),
        };
        let mut line = serde_json::to_vec(&json!({"type": etype, "object": object}))
            .expect("JSON values serialize");
        line.push(b'\n');
        Bytes::from(line)
    }
}

/// The object's `metadata.resourceVersion`.
pub fn rv_of(obj: &Value) -> String {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Kubernetes timestamps: RFC 3339, whole seconds, UTC.
pub fn timestamp(t: jiff::Timestamp) -> String {
    jiff::Timestamp::from_second(t.as_second())
        .expect("a current time is in range")
        .to_string()
}

/// What a write path should check and do.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    /// The write comes from the fake's own controllers, not a client: it does not count as
    /// a client touching an Application.
    pub internal: bool,
}

pub struct Store {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Change>,
    history_limit: usize,
    /// Watches and consistent reads may start at any resourceVersion from here on; older
    /// ones have been compacted away (410 Gone).
    oldest: u64,
    pub watchers: Vec<Watcher>,
    next_watcher: u64,
    uid_state: u64,
    /// Applications (namespace, name) a client wrote since the controller last looked.
    pub touched_apps: BTreeSet<(String, String)>,
}

impl Store {
    pub fn new(history_limit: usize, first_rv: u64) -> Store {
        let seed = jiff::Timestamp::now().as_nanosecond() as u64;
        Store {
            rv: first_rv,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            oldest: first_rv,
            watchers: Vec::new(),
            next_watcher: 1,
            uid_state: seed | 1,
            touched_apps: BTreeSet::new(),
        }
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion a watch can resume from.
    pub fn oldest(&self) -> u64 {
        self.oldest
    }

    /// Forgets all history, as an etcd compaction does: resuming from any older
    /// resourceVersion is then 410 Gone.
    pub fn compact(&mut self) {
        self.history.clear();
        self.oldest = self.rv;
    }

    pub fn get(&self, kind: Kind, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(kind, ns.to_string(), name.to_string()))
    }

    /// Objects of `kind` in `ns` (all namespaces for `None`), in key order.
    pub fn list(&self, kind: Kind, ns: Option<&str>) -> Vec<Value> {
        self.objects
            .range((kind, String::new(), String::new())..)
            .take_while(|((k, _, _), _)| *k == kind)
            .filter(|((_, n, _), _)| ns.is_none_or(|ns| ns == n))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The objects of `kind` in `ns` as they were at resourceVersion `rv`, rebuilt from
    /// the history; 410 when the history no longer reaches back that far.
    pub fn list_at(&self, kind: Kind, ns: Option<&str>, rv: u64) -> Result<Vec<Value>, ApiError> {
        if rv >= self.rv {
            return Ok(self.list(kind, ns));
        }
        if rv < self.oldest {
            return Err(ApiError::expired(format!(
                "too old resource version: {rv} ({})",
                self.oldest
            )));
        }
        let mut state: BTreeMap<Key, Value> = self
            .objects
            .range((kind, String::new(), String::new())..)
            .take_while(|((k, _, _), _)| *k == kind)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for change in self.history.iter().rev().take_while(|c| c.rv > rv) {
            if change.key.0 != kind {
                continue;
            }
            match change.etype {
                EventType::Added => {
                    state.remove(&change.key);
                }
                EventType::Modified | EventType::Deleted => {
                    if let Some(prev) = &change.prev {
                        state.insert(change.key.clone(), prev.clone());
                    }
                }
            }
        }
        Ok(state
            .into_iter()
            .filter(|((_, n, _), _)| ns.is_none_or(|ns| ns == n))
            .map(|(_, v)| v)
            .collect())
    }

    /// The changes after `rv`, oldest first; 410 when some were compacted away.
    pub fn changes_since(&self, rv: u64) -> Result<Vec<Change>, ApiError> {
        if rv < self.oldest {
            return Err(ApiError::expired(format!(
                "too old resource version: {rv} ({})",
                self.oldest
            )));
        }
        Ok(self.history.iter().filter(|c| c.rv > rv).cloned().collect())
    }

    pub fn add_watcher(&mut self, mut watcher: Watcher) -> u64 {
        let id = self.next_watcher;
        self.next_watcher += 1;
        watcher.id = id;
        self.watchers.push(watcher);
        id
    }

    pub fn has_watcher(&self, id: u64) -> bool {
        self.watchers.iter().any(|w| w.id == id)
    }

    /// Ends watch `id` (its response body ends).
    pub fn remove_watcher(&mut self, id: u64) {
        self.watchers.retain(|w| w.id != id);
    }

    /// Ends every open watch; returns how many there were.
    pub fn drop_watchers(&mut self) -> usize {
        let n = self.watchers.len();
        self.watchers.clear();
        n
    }

    /// A new `metadata.uid` (a version-4-shaped UUID).
    pub fn new_uid(&mut self) -> String {
        let mut next = || {
            // xorshift64*
            let mut x = self.uid_state;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.uid_state = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let a = next();
        let b = next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    fn random_suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut n = self
            .new_uid()
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        (0..5)
            .map(|_| {
                let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
                n /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }

    /// Records a change: new resourceVersion, history, watches.
    fn commit(&mut self, key: Key, etype: EventType, mut object: Value, internal: bool) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let prev = match etype {
            EventType::Deleted => self.objects.remove(&key),
            _ => self.objects.insert(key.clone(), object.clone()),
        };
        if key.0 == Kind::Application && !internal && etype != EventType::Deleted {
            self.touched_apps.insert((key.1.clone(), key.2.clone()));
        }
        let change = Change {
            rv: self.rv,
            key,
            etype,
            object: object.clone(),
            prev,
        };
        self.watchers.retain(|w| match w.event_for(&change) {
            Some(e) => w.tx.send(w.line(e.as_str(), &change.object)).is_ok(),
            None => !w.tx.is_closed(),
        });
        self.history.push_back(change);
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.oldest = old.rv;
            }
        }
        object
    }

    /// Creates an object in namespace `ns` (POST).
    pub fn create(
        &mut self,
        kind: Kind,
        ns: &str,
        mut obj: Value,
        opts: WriteOptions,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be an object",
            ));
        }
        check_type(kind, &obj)?;
        let meta = obj
            .as_object_mut()
            .expect("checked above")
            .entry("metadata")
            .or_insert_with(|| json!({}));
        if !meta.is_object() {
            return Err(ApiError::bad_request("metadata must be an object"));
        }
        if let Some(body_ns) = meta.get("namespace").and_then(Value::as_str)
            && body_ns != ns
            && !body_ns.is_empty()
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let name = match meta.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => match meta.get("generateName").and_then(Value::as_str) {
                Some(prefix) if !prefix.is_empty() => {
                    let prefix = prefix.to_string();
                    format!("{prefix}{}", self.random_suffix())
                }
                _ => {
                    return Err(ApiError::invalid(
                        kind,
                        "",
                        vec![(
                            "metadata.name".into(),
                            "Required value: name or generateName is required".into(),
                        )],
                    ));
                }
            },
        };
        let key = (kind, ns.to_string(), name.clone());
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(kind, &name));
        }
        let uid = self.new_uid();
        let meta = obj["metadata"].as_object_mut().expect("checked above");
        meta.insert("name".into(), json!(name));
        meta.insert("namespace".into(), json!(ns));
        meta.insert("uid".into(), json!(uid));
        meta.insert(
            "creationTimestamp".into(),
            json!(timestamp(jiff::Timestamp::now())),
        );
        meta.remove("resourceVersion");
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        meta.remove("selfLink");
        if kind.is_custom() {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        let errors = normalize(kind, &mut obj);
        if !errors.is_empty() {
            return Err(ApiError::invalid(kind, &name, errors));
        }
        validate(kind, &name, &obj)?;
        if opts.dry_run {
            return Ok(obj);
        }
        Ok(self.commit(key, EventType::Added, obj, opts.internal))
    }

    /// Replaces the stored object with `new`, which was derived from it (PUT, PATCH, or a
    /// controller write). `expected_rv` is the resourceVersion the writer based `new` on
    /// (`None`: unconditional). Writes that change nothing are not recorded.
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        kind: Kind,
        ns: &str,
        name: &str,
        mut new: Value,
        expected_rv: Option<&str>,
        subresource_status: bool,
        opts: WriteOptions,
    ) -> Result<Value, ApiError> {
        let key = (kind, ns.to_string(), name.to_string());
        let Some(current) = self.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(kind, name));
        };
        if !new.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be an object",
            ));
        }
        check_type(kind, &new)?;
        if let Some(rv) = expected_rv
            && rv != rv_of(&current)
        {
            return Err(ApiError::conflict(kind, name));
        }
        if !new.get("metadata").is_some_and(Value::is_object) {
            new["metadata"] = json!({});
        }
        // Server-owned metadata stays as stored.
        for field in [
            "uid",
            "creationTimestamp",
            "resourceVersion",
            "generation",
            "deletionTimestamp",
        ] {
            match current["metadata"].get(field) {
                Some(v) => new["metadata"][field] = v.clone(),
                None => {
                    new["metadata"]
                        .as_object_mut()
                        .expect("an object")
                        .remove(field);
                }
            }
        }
        new["metadata"]["name"] = json!(name);
        new["metadata"]["namespace"] = json!(ns);
        if kind.has_status_subresource() {
            if subresource_status {
                // Only status changes through /status.
                let status = new.get("status").cloned();
                new = current.clone();
                match status {
                    Some(s) => new["status"] = s,
                    None => {
                        new.as_object_mut().expect("an object").remove("status");
                    }
                }
            } else {
                match current.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        new.as_object_mut().expect("an object").remove("status");
                    }
                }
            }
        }
        let errors = normalize(kind, &mut new);
        if !errors.is_empty() {
            return Err(ApiError::invalid(kind, name, errors));
        }
        if new == current {
            return Ok(current);
        }
        if kind.is_custom() && spec_changed(kind, &current, &new) {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(1);
            new["metadata"]["generation"] = json!(generation + 1);
        }
        validate(kind, name, &new)?;
        if opts.dry_run {
            return Ok(new);
        }
        Ok(self.commit(key, EventType::Modified, new, opts.internal))
    }

    /// Deletes an object, checking `preconditions` (`{resourceVersion, uid}`).
    pub fn delete(
        &mut self,
        kind: Kind,
        ns: &str,
        name: &str,
        preconditions: Option<&Value>,
        opts: WriteOptions,
    ) -> Result<Value, ApiError> {
        let key = (kind, ns.to_string(), name.to_string());
        let Some(current) = self.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(kind, name));
        };
        if let Some(pre) = preconditions {
            if let Some(rv) = pre.get("resourceVersion").and_then(Value::as_str)
                && rv != rv_of(&current)
            {
                return Err(ApiError::precondition_conflict(
                    kind,
                    name,
                    &format!(
                        "the ResourceVersion in the precondition ({rv}) does not match the \
                         ResourceVersion in record ({}). The object might have been modified",
                        rv_of(&current)
                    ),
                ));
            }
            if let Some(uid) = pre.get("uid").and_then(Value::as_str) {
                let stored = current["metadata"]["uid"].as_str().unwrap_or_default();
                if uid != stored {
                    return Err(ApiError::precondition_conflict(
                        kind,
                        name,
                        &format!(
                            "the UID in the precondition ({uid}) does not match the UID in \
                             record ({stored}). The object might have been deleted and then \
                             recreated"
                        ),
                    ));
                }
            }
        }
        if opts.dry_run {
            return Ok(current);
        }
        Ok(self.commit(key, EventType::Deleted, current, opts.internal))
    }
}

/// `kind`/`apiVersion` in a body, when given, must be the resource's.
fn check_type(kind: Kind, obj: &Value) -> Result<(), ApiError> {
    if let Some(k) = obj.get("kind").and_then(Value::as_str)
        && !k.is_empty()
        && k != kind.kind()
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            kind.kind()
        )));
    }
    if let Some(v) = obj.get("apiVersion").and_then(Value::as_str)
        && !v.is_empty()
        && v != kind.api_version()
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version ({})",
            kind.api_version()
        )));
    }
    Ok(())
}

/// What the apiserver's decoding, pruning and defaulting do to a stored object; returns
/// the schema errors found on the way.
fn normalize(kind: Kind, obj: &mut Value) -> Vec<(String, String)> {
    let errors = if kind == Kind::Application {
        super::schema::application(obj)
    } else {
        Vec::new()
    };
    obj["kind"] = json!(kind.kind());
    obj["apiVersion"] = json!(kind.api_version());
    if kind == Kind::Secret {
        // `stringData` is write-only: merged into `data`, base64-encoded.
        if let Some(Value::Object(string_data)) =
            obj.as_object_mut().and_then(|o| o.remove("stringData"))
        {
            use base64::Engine;
            let data = obj
                .as_object_mut()
                .expect("an object")
                .entry("data")
                .or_insert_with(|| json!({}));
            if let Some(data) = data.as_object_mut() {
                for (k, v) in string_data {
                    let text = v.as_str().unwrap_or_default();
                    data.insert(
                        k,
                        json!(base64::engine::general_purpose::STANDARD.encode(text)),
                    );
                }
            }
        }
        if obj.get("type").is_none_or(Value::is_null) {
            obj["type"] = json!("Opaque");
        }
    }
    if obj["metadata"]
        .get("labels")
        .is_some_and(|l| l.as_object().is_some_and(Map::is_empty))
    {
        obj["metadata"]
            .as_object_mut()
            .expect("an object")
            .remove("labels");
    }
    errors
}

/// Whether anything outside `metadata` (and outside `status` where it is a subresource)
/// changed: what bumps `metadata.generation` of a custom resource.
fn spec_changed(kind: Kind, old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("metadata");
            if kind.has_status_subresource() {
                o.remove("status");
            }
        }
        v
    };
    strip(old) != strip(new)
}

fn dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// Validation of the parts the fake checks: the name, label values, data sizes, and
/// etcd's size limit.
fn validate(kind: Kind, name: &str, obj: &Value) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    if !dns_subdomain(name) {
        causes.push((
            "metadata.name".to_string(),
            format!(
                "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower \
                 case alphanumeric characters, '-' or '.', and must start and end with an \
                 alphanumeric character (e.g. 'example.com', regex used for validation is \
                 '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ),
        ));
    }
    if let Some(labels) = obj.pointer("/metadata/labels") {
        match labels.as_object() {
            Some(labels) => {
                for (k, v) in labels {
                    let Some(v) = v.as_str() else {
                        causes.push((
                            format!("metadata.labels.{k}"),
                            "Invalid value: must be a string".to_string(),
                        ));
                        continue;
                    };
                    if LabelSelector::parse(&format!("{k}={v}")).is_err() {
                        causes.push((
                            "metadata.labels".to_string(),
                            format!("Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
                        ));
                    }
                }
            }
            None => causes.push((
                "metadata.labels".to_string(),
                "Invalid value: must be an object".to_string(),
            )),
        }
    }
    let data_size = |field: &str| -> usize {
        obj.get(field).and_then(Value::as_object).map_or(0, |m| {
            m.iter()
                .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
                .sum()
        })
    };
    match kind {
        Kind::ConfigMap if data_size("data") + data_size("binaryData") > DATA_LIMIT => {
            causes.push((
                "[]".to_string(),
                format!("Too long: must have at most {DATA_LIMIT} bytes"),
            ));
        }
        Kind::Secret => {
            use base64::Engine;
            let decoded: usize = obj.get("data").and_then(Value::as_object).map_or(0, |m| {
                m.values()
                    .map(|v| {
                        base64::engine::general_purpose::STANDARD
                            .decode(v.as_str().unwrap_or_default())
                            .map_or(0, |d| d.len())
                    })
                    .sum()
            });
            if decoded > DATA_LIMIT {
                causes.push((
                    "data".to_string(),
                    format!("Too long: must have at most {DATA_LIMIT} bytes"),
                ));
            }
        }
        _ => {}
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(kind, name, causes));
    }
    let size = serde_json::to_vec(obj).map_or(0, |v| v.len());
    if size >= ETCD_LIMIT {
        // What the apiserver passes on from etcd (kubernetes/kubernetes#112152: not mapped
        // to a 4xx).
        return Err(ApiError::internal("etcdserver: request is too large"));
    }
    Ok(())
}
