//! One LDAP session: reads messages with `ldap3_proto`'s codec, answers each in order, and
//! holds who the session is bound as. Writes are refused (the IdP is where identities
//! change); Bind, Search, WhoAmI and StartTLS are served; anything undecodable ends the
//! session with a notice of disconnection, never a panic.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use ldap3_proto::proto::{
    LdapBindResponse, LdapExtendedResponse, LdapMsg, LdapOp, LdapResult, LdapResultCode,
};
use ldap3_proto::simple::DisconnectionNotice;
use tokio_util::codec::{Decoder, Encoder, Framed};

use super::{Ctx, Stream};
use crate::service::ldap::Directory;
use crate::service::request_log::{Capture, Field};

/// The WhoAmI extended operation (RFC 4532).
pub const OID_WHOAMI: &str = "1.3.6.1.4.1.4203.1.11.3";
/// The StartTLS extended operation (RFC 4511 §4.14.1).
pub const OID_STARTTLS: &str = "1.3.6.1.4.1.1466.20037";

/// Who a session is bound as.
#[derive(Debug, Clone, Default)]
pub enum Bound {
    #[default]
    Anonymous,
    Account {
        dir: Directory,
        name: String,
        dn: String,
    },
    User {
        dir: Directory,
        user_name: String,
        id: String,
        dn: String,
    },
}

impl Bound {
    pub fn directory(&self) -> Option<&Directory> {
        match self {
            Bound::Anonymous => None,
            Bound::Account { dir, .. } | Bound::User { dir, .. } => Some(dir),
        }
    }

    pub fn dn(&self) -> &str {
        match self {
            Bound::Anonymous => "",
            Bound::Account { dn, .. } | Bound::User { dn, .. } => dn,
        }
    }
}

/// One session's state.
pub struct Session {
    pub ctx: Arc<Ctx>,
    pub peer: SocketAddr,
    pub bound: Bound,
    pub tls: bool,
}

pub type Conn = Framed<Stream, Codec>;

fn codec(ctx: &Ctx) -> Codec {
    Codec {
        inner: LdapCodec::new(Some(ctx.config.max_request_bytes), None),
        max: ctx.config.max_request_bytes,
    }
}

/// `ldap3_proto`'s codec behind a check of the length a message announces: the codec alone
/// waits for a message as long as its first bytes claim (up to twice the limit) before it
/// refuses it; this refuses it from its first six bytes.
pub struct Codec {
    inner: LdapCodec,
    max: usize,
}

impl Decoder for Codec {
    type Item = LdapMsg;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<LdapMsg>, Self::Error> {
        if announced_len(buf).is_some_and(|n| n > self.max) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "message longer than ldap.max_request_bytes",
            ));
        }
        self.inner.decode(buf)
    }
}

impl Encoder<LdapMsg> for Codec {
    type Error = std::io::Error;

    fn encode(&mut self, msg: LdapMsg, buf: &mut BytesMut) -> Result<(), Self::Error> {
        self.inner.encode(msg, buf)
    }
}

/// The total length a BER element at the start of `buf` announces (tag, length, contents),
/// once its length octets have arrived; `usize::MAX` for the indefinite form, which LDAP
/// does not allow (RFC 4511 §5.1).
fn announced_len(buf: &[u8]) -> Option<usize> {
    let first = *buf.get(1)?;
    if first < 0x80 {
        return Some(2 + usize::from(first));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 8 {
        return Some(usize::MAX);
    }
    let octets = buf.get(2..2 + n)?;
    let len = octets.iter().fold(0usize, |acc, b| {
        acc.saturating_mul(256).saturating_add(usize::from(*b))
    });
    Some(len.saturating_add(2 + n))
}

/// Serves one connection until the client unbinds or leaves, or the server shuts down.
pub async fn serve(stream: Stream, peer: SocketAddr, ctx: Arc<Ctx>, shutdown: rocket::Shutdown) {
    let tls = matches!(stream, Stream::Tls(_));
    let mut conn = Framed::new(stream, codec(&ctx));
    let mut session = Session {
        ctx,
        peer,
        bound: Bound::Anonymous,
        tls,
    };
    let mut shutdown = std::pin::pin!(shutdown);
    let idle = std::time::Duration::from_secs(session.ctx.config.idle_timeout_secs);
    loop {
        let next = rocket::tokio::select! {
            m = rocket::tokio::time::timeout(idle, conn.next()) => match m {
                Ok(m) => m,
                Err(_) => {
                    let notice = DisconnectionNotice::gen_response(
                        LdapResultCode::Unavailable,
                        "idle longer than ldap.idle_timeout_secs",
                    );
                    let _ = conn.send(notice).await;
                    return;
                }
            },
            () = &mut shutdown => {
                let notice = DisconnectionNotice::gen_response(LdapResultCode::Unavailable, "scimd is shutting down");
                let _ = conn.send(notice).await;
                return;
            }
        };
        let msg = match next {
            None => return,
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                tracing::debug!("LDAP: undecodable message from {peer}: {e}");
                session.count("decode", &LdapResultCode::ProtocolError);
                let notice = DisconnectionNotice::gen_response(
                    LdapResultCode::ProtocolError,
                    "the message is not valid LDAP (BER) or exceeds ldap.max_request_bytes",
                );
                let _ = conn.send(notice).await;
                return;
            }
        };
        match session.dispatch(msg, &mut conn).await {
            Next::Continue => {}
            Next::Close => return,
            Next::StartTls(msgid) => match start_tls(&session, conn, msgid).await {
                Some(upgraded) => {
                    conn = upgraded;
                    session.tls = true;
                }
                None => return,
            },
        }
    }
}

