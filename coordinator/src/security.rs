//! What a coordinator requires of its peers: tokens per role, TLS (and client certificates for
//! workers), connection limits — and the rule that an exposed coordinator must have them.
//!
//! All of it is one value, [`Security`], handed to [`crate::serve`], so the binary, the tests
//! and the embedded cluster configure a server the same way.

use crate::conn::ConnLimits;
use chirpfarm_proto::auth::Access;
use chirpfarm_proto::connect::read_pem;
use std::net::SocketAddr;
use std::path::Path;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// A coordinator's security settings.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// Who may call which service (tokens per role).
    pub access: Access,
    /// Serve TLS with this identity (and, with a client CA, verify worker certificates).
    pub tls: Option<ServerTls>,
    /// Handshake timeout and connection cap.
    pub limits: ConnLimits,
}

impl Security {
    /// No tokens, no TLS, default limits: a loopback development coordinator.
    pub fn open() -> Security {
        Security::default()
    }

    /// One shared token for both roles (or open when `None`), no TLS.
    pub fn with_token(token: Option<&str>) -> Security {
        Security {
            access: Access::shared(token),
            ..Security::default()
        }
    }

    /// The access policy as enforced: a client CA makes worker certificates mandatory.
    pub fn effective_access(&self) -> Access {
        let mut access = self.access.clone();
        access.worker_cert_required |= self.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        access
    }

    /// Why listening on `addrs` with these settings is unsafe, if it is: an address other than
    /// loopback without TLS, or without a way to tell clients and workers from strangers
    /// (tokens for both roles; a client certificate counts for workers). `--insecure` skips the
    /// check (a trusted network, or TLS ended by a proxy in front).
    pub fn exposure_problem(&self, addrs: &[SocketAddr]) -> Option<String> {
        let exposed: Vec<String> = addrs
            .iter()
            .filter(|a| !a.ip().is_loopback())
            .map(|a| a.to_string())
            .collect();
        if exposed.is_empty() {
            return None;
        }
        let access = self.effective_access();
        let mut missing = Vec::new();
        if self.tls.is_none() {
            missing.push("TLS (--tls-cert/--tls-key)");
        }
        if access.client.is_empty() {
            missing.push("a client token (--client-token-file or --token-file)");
        }
        if access.worker.is_empty() && !access.worker_cert_required {
            missing.push("a worker token (--worker-token-file or --token-file) or --client-ca");
        }
        if missing.is_empty() {
            return None;
        }
        Some(format!(
            "refusing to listen on {} without {}: anyone who can reach it could submit or cancel jobs, read results, or pose as a worker. Add them, listen on 127.0.0.1, or pass --insecure if the network itself is trusted",
            exposed.join(", "),
            missing.join(" and ")
        ))
    }
}

/// The coordinator's TLS identity, and the CA whose certificates workers must present.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// Certificate chain and private key (PEM).
    identity: Identity,
    /// `--client-ca`: when set, worker sessions need a certificate signed by it.
    client_ca: Option<Certificate>,
}

impl ServerTls {
    /// From PEM contents.
    pub fn from_pem(cert: &[u8], key: &[u8], client_ca: Option<&[u8]>) -> ServerTls {
        ServerTls {
            identity: Identity::from_pem(cert, key),
            client_ca: client_ca.map(Certificate::from_pem),
        }
    }

    /// Reads `--tls-cert`, `--tls-key` and `--client-ca`.
    pub fn from_files(
        cert: &Path,
        key: &Path,
        client_ca: Option<&Path>,
    ) -> Result<ServerTls, String> {
        let ca = client_ca.map(|p| read_pem(p, "--client-ca")).transpose()?;
        Ok(ServerTls::from_pem(
            &read_pem(cert, "--tls-cert")?,
            &read_pem(key, "--tls-key")?,
            ca.as_deref(),
        ))
    }

    /// tonic's server config. Client certificates are optional at the TLS layer, so CLI users
    /// without one still connect; the worker service's gate then requires one.
    pub fn config(&self, limits: &ConnLimits) -> ServerTlsConfig {
        let mut c = ServerTlsConfig::new()
            .identity(self.identity.clone())
            .timeout(limits.handshake_timeout);
        if let Some(ca) = &self.client_ca {
            c = c.client_ca_root(ca.clone()).client_auth_optional(true);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Vec<SocketAddr> {
        vec![s.parse().unwrap()]
    }

    #[test]
    fn loopback_is_always_allowed() {
        assert!(Security::open()
            .exposure_problem(&addr("127.0.0.1:0"))
            .is_none());
        assert!(Security::open()
            .exposure_problem(&addr("[::1]:50051"))
            .is_none());
    }

    #[test]
    fn exposed_needs_tls_and_tokens() {
        let e = Security::open()
            .exposure_problem(&addr("0.0.0.0:0"))
            .unwrap();
        assert!(
            e.contains("0.0.0.0:0") && e.contains("TLS") && e.contains("client token"),
            "{e}"
        );
        let tls = ServerTls::from_pem(b"", b"", None);
        let s = Security {
            tls: Some(tls.clone()),
            ..Security::with_token(Some("t"))
        };
        assert!(s.exposure_problem(&addr("0.0.0.0:0")).is_none());
        let e = Security::with_token(Some("t"))
            .exposure_problem(&addr("10.1.2.3:1"))
            .unwrap();
        assert!(e.contains("TLS") && !e.contains("token"), "{e}");
        // Workers proven by certificates need no token.
        let s = Security {
            access: Access {
                client: Access::shared(Some("c")).client,
                ..Access::open()
            },
            tls: Some(ServerTls::from_pem(b"", b"", Some(b""))),
            ..Security::open()
        };
        assert!(s.exposure_problem(&addr("0.0.0.0:1")).is_none());
    }
}
