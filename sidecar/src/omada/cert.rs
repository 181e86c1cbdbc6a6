//! The certificate a controller presented, as the host needs to see it before trusting it.
//!
//! Every software controller ships the same self-signed certificate (`O=TP-Link, OU=TP-Link,
//! CN=localhost`, no subjectAltName; `reference/omada-field-notes.md` §1.3, decoded from the
//! PEM quoted in mbentley/docker-omada-controller#178). Default verification refuses it, a CA
//! file cannot help (webpki matches names only against the subjectAltName, which it lacks), so
//! the one way to trust it is a SHA-256 pin. Pinning it guards against mistakes (the wrong
//! host), not attackers: its private key is in every controller image. The settings test
//! therefore shows what it saw ([`CertificateInfo`], CONTRACTS §4) and names the factory
//! certificate as such.

use serde::Serialize;
use x509_parser::extensions::GeneralName;

/// SHA-256 of TP-Link's factory certificate (lower-case hex of the DER).
pub const FACTORY_SHA256: &str = "29dae0f741649973a89c68894790b4831a52c1ae7b843d1e65d12281215cdce1";

/// The certificate report of CONTRACTS §4: `subject`, `sha256` (64 lower-case hex), `san`
/// (DNS names and IP addresses, as text), `factory_default`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub sha256: String,
    pub san: Vec<String>,
    pub factory_default: bool,
}

impl CertificateInfo {
    /// Describe a DER certificate. A certificate that does not parse still gets its
    /// fingerprint (what a pin needs); its subject then reads `"(unreadable)"`.
    pub fn from_der(der: &[u8]) -> CertificateInfo {
        let sha256 = super::tls::sha256_hex(der);
        let factory_default = sha256 == FACTORY_SHA256;
        let (subject, san) = match x509_parser::parse_x509_certificate(der) {
            Ok((_, cert)) => {
                let subject = cert.subject().to_string();
                let san = cert
                    .subject_alternative_name()
                    .ok()
                    .flatten()
                    .map(|ext| {
                        ext.value
                            .general_names
                            .iter()
                            .filter_map(general_name_text)
                            .collect()
                    })
                    .unwrap_or_default();
                (subject, san)
            }
            Err(_) => ("(unreadable)".to_string(), Vec::new()),
        };
        CertificateInfo {
            subject,
            sha256,
            san,
            factory_default,
        }
    }

