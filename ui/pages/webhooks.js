// Webhooks of one tenant (docs/webhooks.md): add an endpoint (its signing secret shown once),
// see each endpoint's state, backlog and last deliveries, send a test event, replay from a
// cursor, rotate the secret, disable, remove.
import { html, useState, api, enc, useLoad, Time, ErrorBox, Loading, Empty, Badge, CopyButton, TableWrap, PageTitle, announce } from '../lib.js';

const OVERLAP = [['1h', '1 hour'], ['24h', '24 hours'], ['7d', '7 days']];

function stateBadge(w) {
  if (w.state === 'active') return html`<${Badge} kind="good">active<//>`;
  if (w.state === 'failing') return html`<${Badge} kind="bad">failing<//>`;
  return html`<${Badge} kind="warn">disabled<//>`;
}

function Secret({ created, onDone }) {
  return html`<div class="notice secret" role="alert" aria-labelledby="wh-secret-title">
    <h3 id="wh-secret-title">Signing secret of ${created.webhook.url} — copy it now</h3>
    <p><strong>This is the only time scimd shows this secret.</strong> Give it to the receiver: it verifies each delivery's <code>webhook-signature</code> with it (any Standard Webhooks library does).</p>
    <p class="secretline"><code id="webhook-secret">${created.secret}</code> <${CopyButton} text=${created.secret} label="Copy secret" /></p>
    ${created.webhook.previous_expires && html`<p>The previous secret keeps signing too until <${Time} iso=${created.webhook.previous_expires} />.</p>`}
    <button type="button" class="btn" onClick=${onDone}>I have stored it</button>
  </div>`;
}

function AddWebhook({ slug, onCreated }) {
  const [url, setUrl] = useState('');
  const [types, setTypes] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const list = types.split(',').map((t) => t.trim()).filter(Boolean);
      const created = await api('POST', `/api/tenants/${enc(slug)}/webhooks`, { url: url.trim(), types: list });
      announce('Webhook added. Copy its secret now; it is shown only once.');
      setUrl(''); setTypes('');
      onCreated(created);
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return html`<form class="row" onSubmit=${submit}>
    <div class="field"><label for="wh-url">Endpoint URL</label>
      <input id="wh-url" type="url" required value=${url} placeholder="https://app.example.com/scimd" onInput=${(e) => setUrl(e.target.value)} /></div>
    <div class="field"><label for="wh-types">Event types (comma-separated; empty: all)</label>
      <input id="wh-types" value=${types} placeholder="user.created, user.deleted" onInput=${(e) => setTypes(e.target.value)} /></div>
    <div class="field actions"><button class="btn primary" type="submit" disabled=${busy}>${busy ? 'Adding…' : 'Add webhook'}</button></div>
    <${ErrorBox} error=${error} title="The webhook was not added" />
  </form>`;
}

function Deliveries({ slug, id }) {
  const detail = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/webhooks/${enc(id)}`), [slug, id]);
  const d = detail.data;
  if (detail.error) return html`<${ErrorBox} error=${detail.error} title="Deliveries could not be loaded" />`;
  if (!d) return html`<${Loading} what="Loading deliveries" />`;
  if (d.attempts.length === 0) return html`<p class="muted">No delivery attempt yet.</p>`;
  return html`<${TableWrap} label=${`Last deliveries to ${d.url}`}><table class="stack">
    <thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Try</th><th scope="col">Result</th><th scope="col">Latency</th><th scope="col">Response</th></tr></thead>
    <tbody>${d.attempts.map((a, i) => html`<tr key=${i}>
      <td data-label="Time"><${Time} iso=${a.time} /></td>
      <td data-label="Event" class="mono">${a.seq === null ? 'test' : a.seq} <span class="muted small">${a.event_id}</span></td>
      <td data-label="Try">${a.attempt}</td>
      <td data-label="Result"><${Badge} kind=${a.outcome === 'delivered' ? 'good' : 'bad'}>${a.status === null ? 'no answer' : `HTTP ${a.status}`}<//></td>
      <td data-label="Latency">${a.latency_ms} ms</td>
      <td data-label="Response" class="small">${a.excerpt || html`<span class="muted">—</span>`}</td>
    </tr>`)}</tbody>
  </table><//>`;
}

