//! A TLS-only `redis-server` on 127.0.0.1 ([`TlsRedis`]) and the test PKI it uses
//! ([`TestPki`]), made at run time with `rcgen` and written as PEM files into a temporary
//! directory of the test's own.

use super::{RedisServer, TempDir, free_port, info_field, redis_cli};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::PathBuf;

/// A CA; a server certificate it signed (SANs: IP `127.0.0.1`, DNS `localhost`); a client
/// certificate it signed; and an unrelated second CA with a server certificate of its own
/// (same SANs), for "a server certificate from another CA is refused". All keys are ECDSA
/// P-256, in PKCS#8 PEM; every file is in [`TestPki::dir`], removed when this is dropped.
#[derive(Debug)]
pub(crate) struct TestPki {
    dir: TempDir,
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
    other_ca_pem: String,
    other_server_cert_pem: String,
    other_server_key_pem: String,
    misnamed_server_cert_pem: String,
    misnamed_server_key_pem: String,
}

/// A self-signed CA named `name`.
fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA")
}

/// A leaf certificate for `sans` with extended key usage `usage`, signed by `ca`:
/// (certificate PEM, key PEM).
fn leaf(
    ca: &CertifiedIssuer<'static, KeyPair>,
    name: &str,
    sans: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let key = KeyPair::generate().expect("leaf key");
    let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(sans).expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, ca).expect("signed leaf");
    (cert.pem(), key.serialize_pem())
}

