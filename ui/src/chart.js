// A small line chart on a <canvas>, drawn by the page's own code (no chart library):
// each line's points over a time window, the newest at the right edge, on a light grid.

export const COLOURS = ["#2b6cb0", "#c05621", "#2f855a", "#805ad5", "#b83280", "#2c7a7b"];
const GRID = "#d8dee6";

// drawChart(canvas, lines, {windowMs, max}): lines is [{colour, points: [{t, v}]}]
// (t in ms, oldest first). The vertical scale runs from 0 to `max`, or to a little over
// the largest value shown (1 when every value is 0).
export function drawChart(canvas, lines, { windowMs, max }) {
  // Drawn at the screen's pixel density, so the lines stay sharp.
  const ratio = window.devicePixelRatio || 1;
  const width = Math.round(canvas.clientWidth * ratio);
  const height = Math.round(canvas.clientHeight * ratio);
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, width, height);
  g.strokeStyle = GRID;
  g.lineWidth = 1;
  for (const fraction of [0.25, 0.5, 0.75]) {
    const y = Math.round(height * fraction) + 0.5;
    g.beginPath();
    g.moveTo(0, y);
    g.lineTo(width, y);
    g.stroke();
  }
  const top = max || Math.max(...lines.flatMap((l) => l.points.map((p) => p.v)), 0) * 1.1 || 1;
  const now = Date.now();
  const pad = 2 * ratio;   // half the line's width: a line at 0 or at the top stays visible
  const x = (t) => width - ((now - t) / windowMs) * width;
  const y = (v) => pad + (height - 2 * pad) * (1 - Math.min(v / top, 1));
  g.lineWidth = 2 * ratio;
  g.lineJoin = "round";
  for (const { colour, points } of lines) {
    if (!points.length) continue;
    g.strokeStyle = colour;
    g.beginPath();
    g.moveTo(x(points[0].t) - (points.length === 1 ? pad : 0), y(points[0].v));
    for (const p of points) g.lineTo(x(p.t), y(p.v));
    g.stroke();
  }
}