function Row({ slug, w, onChanged, onSecret }) {
  const [mode, setMode] = useState(null);
  const [after, setAfter] = useState(String(w.cursor));
  const [overlap, setOverlap] = useState('24h');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [result, setResult] = useState(null);
  const [open, setOpen] = useState(false);
  const path = `/api/tenants/${enc(slug)}/webhooks/${enc(w.id)}`;
  const act = async (fn) => {
    setBusy(true); setError(null);
    try { await fn(); setMode(null); onChanged(); } catch (err) { setError(err); } finally { setBusy(false); }
  };
  const test = () => act(async () => {
    const a = await api('POST', `${path}/test`);
    const text = a.outcome === 'delivered' ? `Test event delivered: HTTP ${a.status} in ${a.latency_ms} ms` : `Test event not accepted: ${a.status === null ? a.excerpt : `HTTP ${a.status}`}`;
    setResult(text); announce(text);
  });
  const replay = () => act(async () => {
    await api('POST', `${path}/replay`, { after: Number(after) });
    announce(`Delivering again the events after ${after}`);
  });
  const rotate = () => act(async () => { onSecret(await api('POST', `${path}/rotate`, { overlap })); });
  const disable = () => act(async () => { await api('POST', `${path}/disable`); announce('Webhook disabled'); });
  const remove = () => act(async () => { await api('DELETE', path); announce('Webhook removed'); });
  return html`<tr>
    <th scope="row" class="mono">${w.url}<div class="muted small">${w.id} · ${w.types.length === 0 ? 'all events' : w.types.join(', ')}</div></th>
    <td data-label="State">${stateBadge(w)}${w.state_reason && html`<div class="small">${w.state_reason}</div>`}</td>
    <td data-label="Cursor" class="mono">${w.cursor}</td>
    <td data-label="Waiting">${w.backlog.events}${w.backlog.oldest && html`<div class="muted small">oldest <${Time} iso=${w.backlog.oldest} /></div>`}</td>
    <td class="actions-cell" data-label="Actions">
      ${mode === null && html`<button type="button" class="btn small" disabled=${busy} onClick=${test}>Send test event</button>
        <button type="button" class="btn small" onClick=${() => setMode('replay')}>Replay…</button>
        <button type="button" class="btn small" onClick=${() => setMode('rotate')}>Rotate secret…</button>
        ${w.state !== 'disabled' && html`<button type="button" class="btn small" disabled=${busy} onClick=${disable}>Disable</button>`}
        <button type="button" class="btn small danger" onClick=${() => setMode('remove')}>Remove…</button>
        <button type="button" class="btn small" aria-expanded=${open ? 'true' : 'false'} onClick=${() => setOpen(!open)}>${open ? 'Hide deliveries' : 'Last deliveries'}</button>`}
      ${mode === 'replay' && html`<div class="confirm" role="group" aria-label=${`Replay ${w.url}`}>
        <label for=${`after-${w.id}`}>Deliver the events after cursor</label>
        <input id=${`after-${w.id}`} type="number" min="0" value=${after} onInput=${(e) => setAfter(e.target.value)} />
        <button type="button" class="btn small primary" disabled=${busy} onClick=${replay}>Replay now</button> <button type="button" class="btn small" onClick=${() => setMode(null)}>Cancel</button></div>`}
      ${mode === 'rotate' && html`<div class="confirm" role="group" aria-label=${`Rotate the secret of ${w.url}`}>
        <label for=${`wov-${w.id}`}>Old secret keeps signing for</label>
        <select id=${`wov-${w.id}`} value=${overlap} onChange=${(e) => setOverlap(e.target.value)}>${OVERLAP.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select>
        <button type="button" class="btn small primary" disabled=${busy} onClick=${rotate}>Rotate now</button> <button type="button" class="btn small" onClick=${() => setMode(null)}>Cancel</button></div>`}
      ${mode === 'remove' && html`<div class="confirm" role="group" aria-label=${`Remove ${w.url}`}>
        <p>Remove this webhook? Its events stay on the feed.</p>
        <button type="button" class="btn small danger" disabled=${busy} onClick=${remove}>Remove now</button> <button type="button" class="btn small" onClick=${() => setMode(null)}>Cancel</button></div>`}
      ${result && html`<p class="small" role="status">${result}</p>`}
      <${ErrorBox} error=${error} title="That did not work" />
      ${open && html`<${Deliveries} slug=${slug} id=${w.id} />`}
    </td>
  </tr>`;
}

export function Webhooks({ slug }) {
  const list = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/webhooks`), [slug]);
  const [created, setCreated] = useState(null);
  const onSecret = (c) => { setCreated(c); list.reload(); };
  const hooks = list.data || [];
  return html`<${PageTitle} sub=${`Endpoints that tenant “${slug}”'s events are pushed to, signed (Standard Webhooks), in order, retried for up to 3 days.`}>Webhooks<//>
    <section class="card" aria-labelledby="new-webhook">
      <h2 id="new-webhook">Add a webhook</h2>
      <${AddWebhook} slug=${slug} onCreated=${onSecret} />
      ${created && html`<${Secret} created=${created} onDone=${() => setCreated(null)} />`}
    </section>
    <section aria-labelledby="webhook-list" aria-busy=${list.loading ? 'true' : 'false'}>
      <h2 id="webhook-list">Webhooks of ${slug}</h2>
      <${ErrorBox} error=${list.error} title="Webhooks could not be loaded" />
      ${list.loading && !list.data ? html`<${Loading} what="Loading webhooks" />`
        : hooks.length === 0 ? html`<${Empty} title="No webhooks yet."><p>Add one above to push this tenant's events to an application.</p><//>`
        : html`<${TableWrap} label="Webhooks"><table class="stack">
            <thead><tr><th scope="col">Endpoint</th><th scope="col">State</th><th scope="col">Cursor</th><th scope="col">Waiting</th><th scope="col">Actions</th></tr></thead>
            <tbody>${hooks.map((w) => html`<${Row} key=${w.id} slug=${slug} w=${w} onChanged=${list.reload} onSecret=${onSecret} />`)}</tbody>
          </table><//>`}
    </section>`;
}
