// Gemini web UI, completion in the query box: metric names and PromQL functions outside
// braces, label names inside `{…}` and `by (…)`, label values inside quotes after `name=`.
// Names and values come from the API of the selected database, each list fetched once.
'use strict';

const Completion = (() => {
  const { el } = Gemini;
  const FUNCTIONS = ('abs absent absent_over_time avg avg_over_time bottomk ceil changes clamp clamp_max clamp_min count ' +
    'count_over_time count_values day_of_month day_of_week days_in_month delta deriv exp floor group histogram_quantile ' +
    'holt_winters hour idelta increase irate label_join label_replace last_over_time ln log10 log2 max max_over_time min ' +
    'min_over_time minute month predict_linear present_over_time quantile quantile_over_time rate resets round scalar sgn ' +
    'sort sort_desc sqrt stddev stddev_over_time stdvar stdvar_over_time sum sum_over_time time timestamp topk vector year').split(' ');
  const KEYWORDS = 'by without on ignoring group_left group_right offset bool and or unless'.split(' ');
  const cache = new Map();

  // A list from the API, fetched once per path (an error gives no suggestions).
  function fetchList(path, params = {}) {
    const key = path + JSON.stringify(params);
    if (!cache.has(key)) cache.set(key, Gemini.prom(path, params).then(r => (r.ok && Array.isArray(r.data) ? r.data : [])));
    return cache.get(key);
  }

  // What the text before the cursor asks for: {kind, prefix, label?, metric?}.
  function context(before) {
    let inBraces = false, braceStart = -1, quote = null, quoteStart = -1;
    for (let i = 0; i < before.length; i++) {
      const c = before[i];
      if (quote) {
        if (c === '\\') i++;
        else if (c === quote) quote = null;
      } else if (c === '"' || c === "'" || c === '`') {
        quote = c; quoteStart = i;
      } else if (c === '{') { inBraces = true; braceStart = i; } else if (c === '}') inBraces = false;
    }
    const metric = braceStart >= 0 ? (before.slice(0, braceStart).match(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/) || [])[1] : undefined;
    if (quote && inBraces) {
      const label = (before.slice(0, quoteStart).match(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*$/) || [])[1];
      return label ? { kind: 'value', prefix: before.slice(quoteStart + 1), label, metric } : null;
    }
    if (quote) return null;
    const prefix = (before.match(/[a-zA-Z_:][a-zA-Z0-9_:]*$/) || [''])[0];
    if (inBraces) return { kind: 'label', prefix, metric };
    if (/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*$/.test(before)) return { kind: 'label', prefix };
    return prefix ? { kind: 'name', prefix } : null;
  }

  async function suggestions(ctx) {
    const match = ctx.metric ? { 'match[]': ctx.metric } : {};
    if (ctx.kind === 'value') return (await fetchList(`/api/v1/label/${encodeURIComponent(ctx.label)}/values`, match)).map(v => [v, 'value']);
    if (ctx.kind === 'label') return (await fetchList('/api/v1/labels', match)).filter(n => n !== '__name__').map(n => [n, 'label']);
    const metrics = (await fetchList('/api/v1/label/__name__/values')).map(n => [n, 'metric']);
    return metrics.concat(FUNCTIONS.map(f => [f, 'function']), KEYWORDS.map(k => [k, 'keyword']));
  }

  // Completion for `input` (a textarea): a list under it, driven by the arrows, Enter or Tab
  // and Escape; attach it before the input's other key listeners, which get the other keys.
  function attach(input) {
    const list = el('ul', { class: 'completions', hidden: true });
    input.after(list);
    let items = [], selected = 0, ctx = null, request = 0;

    function close() { list.hidden = true; items = []; }

    function render() {
      list.replaceChildren(...items.map(([text, kind], i) =>
        el('li', { class: i === selected ? 'selected' : null, onmousedown: e => { e.preventDefault(); accept(i); } },
          el('span', {}, text), el('span', { class: 'kind' }, kind))));
      list.hidden = items.length === 0;
      const current = list.children[selected];
      if (current) current.scrollIntoView({ block: 'nearest' });
    }

    async function update() {
      const pos = input.selectionStart;
      ctx = context(input.value.slice(0, pos));
      const mine = ++request;
      if (!ctx) return close();
      const all = await suggestions(ctx);
      if (mine !== request) return;
      const p = ctx.prefix.toLowerCase();
      const starts = all.filter(([t]) => t.toLowerCase().startsWith(p));
      const contains = all.filter(([t]) => !t.toLowerCase().startsWith(p) && t.toLowerCase().includes(p));
      items = starts.concat(contains).filter(([t]) => t !== ctx.prefix).slice(0, 100);
      selected = 0;
      render();
    }

    function accept(i) {
      const [text] = items[i];
      const pos = input.selectionStart;
      const insert = ctx.kind === 'value' ? text.replace(/\\/g, '\\\\').replace(/"/g, '\\"') : text;
      input.value = input.value.slice(0, pos - ctx.prefix.length) + insert + input.value.slice(pos);
      const at = pos - ctx.prefix.length + insert.length;
      input.setSelectionRange(at, at);
      close();
      input.focus();
    }

    input.addEventListener('input', update);
    input.addEventListener('blur', () => setTimeout(close, 150));
    input.addEventListener('keydown', event => {
      if (list.hidden) return;
      const moves = { ArrowDown: 1, ArrowUp: -1 };
      if (event.key in moves) {
        selected = (selected + moves[event.key] + items.length) % items.length;
        render();
      } else if ((event.key === 'Enter' && !event.shiftKey) || event.key === 'Tab') {
        accept(selected);
      } else if (event.key === 'Escape') {
        close();
      } else {
        return;
      }
      event.preventDefault();
      event.stopImmediatePropagation();
    });
  }

  return { attach, context };
})();
