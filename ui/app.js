// scimd admin UI: session, layout (landmarks, navigation, tenant switcher) and routes.
import {
  html, render, useState, useEffect, api, setCsrf, setSignedOutHandler, navigate, useLocation,
  tenantPath, Loading, ErrorBox, ApiError,
} from './lib.js';
import { Login } from './pages/login.js';
import { Dashboard } from './pages/dashboard.js';
import { Tenants } from './pages/tenants.js';
import { Tokens } from './pages/tokens.js';
import { Users, UserDetail, Groups, GroupDetail } from './pages/browse.js';
import { Setup } from './pages/setup.js';
import { Activity } from './pages/activity.js';
import { Events } from './pages/events.js';
import { Settings } from './pages/settings.js';
import { Webhooks } from './pages/webhooks.js';
import { Deleted } from './pages/deleted.js';
import { Ldap } from './pages/ldap.js';
import { Consent } from './pages/consent.js';

const TENANT_PAGES = [
  ['users', 'Users'], ['groups', 'Groups'], ['tokens', 'Tokens'], ['setup', 'Setup'], ['activity', 'Activity'], ['events', 'Events'], ['webhooks', 'Webhooks'], ['deleted', 'Deleted'], ['settings', 'Settings'], ['ldap', 'LDAP'],
];

function parse(loc) {
  const url = new URL(loc, location.origin);
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'ui') parts.shift();
  return { parts, search: url.searchParams };
}

function App() {
  const loc = useLocation();
  const [session, setSession] = useState(undefined);
  const [tenants, setTenants] = useState(null);
  const [tenantsTick, setTenantsTick] = useState(0);

  useEffect(() => {
    setSignedOutHandler(() => setSession(null));
    api('GET', '/api/session').then(
      (s) => { setCsrf(s.csrf_token); setSession(s); },
      () => setSession(null),
    );
  }, []);
  useEffect(() => {
    if (!session) return;
    api('GET', '/api/tenants').then(setTenants, () => setTenants([]));
  }, [session, tenantsTick]);

  const { parts, search } = parse(loc);
  if (session === undefined) return html`<main id="main"><${Loading} what="Checking your session" /></main>`;
  if (session === null) {
    return html`<${Login} onSignedIn=${(s) => {
      setCsrf(s.csrf_token);
      setSession(s);
      if (parts[0] === 'login' || parts.length === 0) navigate('/ui/dashboard', true);
    }} />`;
  }
  if (parts[0] === 'login' || parts.length === 0) {
    setTimeout(() => navigate('/ui/dashboard', true));
    return null;
  }

  const inTenant = parts[0] === 't' && parts[1];
  const slug = inTenant ? parts[1] : (sessionStorage.getItem('scimd.tenant') || 'default');
  if (inTenant) sessionStorage.setItem('scimd.tenant', slug);
  const page = inTenant ? parts[2] || 'users' : parts[0];
  const refreshTenants = () => setTenantsTick((t) => t + 1);

  let body;
  if (inTenant && tenants && !tenants.some((t) => t.slug === slug)) {
    body = html`<${ErrorBox} title="No such tenant" error=${new Error(`There is no tenant "${slug}". Pick one in the tenant menu or create it on the Tenants page.`)} />`;
  } else if (!inTenant && page === 'dashboard') body = html`<${Dashboard} tenants=${tenants} />`;
  else if (!inTenant && page === 'consent') body = html`<${Consent} search=${search} />`;
  else if (!inTenant && page === 'tenants') body = html`<${Tenants} tenants=${tenants} onChange=${refreshTenants} />`;
  else if (inTenant && page === 'users' && parts[3]) body = html`<${UserDetail} slug=${slug} id=${parts[3]} />`;
  else if (inTenant && page === 'users') body = html`<${Users} slug=${slug} search=${search} />`;
  else if (inTenant && page === 'groups' && parts[3]) body = html`<${GroupDetail} slug=${slug} id=${parts[3]} search=${search} />`;
  else if (inTenant && page === 'groups') body = html`<${Groups} slug=${slug} search=${search} />`;
  else if (inTenant && page === 'tokens') body = html`<${Tokens} slug=${slug} />`;
  else if (inTenant && page === 'setup') body = html`<${Setup} slug=${slug} idp=${parts[3] || 'okta'} />`;
  else if (inTenant && page === 'activity') body = html`<${Activity} slug=${slug} search=${search} />`;
  else if (inTenant && page === 'events') body = html`<${Events} slug=${slug} search=${search} />`;
  else if (inTenant && page === 'webhooks') body = html`<${Webhooks} slug=${slug} />`;
  else if (inTenant && page === 'settings') body = html`<${Settings} slug=${slug} />`;
  else if (inTenant && page === 'deleted') body = html`<${Deleted} slug=${slug} />`;
  else if (inTenant && page === 'ldap') body = html`<${Ldap} slug=${slug} />`;
  else body = html`<${ErrorBox} title="Page not found" error=${new Error('This address is not a page of the scimd UI. Use the navigation above.')} />`;

  const signOut = async () => {
    try { await api('DELETE', '/api/session'); } catch (e) { if (!(e instanceof ApiError)) throw e; }
    setCsrf('');
    setSession(null);
    navigate('/ui/login');
  };
  const current = (p) => ((inTenant ? p === page : p === page) ? 'page' : undefined);

  return html`
    <a class="skip" href="#main">Skip to content</a>
    <header class="topbar">
      <a class="brand" href="/ui/dashboard" aria-label="scimd dashboard"><img src="/ui/icon.svg" alt="" width="24" height="24" />scimd</a>
      <nav aria-label="Main" class="mainnav">
        <ul>
          <li><a href="/ui/dashboard" aria-current=${!inTenant && page === 'dashboard' ? 'page' : undefined}>Dashboard</a></li>
          ${TENANT_PAGES.map(([p, label]) => html`<li><a href=${tenantPath(slug, p)} aria-current=${inTenant ? current(p) : undefined}>${label}</a></li>`)}
          <li><a href="/ui/tenants" aria-current=${!inTenant && page === 'tenants' ? 'page' : undefined}>Tenants</a></li>
        </ul>
      </nav>
      <div class="tenantpick">
        <label for="tenant-select">Tenant</label>
        <select id="tenant-select" value=${slug} onChange=${(e) => navigate(tenantPath(e.target.value, inTenant ? page : 'users'))}>
          ${(tenants || [{ slug }]).map((t) => html`<option value=${t.slug}>${t.slug}</option>`)}
        </select>
      </div>
      <button type="button" class="btn link" onClick=${signOut}>Sign out <span class="muted">(${session.username})</span></button>
    </header>
    <main id="main" tabindex="-1">${body}</main>
    <footer class="foot muted">scimd · times are shown in your browser's time zone (${Intl.DateTimeFormat().resolvedOptions().timeZone})</footer>`;
}

// Focus moves to each page's heading only after in-app navigation, not on first load.
window.addEventListener('popstate', () => { window.__scimdNavigated = true; });
const push = history.pushState.bind(history);
history.pushState = (...a) => { window.__scimdNavigated = true; return push(...a); };

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
