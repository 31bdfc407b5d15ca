//! TLS files checked before Rocket starts (by `scimd serve` and `scimd check-config`): Rocket
//! would otherwise fail at launch with a terse "invalid key file". Each problem an admin can
//! make with `[tls] certs/key` gets its own message naming the setting, the file and the fix.
//! Also builds the client config `scimd health` uses to probe a TLS listener.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, ring};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pemfile::Item;
use time::OffsetDateTime;

use crate::config::TlsConfig;

/// A certificate this close to expiry is reported as a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// What was loaded, for the start-up line and `check-config`.
#[derive(Debug, Clone)]
pub struct TlsSummary {
    /// Subject of the end-entity certificate, e.g. `CN=scim.example.com`.
    pub subject: String,
    pub not_after: OffsetDateTime,
    /// Certificates in `tls.certs` (end-entity first, then intermediates).
    pub chain_len: usize,
    /// Set when the certificate expires within [`EXPIRY_WARNING_DAYS`].
    pub warning: Option<String>,
}

/// Why the TLS files cannot be used; every message names the setting and the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{setting} = {}: cannot read the file: {source}", path.display())]
    Unreadable {
        setting: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{setting} = {}: the file is not valid PEM: {detail}", path.display())]
    BadPem {
        setting: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error(
        "tls.certs = {}: no certificate in this PEM file (no \"-----BEGIN CERTIFICATE-----\" block{found}); put the server certificate first, then its intermediates",
        path.display()
    )]
    NoCertificate { path: PathBuf, found: String },
    #[error("tls.certs = {}: certificate {index} in the file is not a valid X.509 certificate: {detail}", path.display())]
    BadCertificate {
        path: PathBuf,
        index: usize,
        detail: String,
    },
    #[error(
        "tls.key = {}: the private key is encrypted; scimd needs it unencrypted (decrypt it with `openssl pkey -in key.pem -out key.pem` and make it readable only by scimd)",
        path.display()
    )]
    EncryptedKey { path: PathBuf },
    #[error(
        "tls.key = {}: no private key in this PEM file (expected a \"-----BEGIN PRIVATE KEY-----\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" block{found})",
        path.display()
    )]
    NoKey { path: PathBuf, found: String },
    #[error("tls.key = {}: {count} private keys in this PEM file; keep only the one for the certificate", path.display())]
    SeveralKeys { path: PathBuf, count: usize },
    #[error(
        "tls.key = {}: unsupported {format} private key ({detail}); scimd accepts RSA (2048 bits or more), ECDSA P-256 or P-384, and Ed25519 keys",
        path.display()
    )]
    UnsupportedKey {
        path: PathBuf,
        format: &'static str,
        detail: String,
    },
    #[error(
        "tls.key = {} does not belong to the certificate in tls.certs = {} ({subject}): their public keys differ; use the key the certificate was issued for",
        key.display(),
        certs.display()
    )]
    KeyMismatch {
        key: PathBuf,
        certs: PathBuf,
        subject: String,
    },
    #[error("tls.certs = {}: the certificate for {subject} expired on {not_after}; renew it", path.display())]
    Expired {
        path: PathBuf,
        subject: String,
        not_after: String,
    },
    #[error("tls.certs = {}: the certificate for {subject} is not valid before {not_before}; check the clock or the certificate", path.display())]
    NotYetValid {
        path: PathBuf,
        subject: String,
        not_before: String,
    },
}

