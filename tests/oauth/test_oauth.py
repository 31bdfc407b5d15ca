"""OAuth acceptance (issue 28) against the real scimd binary, with a client nobody here wrote:
authlib's requests integration (`OAuth2Session`) fetches tokens by the client credentials
grant and sends the SCIM requests with them.

- client_secret_basic and client_secret_post, token endpoint discovered from RFC 8414 metadata
- private_key_jwt with a registered PEM key (RS256) and with a JWKS URL served here (ES256)
- refusals, each with its diagnosis: a replayed assertion (authlib sending the same jti twice),
  an expired access token, a token of another tenant, a revoked client (token and client)
- the authorization code grant (Okta's "OAuth 2" mode) with PKCE: authlib builds the
  authorization URL, an admin signed in through the real admin login API consents as the UI's
  consent page does, authlib exchanges the code, refreshes, and a reused refresh token
  revokes the grant

Usage: test_oauth.py PATH_TO_SCIMD FIXTURES_DIR
"""

# profile-row: IPSIE-AUTH-1
# profile-row: IPSIE-AUTH-2
# profile-row: IPSIE-AUTH-3
# profile-row: IPSIE-AUTH-7
# profile-row: IPSIE-AUTH-8
# profile-row: IPSIE-AUTH-9

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.common.security import generate_token
from joserfc.jwk import ECKey

SCIMD = sys.argv[1]
FIXTURES = sys.argv[2]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


