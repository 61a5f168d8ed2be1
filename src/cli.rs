//! What the user typed: clap types and value validation only.
//!
//! Nothing here reads files, the environment beyond clap's `env` fallbacks, or the network;
//! [`crate::settings`] turns these into what a command will do.

pub mod directory;

use crate::auth::loopback::RedirectHost;
use crate::auth::store::StoreKind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "fhirdl",
    version,
    about = "Take your medical record home: sign in to your provider's patient portal (SMART on FHIR) and download every FHIR resource you may see",
    after_help = crate::manual::exit_codes_help(),
    after_long_help = crate::manual::long_help(),
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Profile: a saved provider sign-in (`login`: the name to save it under; other
    /// commands: defaults to the only or default profile).
    #[arg(
        long,
        short = 'p',
        global = true,
        env = "FHIRDL_PROFILE",
        value_name = "NAME"
    )]
    pub profile: Option<String>,
    /// More detail on stderr (-v; -vv for more; where the network is used: one line per HTTP
    /// exchange, and with -vv its headers, redacted).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors and warnings on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print one machine-readable JSON document on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Folder for the settings file (default: the platform's config folder).
    #[arg(long, global = true, env = "FHIRDL_CONFIG_DIR", value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Folder for exports and the file credential store (default: the platform's data folder).
    #[arg(long, global = true, env = "FHIRDL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Tracing of HTTP exchanges, for the commands that use the network.
#[derive(Debug, Args, Clone, Default)]
pub struct TraceArgs {
    /// Append one JSON line per HTTP exchange to FILE (0600; tokens, codes, cookies redacted).
    #[arg(long, env = "FHIRDL_TRACE_FILE", value_name = "FILE")]
    pub trace_file: Option<PathBuf>,
    /// Also write request and response bodies to the --trace-file (it will hold health data).
    #[arg(long, requires = "trace_file")]
    pub trace_bodies: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in to a provider in the browser and save the profile.
    #[command(after_help = LOGIN_EXAMPLES)]
    Login(LoginArgs),
    /// Download every resource you may read into local NDJSON/JSON files (incrementally).
    #[command(after_help = SYNC_EXAMPLES)]
    Sync(SyncArgs),
    /// Show each profile's provider, patient, granted scopes and token state.
    #[command(after_help = "Examples:\n  fhirdl status\n  fhirdl status --profile nextgen --json")]
    Status(StatusArgs),
    /// Revoke the tokens at the provider and forget them (and the profile).
    #[command(
        after_help = "Examples:\n  fhirdl logout --profile nextgen\n  fhirdl logout --profile nextgen --keep-profile"
    )]
    Logout(LogoutArgs),
    /// List, show or remove saved profiles, and say which are one person.
    #[command(
        subcommand,
        after_help = "Examples:\n  fhirdl profile list\n  fhirdl profile show nextgen\n  fhirdl profile default nextgen\n  fhirdl profile remove old-clinic\n  fhirdl profile link nextgen epic-clinic\n  fhirdl profile unlink nextgen kid"
    )]
    Profile(ProfileCommand),
    /// Make the app's private key for private_key_jwt sign-in and print its public key set.
    #[command(subcommand, after_help = KEY_EXAMPLES)]
    Key(KeyCommand),
    /// Download the published directories of practices and their FHIR endpoints.
    #[command(subcommand, after_help = directory::UPDATE_EXAMPLES)]
    Directory(directory::DirectoryCommand),
    /// Find your practice by name in the downloaded directories, with the command to sign in.
    #[command(after_help = directory::FIND_EXAMPLES)]
    Find(directory::FindArgs),
    /// List the built-in provider presets and their endpoints, or the known server quirks.
    #[command(
        after_help = "Examples:\n  fhirdl providers\n  fhirdl providers --json\n  fhirdl providers --quirks"
    )]
    Providers {
        /// List what fhirdl knows of each vendor's servers (the rules that shape its
        /// searches), with the page documenting each rule and the day it was checked.
        #[arg(long)]
        quirks: bool,
    },
    /// Print a shell completion script.
    #[command(after_help = COMPLETION_EXAMPLES)]
    Completions {
        /// The shell to generate for.
        shell: clap_complete::Shell,
    },
    /// Run the embedded SMART on FHIR test server in the foreground.
    #[command(
        after_help = SANDBOX_EXAMPLES
    )]
    Sandbox(SandboxArgs),
    /// Check, step by step, why a connection to a provider fails (network, TLS, SMART, sign-in).
    #[command(after_help = DOCTOR_EXAMPLES)]
    Doctor(DoctorArgs),
    /// Write record.html: the export as one page to read, print or share (offline, with charts).
    #[command(after_help = VIEW_EXAMPLES)]
    View(ViewArgs),
    /// Write the export as one FHIR Bundle (collection or transaction) for other apps.
    #[command(after_help = BUNDLE_EXAMPLES)]
    Bundle(BundleArgs),
    /// Split a FHIR Bundle (plain or gzip) into <Type>.ndjson files, one resource per line.
    #[command(after_help = UNBUNDLE_EXAMPLES)]
    Unbundle(UnbundleArgs),
    /// List the versions of one resource the export holds (current and superseded), or print one.
    #[command(after_help = HISTORY_EXAMPLES, disable_version_flag = true)]
    History(HistoryArgs),
    /// Read the whole export back and check it against its manifests (offline, read-only).
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Try fhirdl end to end against the embedded sandbox: no account, no internet.
    #[command(after_help = "Examples:\n  fhirdl demo\n  fhirdl demo --json")]
    Demo(DemoArgs),
    /// Write the man pages (fhirdl.1 and one per command) into DIR; `man/` holds them.
    #[command(hide = true)]
    Man {
        /// Folder for the pages.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// A scripted browser for the sandbox's login page (used as $BROWSER by the tests).
    #[command(hide = true)]
    SandboxBrowser(SandboxBrowserArgs),
}

