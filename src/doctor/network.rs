//! Step 2 of `fhirdl doctor`: name resolution, TCP connect and the TLS handshake to the FHIR
//! host, measured directly (not through the HTTP client) so each layer fails on its own.
//!
//! The TLS check does its own rustls handshake with the same trust as the HTTP client (the
//! Mozilla roots of `webpki-roots` and the certificates of `FHIRDL_CA_FILE`, see
//! [`crate::tls`]). Its verifier records the webpki verdict and the chain but lets the
//! handshake finish, so a bad certificate is reported with its details (subject, issuer,
//! expiry, names) and the reason, while nothing is ever sent over that connection.

use super::{ms_text, Check, Checks};
use crate::tls::ExtraRoots;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::{Host, Url};

const STEP_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(checks: &mut Checks, base: &Url, extra_roots: &ExtraRoots) {
    let (Some(host), Some(port)) = (base.host(), base.port_or_known_default()) else {
        checks.push(Check::fail(
            "dns",
            format!("{base} has no host name"),
            "give a FHIR base URL like https://fhir.example.org/r4",
        ));
        return;
    };
    let (dns, addrs) = resolve(&host, port).await;
    checks.push(dns);
    if let Some(because) = checks.blocker(&["dns"]) {
        checks.push(Check::blocked("tcp", because));
    } else {
        let (tcp, connected) = connect(&addrs).await;
        checks.push(tcp);
        if let Some(addr) = connected {
            if base.scheme() == "https" {
                checks.push(tls(addr, &host, extra_roots).await);
            }
        }
    }
    if base.scheme() != "https" {
        checks.push(Check::not_applicable(
            "tls",
            "because the FHIR base is plain http on this computer's loopback address",
        ));
    } else if let Some(because) = checks.blocker(&["tcp"]) {
        checks.push(Check::blocked("tls", because));
    }
}

async fn resolve(host: &Host<&str>, port: u16) -> (Check, Vec<SocketAddr>) {
    let name = match host {
        Host::Domain(d) => *d,
        Host::Ipv4(ip) => return literal(IpAddr::V4(*ip), port),
        Host::Ipv6(ip) => return literal(IpAddr::V6(*ip), port),
    };
    let started = Instant::now();
    let found = tokio::time::timeout(STEP_TIMEOUT, tokio::net::lookup_host((name, port))).await;
    let ms = started.elapsed().as_millis();
    let error = match found {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if !addrs.is_empty() {
                let ips: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                let check = Check::ok(
                    "dns",
                    format!("{name} → {} in {}", ips.join(", "), ms_text(ms)),
                )
                .figure("host", name)
                .figure("addresses", &ips)
                .figure("ms", ms);
                return (check, addrs);
            }
            "no addresses".to_string()
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} s", STEP_TIMEOUT.as_secs()),
    };
    let check = Check::fail(
        "dns",
        format!("cannot resolve {name}: {error} ({})", ms_text(ms)),
        "check the host name in the FHIR base URL, this computer's DNS settings and any VPN",
    )
    .figure("host", name)
    .figure("error", &error)
    .figure("ms", ms);
    (check, Vec::new())
}

fn literal(ip: IpAddr, port: u16) -> (Check, Vec<SocketAddr>) {
    let check = Check::ok("dns", format!("{ip} is an IP address: nothing to resolve"))
        .figure("addresses", [ip.to_string()])
        .figure("ms", 0);
    (check, vec![SocketAddr::new(ip, port)])
}

/// Tries the addresses in order (at most four) and keeps the first that connects.
async fn connect(addrs: &[SocketAddr]) -> (Check, Option<SocketAddr>) {
    let mut errors = Vec::new();
    let mut total_ms = 0;
    for addr in addrs.iter().take(4) {
        let started = Instant::now();
        let result = tokio::time::timeout(STEP_TIMEOUT, tokio::net::TcpStream::connect(addr)).await;
        let ms = started.elapsed().as_millis();
        total_ms += ms;
        match result {
            Ok(Ok(_stream)) => {
                let check = Check::ok("tcp", format!("connected to {addr} in {}", ms_text(ms)))
                    .figure("address", addr.to_string())
                    .figure("ms", ms);
                return (check, Some(*addr));
            }
            Ok(Err(e)) => errors.push(format!("{addr}: {e}")),
            Err(_) => errors.push(format!(
                "{addr}: no answer within {} s",
                STEP_TIMEOUT.as_secs()
            )),
        }
    }
    let check = Check::fail(
        "tcp",
        format!("cannot connect: {} ({})", errors.join("; "), ms_text(total_ms)),
        "nothing answers at that address and port: check the port in the FHIR base URL, and any firewall, VPN or proxy (HTTPS_PROXY) rules",
    )
    .figure("errors", &errors)
    .figure("ms", total_ms);
    (check, None)
}

