// flowtrack's charts: line charts (several series, hover values, drag to zoom on x,
// double-click to reset, log scale) and scatter plots, drawn on a canvas. Small and
// fast: a series is already downsampled by the server, so drawing takes milliseconds.
// Labels are drawn as canvas text or set as textContent, never parsed as HTML.
"use strict";

const FlowChart = (() => {
  const COLORS = ["#2d6cdf", "#e8590c", "#12b76a", "#9c36b5", "#d92d20", "#0e9384",
                  "#f79009", "#667085"];
  const PAD = {left: 58, right: 12, top: 26, bottom: 38};

  function niceStep(span, count) {
    const raw = span / Math.max(count, 1);
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const unit = raw / power;
    return (unit < 1.5 ? 1 : unit < 3 ? 2 : unit < 7 ? 5 : 10) * power;
  }

  function ticks(lo, hi, count, log) {
    if (log) {
      const found = [];
      for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
        const v = Math.pow(10, e);
        if (v >= lo && v <= hi) found.push(v);
      }
      return found.length ? found : [lo, hi];
    }
    const step = niceStep(hi - lo || 1, count);
    const found = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) found.push(v);
    return found;
  }

  function label(value, time) {
    if (time) return new Date(value).toLocaleTimeString();
    if (typeof value === "string") return value;
    const abs = Math.abs(value);
    if (abs !== 0 && (abs >= 1e5 || abs < 1e-3)) return value.toExponential(1);
    return String(Math.round(value * 1e4) / 1e4);
  }

  function extent(values, log) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) {
      if (v === null || !isFinite(v) || (log && v <= 0)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (lo === Infinity) return log ? [1, 10] : [0, 1];
    if (lo === hi) return log ? [lo / 10, hi * 10] : [lo - 1, hi + 1];
    return [lo, hi];
  }

  function padded([lo, hi], log) {  // room above and below the data
    if (log) return [lo / 1.2, hi * 1.2];
    const room = (hi - lo) * 0.05;
    return [lo - room, hi + room];
  }

  function canvasFor(container) {
    let canvas = container.querySelector("canvas");
    if (!canvas) {
      canvas = document.createElement("canvas");
      container.replaceChildren(canvas);
      const tip = document.createElement("div");
      tip.className = "chart-tip";
      tip.hidden = true;
      container.append(tip);
    }
    const ratio = window.devicePixelRatio || 1;
    const width = container.clientWidth || 640, height = container.clientHeight || 320;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return {canvas, ctx, width, height, tip: container.querySelector(".chart-tip")};
  }

  function frame(ctx, width, height, opts, sx, sy, xTicks, yTicks) {
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px system-ui, sans-serif";
    ctx.strokeStyle = "#eaecf0";
    ctx.fillStyle = "#667085";
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of yTicks) {
      const y = sy(v);
      ctx.beginPath(); ctx.moveTo(PAD.left, y); ctx.lineTo(width - PAD.right, y); ctx.stroke();
      ctx.fillText(label(v, false), PAD.left - 6, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const [v, text] of xTicks) {
      const x = sx(v);
      ctx.beginPath(); ctx.moveTo(x, PAD.top); ctx.lineTo(x, height - PAD.bottom); ctx.stroke();
      ctx.fillText(text, x, height - PAD.bottom + 4);
    }
    ctx.fillStyle = "#1d2330";
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillText(opts.title || "", width / 2, 6);
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#667085";
    ctx.fillText(opts.xTitle || "", width / 2, height - 16);
  }

  function lines(container, opts) {
    const state = container._chart || (container._chart = {zoom: null});
    const {canvas, ctx, width, height, tip} = canvasFor(container);
    const series = opts.series;
    const log = !!opts.logY;
    const allX = series.flatMap((s) => s.x);
    const [x0, x1] = state.zoom || extent(allX, false);
    const visibleY = series.flatMap((s) => s.y.filter((_, i) => s.x[i] >= x0 && s.x[i] <= x1));
    const [y0, y1] = padded(extent(visibleY, log), log);
    const plotW = width - PAD.left - PAD.right, plotH = height - PAD.top - PAD.bottom;
    const sx = (v) => PAD.left + (v - x0) / (x1 - x0 || 1) * plotW;
    const sy = log ? (v) => PAD.top + (1 - (Math.log10(v) - Math.log10(y0))
                                           / (Math.log10(y1) - Math.log10(y0) || 1)) * plotH
                   : (v) => PAD.top + (1 - (v - y0) / (y1 - y0 || 1)) * plotH;
    const xTicks = ticks(x0, x1, 6, false).map((v) => [v, label(v, opts.xTime)]);
    frame(ctx, width, height, opts, sx, sy, xTicks, ticks(y0, y1, 5, log));
    ctx.save();
    ctx.beginPath(); ctx.rect(PAD.left, PAD.top, plotW, plotH); ctx.clip();
    series.forEach((s, k) => {
      ctx.strokeStyle = ctx.fillStyle = COLORS[k % COLORS.length];
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let pen = false;
      for (let i = 0; i < s.x.length; i++) {
        const v = s.y[i];
        if (v === null || (log && v <= 0)) { pen = false; continue; }
        const px = sx(s.x[i]), py = sy(v);
        if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
        pen = true;
      }
      ctx.stroke();
      if (s.x.length <= 60) {
        for (let i = 0; i < s.x.length; i++) {
          if (s.y[i] === null || (log && s.y[i] <= 0)) continue;
          ctx.beginPath(); ctx.arc(sx(s.x[i]), sy(s.y[i]), 2.5, 0, 2 * Math.PI); ctx.fill();
        }
      }
    });
    ctx.restore();
    if (series.length > 1) {
      ctx.textAlign = "left";
      series.forEach((s, k) => {
        ctx.fillStyle = COLORS[k % COLORS.length];
        ctx.fillText(`— ${s.name}`, PAD.left + 8, PAD.top + 4 + 14 * k);
      });
    }
    container.dataset.points = String(series.reduce((n, s) => n + s.x.length, 0));
    container.dataset.series = String(series.length);
    container.dataset.scale = log ? "log" : "linear";
    container.classList.add("drawn");
    interact(container, canvas, tip, opts, sx, x0, x1, plotW);
  }

  function nearest(xs, target) {
    let lo = 0, hi = xs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < target) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && Math.abs(xs[lo - 1] - target) < Math.abs(xs[lo] - target)) lo--;
    return lo;
  }

  function interact(container, canvas, tip, opts, sx, x0, x1, plotW) {
    const toX = (px) => x0 + (px - PAD.left) / plotW * (x1 - x0);
    let dragFrom = null;
    canvas.onmousemove = (event) => {
      const px = event.offsetX;
      if (px < PAD.left || px > PAD.left + plotW) { tip.hidden = true; return; }
      const at = toX(px);
      const rows = opts.series.map((s) => {
        if (!s.x.length) return null;
        const i = nearest(s.x, at);
        return `${s.name}: ${s.y[i] === null ? "–" : label(s.y[i], false)}`;
      }).filter(Boolean);
      const i = opts.series[0].x.length ? nearest(opts.series[0].x, at) : 0;
      tip.textContent = `${opts.xTitle || "x"} ${label(opts.series[0].x[i], opts.xTime)}\n`
        + rows.join("\n");
      tip.style.left = `${Math.min(px + 12, canvas.clientWidth - 160)}px`;
      tip.style.top = `${event.offsetY + 12}px`;
      tip.hidden = false;
    };
    canvas.onmouseleave = () => { tip.hidden = true; };
    canvas.onmousedown = (event) => { dragFrom = event.offsetX; };
    canvas.onmouseup = (event) => {
      if (dragFrom !== null && Math.abs(event.offsetX - dragFrom) > 5) {
        const a = toX(Math.min(dragFrom, event.offsetX));
        const b = toX(Math.max(dragFrom, event.offsetX));
        container._chart.zoom = [a, b];
        lines(container, opts);
      }
      dragFrom = null;
    };
    canvas.ondblclick = () => { container._chart.zoom = null; lines(container, opts); };
  }

  function scatter(container, opts) {
    const {ctx, width, height} = canvasFor(container);
    const categorical = opts.points.some((p) => typeof p.x === "string");
    const categories = categorical ? [...new Set(opts.points.map((p) => String(p.x)))] : [];
    const xOf = (p) => categorical ? categories.indexOf(String(p.x)) : p.x;
    const [x0, x1] = categorical ? [-0.5, categories.length - 0.5]
      : extent(opts.points.map(xOf), false);
    const [y0, y1] = padded(extent(opts.points.map((p) => p.y), false), false);
    const plotW = width - PAD.left - PAD.right, plotH = height - PAD.top - PAD.bottom;
    const sx = (v) => PAD.left + (v - x0) / (x1 - x0 || 1) * plotW;
    const sy = (v) => PAD.top + (1 - (v - y0) / (y1 - y0 || 1)) * plotH;
    const xTicks = categorical ? categories.map((c, i) => [i, c])
      : ticks(x0, x1, 6, false).map((v) => [v, label(v, false)]);
    frame(ctx, width, height, {title: opts.title, xTitle: opts.xTitle}, sx, sy, xTicks,
          ticks(y0, y1, 5, false));
    ctx.fillStyle = COLORS[0];
    for (const p of opts.points) {
      if (p.y === null || p.y === undefined) continue;
      ctx.beginPath(); ctx.arc(sx(xOf(p)), sy(p.y), 5, 0, 2 * Math.PI); ctx.fill();
    }
    container.dataset.points = String(opts.points.length);
    container.classList.add("drawn");
  }

  return {lines, scatter};
})();