/// What the loop does after an operation.
pub enum Next {
    Continue,
    Close,
    /// Answer StartTLS with success, then handshake.
    StartTls(i32),
}

/// Answers StartTLS and turns the connection into a TLS one; `None` ends the session.
async fn start_tls(session: &Session, mut conn: Conn, msgid: i32) -> Option<Conn> {
    let acceptor = session.ctx.tls.clone()?;
    let ok = extended(msgid, LdapResultCode::Success, "", None);
    conn.send(ok).await.ok()?;
    let parts = conn.into_parts();
    // Nothing may follow the request before the handshake (RFC 4511 §4.14.1).
    if !parts.read_buf.is_empty() {
        return None;
    }
    let Stream::Plain(tcp) = parts.io else {
        return None;
    };
    match acceptor.accept(tcp).await {
        Ok(tls) => Some(Framed::new(Stream::Tls(Box::new(tls)), codec(&session.ctx))),
        Err(e) => {
            tracing::debug!("StartTLS handshake with {} failed: {e}", session.peer);
            None
        }
    }
}

pub fn result(code: LdapResultCode, message: &str) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.to_owned(),
        referral: Vec::new(),
    }
}

fn extended(msgid: i32, code: LdapResultCode, message: &str, value: Option<Vec<u8>>) -> LdapMsg {
    LdapMsg {
        msgid,
        op: LdapOp::ExtendedResponse(LdapExtendedResponse {
            res: result(code, message),
            name: None,
            value,
        }),
        ctrl: Vec::new(),
    }
}

/// What a write operation is told.
pub const READ_ONLY: &str = "this directory is read-only: scimd serves the users and groups your identity provider provisions over SCIM; make changes in the IdP (Okta, Entra ID, …) and they appear here";

impl Session {
    /// Counts an operation's outcome on /metrics.
    pub fn count(&self, op: &str, code: &LdapResultCode) {
        self.ctx
            .operations
            .with_label_values(&[op, code_name(code)])
            .inc();
    }

    /// Records a failed operation in the request log with its diagnosis (never a password).
    pub fn record_failure(
        &self,
        method: &'static str,
        tenant: Option<&str>,
        dn: &str,
        status: u16,
        detail: &str,
        started: Instant,
    ) {
        let log = &self.ctx.log;
        if !log.enabled() {
            return;
        }
        // Anyone can send failing binds: like SCIM requests without a known token, they are
        // logged in full up to `request_log.anonymous_per_minute` per tenant and status.
        let known = method != "BIND" && !matches!(self.bound, Bound::Anonymous);
        if !known && !log.admit_anonymous(tenant.unwrap_or_default(), status) {
            return;
        }
        let cap = log.field_cap();
        let mut parts = log.buffer(256 + detail.len());
        parts.set_capped(Field::Path, &format!("ldap:///{dn}"), cap);
        if let Some(t) = tenant {
            parts.set_capped(Field::Tenant, t, cap);
        }
        parts.set_capped(Field::UserAgent, "LDAP client", cap);
        let body = serde_json::json!({ "detail": detail, "status": status.to_string() });
        parts.set_body(
            Field::ResponseBody,
            body.to_string().as_bytes(),
            log.body_cap(),
        );
        log.submit(Capture {
            time: Some(crate::clock::now()),
            method,
            client_ip: Some(self.peer.ip()),
            status,
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
            parts,
            ..Capture::default()
        });
    }

