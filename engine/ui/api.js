// Gemini web UI, shared part: API calls with the user's credentials, the login form (shown
// when the API answers 401), the database / retention policy pickers, the navigation bar and
// small DOM helpers. Every page script uses `Gemini` and nothing else of the others.
'use strict';

const Gemini = (() => {
  const AUTH_KEY = 'gemini.auth';
  const search = new URLSearchParams(location.search);
  const selection = { db: search.get('db') || 'prometheus', rp: search.get('rp') || '' };

  // --- DOM helpers -------------------------------------------------------------------------

  // el('div', {class: 'x', onclick: f}, child, 'text', ...): an element with attributes and children.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children.flat()) {
      if (child !== undefined && child !== null && child !== false) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // Prometheus' alert boxes: 'danger' (errors, red), 'warning' (yellow), 'info'.
  function alert(kind, text) {
    return el('div', { class: `alert alert-${kind}`, role: 'alert' }, text);
  }

  // A table with a header row; cells are nodes or text; `classes` names each column's class.
  function table(headers, rows, classes = []) {
    return el('table', { class: 'data' },
      el('thead', {}, el('tr', {}, headers.map(h => el('th', {}, h)))),
      el('tbody', {}, rows.map(row => el('tr', {}, row.map((cell, i) => el('td', { class: classes[i] }, cell))))));
  }

  // `name{a="x", b="y"}`, as Prometheus prints a series' labels.
  function formatLabels(metric) {
    const name = metric.__name__ || '';
    const pairs = Object.keys(metric).filter(k => k !== '__name__').sort().map(k => `${k}=${JSON.stringify(metric[k])}`);
    return pairs.length ? `${name}{${pairs.join(', ')}}` : (name || '{}');
  }

  // Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` in UTC (Prometheus' end_input format).
  function formatTime(ms) {
    return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
  }

  // --- credentials -------------------------------------------------------------------------

  function base64(text) {
    return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
  }

  function authHeaders() {
    const token = sessionStorage.getItem(AUTH_KEY);
    return token ? { Authorization: `Basic ${token}` } : {};
  }

  function showLogin(reason) {
    const form = document.getElementById('login');
    document.getElementById('login-reason').textContent =
      `The server asks for credentials (${reason}). Sign in to see what you may read.`;
    form.hidden = false;
  }

  function signIn(user, password) {
    sessionStorage.setItem(AUTH_KEY, base64(`${user}:${password}`));
    sessionStorage.setItem(`${AUTH_KEY}.user`, user);
  }

  // The login form, and who is signed in. `u` and `p` in the page's address sign in too (as
  // they do on the API), and leave the address at once.
  function setUpLogin() {
    const query = new URLSearchParams(location.search);
    if (query.has('u')) {
      signIn(query.get('u'), query.get('p') || '');
      query.delete('u');
      query.delete('p');
      history.replaceState(null, '', `${location.pathname}?${query}`);
    }
    const form = document.getElementById('login');
    form.addEventListener('submit', event => {
      event.preventDefault();
      const data = new FormData(form);
      signIn(data.get('username'), data.get('password'));
      location.reload();
    });
    const user = sessionStorage.getItem(`${AUTH_KEY}.user`);
    if (user) {
      const signOut = el('button', { type: 'button', onclick: () => { sessionStorage.clear(); location.reload(); } }, 'Sign out');
      document.getElementById('who').append(`signed in as ${user}`, signOut);
    }
  }

  // --- API calls ---------------------------------------------------------------------------

  function errorText(body, text) {
    if (body && typeof body.error === 'string') return body.error;
    return (text || '').trim().slice(0, 500);
  }

  // GET `path`: resolves (never rejects) to {ok, status, body (parsed JSON or null), error}.
  // A 401 opens the login form; `ok` is false for an HTTP error or Prometheus' error envelope.
  // Credentials go only in our own header: with the browser's (`credentials: 'omit'`), a 401
  // would make it ask in a dialog of its own, and headless browsers wait for ever there. The
  // address is made from the origin, as `fetch` refuses one relative to a page whose address
  // holds credentials (`http://user:pw@host/`).
  async function get(path) {
    let response;
    try {
      response = await fetch(new URL(path, location.origin), { headers: authHeaders(), credentials: 'omit' });
    } catch (e) {
      return { ok: false, status: 0, body: null, error: `cannot reach the server: ${e.message}` };
    }
    const text = await response.text();
    let body = null;
    try { body = JSON.parse(text); } catch (_) { /* not JSON: /metrics, or an error page */ }
    const ok = response.ok && !(body && body.status === 'error');
    const error = ok ? '' : (errorText(body, text) || `${response.status} ${response.statusText}`);
    if (response.status === 401) showLogin(error);
    return { ok, status: response.status, body, text, error };
  }

  // A Prometheus API path with `db`, `rp` and `params`: `data` and `warnings` of the envelope.
  async function prom(path, params = {}) {
    const query = new URLSearchParams({ db: selection.db });
    if (selection.rp) query.set('rp', selection.rp);
    for (const [name, value] of Object.entries(params)) {
      for (const v of [].concat(value)) if (v !== undefined && v !== '') query.append(name, v);
    }
    const result = await get(`${path}?${query}`);
    result.data = result.ok && result.body ? result.body.data : null;
    result.warnings = (result.body && result.body.warnings) || [];
    return result;
  }

  // An InfluxQL statement over /query: the first result's series, or its error.
  async function influxql(statement, db = '') {
    const query = new URLSearchParams({ q: statement });
    if (db) query.set('db', db);
    const result = await get(`/query?${query}`);
    const first = result.body && result.body.results && result.body.results[0];
    if (result.ok && first && first.error) Object.assign(result, { ok: false, error: first.error });
    result.series = (result.ok && first && first.series) || [];
    return result;
  }

  // An InfluxQL identifier, double-quoted.
  function quoteIdent(name) {
    return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  }

  // --- navigation and pickers ---------------------------------------------------------------

  // `path` with the current db/rp and `extra` parameters.
  function link(path, extra = {}) {
    const query = new URLSearchParams();
    if (selection.db !== 'prometheus') query.set('db', selection.db);
    if (selection.rp) query.set('rp', selection.rp);
    for (const [name, value] of Object.entries(extra)) query.set(name, value);
    const text = query.toString();
    return text ? `${path}?${text}` : path;
  }

  function fillSelect(select, values, current) {
    select.replaceChildren(...values.map(([value, label]) => el('option', { value, selected: value === current }, label)));
  }

  // Lists the databases and the selected one's policies; a change reloads the page with it.
  async function setUpPickers() {
    const dbSelect = document.getElementById('db-select');
    const rpSelect = document.getElementById('rp-select');
    const reloadWith = (name, value) => {
      const query = new URLSearchParams(location.search);
      if (value) query.set(name, value); else query.delete(name);
      if (name === 'db') query.delete('rp');
      location.search = query.toString();
    };
    dbSelect.addEventListener('change', () => reloadWith('db', dbSelect.value));
    rpSelect.addEventListener('change', () => reloadWith('rp', rpSelect.value));
    fillSelect(dbSelect, [[selection.db, selection.db]], selection.db);
    fillSelect(rpSelect, [['', '(default)']], selection.rp);
    const dbs = await influxql('SHOW DATABASES');
    const names = dbs.series.flatMap(s => s.values.map(v => v[0]));
    if (!names.includes(selection.db)) names.push(selection.db);
    fillSelect(dbSelect, names.sort().map(n => [n, n]), selection.db);
    const rps = await influxql(`SHOW RETENTION POLICIES ON ${quoteIdent(selection.db)}`);
    const policies = rps.series.flatMap(s => s.values.map(v => v[0]));
    if (selection.rp && !policies.includes(selection.rp)) policies.push(selection.rp);
    fillSelect(rpSelect, [['', '(default)'], ...policies.map(p => [p, p])], selection.rp);
  }

  function setUpNav(page) {
    for (const a of document.querySelectorAll('#nav a')) {
      a.href = link(a.getAttribute('href'));
      if (a.dataset.page === page) a.classList.add('active');
    }
    document.querySelector('header .brand').href = link('/graph');
  }

  // Sets up the frame around a page; `render(main)` draws the page itself.
  function start(page, render) {
    setUpLogin();
    setUpNav(page);
    setUpPickers();
    document.title = `Gemini · ${page}`;
    render(document.getElementById('page'));
  }

  return { selection, el, alert, table, formatLabels, formatTime, get, prom, influxql, quoteIdent, link, start };
})();