/// Reads and checks the certificate chain and key the way Rocket will load them, at `now`.
pub fn check(tls: &TlsConfig, now: OffsetDateTime) -> Result<TlsSummary, TlsError> {
    let certs = load_certs(&tls.certs)?;
    let key = load_key(&tls.key)?;
    let end_entity = certs
        .first()
        .cloned()
        .ok_or_else(|| TlsError::NoCertificate {
            path: tls.certs.clone(),
            found: String::new(),
        })?;
    let (subject, not_before, not_after) = validity(&tls.certs, &end_entity)?;
    let format = key_format(&key);
    let signing_key =
        ring::sign::any_supported_type(&key).map_err(|e| TlsError::UnsupportedKey {
            path: tls.key.clone(),
            format,
            detail: e.to_string(),
        })?;
    match CertifiedKey::new(certs.clone(), signing_key).keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(TlsError::KeyMismatch {
                key: tls.key.clone(),
                certs: tls.certs.clone(),
                subject,
            });
        }
        // ring's keys all expose their public key, so "unknown" cannot happen with this
        // provider; anything else means webpki could not parse the certificate.
        Err(e) => {
            return Err(TlsError::BadCertificate {
                path: tls.certs.clone(),
                index: 1,
                detail: e.to_string(),
            });
        }
    }
    if not_after <= now {
        return Err(TlsError::Expired {
            path: tls.certs.clone(),
            subject,
            not_after: crate::clock::timestamp(not_after),
        });
    }
    if not_before > now {
        return Err(TlsError::NotYetValid {
            path: tls.certs.clone(),
            subject,
            not_before: crate::clock::timestamp(not_before),
        });
    }
    let days_left = (not_after - now).whole_days();
    let warning = (days_left < EXPIRY_WARNING_DAYS).then(|| {
        format!(
            "tls.certs = {}: the certificate for {subject} expires on {} (in {days_left} days); renew it before then",
            tls.certs.display(),
            crate::clock::timestamp(not_after)
        )
    });
    Ok(TlsSummary {
        subject,
        not_after,
        chain_len: certs.len(),
        warning,
    })
}

/// Whether the end-entity certificate in `tls.certs` is valid for `host` (a DNS name or an IP
/// address), as a TLS client checks it: webpki's name matching, wildcards included.
pub fn names_host(tls: &TlsConfig, host: &str) -> Result<bool, TlsError> {
    let certs = load_certs(&tls.certs)?;
    let Some(end_entity) = certs.first() else {
        return Err(TlsError::NoCertificate {
            path: tls.certs.clone(),
            found: String::new(),
        });
    };
    let cert =
        webpki::EndEntityCert::try_from(end_entity).map_err(|e| TlsError::BadCertificate {
            path: tls.certs.clone(),
            index: 1,
            detail: e.to_string(),
        })?;
    let Ok(name) = rustls::pki_types::ServerName::try_from(host) else {
        return Ok(false);
    };
    Ok(cert.verify_is_valid_for_subject_name(&name).is_ok())
}

/// A warning when `tls.key` is readable by every user on the machine. Group-readable is fine:
/// the README's `0640 root:scimd` lets the service read a key that root owns.
pub fn key_exposure(tls: &TlsConfig) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&tls.key).ok()?.permissions().mode();
    (mode & 0o004 != 0).then(|| {
        format!(
            "tls.key = {}: the private key is readable by every user (mode {:o}); run `chmod 0640 {}` (owner root, group scimd) or `chmod 0600` if scimd owns it",
            tls.key.display(),
            mode & 0o777,
            tls.key.display()
        )
    })
}

fn read_pem(setting: &'static str, path: &Path) -> Result<Vec<Item>, TlsError> {
    let bytes = std::fs::read(path).map_err(|source| TlsError::Unreadable {
        setting,
        path: path.to_owned(),
        source,
    })?;
    rustls_pemfile::read_all(&mut BufReader::new(bytes.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            setting,
            path: path.to_owned(),
            detail: e.to_string(),
        })
}

/// Names the PEM blocks that were found instead of what was expected, e.g. `; found: PRIVATE KEY`.
fn found(items: &[Item]) -> String {
    let names: Vec<&str> = items.iter().map(item_name).collect();
    if names.is_empty() {
        String::new()
    } else {
        format!("; found: {}", names.join(", "))
    }
}