    async fn dispatch(&mut self, msg: LdapMsg, conn: &mut Conn) -> Next {
        let msgid = msg.msgid;
        let ctrl = msg.ctrl;
        let reply = |op| LdapMsg {
            msgid,
            op,
            ctrl: Vec::new(),
        };
        let refuse = |what: &str| {
            let r = result(LdapResultCode::UnwillingToPerform, READ_ONLY);
            tracing::debug!("LDAP {what} refused");
            r
        };
        let out = match msg.op {
            LdapOp::BindRequest(req) => {
                let response = super::bind::bind(self, req).await;
                self.count("bind", &response.code);
                reply(LdapOp::BindResponse(LdapBindResponse {
                    res: response,
                    saslcreds: None,
                }))
            }
            LdapOp::SearchRequest(req) => {
                let done = super::search::search(self, msgid, req, &ctrl, conn).await;
                return if done { Next::Continue } else { Next::Close };
            }
            LdapOp::UnbindRequest => return Next::Close,
            LdapOp::AbandonRequest(_) => return Next::Continue,
            LdapOp::ModifyRequest(_) => {
                self.count("modify", &LdapResultCode::UnwillingToPerform);
                reply(LdapOp::ModifyResponse(refuse("modify")))
            }
            LdapOp::AddRequest(_) => {
                self.count("add", &LdapResultCode::UnwillingToPerform);
                reply(LdapOp::AddResponse(refuse("add")))
            }
            LdapOp::DelRequest(_) => {
                self.count("delete", &LdapResultCode::UnwillingToPerform);
                reply(LdapOp::DelResponse(refuse("delete")))
            }
            LdapOp::ModifyDNRequest(_) => {
                self.count("moddn", &LdapResultCode::UnwillingToPerform);
                reply(LdapOp::ModifyDNResponse(refuse("modify DN")))
            }
            LdapOp::CompareRequest(req) => {
                let value = String::from_utf8_lossy(&req.val).into_owned();
                let res = super::search::compare_entry(self, &req.dn, &req.atype, &value).await;
                self.count("compare", &res.code);
                reply(LdapOp::CompareResult(res))
            }
            LdapOp::ExtendedRequest(req) => match req.name.as_str() {
                OID_WHOAMI => {
                    self.count("whoami", &LdapResultCode::Success);
                    let authz = match &self.bound {
                        Bound::Anonymous => String::new(),
                        b => format!("dn:{}", b.dn()),
                    };
                    extended(msgid, LdapResultCode::Success, "", Some(authz.into_bytes()))
                }
                OID_STARTTLS if self.ctx.tls.is_some() && !self.tls => {
                    self.count("starttls", &LdapResultCode::Success);
                    return Next::StartTls(msgid);
                }
                OID_STARTTLS => extended(
                    msgid,
                    LdapResultCode::Unavailable,
                    if self.tls {
                        "TLS is already established"
                    } else {
                        "StartTLS needs [tls] (certs and key) in scimd's configuration"
                    },
                    None,
                ),
                other => extended(
                    msgid,
                    LdapResultCode::ProtocolError,
                    &format!(
                        "extended operation {other} is not supported (WhoAmI and StartTLS are)"
                    ),
                    None,
                ),
            },
            _ => {
                let notice = DisconnectionNotice::gen_response(
                    LdapResultCode::ProtocolError,
                    "a client sent a server's message",
                );
                let _ = conn.send(notice).await;
                return Next::Close;
            }
        };
        if conn.send(out).await.is_err() {
            return Next::Close;
        }
        Next::Continue
    }
}

/// A result code as a fixed metric label.
pub fn code_name(code: &LdapResultCode) -> &'static str {
    match code {
        LdapResultCode::Success => "success",
        LdapResultCode::InvalidCredentials => "invalidCredentials",
        LdapResultCode::InappropriateAuthentication => "inappropriateAuthentication",
        LdapResultCode::UnwillingToPerform => "unwillingToPerform",
        LdapResultCode::NoSuchObject => "noSuchObject",
        LdapResultCode::SizeLimitExceeded => "sizeLimitExceeded",
        LdapResultCode::TimeLimitExceeded => "timeLimitExceeded",
        LdapResultCode::InsufficentAccessRights => "insufficientAccessRights",
        LdapResultCode::ProtocolError => "protocolError",
        LdapResultCode::Busy => "busy",
        LdapResultCode::AuthMethodNotSupported => "authMethodNotSupported",
        LdapResultCode::OperationsError => "operationsError",
        LdapResultCode::UnavailableCriticalExtension => "unavailableCriticalExtension",
        LdapResultCode::AdminLimitExceeded => "adminLimitExceeded",
        LdapResultCode::CompareTrue => "compareTrue",
        LdapResultCode::CompareFalse => "compareFalse",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announced_lengths_are_read_from_the_length_octets() {
        assert_eq!(announced_len(&[0x30]), None);
        assert_eq!(announced_len(&[0x30, 0x05]), Some(7));
        assert_eq!(announced_len(&[0x30, 0x82, 0x01]), None);
        assert_eq!(announced_len(&[0x30, 0x82, 0x01, 0x00]), Some(260));
        assert_eq!(announced_len(&[0x30, 0x80]), Some(usize::MAX));
        assert_eq!(
            announced_len(&[0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Some(usize::MAX)
        );
    }
}
