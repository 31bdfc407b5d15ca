// Secure defaults (issue 27): the running configuration's warnings on the dashboard (plain
// HTTP beyond loopback without TLS, values raised to their floor), and what the token form
// needs to offer the install's default lifetime. Both from GET /api/security.
import { html, useState, useEffect, api, Badge, ErrorBox } from '../lib.js';

let securityP = null;
/** `/api/security`, fetched once per page load: warnings, rate limit, default token lifetime. */
export function security() {
  if (!securityP) securityP = api('GET', '/api/security').catch((e) => { securityP = null; throw e; });
  return securityP;
}

/** The configuration's warnings, each with its fix; nothing when there are none. */
export function ConfigWarnings() {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => { security().then((data) => setState({ data, error: null }), (error) => setState({ data: null, error })); }, []);
  if (state.error) return html`<${ErrorBox} error=${state.error} title="Could not load the configuration warnings" />`;
  const warnings = (state.data && state.data.warnings) || [];
  if (warnings.length === 0) return null;
  return html`<section class="card notice diag" role="alert" aria-labelledby="config-warnings">
    <h2 id="config-warnings">Configuration warnings</h2>
    <ul class="plain">${warnings.map((w) => html`<li key=${w.key}>
      <${Badge} kind="warn">${w.key}<//> ${w.detail}
      <div class="small"><strong>Fix:</strong> ${w.fix}</div>
    </li>`)}</ul>
  </section>`;
}

/** "203.0.113.0/24, 2001:db8::/32" → the list the API takes. */
export function parseRanges(text) {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}
