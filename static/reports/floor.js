/* ChatDesk live floor: applies `floor` snapshots from /ws/floor/ (or, while the
 * socket is down, from polling the JSON endpoint) and ticks the waits every
 * second against the server's clock. */
(function () {
  "use strict";

  var script = document.getElementById("floor-script");
  var site = script.getAttribute("data-site") || "";
  var jsonUrl = script.getAttribute("data-json") + (site ? "?site=" + encodeURIComponent(site) : "");
  var live = document.getElementById("live");
  var snapshot = JSON.parse(document.getElementById("floor-data").textContent);
  var clockOffset = Date.parse(snapshot.now) - Date.now();
  var socket = null, pollTimer = null, retryTimer = null;

  function $(sel) { return document.querySelector(sel); }
  function set(key, value) { var el = $('[data-floor="' + key + '"]'); if (el) el.textContent = value; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    var s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " m " + String(s % 60).padStart(2, "0") + " s";
    return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " m";
  }

  function cell(tr, content, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    tr.appendChild(td);
    return td;
  }

  function bar(className, fraction) {
    var outer = document.createElement("div");
    outer.className = className;
    var inner = document.createElement("span");
    inner.style.width = Math.min(100, Math.round(fraction * 100)) + "%";
    outer.appendChild(inner);
    return outer;
  }

  function emptyRow(tbody, columns, message) {
    var tr = document.createElement("tr");
    tr.className = "none";
    var td = cell(tr, message, "empty");
    td.colSpan = columns;
    tbody.appendChild(tr);
  }

  function render() {
    var t = snapshot.totals;
    set("queue_length", t.queue_length);
    set("agents_online", t.agents_online);
    set("agents_detail", t.agents_away + " away");
    set("load", t.load + " / " + t.capacity);
    set("today", snapshot.today.conversations);
    set("today_detail", "conversations · " + snapshot.today.missed + " missed · median wait " + duration(snapshot.today.wait_p50_s));

    var queue = $("#queue-table tbody");
    queue.textContent = "";
    snapshot.queue.forEach(function (q) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-since", q.waiting_since);
      tr.setAttribute("data-target", q.target_wait_seconds);
      cell(tr, q.visitor);
      cell(tr, q.site);
      cell(tr, "", "wait");
      cell(tr, bar("wait-bar", 0), "against");
      cell(tr, q.cart_total ? q.cart_total + " " + q.currency : "–");
      cell(tr, q.checkout_step || "–");
      cell(tr, q.team || "general");
      queue.appendChild(tr);
    });
    if (!snapshot.queue.length) emptyRow(queue, 7, "Nobody is waiting.");

    var agents = $("#agents-table tbody");
    agents.textContent = "";
    snapshot.agents.forEach(function (a) {
      var tr = document.createElement("tr");
      cell(tr, a.name);
      var badge = document.createElement("span");
      badge.className = "presence " + a.presence;
      badge.textContent = a.presence;
      cell(tr, badge);
      var b = bar("load-bar" + (a.load >= a.capacity ? " full" : ""), a.capacity ? a.load / a.capacity : 0);
      b.title = a.load + " of " + a.capacity;
      cell(tr, b);
      cell(tr, a.load + " / " + a.capacity);
      agents.appendChild(tr);
    });
    if (!snapshot.agents.length) emptyRow(agents, 4, "No agent is signed in.");

    var sites = $("#sites-table tbody");
    sites.textContent = "";
    snapshot.sites.forEach(function (s) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-oldest", s.oldest_queued_at || "");
      tr.setAttribute("data-target", s.target_wait_seconds);
      cell(tr, s.name);
      cell(tr, s.queue_length);
      cell(tr, "", "longest");
      cell(tr, "", "over");
      cell(tr, duration(s.target_wait_seconds));
      sites.appendChild(tr);
    });
    tick();
  }

  // Waits grow every second without any event: recompute them here.
  function tick() {
    var now = Date.now() + clockOffset;
    var longest = null, over = 0, longestTarget = null;
    document.querySelectorAll("#queue-table tbody tr[data-since]").forEach(function (tr) {
      var waited = (now - Date.parse(tr.getAttribute("data-since"))) / 1000;
      var target = Number(tr.getAttribute("data-target"));
      tr.querySelector(".wait").textContent = duration(waited);
      var fill = tr.querySelector(".wait-bar > span");
      fill.style.width = Math.min(100, Math.round(100 * waited / Math.max(target, 1))) + "%";
      tr.classList.toggle("over", waited > target);
      if (waited > target) over += 1;
      if (longest === null || waited > longest) { longest = waited; longestTarget = target; }
    });
    // The list shows the longest waits; counts beyond it come from the snapshot.
    over = Math.max(over, snapshot.queue.length < snapshot.totals.queue_length ? snapshot.totals.over_target : 0);
    set("longest_wait", duration(longest));
    set("longest_wait_detail", longest === null ? "nobody waiting" : "target " + duration(longestTarget));
    set("over_target", over);
    $('[data-key="over_target"]').classList.toggle("alert", over > 0);
    document.querySelectorAll("#sites-table tbody tr").forEach(function (tr) {
      var oldest = tr.getAttribute("data-oldest");
      var waited = oldest ? (now - Date.parse(oldest)) / 1000 : null;
      tr.querySelector(".longest").textContent = duration(waited);
      tr.querySelector(".over").textContent = waited !== null && waited > Number(tr.getAttribute("data-target")) ? "yes" : "–";
    });
  }

  function apply(next) {
    snapshot = next;
    clockOffset = Date.parse(next.now) - Date.now();
    render();
  }

  function status(state, label) {
    live.className = "live " + state;
    live.textContent = label;
  }

  function poll() {
    fetch(jsonUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(apply)
      .catch(function () { status("", "offline: retrying"); });
  }

  function startPolling() {
    if (pollTimer) return;
    status("polling", "polling every 5 s");
    poll();
    pollTimer = setInterval(poll, 5000);
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/floor/" + (site ? "?site=" + encodeURIComponent(site) : ""));
    socket.onopen = function () {
      status("on", "live");
      if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
    };
    socket.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "floor") apply(frame);
    };
    socket.onclose = function () {
      socket = null;
      startPolling();
      clearTimeout(retryTimer);
      retryTimer = setTimeout(connect, 15000);
    };
  }

  document.getElementById("site-select").addEventListener("change", function () {
    document.getElementById("floor-site").submit();
  });
  render();
  setInterval(tick, 1000);
  connect();
})();