/// A verifier that asks webpki for its verdict, remembers it and the chain, and lets the
/// handshake finish either way. Only used for a connection that carries no data.
#[derive(Debug)]
struct Inspecting {
    inner: Arc<WebPkiServerVerifier>,
    seen: Mutex<Option<Seen>>,
}

/// The chain the server presented and webpki's verdict on it.
type Seen = (Vec<CertificateDer<'static>>, Result<(), rustls::Error>);

impl ServerCertVerifier for Inspecting {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ());
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some((chain, verdict));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

async fn tls(addr: SocketAddr, host: &Host<&str>, extra_roots: &ExtraRoots) -> Check {
    let host_text = match host {
        Host::Domain(d) => d.to_string(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    };
    let (config, inspecting) = match inspecting_config(extra_roots) {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(
                "tls",
                format!("cannot set up TLS: {e}"),
                "this is a bug in fhirdl",
            )
        }
    };
    let Some(server_name) = server_name(host) else {
        return Check::fail(
            "tls",
            format!("{host_text} is not a valid TLS server name"),
            "check the host name in the FHIR base URL",
        );
    };
    let (stream, ms) = match handshake(addr, config, server_name).await {
        Ok(done) => done,
        Err(failed) => return failed,
    };
    let conn = stream.get_ref().1;
    let session = Session {
        protocol: conn
            .protocol_version()
            .map(protocol_name)
            .unwrap_or_else(|| "unknown".into()),
        cipher: conn
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite())),
        ms,
    };
    let seen = inspecting.seen.lock().ok().and_then(|mut s| s.take());
    let Some((chain, verdict)) = seen else {
        return Check::fail(
            "tls",
            "the server sent no certificate",
            "the server is misconfigured: tell the provider",
        );
    };
    certificate_check(&session, &chain, &verdict, &host_text, extra_roots)
}

/// A TLS client that trusts what fhirdl trusts and keeps what the server presented (see
/// [`Inspecting`]) instead of only failing on it.
fn inspecting_config(
    extra_roots: &ExtraRoots,
) -> Result<(rustls::ClientConfig, Arc<Inspecting>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = extra_roots.root_store();
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let inspecting = Arc::new(Inspecting {
        inner: verifier,
        seen: Mutex::new(None),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(inspecting.clone())
        .with_no_client_auth();
    Ok((config, inspecting))
}

/// The name the certificate must carry: the host's domain or IP address.
fn server_name(host: &Host<&str>) -> Option<ServerName<'static>> {
    match host {
        Host::Domain(d) => ServerName::try_from(d.to_string()).ok(),
        Host::Ipv4(ip) => Some(ServerName::IpAddress(IpAddr::V4(*ip).into())),
        Host::Ipv6(ip) => Some(ServerName::IpAddress(IpAddr::V6(*ip).into())),
    }
}

/// Connects to `addr` and shakes hands, within [`STEP_TIMEOUT`]: the stream and how long it
/// took, or the failed check.
async fn handshake(
    addr: SocketAddr,
    config: rustls::ClientConfig,
    server_name: ServerName<'static>,
) -> Result<(tokio_rustls::client::TlsStream<tokio::net::TcpStream>, u128), Check> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let started = Instant::now();
    let handshake = tokio::time::timeout(STEP_TIMEOUT, async {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        connector.connect(server_name, tcp).await
    })
    .await;
    let ms = started.elapsed().as_millis();
    match handshake {
        Ok(Ok(s)) => Ok((s, ms)),
        Ok(Err(e)) => Err(Check::fail(
            "tls",
            format!("the TLS handshake with {addr} failed: {e} ({})", ms_text(ms)),
            "the port may not speak TLS (http instead of https?), or a proxy or firewall interferes",
        )
        .figure("ms", ms)),
        Err(_) => Err(Check::fail(
            "tls",
            format!("the TLS handshake with {addr} did not finish within {} s", STEP_TIMEOUT.as_secs()),
            "the server accepts connections but does not speak TLS in time: check the port",
        )
        .figure("ms", ms)),
    }
}

