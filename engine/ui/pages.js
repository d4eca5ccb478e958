// Gemini web UI, the pages beside the graph: cardinality (`/tsdb-status`, from
// /api/v1/status/tsdb in Prometheus 2.42's shape), databases and retention policies (InfluxQL
// SHOW over /query), the cluster (/health's peers, the handoff backlog from /metrics) and
// status (build, runtime and flags from /api/v1/status/*). Each shows the API's error in a red
// box where an answer is refused or missing. Last, the page for the address is started.
'use strict';

const Pages = (() => {
  const { el, alert, table, formatTime } = Gemini;

  function section(title, ...children) {
    return el('section', {}, el('h3', {}, title), ...children);
  }

  async function cardinality(main) {
    const limit = el('input', { type: 'number', min: 1, value: new URLSearchParams(location.search).get('limit') || 10, style: 'width:80px' });
    const out = el('div', { id: 'tsdb-status' });
    main.append(el('h2', {}, `Cardinality of ${Gemini.selection.db}`), el('div', { class: 'controls' }, 'top ', limit, ' ',
      el('button', { onclick: () => load() }, 'Show')), out);
    async function load() {
      const answer = await Gemini.prom('/api/v1/status/tsdb', { limit: limit.value });
      if (!answer.ok) return out.replaceChildren(alert('danger', `Error: ${answer.error}`));
      const d = answer.data, h = d.headStats || {};
      const time = ms => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? `${formatTime(ms)} UTC (${ms})` : String(ms));
      const top = (title, list, header) => section(title, table(['Name', header], (list || []).map(e => [e.name, String(e.value)]), ['labels', 'number']));
      out.replaceChildren(
        section('Head Stats', table(['Number of Series', 'Number of Chunks', 'Number of Label Pairs', 'Current Min Time', 'Current Max Time'],
          [[String(h.numSeries), String(h.chunkCount), String(h.numLabelPairs), time(h.minTime), time(h.maxTime)]])),
        top(`Top ${limit.value} label names with value count`, d.labelValueCountByLabelName, 'Count'),
        top(`Top ${limit.value} series count by metric names`, d.seriesCountByMetricName, 'Count'),
        top(`Top ${limit.value} label names with high memory usage`, d.memoryInBytesByLabelName, 'Bytes'),
        top(`Top ${limit.value} series count by label value pairs`, d.seriesCountByLabelValuePair, 'Count'));
    }
    await load();
  }

  // A /query answer's series as tables: the columns it names, its rows.
  function seriesTables(series) {
    return series.map(s => table(s.columns, s.values.map(row => row.map(c => (c === null ? '' : String(c))))));
  }

  async function databases(main) {
    const out = el('div', { id: 'databases' });
    main.append(el('h2', {}, 'Databases and retention policies'), out);
    const dbs = await Gemini.influxql('SHOW DATABASES');
    if (!dbs.ok) return out.append(alert('danger', `Error: ${dbs.error}`));
    const names = dbs.series.flatMap(s => s.values.map(v => v[0]));
    if (!names.length) return out.append(alert('info', 'No databases.'));
    for (const name of names) {
      const policies = await Gemini.influxql(`SHOW RETENTION POLICIES ON ${Gemini.quoteIdent(name)}`);
      const open = el('a', { href: `/graph?db=${encodeURIComponent(name)}` }, 'query');
      out.append(el('section', { class: 'database', 'data-db': name }, el('h3', {}, name, ' ', el('small', {}, open)),
        policies.ok ? seriesTables(policies.series) : alert('danger', `Error: ${policies.error}`)));
    }
  }

  // `gemini_cluster_handoff_pending_series{peer="x"} 3` lines of /metrics: {peer: value}.
  function handoffBacklog(text) {
    const backlog = {};
    for (const line of text.split('\n')) {
      const m = line.match(/^gemini_cluster_handoff_pending_series\{peer="((?:[^"\\]|\\.)*)"\}\s+(\S+)/);
      if (m) backlog[JSON.parse(`"${m[1]}"`)] = m[2];
    }
    return backlog;
  }

  async function cluster(main) {
    const out = el('div', { id: 'cluster' });
    main.append(el('h2', {}, 'Cluster'), out);
    const [health, metrics] = await Promise.all([Gemini.get('/health'), Gemini.get('/metrics')]);
    if (!health.ok) return out.append(alert('danger', `Error: ${health.error}`));
    const peers = health.body.peers;
    if (!peers) return out.append(alert('info', 'This server is not part of a cluster: it has no peers.'));
    if (!metrics.ok) out.append(alert('warning', `The handoff backlog is not shown: /metrics answered: ${metrics.error}`));
    const backlog = metrics.ok ? handoffBacklog(metrics.text) : {};
    const reachable = p => (p.reachable === true ? el('span', { class: 'ok' }, 'reachable')
      : p.reachable === false ? el('span', { class: 'bad' }, 'unreachable') : el('span', { class: 'muted' }, 'not contacted yet'));
    out.append(table(['Peer', 'State', 'Error', 'Hinted handoff backlog (series)'],
      peers.map(p => [p.name, reachable(p), p.error || '', backlog[p.name] === undefined ? '' : backlog[p.name]]),
      ['labels', '', '', 'number']));
  }

  // A `data` object's keys and values, as Prometheus' status page lists them.
  function keyValues(data) {
    return table(['Name', 'Value'], Object.entries(data).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]), ['labels', '']);
  }

  async function status(main) {
    main.append(el('h2', {}, 'Status'));
    const parts = [['Build Information', '/api/v1/status/buildinfo'], ['Runtime Information', '/api/v1/status/runtimeinfo'], ['Command-Line Flags', '/api/v1/status/flags']];
    const answers = await Promise.all(parts.map(([, path]) => Gemini.prom(path)));
    parts.forEach(([title, path], i) => {
      const a = answers[i];
      main.append(el('section', { 'data-path': path }, el('h3', {}, title), a.ok ? keyValues(a.data || {}) : alert('danger', `Error: ${a.error}`)));
    });
  }

  const PAGES = { graph: GraphPage.render, 'tsdb-status': cardinality, databases, cluster, status };
  const page = location.pathname.replace(/^\/+|\/+$/g, '') || 'graph';
  Gemini.start(page, PAGES[page] || GraphPage.render);
  return { handoffBacklog };
})();