fn item_name(item: &Item) -> &'static str {
    match item {
        Item::X509Certificate(_) => "CERTIFICATE",
        Item::SubjectPublicKeyInfo(_) => "PUBLIC KEY",
        Item::Pkcs1Key(_) => "RSA PRIVATE KEY",
        Item::Pkcs8Key(_) => "PRIVATE KEY",
        Item::Sec1Key(_) => "EC PRIVATE KEY",
        Item::Crl(_) => "X509 CRL",
        Item::Csr(_) => "CERTIFICATE REQUEST",
        _ => "an unknown block",
    }
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let items = read_pem("tls.certs", path)?;
    let certs: Vec<CertificateDer<'static>> = items
        .iter()
        .filter_map(|item| match item {
            Item::X509Certificate(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
            found: found(&items),
        });
    }
    for (i, der) in certs.iter().enumerate() {
        x509_parser::parse_x509_certificate(der).map_err(|e| TlsError::BadCertificate {
            path: path.to_owned(),
            index: i + 1,
            detail: e.to_string(),
        })?;
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let items = read_pem("tls.key", path)?;
    let mut keys: Vec<PrivateKeyDer<'static>> = items
        .iter()
        .filter_map(|item| match item {
            Item::Pkcs1Key(k) => Some(PrivateKeyDer::Pkcs1(k.clone_key())),
            Item::Pkcs8Key(k) => Some(PrivateKeyDer::Pkcs8(k.clone_key())),
            Item::Sec1Key(k) => Some(PrivateKeyDer::Sec1(k.clone_key())),
            _ => None,
        })
        .collect();
    match keys.len() {
        1 => Ok(keys.remove(0)),
        0 => {
            // rustls-pemfile skips blocks it does not know, such as encrypted PKCS#8.
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
                || text.contains("Proc-Type: 4,ENCRYPTED")
            {
                Err(TlsError::EncryptedKey {
                    path: path.to_owned(),
                })
            } else {
                Err(TlsError::NoKey {
                    path: path.to_owned(),
                    found: found(&items),
                })
            }
        }
        count => Err(TlsError::SeveralKeys {
            path: path.to_owned(),
            count,
        }),
    }
}

fn key_format(key: &PrivateKeyDer<'_>) -> &'static str {
    match key {
        PrivateKeyDer::Pkcs1(_) => "PKCS#1 (RSA PRIVATE KEY)",
        PrivateKeyDer::Sec1(_) => "SEC1 (EC PRIVATE KEY)",
        _ => "PKCS#8 (PRIVATE KEY)",
    }
}

/// Subject, notBefore and notAfter of the end-entity certificate.
fn validity(
    path: &Path,
    der: &CertificateDer<'_>,
) -> Result<(String, OffsetDateTime, OffsetDateTime), TlsError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| TlsError::BadCertificate {
            path: path.to_owned(),
            index: 1,
            detail: e.to_string(),
        })?;
    let subject = cert.subject().to_string();
    let subject = if subject.is_empty() {
        "(no subject)".to_owned()
    } else {
        subject
    };
    let v = cert.validity();
    Ok((
        subject,
        v.not_before.to_datetime(),
        v.not_after.to_datetime(),
    ))
}

/// Server config with `[tls]`'s certificate and key, for the listeners scimd runs itself
/// (LDAPS and StartTLS; Rocket builds its own for HTTPS from the same files).
pub fn server_config(tls: &TlsConfig) -> Result<rustls::ServerConfig, TlsError> {
    let certs = load_certs(&tls.certs)?;
    let key = load_key(&tls.key)?;
    let provider = Arc::new(ring::default_provider());
    let bad = |e: rustls::Error| TlsError::BadCertificate {
        path: tls.certs.clone(),
        index: 1,
        detail: e.to_string(),
    };
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(bad)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(bad)
}

/// Client config for `scimd health` on a TLS listener: it trusts exactly the end-entity
/// certificate in `tls.certs`. The probe dials 127.0.0.1, which the certificate rarely names,
/// so pinning the certificate scimd itself serves is the check that fits.
pub fn pinned_client(tls: &TlsConfig) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let certs = load_certs(&tls.certs)?;
    let end_entity = certs
        .into_iter()
        .next()
        .ok_or_else(|| TlsError::NoCertificate {
            path: tls.certs.clone(),
            found: String::new(),
        })?;
    let provider = Arc::new(ring::default_provider());
    let verifier = Arc::new(Pinned {
        cert: end_entity,
        algorithms: provider.signature_verification_algorithms,
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::BadCertificate {
            path: tls.certs.clone(),
            index: 1,
            detail: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Accepts the server only if it presents the pinned certificate, and still verifies the
/// handshake signature so the peer must hold the matching private key.
#[derive(Debug)]
struct Pinned {
    cert: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
