//! Users and auth end to end: with `--auth-enabled` every endpoint but /ping and /health
//! refuses without credentials (401 with `WWW-Authenticate`), a user without the privilege
//! gets 403 in InfluxDB's words, the real `influx` CLI manages users and grants, and the real
//! Prometheus remote-writes with `u`/`p` in the URL and with `basic_auth`.

use std::time::{Duration, Instant};
use tests::*;

const T0: i64 = 1_700_000_000_000;

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

fn query(g: &Gemini, q: &str, auth: &[(&str, &str)]) -> Answer {
    g.post(&format!("/query?db=prometheus&q={}", urlencode(q)), auth, b"")
}

fn error(a: &Answer) -> String {
    serde_json::from_slice::<serde_json::Value>(&a.body).map(|v| v["error"].as_str().unwrap_or_default().to_string()).unwrap_or_default()
}

#[test]
fn every_endpoint_but_ping_and_health_needs_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gemini::start(dir.path(), &["--auth-enabled"]);
    let w = proto::prometheus::WriteRequest { timeseries: vec![series(&[("__name__", "up"), ("job", "x")], &[(T0, 1.0)])], metadata: vec![] };
    assert_eq!(g.get("/ping").status, 204);
    assert_eq!(g.get("/health").status, 200);
    assert_eq!(g.get("/metrics").status, 200, "/metrics is open unless protect_metrics");

    // No user yet: only CREATE USER … WITH ALL PRIVILEGES.
    for q in ["SHOW DATABASES", "CREATE USER bob WITH PASSWORD 'x'"] {
        let a = query(&g, q, &[]);
        assert_eq!((a.status, error(&a).as_str()), (403, "error authorizing query: create admin user first or disable authentication"), "{q}");
    }
    assert_eq!(g.write("prometheus", &w).status, 403);
    assert_eq!(query(&g, "CREATE USER admin WITH PASSWORD 'Adm1n-pass' WITH ALL PRIVILEGES", &[]).status, 200);

    // Without credentials, or with wrong ones: 401 everywhere.
    let read_body = write_body(&w); // any body: auth is checked first
    for (path, body) in [
        ("/query?q=SHOW%20DATABASES", &b""[..]),
        ("/write?db=prometheus", &b"cpu value=1"[..]),
        ("/api/v1/prom/write?db=prometheus", &read_body[..]),
        ("/api/v1/write", &read_body[..]),
        ("/api/v1/prom/read?db=prometheus", &read_body[..]),
        ("/api/v1/read", &read_body[..]),
    ] {
        let a = g.post(path, &[], body);
        assert_eq!((a.status, error(&a).as_str()), (401, "unable to parse authentication credentials"), "{path}");
        assert_eq!(a.header("www-authenticate"), Some("Basic realm=\"gemini\""), "{path}");
        let a = g.post(&format!("{path}{}u=admin&p=wrong", if path.contains('?') { "&" } else { "?" }), &[], body);
        assert_eq!((a.status, error(&a).as_str()), (401, "authorization failed"), "{path}");
    }

    let admin = [("Authorization", "Token admin:Adm1n-pass")];
    let setup = "CREATE DATABASE other; CREATE USER reader WITH PASSWORD 'r-pass'; GRANT READ ON prometheus TO reader; CREATE USER writer WITH PASSWORD 'w-pass'; GRANT WRITE ON prometheus TO writer";
    assert_eq!(query(&g, setup, &admin).status, 200);

    let writer = basic("writer", "w-pass");
    let writer = [("Authorization", writer.as_str())];
    assert_eq!(g.post("/write?db=prometheus&precision=ms", &writer, format!("cpu,host=a value=2 {T0}").as_bytes()).status, 204);
    let a = g.post("/write?db=prometheus&u=reader&p=r-pass", &[], b"cpu value=1");
    assert_eq!((a.status, error(&a).as_str()), (403, "\"reader\" user is not authorized to write to database \"prometheus\""));
    let a = query(&g, "SELECT * FROM cpu", &writer);
    assert_eq!((a.status, error(&a).as_str()), (403, "error authorizing query: writer not authorized to execute statement 'SELECT * FROM cpu', requires READ on prometheus"));
    let a = g.post("/api/v1/prom/read?db=prometheus", &[("Authorization", writer[0].1)], &read_body);
    assert_eq!((a.status, error(&a).as_str()), (403, "\"writer\" user is not authorized to read from database \"prometheus\""));

    let reader = [("Authorization", "Token reader:r-pass")];
    let a = query(&g, "SELECT value FROM cpu; SHOW DATABASES", &reader);
    assert_eq!(a.status, 200, "{}", a.text());
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(v["results"][0]["series"][0]["values"], serde_json::json!([["2023-11-14T22:13:20Z", 2]]));
    assert_eq!(v["results"][1]["series"][0]["values"], serde_json::json!([["prometheus"]]), "a reader sees only its databases");
    let a = query(&g, "CREATE DATABASE mine", &reader);
    assert_eq!((a.status, error(&a).as_str()), (403, "error authorizing query: reader not authorized to execute statement 'CREATE DATABASE mine', requires admin privilege"));
    let a = query(&g, "SET PASSWORD FOR reader = 'sneaky'", &reader);
    assert!(error(&a).contains("SET PASSWORD FOR reader = [REDACTED]") && !a.text().contains("sneaky"), "{}", a.text());

    let a = query(&g, "SHOW USERS; SHOW GRANTS FOR reader", &admin);
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(v["results"][0]["series"][0]["values"], serde_json::json!([["admin", true], ["reader", false], ["writer", false]]));
    assert_eq!(v["results"][1]["series"][0]["values"], serde_json::json!([["prometheus", "READ"]]));

    // Password change, revoke and drop take effect at once.
    assert_eq!(query(&g, "SET PASSWORD FOR reader = 'r-pass-2'; REVOKE WRITE ON prometheus FROM writer; DROP USER nobody", &admin).status, 200);
    assert_eq!(query(&g, "SHOW DATABASES", &reader).status, 401);
    assert_eq!(query(&g, "SHOW DATABASES", &[("Authorization", "Token reader:r-pass-2")]).status, 200);
    assert_eq!(g.post("/write?db=prometheus", &writer, b"cpu value=3").status, 403);

    // Users survive a restart; the password is stored hashed, never in the clear.
    g.terminate();
    g.restart();
    assert_eq!(query(&g, "SHOW USERS", &admin).status, 200);
    assert_eq!(query(&g, "SHOW USERS", &[]).status, 401);
    g.terminate();
    for entry in walk(&dir.path().join("rocksdb")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!bytes.windows(10).any(|w| w == b"Adm1n-pass"), "plaintext password in {}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[test]
fn protected_metrics_and_an_admin_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("GEMINI_ADMIN_PASSWORD", "from-env");
    let g = Gemini::start(dir.path(), &["--auth-enabled", "--auth-protect-metrics", "--admin-user", "root"]);
    assert_eq!(g.get("/metrics").status, 401);
    assert_eq!(g.get("/metrics?u=root&p=from-env").status, 200);
    assert_eq!(g.get("/health").status, 200);
}

