/* ChatDesk reports: hand-drawn SVG charts from the JSON the page embeds (#report-data).
 * No library and no network: the page's CSP allows only our own scripts.
 * Each chart is a function (container, data) that fills the container; all
 * are redrawn when the window width changes. Hover any mark for its numbers. */
(function () {
  "use strict";

  var NS = "http://www.w3.org/2000/svg";
  var COLOR = {
    brand: "#4f46e5", brandSoft: "#c7d2fe", teal: "#0d9488", amber: "#d97706",
    rose: "#e11d48", slate: "#94a3b8", ink: "#111827", muted: "#6b7280", grid: "#e5e7eb"
  };
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  // --- small helpers -------------------------------------------------------

  function node(name, attrs, parent) {
    var n = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(n);
    return n;
  }

  function text(parent, x, y, content, attrs) {
    var t = node("text", Object.assign({ x: x, y: y, fill: "#4b5563" }, attrs || {}), parent);
    t.textContent = content;
    return t;
  }

  function tip(target, content) {
    node("title", {}, target).textContent = content;
    return target;
  }

  function canvas(container, height) {
    container.textContent = "";
    var width = Math.max(320, Math.round(container.clientWidth || 640));
    var svg = node("svg", { viewBox: "0 0 " + width + " " + height, width: width, height: height,
                            preserveAspectRatio: "xMinYMin meet" }, container);
    return { svg: svg, width: width, height: height };
  }

  function legend(container, items) {
    var div = document.createElement("div");
    div.className = "legend";
    items.forEach(function (item) {
      var span = document.createElement("span");
      span.textContent = item.label;
      span.style.setProperty("--swatch", item.color);
      if (item.line) span.className = "line";
      div.appendChild(span);
    });
    container.appendChild(div);
  }

  function empty(container, message) {
    container.textContent = "";
    var p = document.createElement("p");
    p.className = "empty";
    p.textContent = message;
    container.appendChild(p);
  }

  function niceMax(value) {
    if (!value || value <= 0) return 1;
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * power >= value) return steps[i] * power;
    }
    return 10 * power;
  }

  // A count axis: whole-number ticks that land exactly on grid lines.
  function countAxis(value) {
    if (!value || value <= 0) return { max: 1, ticks: 1 };
    if (value <= 5) return { max: Math.ceil(value), ticks: Math.ceil(value) };
    var raw = value / 4;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * power; }).filter(function (s) { return s >= raw; })[0];
    step = Math.max(1, step);
    var max = Math.ceil(value / step) * step;
    return { max: max, ticks: Math.round(max / step) };
  }

  function pct(value, digits) {
    return value === null || value === undefined ? "–" : (value * 100).toFixed(digits === undefined ? 0 : digits) + "%";
  }

  function pts(value) {
    if (value === null || value === undefined) return "–";
    var v = value * 100;
    return (v > 0 ? "+" : v < 0 ? "−" : "") + Math.abs(v).toFixed(1) + " pts";
  }

  function day(iso, unit) {
    var parts = iso.split("-");
    var label = Number(parts[2]) + " " + MONTHS[Number(parts[1]) - 1];
    return unit === "week" ? "w/c " + label : label;
  }

  function yAxis(svg, box, max, ticks, format, side) {
    var g = node("g", { "class": side === "right" ? "axis right" : "grid" }, svg);
    for (var i = 0; i <= ticks; i++) {
      var value = max * i / ticks;
      var y = box.bottom - (box.bottom - box.top) * i / ticks;
      if (side !== "right") node("line", { x1: box.left, x2: box.right, y1: y, y2: y }, g);
      text(g, side === "right" ? box.right + 6 : box.left - 6, y + 4, format(value),
           { "text-anchor": side === "right" ? "start" : "end" });
    }
  }

  // --- charts ----------------------------------------------------------------

  function overTime(container, data) {
    var series = data.over_time;
    var points = series.points;
    var total = points.reduce(function (s, p) { return s + p.conversations; }, 0);
    if (!total) return empty(container, "No conversations in this range.");
    var c = canvas(container, 270);
    var box = { left: 44, right: c.width - 52, top: 14, bottom: 270 - 36 };
    var axis = countAxis(Math.max.apply(null, points.map(function (p) { return p.conversations; })));
    var max = axis.max;
    yAxis(c.svg, box, max, axis.ticks, function (v) { return Math.round(v); });
    yAxis(c.svg, box, 1, 4, function (v) { return pct(v); }, "right");
    var band = (box.right - box.left) / points.length;
    var barW = Math.max(2, Math.min(38, band * 0.68));
    var every = Math.ceil(points.length / Math.max(1, Math.floor((box.right - box.left) / 64)));
    var line = [];
    points.forEach(function (p, i) {
      var x = box.left + band * i + (band - barW) / 2;
      var h = (box.bottom - box.top) * p.conversations / max;
      var he = (box.bottom - box.top) * p.engaged / max;
      var info = day(p.period, series.unit) + ": " + p.conversations + " conversations, " + p.engaged +
        " with an agent reply, " + p.converted + " converted, " + p.missed + " missed";
      tip(node("rect", { "class": "bar", x: x, y: box.bottom - h, width: barW, height: h, rx: 2, fill: COLOR.brandSoft }, c.svg), info);
      tip(node("rect", { "class": "bar", x: x, y: box.bottom - he, width: barW, height: he, rx: 2, fill: COLOR.brand }, c.svg), info);
      if (i % every === 0) {
        text(c.svg, x + barW / 2, box.bottom + 18, day(p.period, series.unit), { "text-anchor": "middle" });
      }
      if (p.chat_conversion_rate !== null) {
        line.push({ x: x + barW / 2, y: box.bottom - (box.bottom - box.top) * p.chat_conversion_rate, p: p });
      } else {
        line.push(null);
      }
    });
    var d = "";
    var pen = false;
    line.forEach(function (pt) {
      if (!pt) { pen = false; return; }
      d += (pen ? "L" : "M") + pt.x.toFixed(1) + " " + pt.y.toFixed(1);
      pen = true;
    });
    if (d) node("path", { d: d, fill: "none", stroke: COLOR.amber, "stroke-width": 2.5, "stroke-linejoin": "round" }, c.svg);
    line.forEach(function (pt) {
      if (!pt) return;
      tip(node("circle", { "class": "dot", cx: pt.x, cy: pt.y, r: 4, fill: "#fff", stroke: COLOR.amber, "stroke-width": 2 }, c.svg),
          day(pt.p.period, series.unit) + ": chat conversion " + pct(pt.p.chat_conversion_rate, 1) +
          " (" + pt.p.converted + " of " + pt.p.engaged + ")");
    });
    legend(container, [
      { label: "Conversations", color: COLOR.brandSoft },
      { label: "With an agent reply", color: COLOR.brand },
      { label: "Chat conversion (right axis)", color: COLOR.amber, line: true }
    ]);
  }

  function distributions(container, data) {
    var wait = data.distributions.wait;
    var first = data.distributions.first_response;
    var all = wait.concat(first).map(function (b) { return b.count; });
    if (!all.some(function (v) { return v > 0; })) return empty(container, "Nobody was answered in this range.");
    var c = canvas(container, 330);
    var box = { left: 40, right: c.width - 10, top: 12, bottom: 330 - 34 };
    var axis = countAxis(Math.max.apply(null, all));
    var max = axis.max;
    yAxis(c.svg, box, max, axis.ticks, function (v) { return Math.round(v); });
    var band = (box.right - box.left) / wait.length;
    var barW = Math.min(26, band * 0.36);
    wait.forEach(function (b, i) {
      var x0 = box.left + band * i + band / 2 - barW - 1;
      [[b, COLOR.brand, "wait"], [first[i], COLOR.teal, "first response"]].forEach(function (item, j) {
        var h = (box.bottom - box.top) * item[0].count / max;
        tip(node("rect", { "class": "bar", x: x0 + j * (barW + 2), y: box.bottom - h, width: barW, height: Math.max(h, 0), rx: 2,
                           fill: item[1] }, c.svg), item[0].count + " conversations with a " + item[2] + " of " + item[0].label);
      });
      text(c.svg, box.left + band * i + band / 2, box.bottom + 18, b.label, { "text-anchor": "middle" });
    });
    var s = data.summary;
    legend(container, [
      { label: "Wait (median " + secs(s.wait_p50_s) + ", p90 " + secs(s.wait_p90_s) + ")", color: COLOR.brand },
      { label: "First response (median " + secs(s.first_response_p50_s) + ", p90 " + secs(s.first_response_p90_s) + ")", color: COLOR.teal }
    ]);
  }

  function secs(value) {
    if (value === null || value === undefined) return "–";
    if (value < 60) return Math.round(value) + " s";
    var m = Math.floor(Math.round(value) / 60), s = Math.round(value) % 60;
    return m + " m" + (s ? " " + s + " s" : "");
  }

  function reasons(container, data) {
    var rows = data.reasons;
    var coded = rows.reduce(function (s, r) { return s + r.count; }, 0);
    var rowH = 30;
    var c = canvas(container, rows.length * rowH + 14);
    var labelW = Math.min(210, c.width * 0.42);
    var box = { left: labelW, right: c.width - 48, top: 6 };
    var max = Math.max.apply(null, rows.map(function (r) { return Math.max(r.share || 0, r.baymard_share || 0); }).concat([0.1]));
    rows.forEach(function (r, i) {
      var y = box.top + i * rowH;
      text(c.svg, labelW - 10, y + 15, r.label, { "text-anchor": "end", "class": r.count ? "label-strong" : "" });
      var w1 = (box.right - box.left) * (r.share || 0) / max;
      tip(node("rect", { "class": "bar", x: box.left, y: y + 3, width: Math.max(w1, r.count ? 2 : 0), height: 10, rx: 2, fill: COLOR.brand }, c.svg),
          r.label + ": " + r.count + " conversations (" + pct(r.share, 1) + " of " + coded + " with a reason)");
      if (r.count) text(c.svg, box.left + w1 + 5, y + 12, pct(r.share), { "class": "label-strong" });
      if (r.baymard_share !== null) {
        var w2 = (box.right - box.left) * r.baymard_share / max;
        tip(node("rect", { "class": "bar", x: box.left, y: y + 15, width: w2, height: 8, rx: 2, fill: COLOR.slate }, c.svg),
            r.label + ": " + pct(r.baymard_share) + " of Baymard's respondents");
        text(c.svg, box.left + w2 + 5, y + 23, pct(r.baymard_share), { fill: COLOR.muted, "font-size": 11 });
      }
    });
    legend(container, [
      { label: coded ? "Our conversations (" + coded + " with a reason)" : "Our conversations (none closed with a reason yet)", color: COLOR.brand },
      { label: "Baymard 2024, US shoppers", color: COLOR.slate }
    ]);
  }

  function offers(container, data) {
    var rows = data.offers;
    var made = rows.reduce(function (s, r) { return s + r.made; }, 0);
    if (!made) return empty(container, "No offers were made in this range.");
    var parts = [["accepted", COLOR.teal, "accepted"], ["declined", COLOR.rose, "declined"],
                 ["expired", COLOR.slate, "expired"], ["proposed", COLOR.amber, "still open"]];
    var rowH = 36;
    var c = canvas(container, rows.length * rowH + 10);
    var labelW = 110;
    var box = { left: labelW, right: c.width - 150, top: 6 };
    var max = Math.max.apply(null, rows.map(function (r) { return r.made; }));
    rows.forEach(function (r, i) {
      var y = box.top + i * rowH;
      var name = r.kind.replace("_", " ");
      text(c.svg, labelW - 10, y + 17, name.charAt(0).toUpperCase() + name.slice(1), { "text-anchor": "end", "class": "label-strong" });
      var x = box.left;
      parts.forEach(function (part) {
        var w = (box.right - box.left) * r[part[0]] / max;
        if (w > 0) {
          tip(node("rect", { "class": "bar", x: x, y: y + 4, width: w, height: 20, fill: part[1] }, c.svg),
              name + ": " + r[part[0]] + " " + part[2]);
          if (w > 18) text(c.svg, x + w / 2, y + 18, r[part[0]], { "text-anchor": "middle", fill: "#fff", "font-weight": 600 });
        }
        x += w;
      });
      text(c.svg, x + 8, y + 18, r.made ? r.accepted + " of " + r.made + " accepted (" + pct(r.acceptance_rate) + ")" : "none made",
           { fill: r.made ? COLOR.ink : COLOR.muted });
    });
    legend(container, parts.map(function (p) { return { label: p[2].charAt(0).toUpperCase() + p[2].slice(1), color: p[1] }; }));
  }

  function intervention(container, data) {
    var iv = data.intervention;
    if (!iv.treatment && !iv.holdout) return empty(container, "No visitor met a proactive trigger in this range.");
    var c = canvas(container, 210);
    var labelW = 150;
    var box = { left: labelW, right: c.width - 90 };
    var maxRate = niceMax(Math.max(iv.treatment_rate || 0, iv.holdout_rate || 0, 0.05));
    [["Prompted", iv.treatment, iv.treatment_converted, iv.treatment_rate, COLOR.brand],
     ["Held out", iv.holdout, iv.holdout_converted, iv.holdout_rate, COLOR.slate]].forEach(function (arm, i) {
      var y = 8 + i * 34;
      text(c.svg, labelW - 10, y + 15, arm[0] + " (" + arm[1] + ")", { "text-anchor": "end", "class": "label-strong" });
      var w = arm[3] === null ? 0 : (box.right - box.left) * arm[3] / maxRate;
      tip(node("rect", { "class": "bar", x: box.left, y: y + 2, width: Math.max(w, 1), height: 20, rx: 3, fill: arm[4] }, c.svg),
          arm[0] + ": " + arm[2] + " of " + arm[1] + " visitors ordered (" + pct(arm[3], 1) + ")");
      text(c.svg, box.left + w + 8, y + 17, arm[3] === null ? "no visitors" : pct(arm[3], 1) + " ordered");
    });
    // The lift and its interval on a percentage-point axis with zero marked.
    var top = 100;
    text(c.svg, labelW - 10, top + 24, "Lift, 95% CI", { "text-anchor": "end", "class": "label-strong" });
    if (iv.lift === null) {
      text(c.svg, box.left, top + 24, "needs visitors in both arms", { fill: COLOR.muted });
      return;
    }
    var lo = Math.min(iv.ci_low, 0), hi = Math.max(iv.ci_high, 0);
    var pad = Math.max((hi - lo) * 0.1, 0.02);
    lo -= pad; hi += pad;
    var sx = function (v) { return box.left + (box.right - box.left) * (v - lo) / (hi - lo); };
    var axisY = top + 52;
    node("line", { x1: box.left, x2: box.right, y1: axisY, y2: axisY, stroke: COLOR.grid }, c.svg);
    node("line", { x1: sx(0), x2: sx(0), y1: top + 4, y2: axisY + 4, stroke: COLOR.muted, "stroke-dasharray": "3 3" }, c.svg);
    text(c.svg, sx(0), axisY + 18, "no difference", { "text-anchor": "middle", fill: COLOR.muted, "font-size": 11 });
    var color = iv.ci_low > 0 ? "#047857" : iv.ci_high < 0 ? "#b91c1c" : COLOR.brand;
    var info = "Lift " + pts(iv.lift) + ", 95% CI " + pts(iv.ci_low) + " to " + pts(iv.ci_high);
    tip(node("line", { x1: sx(iv.ci_low), x2: sx(iv.ci_high), y1: top + 20, y2: top + 20, stroke: color, "stroke-width": 3,
                       "stroke-linecap": "round" }, c.svg), info);
    [iv.ci_low, iv.ci_high].forEach(function (v) {
      node("line", { x1: sx(v), x2: sx(v), y1: top + 12, y2: top + 28, stroke: color, "stroke-width": 2 }, c.svg);
      text(c.svg, sx(v), top + 44, pts(v), { "text-anchor": "middle", "font-size": 11 });
    });
    tip(node("circle", { "class": "dot", cx: sx(iv.lift), cy: top + 20, r: 6, fill: color }, c.svg), info);
    text(c.svg, sx(iv.lift), top + 6, pts(iv.lift), { "text-anchor": "middle", "class": "label-strong" });
  }

  function load(container, data) {
    var series = data.load;
    var points = series.points;
    if (!points.some(function (p) { return p.taken; })) return empty(container, "No conversation was taken in this range.");
    var c = canvas(container, 200);
    var box = { left: 44, right: c.width - 16, top: 12, bottom: 200 - 34 };
    var max = niceMax(Math.max.apply(null, points.map(function (p) { return p.per_agent || 0; })));
    yAxis(c.svg, box, max, 4, function (v) { return v % 1 ? v.toFixed(1) : String(v); });
    var step = points.length > 1 ? (box.right - box.left) / (points.length - 1) : 0;
    var every = Math.ceil(points.length / Math.max(1, Math.floor((box.right - box.left) / 64)));
    // Periods where nobody took a conversation have no per-agent figure: the line breaks there.
    var segments = [], current = [];
    points.forEach(function (p, i) {
      var x = points.length > 1 ? box.left + step * i : (box.left + box.right) / 2;
      if (i % every === 0) text(c.svg, x, box.bottom + 18, day(p.period, series.unit), { "text-anchor": "middle" });
      if (p.per_agent === null) {
        if (current.length) segments.push(current);
        current = [];
        return;
      }
      current.push([x, box.bottom - (box.bottom - box.top) * p.per_agent / max]);
    });
    if (current.length) segments.push(current);
    segments.forEach(function (seg) {
      if (seg.length < 2) return;
      var d = seg.map(function (pt, i) { return (i ? "L" : "M") + pt[0].toFixed(1) + " " + pt[1].toFixed(1); }).join("");
      node("path", { d: d + "L" + seg[seg.length - 1][0] + " " + box.bottom + "L" + seg[0][0] + " " + box.bottom + "Z",
                     fill: "#ccfbf1", opacity: 0.7 }, c.svg);
      node("path", { d: d, fill: "none", stroke: COLOR.teal, "stroke-width": 2.5, "stroke-linejoin": "round" }, c.svg);
    });
    points.forEach(function (p, i) {
      if (p.per_agent === null) return;
      var x = points.length > 1 ? box.left + step * i : (box.left + box.right) / 2;
      var y = box.bottom - (box.bottom - box.top) * p.per_agent / max;
      tip(node("circle", { "class": "dot", cx: x, cy: y, r: 3.5, fill: COLOR.teal }, c.svg),
          day(p.period, series.unit) + ": " + p.taken + " conversations taken by " + p.agents + " agents (" + p.per_agent + " each)");
    });
  }

  var CHARTS = { over_time: overTime, distributions: distributions, reasons: reasons, offers: offers,
                 intervention: intervention, load: load };

  function drawAll() {
    var source = document.getElementById("report-data");
    if (!source) return;
    var data = JSON.parse(source.textContent);
    document.querySelectorAll("[data-chart]").forEach(function (container) {
      var draw = CHARTS[container.getAttribute("data-chart")];
      if (draw) draw(container, data);
      container.setAttribute("data-drawn", "1");
    });
  }

  var lastWidth = 0;
  var timer = null;
  window.addEventListener("resize", function () {
    if (Math.abs(window.innerWidth - lastWidth) < 30) return;
    clearTimeout(timer);
    timer = setTimeout(function () { lastWidth = window.innerWidth; drawAll(); }, 150);
  });
  lastWidth = window.innerWidth;
  drawAll();
})();