impl Command {
    /// The tracing options of a command that uses the network.
    pub fn trace(&self) -> Option<&TraceArgs> {
        match self {
            Command::Login(a) => Some(&a.trace),
            Command::Sync(a) => Some(&a.trace),
            Command::Status(a) => Some(&a.trace),
            Command::Logout(a) => Some(&a.trace),
            Command::Doctor(a) => Some(&a.trace),
            Command::Demo(a) => Some(&a.trace),
            Command::Directory(directory::DirectoryCommand::Update(a)) => Some(&a.trace),
            Command::Find(a) => Some(&a.trace),
            _ => None,
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct SandboxBrowserArgs {
    /// Sandbox user name.
    #[arg(long, default_value = "alice")]
    pub user: String,
    /// Sandbox password.
    #[arg(long, default_value = "alice-sandbox")]
    pub password: String,
    /// Press Deny instead of Allow on the consent page.
    #[arg(long)]
    pub deny: bool,
    /// Replace the `state` in the final redirect (to test the state check).
    #[arg(long)]
    pub tamper_state: bool,
    /// The patient a proxy account signs in for (default: the first offered).
    #[arg(long)]
    pub patient: Option<String>,
    /// Grant only this scope on the consent page (repeat for each scope granted; granular
    /// ones such as patient/Observation.rs?category=laboratory allowed). Default: all.
    #[arg(long)]
    pub grant: Vec<String>,
    /// The authorize URL.
    pub url: String,
}

const LOGIN_EXAMPLES: &str = "\
Examples:
  # NextGen Enterprise (client id and secret come from your app registration)
  FHIRDL_CLIENT_SECRET=… fhirdl login --provider nextgen-enterprise-r4 \\
      --client-id my-app --profile nextgen
  # Your practice, found by name in the endpoint directories (fhirdl find)
  fhirdl login --practice 'sunrise family medicine' --client-id my-app
  # Any SMART on FHIR server, found from its discovery documents
  fhirdl login --fhir-base https://fhir.example.org/r4 --client-id my-app \\
      --profile clinic
  # Registered with the redirect URI http://127.0.0.1:8400/oauth/callback
  fhirdl login --profile clinic --port 8400 --redirect-path /oauth/callback
  # Over SSH: open the link anywhere, paste back the address you land on
  fhirdl login --profile nextgen --paste
  # A headless server without a keyring
  fhirdl login --profile nextgen --credential-store file

The client secret is read from FHIRDL_CLIENT_SECRET or asked for with a hidden
prompt; it is never accepted as a command-line argument.";

const KEY_EXAMPLES: &str = "\
Examples:
  fhirdl key create --profile clinic --credential-store file
  fhirdl key create --profile clinic --jwks-out clinic-jwks.json

The private key stays in the credential store (keyring or owner-only file);
paste the printed key set (public keys only) into the app registration, or
publish the --jwks-out file at the JWKS URL you registered, then sign in with
`fhirdl login --profile clinic ...`.";

const SYNC_EXAMPLES: &str = "\
Examples:
  fhirdl sync --profile nextgen
  fhirdl sync --profile nextgen --out ~/health/nextgen --format both
  fhirdl sync --types Observation,Condition --full
  fhirdl sync --json > last-sync.json      # one summary document for scripts
  fhirdl sync --all-profiles -q    # cron: every provider, worst exit code

The first run downloads everything; later runs ask only for what changed since
the last one, and again for anything an earlier run could not store. --full
downloads everything again; resources the server no longer returns leave the
current files and are kept, like every replaced version, in
<out>/.fhirdl/history/ (see `fhirdl history`).";

const HISTORY_EXAMPLES: &str = "\
Examples:
  fhirdl history Observation/lab-123              # all versions, oldest first
  fhirdl history Observation/lab-123 --version 1  # the first, as stored
  fhirdl history Observation/lab-123 --json

A sync that replaces a resource with a newer version, or no longer finds it on
the server (--full), first appends the version on disk to
<out>/.fhirdl/history/<Type>.ndjson.";

const VIEW_EXAMPLES: &str = "\
Examples:
  fhirdl view --profile nextgen                 # <export folder>/record.html
  fhirdl view --out ~/health/nextgen --open     # and open it in the browser
  fhirdl view --page ~/Desktop/record.html    # elsewhere; links stay relative
  fhirdl sync --view                            # refresh it after every sync
  fhirdl view --all-profiles                    # one page from every provider
  fhirdl view --profiles nextgen,epic --page ~/record.html

The page is one self-contained file: it loads nothing from the network (its
Content-Security-Policy forbids it), works without JavaScript, and prints.";

const BUNDLE_EXAMPLES: &str = "\
Examples:
  fhirdl bundle                          # <export folder>/record.bundle.json
  fhirdl bundle --gzip --output ~/record.json.gz
  fhirdl bundle --type transaction --output - \\
      | curl -X POST -H 'Content-Type: application/fhir+json' \\
          --data-binary @- https://fhir.example.org/r4
  fhirdl unbundle record.bundle.json --out ./copy   # and back
  fhirdl bundle --profiles clinic,hospital --dedupe  # one Bundle of both

Resources are copied byte for byte from the NDJSON files; saved documents are
added as Binary entries at the URL the record points to (--no-attachments
leaves them out).";

const UNBUNDLE_EXAMPLES: &str = "\
Examples:
  fhirdl unbundle record.bundle.json --out ./record
  gunzip -c record.bundle.json.gz | fhirdl unbundle - --out ./record
  fhirdl unbundle ips.json --out ./ips && fhirdl view --out ./ips

Each resource keeps its JSON text (whitespace between tokens dropped); files
are sorted by id; a type and id seen twice keeps the first.";

const VERIFY_EXAMPLES: &str = "\
Examples:
  fhirdl verify --profile nextgen               # the profile's export folder
  fhirdl verify --out ~/health/nextgen --json   # every problem, for scripts
  fhirdl sync --verify                          # verify right after each sync

Every file is hashed again against manifest.json and
attachments/manifest.json, every NDJSON line parsed again, and json/ files
compared with their lines. Exit code 11 names each damaged file; references
that do not resolve inside the export are only a warning.";

const DOCTOR_EXAMPLES: &str = "\
Examples:
  fhirdl doctor --profile nextgen
  fhirdl doctor --fhir-base https://fhir.example.org/r4   # before signing in
  fhirdl doctor --profile nextgen --report doctor.json    # for support
  fhirdl doctor --offline-checks-only --json

Each check is ok, warn, fail or skipped (with the reason). Exit code 9 when a
check failed. The report holds no token, secret or record content; patient ids
appear only as a hash.";

const SANDBOX_EXAMPLES: &str = "\
Examples:
  fhirdl sandbox
  fhirdl sandbox --port 8765 --confidential
  # then, in another terminal:
  fhirdl login --profile test --fhir-base http://127.0.0.1:8765/fhir/r4 \\
      --client-id fhirdl-sandbox --credential-store file

  # HTTPS (HTTP/2), trusted through FHIRDL_CA_FILE:
  fhirdl sandbox --tls --ca-out sandbox-ca.pem
  FHIRDL_CA_FILE=sandbox-ca.pem fhirdl login --profile tls \\
      --fhir-base https://127.0.0.1:8765/fhir/r4 --client-id fhirdl-sandbox \\
      --credential-store file

  # a server 100 ms away:
  fhirdl sandbox --latency-ms 100";

const COMPLETION_EXAMPLES: &str = "\
Examples:
  fhirdl completions bash \\
      > ~/.local/share/bash-completion/completions/fhirdl
  fhirdl completions zsh > ~/.zfunc/_fhirdl
  fhirdl completions fish > ~/.config/fish/completions/fhirdl.fish";

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make a new key for the profile (replacing its old one) and print the public JWKS.
    Create(KeyCreateArgs),
}

#[derive(Debug, Args, Clone)]
pub struct KeyCreateArgs {
    /// Signature algorithm [default: what the server advertises, else ES384]. An RS384 key is
    /// RSA, 2048 bits.
    #[arg(long, value_enum, value_name = "ALG", ignore_case = true)]
    pub alg: Option<crate::auth::client_key::KeyAlg>,
    /// Also write the public key set (JWKS) to FILE, to publish at a JWKS URL.
    #[arg(long, value_name = "FILE")]
    pub jwks_out: Option<PathBuf>,
    /// Where to keep the private key [default: the profile's store, else the keyring].
    #[arg(long, value_enum, value_name = "STORE")]
    pub credential_store: Option<StoreKind>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct LoginArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    /// A built-in provider preset (see `fhirdl providers`).
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(crate::providers::names()))]
    pub provider: Option<String>,
    /// The FHIR base URL of any SMART on FHIR server (overrides the preset's).
    #[arg(long, value_name = "URL")]
    pub fhir_base: Option<String>,
    /// Your practice, by its id from `fhirdl find` or words of its name: signs in to the FHIR
    /// base the endpoint directories list for it (see `fhirdl directory update`).
    #[arg(long, value_name = "ID|WORDS", conflicts_with_all = ["fhir_base", "provider"])]
    pub practice: Option<String>,
    /// The client id of your app registration.
    #[arg(long, env = "FHIRDL_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,
    /// The app is a confidential client: ask for its secret (FHIRDL_CLIENT_SECRET or a prompt).
    #[arg(long)]
    pub confidential: bool,
    /// Authenticate the app with this private key (private_key_jwt) instead of a secret: PEM
    /// PKCS#8 or a JWK with its private members, ES384 (P-384) or RS384 (RSA ≥ 2048 bits).
    /// Kept in the credential store only; `fhirdl key create` makes one instead.
    #[arg(long, value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// After signing in, register this computer with the provider (dynamic client
    /// registration, where the server offers it) so later runs get tokens with a key kept
    /// here, without a browser; kept in the profile. Presets that need it (epic) register
    /// unless told `--no-register`.
    #[arg(long, conflicts_with = "no_register")]
    pub register: bool,
    /// Do not register this computer (and forget a registration the profile has).
    #[arg(long)]
    pub no_register: bool,
    /// Scopes to request instead of the ones fhirdl chooses from the server's capabilities.
    #[arg(long, value_name = "SCOPES")]
    pub scope: Option<String>,
    /// A registered redirect URI that is not a loopback address (e.g. an https page of yours,
    /// for providers that refuse loopback redirects). The browser lands there; paste the
    /// address it shows (implies --paste). Kept in the profile.
    #[arg(long, value_name = "URI", value_parser = parse_redirect_uri, conflicts_with_all = ["port", "redirect_path", "redirect_host"])]
    pub redirect_uri: Option<String>,
    /// Fixed loopback port for the redirect URI (default: an ephemeral port).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Path of the redirect URI (default /callback).
    #[arg(long, value_name = "PATH", value_parser = parse_redirect_path)]
    pub redirect_path: Option<String>,
    /// Host name in the redirect URI.
    #[arg(long, value_enum, value_name = "HOST")]
    pub redirect_host: Option<RedirectHost>,
    /// Do not open a browser; print the sign-in address instead.
    #[arg(long)]
    pub no_browser: bool,
    /// For remote machines: open the address anywhere, then paste back where the browser landed.
    #[arg(long)]
    pub paste: bool,
    /// Do not send the `aud` parameter (for servers that reject it).
    #[arg(long)]
    pub no_aud: bool,
    /// How long to wait for the browser sign-in (e.g. 300, 90s, 5m).
    #[arg(long, value_name = "DURATION", value_parser = crate::datetime::parse_duration, default_value = "5m")]
    pub timeout: Duration,
    /// Where to keep the tokens: the OS keyring, or an owner-only file in the data folder.
    #[arg(long, value_enum, value_name = "STORE")]
    pub credential_store: Option<StoreKind>,
    /// A parameter sent with every search, kept in the profile; repeat for more (athenahealth:
    /// ah-practice=Organization/a-1.Practice-<practice id>). Given again, replaces them all.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_search_param)]
    pub search_param: Vec<String>,
}

