//! The portal over HTTPS, with the host's certificate (issue 17). RFC 8908 requires the
//! Captive Portal API and the login URL it names to be reached over TLS, and phones check the
//! certificate against the host name like any browser; so the host provides a real
//! certificate for a name the guests resolve (docs/captive-portal-api.md), and the sidecar
//! only loads it. rustls with the *ring* provider, which the Omada client already links: the
//! listener adds no TLS library to the binary.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the certificate or key cannot be used; each names the configuration key to fix.
#[derive(Debug, thiserror::Error)]
pub enum PortalTlsError {
    #[error("server.{key}: cannot read {path}: {source}")]
    Read {
        key: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(
        "server.portal_tls_cert: {path} holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")"
    )]
    NoCertificate { path: String },
    #[error("server.portal_tls_key: {path} holds no PEM private key (PKCS#8, RSA or EC)")]
    NoKey { path: String },
    #[error("server.portal_tls_key: the key does not fit the certificate or is not usable: {0}")]
    Mismatch(String),
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, PortalTlsError> {
    std::fs::read(path).map_err(|source| PortalTlsError::Read {
        key,
        path: path.display().to_string(),
        source,
    })
}

/// The TLS acceptor for the host's certificate chain (`cert`, PEM, leaf first) and private
/// key (`key`, PEM). HTTP/1.1 only, like the plain portal.
pub fn acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, PortalTlsError> {
    let cert_pem = read("portal_tls_cert", cert)?;
    let key_pem = read("portal_tls_key", key)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(PortalTlsError::NoCertificate {
            path: cert.display().to_string(),
        });
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| PortalTlsError::NoKey {
        path: key.display().to_string(),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(crate::omada::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| PortalTlsError::Mismatch(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| PortalTlsError::Mismatch(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = acceptor(&missing, &missing).err().expect("refused");
        assert!(
            e.to_string()
                .starts_with("server.portal_tls_cert: cannot read"),
            "{e}"
        );

        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not pem").unwrap();
        let e = acceptor(&junk, &junk).err().expect("refused");
        assert!(matches!(e, PortalTlsError::NoCertificate { .. }), "{e}");

        let ck = rcgen::generate_simple_self_signed(vec!["wifi.example.net".into()]).unwrap();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        let e = acceptor(&cert, &junk).err().expect("refused");
        assert!(matches!(e, PortalTlsError::NoKey { .. }), "{e}");

        // Another certificate's key: refused at start, not at the first guest.
        let other = rcgen::generate_simple_self_signed(vec!["other.example".into()]).unwrap();
        let key = dir.path().join("key.pem");
        std::fs::write(&key, other.signing_key.serialize_pem()).unwrap();
        let e = acceptor(&cert, &key).err().expect("refused");
        assert!(matches!(e, PortalTlsError::Mismatch(_)), "{e}");

        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        assert!(acceptor(&cert, &key).is_ok(), "the matching key");
    }
}