class Scimd:
    def __init__(self, work, db, **env):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.work = work
        self.env = dict(
            os.environ,
            SCIMD_DATABASE=db,
            SCIMD_PORT=str(self.port),
            SCIMD_ADDRESS="127.0.0.1",
            SCIMD_OAUTH__ALLOW_HTTP_JWKS="true",
            RUST_LOG="warn",
            **env,
        )
        self.proc = None

    def cli(self, *args):
        out = subprocess.run([SCIMD, *args], env=self.env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"scimd {' '.join(args)} failed: {out.stderr}")
        return out.stdout.strip()

    def start(self):
        log = open(os.path.join(self.work, f"server-{self.port}.log"), "ab")
        self.proc = subprocess.Popen([SCIMD, "serve"], env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.base}/healthz", timeout=2)
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("scimd exited at start")
                time.sleep(0.1)
        raise RuntimeError("scimd did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def jwks_server(body):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/jwk-set+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def scim_detail(resp):
    try:
        return resp.json().get("detail", "")
    except ValueError:
        return resp.text


def main():
    work = tempfile.mkdtemp(prefix="scimd-oauth-")
    db = os.path.join(work, "scimd.db")
    s = Scimd(work, db)
    s.cli("tenant", "create", "acme")
    entra = json.loads(s.cli("oauth", "client", "add", "--name", "entra"))
    acme = json.loads(s.cli("oauth", "client", "add", "--tenant", "acme", "--name", "okta"))
    pub = os.path.join(work, "rsa.pub.pem")
    with open(pub, "w") as f:
        f.write(fixture("test-only-rsa.pub.pem"))
    keyed = json.loads(
        s.cli("oauth", "client", "add", "--name", "batch", "--method", "private-key-jwt",
              "--public-key", pub)
    )
    jwks = jwks_server(fixture("test-only.jwks.json"))
    jwks_url = f"http://127.0.0.1:{jwks.server_address[1]}/jwks.json"
    by_url = json.loads(
        s.cli("oauth", "client", "add", "--name", "svc", "--method", "private-key-jwt",
              "--jwks-uri", jwks_url)
    )
    s.start()
    try:
        run(s, entra, acme, keyed, by_url)
        authorization_code(s)
        # An expired access token: a second server on the same database issues 1-second tokens.
        short = Scimd(work, db, SCIMD_OAUTH__ACCESS_TOKEN_LIFETIME_SECS="1")
        short.start()
        try:
            expired(short, acme)
        finally:
            short.stop()
    finally:
        s.stop()
        jwks.shutdown()
        if not failures:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"\n{len(failures)} failed:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("\nall OAuth checks passed")


def run(s, entra, acme, keyed, by_url):
    # RFC 8414 discovery (IPSIE: parameters SHOULD be discovered from the metadata).
    meta = requests.get(f"{s.base}/.well-known/oauth-authorization-server/oauth", timeout=10).json()
    token_url = meta["token_endpoint"]
    check(token_url == f"{s.base}/oauth/token", f"metadata names the token endpoint {token_url}")
    check("private_key_jwt" in meta["token_endpoint_auth_methods_supported"], "metadata offers private_key_jwt")
    users = f"{s.base}/scim/v2/Users"

    # client_secret_basic
    sess = OAuth2Session(entra["client_id"], entra["client_secret"], scope="scim",
                         token_endpoint_auth_method="client_secret_basic")
    tok = sess.fetch_token(token_url, grant_type="client_credentials")
    check(tok["token_type"] == "Bearer" and tok["scope"] == "scim" and tok["expires_in"] == 3600,
          "client_secret_basic: a Bearer token with scope scim, 3600 s")
    r = sess.post(users, json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                              "userName": "ada@example.com", "active": True},
                  headers={"Content-Type": "application/scim+json"}, timeout=10)
    check(r.status_code == 201, f"SCIM POST /Users with the access token: {r.status_code}")
    r = sess.get(users, params={"filter": 'userName eq "ada@example.com"'}, timeout=10)
    check(r.status_code == 200 and r.json()["totalResults"] == 1, "SCIM GET /Users?filter= finds the user")

    # client_secret_post
    post = OAuth2Session(entra["client_id"], entra["client_secret"],
                         token_endpoint_auth_method="client_secret_post")
    post.fetch_token(token_url, grant_type="client_credentials")
    check(post.get(users, timeout=10).status_code == 200, "client_secret_post: token works on SCIM")

    # A wrong secret: RFC 6749 invalid_client.
    bad = OAuth2Session(entra["client_id"], "scimcs_wrong", token_endpoint_auth_method="client_secret_basic")
    try:
        bad.fetch_token(token_url, grant_type="client_credentials")
        check(False, "a wrong secret is refused")
    except OAuthError as e:
        check(e.error == "invalid_client" and "secret is wrong" in (e.description or ""),
              f"a wrong secret: invalid_client, {e.description}")

    # private_key_jwt, registered PEM key, RS256 (authlib signs, with a fresh jti each time).
    pk = OAuth2Session(keyed["client_id"], fixture("test-only-rsa.pem"),
                       token_endpoint_auth_method="private_key_jwt")
    pk.register_client_auth_method(PrivateKeyJWT(token_url))
    pk.fetch_token(token_url, grant_type="client_credentials")
    check(pk.get(users, timeout=10).status_code == 200, "private_key_jwt (registered key, RS256): token works on SCIM")
    pk.fetch_token(token_url, grant_type="client_credentials")
    check(True, "private_key_jwt: a second assertion (new jti) gets a second token")

    # private_key_jwt, key fetched from the client's JWKS URL, ES256 with a kid.
    es = OAuth2Session(by_url["client_id"], ECKey.import_key(fixture("test-only-ec.pem")),
                       token_endpoint_auth_method="private_key_jwt")
    es.register_client_auth_method(PrivateKeyJWT(token_url, headers={"kid": "ec-1"}, alg="ES256"))
    es.fetch_token(token_url, grant_type="client_credentials")
    check(es.get(users, timeout=10).status_code == 200, "private_key_jwt (JWKS URL, ES256): token works on SCIM")

    # A replayed assertion: authlib told to reuse one jti sends the same assertion id twice.
    replay = OAuth2Session(keyed["client_id"], fixture("test-only-rsa.pem"),
                           token_endpoint_auth_method="private_key_jwt")
    replay.register_client_auth_method(PrivateKeyJWT(token_url, claims={"jti": "once-only"}))
    replay.fetch_token(token_url, grant_type="client_credentials")
    try:
        replay.fetch_token(token_url, grant_type="client_credentials")
        check(False, "a replayed assertion is refused")
    except OAuthError as e:
        check(e.error == "invalid_client" and "replayed" in (e.description or ""),
              f"a replayed assertion: invalid_client, {e.description}")

    # A wrong audience.
    wrong = OAuth2Session(keyed["client_id"], fixture("test-only-rsa.pem"),
                          token_endpoint_auth_method="private_key_jwt")
    wrong.register_client_auth_method(PrivateKeyJWT("https://elsewhere.example/token"))
    try:
        wrong.fetch_token(token_url, grant_type="client_credentials")
        check(False, "an assertion for another audience is refused")
    except OAuthError as e:
        check(e.error == "invalid_client" and "wrong audience" in (e.description or ""),
              f"a wrong audience: invalid_client, {e.description}")

    # A token of another tenant.
    acme_url = f"{s.base}/t/acme/oauth/token"
    other = OAuth2Session(acme["client_id"], acme["client_secret"])
    acme_tok = other.fetch_token(acme_url, grant_type="client_credentials")
    check(other.get(f"{s.base}/t/acme/scim/v2/Users", timeout=10).status_code == 200,
          "tenant acme's client works on /t/acme/scim/v2")
    r = other.get(users, timeout=10)
    check(r.status_code == 401 and 'of tenant "acme", not "default"' in scim_detail(r),
          f"acme's token on the default tenant: 401, {scim_detail(r)}")

    # A revoked client: its live token ends at once, and it gets no new one.
    s.cli("oauth", "client", "revoke", "--tenant", "acme", "okta")
    r = requests.get(f"{s.base}/t/acme/scim/v2/Users", timeout=10,
                     headers={"Authorization": f"Bearer {acme_tok['access_token']}"})
    check(r.status_code == 401 and "was revoked" in scim_detail(r),
          f"a revoked client's token: 401, {scim_detail(r)}")
    try:
        OAuth2Session(acme["client_id"], acme["client_secret"]).fetch_token(
            acme_url, grant_type="client_credentials")
        check(False, "a revoked client gets no token")
    except OAuthError as e:
        check(e.error == "invalid_client" and "was revoked" in (e.description or ""),
              f"a revoked client at the token endpoint: invalid_client, {e.description}")

    # The request log names the clients and diagnoses the refusals, and holds no secret. Its
    # writer commits in the background: wait for the last entry.
    deadline = time.monotonic() + 60
    listed = ""
    while time.monotonic() < deadline:
        listed = s.cli("log", "list", "--limit", "100")
        if "OAuth client revoked" in listed:
            break
        time.sleep(0.5)
    check("Replayed client assertion" in listed, "the request log diagnoses the replay")
    check("OAuth client revoked" in listed, "the request log diagnoses the revoked client's token")
    check("Client assertion for another audience" in listed, "the request log diagnoses the wrong audience")
    check(entra["client_secret"] not in listed and tok["access_token"] not in listed,
          "no secret or access token in the log listing")


