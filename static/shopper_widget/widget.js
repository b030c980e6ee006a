/*! ChatDesk shopper widget. One script tag, no dependencies; see docs/widget.md. */
(function () {
  "use strict";
  var W = window, D = document;
  var stub = W.ChatDesk;
  if (stub && stub.__loaded) return; // the tag twice on one page: the first copy wins

  // ---- where we come from --------------------------------------------------
  var script = D.currentScript;
  if (!script || !script.getAttribute("data-site")) {
    script = null;
    var tags = D.querySelectorAll("script[data-site]");
    for (var ti = 0; ti < tags.length; ti++) {
      if (/shopper_widget\/widget(\.[\w-]+)?\.js/.test(tags[ti].src)) script = tags[ti];
    }
  }
  if (!script) {
    if (W.console) console.warn("ChatDesk: no <script data-site> tag for widget.js");
    return;
  }
  var attr = function (n) { return script.getAttribute("data-" + n); };
  var SITE = attr("site");
  var HOST = attr("host") || new URL(script.src, location.href).origin;
  var WS_URL = HOST.replace(/^http/, "ws") + "/ws/widget/" + encodeURIComponent(SITE) + "/";

  // ---- every shopper-facing string, in one place (translate with data-strings or configure) ----
  var S = {
    title: "Chat with us",
    subtitle: "We usually reply in a few minutes",
    greeting: "Hi! Questions about your order? We're here.",
    openChat: "Open chat",
    closeChat: "Close chat",
    unread: "{count} unread",
    placeholder: "Write a message…",
    messageLabel: "Message",
    send: "Send",
    agent: "Support",
    sending: "Sending…",
    sent: "Sent",
    failed: "Not sent",
    retry: "Retry",
    queued: "You're number {position} in line",
    etaSoon: "Someone will be with you in a moment",
    eta: "Expected wait: about {minutes} min",
    noAgents: "No one is online right now. Stay here and we'll answer as soon as we're back.",
    online: "Online",
    assigned: "{name} joined the conversation",
    typing: "{name} is typing",
    reconnecting: "Connection lost. Reconnecting…",
    offline: "You're offline. We'll send your messages when you're back.",
    newMessage: "{name}: {text}",
    ended: "This conversation has ended",
    offerAccept: "Accept",
    offerDecline: "No thanks",
    accepted: "Accepted",
    declined: "Declined",
    expired: "Expired",
    offerGone: "This offer is no longer available.",
    code: "Code",
    kind_upsell: "Upgrade",
    kind_cross_sell: "Goes well with your order",
    kind_bundle: "Bundle deal",
    kind_discount: "Discount",
    kind_free_shipping: "Free shipping",
    rateTitle: "How was your conversation?",
    star: "{n} out of 5",
    rateComment: "Anything we could do better? (optional)",
    rateSubmit: "Send feedback",
    rateThanks: "Thank you for your feedback!",
    closedTitle: "We're closed right now",
    awayTitle: "No one is available right now",
    leaveIntro: "Leave a message and we'll reply by email or text.",
    leaveInstead: "Leave a message instead",
    leaveText: "Your message",
    email: "Email",
    phone: "Phone",
    leaveSubmit: "Send message",
    leaveNeedContact: "Please give an email address or a phone number so we can reply.",
    leaveThanks: "Thanks! We'll get back to you soon.",
    promptAccept: "Chat now",
    dismiss: "Dismiss",
    error: "Something went wrong. Please try again.",
    poweredBy: "Powered by ChatDesk"
  };
  var fmt = function (key, vars) {
    return String(S[key] == null ? key : S[key]).replace(/\{(\w+)\}/g, function (m, k) {
      return vars && vars[k] != null ? vars[k] : m;
    });
  };

  // ---- storage that never throws (private mode, blocked cookies) ----
  var mem = {};
  var PFX = "chatdesk:" + SITE + ":";
  var store = {
    get: function (k) {
      try { var v = W.localStorage.getItem(PFX + k); return v == null ? mem[k] : v; } catch (e) { return mem[k]; }
    },
    set: function (k, v) {
      mem[k] = v;
      try { if (v == null) W.localStorage.removeItem(PFX + k); else W.localStorage.setItem(PFX + k, v); } catch (e) { /* memory only */ }
    }
  };
  var session = {
    get: function (k) { try { return W.sessionStorage.getItem(PFX + k); } catch (e) { return null; } },
    set: function (k, v) { try { W.sessionStorage.setItem(PFX + k, v); } catch (e) { /* ignore */ } }
  };
  var readJSON = function (k, dflt) { try { var v = JSON.parse(store.get(k)); return v == null ? dflt : v; } catch (e) { return dflt; } };
  var uid = function () {
    if (W.crypto && crypto.randomUUID) return crypto.randomUUID();
    var s = ""; for (var i = 0; i < 4; i++) s += Math.random().toString(16).slice(2, 10);
    return s;
  };

  // ---- options: data-* attributes, then ChatDesk.configure() ----
  var opts = { accent: attr("accent-color"), greeting: attr("greeting"), title: attr("title"),
               position: attr("position") === "left" ? "left" : "right", lang: attr("lang") };
  try { var ds = attr("strings"); if (ds) Object.assign(S, JSON.parse(ds)); } catch (e) { warn("data-strings is not JSON"); }

  function warn(msg) { if (W.console) console.warn("ChatDesk: " + msg); }

  // ---- state ----------------------------------------------------------------
  var site = readJSON("site", {}); // welcome.site, remembered so a reload paints the right colours at once
  var availability = null;    // welcome.availability, when the server sends it
  var rules = [];             // welcome.interventions
  var visitorId = store.get("visitor") || null;
  var conv = null;            // {id, status, queue, agent, rated, reason}
  var msgs = {};              // message id -> message, current conversation only
  var seqs = {};              // seq -> true
  var offers = {};            // offer id -> offer
  var outbox = readJSON("outbox", []);   // [{client_id, text, created_at}] shared by tabs
  var failed = {};            // client_id -> error code (this tab's view)
  var sentAt = {};            // client_id -> time last sent
  var acceptedHere = {};      // offer ids this tab accepted (fires offer:accepted once)
  var fired = {};             // events already fired for an offer id
  var offerErr = {};
  var pendingOffer = {};      // offer id -> accepted, until the server answers
  var pendingRate = null, rateErr = null, rateThanks = false;
  var pendingFrames = [];     // intervention frames waiting for a socket
  var leave = null;           // {client_id, text, email, phone, state, error}
  var leaveOpen = false;
  var cart = null, step = null, ident = null;
  var typingUntil = 0, typingTimer = 0;
  var prompt = null;          // {trigger, text, kind: "prompt"|"message"}
  var unread = 0;
  var panelOpen = session.get("open") === "1";
  var hooks = {};
  var readyFired = false;

  // ---- page API ---------------------------------------------------------------
  function on(ev, fn) {
    if (typeof fn !== "function") return api;
    (hooks[ev] = hooks[ev] || []).push(fn);
    if (ev === "ready" && readyFired) call(fn, { visitor_id: visitorId });
    return api;
  }
  function off(ev, fn) { hooks[ev] = (hooks[ev] || []).filter(function (f) { return f !== fn; }); return api; }
  function call(fn, payload) { try { fn(payload); } catch (e) { setTimeout(function () { throw e; }); } }
  function emitPage(ev, payload) { (hooks[ev] || []).slice().forEach(function (fn) { call(fn, payload); }); }

  // Methods go onto the page's stub object itself, so references taken before we loaded keep working.
  var api = stub && typeof stub === "object" ? stub : {};
  var early = [].concat(api.q || api._q || []);
  Object.assign(api, {
    __loaded: true,
    version: "1",
    on: on,
    off: off,
    open: function () { openPanel(true); return api; },
    close: function () { openPanel(false); return api; },
    visitorId: function () { return visitorId; },
    setCart: function (c) {
      if (!c || typeof c !== "object") { warn("setCart needs a cart object"); return api; }
      cart = JSON.parse(JSON.stringify(c));
      if (cart.checkout_step && cart.checkout_step !== step) { step = cart.checkout_step; stepSince = Date.now(); }
      scheduleCart();
      checkRules();
      return api;
    },
    checkoutStep: function (s) {
      if (s !== step) stepSince = Date.now();
      step = s;
      if (cart) { cart.checkout_step = s; scheduleCart(); }
      sendPage();
      checkRules();
      return api;
    },
    identify: function (who) {
      who = who || {};
      ident = {};
      ["email", "name", "phone", "signature"].forEach(function (k) { if (who[k] != null) ident[k] = String(who[k]); });
      ["consent_email", "consent_sms"].forEach(function (k) { if (who[k] != null) ident[k] = !!who[k]; });
      if (ready) send(Object.assign({ type: "identify" }, ident));
      return api;
    },
    configure: function (o) {
      o = o || {};
      if (o.strings) Object.assign(S, o.strings);
      if (o.accentColor) opts.accent = o.accentColor;
      if (o.greeting) opts.greeting = o.greeting;
      if (o.title) opts.title = o.title;
      if (o.position) opts.position = o.position === "left" ? "left" : "right";
      if (o.lang) opts.lang = o.lang;
      remount();
      return api;
    }
  });
  W.ChatDesk = api;

  // ---- socket -----------------------------------------------------------------
  var ws = null, ready = false, attempt = 0, reconnectTimer = 0, pingTimer = 0, lastHeard = 0;
  var everConnected = false, downSince = 0, helloToken = null, helloSeq = 0, reHelloed = false;
  var tokens = 12, tokenStamp = Date.now(), queue = [], pumpTimer = 0, syncing = false;

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = 0;
    if (ws) return;
    var sock;
    try { sock = new WebSocket(WS_URL); } catch (e) { scheduleReconnect(); return; }
    ws = sock;
    // A handshake that hangs (a proxy holding the connection) counts as a failure.
    var openTimer = setTimeout(function () { if (sock === ws && sock.readyState !== 1) drop(); }, 10000);
    sock.onopen = function () {
      clearTimeout(openTimer);
      if (sock !== ws) return;
      lastHeard = Date.now();
      hello(store.get("token") || null);
      clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        // A socket that heard nothing for a minute is dead even if the browser thinks otherwise.
        if (Date.now() - lastHeard > 60000) { drop(); return; }
        send({ type: "ping" });
      }, 25000);
    };
    sock.onmessage = function (ev) {
      if (sock !== ws) return;
      lastHeard = Date.now();
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && typeof f.type === "string") {
        try { handle(f); } catch (e) { warn("could not handle a " + f.type + " frame: " + e); }
      }
    };
    sock.onclose = function () { if (sock === ws) lost(); };
  }

  function hello(token) {
    helloToken = token;
    helloSeq = conv ? contiguous() : 0;
    var f = { type: "hello", visitor_token: token, last_seq: helloSeq };
    if (conv) f.conversation_id = conv.id;
    raw(f);
  }

  function drop() { if (ws) { try { ws.close(); } catch (e) { /* gone */ } lost(); } }

  function lost() {
    if (ws) { ws.onopen = ws.onmessage = ws.onclose = null; }
    ws = null;
    ready = false;
    syncing = false;
    queue = [];
    clearInterval(pingTimer);
    if (!downSince) downSince = Date.now();
    setTimeout(render, 1600); // a blip shorter than this shows no banner
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    // Exponential backoff with jitter: 0.5 s doubling to 20 s, each delay drawn from its upper half.
    var cap = Math.min(20000, 500 * Math.pow(2, attempt++));
    reconnectTimer = setTimeout(connect, cap / 2 + Math.random() * cap / 2);
  }

  function reconnectNow() {
    attempt = 0;
    if (!ws) { clearTimeout(reconnectTimer); reconnectTimer = 0; connect(); }
  }

  function raw(f) {
    if (!ws || ws.readyState !== 1) return false;
    try { ws.send(JSON.stringify(f)); return true; } catch (e) { return false; }
  }

  // The server allows 10 frames a second with bursts of 20; stay well below so a
  // reconnect that replays the outbox is never refused.
  function send(f) {
    if (!ready) return false;
    queue.push(f);
    pump();
    return true;
  }
  function pump() {
    clearTimeout(pumpTimer);
    var now = Date.now();
    tokens = Math.min(12, tokens + (now - tokenStamp) * 0.006);
    tokenStamp = now;
    while (queue.length && tokens >= 1 && ready) {
      tokens -= 1;
      raw(queue.shift());
    }
    if (queue.length && ready) pumpTimer = setTimeout(pump, 180);
  }

  // ---- frames from the server -----------------------------------------------------
  function handle(f) {
    switch (f.type) {
      case "welcome": return welcome(f);
      case "synced": return resume(f, true);
      case "ack": gotMessage(f.message, false); return render();
      case "message": gotMessage(f.message, true); return render();
      case "queue":
        if (!conv || conv.id !== f.conversation_id) switchTo(f.conversation_id, "queued");
        conv.status = "queued";
        conv.queue = { position: f.position, eta: f.eta_seconds, agents: f.agents_online };
        return render();
      case "assigned":
        if (!conv || conv.id !== f.conversation_id) switchTo(f.conversation_id, "active");
        conv.status = "active";
        conv.queue = null;
        conv.agent = f.agent || null;
        announce(fmt("assigned", { name: agentName() }));
        emitPage("assigned", { conversation_id: f.conversation_id, agent: f.agent });
        return render();
      case "typing":
        clearTimeout(typingTimer);
        typingUntil = f.active ? Date.now() + 8000 : 0;
        if (f.active) typingTimer = setTimeout(render, 8100);
        return render();
      case "offer": return gotOffer(f.offer);
      case "closed":
        if (conv && conv.id === f.conversation_id) setClosed(f.reason);
        return render();
      case "rated":
        pendingRate = null; rateThanks = true;
        if (conv) conv.rated = true;
        tell({ t: "rated" });
        return render();
      case "prompt": return showPrompt({ trigger: f.trigger, text: f.text, kind: "prompt" });
      case "left_message":
        if (leave && leave.client_id === f.client_id) { leave.state = "done"; leave.error = null; }
        return render();
      case "availability":  // an agent came online or left, or the site opened or closed (docs/routing.md)
        availability = { open: f.open, agents_online: f.agents_online, reason: f.reason };
        return render();
      case "error": return gotError(f);
    }
  }

  function welcome(f) {
    // Two tabs that started without a token each got a new visitor: follow the one stored first.
    var stored = store.get("token");
    if (stored && stored !== helloToken && stored !== f.visitor_token && !reHelloed) {
      reHelloed = true;
      hello(stored);
      return;
    }
    store.set("token", f.visitor_token);
    if (visitorId && f.visitor_id !== visitorId) resetConversation();
    visitorId = f.visitor_id;
    store.set("visitor", visitorId);
    var look = JSON.stringify(f.site || {});
    if (look !== JSON.stringify(site)) {
      site = f.site || {};
      store.set("site", look);
      restyle();
    }
    if (f.availability && typeof f.availability === "object") availability = f.availability;
    if (Array.isArray(f.interventions)) rules = f.interventions;
    var changed = resume(f, false);
    ready = true;
    attempt = 0;
    everConnected = true;
    downSince = 0;
    tokens = 12;
    // Another conversation than the one our cursor was for: fetch it whole.
    if (changed && helloSeq > 0) { syncing = true; send({ type: "sync", last_seq: 0 }); }
    flush();
    if (!readyFired) { readyFired = true; emitPage("ready", { visitor_id: visitorId }); }
    render();
    checkRules();
  }

  // welcome and synced carry {conversation, messages, offers, resync}; returns true if the conversation changed.
  function resume(f, isSync) {
    if (isSync) syncing = false;
    var c = f.conversation;
    var changed = false;
    if (!c) {
      if (conv) { resetConversation(); changed = true; }
    } else {
      if (!conv || conv.id !== c.id || f.resync) { changed = !!conv && conv.id !== c.id; switchTo(c.id, c.status); }
      if (c.agent) conv.agent = c.agent;
      conv.rated = !!c.rated || conv.rated;
      if (c.status === "closed") setClosed(null); // closed while we were away: same as a `closed` frame
      conv.status = c.status;
      if (c.status === "queued") conv.queue = conv.queue || { position: c.queue_position, eta: undefined };
      else conv.queue = null;
    }
    (f.messages || []).forEach(function (m) { gotMessage(m, false); });
    (f.offers || []).forEach(function (o) { gotOffer(o, true); });
    render();
    return changed;
  }

  function resetConversation() { conv = null; msgs = {}; seqs = {}; offers = {}; typingUntil = 0; }

  function switchTo(id, status) {
    resetConversation();
    conv = { id: id, status: status, queue: null, agent: null, rated: false };
  }

  function setClosed(reason) {
    var was = conv.status;
    conv.status = "closed";
    conv.queue = null;
    typingUntil = 0;
    if (was !== "closed") emitPage("conversation:closed", { conversation_id: conv.id, reason: reason });
  }

  function contiguous() {
    var n = 0;
    while (seqs[n + 1]) n++;
    return n;
  }

  function gotMessage(m, live) {
    if (!m || typeof m !== "object") return;
    if (m.client_id && m.sender === "shopper") dropOutbox(m.client_id);
    if (!conv || conv.id !== m.conversation_id) {
      // A newer conversation (our first message after a close, or another tab's): follow it.
      if (conv && m.conversation_id < conv.id) return;
      switchTo(m.conversation_id, "queued");
    }
    if (msgs[m.id] || seqs[m.seq]) return;
    msgs[m.id] = m;
    seqs[m.seq] = true;
    if (m.sender === "agent") typingUntil = 0;
    if (m.seq > contiguous() + 1 && !syncing && ready) {
      // A gap: a notification was lost somewhere; the database has it.
      syncing = true;
      send({ type: "sync", last_seq: contiguous() });
    }
    if (live) {
      emitPage("message", m);
      if (m.sender !== "shopper") {
        announce(fmt("newMessage", { name: m.author || (m.sender === "agent" ? agentName() : site.name || ""), text: m.text }));
        if (!panelOpen) {
          unread++;
          showPrompt({ text: m.text, author: m.author, kind: "message" });
        }
      }
    }
  }

  function gotOffer(o, quiet) {
    if (!o || !o.id) return;
    if (conv && o.conversation_id !== conv.id) return;
    var before = offers[o.id];
    offers[o.id] = o;
    if (o.status !== "proposed") delete pendingOffer[o.id];
    if (o.status === "accepted" && acceptedHere[o.id] && !fired[o.id]) {
      fired[o.id] = true;
      emitPage("offer:accepted", o);
    }
    if (!quiet && !before && o.status === "proposed") {
      typingUntil = 0; // what the agent was typing was this offer
      announce(o.title);
      if (!panelOpen) { unread++; showPrompt({ text: o.title, kind: "message" }); }
    }
    render();
  }

  function gotError(f) {
    var cid = f.client_id;
    if (cid && outboxHas(cid)) {
      // Transient refusals are retried on their own; the rest wait for the shopper's Retry.
      failed[cid] = f.code;
      if (/^(unavailable|rate_limited|internal)$/.test(f.code)) {
        setTimeout(function () { if (failed[cid]) resend(cid); }, 3000);
      }
    } else if (leave && cid === leave.client_id) {
      leave.state = "form";
      leave.error = f.detail || S.error;
    } else if (f.field === "offer_id") {
      Object.keys(pendingOffer).forEach(function (id) { offerErr[id] = S.offerGone; delete pendingOffer[id]; });
    } else if (pendingRate && (f.field === "score" || f.field === "comment" || f.code === "not_found")) {
      rateErr = f.detail || S.error;
      pendingRate = null;
    } else if (f.code === "hello_required") {
      drop();
    }
    if (f.code !== "rate_limited") warn((f.code || "error") + ": " + (f.detail || ""));
    emitPage("error", f);
    render();
  }

  // After every (re)connect: everything the page or the shopper said that the server may not have.
  function flush() {
    outbox.forEach(function (e) { if (!isFatal(e.client_id)) sendMessage(e); });
    if (cart) sendCart();
    sendPage();
    if (ident) send(Object.assign({ type: "identify" }, ident));
    Object.keys(pendingOffer).forEach(function (id) {
      send({ type: "offer_response", offer_id: +id, accepted: pendingOffer[id] });
    });
    if (pendingRate) send(pendingRate);
    if (leave && leave.state === "sending") send(leave.frame);
    pendingFrames.splice(0).forEach(send);
  }

  // ---- outbox: messages not yet acknowledged, kept across reloads and shared by tabs ----
  function readOutbox() { outbox = readJSON("outbox", []); if (!Array.isArray(outbox)) outbox = []; }
  function writeOutbox(change) {
    readOutbox();                // another tab may have written since
    outbox = change(outbox);
    store.set("outbox", outbox.length ? JSON.stringify(outbox) : null);
  }
  function outboxHas(cid) { return outbox.some(function (e) { return e.client_id === cid; }); }
  function dropOutbox(cid) {
    delete failed[cid];
    if (outboxHas(cid)) writeOutbox(function (l) { return l.filter(function (e) { return e.client_id !== cid; }); });
  }
  function isFatal(cid) { var c = failed[cid]; return c && !/^(unavailable|rate_limited|internal|timeout)$/.test(c); }

  function sendMessage(e) {
    if (send({ type: "message", client_id: e.client_id, text: e.text })) {
      sentAt[e.client_id] = Date.now();
      if (failed[e.client_id] === "timeout") delete failed[e.client_id];
    }
  }
  function resend(cid) {
    delete failed[cid];
    var e = outbox.filter(function (x) { return x.client_id === cid; })[0];
    if (!e) return;
    if (ready) sendMessage(e); else reconnectNow();
    render();
  }

  function post(text) {
    text = text.replace(/^\s+|\s+$/g, "");
    if (!text) return false;
    var e = { client_id: uid(), text: text.slice(0, 4000), created_at: new Date().toISOString() };
    writeOutbox(function (l) { return l.concat([e]); });
    sendMessage(e);
    if (!ready) reconnectNow();
    setTyping(false);
    render();
    return true;
  }

  // No ack within 15 s (while sending or while offline): show it as failed, with Retry.
  setInterval(function () {
    var now = Date.now(), changed = false;
    outbox.forEach(function (e) {
      var since = sentAt[e.client_id] || Date.parse(e.created_at) || now;
      if (!failed[e.client_id] && now - since > 15000) { failed[e.client_id] = "timeout"; changed = true; }
    });
    if (changed) render();
  }, 2000);

  // ---- what the page tells us ---------------------------------------------------
  var cartTimer = 0;
  function scheduleCart() { clearTimeout(cartTimer); cartTimer = setTimeout(sendCart, 250); }
  function sendCart() { if (cart) send({ type: "cart", cart: cart }); }
  var lastUrl = "";
  function sendPage() {
    var f = { type: "page", url: location.href.slice(0, 1000), title: (D.title || "").slice(0, 300) };
    if (step) f.checkout_step = step;
    lastUrl = location.href;
    send(f);
  }

  var typingSent = false, typingStop = 0, typingAt = 0;
  function setTyping(active) {
    clearTimeout(typingStop);
    if (active) {
      if (!typingSent || Date.now() - typingAt > 4000) { send({ type: "typing", active: true }); typingSent = true; typingAt = Date.now(); }
      typingStop = setTimeout(function () { setTyping(false); }, 3000);
    } else if (typingSent) {
      typingSent = false;
      send({ type: "typing", active: false });
    }
  }

  function respondOffer(o, accepted) {
    pendingOffer[o.id] = accepted;
    delete offerErr[o.id];
    if (accepted) acceptedHere[o.id] = true;
    send({ type: "offer_response", offer_id: o.id, accepted: accepted });
    render();
  }

  function rate(score, comment) {
    pendingRate = { type: "rate", score: score, comment: comment || "" };
    rateErr = null;
    send(pendingRate);
    render();
  }

  function intervention(trigger, action) {
    var f = { type: "intervention", trigger: trigger, action: action };
    if (!send(f)) pendingFrames.push(f);
  }

  // ---- proactive rules (welcome.interventions), evaluated in the page ----
  var lastActivity = Date.now(), stepSince = Date.now(), exitGuard = false;
  function toCents(v) {
    var m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(v == null ? "" : v).trim());
    if (!m) return NaN;
    return (m[1] ? -1 : 1) * (parseInt(m[2], 10) * 100 + parseInt(((m[3] || "") + "00").slice(0, 2), 10));
  }
  function checkRules(exit) {
    if (!ready || !rules.length || panelOpen) return;
    if (conv && (conv.status === "queued" || conv.status === "active")) return; // already talking
    var now = Date.now();
    rules.forEach(function (r) {
      if (!r || typeof r.trigger !== "string" || fired["t:" + r.trigger]) return;
      var w = r.when || {};
      if (w.exit_intent && !exit) return;
      if (w.url_pattern) { try { if (!new RegExp(w.url_pattern).test(location.href)) return; } catch (e) { return; } }
      if (w.idle_seconds != null && now - Math.max(lastActivity, stepSince) < w.idle_seconds * 1000) return;
      if (w.checkout_step && (!step || [].concat(w.checkout_step).indexOf(step) < 0)) return;
      if (w.min_cart_value != null) {
        var total = cart ? toCents(cart.total != null ? cart.total : cart.subtotal) : NaN;
        if (!(total >= toCents(w.min_cart_value))) return;
      }
      fired["t:" + r.trigger] = true; // once per trigger per page load
      intervention(r.trigger, "triggered");
    });
  }
  function activity() { lastActivity = Date.now(); }
  ["pointerdown", "keydown", "scroll", "mousemove", "touchstart"].forEach(function (ev) {
    W.addEventListener(ev, activity, { passive: true, capture: true });
  });
  D.addEventListener("mouseout", function (e) {
    if (!e.relatedTarget && e.clientY <= 0) checkRules(true); // the pointer left through the top
  });
  setInterval(function () {
    if (location.href !== lastUrl && ready) sendPage();
    if (rules.length) {
      maybeGuardBack();
      checkRules(false);
    }
  }, 1000);
  // On phones there is no pointer to leave the window: the back button is the exit intent.
  // Only armed when a rule asks for it, and it gives the back press back at once.
  function maybeGuardBack() {
    if (exitGuard || !W.matchMedia || !matchMedia("(pointer: coarse)").matches) return;
    if (!rules.some(function (r) { return r && r.when && r.when.exit_intent; })) return;
    exitGuard = true;
    try { history.pushState({ chatdeskGuard: true }, "", location.href); } catch (e) { return; }
    W.addEventListener("popstate", function onPop() {
      if (history.state && history.state.chatdeskGuard) return;
      W.removeEventListener("popstate", onPop);
      checkRules(true);
    });
  }

  // ---- tabs: the server keeps sockets in step; this keeps the bits it does not send to every tab ----
  var bc = null;
  try { bc = new BroadcastChannel("chatdesk:" + SITE); } catch (e) { bc = null; }
  function tell(m) { try { if (bc) bc.postMessage(m); } catch (e) { /* ignore */ } }
  if (bc) bc.onmessage = function (ev) {
    var m = ev.data || {};
    if (m.t === "rated") { if (conv) conv.rated = true; rateThanks = true; pendingRate = null; }
    if (m.t === "prompt-hide") prompt = null;
    render();
  };
  W.addEventListener("storage", function (e) {
    if (e.key === PFX + "outbox") { readOutbox(); render(); }
  });
  W.addEventListener("online", reconnectNow);
  D.addEventListener("visibilitychange", function () {
    if (D.visibilityState === "visible") { if (!ws) reconnectNow(); if (prompt && !prompt.shown) render(); }
  });

  // ---- UI -----------------------------------------------------------------------
  var host = null, root = null, ui = null, nodes = {}, mounted = false;

  function h(tag, props, kids) {
    var el = D.createElement(tag);
    for (var k in props || {}) {
      var v = props[k];
      if (v == null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    [].concat(kids || []).forEach(function (c) {
      if (c != null && c !== false) el.appendChild(typeof c === "object" ? c : D.createTextNode(String(c)));
    });
    return el;
  }
  var ICONS = {
    chat: "M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6c-.5.4-1.3.1-1.3-.6V16H6.5A2.5 2.5 0 0 1 4 13.5z",
    close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z",
    down: "M5.6 8.6 12 15l6.4-6.4L19.8 10 12 17.8 4.2 10z",
    send: "M3.4 20.4 21 12 3.4 3.6 3.4 10.2 15 12 3.4 13.8z",
    star: "M12 2.8l2.8 5.9 6.4.8-4.7 4.4 1.2 6.4L12 17.2l-5.7 3.1 1.2-6.4L2.8 9.5l6.4-.8z",
    tag: "M3 12.2V4.5A1.5 1.5 0 0 1 4.5 3h7.7l8.8 8.8-9.2 9.2zM7.5 9a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3z"
  };
  function icon(name, size) {
    var NS = "http://www.w3.org/2000/svg";
    var svg = D.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", size || 24);
    svg.setAttribute("height", size || 24);
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var p = D.createElementNS(NS, "path");
    p.setAttribute("d", ICONS[name]);
    p.setAttribute("fill", "currentColor");
    svg.appendChild(p);
    return svg;
  }

  // Colours: the accent for surfaces, with text colours picked for WCAG AA contrast.
  function rgb(hex) {
    var m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(hex || "").trim());
    if (!m) return null;
    var s = m[1].length === 3 ? m[1].replace(/./g, "$&$&") : m[1];
    return [0, 2, 4].map(function (i) { return parseInt(s.substr(i, 2), 16); });
  }
  function lum(c) {
    return c.map(function (v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
      .reduce(function (a, v, i) { return a + v * [0.2126, 0.7152, 0.0722][i]; }, 0);
  }
  function contrast(a, b) { var x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
  function hex(c) { return "#" + c.map(function (v) { return ("0" + Math.round(v).toString(16)).slice(-2); }).join(""); }
  function palette() {
    var a = rgb(opts.accent) || rgb(site.accent_color) || [79, 70, 229];
    var white = [255, 255, 255], ink = [17, 24, 39], grey = [246, 247, 249];
    var darker = function (c) { return c.map(function (v) { return v * 0.92; }); };
    // Text on the accent: white or ink, whichever contrasts more; a mid-tone accent that reaches
    // 4.5:1 with neither is darkened until white does.
    while (Math.max(contrast(a, white), contrast(a, ink)) < 4.5) a = darker(a);
    var on = contrast(a, white) >= contrast(a, ink) ? white : ink;
    var soft = a.map(function (v) { return v * 0.09 + 255 * 0.91; });
    // Accent-coloured text (links, labels) must read on white, the grey message area and the tint.
    var text = a.slice();
    while (Math.min(contrast(text, grey), contrast(text, soft)) < 4.6) text = darker(text);
    return { accent: hex(a), on: hex(on), text: hex(text), soft: hex(soft), ring: hex(text) };
  }

  function mount() {
    if (mounted) return;
    if (!D.body) { D.addEventListener("DOMContentLoaded", mount); return; }
    mounted = true;
    host = D.createElement("chatdesk-widget");
    // Inline !important beats any page rule, so the host box itself cannot be hidden or moved.
    host.setAttribute("style", "all:initial!important;display:block!important;position:fixed!important;" +
      "z-index:2147483000!important;width:0!important;height:0!important;bottom:0!important;" +
      (opts.position === "left" ? "left" : "right") + ":0!important;top:auto!important;visibility:visible!important;" +
      "opacity:1!important;transform:none!important;contain:none!important");
    root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    D.body.appendChild(host);
    build();
  }
  function remount() {
    if (!mounted) return;
    while (root.firstChild) root.removeChild(root.firstChild);
    nodes = {};
    build();
  }

  function css() {
    var p = palette();
    return CSS.replace(/\$(\w+)/g, function (m, k) { return p[k]; });
  }
  function restyle() { if (ui) { ui.style.textContent = css(); render(); } }

  function build() {
    var style = h("style", { text: css() });
    var side = opts.position;
    var live = h("div", { class: "sr", "aria-live": "polite", "aria-atomic": "true", role: "status" });
    var badge = h("span", { class: "badge", hidden: true });
    var launcher = h("button", {
      class: "launcher " + side, type: "button", "aria-controls": "cd-panel", "aria-expanded": "false",
      "aria-label": S.openChat, onclick: function () { openPanel(!panelOpen); }
    }, [h("span", { class: "ic-open" }, icon("chat", 28)), h("span", { class: "ic-close" }, icon("down", 28)), badge]);

    var avatar = h("div", { class: "avatar", "aria-hidden": "true" });
    var title = h("h2", { class: "title", id: "cd-title" });
    var sub = h("p", { class: "sub" });
    var closeBtn = h("button", { class: "icon-btn", type: "button", "aria-label": S.closeChat,
      onclick: function () { openPanel(false); } }, icon("close", 20));
    var header = h("header", { class: "head" }, [avatar, h("div", { class: "who" }, [title, sub]), closeBtn]);
    var banner = h("div", { class: "banner", role: "status", hidden: true });
    var queueBox = h("div", { class: "queue", hidden: true });
    var list = h("ol", { class: "list", "aria-label": S.title });
    var typing = h("div", { class: "typing", hidden: true }, [
      h("span", { class: "dots", "aria-hidden": "true" }, [h("i"), h("i"), h("i")]), h("span", { class: "typing-text" })]);
    var scroller = h("div", { class: "scroll", tabindex: "-1" }, [list, typing]);
    var input = h("textarea", {
      class: "input", rows: "1", maxlength: "4000", placeholder: S.placeholder, "aria-label": S.messageLabel,
      oninput: function () { grow(input); if (input.value.trim()) setTyping(true); },
      onkeydown: function (e) {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
      }
    });
    var sendBtn = h("button", { class: "send", type: "submit", "aria-label": S.send }, icon("send", 20));
    function submit() {
      if (post(input.value)) { input.value = ""; grow(input); scrollDown(); }
      input.focus();
    }
    var composer = h("form", { class: "composer", onsubmit: function (e) { e.preventDefault(); submit(); } },
      [input, sendBtn]);
    var leaveBox = h("div", { class: "leave", hidden: true });
    var foot = h("p", { class: "foot", text: S.poweredBy });
    var panel = h("section", {
      class: "panel " + side, id: "cd-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "cd-title",
      hidden: true, onkeydown: panelKeys
    }, [header, banner, queueBox, scroller, leaveBox, composer, foot]);
    var bubble = h("div", { class: "bubble-prompt " + side, hidden: true });

    root.appendChild(style);
    root.appendChild(h("div", { class: "root" }, [live, bubble, panel, launcher]));
    ui = { style: style, launcher: launcher, badge: badge, panel: panel, avatar: avatar, title: title, sub: sub, banner: banner,
           queue: queueBox, list: list, typing: typing, scroller: scroller, input: input, composer: composer,
           leave: leaveBox, bubble: bubble, live: live, foot: foot };
    render();
    if (panelOpen) openPanel(true, true);
  }

  function grow(t) { t.style.height = "auto"; t.style.height = Math.min(t.scrollHeight, 120) + "px"; }
  function phone() { return W.matchMedia && matchMedia("(max-width: 480px)").matches; }

  function panelKeys(e) {
    if (e.key === "Escape") { e.stopPropagation(); openPanel(false); return; }
    if (e.key !== "Tab" || !phone()) return;
    // Full screen on a phone: keep focus inside, as a modal would.
    var f = [].filter.call(ui.panel.querySelectorAll("button,textarea,input,[href],[tabindex='0']"), function (el) {
      return !el.disabled && el.offsetParent !== null;
    });
    if (!f.length) return;
    var first = f[0], last = f[f.length - 1], cur = root.activeElement;
    if (e.shiftKey && cur === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && cur === last) { e.preventDefault(); first.focus(); }
  }

  function openPanel(open, quiet) {
    panelOpen = !!open;
    session.set("open", panelOpen ? "1" : "0");
    if (!ui) { mount(); return; }
    ui.panel.hidden = !panelOpen;
    ui.panel.setAttribute("aria-modal", panelOpen && phone() ? "true" : "false");
    ui.launcher.setAttribute("aria-expanded", panelOpen ? "true" : "false");
    ui.launcher.setAttribute("aria-label", panelOpen ? S.closeChat : S.openChat);
    ui.launcher.classList.toggle("is-open", panelOpen);
    if (panelOpen) {
      unread = 0;
      if (prompt) {
        if (prompt.kind === "prompt" && prompt.shown) intervention(prompt.trigger, "accepted");
        hidePrompt();
      }
      render();
      scrollDown();
      if (!quiet) setTimeout(function () { focusFirst(); }, 30);
      if (!ws && !reconnectTimer) connect();
    } else if (!quiet) {
      ui.launcher.focus();
    }
    emitPage(panelOpen ? "open" : "close", {});
    render();
  }
  function focusFirst() {
    var target = !ui.composer.hidden ? ui.input : ui.panel.querySelector(".leave textarea, .leave input, .rate input, button");
    if (target) target.focus();
  }

  function showPrompt(p) {
    if (panelOpen && p.kind === "prompt") return; // already talking to us: no invitation needed
    prompt = p;
    prompt.shown = false;
    render();
  }
  function hidePrompt() { prompt = null; tell({ t: "prompt-hide" }); render(); }

  function announce(text) {
    if (!ui) return;
    ui.live.textContent = "";
    setTimeout(function () { if (ui) ui.live.textContent = text; }, 60);
  }

  function agentName() { return (conv && conv.agent && conv.agent.name) || S.agent; }

  var timeFmt = null;
  function time(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    try {
      timeFmt = timeFmt || new Intl.DateTimeFormat(opts.lang || undefined, { hour: "numeric", minute: "2-digit" });
      return timeFmt.format(d);
    } catch (e) { return d.toTimeString().slice(0, 5); }
  }
  function money(v, currency) {
    if (v == null) return "";
    try {
      return new Intl.NumberFormat(opts.lang || undefined, { style: "currency", currency: currency || site.currency || "USD" }).format(+v);
    } catch (e) { return v; }
  }

  // Links in message text become anchors; everything else stays text (never HTML).
  function textWithLinks(text) {
    var frag = D.createDocumentFragment(), re = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)]/g, at = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > at) frag.appendChild(D.createTextNode(text.slice(at, m.index)));
      frag.appendChild(h("a", { href: m[0], target: "_blank", rel: "noopener noreferrer nofollow", text: m[0] }));
      at = m.index + m[0].length;
    }
    if (at < text.length) frag.appendChild(D.createTextNode(text.slice(at)));
    return frag;
  }

  // ---- render: state -> DOM, reusing nodes so focus and screen readers are not disturbed ----
  function render() {
    if (!ui) return;
    var p = ui;
    var name = (conv && conv.agent) ? agentName() : (opts.title || site.name || S.title);
    p.title.textContent = name;
    p.avatar.textContent = (name || "?").trim().charAt(0).toUpperCase();
    var down = !ready && everConnected && downSince && Date.now() - downSince > 1500;
    var offline = W.navigator && navigator.onLine === false;
    p.sub.textContent = conv && conv.agent && conv.status === "active" ? (site.name ? site.name + " · " : "") + S.online
      : conv && conv.agent ? site.name || ""
      : (availability && !availability.open ? (availability.reason === "closed" ? S.closedTitle : S.awayTitle) : S.subtitle);
    p.banner.hidden = !(down || offline);
    p.banner.textContent = offline ? S.offline : S.reconnecting;

    // Queue position and wait while queued.
    var q = conv && conv.status === "queued" && conv.queue;
    p.queue.hidden = !q;
    if (q) {
      var line1 = q.position ? fmt("queued", { position: q.position }) : "";
      var line2 = q.eta === null ? S.noAgents : q.eta === undefined ? "" : q.eta <= 60 ? S.etaSoon
        : fmt("eta", { minutes: Math.ceil(q.eta / 60) });
      var kids = [h("strong", { text: line1 }), line2 ? h("span", { text: line2 }) : null];
      if (q.eta === null && availability) {
        kids.push(h("button", { class: "link", type: "button", text: S.leaveInstead,
          onclick: function () { leaveOpen = true; render(); focusFirst(); } }));
      }
      setKids(p.queue, "q:" + line1 + line2 + !!availability, kids);
    }

    renderList();

    var typingOn = typingUntil > Date.now() && conv && conv.status !== "closed";
    p.typing.hidden = !typingOn;
    p.typing.lastChild.textContent = fmt("typing", { name: agentName() });

    // Closed (or no agent and no open conversation): offer the leave-a-message form instead.
    var openConv = conv && (conv.status === "queued" || conv.status === "active");
    var showLeave = leaveOpen || (availability && availability.open === false && !openConv && !outbox.length) ||
      (leave && leave.state === "done");
    p.leave.hidden = !showLeave;
    p.composer.hidden = !!showLeave;
    if (showLeave) renderLeave();

    // Launcher badge and the bubble beside it.
    p.badge.hidden = !unread || panelOpen;
    p.badge.textContent = unread > 9 ? "9+" : String(unread);
    p.badge.setAttribute("aria-label", fmt("unread", { count: unread }));
    renderPrompt();
  }

  function setKids(el, sig, kids) {
    if (el.__sig === sig) return;
    el.__sig = sig;
    while (el.firstChild) el.removeChild(el.firstChild);
    kids.forEach(function (k) { if (k) el.appendChild(k); });
  }

  function items() {
    var out = [];
    var ms = Object.keys(msgs).map(function (k) { return msgs[k]; }).sort(function (a, b) { return a.seq - b.seq; });
    var os = Object.keys(offers).map(function (k) { return offers[k]; });
    if (!ms.length && !outbox.length) out.push({ key: "greet", kind: "greet" });
    // Messages in seq order; each offer goes before the first message stored after it.
    os.sort(function (a, b) { return a.id - b.id; });
    var oi = 0;
    ms.forEach(function (m) {
      var at = Date.parse(m.created_at);
      while (oi < os.length && Date.parse(os[oi].created_at) <= at) out.push({ key: "o" + os[oi].id, kind: "offer", o: os[oi++] });
      out.push({ key: "m" + m.id, kind: "msg", m: m });
    });
    while (oi < os.length) out.push({ key: "o" + os[oi].id, kind: "offer", o: os[oi++] });
    if (conv && conv.status === "closed") {
      out.push({ key: "end", kind: "end" });
      if (!conv.rated || rateThanks) out.push({ key: "rate", kind: "rate" });
    }
    outbox.forEach(function (e) { out.push({ key: "c" + e.client_id, kind: "pending", e: e }); });
    return out;
  }

  function renderList() {
    var list = ui.list, want = items(), keep = {};
    var nearBottom = ui.scroller.scrollHeight - ui.scroller.scrollTop - ui.scroller.clientHeight < 80;
    var prevSender = null;
    want.forEach(function (it, i) {
      var sender = it.kind === "msg" ? it.m.sender : it.kind === "pending" ? "shopper" : it.kind === "greet" ? "agent" : null;
      it.first = sender !== prevSender;
      prevSender = sender;
      var node = nodes[it.key];
      var sig = signature(it);
      if (!node || node.__sig !== sig) {
        var fresh = draw(it);
        fresh.__sig = sig;
        var hadFocus = node && node.contains(root.activeElement);
        if (node && node.parentNode) node.parentNode.replaceChild(fresh, node);
        node = nodes[it.key] = fresh;
        if (hadFocus) {
          // Keep keyboard users where they were when a card redraws (an offer answered, a retry).
          var target = fresh.querySelector("button:not([disabled]),textarea,input");
          if (!target) { fresh.setAttribute("tabindex", "-1"); target = fresh; }
          target.focus();
        }
      }
      keep[it.key] = true;
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
    });
    Object.keys(nodes).forEach(function (k) {
      if (!keep[k]) { if (nodes[k].parentNode) nodes[k].parentNode.removeChild(nodes[k]); delete nodes[k]; }
    });
    if (nearBottom) scrollDown();
  }
  function scrollDown() { if (ui) ui.scroller.scrollTop = ui.scroller.scrollHeight; }

  function signature(it) {
    switch (it.kind) {
      case "msg": return [it.first, it.m.sender, it.m.author, conv && conv.agent && conv.agent.name].join("|");
      case "pending": return [it.first, failed[it.e.client_id] ? "f" : "s"].join("|");
      case "offer": return [it.o.status, pendingOffer[it.o.id], offerErr[it.o.id]].join("|");
      case "rate": return [conv.rated, rateThanks, !!pendingRate, rateErr].join("|");
      case "greet": return [opts.title || site.name, opts.greeting || site.greeting || S.greeting].join("|");
      default: return it.kind;
    }
  }

  function bubbleItem(cls, first, author, text, meta) {
    return h("li", { class: "msg " + cls + (first ? " first" : "") }, [
      first && author ? h("span", { class: "author", text: author }) : null,
      h("div", { class: "bubble" }, textWithLinks(text)),
      meta ? h("div", { class: "meta" }, meta) : null
    ]);
  }

  function draw(it) {
    var m, o;
    switch (it.kind) {
      case "greet":
        return bubbleItem("agent", true, opts.title || site.name || "", opts.greeting || site.greeting || S.greeting, null);
      case "msg":
        m = it.m;
        if (m.sender === "system") return h("li", { class: "system" }, h("span", { text: m.text }));
        var mine = m.sender === "shopper";
        return bubbleItem(mine ? "mine" : "agent", it.first, mine ? null : (m.author || agentName()), m.text, [
          h("time", { datetime: m.created_at, text: time(m.created_at) }),
          mine ? h("span", { class: "state ok", text: " · " + S.sent }) : null
        ]);
      case "pending":
        var e = it.e, bad = failed[e.client_id];
        return bubbleItem("mine pending" + (bad ? " failed" : ""), it.first, null, e.text, bad ? [
          h("span", { class: "state bad", text: S.failed + " · " }),
          h("button", { class: "link", type: "button", text: S.retry, onclick: function () { resend(e.client_id); } })
        ] : [h("span", { class: "state", text: S.sending })]);
      case "offer": return drawOffer(it.o);
      case "end": return h("li", { class: "system end" }, h("span", { text: S.ended }));
      case "rate": return drawRate();
    }
  }

  function drawOffer(o) {
    var busy = o.id in pendingOffer;
    var expired = o.status === "proposed" && o.expires_at && Date.parse(o.expires_at) < Date.now();
    var status = expired ? "expired" : o.status;
    var head = h("div", { class: "offer-kind" }, [icon("tag", 16), h("span", { text: S["kind_" + o.kind] || o.kind })]);
    var prod = o.product || {};
    var img = prod.image_url ? h("img", { class: "offer-img", src: new URL(prod.image_url, HOST + "/").href, alt: "" }) : null;
    var text = h("div", { class: "offer-text" }, [head, h("p", { class: "offer-title", text: o.title })]);
    var body = [h("div", { class: "offer-top" }, [img, text])];
    var facts = [];
    if (o.price != null) facts.push(h("span", { class: "price", text: money(o.price, o.currency) }));
    if (o.price != null && prod.price && +prod.price > +o.price) {
      facts.push(h("s", { class: "was", text: money(prod.price, o.currency) }));
    }
    if (o.discount_code) facts.push(h("span", { class: "code" }, [S.code + " ", h("b", { text: o.discount_code })]));
    if (facts.length) text.appendChild(h("div", { class: "facts" }, facts));
    if (status === "proposed") {
      body.push(h("div", { class: "actions" }, [
        h("button", { class: "btn primary", type: "button", disabled: busy, "aria-busy": busy ? "true" : null,
          text: S.offerAccept, onclick: function () { respondOffer(o, true); } }),
        h("button", { class: "btn", type: "button", disabled: busy, text: S.offerDecline,
          onclick: function () { respondOffer(o, false); } })
      ]));
    } else {
      body.push(h("p", { class: "offer-status " + status, text: S[status] || status }));
    }
    if (offerErr[o.id]) body.push(h("p", { class: "err", role: "alert", text: offerErr[o.id] }));
    return h("li", { class: "offer", "aria-label": (S["kind_" + o.kind] || o.kind) + ": " + o.title }, body);
  }

  function drawRate() {
    if (conv.rated || rateThanks) return h("li", { class: "rate done" }, h("p", { text: S.rateThanks }));
    var chosen = 0;
    var stars = [1, 2, 3, 4, 5].map(function (n) {
      var input = h("input", { type: "radio", name: "cd-score", value: String(n), class: "sr-input",
        "aria-label": fmt("star", { n: n }), onchange: function () { chosen = n; paint(); } });
      var label = h("label", { class: "star", title: fmt("star", { n: n }) }, [input, icon("star", 28)]);
      return label;
    });
    function paint() { stars.forEach(function (l, i) { l.classList.toggle("on", i < chosen); }); submit.disabled = !chosen; }
    var comment = h("textarea", { class: "field", rows: "2", maxlength: "2000", "aria-label": S.rateComment,
      placeholder: S.rateComment });
    var submit = h("button", { class: "btn primary", type: "submit", disabled: true, text: S.rateSubmit });
    var form = h("form", { class: "rate-form", onsubmit: function (e) {
      e.preventDefault(); if (chosen) rate(chosen, comment.value.trim());
    } }, [
      h("fieldset", {}, [h("legend", { text: S.rateTitle }), h("div", { class: "stars" }, stars)]),
      comment, submit,
      rateErr ? h("p", { class: "err", role: "alert", text: rateErr }) : null
    ]);
    if (pendingRate) submit.disabled = true;
    return h("li", { class: "rate" }, form);
  }

  function renderLeave() {
    var box = ui.leave;
    var st = leave ? leave.state : "form";
    var sig = [st, leave && leave.error, availability && availability.reason].join("|");
    if (box.__sig === sig) return;
    box.__sig = sig;
    while (box.firstChild) box.removeChild(box.firstChild);
    if (st === "done") { box.appendChild(h("p", { class: "thanks", role: "status", text: S.leaveThanks })); return; }
    var heading = availability && availability.reason === "closed" ? S.closedTitle : S.awayTitle;
    var text = h("textarea", { class: "field", rows: "3", maxlength: "4000", required: true, "aria-label": S.leaveText,
      placeholder: S.leaveText });
    var email = h("input", { class: "field", type: "email", autocomplete: "email", "aria-label": S.email, placeholder: S.email });
    var phoneIn = h("input", { class: "field", type: "tel", autocomplete: "tel", "aria-label": S.phone, placeholder: S.phone });
    var err = h("p", { class: "err", role: "alert", text: leave && leave.error || "" });
    if (leave && leave.frame) { text.value = leave.frame.text; email.value = leave.frame.email; phoneIn.value = leave.frame.phone; }
    box.appendChild(h("form", { class: "leave-form", onsubmit: function (e) {
      e.preventDefault();
      var t = text.value.trim(), em = email.value.trim(), ph = phoneIn.value.trim();
      if (!t) { text.focus(); return; }
      if (!em && !ph) { leave = { state: "form", error: S.leaveNeedContact, frame: { text: t, email: em, phone: ph } }; render(); return; }
      var cid = leave && leave.client_id || uid();
      var f = { type: "leave_message", client_id: cid, text: t, email: em, phone: ph };
      leave = { client_id: cid, state: "sending", frame: f, error: null };
      if (!send(f)) reconnectNow();
      render();
    } }, [
      h("p", { class: "leave-title", text: heading }),
      h("p", { class: "leave-intro", text: S.leaveIntro }),
      text, email, phoneIn, err,
      h("button", { class: "btn primary wide", type: "submit", disabled: st === "sending", text: S.leaveSubmit })
    ]));
  }

  function renderPrompt() {
    var b = ui.bubble;
    var show = prompt && !panelOpen && D.visibilityState !== "hidden";
    b.hidden = !show;
    if (!show) return;
    if (prompt.kind === "prompt" && !prompt.shown) { prompt.shown = true; intervention(prompt.trigger, "shown"); }
    var sig = prompt.kind + "|" + prompt.text;
    if (b.__sig === sig) return;
    b.__sig = sig;
    while (b.firstChild) b.removeChild(b.firstChild);
    b.setAttribute("role", "region");
    b.setAttribute("aria-label", S.title);
    b.appendChild(h("button", { class: "x", type: "button", "aria-label": S.dismiss, onclick: function () {
      if (prompt && prompt.kind === "prompt") intervention(prompt.trigger, "dismissed");
      hidePrompt();
    } }, icon("close", 16)));
    var from = prompt.author || (prompt.kind === "prompt" ? opts.title || site.name : "");
    if (from) b.appendChild(h("p", { class: "from", text: from }));
    b.appendChild(h("p", { class: "text", text: prompt.text.length > 160 ? prompt.text.slice(0, 157) + "…" : prompt.text }));
    b.appendChild(h("button", { class: "btn primary", type: "button",
      text: prompt.kind === "prompt" ? S.promptAccept : S.openChat, onclick: function () { openPanel(true); } }));
    announce(prompt.text);
  }

  var CSS = [
    ":host{all:initial}",
    ".root{font:15px/1.45 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;color:#1f2430;",
    "-webkit-font-smoothing:antialiased;letter-spacing:normal;text-align:left;direction:ltr}",
    ".root *,.root *::before,.root *::after{box-sizing:border-box;margin:0;padding:0;font:inherit;color:inherit;",
    "line-height:inherit;letter-spacing:inherit;text-transform:none;text-decoration:none;float:none;max-width:none;",
    "min-width:0;border:0;background:none;visibility:visible;opacity:1}",
    "[hidden]{display:none!important}",
    "button{cursor:pointer;display:inline-flex;align-items:center;justify-content:center;-webkit-appearance:none;appearance:none}",
    "button:disabled{cursor:default;opacity:.55}",
    "svg{display:block;flex:none}",
    ":focus{outline:none}",
    ":focus-visible{outline:3px solid $ring;outline-offset:2px}",
    ".sr,.sr-input{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);clip-path:inset(50%);white-space:nowrap}",
    // launcher
    ".launcher{position:fixed;bottom:24px;width:60px;height:60px;border-radius:50%;background:$accent;color:$on;",
    "box-shadow:0 8px 24px rgba(15,23,42,.22),0 2px 6px rgba(15,23,42,.12);transition:box-shadow .18s ease}",
    ".launcher.right{right:24px}.launcher.left{left:24px}",
    ".launcher:hover{box-shadow:0 12px 32px rgba(15,23,42,.3),0 2px 6px rgba(15,23,42,.14)}",
    ".launcher:focus-visible{outline:3px solid $ring;outline-offset:3px}",
    ".launcher .ic-close{display:none}.launcher.is-open .ic-close{display:block}.launcher.is-open .ic-open{display:none}",
    ".badge{position:absolute;top:-2px;right:-2px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;",
    "background:#c81e1e;color:#fff;font-size:12px;font-weight:700;line-height:22px;text-align:center;box-shadow:0 0 0 2px #fff}",
    // panel
    ".panel{position:fixed;bottom:100px;width:380px;height:min(640px,calc(100vh - 124px));min-height:360px;",
    "display:flex;flex-direction:column;background:#fff;border-radius:18px;overflow:hidden;",
    "box-shadow:0 24px 64px rgba(15,23,42,.2),0 4px 16px rgba(15,23,42,.1),0 0 0 1px rgba(15,23,42,.06);",
    "animation:cd-in .2s ease-out}",
    ".panel.right{right:24px}.panel.left{left:24px}",
    "@keyframes cd-in{from{opacity:0;transform:translateY(12px) scale(.98)}to{opacity:1;transform:none}}",
    ".head{display:flex;align-items:center;gap:12px;padding:16px 14px 16px 18px;background:$accent;color:$on}",
    ".avatar{width:40px;height:40px;border-radius:50%;display:flex;align-items:center;justify-content:center;",
    "font-weight:700;font-size:17px;background:$on;color:$accent;flex:none}",
    ".who{flex:1;min-width:0}",
    ".title{font-size:16px;font-weight:650;line-height:1.25;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}",
    ".sub{font-size:13px;line-height:1.3;margin-top:2px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}",
    ".icon-btn{width:36px;height:36px;border-radius:10px;color:$on;flex:none}",
    ".icon-btn:hover{background:rgba(127,127,127,.18)}",
    ".icon-btn:focus-visible{outline-color:$on}",
    ".banner{padding:8px 16px;background:#fff4e5;color:#7a3e00;font-size:13px;border-bottom:1px solid #f3dfc1}",
    ".queue{padding:12px 18px;background:$soft;border-bottom:1px solid rgba(15,23,42,.06);font-size:13.5px;display:flex;flex-direction:column;gap:2px}",
    ".queue strong{font-weight:650;color:#111827}.queue span{color:#3f4654}",
    ".scroll{flex:1;overflow-y:auto;background:#f6f7f9;padding:18px 16px 8px;overscroll-behavior:contain}",
    ".list{list-style:none;display:flex;flex-direction:column;gap:4px}",
    ".msg{display:flex;flex-direction:column;align-items:flex-start;max-width:85%}",
    ".msg.first{margin-top:10px}",
    ".msg.mine{align-self:flex-end;align-items:flex-end}",
    ".author{font-size:12px;font-weight:600;color:#4b5261;margin:0 0 3px 4px}",
    ".bubble{padding:9px 13px;border-radius:16px;background:#fff;box-shadow:0 1px 2px rgba(15,23,42,.08);",
    "border:1px solid #e7e9ee;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}",
    ".msg.agent.first .bubble{border-top-left-radius:5px}",
    ".mine .bubble{background:$accent;color:$on;border-color:transparent}",
    ".mine.first .bubble{border-top-right-radius:5px}",
    ".failed .bubble{background:#fff;color:#1f2430;border:1px solid #e0a3a3}",
    ".bubble a{text-decoration:underline;color:inherit}",
    ".meta{font-size:11.5px;color:#5b6270;margin:3px 6px 2px;display:flex;align-items:center;gap:2px}",
    ".state.bad{color:#b42318;font-weight:600}",
    ".link{color:$text;font-weight:600;text-decoration:underline;font-size:inherit;padding:0 2px;border-radius:4px}",
    ".system{align-self:center;font-size:12px;color:#5b6270;margin:12px 0 4px;text-align:center}",
    ".system span{display:inline-block;padding:3px 10px;background:#eceef2;border-radius:999px}",
    ".typing{display:flex;align-items:center;gap:8px;font-size:12.5px;color:#4b5261;margin:8px 2px 4px}",
    ".dots{display:inline-flex;gap:3px;padding:8px 10px;background:#fff;border:1px solid #e7e9ee;border-radius:14px}",
    ".dots i{width:6px;height:6px;border-radius:50%;background:#8a909c;animation:cd-b 1.2s infinite ease-in-out}",
    ".dots i:nth-child(2){animation-delay:.15s}.dots i:nth-child(3){animation-delay:.3s}",
    "@keyframes cd-b{0%,60%,100%{transform:none;opacity:.5}30%{transform:translateY(-3px);opacity:1}}",
    // offer card
    ".offer{align-self:stretch;margin:10px 0 4px;background:#fff;border:1px solid #e3e5ea;border-radius:14px;padding:14px 16px 16px;",
    "box-shadow:0 4px 14px rgba(15,23,42,.07)}",
    ".offer-kind{display:inline-flex;align-items:center;gap:5px;font-size:11.5px;font-weight:700;text-transform:uppercase;",
    "letter-spacing:.05em;color:$text;background:$soft;padding:3px 9px 3px 7px;border-radius:999px}",
    ".offer-title{font-size:15.5px;font-weight:650;margin:6px 0 4px;color:#111827}",
    ".offer-top{display:flex;gap:12px;align-items:flex-start}.offer-text{flex:1}",
    ".offer-img{width:64px;height:64px;border-radius:10px;object-fit:cover;background:#f1f2f5;flex:none}",
    ".was{color:#5b6270;font-size:13.5px}",
    ".facts{display:flex;gap:12px;align-items:baseline;flex-wrap:wrap;font-size:13.5px;color:#3f4654}",
    ".price{font-size:18px;font-weight:700;color:#111827}",
    ".code b{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-weight:700;background:#f1f2f5;",
    "padding:2px 6px;border-radius:6px;border:1px dashed #c6cad3}",
    ".actions{display:flex;gap:8px;margin-top:12px}",
    ".btn{height:38px;padding:0 16px;border-radius:10px;font-weight:600;font-size:14px;background:#fff;color:#1f2430;",
    "border:1px solid #d3d6dd;transition:background .15s}",
    ".btn:hover{background:#f3f4f6}",
    ".btn.primary{background:$accent;color:$on;border-color:$accent}",
    ".btn.primary:hover{filter:brightness(1.07);background:$accent}",
    ".btn.wide{width:100%}",
    ".offer-status{margin-top:10px;font-size:13px;font-weight:600;color:#4b5261}",
    ".offer-status.accepted{color:#05603a}",
    ".err{color:#b42318;font-size:13px;margin-top:6px}",
    ".err:empty{display:none}",
    // rating
    ".rate{align-self:stretch;margin:8px 0;background:#fff;border:1px solid #e3e5ea;border-radius:14px;padding:16px;text-align:center}",
    ".rate legend{font-weight:650;font-size:15px;margin:0 auto 8px;color:#111827}",
    ".stars{display:flex;justify-content:center;gap:4px;margin-bottom:10px}",
    ".star{position:relative;color:#6b7180;padding:2px;border-radius:8px;cursor:pointer;transition:transform .1s}",
    ".star:hover{transform:scale(1.1)}",
    ".star path{fill:none;stroke:currentColor;stroke-width:1.6;stroke-linejoin:round}",
    ".star.on{color:#c26a00}.star.on path{fill:currentColor}",
    ".star:focus-within{outline:3px solid $ring;outline-offset:1px}",
    ".rate .field{margin-bottom:10px}",
    ".rate.done p{font-weight:600;color:#05603a}",
    ".field{display:block;width:100%;border:1px solid #8a909c;border-radius:10px;padding:9px 12px;font-size:14px;",
    "background:#fff;resize:none}",
    ".field:focus{border-color:$ring;box-shadow:0 0 0 3px $soft}",
    // composer
    ".composer{display:flex;align-items:flex-end;gap:8px;margin:10px 12px 6px;padding:5px 5px 5px 14px;border:1px solid #8a909c;",
    "border-radius:22px;background:#fff;transition:border-color .15s,box-shadow .15s}",
    ".composer:focus-within{border-color:$ring;box-shadow:0 0 0 1px $ring,0 0 0 4px $soft}",
    ".input{flex:1;resize:none;min-height:24px;max-height:120px;padding:7px 0;font-size:15px;line-height:1.4;background:transparent}",
    ".input:focus-visible{outline:none}",
    ".input::placeholder,.field::placeholder{color:#6b7180;opacity:1}",
    ".send{width:36px;height:36px;border-radius:50%;background:$accent;color:$on;flex:none}",
    ".send:hover{filter:brightness(1.08)}",
    ".leave{padding:16px;border-top:1px solid #eceef2;background:#fff;display:flex;flex-direction:column}",
    ".leave-form{display:flex;flex-direction:column;gap:8px}",
    ".leave-title{font-weight:650;font-size:15px;color:#111827}",
    ".leave-intro{font-size:13.5px;color:#4b5261;margin-bottom:4px}",
    ".thanks{font-weight:600;color:#05603a;text-align:center;padding:10px}",
    ".foot{font-size:11px;color:#6b7180;text-align:center;padding:0 0 8px;background:#fff}",
    // proactive bubble
    ".bubble-prompt{position:fixed;bottom:98px;width:300px;background:#fff;border-radius:16px;padding:16px 16px 14px;",
    "box-shadow:0 16px 48px rgba(15,23,42,.18),0 0 0 1px rgba(15,23,42,.06);animation:cd-in .25s ease-out}",
    ".bubble-prompt.right{right:24px}.bubble-prompt.left{left:24px}",
    ".bubble-prompt .x{position:absolute;top:8px;right:8px;width:28px;height:28px;border-radius:8px;color:#4b5261}",
    ".bubble-prompt .x:hover{background:#f1f2f5}",
    ".bubble-prompt .from{font-size:12px;font-weight:700;color:$text;margin-bottom:2px}",
    ".bubble-prompt .text{font-size:14.5px;color:#1f2430;margin:0 22px 12px 0}",
    "@media (max-width:480px){",
    ".panel{inset:0;width:auto;height:auto;min-height:0;bottom:0;border-radius:0;animation:none}",
    ".panel.right,.panel.left{right:0;left:0}",
    ".launcher{bottom:16px;width:56px;height:56px}.launcher.right{right:16px}.launcher.left{left:16px}",
    ".launcher.is-open{display:none}",
    ".bubble-prompt{bottom:84px;width:auto;left:16px!important;right:16px!important}",
    ".msg{max-width:88%}}",
    "@media (prefers-reduced-motion:reduce){.root *{animation:none!important;transition:none!important}}"
  ].join("");

  // ---- start -------------------------------------------------------------------
  // Calls made before the script loaded sit in the stub's queue as [method, ...args] (docs/widget.md);
  // run them in order, and run anything pushed later at once.
  function run(c) {
    var name = c && c[0], args = [].slice.call(c || [], 1);
    if (args.length === 1 && Object.prototype.toString.call(args[0]) === "[object Arguments]") args = [].slice.call(args[0]);
    if (typeof api[name] === "function" && name !== "q") {
      try { api[name].apply(api, args); } catch (e) { warn(name + " failed: " + e); }
    }
  }
  api.q = { push: run };
  early.forEach(run);
  mount();
  connect();
})();