/// What the handshake agreed on.
struct Session {
    protocol: String,
    cipher: Option<String>,
    /// How long the connection and handshake took.
    ms: u128,
}

/// The check of the server's certificate: trusted or why not, how long it stays valid, and
/// every figure of the chain and the session.
fn certificate_check(
    session: &Session,
    chain: &[CertificateDer<'static>],
    verdict: &Result<(), rustls::Error>,
    host_text: &str,
    extra_roots: &ExtraRoots,
) -> Check {
    let Session {
        protocol,
        cipher,
        ms,
    } = session;
    let ms = *ms;
    let facts = chain.first().and_then(|c| parse_cert(c));
    let now = crate::datetime::now_unix();
    let mut check = match (verdict, &facts) {
        (Ok(()), Some(f)) if days_left(f, now) < 14 => Check::warn(
            "tls",
            format!(
                "{protocol}, certificate for {} expires in {} days",
                f.subject,
                days_left(f, now)
            ),
            "the provider must renew its certificate soon; after it expires no connection will work",
        ),
        (Ok(()), Some(f)) => Check::ok(
            "tls",
            format!(
                "{protocol}, {} issued by {}, valid {} more days, name matches ({})",
                f.subject,
                f.issuer,
                days_left(f, now),
                ms_text(ms)
            ),
        ),
        (Ok(()), None) => Check::ok("tls", format!("{protocol}, certificate trusted ({})", ms_text(ms))),
        (Err(e), f) => {
            let (reason, hint) = failure_reason(e, f.as_ref(), host_text, now);
            Check::fail("tls", format!("{reason} ({protocol})"), hint)
        }
    };
    check = check
        .figure("protocol", protocol)
        .figure("cipher_suite", cipher)
        .figure("verified", verdict.is_ok())
        .figure("error", verdict.as_ref().err().map(|e| e.to_string()))
        .figure("chain_length", chain.len())
        .figure(
            "ca_file",
            extra_roots.source().map(|p| p.display().to_string()),
        )
        .figure("ms", ms);
    if let Some(f) = &facts {
        check = check
            .figure("subject", &f.subject)
            .figure("issuer", &f.issuer)
            .figure("not_after", crate::datetime::unix_to_rfc3339(f.not_after))
            .figure("days_to_expiry", days_left(f, now))
            .figure("names", &f.names)
            .figure("hostname_match", host_matches(host_text, &f.names))
            .figure("self_signed", f.self_signed);
    }
    check
}

fn protocol_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".into(),
        other => format!("{other:?}"),
    }
}

/// What a person needs to know about the server's certificate.
#[derive(Debug, Clone)]
struct CertFacts {
    subject: String,
    issuer: String,
    not_before: i64,
    not_after: i64,
    /// DNS names and IP addresses from subjectAltName.
    names: Vec<String>,
    self_signed: bool,
}

fn parse_cert(der: &CertificateDer<'_>) -> Option<CertFacts> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(d) => names.push(d.to_string()),
                x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                        _ => None,
                    };
                    names.extend(ip.map(|i| i.to_string()));
                }
                _ => {}
            }
        }
    }
    let validity = cert.validity();
    Some(CertFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
        names,
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
    })
}

fn days_left(f: &CertFacts, now: i64) -> i64 {
    (f.not_after - now).div_euclid(86_400)
}

/// RFC 6125 in short: exact match, or a `*.` wildcard covering exactly one left-most label.
fn host_matches(host: &str, names: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    names.iter().any(|n| {
        let n = n.trim_end_matches('.').to_ascii_lowercase();
        if n == host {
            return true;
        }
        match (n.strip_prefix("*."), host.split_once('.')) {
            (Some(suffix), Some((first, rest))) => !first.is_empty() && rest == suffix,
            _ => false,
        }
    })
}

