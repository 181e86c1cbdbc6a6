//! TLS for the controller connection: verification on by default (Mozilla roots from
//! `webpki-roots`, works offline), plus the three ways to trust a self-signed controller:
//! an extra CA/cert (`ca_cert_pem`), a pinned leaf fingerprint (`cert_sha256`), or — only when
//! asked — no verification at all (`verify_tls = false`).
//!
//! Precedence: a pin wins (it is the most specific thing the host told us), then `verify_tls =
//! false`, then the CA file added to the default roots.
//!
//! Whatever the mode, the leaf certificate of the last handshake is kept ([`SeenCert`]), so a
//! failed handshake can tell the host exactly which certificate it was shown
//! ([`super::cert::CertificateInfo`]) and a successful settings test can show what was trusted.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use super::error::OmadaError;
use super::settings::{present, OmadaSettings};

/// How the controller's certificate is checked; for logs and `ControllerInfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsTrust {
    /// Default roots (+ `ca_cert_pem` when set), hostname checked.
    Verified,
    /// Only the leaf's SHA-256 is compared.
    Pinned,
    /// `verify_tls = false`.
    Disabled,
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Parse `cert_sha256`: 64 hex digits, colons/spaces allowed, any case.
pub fn parse_fingerprint(s: &str) -> Result<[u8; 32], String> {
    let clean: String = s
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    let bytes = hex::decode(&clean).map_err(|_| {
        "Certificate fingerprint must be hex (SHA-256, 64 hex digits; colons allowed)".to_string()
    })?;
    bytes.try_into().map_err(|_| {
        "Certificate fingerprint must be a SHA-256 (64 hex digits; colons allowed)".to_string()
    })
}

/// Every `CERTIFICATE` block of a PEM text; at least one.
pub fn parse_pem_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut out = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        out.push(item.map_err(|_| "CA certificate is not valid PEM".to_string())?);
    }
    if out.is_empty() {
        return Err(
            "No certificate found in the PEM text (expected -----BEGIN CERTIFICATE-----)".into(),
        );
    }
    Ok(out)
}

/// Lower-case hex SHA-256 of a DER certificate (what `cert_sha256` is compared with).
pub fn sha256_hex(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// The leaf certificate of the most recent handshake (DER), whatever its verdict.
pub(crate) type SeenCert = Arc<Mutex<Option<CertificateDer<'static>>>>;

/// Build the rustls client configuration for these settings, and the slot where every
/// handshake leaves the certificate it was shown.
pub(crate) fn client_config(
    settings: &OmadaSettings,
) -> Result<(ClientConfig, TlsTrust, SeenCert), OmadaError> {
    let provider = provider();
    let seen: SeenCert = Arc::new(Mutex::new(None));
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| OmadaError::Tls(format!("TLS setup: {e}")))?;
    let (inner, trust): (Arc<dyn ServerCertVerifier>, TlsTrust) =
        if let Some(fp) = present(&settings.cert_sha256) {
            let pin = parse_fingerprint(fp).map_err(|message| OmadaError::InvalidSettings {
                field: "cert_sha256",
                message,
            })?;
            (
                Arc::new(Lenient {
                    provider,
                    pin: Some(pin),
                }),
                TlsTrust::Pinned,
            )
        } else if !settings.verify_tls {
            (
                Arc::new(Lenient {
                    provider,
                    pin: None,
                }),
                TlsTrust::Disabled,
            )
        } else {
            (verified(settings, provider)?, TlsTrust::Verified)
        };
    let verifier = Arc::new(Recording {
        inner,
        seen: seen.clone(),
    });
    Ok((
        builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
        trust,
        seen,
    ))
}

/// Default roots (+ `ca_cert_pem`), hostname checked: rustls' own WebPKI verifier.
fn verified(
    settings: &OmadaSettings,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, OmadaError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = present(&settings.ca_cert_pem) {
        let certs = parse_pem_certs(pem).map_err(|message| OmadaError::InvalidSettings {
            field: "ca_cert_pem",
            message,
        })?;
        for cert in certs {
            roots.add(cert).map_err(|e| OmadaError::InvalidSettings {
                field: "ca_cert_pem",
                message: format!("CA certificate not usable: {e}"),
            })?;
        }
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| OmadaError::Tls(format!("TLS setup: {e}")))?;
    Ok(verifier)
}

/// Keeps the leaf it is shown, then lets `inner` decide.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn ServerCertVerifier>,
    seen: SeenCert,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(end_entity.clone().into_owned());
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
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

/// Accepts the leaf when it matches `pin` (or any leaf when `pin` is `None`), but still checks
/// the handshake signatures, so the server must hold the certificate's private key.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    pin: Option<[u8; 32]>,
}

#[derive(Debug)]
struct PinMismatch;

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("certificate does not match the pinned SHA-256 fingerprint")
    }
}

impl std::error::Error for PinMismatch {}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.pin {
            None => Ok(ServerCertVerified::assertion()),
            Some(pin) => {
                let got: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
                if bool::from(subtle::ConstantTimeEq::ct_eq(&got[..], &pin[..])) {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(rustls::Error::InvalidCertificate(
                        rustls::CertificateError::Other(rustls::OtherError(Arc::new(PinMismatch))),
                    ))
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let hex64 = "AB".repeat(32);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(parse_fingerprint(&hex64).unwrap(), [0xab; 32]);
        assert_eq!(parse_fingerprint(&colons).unwrap(), [0xab; 32]);
        assert!(parse_fingerprint("ab:cd").is_err());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn pem_needs_a_certificate() {
        assert!(parse_pem_certs("").is_err());
        assert!(
            parse_pem_certs("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
    }
}
