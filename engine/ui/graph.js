// Gemini web UI, the graph page (`/graph`): query panels in Prometheus' link format
// (`g0.expr`, `g0.tab` 0 graph / 1 table, `g0.range_input`, `g0.end_input`, `g0.step_input`,
// `g0.moment_input`, more panels as `g1.…`), each with a query box, a time range picker, a
// graph of the range query and a table of the instant query; errors and warnings in
// Prometheus' alert boxes. The address follows the panels, so a copied link reopens them.
'use strict';

const GraphPage = (() => {
  const { el, alert, table, formatLabels } = Gemini;
  const RANGES = ['1s', '10s', '1m', '5m', '15m', '30m', '1h', '3h', '6h', '12h', '1d', '2d', '1w', '2w', '4w', '8w', '1y', '2y'];
  const UNITS = { ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

  // Seconds in a Prometheus duration such as `1h30m`; NaN when it is not one.
  function parseDuration(text) {
    const parts = [...text.trim().matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
    if (!parts.length || parts.map(p => p[0]).join('') !== text.trim()) return NaN;
    return parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNITS[unit], 0);
  }

  // Milliseconds of `YYYY-MM-DD HH:MM:SS` (UTC), RFC 3339 or Unix seconds; NaN otherwise.
  function parseTime(text) {
    const t = text.trim();
    if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
    return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(t) ? t.replace(' ', 'T') : `${t.replace(' ', 'T')}Z`);
  }

  // The panels the address names, in index order; one empty panel when it names none.
  function panelsFromAddress() {
    const panels = new Map();
    for (const [key, value] of new URLSearchParams(location.search)) {
      const m = key.match(/^g(\d+)\.(\w+)$/);
      if (!m) continue;
      if (!panels.has(Number(m[1]))) panels.set(Number(m[1]), {});
      panels.get(Number(m[1]))[m[2]] = value;
    }
    const list = [...panels.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p);
    return list.length ? list : [{}];
  }

  function render(main) {
    const panels = [];
    const container = el('div', { id: 'panels' });
    const add = options => {
      const panel = createPanel(options, saveAddress, () => {
        panels.splice(panels.indexOf(panel), 1);
        panel.node.remove();
        saveAddress();
      });
      panels.push(panel);
      container.append(panel.node);
      return panel;
    };
    function saveAddress() {
      const query = new URLSearchParams();
      for (const [key, value] of new URLSearchParams(location.search)) if (!/^g\d+\./.test(key)) query.append(key, value);
      panels.forEach((panel, i) => {
        for (const [key, value] of Object.entries(panel.options())) if (value !== '') query.set(`g${i}.${key}`, value);
      });
      history.replaceState(null, '', `${location.pathname}?${query}`);
    }
    main.append(container, el('button', { id: 'add-panel', onclick: () => add({}).focus() }, 'Add Panel'));
    panelsFromAddress().forEach(options => add(options).run());
  }

  // One panel: its controls, its result area, and `run` to query and draw.
  function createPanel(initial, onChange, onRemove) {
    let tab = initial.tab === '1' ? 1 : 0;
    let runs = 0; // a later run's answer replaces an earlier one's, never the other way round
    const expr = el('textarea', { class: 'expr', rows: 1, placeholder: 'Expression (press Shift+Enter for newlines)', spellcheck: 'false' });
    expr.value = initial.expr || '';
    const range = el('input', { class: 'range', value: initial.range_input || '1h', title: 'range, as 1h, 30m, 2d' });
    const end = el('input', { class: 'end', value: initial.end_input || initial.moment_input || '', placeholder: 'now (YYYY-MM-DD HH:MM:SS UTC)' });
    const step = el('input', { class: 'step', value: initial.step_input || '', placeholder: 'step (auto)' });
    const messages = el('div', { class: 'messages' });
    const result = el('div', { class: 'result' });
    const stats = el('div', { class: 'stats' });
    const tabs = [el('button', { 'data-tab': 1 }, 'Table'), el('button', { 'data-tab': 0 }, 'Graph')];
    const rangeControls = el('span', {},
      el('button', { title: 'shorter range', onclick: () => stepRange(-1) }, '−'), ' ', range, ' ',
      el('button', { title: 'longer range', onclick: () => stepRange(1) }, '+'), ' ');
    const stepControl = el('span', {}, ' res. ', step);
    const node = el('div', { class: 'panel' },
      el('div', { class: 'query-row' }, el('div', { class: 'expr-wrap' }, expr),
        el('button', { class: 'primary execute', onclick: run }, 'Execute')),
      el('div', { class: 'tabs' }, tabs),
      el('div', { class: 'controls' }, rangeControls, 'until ', end, stepControl,
        el('button', { class: 'remove', onclick: onRemove, style: 'margin-left:auto' }, 'Remove Panel')),
      messages, result, stats);

    Completion.attach(expr);
    expr.addEventListener('keydown', event => {
      if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); run(); }
    });
    for (const input of [range, end, step]) input.addEventListener('change', run);
    for (const button of tabs) button.addEventListener('click', () => { tab = Number(button.dataset.tab); run(); });

    // The next longer or shorter of Prometheus' ranges.
    function stepRange(direction) {
      const seconds = parseDuration(range.value);
      const index = direction > 0 ? RANGES.findIndex(r => parseDuration(r) > seconds) : RANGES.findLastIndex(r => parseDuration(r) < seconds);
      if (index >= 0) range.value = RANGES[index];
      run();
    }

    function options() {
      const o = { expr: expr.value, tab: String(tab) };
      if (tab === 0) Object.assign(o, { range_input: range.value, end_input: end.value, step_input: step.value });
      else o.moment_input = end.value;
      return o;
    }

    function fail(text) {
      messages.replaceChildren(alert('danger', text));
      result.replaceChildren();
      stats.replaceChildren();
    }

    async function run() {
      tabs.forEach(b => b.classList.toggle('active', Number(b.dataset.tab) === tab));
      rangeControls.hidden = stepControl.hidden = tab === 1;
      onChange();
      if (!expr.value.trim()) { messages.replaceChildren(); result.replaceChildren(); stats.replaceChildren(); return; }
      const endMs = end.value.trim() ? parseTime(end.value) : Date.now();
      if (Number.isNaN(endMs)) return fail(`Error: cannot read the time ${JSON.stringify(end.value)}: use YYYY-MM-DD HH:MM:SS (UTC)`);
      const started = performance.now(), mine = ++runs;
      let summary;
      if (tab === 1) {
        const answer = await Gemini.prom('/api/v1/query', { query: expr.value, time: end.value.trim() ? endMs / 1000 : '' });
        if (mine !== runs) return;
        if (!answer.ok) return fail(`Error executing query: ${answer.error}`);
        showWarnings(answer.warnings);
        drawTable(answer.data);
        summary = `Result series: ${result.dataset.seriesCount}`;
      } else {
        const seconds = parseDuration(range.value);
        if (!(seconds > 0)) return fail(`Error: cannot read the range ${JSON.stringify(range.value)}: use a duration such as 1h`);
        const resolution = step.value.trim() ? (parseDuration(step.value) || Number(step.value)) : Math.max(Math.floor(seconds / 250), 1);
        if (!(resolution > 0)) return fail(`Error: cannot read the resolution ${JSON.stringify(step.value)}: use seconds or a duration`);
        const startMs = endMs - seconds * 1000;
        const answer = await Gemini.prom('/api/v1/query_range', { query: expr.value, start: startMs / 1000, end: endMs / 1000, step: resolution });
        if (mine !== runs) return;
        if (!answer.ok) return fail(`Error executing query: ${answer.error}`);
        showWarnings(answer.warnings);
        const matrix = answer.data.result;
        if (!matrix.length) result.replaceChildren(alert('info', 'No datapoints found.'));
        else Chart.draw(result, matrix, startMs, endMs, resolution);
        result.dataset.seriesCount = matrix.length;
        summary = `Resolution: ${resolution}s · Result series: ${matrix.length}`;
      }
      stats.textContent = `Load time: ${Math.round(performance.now() - started)}ms · ${summary}`;
    }

    function showWarnings(warnings) {
      messages.replaceChildren(...warnings.map(w => alert('warning', `Warning: ${w}`)));
    }

    // An instant query's answer as Prometheus' table: element and value rows.
    function drawTable(data) {
      const rows = {
        vector: () => data.result.map(s => [formatLabels(s.metric), s.value[1]]),
        matrix: () => data.result.map(s => [formatLabels(s.metric), s.values.map(([t, v]) => `${v} @${t}`).join('\n')]),
        scalar: () => [['scalar', data.result[1]]],
        string: () => [['string', data.result[1]]],
      }[data.resultType]();
      result.dataset.seriesCount = rows.length;
      if (!rows.length) return result.replaceChildren(alert('info', 'Empty query result'));
      result.replaceChildren(table(['Element', 'Value'], rows, ['labels', 'value']));
    }

    return { node, run, options, focus: () => expr.focus() };
  }

  return { render };
})();
