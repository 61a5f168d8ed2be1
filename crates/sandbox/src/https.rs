//! The sandbox over HTTPS (`SandboxConfig::tls`): a fresh self-signed certificate per start
//! (rcgen, on ring like rustls), and a rustls acceptor that offers ALPN `h2` and `http/1.1` on
//! one port, each connection served by hyper-util's auto builder (which reads the client's first
//! bytes to tell HTTP/2 from HTTP/1.1).
//!
//! A graceful stop (`Sandbox::shutdown`) stops accepting and lets each connection finish its
//! requests, as `axum::serve`'s graceful shutdown does for plain HTTP; aborting the serving task
//! (`Drop for Sandbox`) also ends every open connection.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// The ALPN protocols offered, preferred first.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A self-signed certificate, and the server side of TLS with it (ALPN `h2` and `http/1.1`):
/// the sandbox's, and the test servers' of TLS clients (doctor's check, `FHIRDL_CA_FILE`).
pub struct SelfSigned {
    /// The certificate in PEM, for clients to trust.
    pub pem: String,
    pub acceptor: TlsAcceptor,
}

impl SelfSigned {
    /// A new key and certificate naming `127.0.0.1`, `localhost` and the address the sandbox
    /// is bound to.
    pub(crate) fn generate(addr: SocketAddr) -> anyhow::Result<SelfSigned> {
        let mut names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let ip = addr.ip();
        if !ip.is_unspecified() && ip != IpAddr::V4(Ipv4Addr::LOCALHOST) {
            names.push(ip.to_string());
        }
        // rcgen's default runs to the year 4096; a month is plenty for a server of one run.
        let now = time::OffsetDateTime::now_utc();
        SelfSigned::new(
            names,
            "fhirdl sandbox",
            now - time::Duration::days(1)..now + time::Duration::days(30),
        )
    }

    /// A new key and a certificate for `names` (DNS names or IP addresses), with `common_name`
    /// as its subject, valid over `valid`.
    pub fn new(
        names: Vec<String>,
        common_name: &str,
        valid: std::ops::Range<time::OffsetDateTime>,
    ) -> anyhow::Result<SelfSigned> {
        let mut params =
            rcgen::CertificateParams::new(names).context("naming the sandbox's certificate")?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.not_before = valid.start;
        params.not_after = valid.end;
        let key = rcgen::KeyPair::generate().context("generating the sandbox's TLS key")?;
        let cert = params
            .self_signed(&key)
            .context("signing the sandbox's certificate")?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("choosing the sandbox's TLS versions")?
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .context("setting up the sandbox's TLS")?;
        config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(SelfSigned {
            pem: cert.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

/// Serves `app` over TLS on `listener` until `stop` fires (or is dropped), then waits for the
/// open connections to finish their requests.
pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    mut stop: oneshot::Receiver<()>,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    // Owned here, so that aborting this task ends every connection too.
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stop => break,
        };
        while connections.try_join_next().is_some() {}
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(error) => {
                pause_after(&error).await;
                continue;
            }
        };
        // The answers are small writes; do not hold them back for the client's ACK.
        let _ = tcp.set_nodelay(true);
        let (acceptor, builder, app) = (acceptor.clone(), builder.clone(), app.clone());
        let watcher = graceful.watcher();
        connections.spawn(async move {
            // A client that does not trust the certificate hangs up here; nothing to answer.
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), TowerToHyperService::new(app));
            let _ = watcher.watch(connection.into_owned()).await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    while connections.join_next().await.is_some() {}
}

/// As `axum::serve` does after a failed accept: a connection that went away before it was taken
/// costs nothing; anything else (too many open files) waits a second before the next try, so
/// the loop does not spin. Neither ends the server or its other connections.
async fn pause_after(error: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
