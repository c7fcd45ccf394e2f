// The VM's live statistics: CPU utilisation per vCPU and memory actual (VM_metrics),
// and each NIC's and disk's read and write rates (Xen-API 1.0's VIF_metrics and
// VBD_metrics), each a small chart with its current values beside it. Sampled every
// SAMPLE_MS while the page shows them; the last WINDOW_MS are kept in the page's
// memory only.
import { COLOURS, drawChart } from "../../chart.js";
import { bytes, fill, h, percent } from "../../dom.js";
import { every } from "../../events.js";
import { api } from "../../session.js";

const SAMPLE_MS = 2000;
const WINDOW_MS = 5 * 60 * 1000;

const kbs = (value) => `${Number(value).toFixed(1)} kB/s`;

// The VM's VIFs or VBDs (cls) as [{device, io_read_kbs, io_write_kbs, ...}].
async function devices(ref, cls) {
  const refs = await api(`VM.get_${cls}s`, ref);
  return Promise.all(refs.map(async (device) => {
    const [name, metrics] = await Promise.all([api(`${cls}.get_device`, device),
      api(`${cls}.get_metrics`, device)]);
    return { device: name, ...(await api(`${cls}_metrics.get_record`, metrics)) };
  }));
}

// One round's figures as charts: [{chart, title, format, max, lines: [{name, label, v}]}].
async function sample(ref) {
  const [vm, vifs, vbds] = await Promise.all([
    api("VM.get_metrics", ref).then((metrics) => api("VM_metrics.get_record", metrics)),
    devices(ref, "VIF"), devices(ref, "VBD")]);
  const rates = (kind, title) => (d) => ({
    chart: `${kind}-${d.device}`, title: `${title} ${d.device}`, format: kbs,
    lines: [{ name: "read", label: "Read", v: Number(d.io_read_kbs) },
      { name: "write", label: "Write", v: Number(d.io_write_kbs) }],
  });
  return [
    { chart: "cpu", title: "CPU", format: percent, max: 1,
      lines: Object.entries(vm.VCPUs_utilisation || {}).sort(([a], [b]) => a - b)
        .map(([vcpu, v]) => ({ name: vcpu, label: `vCPU ${vcpu}`, v: Number(v) })) },
    { chart: "memory", title: "Memory", format: bytes,
      lines: [{ name: "actual", label: "Actual", v: Number(vm.memory_actual) }] },
    ...vifs.map(rates("vif", "Network")),
    ...vbds.map(rates("vbd", "Disk")),
  ];
}

// A chart's box: its canvas and its current values (data-test vm-chart, vm-stat).
function chartBox(key, title) {
  const canvas = h("canvas", { "data-test": "vm-chart-canvas" });
  const values = h("div");
  const box = h("div", { class: "chart", "data-test": "vm-chart", "data-chart": key },
    canvas, h("div", { class: "chart-values" }, h("h3", {}, title), values));
  return { box, canvas, values };
}

// statsView(ref) -> the Statistics section of VM `ref`'s page. It samples while it is
// in the document, and stops for good once the page has moved on (the view replaced it).
export function statsView(ref) {
  const charts = h("div", { class: "charts" });
  const el = h("section", { "data-test": "vm-stats" }, h("h2", {}, "Statistics"), charts);
  const history = new Map();   // "chart/line" -> [{t, v}], oldest first
  const shown = new Map();     // chart key -> its chartBox
  let seen = false;

  const draw = (chart, now) => {
    if (!shown.has(chart.chart)) {
      shown.set(chart.chart, chartBox(chart.chart, chart.title));
      charts.append(shown.get(chart.chart).box);
    }
    const { canvas, values } = shown.get(chart.chart);
    const lines = chart.lines.map((line, i) => {
      const key = `${chart.chart}/${line.name}`;
      const points = (history.get(key) || []).filter((p) => p.t > now - WINDOW_MS);
      points.push({ t: now, v: line.v });
      history.set(key, points);
      return { ...line, key, colour: COLOURS[i % COLOURS.length], points };
    });
    drawChart(canvas, lines, { windowMs: WINDOW_MS, max: chart.max });
    fill(values, lines.map((line) => h("div", {},
      h("span", { class: "swatch", style: `background: ${line.colour}` }), `${line.label} `,
      h("strong", { "data-test": "vm-stat", "data-series": line.key, "data-value": line.v },
        chart.format(line.v)))));
  };

  const round = async () => {
    if (!el.isConnected) {
      if (seen) stop();
      return;
    }
    seen = true;
    const figures = await sample(ref);
    const now = Date.now();
    for (const chart of figures) draw(chart, now);
    // A device removed takes its chart and its history with it.
    const current = new Set(figures.map((chart) => chart.chart));
    for (const [key, { box }] of shown) {
      if (current.has(key)) continue;
      box.remove();
      shown.delete(key);
      for (const line of history.keys()) if (line.startsWith(`${key}/`)) history.delete(line);
    }
  };
  const stop = every(SAMPLE_MS, round);
  return el;
}