def authorization_code(s):
    redirect = "http://127.0.0.1:9/admin/app/cpc/scimd_1/oauth/callback"
    okta = json.loads(s.cli("oauth", "client", "add", "--name", "okta-code", "--redirect-uri", redirect))
    meta = requests.get(f"{s.base}/.well-known/oauth-authorization-server/oauth", timeout=10).json()
    check(meta["authorization_endpoint"] == f"{s.base}/oauth/authorize"
          and meta["code_challenge_methods_supported"] == ["S256"]
          and "authorization_code" in meta["grant_types_supported"]
          and "refresh_token" in meta["grant_types_supported"],
          "metadata advertises the authorization endpoint, the code and refresh grants and S256")
    token_url = meta["token_endpoint"]
    users = f"{s.base}/scim/v2/Users"
    sess = OAuth2Session(okta["client_id"], okta["client_secret"], scope="scim",
                         redirect_uri=redirect, code_challenge_method="S256",
                         token_endpoint_auth_method="client_secret_basic")
    verifier = generate_token(48)
    url, state = sess.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)

    # The admin's browser: the authorize endpoint sends it to the UI's consent page; the admin
    # signs in through the admin login API, and the page's Allow calls the consent API.
    browser = requests.Session()
    r = browser.get(url, allow_redirects=False, timeout=10)
    consent = urljoin(s.base, r.headers.get("Location", ""))
    check(r.status_code == 303 and urlsplit(consent).path == "/ui/consent",
          f"authorize sends the browser to the consent page: {r.status_code} {consent}")
    check(browser.get(consent, timeout=10).status_code == 200, "the consent page loads")
    params = parse_qsl(urlsplit(consent).query)
    tenant = dict(params)["tenant"]
    request = urlencode([(k, v) for k, v in params if k != "tenant"])
    password = s.cli("admin", "reset-password", "admin")
    login = browser.post(f"{s.base}/api/session", json={"username": "admin", "password": password}, timeout=10)
    check(login.status_code == 200, f"the admin signs in: {login.status_code}")
    csrf = login.json()["csrf_token"]
    shown = browser.get(f"{s.base}/api/tenants/{tenant}/oauth-consent?{request}", timeout=10).json()
    check(shown.get("client_name") == "okta-code" and shown.get("scope") == "scim" and shown.get("tenant") == "default",
          f"the consent page is told the client, scope and tenant: {shown}")
    answer = browser.post(f"{s.base}/api/tenants/{tenant}/oauth-consent", json={"request": request, "allow": True},
                          headers={"X-CSRF-Token": csrf}, timeout=10).json()
    callback = answer.get("redirect", "")
    check(callback.startswith(redirect + "?code=scimac_"), f"Allow answers the redirect with a code: {callback[:80]}")

    tok = sess.fetch_token(token_url, authorization_response=callback, state=state, code_verifier=verifier)
    check(tok.get("refresh_token", "").startswith("scimrt_") and tok["token_type"] == "Bearer",
          "authlib exchanges the code (with its PKCE verifier) for an access and a refresh token")
    check(sess.get(users, timeout=10).status_code == 200, "SCIM GET /Users with the code grant's access token")
    first_refresh = tok["refresh_token"]
    new = sess.refresh_token(token_url)
    check(new.get("refresh_token") not in (None, first_refresh), "refresh_token: a new access and a new refresh token")
    check(sess.get(users, timeout=10).status_code == 200, "SCIM GET /Users with the refreshed access token")
    try:
        sess.refresh_token(token_url, refresh_token=first_refresh)
        check(False, "a reused refresh token is refused")
    except OAuthError as e:
        check(e.error == "invalid_grant" and "already used" in (e.description or ""),
              f"a reused refresh token: invalid_grant, {e.description}")
    r = requests.get(users, timeout=10, headers={"Authorization": f"Bearer {new['access_token']}"})
    check(r.status_code == 401 and "was revoked" in scim_detail(r),
          f"the reuse revoked the grant's access token: 401, {scim_detail(r)}")
    deadline = time.monotonic() + 60
    listed = ""
    while time.monotonic() < deadline:
        listed = s.cli("log", "list", "--limit", "100")
        if "Refresh token used twice" in listed:
            break
        time.sleep(0.5)
    check("Refresh token used twice" in listed, "the request log diagnoses the reused refresh token")
    check(first_refresh not in listed and okta["client_secret"] not in listed,
          "no refresh token or secret in the log listing")


def expired(short, acme_gone):
    entra2 = json.loads(short.cli("oauth", "client", "add", "--name", "short-lived"))
    token_url = f"{short.base}/oauth/token"
    sess = OAuth2Session(entra2["client_id"], entra2["client_secret"],
                         token_endpoint=token_url, grant_type="client_credentials")
    tok = sess.fetch_token(token_url, grant_type="client_credentials")
    check(tok["expires_in"] == 1, "oauth.access_token_lifetime_secs = 1 gives 1-second tokens")
    time.sleep(2.5)
    r = requests.get(f"{short.base}/scim/v2/Users", timeout=10,
                     headers={"Authorization": f"Bearer {tok['access_token']}"})
    check(r.status_code == 401 and "expired on" in scim_detail(r),
          f"an expired access token: 401, {scim_detail(r)}")
    # authlib itself notices the expiry and fetches a new token for client credentials.
    check(sess.get(f"{short.base}/scim/v2/Users", timeout=10).status_code == 200,
          "authlib renews an expired client-credentials token by itself")


if __name__ == "__main__":
    main()