impl TestPki {
    /// Generates the CAs, certificates and keys, and writes them into a new temporary
    /// directory: `ca.pem`, `server.pem`/`server.key`, `client.pem`/`client.key`,
    /// `other-ca.pem`, `other-server.pem`/`other-server.key`.
    pub(crate) fn generate() -> Self {
        let ca1 = ca("tollgate test CA");
        let (server_cert_pem, server_key_pem) = leaf(
            &ca1,
            "tollgate test redis",
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert_pem, client_key_pem) = leaf(
            &ca1,
            "tollgate test client",
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let ca2 = ca("unrelated test CA");
        let (other_server_cert_pem, other_server_key_pem) = leaf(
            &ca2,
            "tollgate test redis (other CA)",
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        // Signed by the CA, but for another host: only a host name check refuses it.
        let (misnamed_server_cert_pem, misnamed_server_key_pem) = leaf(
            &ca1,
            "tollgate test redis (another host)",
            &["redis.elsewhere.test"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let pki = Self {
            dir: TempDir::new("pki"),
            ca_pem: ca1.pem(),
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
            other_ca_pem: ca2.pem(),
            other_server_cert_pem,
            other_server_key_pem,
            misnamed_server_cert_pem,
            misnamed_server_key_pem,
        };
        for (name, pem) in [
            ("ca.pem", &pki.ca_pem),
            ("server.pem", &pki.server_cert_pem),
            ("server.key", &pki.server_key_pem),
            ("client.pem", &pki.client_cert_pem),
            ("client.key", &pki.client_key_pem),
            ("other-ca.pem", &pki.other_ca_pem),
            ("other-server.pem", &pki.other_server_cert_pem),
            ("other-server.key", &pki.other_server_key_pem),
            ("misnamed-server.pem", &pki.misnamed_server_cert_pem),
            ("misnamed-server.key", &pki.misnamed_server_key_pem),
        ] {
            let path = pki.dir.join(name);
            std::fs::write(&path, pem).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        pki
    }

    /// The directory holding the files (and the TLS server's log, `redis-P.log`).
    pub(crate) fn dir(&self) -> &TempDir {
        &self.dir
    }

    /// The CA certificate's file.
    pub(crate) fn ca_pem_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The CA certificate, PEM.
    pub(crate) fn ca_pem(&self) -> &[u8] {
        self.ca_pem.as_bytes()
    }

    /// The server certificate's file (signed by the CA).
    pub(crate) fn server_cert_path(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    /// The server key's file.
    pub(crate) fn server_key_path(&self) -> PathBuf {
        self.dir.join("server.key")
    }

    /// The client certificate's file (signed by the CA, extended key usage clientAuth).
    pub(crate) fn client_cert_path(&self) -> PathBuf {
        self.dir.join("client.pem")
    }

    /// The client certificate, PEM.
    pub(crate) fn client_cert_pem(&self) -> &[u8] {
        self.client_cert_pem.as_bytes()
    }

    /// The client key's file (PKCS#8 PEM).
    pub(crate) fn client_key_path(&self) -> PathBuf {
        self.dir.join("client.key")
    }

    /// The client key, PKCS#8 PEM.
    pub(crate) fn client_key_pem(&self) -> &[u8] {
        self.client_key_pem.as_bytes()
    }

    /// The unrelated CA's certificate file.
    pub(crate) fn other_ca_pem_path(&self) -> PathBuf {
        self.dir.join("other-ca.pem")
    }

    /// The unrelated CA's certificate, PEM.
    pub(crate) fn other_ca_pem(&self) -> &[u8] {
        self.other_ca_pem.as_bytes()
    }

    /// The file of the server certificate the unrelated CA signed.
    pub(crate) fn other_server_cert_path(&self) -> PathBuf {
        self.dir.join("other-server.pem")
    }

    /// The key file of the server certificate the unrelated CA signed.
    pub(crate) fn other_server_key_path(&self) -> PathBuf {
        self.dir.join("other-server.key")
    }
}

/// How [`TlsRedis`] is set up.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TlsOptions {
    /// `--tls-auth-clients yes`: a client must present a certificate signed by the CA
    /// (default: `no`, any client may connect).
    pub(crate) require_client_cert: bool,
    /// Serve the certificate signed by the unrelated CA instead of the CA's, so that a client
    /// trusting only [`TestPki::ca_pem`] must refuse the server.
    pub(crate) serve_other_ca_cert: bool,
    /// Serve a certificate the CA signed for another host (`redis.elsewhere.test`), so
    /// that only the host name check refuses it.
    pub(crate) serve_misnamed_cert: bool,
}

/// A `redis-server` that speaks only TLS (`--port 0 --tls-port P`) on 127.0.0.1, with the
/// certificates of its own [`TestPki`]. Killed when dropped (its files then removed).
#[derive(Debug)]
pub(crate) struct TlsRedis {
    // Dropped first: the server is killed before its files are removed.
    server: RedisServer,
    pki: TestPki,
    options: TlsOptions,
}

impl TlsRedis {
    /// A server with the CA's certificate, not asking clients for certificates.
    pub(crate) fn start() -> Self {
        Self::start_with(TlsOptions::default())
    }

    /// A server with the CA's certificate that refuses clients without a certificate
    /// signed by the CA (`--tls-auth-clients yes`).
    pub(crate) fn requiring_client_cert() -> Self {
        Self::start_with(TlsOptions {
            require_client_cert: true,
            ..TlsOptions::default()
        })
    }

    /// A server presenting a certificate of the CA for another host name.
    pub(crate) fn with_misnamed_cert() -> Self {
        Self::start_with(TlsOptions {
            serve_misnamed_cert: true,
            ..TlsOptions::default()
        })
    }

    /// A server presenting the certificate of the unrelated CA.
    pub(crate) fn with_other_ca_cert() -> Self {
        Self::start_with(TlsOptions {
            serve_other_ca_cert: true,
            ..TlsOptions::default()
        })
    }

    /// A server set up as `options` says, on a free loopback port, returned once it answers
    /// `INFO` over TLS with its own pid (polled with `redis-cli --tls`).
    pub(crate) fn start_with(options: TlsOptions) -> Self {
        let pki = TestPki::generate();
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            match Self::start_on(&pki, options, port) {
                Ok(server) => {
                    return Self {
                        server,
                        pki,
                        options,
                    };
                }
                Err(error) => last_error = error,
            }
        }
        panic!("could not start a TLS redis-server: {last_error}");
    }

    fn start_on(pki: &TestPki, options: TlsOptions, port: u16) -> Result<RedisServer, String> {
        let (cert, key) = if options.serve_other_ca_cert {
            (pki.other_server_cert_path(), pki.other_server_key_path())
        } else if options.serve_misnamed_cert {
            (
                pki.dir.join("misnamed-server.pem"),
                pki.dir.join("misnamed-server.key"),
            )
        } else {
            (pki.server_cert_path(), pki.server_key_path())
        };
        let path = |p: PathBuf| p.display().to_string();
        let args: Vec<String> = [
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &path(pki.dir.path().to_path_buf()),
            "--logfile",
            &pki.dir.file(&format!("redis-{port}.log")),
            "--tls-cert-file",
            &path(cert),
            "--tls-key-file",
            &path(key),
            "--tls-ca-cert-file",
            &path(pki.ca_pem_path()),
            "--tls-auth-clients",
            if options.require_client_cert {
                "yes"
            } else {
                "no"
            },
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let probe = cli_options(pki, options);
        RedisServer::spawn(&args, port, || {
            let probe: Vec<&str> = probe.iter().map(String::as_str).collect();
            let info = redis_cli(port, &probe, &["INFO", "server"]).ok()?;
            info_field(&info, "process_id")?.parse().ok()
        })
    }

    /// The TLS port.
    pub(crate) fn port(&self) -> u16 {
        self.server.port
    }

    /// `rediss://127.0.0.1:P/` (the certificate has an IP SAN 127.0.0.1).
    pub(crate) fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}/", self.server.port)
    }

    /// `rediss://localhost:P/` (the certificate has a DNS SAN localhost).
    pub(crate) fn localhost_url(&self) -> String {
        format!("rediss://localhost:{}/", self.server.port)
    }

    /// The options the server was started with.
    pub(crate) fn options(&self) -> TlsOptions {
        self.options
    }

    /// The PKI (every certificate and key, their files).
    pub(crate) fn pki(&self) -> &TestPki {
        &self.pki
    }

    /// The server process (to `kill` or `signal` it).
    pub(crate) fn server(&mut self) -> &mut RedisServer {
        &mut self.server
    }

    /// See [`TestPki::ca_pem_path`].
    pub(crate) fn ca_pem_path(&self) -> PathBuf {
        self.pki.ca_pem_path()
    }

    /// See [`TestPki::ca_pem`].
    pub(crate) fn ca_pem(&self) -> &[u8] {
        self.pki.ca_pem()
    }

    /// See [`TestPki::client_cert_path`].
    pub(crate) fn client_cert_path(&self) -> PathBuf {
        self.pki.client_cert_path()
    }

    /// See [`TestPki::client_cert_pem`].
    pub(crate) fn client_cert_pem(&self) -> &[u8] {
        self.pki.client_cert_pem()
    }

    /// See [`TestPki::client_key_path`].
    pub(crate) fn client_key_path(&self) -> PathBuf {
        self.pki.client_key_path()
    }

    /// See [`TestPki::client_key_pem`].
    pub(crate) fn client_key_pem(&self) -> &[u8] {
        self.pki.client_key_pem()
    }

    /// See [`TestPki::other_ca_pem_path`].
    pub(crate) fn other_ca_pem_path(&self) -> PathBuf {
        self.pki.other_ca_pem_path()
    }

    /// See [`TestPki::other_ca_pem`].
    pub(crate) fn other_ca_pem(&self) -> &[u8] {
        self.pki.other_ca_pem()
    }

    /// `command` through `redis-cli --tls`, trusting the CA that signed the certificate the
    /// server presents and presenting the client certificate: what an admin query needs.
    pub(crate) fn cli(&self, command: &[&str]) -> Result<String, String> {
        let options = cli_options(&self.pki, self.options);
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        redis_cli(self.server.port, &options, command)
    }

    /// `command` through `redis-cli` with exactly the connection `options` given (e.g.
    /// `["--tls", "--cacert", CA]` without a client certificate), to test refusals.
    pub(crate) fn cli_with(&self, options: &[&str], command: &[&str]) -> Result<String, String> {
        redis_cli(self.server.port, options, command)
    }
}

/// `redis-cli` options that connect to a server set up as `options` says.
fn cli_options(pki: &TestPki, options: TlsOptions) -> Vec<String> {
    let ca = if options.serve_other_ca_cert {
        pki.other_ca_pem_path()
    } else {
        pki.ca_pem_path()
    };
    [
        "--tls".to_owned(),
        "--cacert".to_owned(),
        ca.display().to_string(),
        "--cert".to_owned(),
        pki.client_cert_path().display().to_string(),
        "--key".to_owned(),
        pki.client_key_path().display().to_string(),
    ]
    .to_vec()
}