/// `name=value` with a name that is not empty and none of fhirdl's own paging parameters.
fn parse_search_param(s: &str) -> Result<String, String> {
    let Some((name, _)) = s.split_once('=') else {
        return Err(format!("{s:?} is not NAME=VALUE"));
    };
    if name.is_empty() || name.contains(['&', '?', '#']) {
        return Err(format!("{name:?} is not a search parameter name"));
    }
    if matches!(name, "patient" | "_count" | "_lastUpdated" | "_id") {
        return Err(format!("fhirdl sets {name} itself"));
    }
    Ok(s.to_owned())
}

#[derive(Debug, Args, Clone)]
pub struct SyncArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Export folder (default: <data dir>/exports/<profile>); remembered for the profile.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// ndjson: one <Type>.ndjson per type; json/both: also json/<Type>/<id>.json, pretty.
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: SyncFormat,
    /// Only these resource types (comma-separated).
    #[arg(long, value_name = "T,...", value_delimiter = ',')]
    pub types: Option<Vec<String>>,
    /// Download everything again and reconcile (resources gone from the server are set aside).
    #[arg(long)]
    pub full: bool,
    /// Ask only for resources changed since this instant (e.g. 2026-01-01T00:00:00Z).
    #[arg(long, value_name = "INSTANT", conflicts_with = "full", value_parser = parse_instant)]
    pub since: Option<String>,
    /// Requests in flight at most [default: 64, or 256 over HTTP/2] (halved while the server answers 429/503 or times out; above 64, reached by growing while it keeps up).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Option<u16>,
    /// Fetch and report what would change, but write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// When another sync holds the folder, wait for it (up to DURATION, default 1h) instead of stopping.
    #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "1h", value_parser = crate::datetime::parse_duration)]
    pub wait: Option<Duration>,
    /// Sync every saved profile in turn (one summary, the worst exit code).
    #[arg(long, conflicts_with = "out")]
    pub all_profiles: bool,
    /// Do not download attachments (documents behind DocumentReference/DiagnosticReport).
    #[arg(long)]
    pub no_attachments: bool,
    /// Fetch a type whole and compare when its last whole fetch is older than DAYS (0: every
    /// run); incremental searches miss edits that do not move meta.lastUpdated.
    #[arg(long, value_name = "DAYS", default_value_t = crate::sync::RECONCILE_DAYS)]
    pub reconcile_every: u64,
    /// Never send more requests than this (e.g. 20/min, 5/s); presets may set a default.
    #[arg(long, value_name = "RATE", value_parser = crate::fhir::rate::parse_rate)]
    pub max_rate: Option<f64>,
    /// Also write record.html in the export folder after the sync (see `fhirdl view`).
    #[arg(long, conflicts_with = "dry_run")]
    pub view: bool,
    /// Verify the export after the sync (see `fhirdl verify`; exit code 11 when damaged).
    #[arg(long, conflicts_with = "dry_run")]
    pub verify: bool,
}