    /// `sha256` with colons, as browsers and `openssl x509 -fingerprint` show it.
    pub fn fingerprint_colons(&self) -> String {
        self.sha256
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap_or("??").to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// One sentence for messages and logs: what it is and how to trust it.
    pub fn advice(&self) -> String {
        if self.factory_default {
            format!(
                "The controller shows TP-Link's factory certificate ({}, SHA-256 {}), the same on every controller: trust it by pinning cert_sha256 = {} (this guards against talking to the wrong host, not against an attacker), or install a certificate of your own on the controller",
                self.subject, self.sha256, self.sha256
            )
        } else if self.san.is_empty() {
            format!(
                "The controller's certificate ({}, SHA-256 {}) names no host (no subjectAltName), so no CA file can verify it: pin it with cert_sha256 = {}",
                self.subject, self.sha256, self.sha256
            )
        } else {
            format!(
                "The controller's certificate ({}, for {}, SHA-256 {}) is not signed by a known authority: pin it with cert_sha256 = {}, or give its CA as ca_cert_pem and use one of those names in the controller URL",
                self.subject,
                self.san.join(", "),
                self.sha256,
                self.sha256
            )
        }
    }
}

fn general_name_text(n: &GeneralName<'_>) -> Option<String> {
    match n {
        GeneralName::DNSName(s) => Some((*s).to_string()),
        GeneralName::IPAddress(b) => match b.len() {
            4 => {
                let o: [u8; 4] = (*b).try_into().ok()?;
                Some(std::net::Ipv4Addr::from(o).to_string())
            }
            16 => {
                let o: [u8; 16] = (*b).try_into().ok()?;
                Some(std::net::Ipv6Addr::from(o).to_string())
            }
            _ => None,
        },
        _ => None,
    }
}

/// Can this certificate, given as `ca_cert_pem`, ever verify the controller? A CA certificate
/// can (it signs the controller's); a leaf without a subjectAltName cannot, because the name
/// check looks only at the subjectAltName. `Err` says what to do instead.
pub(crate) fn usable_as_trust_anchor(der: &[u8]) -> Result<(), String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Err("CA certificate is not a readable X.509 certificate".into());
    };
    if cert.is_ca() {
        return Ok(());
    }
    let has_san = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .is_some_and(|ext| !ext.value.general_names.is_empty());
    if has_san {
        return Ok(());
    }
    let info = CertificateInfo::from_der(der);
    let what = if info.factory_default {
        "This is TP-Link's factory certificate, which"
    } else {
        "This certificate"
    };
    Err(format!(
        "{what} names no host (no subjectAltName), so it cannot verify the controller as a CA file; pin it instead with cert_sha256 = {}",
        info.sha256
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    /// TP-Link's factory certificate as quoted in mbentley/docker-omada-controller#178 (public).
    pub(crate) const FACTORY_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIDETCCAfmgAwIBAgIEHUfJYjANBgkqhkiG9w0BAQsFADA4MRAwDgYDVQQKEwdU
UC1MaW5rMRAwDgYDVQQLEwdUUC1MaW5rMRIwEAYDVQQDEwlsb2NhbGhvc3QwIBcN
MjAwOTExMDgxNTIxWhgPMjA1MDA5MTEwODE1MjFaMDgxEDAOBgNVBAoTB1RQLUxp
bmsxEDAOBgNVBAsTB1RQLUxpbmsxEjAQBgNVBAMTCWxvY2FsaG9zdDCCASIwDQYJ
KoZIhvcNAQEBBQADggEPADCCAQoCggEBAJi5IlNQVJAVv3KNf3Um7QU9+RS1aUAd
ql2trNzqXt3sZSbjpeNrK9bA6TRJY+fLwhg/au/1NL+F3AXiq3LhVWQiY8PqK8yA
6O9QDNpQMpHhqSy9lHeE5OLs9TLPQApzqTQA9FsXFlx41IWhcohKw8u04ayvAMHZ
nNfV5MKXx77FBxjvrNQQIwvrJLeCgD1G21sCYTMA6mHeC/JGPAlscB7LVkDt70WY
D/dJbntuA7n5aozWR/w9Z7wUn5NEfXZs+yQQEXo11s4DC7RaIS/yU4zsTvNo78eF
c8iM/Yrm1609pcKNtzyy1ficEORnpgmEEWWq6nFFZkDSjWguc3bkvW8CAwEAAaMh
MB8wHQYDVR0OBBYEFOwrLt0YJTBLX9TF0opDNeaVoFL3MA0GCSqGSIb3DQEBCwUA
A4IBAQCOMCseIqosloaHRt98ESH/2SSkycLOfGIBQaXpbvI1wXU8E5MsU+NvdHKY
6KYrHQJEyAF/clFmyS7cj2K78KWDBWh2Zi22kTODjd18apJzTInIR8og0pX7zSFq
xUlbP9E4Moaifj30QX+bPfAmHJBsEOo16YQOZgyXo9ADe6UdFqxO+JcOH3RPbymI
7u4veCwUOuZ5JF1CYYKL8AKl1h+GEaoh3aAlHHEBhxA4TOCpcFzRgtnQ30n/qkDJ
3NUBsUrKpAIP9wz8KICYNaC+PGA87i5mChE8tUCirZKXKwzClyX9HmEGcbBexD08
sWHAEWTBZhj1T1CA8jDXuOs7aQqh
-----END CERTIFICATE-----
";

    pub(crate) fn factory_der() -> Vec<u8> {
        CertificateDer::from_pem_slice(FACTORY_PEM.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec()
    }

    #[test]
    fn the_factory_certificate_is_recognised_by_its_fingerprint() {
        let info = CertificateInfo::from_der(&factory_der());
        // The constant is the fingerprint of the public PEM, not a number typed in.
        assert_eq!(info.sha256, FACTORY_SHA256);
        assert!(info.factory_default);
        assert_eq!(info.subject, "O=TP-Link, OU=TP-Link, CN=localhost");
        assert!(info.san.is_empty(), "{:?}", info.san);
        assert!(info.fingerprint_colons().starts_with("29:DA:E0:F7:"));
        let advice = info.advice();
        assert!(advice.contains("factory certificate") && advice.contains(FACTORY_SHA256));
    }

    #[test]
    fn the_factory_certificate_cannot_serve_as_a_ca_file() {
        let err = usable_as_trust_anchor(&factory_der()).unwrap_err();
        assert!(err.contains("subjectAltName") && err.contains("cert_sha256"));
        assert!(err.contains(FACTORY_SHA256), "{err}");
    }

    #[test]
    fn a_certificate_with_names_is_described_with_them() {
        let ck = rcgen::generate_simple_self_signed(vec![
            "omada.example".to_string(),
            "192.168.0.2".to_string(),
        ])
        .unwrap();
        let der = ck.cert.der().to_vec();
        let info = CertificateInfo::from_der(&der);
        assert!(!info.factory_default);
        assert_eq!(info.san, vec!["omada.example", "192.168.0.2"]);
        assert_eq!(info.sha256.len(), 64);
        assert!(usable_as_trust_anchor(&der).is_ok());
        assert!(info.advice().contains("omada.example"));
        // Garbage still gets a fingerprint.
        let junk = CertificateInfo::from_der(b"not a certificate");
        assert_eq!(junk.subject, "(unreadable)");
        assert_eq!(junk.sha256.len(), 64);
    }
}
