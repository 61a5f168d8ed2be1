//! Which TLS certificates fhirdl trusts: the Mozilla roots of `webpki-roots`, and besides them
//! every certificate of the PEM file named by `FHIRDL_CA_FILE` ([`ExtraRoots`]), for a company's
//! TLS-inspecting proxy, a private test server or `fhirdl sandbox --tls`.
//!
//! The file is read once, into [`crate::settings::Settings`]; every client that speaks HTTPS
//! takes the same list: the one [`crate::http::Http`] client, the sandbox's scripted browser,
//! and the doctor's own handshake, so `fhirdl doctor` trusts exactly what a sync trusts.
//!
//! When a server's certificate is refused, [`refused_certificate`] finds rustls's reason in the
//! request's error, so messages can say "not trusted" and hint at `FHIRDL_CA_FILE`.

use crate::error::{Failure, Kind};
use anyhow::Result;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Environment variable naming a PEM file of certificates to trust besides the built-in roots.
pub const CA_FILE_ENV: &str = "FHIRDL_CA_FILE";

/// Certificates trusted in addition to the built-in roots; none by default.
#[derive(Clone, Default)]
pub struct ExtraRoots {
    /// The file they were read from.
    source: Option<PathBuf>,
    certs: Arc<[CertificateDer<'static>]>,
}

impl ExtraRoots {
    /// The certificates of the file `FHIRDL_CA_FILE` names; none when it is unset or empty. A
    /// file that cannot be read or holds no usable certificate is an error naming the variable
    /// and the file.
    pub fn from_env() -> Result<ExtraRoots> {
        match std::env::var_os(CA_FILE_ENV) {
            Some(path) if !path.is_empty() => ExtraRoots::from_file(Path::new(&path)),
            _ => Ok(ExtraRoots::default()),
        }
    }

    /// Every certificate of a PEM file (other PEM sections, such as keys, are skipped).
    pub fn from_file(path: &Path) -> Result<ExtraRoots> {
        let refused = |why: String| -> anyhow::Error {
            Failure::new(
                Kind::Usage,
                format!("{CA_FILE_ENV}={}: {why}", path.display()),
            )
            .hint(format!(
                "set {CA_FILE_ENV} to a PEM file of the certificates to trust (-----BEGIN CERTIFICATE-----), or unset it"
            ))
            .into()
        };
        let bytes =
            std::fs::read(path).map_err(|e| refused(format!("cannot read the file: {e}")))?;
        let certs = parse_pem(&bytes).map_err(refused)?;
        Ok(ExtraRoots {
            source: Some(path.to_path_buf()),
            certs: certs.into(),
        })
    }

    /// The file the certificates came from (`None`: no extra roots).
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// `builder` trusting these certificates too (the built-in roots stay).
    pub fn add_to(&self, builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
        let mut builder = builder;
        for cert in self.certs.iter() {
            let cert = reqwest::Certificate::from_der(cert.as_ref()).map_err(|e| {
                anyhow::anyhow!("{CA_FILE_ENV}: a certificate reqwest refuses: {e}")
            })?;
            builder = builder.add_root_certificate(cert);
        }
        Ok(builder)
    }

    /// The certificates themselves (DER), for a client built elsewhere: the sandbox's scripted
    /// browser.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// The built-in roots and these, for a rustls client of our own (the doctor's check).
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        // Each one was added to a store once already, when the file was read.
        let (_added, _ignored) = roots.add_parsable_certificates(self.certs.iter().cloned());
        roots
    }
}

// Certificates are public, but a list of them says nothing useful in a log line.
impl fmt::Debug for ExtraRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtraRoots")
            .field("source", &self.source)
            .field("certificates", &self.certs.len())
            .finish()
    }
}

/// The certificates of a PEM text, each one checked to be usable as a trust anchor; at least
/// one. The error says why in words.
fn parse_pem(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut certs = Vec::new();
    for (n, section) in CertificateDer::pem_slice_iter(bytes).enumerate() {
        let cert = section.map_err(|e| format!("the PEM text is damaged ({e})"))?;
        rustls::RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| format!("certificate {} cannot be used as a trust root: {e}", n + 1))?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err("the file holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

/// A server certificate rustls refused, in its words (`invalid peer certificate: UnknownIssuer`).
#[derive(Debug, Clone)]
pub struct RefusedCertificate {
    pub why: String,
    /// Issued by no authority fhirdl trusts (self-signed, a private authority, a TLS-inspecting
    /// proxy), as opposed to expired or made for another name.
    pub untrusted: bool,
}

impl RefusedCertificate {
    /// What went wrong, for an error message.
    pub fn summary(&self) -> &'static str {
        if self.untrusted {
            "the server's TLS certificate is not trusted"
        } else {
            "the server's TLS certificate is refused"
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        if self.untrusted {
            "if a company proxy or antivirus inspects TLS, or the server uses a private certificate authority, set FHIRDL_CA_FILE to a PEM file of that authority's certificate; `fhirdl doctor` shows the certificate the server sent"
        } else {
            "`fhirdl doctor` shows the certificate the server sent and why it is refused"
        }
    }
}

/// The refused certificate that made `e` fail, if that is why.
pub fn refused_certificate(e: &reqwest::Error) -> Option<RefusedCertificate> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(tls @ rustls::Error::InvalidCertificate(reason)) = rustls_error(s) {
            return Some(RefusedCertificate {
                why: tls.to_string(),
                untrusted: *reason == rustls::CertificateError::UnknownIssuer,
            });
        }
        source = s.source();
    }
    None
}