#[derive(Debug, Args, Clone)]
pub struct VerifyArgs {
    /// Export folder (default: the profile's, as `fhirdl sync` uses it).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct ViewArgs {
    /// Export folder to read (default: the profile's, as `fhirdl sync` uses it).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write the page to FILE instead of <DIR>/record.html (the export folder is --out).
    #[arg(long = "page", alias = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Open the page in the browser afterwards.
    #[arg(long)]
    pub open: bool,
    /// One page of every saved profile's export (one person's providers), each row naming
    /// its source.
    #[arg(long, conflicts_with_all = ["profiles", "out"])]
    pub all_profiles: bool,
    /// One page of these profiles' exports (one person's providers), e.g. `--profiles a,b`.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "A,B",
        conflicts_with = "out"
    )]
    pub profiles: Vec<String>,
    /// Put profiles on one page even when their records are not known to be one person's.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args, Clone)]
pub struct HistoryArgs {
    /// The resource, as Type/id (e.g. Observation/lab-123).
    #[arg(value_name = "TYPE/ID")]
    pub resource: String,
    /// Print version N (1 = the oldest held) as it was stored.
    #[arg(long, value_name = "N")]
    pub version: Option<usize>,
    /// Export folder (default: the profile's, as `fhirdl sync` uses it).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct BundleArgs {
    /// Export folder (default: the profile's, as `fhirdl sync` uses it).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write the Bundle here ("-" for stdout) instead of <DIR>/record.bundle.json[.gz].
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// collection: a set of resources; transaction: PUT each one, to load into a FHIR server.
    #[arg(
        long = "type",
        value_enum,
        value_name = "TYPE",
        default_value = "collection"
    )]
    pub r#type: crate::bundle::BundleType,
    /// Compress with gzip.
    #[arg(long)]
    pub gzip: bool,
    /// Leave the saved documents (attachments/) out.
    #[arg(long)]
    pub no_attachments: bool,
    /// One Bundle of these profiles' exports (comma-separated names), each resource at its
    /// own server's URL.
    #[arg(
        long,
        value_name = "A,B",
        value_delimiter = ',',
        num_args = 1..,
        conflicts_with_all = ["out", "all_profiles"]
    )]
    pub profiles: Vec<String>,
    /// One Bundle of the exports of every profile that has one.
    #[arg(long, conflicts_with = "out")]
    pub all_profiles: bool,
    /// Leave out a resource whose text is exactly that of one already in the Bundle (the same
    /// resource exported by two profiles), and say how many.
    #[arg(long)]
    pub dedupe: bool,
}

