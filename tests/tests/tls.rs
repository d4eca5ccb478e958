//! HTTPS: a self-signed certificate made at test time (rcgen); the real Prometheus
//! remote-writes over HTTPS trusting it through `tls_config.ca_file`; HTTP/2 is offered by
//! ALPN and spoken; plain HTTP to the TLS port gets no answer and the server keeps serving;
//! the nodes of a cluster talk HTTPS to each other, trusting only their shared certificate.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tests::*;

struct Tls {
    cert_pem: String,
    cert_der: Vec<u8>,
    cert_file: std::path::PathBuf,
    key_file: std::path::PathBuf,
}

fn certificate(dir: &std::path::Path) -> Tls {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, made.cert.pem()).unwrap();
    std::fs::write(&key_file, made.key_pair.serialize_pem()).unwrap();
    Tls { cert_pem: made.cert.pem(), cert_der: made.cert.der().to_vec(), cert_file, key_file }
}

fn https_agent(tls: &Tls) -> ureq::Agent {
    let ca = ureq::tls::Certificate::from_pem(tls.cert_pem.as_bytes()).unwrap().to_owned();
    let config = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![ca]))).build();
    ureq::Agent::config_builder().tls_config(config).http_status_as_error(false).timeout_global(Some(Duration::from_secs(30))).build().into()
}

fn start(dir: &std::path::Path, tls: &Tls) -> Gemini {
    Gemini::start(&dir.join("data"), &["--tls-cert", tls.cert_file.to_str().unwrap(), "--tls-key", tls.key_file.to_str().unwrap()])
}