fn influx(g: &Gemini, user: &str, password: &str, command: &str) -> (bool, String) {
    let mut args = vec!["-precision", "rfc3339", "-database", "prometheus", "-execute", command];
    if !user.is_empty() {
        args.extend(["-username", user, "-password", password]);
    }
    g.influx(&args)
}

#[test]
fn influx_cli_manages_users_grants_and_reads_as_a_reader() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--auth-enabled", "--databases", ""]);
    let ok = |user: &str, password: &str, command: &str| {
        let (ok, out) = influx(&g, user, password, command);
        assert!(ok && !out.contains("ERR"), "{command}: {out}");
        out
    };
    ok("", "", "CREATE USER admin WITH PASSWORD 'a' WITH ALL PRIVILEGES");
    ok("admin", "a", "CREATE DATABASE prometheus");
    ok("admin", "a", "CREATE USER grafana WITH PASSWORD 'g'");
    ok("admin", "a", "GRANT READ ON prometheus TO grafana");
    assert_eq!(words(&ok("admin", "a", "SHOW USERS")), vec!["user admin", "---- -----", "admin true", "grafana false"]);
    assert_eq!(words(&ok("admin", "a", "SHOW GRANTS FOR grafana")), vec!["database privilege", "-------- ---------", "prometheus READ"]);

    let samples: Vec<(i64, f64)> = (0..8).map(|i| (T0 + i * 15_000, i as f64)).collect();
    let w = proto::prometheus::WriteRequest { timeseries: vec![series(&[("__name__", "requests"), ("job", "api")], &samples)], metadata: vec![] };
    let a = g.post("/api/v1/prom/write?db=prometheus&u=admin&p=a", &PROTO_HEADERS, &write_body(&w));
    assert_eq!(a.status, 204, "{}", a.text());
    let select = "SELECT sum(value) FROM requests WHERE time >= '2023-11-14T22:13:00Z' AND time < '2023-11-14T22:16:00Z' GROUP BY time(1m)";
    assert_eq!(
        words(&ok("grafana", "g", select)),
        vec!["name: requests", "time sum", "---- ---", "2023-11-14T22:13:00Z 3", "2023-11-14T22:14:00Z 18", "2023-11-14T22:15:00Z 7"]
    );
    let (_, out) = influx(&g, "grafana", "g", "DROP DATABASE prometheus");
    assert!(out.contains("requires admin privilege"), "{out}");
    let (_, out) = influx(&g, "grafana", "wrong", "SHOW DATABASES");
    assert!(out.contains("authorization failed"), "{out}");
}

#[test]
fn prometheus_remote_writes_with_url_credentials_and_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--auth-enabled", "--databases", "via_url,via_basic"]);
    assert_eq!(query(&g, "CREATE USER admin WITH PASSWORD 'a' WITH ALL PRIVILEGES", &[]).status, 200);
    let setup = "CREATE USER prom WITH PASSWORD 'p@ss word'; GRANT WRITE ON via_url TO prom; GRANT WRITE ON via_basic TO prom";
    assert_eq!(query(&g, setup, &[("Authorization", "Token admin:a")]).status, 200);
    let _prometheus = self_scraping_prometheus(&format!(
        r#"  - url: "http://127.0.0.1:{port}/api/v1/prom/write?db=via_url&u=prom&p=p%40ss%20word"
    queue_config: {{batch_send_deadline: 1s}}
  - url: "http://127.0.0.1:{port}/api/v1/prom/write?db=via_basic"
    basic_auth: {{username: prom, password: "p@ss word"}}
    queue_config: {{batch_send_deadline: 1s}}
"#,
        port = g.port
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    for db in ["via_url", "via_basic"] {
        loop {
            let a = g.post(&format!("/query?db={db}&q={}", urlencode("SELECT count(value) FROM up")), &[("Authorization", "Token admin:a")], b"");
            let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
            if v["results"][0]["series"][0]["values"][0][1].as_f64().unwrap_or(0.0) >= 2.0 {
                break;
            }
            assert!(Instant::now() < deadline, "no samples reached {db}: {v}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