#[derive(Debug, Args, Clone)]
pub struct UnbundleArgs {
    /// The Bundle (JSON, or gzip); "-" reads stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Folder for the <Type>.ndjson files (new or empty).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyncFormat {
    Ndjson,
    Json,
    Both,
}

#[derive(Debug, Args, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Do not contact the provider (skip the Patient read).
    #[arg(long)]
    pub offline: bool,
    /// Show every profile, not only the selected one.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args, Clone)]
pub struct LogoutArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Keep the profile's settings; only forget the tokens.
    #[arg(long)]
    pub keep_profile: bool,
}

#[derive(Debug, Subcommand, Clone)]
pub enum ProfileCommand {
    /// List saved profiles.
    List,
    /// Show one profile's settings (no secrets are stored there).
    Show {
        /// Profile name (default: --profile or the default profile).
        name: Option<String>,
    },
    /// Remove a profile and its stored credentials (without revoking; see `fhirdl logout`).
    Remove {
        /// Profile name.
        name: String,
    },
    /// Make a profile the default for commands run without --profile.
    Default {
        /// Profile name.
        name: String,
    },
    /// Say that two profiles are the record of one person (overrides what their exports say).
    Link {
        /// A profile name.
        a: String,
        /// The other profile name.
        b: String,
    },
    /// Say that two profiles are the records of different people (overrides what their
    /// exports say).
    Unlink {
        /// A profile name.
        a: String,
        /// The other profile name.
        b: String,
    },
}