#[test]
fn prometheus_remote_writes_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let tls = certificate(dir.path());
    let g = start(dir.path(), &tls);
    let https = https_agent(&tls);
    let ping = https.get(&format!("https://127.0.0.1:{}/ping", g.port)).call().unwrap();
    assert_eq!(ping.status().as_u16(), 204);
    let _prometheus = self_scraping_prometheus(&format!(
        r#"  - url: "https://127.0.0.1:{}/api/v1/prom/write?db=prometheus"
    tls_config: {{ca_file: "{}"}}
    queue_config: {{batch_send_deadline: 1s}}
"#,
        g.port,
        tls.cert_file.display()
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let url = format!("https://127.0.0.1:{}/query?db=prometheus&q={}", g.port, urlencode("SELECT count(value) FROM up"));
        let mut r = https.get(&url).call().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
        if v["results"][0]["series"][0]["values"][0][1].as_f64().unwrap_or(0.0) >= 2.0 {
            break;
        }
        assert!(Instant::now() < deadline, "no samples arrived over HTTPS: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn http2_by_alpn_and_plain_http_is_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let tls = certificate(dir.path());
    let g = start(dir.path(), &tls);

    // Plain HTTP to the TLS port: no HTTP answer, the connection just ends.
    let mut plain = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    plain.write_all(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    // The server ends the connection (closed or reset): a read that merely timed out would
    // show nothing about the server.
    match plain.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted) => {}
        Err(e) => panic!("plain HTTP: the connection did not end within 10 s ({e}), {} bytes read", answer.len()),
    }
    assert!(!answer.starts_with(b"HTTP/"), "plain HTTP got an HTTP answer: {:?}", String::from_utf8_lossy(&answer));

    // HTTP/2: ALPN picks h2 and the server answers the connection preface with SETTINGS.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(tls.cert_der.clone())).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut conn = rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut stream = rustls::Stream::new(&mut conn, &mut sock);
    stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00").unwrap();
    let mut frame = [0u8; 9];
    stream.read_exact(&mut frame).unwrap();
    assert_eq!(stream.conn.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(frame[3], 4, "the first HTTP/2 frame from the server is SETTINGS: {frame:?}");

    // Still serving HTTPS after both.
    let ping = https_agent(&tls).get(&format!("https://127.0.0.1:{}/ping", g.port)).call().unwrap();
    assert_eq!(ping.status().as_u16(), 204);
}

#[test]
fn a_bad_certificate_stops_the_start_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    let out = std::process::Command::new(bin("gemini"))
        .args(["serve", "--http-addr", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(dir.path().join("cert.pem"))
        .arg("--tls-key")
        .arg(dir.path().join("missing.pem"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("cert.pem") && stderr.contains("TLS certificate"), "{stderr}");
    let out = std::process::Command::new(bin("gemini")).args(["serve", "--tls-cert", "x.pem"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS needs both --tls-cert and --tls-key"));
}

#[test]
fn cluster_nodes_talk_https_to_each_other_and_trust_only_their_certificate() {
    std::env::set_var("GEMINI_CLUSTER_SECRET", "tls-cluster-secret");
    let dir = tempfile::tempdir().unwrap();
    let tls = certificate(dir.path());
    let ports = [free_port(), free_port()];
    let peers = ports.map(|p| format!("127.0.0.1:{p}")).join(",");
    let node_in = |i: usize, cert: &Tls, data: &str| {
        let me = format!("127.0.0.1:{}", ports[i]);
        let (c, k) = (cert.cert_file.to_str().unwrap(), cert.key_file.to_str().unwrap());
        let args = ["--tls-cert", c, "--tls-key", k, "--cluster.self", &me, "--cluster.peers", &peers, "--cluster.replication-factor", "2"];
        Gemini::start_on(ports[i], &dir.path().join(data), &args)
    };
    let node = |i: usize, cert: &Tls| node_in(i, cert, &format!("data{i}"));
    let https = https_agent(&tls);
    let post_with = |agent: &ureq::Agent, port: u16, path: &str, extra: &[(&str, &str)], body: &[u8]| {
        let mut req = agent.post(&format!("https://127.0.0.1:{port}{path}"));
        for (n, v) in PROTO_HEADERS.iter().chain(extra) {
            req = req.header(*n, *v);
        }
        let mut r = req.send(body).unwrap();
        (r.status().as_u16(), r.body_mut().read_to_vec().unwrap())
    };
    let post = |port: u16, path: &str, body: &[u8]| post_with(&https, port, path, &[], body);
    let req = proto::prometheus::WriteRequest { timeseries: (0..20).map(|i| series(&[("__name__", "up"), ("i", &i.to_string())], &[(1_000, 1.0)])).collect(), metadata: vec![] };
    let read = prost::Message::encode_to_vec(&proto::prometheus::ReadRequest { queries: vec![query_all(vec![matcher(0, "__name__", "up")])], accepted_response_types: vec![] });
    let read = snap::raw::Encoder::new().compress_vec(&read).unwrap();
    {
        let _first = node(0, &tls);
        let second = node(1, &tls);
        // Two nodes, two copies: the write succeeds only when the other node took its copy.
        let (status, body) = post(ports[0], "/api/v1/prom/write?db=prometheus", &write_body(&req));
        assert_eq!(status, 204, "{}", String::from_utf8_lossy(&body));
        let (status, body) = post(ports[1], "/api/v1/prom/read?db=prometheus", &read);
        assert_eq!(status, 200);
        assert_eq!(decode_samples(&body).results[0].timeseries.len(), 20);
        drop(second);
    }
    // A node with another certificate is not trusted: no copy reaches it, so the write fails.
    let other_dir = dir.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let other = certificate(&other_dir);
    let _first = node(0, &tls);
    // In a directory of its own, so that what it holds is only what reached it.
    let _stranger = node_in(1, &other, "stranger");
    let (status, body) = post(ports[0], "/api/v1/prom/write?db=prometheus", &write_body(&req));
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains(&format!("127.0.0.1:{}", ports[1])), "{}", String::from_utf8_lossy(&body));
    // The stranger itself, read directly (its own samples, over HTTPS with its own
    // certificate): the read succeeds and finds nothing.
    let everything = prost::Message::encode_to_vec(&proto::prometheus::ReadRequest { queries: vec![query_all(vec![matcher(2, "__name__", ".+")])], accepted_response_types: vec![] });
    let everything = snap::raw::Encoder::new().compress_vec(&everything).unwrap();
    let secret = [("X-Gemini-Cluster-Secret", "tls-cluster-secret")];
    let (status, body) = post_with(&https_agent(&other), ports[1], "/internal/v1/read?db=prometheus", &secret, &everything);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let held = decode_samples(&body);
    assert_eq!(held.results.len(), 1);
    assert!(held.results[0].timeseries.is_empty(), "the stranger holds {} series", held.results[0].timeseries.len());
}
