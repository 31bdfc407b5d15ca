// Sign-in page: shows wrong-password errors and the rate limit with a live countdown.
import { html, useState, useEffect, useRef, api, duration } from '../lib.js';

export function Login({ onSignedIn }) {
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);
  const [wait, setWait] = useState(0);
  const [busy, setBusy] = useState(false);
  const pw = useRef(null);

  useEffect(() => {
    document.title = 'Sign in · scimd';
    if (pw.current) pw.current.focus();
  }, []);
  useEffect(() => {
    if (wait <= 0) return undefined;
    const t = setTimeout(() => setWait((w) => w - 1), 1000);
    return () => clearTimeout(t);
  }, [wait]);

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await api('POST', '/api/session', { username, password });
      onSignedIn(s);
    } catch (err) {
      if (err.status === 429) {
        const secs = err.retryAfter || 60;
        setWait(secs);
        setError({ kind: 'rate', text: `Too many failed sign-ins. For your safety, sign-in is paused for this address and user.` });
      } else if (err.status === 401) {
        setError({ kind: 'bad', text: 'The username or password is wrong. The first password is in the file scimd-initial-admin-password beside the database until the first sign-in; reset it with `scimd admin reset-password`.' });
      } else {
        setError({ kind: 'other', text: err.message });
      }
      if (pw.current) pw.current.focus();
    } finally {
      setBusy(false);
    }
  };

  return html`<main id="main" class="login">
    <form class="card loginbox" onSubmit=${submit} aria-describedby=${error ? 'login-error' : undefined}>
      <h1><img src="/ui/icon.svg" alt="" width="28" height="28" /> Sign in to scimd</h1>
      ${error && html`<div id="login-error" class="notice error" role="alert">
        ${error.text}${error.kind === 'rate' && html` <strong>${wait > 0 ? `Try again in ${duration(wait)}.` : 'You can try again now.'}</strong>`}
      </div>`}
      <div class="field"><label for="username">Username</label>
        <input id="username" name="username" autocomplete="username" required value=${username} onInput=${(e) => setUsername(e.target.value)} /></div>
      <div class="field"><label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required ref=${pw} value=${password} onInput=${(e) => setPassword(e.target.value)} /></div>
      <button class="btn primary" type="submit" disabled=${busy || wait > 0}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  </main>`;
}