#[derive(Debug, Args, Clone)]
pub struct SandboxArgs {
    /// Port to listen on (127.0.0.1); 0 picks a free one.
    #[arg(long, default_value_t = 8765)]
    pub port: u16,
    /// Seed of the generated patients.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Serve a DSTU2 Conformance and DSTU2 resources instead of R4.
    #[arg(long)]
    pub dstu2: bool,
    /// Serve STU3 (FHIR 3.0.2) instead of R4.
    #[arg(long, conflicts_with = "dstu2")]
    pub stu3: bool,
    /// Also register a confidential client (its secret is printed).
    #[arg(long)]
    pub confidential: bool,
    /// Behave like this EHR as its vendor documents it (tokens, refresh rules, paging, search
    /// rules, documents).
    #[arg(long, value_name = "EHR", value_parser = ehr_parser(), conflicts_with_all = ["dstu2", "stu3", "nextgen"])]
    pub ehr: Option<String>,
    /// The same as --ehr nextgen (categories required, pages of 25, /fhir/R4/ next links, raw
    /// PDF/XML documents, references outside the base).
    #[arg(long, conflicts_with_all = ["dstu2", "stu3"])]
    pub nextgen: bool,
    /// Approximate number of resources per patient.
    #[arg(long, default_value_t = 120)]
    pub resources: usize,
    /// Inject transient faults (429, 5xx, cut and broken answers, HTML pages, slow answers,
    /// expired tokens) into this share of FHIR data requests, 0 to 1.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub fault_rate: Option<f64>,
    /// Seed of the injected faults (same seed, same faults for the same requests).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "fault_rate")]
    pub fault_seed: u64,
    /// Serve HTTPS (HTTP/2 and HTTP/1.1 on the one port) with a self-signed certificate made at
    /// start; fhirdl trusts it through FHIRDL_CA_FILE.
    #[arg(long)]
    pub tls: bool,
    /// Where --tls writes its certificate (PEM, 0600) [default: <data dir>/sandbox-ca.pem].
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca_out: Option<PathBuf>,
    /// Wait this long before answering each request, like a server that far away (the export
    /// benchmark measures 50, 100 and 300 ms).
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub latency_ms: u64,
}

