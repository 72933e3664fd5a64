//! `hookbridge dev`: ingest, the bus, delivery and the consumer in one
//! local process, built from the Lambda functions' own handlers with local
//! adapters (an SQLite store) behind the same ports. With `--aws` (or
//! `AWS_ENDPOINT_URL` set) the ingest route uses the real AWS adapters
//! instead, so the same command runs against moto or an account.

#[cfg(feature = "aws")]
mod aws;
mod bus;
pub mod config;
mod console;
mod consumer_store;
mod counters;
pub(crate) mod data_dir_lock;
mod delivery;
pub(crate) mod event_list;
mod payload_files;
mod persist;
mod retention;
pub mod schedule;
mod server;
pub mod store;
mod summary;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use consume::Consumer;
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::webhook_target::HttpWebhookTarget;
use hookbridge_core::delivery_policy::DeliveryPolicy;
use hookbridge_core::destinations::DestinationsError;
use hookbridge_core::horizon::DeliverySchedule;
use hookbridge_core::projection::ProjectionRule;
use hookbridge_core::providers::Preset;
use hookbridge_core::secret::{Secret, SecretSet};
use ingest::Ingest;
use tokio::net::TcpListener;
use tokio::sync::watch;

use self::bus::{ConfiguredSecrets, LocalBus, Routes};
use self::config::{ConfigFileError, DestinationSetup, FlagError, Settings, SourceSetup};
use self::consumer_store::SqliteEventStore;
use self::data_dir_lock::{DataDirLock, DataDirLockError};
use self::delivery::DeliverRoute;
use self::payload_files::{LOCAL_BUCKET, PayloadFiles};
use self::persist::PersistRoute;
use self::schedule::TimeScale;
use self::server::{App, Limits};
use self::store::{LocalStore, StoreError};