/// The rustls error `e` is or wraps. It reaches us inside io::Errors (tokio-rustls makes one,
/// the connector another), whose `source` skips what they wrap; `get_ref` does not.
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    rustls_error(inner)
}

/// [`refused_certificate`] of the request error anywhere in `err`'s chain.
pub fn refused_certificate_of(err: &anyhow::Error) -> Option<RefusedCertificate> {
    err.chain()
        .filter_map(|e| e.downcast_ref::<reqwest::Error>())
        .find_map(refused_certificate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem() -> String {
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
            .unwrap()
            .cert
            .pem()
    }

    #[test]
    fn every_certificate_of_a_bundle_is_read() {
        let bundle = format!("comment line\n{}\n{}", pem(), pem());
        assert_eq!(parse_pem(bundle.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn garbage_and_empty_files_are_refused_in_words() {
        let none = parse_pem(b"not a certificate").unwrap_err();
        assert!(none.contains("no PEM certificate"), "{none}");
        let bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let why = parse_pem(bad.as_bytes()).unwrap_err();
        assert!(why.contains("certificate 1 cannot be used"), "{why}");
    }

    #[test]
    fn a_missing_file_names_the_variable_and_the_path() {
        let e = ExtraRoots::from_file(Path::new("/nonexistent/ca.pem")).unwrap_err();
        let text = format!("{e:#}");
        assert!(
            text.contains("FHIRDL_CA_FILE=/nonexistent/ca.pem"),
            "{text}"
        );
        assert_eq!(crate::exit::exit_code(&e), 2);
    }

    /// A TLS server on loopback with a self-signed certificate for 127.0.0.1 (expired if
    /// asked); its port and the certificate in a PEM file.
    async fn server(expired: bool, dir: &Path) -> (u16, PathBuf) {
        let valid = match expired {
            true => rcgen::date_time_ymd(2020, 1, 1)..rcgen::date_time_ymd(2021, 1, 1),
            false => rcgen::date_time_ymd(2020, 1, 1)..rcgen::date_time_ymd(4000, 1, 1),
        };
        let server =
            fhirdl_sandbox::SelfSigned::new(vec!["127.0.0.1".into()], "test", valid).unwrap();
        let file = dir.join(format!("expired-{expired}.pem"));
        std::fs::write(&file, &server.pem).unwrap();
        let acceptor = server.acceptor;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let _ = acceptor.accept(tcp).await;
            }
        });
        (port, file)
    }

    async fn refusal(port: u16, roots: &ExtraRoots) -> Option<RefusedCertificate> {
        let client = roots
            .add_to(reqwest::Client::builder())
            .unwrap()
            .build()
            .unwrap();
        let url = format!("https://127.0.0.1:{port}/");
        let error = client.get(url).send().await.unwrap_err();
        refused_certificate_of(&anyhow::Error::new(error).context("reaching the server"))
    }

    #[tokio::test]
    async fn refusals_tell_an_untrusted_certificate_from_an_expired_one() {
        let dir = tempfile::tempdir().unwrap();
        let (port, file) = server(false, dir.path()).await;
        let untrusted = refusal(port, &ExtraRoots::default()).await.unwrap();
        assert!(untrusted.untrusted, "{untrusted:?}");
        assert!(untrusted.why.contains("UnknownIssuer"), "{untrusted:?}");
        assert!(untrusted.hint().contains(CA_FILE_ENV));
        // Trusted through the file, the same server is reached (the request then fails at the
        // HTTP level: the test server speaks no HTTP).
        let trusted = ExtraRoots::from_file(&file).unwrap();
        assert!(refusal(port, &trusted).await.is_none());

        let (port, file) = server(true, dir.path()).await;
        let roots = ExtraRoots::from_file(&file).unwrap();
        let expired = refusal(port, &roots).await.unwrap();
        assert!(!expired.untrusted, "{expired:?}");
        assert!(expired.why.contains("expired"), "{expired:?}");
        assert!(!expired.hint().contains(CA_FILE_ENV));
    }

    #[test]
    fn the_root_store_keeps_the_built_in_roots() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, pem()).unwrap();
        let roots = ExtraRoots::from_file(&file).unwrap();
        assert_eq!(roots.source(), Some(file.as_path()));
        assert_eq!(
            roots.root_store().len(),
            webpki_roots::TLS_SERVER_ROOTS.len() + 1
        );
        assert_eq!(
            ExtraRoots::default().root_store().len(),
            webpki_roots::TLS_SERVER_ROOTS.len()
        );
    }
}