/// The reason a certificate is refused, in words, and what to do. The certificate's own dates
/// win over webpki's first complaint: a self-signed *and* expired certificate is called expired.
fn failure_reason(
    err: &rustls::Error,
    facts: Option<&CertFacts>,
    host: &str,
    now: i64,
) -> (String, String) {
    const RENEW: &str = "the provider must renew its certificate; also check this computer's clock";
    const UNTRUSTED: &str = "if a company proxy or antivirus inspects TLS, or the server uses a private certificate authority, set FHIRDL_CA_FILE to a PEM file of that authority's certificate (fhirdl trusts the Mozilla roots and that file); otherwise the server is misconfigured: tell the provider";
    if let Some(f) = facts {
        if f.not_after < now {
            return (
                format!(
                    "certificate expired {} days ago (on {}){}",
                    (now - f.not_after).div_euclid(86_400),
                    crate::datetime::unix_to_rfc3339(f.not_after),
                    if f.self_signed {
                        "; it is also self-signed"
                    } else {
                        ""
                    }
                ),
                RENEW.into(),
            );
        }
        if f.not_before > now {
            return (
                format!(
                    "certificate not valid yet (from {})",
                    crate::datetime::unix_to_rfc3339(f.not_before)
                ),
                "check this computer's date and time".into(),
            );
        }
    }
    let self_signed = facts.is_some_and(|f| f.self_signed);
    match err {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) if self_signed => (
            format!(
                "self-signed certificate ({}): not issued by a trusted certificate authority",
                facts.map(|f| f.subject.as_str()).unwrap_or("no subject")
            ),
            UNTRUSTED.into(),
        ),
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => (
            format!(
                "unknown issuer: {} is not a trusted certificate authority (or an intermediate certificate is missing)",
                facts.map(|f| f.issuer.as_str()).unwrap_or("the issuer")
            ),
            UNTRUSTED.into(),
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => (
            format!(
                "hostname mismatch: the certificate is not valid for {host} (it names {})",
                facts
                    .map(|f| f.names.join(", "))
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "no host names".into())
            ),
            "check the host name in the FHIR base URL; if it is right, the server's certificate is wrong".into(),
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => ("certificate expired".into(), RENEW.into()),
        rustls::Error::InvalidCertificate(CertificateError::Revoked) => (
            "certificate revoked".into(),
            "the provider must replace its certificate".into(),
        ),
        other => (
            format!("certificate refused: {other}"),
            "the server's certificate cannot be trusted: tell the provider".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(not_after: i64, self_signed: bool) -> CertFacts {
        CertFacts {
            subject: "CN=a.example".into(),
            issuer: "CN=a.example".into(),
            not_before: 0,
            not_after,
            names: vec!["a.example".into()],
            self_signed,
        }
    }

    #[test]
    fn host_name_matching() {
        let names = vec!["*.example.org".to_string(), "127.0.0.1".to_string()];
        assert!(host_matches("fhir.example.org", &names));
        assert!(!host_matches("a.b.example.org", &names));
        assert!(!host_matches("example.org", &names));
        assert!(host_matches("127.0.0.1", &names));
        assert!(host_matches("FHIR.Example.org.", &names));
    }

    #[test]
    fn reasons_name_the_problem() {
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let (r, _) = failure_reason(&unknown, Some(&facts(10_000, true)), "a.example", 100);
        assert!(r.starts_with("self-signed"), "{r}");
        let (r, _) = failure_reason(
            &unknown,
            Some(&facts(86_400, true)),
            "a.example",
            3 * 86_400,
        );
        assert!(r.contains("expired 2 days ago"), "{r}");
        let (r, _) = failure_reason(&unknown, Some(&facts(10_000, false)), "a.example", 100);
        assert!(r.starts_with("unknown issuer"), "{r}");
        let name = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
        let (r, _) = failure_reason(&name, Some(&facts(10_000, false)), "b.example", 100);
        assert!(
            r.contains("not valid for b.example") && r.contains("a.example"),
            "{r}"
        );
    }
}
