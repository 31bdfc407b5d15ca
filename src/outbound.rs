//! The one outbound HTTP(S) client of scimd: webhook deliveries today, `scimd doctor` and OAuth
//! JWKS fetches later. Blocking (ureq 3 over the rustls already in the tree), so it runs on a
//! dedicated thread or in the CLI, never on an async worker. Every call has a connect and a
//! total timeout, follows no redirect (a 3xx is returned as it is), reads at most an excerpt of
//! the response, and says who calls with a `User-Agent`.
//!
//! Root certificates: the system store when the host has one (`rustls-native-certs`), so a
//! company CA installed on the VM is trusted; otherwise the Mozilla roots compiled into the
//! binary (webpki-roots), which is what the `FROM scratch` container has.

use std::io::Read;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ureq3 as ureq;

/// `scimd/<version>`, sent on every outbound request.
pub const USER_AGENT: &str = concat!("scimd/", env!("CARGO_PKG_VERSION"));

/// The bounds of an outbound call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub connect_timeout: Duration,
    /// The whole call: connect, send, the response head and the excerpt.
    pub timeout: Duration,
    /// Most bytes of the response body read and kept.
    pub excerpt_bytes: usize,
}

/// A client with fixed limits; cheap to clone, keeps connections alive between calls.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    limits: Limits,
}

/// The methods scimd sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// What came back: the status, the headers a caller may need, the start of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// `Retry-After`, as sent.
    pub retry_after: Option<String>,
    /// `Location` of a redirect, which is not followed.
    pub location: Option<String>,
    /// The first `excerpt_bytes` of the body, lossily decoded.
    pub excerpt: String,
    pub latency: Duration,
}

/// Why a call got no HTTP answer (DNS, connect, TLS, timeout): a sentence for the admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub message: String,
    pub latency: Duration,
}

impl Client {
    pub fn new(limits: Limits) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(limits.connect_timeout))
            .timeout_global(Some(limits.timeout))
            .max_redirects(0)
            .max_redirects_will_error(false)
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(root_certs())
                    .build(),
            )
            .build();
        Self {
            agent: config.into(),
            limits,
        }
    }

    /// POSTs `body` with `headers` to `url`; any HTTP status is an [`Answer`].
    pub fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, Failure> {
        self.send(Method::Post, url, headers, body)
    }

    /// GETs `url` with `headers` (a JWKS, a health probe); any HTTP status is an [`Answer`].
    pub fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Answer, Failure> {
        self.send(Method::Get, url, headers, &[])
    }

    /// Sends `method` to `url` with `headers` and, for POST, PUT and PATCH, `body` (the doctor's
    /// replay of IdP requests); any HTTP status is an [`Answer`].
    pub fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, Failure> {
        let started = Instant::now();
        macro_rules! with_headers {
            ($request:expr) => {{
                let mut request = $request;
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                request
            }};
        }
        let sent = match method {
            Method::Get => with_headers!(self.agent.get(url)).call(),
            Method::Delete => with_headers!(self.agent.delete(url)).call(),
            Method::Post => with_headers!(self.agent.post(url)).send(body),
            Method::Put => with_headers!(self.agent.put(url)).send(body),
            Method::Patch => with_headers!(self.agent.patch(url)).send(body),
        };
        let response = sent.map_err(|e| failed(&e, started))?;
        Ok(self.answer(response, started))
    }

    fn answer(&self, response: ureq::http::Response<ureq::Body>, started: Instant) -> Answer {
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (retry_after, location) = (header("retry-after"), header("location"));
        let mut excerpt = Vec::new();
        let limit = u64::try_from(self.limits.excerpt_bytes).unwrap_or(u64::MAX);
        // An unreadable body is still an answer: the status is what counts.
        let _ = response
            .into_body()
            .into_reader()
            .take(limit)
            .read_to_end(&mut excerpt);
        Answer {
            status,
            retry_after,
            location,
            excerpt: String::from_utf8_lossy(&excerpt).into_owned(),
            latency: started.elapsed(),
        }
    }
}

fn failed(e: &ureq::Error, started: Instant) -> Failure {
    Failure {
        message: describe(e),
        latency: started.elapsed(),
    }
}

/// The system store's roots if it has any, else the bundled Mozilla roots; loaded once.
fn root_certs() -> ureq::tls::RootCerts {
    static ROOTS: OnceLock<ureq::tls::RootCerts> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                return ureq::tls::RootCerts::WebPki;
            }
            let certs = found
                .certs
                .iter()
                .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
                .collect();
            ureq::tls::RootCerts::Specific(Arc::new(certs))
        })
        .clone()
}

/// The error as the admin reads it: what failed, without ureq's type names.
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(what) => format!("timed out ({what})"),
        ureq::Error::HostNotFound => "the host name does not resolve".into(),
        ureq::Error::ConnectionFailed => "the connection was refused or failed".into(),
        ureq::Error::Io(io) => format!("connection error: {io}"),
        ureq::Error::BadUri(u) => format!("not a valid URL: {u}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn limits() -> Limits {
        Limits {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            excerpt_bytes: 8,
        }
    }

    /// Answers one request with `response` and returns what it received.
    fn serve_once(response: &'static str) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut got = vec![0u8; 4096];
            let n = conn.read(&mut got).expect("read");
            conn.write_all(response.as_bytes()).expect("write");
            String::from_utf8_lossy(&got[..n]).into_owned()
        });
        (url, handle)
    }

    #[test]
    fn a_redirect_is_returned_not_followed_and_the_body_is_cut_to_the_excerpt() {
        let (url, server) = serve_once(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 20\r\nConnection: close\r\n\r\n0123456789abcdefghij",
        );
        let answer = Client::new(limits())
            .post(&url, &[("x-test", "1")], b"{}")
            .expect("an answer");
        assert_eq!(answer.status, 307);
        assert_eq!(
            answer.location.as_deref(),
            Some("http://127.0.0.1:1/elsewhere")
        );
        assert_eq!(answer.excerpt, "01234567");
        let request = server.join().expect("server");
        let lower = request.to_ascii_lowercase();
        assert!(
            lower.contains(&format!("user-agent: {USER_AGENT}")),
            "{request}"
        );
        assert!(lower.contains("x-test: 1"), "{request}");
    }

    #[test]
    fn a_get_returns_the_status_and_the_excerpt() {
        let (url, server) = serve_once(
            "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"keys\":[]}",
        );
        let answer = Client::new(limits()).get(&url, &[]).expect("an answer");
        assert_eq!(
            (answer.status, answer.excerpt.as_str()),
            (200, "{\"keys\":")
        );
        assert!(server.join().expect("server").starts_with("GET /hook"));
    }

    #[test]
    fn no_listener_is_a_failure_with_a_sentence() {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let failure = Client::new(limits())
            .post(&format!("http://127.0.0.1:{port}/"), &[], b"")
            .expect_err("nothing listens");
        assert!(!failure.message.is_empty());
    }
}
