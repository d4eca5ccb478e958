//! HTTPS: a rustls server configuration (ring provider) from PEM files. actix-web offers
//! HTTP/2 and HTTP/1.1 over ALPN on it; plain HTTP is served only when TLS is off.
//!
//! The nodes of a cluster then talk HTTPS to each other too, and every node serves the same
//! certificate: a node trusts a peer that presents exactly its own certificate (and proves it
//! holds the key), whatever name the peer was reached by.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Why TLS cannot be set up; errors name the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("TLS certificate {}: {source}", path.display())]
    Certificate { path: PathBuf, source: rustls::pki_types::pem::Error },
    #[error("TLS certificate {}: no CERTIFICATE block", path.display())]
    NoCertificate { path: PathBuf },
    #[error("TLS key {}: {source}", path.display())]
    Key { path: PathBuf, source: rustls::pki_types::pem::Error },
    #[error("TLS certificate {} and key do not make a server identity: {source}", path.display())]
    Identity { path: PathBuf, source: rustls::Error },
    /// The provider offers none of the safe protocol versions.
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
    #[error("the cluster's TLS client is already set")]
    ClusterClientSet,
}

fn certificates(cert: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|source| Error::Certificate { path: cert.to_path_buf(), source })?;
    if certs.is_empty() {
        return Err(Error::NoCertificate { path: cert.to_path_buf() });
    }
    Ok(certs)
}

/// Reads the certificate chain and private key; errors name the file and the problem.
pub fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, Error> {
    let certs = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| Error::Key { path: key.to_path_buf(), source })?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|source| Error::Identity { path: cert.to_path_buf(), source })
}

/// Trusts a server that presents `cert`, this node's own certificate.
#[derive(Debug)]
struct SameCertificate {
    cert: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for SameCertificate {
    fn verify_server_cert(&self, end_entity: &CertificateDer<'_>, _: &[CertificateDer<'_>], _: &ServerName<'_>, _: &[u8], _: UnixTime) -> Result<ServerCertVerified, rustls::Error> {
        match end_entity.as_ref() == self.cert.as_ref() {
            true => Ok(ServerCertVerified::assertion()),
            false => Err(rustls::Error::General("the peer does not serve this cluster's certificate".into())),
        }
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

static CLUSTER_CLIENT: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();

/// Makes the requests between cluster nodes HTTPS, trusting peers that serve `cert` (this
/// node's certificate). Once per process, before serving.
pub fn use_for_cluster(cert: &Path) -> Result<(), Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = SameCertificate { cert: certificates(cert)?.swap_remove(0), provider: provider.clone() };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    CLUSTER_CLIENT.set(Arc::new(config)).map_err(|_| Error::ClusterClientSet)
}

/// The TLS client configuration for requests to other nodes, when the cluster speaks HTTPS.
pub fn cluster_client() -> Option<Arc<rustls::ClientConfig>> {
    CLUSTER_CLIENT.get().cloned()
}