/// `--ehr`'s values, from [`fhirdl_sandbox::Ehr::ALL`] so a new personality is listed by itself.
fn ehr_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(fhirdl_sandbox::Ehr::ALL.map(|e| e.name()))
}

impl SandboxArgs {
    /// The personality asked for: `--ehr` (one of `Ehr::ALL`'s names, clap checked it), or
    /// `--nextgen` (its alias).
    pub fn personality(&self) -> Option<fhirdl_sandbox::Ehr> {
        match &self.ehr {
            Some(name) => name.parse().ok(),
            None => self.nextgen.then_some(fhirdl_sandbox::Ehr::NextGen),
        }
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("'{s}' is not a rate between 0 and 1")),
    }
}

#[derive(Debug, Args, Clone, Default)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Check this FHIR base instead of a saved profile (no signed-in checks).
    #[arg(long, value_name = "URL")]
    pub fhir_base: Option<String>,
    /// Also write the results, versions and the redacted HTTP trace to FILE (0600).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Only the checks on this computer; no network access.
    #[arg(long)]
    pub offline_checks_only: bool,
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    #[command(flatten)]
    pub trace: TraceArgs,
    /// Keep the demo's files here instead of `<data dir>/demo`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// An instant for `--since`: RFC 3339 (2026-01-31T12:00:00Z) or a date (2026-01-31), kept as
