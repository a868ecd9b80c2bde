//! The shipped edge, `deploy/nginx.conf`, run by Debian's nginx (installed by
//! `scripts/setup --test`) for the tests that put instances behind it.

use std::{path::Path, time::Duration};

/// nginx running `deploy/nginx.conf`, rewritten only for its ports, upstream addresses and
/// folders, in the foreground; stopped when dropped.
pub struct Nginx {
    pub base: String,
    process: tokio::process::Child,
}

impl Nginx {
    /// Starts it on a free port of 127.0.0.1 in front of `upstreams` (`address:port`).
    pub async fn start(folder: &Path, upstreams: [String; 2]) -> Self {
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nginx.conf"),
        )
        .expect("deploy/nginx.conf");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let folder = folder.display().to_string();
        let mut config = shipped.clone();
        for (from, to) in [
            (
                "worker_processes auto;".to_string(),
                format!(
                    "worker_processes 1;\nuser root;\npid {folder}/nginx.pid;\n\
                     error_log {folder}/nginx-error.log warn;"
                ),
            ),
            (
                "http {".to_string(),
                format!(
                    "http {{\n    client_body_temp_path {folder}/body;\n    \
                     proxy_temp_path {folder}/proxy;\n    fastcgi_temp_path {folder}/fastcgi;\n    \
                     uwsgi_temp_path {folder}/uwsgi;\n    scgi_temp_path {folder}/scgi;"
                ),
            ),
            (
                "server 127.0.0.1:3000 ".to_string(),
                format!("server {} ", upstreams[0]),
            ),
            (
                "server 127.0.0.1:3001 ".to_string(),
                format!("server {} ", upstreams[1]),
            ),
            (
                "/var/cache/nginx/flashbulb".to_string(),
                format!("{folder}/edge"),
            ),
            (
                "listen 80;".to_string(),
                format!("listen 127.0.0.1:{port};"),
            ),
        ] {
            assert_eq!(
                shipped.matches(&from).count(),
                1,
                "deploy/nginx.conf changed: {from:?} is not there once"
            );
            config = config.replacen(&from, &to, 1);
        }
        let path = format!("{folder}/nginx.conf");
        std::fs::write(&path, config).expect("write the nginx configuration");
        let process = tokio::process::Command::new("nginx")
            .args(["-p", &folder, "-c", &path, "-g", "daemon off;"])
            .kill_on_drop(true)
            .spawn()
            .expect("nginx (Debian's nginx-light, installed by scripts/setup --test) runs");
        let base = format!("http://127.0.0.1:{port}");
        let address = format!("127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(&address).await.is_err() {
            let log =
                std::fs::read_to_string(format!("{folder}/nginx-error.log")).unwrap_or_default();
            assert!(
                std::time::Instant::now() < deadline,
                "nginx did not start: {log}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self { base, process }
    }
}

impl Drop for Nginx {
    /// A fast shutdown through the master, which stops its worker and cache processes: killed
    /// outright, the master would leave them running, holding the port and the test's output.
    fn drop(&mut self) {
        let Some(pid) = self.process.id() else {
            return;
        };
        // SAFETY: a signal to the process this test started and has not yet reaped.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while matches!(self.process.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
