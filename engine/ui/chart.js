// Gemini web UI, the graph: draws a range query's matrix as SVG lines with time and value
// axes, a legend of the series' labels (click one to show only it) and a hover tooltip with
// every series' value at the time under the pointer. No library: SVG paths the browser draws.
'use strict';

const Chart = (() => {
  const { el, formatLabels } = Gemini;
  const SVG = 'http://www.w3.org/2000/svg';
  const WIDTH = 1000, HEIGHT = 320, LEFT = 64, RIGHT = 12, TOP = 10, BOTTOM = 26;
  const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  // Spacings of the time axis, in seconds: round minutes, hours and days.
  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 1209600, 2592000, 7776000, 31536000];

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    node.append(...children);
    return node;
  }

  // 1, 2 or 5 times a power of ten, near `span / count`.
  function niceStep(span, count) {
    const raw = span / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const scaled = raw / power;
    return (scaled < 1.5 ? 1 : scaled < 3.5 ? 2 : scaled < 7.5 ? 5 : 10) * power;
  }

  function formatValue(v) {
    if (v === 0) return '0';
    const abs = Math.abs(v);
    if (abs >= 1e6 || abs < 1e-3) return v.toExponential(2);
    return String(Number(v.toPrecision(6)));
  }

  function formatTick(ms, spanMs) {
    const iso = new Date(ms).toISOString();
    if (spanMs > 2 * 86400e3) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
    return spanMs > 600e3 ? iso.slice(11, 16) : iso.slice(11, 19);
  }

  // The series as {label, color, points: [[ms, value], ...]}; values that are not finite are gaps.
  function prepare(matrix) {
    return matrix.map((s, i) => ({
      label: formatLabels(s.metric),
      color: COLORS[i % COLORS.length],
      points: s.values.map(([t, v]) => [t * 1000, Number(v)]).filter(([, v]) => Number.isFinite(v)),
    }));
  }

  // Draws `matrix` (a query_range answer's result) from `start` to `end` (ms) at `step` (s)
  // into `container`; sets data-series-count once drawn.
  function draw(container, matrix, start, end, step) {
    const series = prepare(matrix);
    const values = series.flatMap(s => s.points.map(p => p[1]));
    if (!values.length) values.push(0);
    let min = Math.min(...values), max = Math.max(...values);
    if (min === max) { min -= Math.abs(min) * 0.1 || 1; max += Math.abs(max) * 0.1 || 1; }
    const yStep = niceStep(max - min, 5);
    min = Math.floor(min / yStep) * yStep;
    max = Math.ceil(max / yStep) * yStep;
    const x = t => LEFT + (t - start) / (end - start) * (WIDTH - LEFT - RIGHT);
    const y = v => TOP + (max - v) / (max - min) * (HEIGHT - TOP - BOTTOM);

    const grid = svg('g', { class: 'grid' }), axis = svg('g', { class: 'axis' });
    for (let v = min; v <= max + yStep / 2; v += yStep) {
      grid.append(svg('line', { x1: LEFT, x2: WIDTH - RIGHT, y1: y(v), y2: y(v) }));
      axis.append(svg('text', { x: LEFT - 6, y: y(v) + 4, 'text-anchor': 'end' }, formatValue(Number(v.toPrecision(12)))));
    }
    const tStep = 1000 * (TIME_STEPS.find(s => s * 1000 >= (end - start) / 7) || TIME_STEPS[TIME_STEPS.length - 1]);
    for (let t = Math.ceil(start / tStep) * tStep; t <= end; t += tStep) {
      grid.append(svg('line', { x1: x(t), x2: x(t), y1: TOP, y2: HEIGHT - BOTTOM }));
      axis.append(svg('text', { x: x(t), y: HEIGHT - 8, 'text-anchor': 'middle' }, formatTick(t, end - start)));
    }
    const paths = series.map(s => {
      let d = '', last = null;
      for (const [t, v] of s.points) {
        // A missing step is a gap in the line, as in Prometheus' graph.
        const joined = last !== null && t - last <= step * 1000 * 1.5;
        d += `${joined ? 'L' : 'M'}${x(t).toFixed(1)} ${y(v).toFixed(1)}${joined ? '' : 'h0.01'}`;
        last = t;
      }
      return svg('path', { class: 'series', d, stroke: s.color });
    });
    const cursor = svg('line', { y1: TOP, y2: HEIGHT - BOTTOM, stroke: '#888', 'stroke-dasharray': '3 3', visibility: 'hidden' });
    const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none' }, grid, axis, ...paths, cursor);
    const tooltip = el('div', { class: 'tooltip', hidden: true });
    const legend = el('div', { class: 'legend' }, series.map((s, i) =>
      el('div', { class: 'legend-item', 'data-series': i, onclick: () => toggle(i) },
        el('span', { class: 'swatch', style: `background:${s.color}` }), el('span', { class: 'labels' }, s.label))));

    // Clicking a legend entry shows only that series; clicking it again shows all.
    let only = null;
    function toggle(i) {
      only = only === i ? null : i;
      paths.forEach((p, j) => p.classList.toggle('dim', only !== null && only !== j));
      legend.querySelectorAll('.legend-item').forEach((item, j) => item.classList.toggle('hidden', only !== null && only !== j));
    }

    chart.addEventListener('mousemove', event => {
      const box = chart.getBoundingClientRect();
      const px = (event.clientX - box.left) / box.width * WIDTH;
      const t = start + (px - LEFT) / (WIDTH - LEFT - RIGHT) * (end - start);
      // The sample time nearest the pointer, and every shown series' value at that time.
      const shown = series.filter((s, i) => only === null || only === i);
      let at = null;
      for (const s of shown) for (const [pt] of s.points) if (at === null || Math.abs(pt - t) < Math.abs(at - t)) at = pt;
      const rows = shown.map(s => ({ s, p: s.points.find(p => p[0] === at) })).filter(r => r.p)
        .sort((a, b) => b.p[1] - a.p[1]).slice(0, 12);
      if (!rows.length || px < LEFT || px > WIDTH - RIGHT) { tooltip.hidden = true; cursor.setAttribute('visibility', 'hidden'); return; }
      cursor.setAttribute('x1', x(at)); cursor.setAttribute('x2', x(at)); cursor.setAttribute('visibility', 'visible');
      tooltip.replaceChildren(el('div', {}, Gemini.formatTime(at)), ...rows.map(r =>
        el('div', {}, el('span', { class: 'swatch', style: `background:${r.s.color}` }), `${r.s.label}: ${r.p[1]}`)));
      tooltip.hidden = false;
      const left = event.clientX - box.left + 14;
      tooltip.style.left = `${Math.min(left, box.width - tooltip.offsetWidth - 4)}px`;
      tooltip.style.top = `${event.clientY - box.top + 14}px`;
    });
    chart.addEventListener('mouseleave', () => { tooltip.hidden = true; cursor.setAttribute('visibility', 'hidden'); });

    container.replaceChildren(el('div', { class: 'chart' }, chart, tooltip), legend);
    container.dataset.seriesCount = series.length;
  }

  return { draw };
})();