/// typed for the server's `_lastUpdated`.
pub fn parse_instant(s: &str) -> Result<String, String> {
    let s = s.trim();
    let date_only = s.len() == 10
        && time::Date::parse(
            s,
            &time::macros::format_description!("[year]-[month]-[day]"),
        )
        .is_ok();
    if date_only || crate::datetime::parse_rfc3339(s).is_some() {
        Ok(s.to_string())
    } else {
        Err(format!(
            "'{s}' is not an instant like 2026-01-31T12:00:00Z or a date like 2026-01-31"
        ))
    }
}

/// A redirect URI given whole: absolute, https (or a private-use scheme such as
/// `com.example.app:/cb`, RFC 8252 7.1), no fragment; http only on a loopback host.
pub fn parse_redirect_uri(s: &str) -> Result<String, String> {
    let url = url::Url::parse(s).map_err(|e| format!("{s:?} is not an absolute URI: {e}"))?;
    if url.fragment().is_some() {
        return Err("a redirect URI may not have a fragment ('#')".into());
    }
    match url.scheme() {
        "https" => Ok(url.to_string()),
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(url.to_string()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(url.to_string()),
            Some(url::Host::Domain("localhost")) => Ok(url.to_string()),
            _ => Err("an http redirect URI must be on a loopback host; use https".into()),
        },
        "javascript" | "data" | "file" | "ftp" | "ws" | "wss" => Err(format!(
            "a redirect URI may not use the {} scheme",
            url.scheme()
        )),
        _ => Ok(s.to_string()),
    }
}

/// A redirect path must be an absolute URL path without query or fragment.
pub fn parse_redirect_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        return Err("the redirect path must start with '/'".into());
    }
    if s.contains(['?', '#', ' ']) || s.chars().any(|c| c.is_control()) {
        return Err(
            "the redirect path may not contain '?', '#', spaces or control characters".into(),
        );
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn instants() {
        assert!(parse_instant("2026-01-31").is_ok());
        assert!(parse_instant("2026-01-31T12:00:00Z").is_ok());
        assert!(parse_instant("2026-01-31T12:00:00+02:00").is_ok());
        assert!(parse_instant("yesterday").is_err());
        assert!(parse_instant("2026-13-01").is_err());
    }

    #[test]
    fn search_params() {
        let practice = "ah-practice=Organization/a-1.Practice-195900";
        assert_eq!(parse_search_param(practice).as_deref(), Ok(practice));
        assert!(parse_search_param("a=").is_ok());
        assert!(parse_search_param("ah-practice").is_err());
        assert!(parse_search_param("=x").is_err());
        assert!(parse_search_param("a&b=c").is_err());
        assert!(parse_search_param("patient=p-1").is_err());
    }

    #[test]
    fn redirect_uris() {
        assert!(parse_redirect_uri("https://example.org/fhirdl/callback").is_ok());
        assert!(parse_redirect_uri("com.example.fhirdl:/callback").is_ok());
        assert!(parse_redirect_uri("http://127.0.0.1:8400/cb").is_ok());
        assert!(parse_redirect_uri("http://example.org/cb").is_err());
        assert!(parse_redirect_uri("https://example.org/cb#x").is_err());
        assert!(parse_redirect_uri("/callback").is_err());
        assert!(parse_redirect_uri("javascript:alert(1)").is_err());
    }

    #[test]
    fn redirect_paths() {
        assert!(parse_redirect_path("/callback").is_ok());
        assert!(parse_redirect_path("callback").is_err());
        assert!(parse_redirect_path("/cb?x=1").is_err());
    }
}