pub const DEFAULT_HOST: &str = "127.0.0.1";
pub const DEFAULT_PORT: u16 = 3000;
pub const DEFAULT_DATA_DIR: &str = ".hookbridge";
/// How long the local store keeps finished events without
/// `--retention-hours` or `retention_hours`: a week.
pub const DEFAULT_RETENTION_HOURS: u32 = 168;
/// How long the consumer keeps event records (the Lambda's default).
const RETENTION: Duration = Duration::from_secs(consume::DEFAULT_RETENTION_DAYS * 86_400);
/// Bound of one delivery attempt, answer included, for a destination that
/// names no `timeout_seconds`.
const TARGET_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// Address to listen on [default: 127.0.0.1].
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on; 0 picks a free one [default: 3000].
    #[arg(long)]
    pub port: Option<u16>,
    /// Configuration file [default: ./hookbridge.toml if present, else the
    /// built-in development sources].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Directory of the SQLite store [default: .hookbridge].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where every event is delivered (http or https URL): the destination
    /// `default`, beside the `[destinations]` of the file (replacing its
    /// `default`). Without any destination events are only stored.
    #[arg(long)]
    pub target: Option<String>,
    /// Divide every wait of the delivery schedule by this factor, e.g. 60.
    #[arg(long)]
    pub time_scale: Option<TimeScale>,
    /// A source as NAME=KIND, or NAME={JSON options of HOOKBRIDGE_SOURCES};
    /// repeatable. Replaces the sources of the file or the built-in ones.
    #[arg(long = "source", value_name = "NAME=KIND")]
    pub sources: Vec<String>,
    /// A source's secret as SOURCE=SECRET; repeat it for a rotation. For
    /// local testing: command lines are visible to other local users, so
    /// keep real secrets in hookbridge.toml.
    #[arg(long = "secret", value_name = "SOURCE=SECRET")]
    pub secrets: Vec<String>,
    /// The outbound signing secret (a Standard Webhooks `whsec_` key) of
    /// every destination without `secrets` of its own; repeat it for a
    /// rotation.
    #[arg(long = "outbound-secret", value_name = "SECRET")]
    pub outbound_secrets: Vec<String>,
    /// Use the real AWS adapters (EventBridge, SSM) for ingest; implied by
    /// AWS_ENDPOINT_URL. Needs a build with `--features aws`.
    #[arg(long)]
    pub aws: bool,
    /// Log every step (each webhook, delivery attempt and record) instead of
    /// a periodic summary line and one line per failure.
    #[arg(long, short)]
    pub verbose: bool,
    /// How long the local store keeps finished events (delivered or
    /// dead-lettered, and recorded), their attempts and payloads, counted
    /// from their last activity; never removes one still pending or
    /// retrying [default: 168].
    #[arg(long, value_name = "HOURS", value_parser = clap::value_parser!(u32).range(1..))]
    pub retention_hours: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error(transparent)]
    Config(#[from] ConfigFileError),
    #[error(transparent)]
    Flags(#[from] FlagError),
    #[cfg(feature = "aws")]
    #[error("--secret and --outbound-secret do not apply with --aws: secrets come from SSM")]
    SecretFlagsWithAws,
    #[error("--target: {0}")]
    InvalidTarget(DestinationsError),
    #[error(transparent)]
    DataDirLock(#[from] DataDirLockError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot build the HTTP client of the target: {0}")]
    HttpClient(String),
    #[error("cannot wait for Ctrl-C / SIGTERM: {0}")]
    Signals(std::io::Error),
    #[cfg(feature = "aws")]
    #[error(transparent)]
    Aws(#[from] aws::AwsSetupError),
    #[cfg(not(feature = "aws"))]
    #[error(transparent)]
    AwsModeNotBuilt(#[from] crate::AwsModeNotBuilt),
}

/// Everything `dev` runs with, flags applied over the file.
#[derive(Debug, Clone)]
struct Resolved {
    /// The host part of `address`, as given.
    host: String,
    address: String,
    data_dir: PathBuf,
    destinations: DestinationSetup,
    time_scale: TimeScale,
    /// The outbound secrets of destinations without their own.
    outbound: Arc<SecretSet>,
    outbound_built_in: bool,
    sources: SourceSetup,
    limits: Limits,
    retention: Duration,
    verbose: bool,
}

pub fn run(args: DevArgs) -> Result<(), DevError> {
    init_logging(args.verbose);
    let aws_mode = args.aws || std::env::var_os("AWS_ENDPOINT_URL").is_some();
    #[cfg(not(feature = "aws"))]
    if aws_mode {
        let trigger = if args.aws {
            "dev --aws"
        } else {
            "AWS_ENDPOINT_URL (set in the environment)"
        };
        return Err(crate::AwsModeNotBuilt(trigger).into());
    }
    let settings = Settings::load(args.config.as_deref(), !aws_mode)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(DevError::Runtime)?;
    #[cfg(feature = "aws")]
    if aws_mode {
        return runtime.block_on(aws::run(args, settings));
    }
    let resolved = resolve(args, settings)?;
    runtime.block_on(run_local(resolved))
}

fn init_logging(verbose: bool) {
    // Console lines for people: compact, no JSON, to stderr; stdout carries
    // only the "listening on" line tools wait for. Without --verbose only
    // failures are logged, beside the summary line.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let level = if verbose {
        tracing::Level::INFO
    } else {
        tracing::Level::WARN
    };
    let _ = tracing_subscriber::fmt()
        .compact()
        .with_ansi(colours)
        .with_target(false)
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .try_init();
}

fn resolve(args: DevArgs, settings: Settings) -> Result<Resolved, DevError> {
    let host = args
        .host
        .or(settings.host)
        .unwrap_or_else(|| DEFAULT_HOST.to_owned());
    let port = args.port.or(settings.port).unwrap_or(DEFAULT_PORT);
    let target = args.target.or(settings.target);
    let destinations = settings
        .destinations
        .with_target(target.as_deref())
        .map_err(DevError::InvalidTarget)?;
    let outbound =
        config::outbound_from_flags(&args.outbound_secrets).or(settings.outbound_secrets);
    let (outbound, outbound_built_in) = match outbound {
        Some(secrets) => (secrets, false),
        None => (config::built_in_outbound(), true),
    };
    let sources = config::apply_flags(
        settings.sources.unwrap_or_else(config::built_in_sources),
        &args.sources,
        &args.secrets,
    )?;
    Ok(Resolved {
        address: listen_address(&host, port),
        host,
        data_dir: args
            .data_dir
            .or(settings.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        destinations,
        time_scale: args.time_scale.or(settings.time_scale).unwrap_or_default(),
        outbound,
        outbound_built_in,
        sources,
        limits: Limits::default(),
        retention: Duration::from_secs(
            u64::from(
                args.retention_hours
                    .or(settings.retention_hours)
                    .unwrap_or(DEFAULT_RETENTION_HOURS),
            ) * 3600,
        ),
        verbose: args.verbose,
    })
}

fn listen_address(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A started dev server: its address and what stops it.
struct Running {
    address: SocketAddr,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    workers: tokio::task::JoinSet<()>,
    /// The data directory's lock and its store, when serving a local store.
    local: Option<(DataDirLock, LocalStore)>,
}

impl Running {
    /// Serves `app` on `listener` with `workers` beside it.
    fn serve<S, P, B>(
        listener: TcpListener,
        app: Arc<App<S, P, B>>,
        workers: tokio::task::JoinSet<()>,
        shutdown: (watch::Sender<bool>, watch::Receiver<bool>),
    ) -> Result<Self, DevError>
    where
        S: hookbridge_core::ports::SecretStore + 'static,
        P: hookbridge_core::ports::EventPublisher + 'static,
        B: hookbridge_core::ports::PayloadStore + 'static,
    {
        let address = listener.local_addr().map_err(|source| DevError::Bind {
            address: "the bound socket".to_owned(),
            source,
        })?;
        let (sender, receiver) = shutdown;
        Ok(Self {
            address,
            server: tokio::spawn(server::serve(listener, app, receiver)),
            shutdown: sender,
            workers,
            local: None,
        })
    }

    /// Keeps `lock` until the server stops and `store`'s writer has
    /// committed what was queued, and names the address in the lock.
    fn holding(mut self, mut lock: DataDirLock, store: LocalStore) -> Self {
        if let Err(error) = lock.record_address(self.address) {
            // The address only helps a second process explain its refusal.
            tracing::warn!(%error, "the lock file does not name the address");
        }
        self.local = Some((lock, store));
        self
    }

    /// Announces the address, then runs until Ctrl-C or SIGTERM.
    async fn until_signal(self) -> Result<(), DevError> {
        announce(self.address);
        let signal = wait_for_signal().await;
        // Said with or without --verbose.
        eprintln!("hookbridge dev: shutting down, finishing in-flight requests");
        self.stop().await;
        eprintln!("hookbridge dev: stopped");
        signal
    }

    /// Stops accepting, lets in-flight requests finish (bounded), and stops
    /// the workers; pending work stays in the store.
    async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        let _ = self.server.await;
        while self.workers.join_next().await.is_some() {}
        if let Some((lock, store)) = self.local.take() {
            store.close().await;
            // Only now may another process take the data directory over.
            drop(lock);
        }
    }
}

async fn run_local(config: Resolved) -> Result<(), DevError> {
    let running = start_local(&config).await?;
    print_banner(&config, running.address);
    running.until_signal().await
}

/// Locks the data directory, opens the store, starts the route workers and
/// the server.
async fn start_local(config: &Resolved) -> Result<Running, DevError> {
    let data_dir_lock = DataDirLock::acquire(&config.data_dir)?;
    let store = LocalStore::open(&config.data_dir)?;
    let pending = store
        .call(|connection| store::bus::pending_work(connection))
        .await?;
    report_pending_work(&pending, &config.destinations);
    let destinations = &config.destinations.destinations;
    let routes = Routes::for_destinations(destinations);
    let (shutdown_tx, shutdown) = watch::channel(false);
    let mut workers = tokio::task::JoinSet::new();
    // The Lambda functions' metrics, for the summary line.
    let counters = Arc::new(counters::Counters::default());

    let rules: HashMap<String, ProjectionRule> = config
        .sources
        .sources
        .iter()
        .map(|(name, source)| (name.to_owned(), ProjectionRule::for_source(source)))
        .collect();
    let payloads = PayloadFiles::new(&config.data_dir);
    workers.spawn(
        retention::RetentionSweep {
            store: store.clone(),
            payloads: payloads.clone(),
            retention: config.retention,
        }
        .run(shutdown.clone()),
    );
    if !config.verbose {
        workers.spawn(
            summary::SummaryLine {
                store: store.clone(),
                counters: Arc::clone(&counters),
                every: summary::SUMMARY_EVERY,
            }
            .run(shutdown.clone()),
        );
    }
    let consumer = Consumer::new(
        SqliteEventStore::new(store.clone()),
        payloads.clone(),
        consume::Settings {
            table_name: store::DATABASE_FILE.to_owned(),
            rules,
            retention: RETENTION,
            payload_bucket: LOCAL_BUCKET.to_owned(),
        },
    )
    .with_metrics(counters.clone());
    workers.spawn(
        PersistRoute {
            store: store.clone(),
            consumer,
            wake: Arc::clone(&routes.persist),
        }
        .run(shutdown.clone()),
    );

    let outbound_secrets =
        ConfiguredSecrets::new(config.destinations.outbound_secrets(&config.outbound));
    // One connection pool; each attempt is bounded by its destination's
    // `timeout_seconds`, else this client's timeout.
    let client = hookbridge_aws::http::client_with_timeout(TARGET_TIMEOUT)
        .map_err(|error| DevError::HttpClient(error.to_string()))?;
    for destination in destinations.iter() {
        let route = Arc::new(DeliverRoute {
            store: store.clone(),
            destination: destination.clone(),
            outbound: ::deliver::Outbound::new(
                HttpWebhookTarget::new(client.clone()),
                outbound_secrets.clone(),
                SystemClock,
                payloads.clone(),
            ),
            schedule: DeliverySchedule::new(DeliveryPolicy::default(), destination.horizon()),
            time_scale: config.time_scale,
            wake: Arc::clone(&routes.deliver[destination.name.as_str()]),
            metrics: counters.clone(),
        });
        workers.spawn(route.run(shutdown.clone()));
    }

    let bus = LocalBus::new(store.clone(), Arc::new(destinations.clone()), routes);
    let secrets = ConfiguredSecrets::new(config.sources.secrets.clone());
    let console = console::Console {
        store: store.clone(),
        sources: config
            .sources
            .sources
            .iter()
            .map(|(name, _)| name.to_owned())
            .collect(),
        signature_headers: config
            .sources
            .sources
            .iter()
            .filter_map(|(_, source)| match &source.preset {
                Preset::Hmac(hmac) => Some(hmac.scheme.header.clone()),
                _ => None,
            })
            .collect(),
        listen_host: config.host.clone(),
    };
    let app = Arc::new(App {
        ingest: Ingest::new(
            config.sources.sources.clone(),
            secrets,
            bus,
            SystemClock,
            payloads,
        )
        .with_metrics(counters),
        console: Some(console),
        limits: config.limits,
    });
    let listener = bind(&config.address).await?;
    Ok(
        Running::serve(listener, app, workers, (shutdown_tx, shutdown))?
            .holding(data_dir_lock, store),
    )
}

/// Logs the work an earlier run left, and the deliveries no configured
/// destination will make (they wait, listed in `GET /events`, until their
/// destination is configured again).
fn report_pending_work(pending: &store::bus::PendingWork, setup: &DestinationSetup) {
    let deliveries: u64 = pending.deliveries.values().sum();
    if deliveries + pending.unconsumed > 0 {
        tracing::info!(
            deliveries,
            unconsumed = pending.unconsumed,
            "resuming work left by an earlier run"
        );
    }
    for (destination, count) in &pending.deliveries {
        if setup.destinations.get(destination).is_none() {
            tracing::warn!(
                destination,
                deliveries = count,
                "deliveries wait for a destination that is not configured"
            );
        }
    }
}

async fn bind(address: &str) -> Result<TcpListener, DevError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| DevError::Bind {
            address: address.to_owned(),
            source,
        })
}

/// The one stdout line tools wait for.
fn announce(address: SocketAddr) {
    let mut stdout = std::io::stdout().lock();
    // A closed stdout must not stop the server.
    let _ = writeln!(stdout, "hookbridge dev listening on http://{address}");
    let _ = stdout.flush();
}

fn print_banner(config: &Resolved, address: SocketAddr) {
    let mut lines = vec![format!(
        "hookbridge dev: data in {}",
        config.data_dir.join(store::DATABASE_FILE).display()
    )];
    let destinations = &config.destinations.destinations;
    if destinations.is_empty() {
        lines.push(
            "  no destinations (--target or [destinations]): events are stored, not delivered"
                .to_owned(),
        );
    } else {
        lines.push(format!(
            "  destinations (time scale {}):",
            config.time_scale
        ));
        for destination in destinations.iter() {
            lines.push(format!(
                "    {:<12} {}",
                destination.name.as_str(),
                destination.url
            ));
        }
    }
    lines.push("  sources (POST /webhooks/<name>):".to_owned());
    for (name, _) in config.sources.sources.iter() {
        lines.push(format!("    http://{address}/webhooks/{name}"));
    }
    if config.sources.built_in {
        lines.push("  built-in development secrets (never use them for real):".to_owned());
        let mut secrets: Vec<_> = config.sources.secrets.iter().collect();
        secrets.sort_by_key(|(name, _)| name.as_str());
        for (name, secrets) in secrets {
            lines.push(format!("    {name:<12} {}", joined(secrets)));
        }
    }
    if config.outbound_built_in && config.destinations.uses_shared_secrets() {
        lines.push(format!(
            "  outbound signing secret (development): {}",
            joined(&config.outbound)
        ));
    }
    eprintln!("{}", lines.join("\n"));
}

fn joined(secrets: &SecretSet) -> String {
    secrets
        .iter()
        .map(Secret::expose)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolves on Ctrl-C or SIGTERM.
async fn wait_for_signal() -> Result<(), DevError> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(DevError::Signals)?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map_err(DevError::Signals),
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(DevError::Signals)
    }
}
