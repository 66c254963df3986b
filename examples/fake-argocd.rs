//! A fake Argo CD control plane on 127.0.0.1, for trying and testing
//! `rollc apply --fleet argocd` without a Kubernetes cluster.
//!
//! ```sh
//! cargo run --example fake-argocd -- --fleet examples/fleet.yaml --kubeconfig /tmp/kc --speed 60
//! kubectl --kubeconfig /tmp/kc get applications
//! ```
//!
//! It serves the Kubernetes API for the fleet's cluster Secrets, an ApplicationSet and one
//! Application per cluster (plus ConfigMaps and Leases), enforces `deploy/rbac.yaml`, runs
//! the syncs rollc starts on the fleet file's simulated timeline, prints its URL, writes a
//! kubeconfig pointing at it, and runs until killed. See tests/support/fake_argocd.

#[path = "../tests/support/fake_argocd/mod.rs"]
mod fake_argocd;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use fake_argocd::{ClusterSet, Fault, Options, RbacMode};

/// A fake Argo CD (Kubernetes API) server for a rollc fleet file.
#[derive(Parser, Debug)]
#[command(name = "fake-argocd")]
struct Args {
    /// The fleet file (rollc's `clusters:` format with optional `sim`/`defaults`/`events`,
    /// or a list of cluster Secrets).
    #[arg(long)]
    fleet: PathBuf,
    /// Where to write a kubeconfig whose server is the fake.
    #[arg(long)]
    kubeconfig: PathBuf,
    /// The port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The Argo CD namespace.
    #[arg(long, default_value = "argocd")]
    namespace: String,
    /// The ApplicationSet; Applications are named `<appset>-<cluster>`.
    #[arg(long, default_value = "guestbook")]
    appset: String,
    /// The Applications' `spec.source.targetRevision` (resolves to the fleet's head).
    #[arg(long, default_value = "main")]
    target_revision: String,
    /// Sim seconds per real second (60: a 4m sync takes 4s).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// The RBAC file to enforce (default: the crate's deploy/rbac.yaml).
    #[arg(long, conflicts_with = "no_rbac")]
    rbac: Option<PathBuf>,
    /// Allow every request.
    #[arg(long)]
    no_rbac: bool,
    /// The user every request is from.
    #[arg(long, default_value = "system:serviceaccount:argocd:rollc")]
    user: String,
    /// Clusters whose Application has autosync on: `all`, or names separated by commas.
    #[arg(long, default_value = "none")]
    autosync: String,
    /// Clusters whose Application names its destination by `destination.name`.
    #[arg(long, default_value = "none")]
    destination_name: String,
    /// Clusters whose Application's `destination.server` ends with `/`.
    #[arg(long, default_value = "none")]
    trailing_slash: String,
    /// Report `status.sync` as Synced at the deployed revision instead of comparing with
    /// the head, as Argo CD's refresh does.
    #[arg(long)]
    synced_at_deployed: bool,
    /// How often watches get a BOOKMARK event, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    bookmark_interval_ms: u64,
    /// How many changes are kept for resuming watches (older resourceVersions get 410).
    #[arg(long, default_value_t = 10_000)]
    history_limit: usize,
    /// A fault, repeatable: `ACTION[:VERB[:RESOURCE[:NAME]]][*TIMES]`, ACTION one of a
    /// status code (`500`, `503`), `429`, `latency=MS`, `conflict`, `gone`; TIMES a count or
    /// empty for always. E.g. `503:patch:applications*2`, `latency=200`.
    #[arg(long = "fault")]
    faults: Vec<String>,
    /// Print each request as a JSON line on stderr.
    #[arg(long)]
    log_requests: bool,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("fake-argocd: {e}");
        std::process::exit(2);
    }
}

fn run(args: Args) -> Result<(), String> {
    let fleet = fake_argocd::load_fleet(&args.fleet).map_err(|e| e.to_string())?;
    let faults = args
        .faults
        .iter()
        .map(|f| Fault::parse(f))
        .collect::<Result<Vec<_>, _>>()?;
    let rbac = match (&args.rbac, args.no_rbac) {
        (_, true) => RbacMode::AllowAll,
        (Some(path), false) => RbacMode::File(path.clone()),
        (None, false) => RbacMode::File(fake_argocd::default_rbac_path()),
    };
    let request_sink: Option<fake_argocd::RequestSink> = args.log_requests.then(|| {
        Arc::new(|record: &fake_argocd::RequestRecord| {
            eprintln!("{}", record.to_json());
        }) as fake_argocd::RequestSink
    });
    let options = Options {
        namespace: args.namespace,
        appset: args.appset,
        target_revision: args.target_revision,
        port: args.port,
        speed: args.speed,
        rbac,
        user: args.user,
        autosync: ClusterSet::parse(&args.autosync),
        destination_name: ClusterSet::parse(&args.destination_name),
        trailing_slash: ClusterSet::parse(&args.trailing_slash),
        synced_at_deployed: args.synced_at_deployed,
        bookmark_interval: Duration::from_millis(args.bookmark_interval_ms),
        history_limit: args.history_limit,
        faults,
        request_sink,
        ..Options::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let fake = fake_argocd::start(&fleet, options)
            .await
            .map_err(|e| e.to_string())?;
        fake.write_kubeconfig(&args.kubeconfig)
            .map_err(|e| format!("cannot write {}: {e}", args.kubeconfig.display()))?;
        println!("{}", fake.url());
        eprintln!(
            "fake Argo CD serving {} clusters in namespace {} at {} (kubeconfig: {}); \
             stop it with Ctrl-C",
            fake.list(fake_argocd::Kind::Secret).len(),
            fake.namespace(),
            fake.url(),
            args.kubeconfig.display(),
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::future::pending::<Result<(), String>>().await
    })
}
