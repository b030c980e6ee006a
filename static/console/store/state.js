/* The console's state: everything the server told us, applied frame by frame, with topics views subscribe to.

Views never keep their own copy of server data; they read from here and re-render
when a topic they care about changes. The rules of merging (dedupe messages by
seq, notes and offers by id, pending sends by client_id) live here, once.
*/

const SEEN_KEY = "chatdesk.console.seen";

function emptyThread(id) {
  return {
    id,
    loaded: false,
    live: true, // frames for it reach this console (queued or mine); others are re-fetched on open
    messages: new Map(), // seq -> message
    notes: new Map(), // id -> note
    offers: new Map(), // id -> offer
    pending: new Map(), // client_id -> {client_id, kind, text, status, error, at}
    context: null,
    typing: false,
    typingAt: 0,
    lastSeq: 0,
    version: 0,
  };
}

export class Store {
  constructor() {
    this.me = null;
    this.sites = [];
    this.agents = new Map();
    this.teams = [];
    this.canned = [];
    this.closeReasons = [];
    this.offerKinds = [];
    this.conversations = new Map(); // id -> summary (every open one we know of, plus closed ones we still show)
    this.queueBySite = new Map(); // site key -> [ids] in priority order
    this.queueTotals = new Map(); // site key -> how many wait in all (the server sends only the first ones)
    this.threads = new Map();
    this.visitors = new Map(); // visitor_id -> row
    this.missed = new Map(); // id -> summary of a conversation the shopper left before anyone answered (7 days)
    this.leftMessages = new Map(); // id -> an open left message that is this agent's or nobody's yet
    this.openId = null;
    this.selectedId = null;
    this.filter = "waiting";
    this.connection = "connecting";
    this.seen = this.loadSeen();
    this.knownQueued = new Set(); // ids ever seen waiting, so only new arrivals notify
    this.previews = new Map(); // id -> the last message seen live, for list rows
    this.listeners = new Map();
    this.pendingTopics = new Set();
    this.flushScheduled = false;
  }

  // --- subscriptions ---------------------------------------------------------------

  /** Call `fn` (batched per animation frame) when any of `topics` changes; returns an unsubscribe function. */
  subscribe(topics, fn) {
    for (const topic of topics) {
      if (!this.listeners.has(topic)) this.listeners.set(topic, new Set());
      this.listeners.get(topic).add(fn);
    }
    return () => topics.forEach((t) => this.listeners.get(t).delete(fn));
  }

  changed(...topics) {
    topics.forEach((t) => this.pendingTopics.add(t));
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const flush = () => {
      this.flushScheduled = false;
      const topicsNow = Array.from(this.pendingTopics);
      this.pendingTopics.clear();
      const fns = new Set();
      for (const t of topicsNow) for (const fn of this.listeners.get(t) || []) fns.add(fn);
      for (const fn of fns) {
        try {
          fn(topicsNow);
        } catch (err) {
          console.error("console: view failed to render", err);
        }
      }
    };
    // Hidden tabs get no animation frames; a timer keeps the state (and titles) current there.
    if (document.hidden) setTimeout(flush, 50);
    else requestAnimationFrame(flush);
  }

  // --- reads ---------------------------------------------------------------------------

  get myId() {
    return this.me ? this.me.id : null;
  }

  isMine(summary) {
    return !!summary && !!summary.agent && summary.agent.id === this.myId && summary.status === "active";
  }

  /** Everyone waiting that this agent may take, including those beyond the list the server sent. */
  waitingTotal() {
    let total = 0;
    for (const [site, ids] of this.queueBySite) total += Math.max(this.queueTotals.get(site) || 0, ids.length);
    for (const [site, n] of this.queueTotals) if (!this.queueBySite.has(site)) total += n;
    return total;
  }

  queue() {
    const ids = [];
    for (const list of this.queueBySite.values()) ids.push(...list);
    const rows = ids.map((id) => this.conversations.get(id)).filter((c) => c && c.status === "queued");
    if (this.queueBySite.size > 1) rows.sort((a, b) => (b.priority || 0) - (a.priority || 0));
    return rows;
  }

  mine() {
    return Array.from(this.conversations.values())
      .filter((c) => this.isMine(c))
      .sort((a, b) => (b.last_message_at || b.assigned_at || "").localeCompare(a.last_message_at || a.assigned_at || ""));
  }

  allOpen() {
    return Array.from(this.conversations.values())
      .filter((c) => c.status === "queued" || c.status === "active")
      .sort((a, b) => (a.created_at || "").localeCompare(b.created_at || ""));
  }

  list(filter = this.filter) {
    if (filter === "mine") return this.mine();
    if (filter === "all") return this.allOpen();
    return this.queue();
  }

  myLoad() {
    return this.mine().length;
  }

  agentLoad(agentId) {
    let load = 0;
    for (const c of this.conversations.values()) if (c.status === "active" && c.agent && c.agent.id === agentId) load += 1;
    return load;
  }

  unread(id) {
    const summary = this.conversations.get(id);
    if (!summary) return 0;
    if (id === this.openId && !document.hidden) return 0;
    return Math.max(0, (summary.last_seq || 0) - (this.seen[id] || 0));
  }

  thread(id) {
    if (!this.threads.has(id)) this.threads.set(id, emptyThread(id));
    return this.threads.get(id);
  }

  openSummary() {
    return this.openId ? this.conversations.get(this.openId) : null;
  }

  cannedFor(site) {
    return this.canned.filter((c) => !site || c.site === site);
  }

  // --- seen (unread counts survive a reload) ------------------------------------------

  loadSeen() {
    try {
      return JSON.parse(window.localStorage.getItem(SEEN_KEY) || "{}");
    } catch {
      return {};
    }
  }

  markSeen(id, seq) {
    if (!id || !(seq > (this.seen[id] || 0))) return;
    this.seen[id] = seq;
    try {
      const entries = Object.entries(this.seen).slice(-300);
      window.localStorage.setItem(SEEN_KEY, JSON.stringify(Object.fromEntries(entries)));
    } catch {
      /* storage full or blocked: unread counts just reset */
    }
    this.changed("conversations");
  }

  // --- applying server frames ---------------------------------------------------------

  /** `state`: a fresh start (also after every reconnect); returns ids that newly entered the queue. */
  applyState(frame) {
    this.me = frame.agent;
    this.sites = frame.sites || [];
    this.teams = frame.teams || [];
    this.canned = frame.canned_replies || [];
    this.closeReasons = frame.close_reasons || [];
    this.offerKinds = frame.offer_kinds || [];
    this.agents = new Map((frame.agents || []).map((a) => [a.id, a]));
    const keep = new Map();
    // The open conversation stays even if it closed while we were away (the pane shows it closed).
    if (this.openId && this.conversations.has(this.openId)) keep.set(this.openId, this.conversations.get(this.openId));
    this.conversations = keep;
    for (const c of [...(frame.open_conversations || []), ...(frame.conversations || []), ...(frame.queue || [])]) {
      this.conversations.set(c.id, c);
    }
    this.queueBySite = new Map();
    this.queueTotals = new Map(Object.entries(frame.queue_totals || {}));
    for (const c of frame.queue || []) {
      if (!this.queueBySite.has(c.site)) this.queueBySite.set(c.site, []);
      this.queueBySite.get(c.site).push(c.id);
    }
    this.visitors = new Map((frame.visitors || []).map((v) => [v.visitor_id, v]));
    this.missed = new Map((frame.missed || []).map((c) => [c.id, c]));
    this.leftMessages = new Map((frame.left_messages || []).map((m) => [m.id, m]));
    // Threads we are not looking at may have missed frames while we were away: fetch them again on open.
    for (const [id, thread] of this.threads) if (id !== this.openId) thread.loaded = false;
    const fresh = this.noteQueued(frame.queue || [], !this.stateSeen);
    this.stateSeen = true;
    this.changed("me", "conversations", "queue", "visitors", "agents", "open", "followups");
    return fresh;
  }

  noteQueued(rows, silent) {
    const fresh = [];
    for (const c of rows) {
      if (!this.knownQueued.has(c.id)) {
        this.knownQueued.add(c.id);
        if (!silent) fresh.push(c);
      }
    }
    return fresh;
  }

  /** `queue`: the whole waiting list of one site; returns the conversations new to it. */
  applyQueue(frame) {
    const site = frame.site || (frame.queue[0] && frame.queue[0].site) || "";
    const ids = [];
    for (const c of frame.queue) {
      this.conversations.set(c.id, { ...(this.previews.get(c.id) || {}), ...(this.conversations.get(c.id) || {}), ...c });
      ids.push(c.id);
    }
    // Listed before but not now, and no summary said where it went: it left the open set.
    // (Claims and closes send their `conversation` frame before the new list, so those are kept.)
    for (const id of this.queueBySite.get(site) || []) {
      const c = this.conversations.get(id);
      if (c && c.status === "queued" && !ids.includes(id) && id !== this.openId) this.conversations.delete(id);
    }
    this.queueBySite.set(site, ids);
    if (typeof frame.total === "number") this.queueTotals.set(site, frame.total);
    this.changed("conversations", "queue");
    return this.noteQueued(frame.queue, false);
  }

  /** `conversation`: one summary changed; returns {before, after}. */
  applyConversation(summary) {
    const before = this.conversations.get(summary.id) || null;
    const after = { ...(this.previews.get(summary.id) || {}), ...(before || {}), ...summary };
    const stillShown = summary.id === this.openId;
    if ((summary.status === "closed" || summary.status === "missed") && !stillShown) {
      this.conversations.delete(summary.id);
    } else {
      this.conversations.set(summary.id, after);
    }
    if (summary.status !== "queued") {
      for (const [site, ids] of this.queueBySite) {
        if (!ids.includes(summary.id)) continue;
        this.queueBySite.set(site, ids.filter((id) => id !== summary.id));
        // The server sends no new list when nothing moves up into view: count it out here.
        if (this.queueTotals.has(site)) this.queueTotals.set(site, Math.max(0, this.queueTotals.get(site) - 1));
      }
    }
    if (summary.status === "missed") {
      // Missed stays listed for follow-up (Follow-ups tab) though it left the open set.
      const rest = Array.from(this.missed).filter(([id]) => id !== summary.id);
      this.missed = new Map([[summary.id, after], ...rest]); // newest first, as in `state`
      this.changed("followups");
    }
    const thread = this.threads.get(summary.id);
    if (thread && summary.last_seq > thread.lastSeq && thread.loaded) thread.stale = true;
    this.changed("conversations", "queue", "open", `thread:${summary.id}`);
    return { before, after };
  }

  /** `detail` (after open or claim) and `synced` carry a whole conversation's notes and offers. */
  applyDetail(frame) {
    const summary = frame.conversation;
    this.conversations.set(summary.id, { ...(this.conversations.get(summary.id) || {}), ...summary });
    const thread = this.thread(summary.id);
    if (!frame.resync && frame.messages.length && frame.messages[0].seq === 1) thread.messages.clear();
    if (frame.resync) thread.messages.clear();
    for (const m of frame.messages) this.addMessage(thread, m);
    thread.notes = new Map((frame.notes || []).map((n) => [n.id, n]));
    thread.offers = new Map((frame.offers || []).map((o) => [o.id, o]));
    if (frame.context) thread.context = frame.context;
    else if (frame.cart && thread.context) thread.context = { ...thread.context, cart: frame.cart };
    thread.loaded = true;
    thread.stale = false;
    thread.live = summary.status === "queued" || this.isMine(summary);
    thread.lastSeq = Math.max(thread.lastSeq, summary.last_seq || 0);
    thread.version += 1;
    this.changed("conversations", `thread:${summary.id}`, "open", "context");
    return thread;
  }

  applySynced(frame) {
    const thread = this.thread(frame.conversation_id);
    if (frame.conversation) {
      const id = frame.conversation.id;
      this.conversations.set(id, { ...(this.conversations.get(id) || {}), ...frame.conversation });
    }
    if (frame.notes) thread.notes = new Map(frame.notes.map((n) => [n.id, n]));
    if (frame.offers) thread.offers = new Map(frame.offers.map((o) => [o.id, o]));
    thread.lastSeq = Math.max(thread.lastSeq, frame.last_seq || 0);
    thread.loaded = true;
    thread.stale = false;
    thread.version += 1;
    this.changed("conversations", `thread:${frame.conversation_id}`, "open");
  }

  addMessage(thread, m) {
    if (thread.messages.has(m.seq)) return false;
    thread.messages.set(m.seq, m);
    thread.lastSeq = Math.max(thread.lastSeq, m.seq);
    if (m.client_id && thread.pending.has(m.client_id)) thread.pending.delete(m.client_id);
    return true;
  }

  /** `message` (live or replayed by sync); returns the message when it is new to us. */
  applyMessage(m) {
    const id = m.conversation_id;
    const summary = this.conversations.get(id);
    const preview = { last_text: m.text, last_sender: m.sender, last_author: m.author, last_message_at: m.created_at };
    // A new conversation's first message comes before its summary: keep the preview for it.
    this.previews.set(id, preview);
    if (summary) {
      this.conversations.set(id, { ...summary, ...preview, last_seq: Math.max(summary.last_seq || 0, m.seq) });
    }
    const thread = this.thread(id);
    if (m.sender === "shopper" && thread.typing) thread.typing = false;
    const added = this.addMessage(thread, m);
    if (added) thread.version += 1;
    if (id === this.openId && !document.hidden) this.markSeen(id, m.seq);
    this.changed("conversations", `thread:${id}`);
    return added ? m : null;
  }

  applyNote(note) {
    const thread = this.thread(note.conversation_id);
    if (note.client_id) thread.pending.delete(note.client_id);
    thread.notes.set(note.id, note);
    thread.version += 1;
    this.changed(`thread:${note.conversation_id}`);
  }

  applyOffer(offer) {
    const thread = this.thread(offer.conversation_id);
    const before = thread.offers.get(offer.id);
    thread.offers.set(offer.id, { ...(before || {}), ...offer });
    thread.version += 1;
    this.changed(`thread:${offer.conversation_id}`);
    return before;
  }

  /** `ack` for our own message, note or offer. */
  applyAck(frame) {
    if (frame.message) {
      this.applyMessage(frame.message);
      const thread = this.thread(frame.message.conversation_id);
      thread.pending.delete(frame.client_id);
      this.markSeen(frame.message.conversation_id, frame.message.seq);
      this.changed(`thread:${frame.message.conversation_id}`);
    } else if (frame.note) {
      this.applyNote(frame.note);
    } else if (frame.offer) {
      this.applyOffer(frame.offer);
    }
  }

  /** `error` naming a client_id: that send failed and may be retried. Returns true when it was ours. */
  applySendError(frame) {
    for (const thread of this.threads.values()) {
      const item = thread.pending.get(frame.client_id);
      if (item) {
        item.status = "failed";
        item.error = frame.detail;
        thread.version += 1;
        this.changed(`thread:${thread.id}`);
        return true;
      }
    }
    return false;
  }

  addPending(conversationId, item) {
    const thread = this.thread(conversationId);
    thread.pending.set(item.client_id, { status: "sending", at: new Date().toISOString(), ...item });
    thread.version += 1;
    this.changed(`thread:${conversationId}`);
  }

  setPendingStatus(conversationId, clientId, status, error = null) {
    const item = this.thread(conversationId).pending.get(clientId);
    if (!item) return;
    item.status = status;
    item.error = error;
    this.thread(conversationId).version += 1;
    this.changed(`thread:${conversationId}`);
  }

  applyTyping(frame) {
    const thread = this.thread(frame.conversation_id);
    thread.typing = !!frame.active;
    thread.typingAt = Date.now();
    this.changed(`thread:${frame.conversation_id}`);
  }

  /** `cart`: the live cart of a visitor; patches the summary and the context it belongs to. */
  applyCart(frame) {
    const touched = [];
    for (const [id, c] of this.conversations) {
      if (c.visitor_id !== frame.visitor_id && id !== frame.conversation_id) continue;
      if (frame.cart) {
        this.conversations.set(id, { ...c, cart_total: frame.cart.total, currency: frame.cart.currency,
                                     checkout_step: frame.cart.checkout_step });
      }
      const thread = this.threads.get(id);
      if (thread && thread.context) {
        thread.context = { ...thread.context, cart: frame.cart };
        thread.version += 1;
      }
      touched.push(id);
    }
    this.changed("conversations", "context", ...touched.map((id) => `thread:${id}`));
    return touched;
  }

  applyContext(frame) {
    const thread = this.thread(frame.conversation_id);
    thread.context = frame.context;
    this.changed("context", `thread:${frame.conversation_id}`);
  }

  applyAgent(agent) {
    this.agents.set(agent.id, { ...(this.agents.get(agent.id) || {}), ...agent });
    if (this.me && agent.id === this.me.id) this.me = { ...this.me, ...agent };
    this.changed("agents", "me");
  }

  applyPresence(status) {
    if (this.me) this.me = { ...this.me, presence: status };
    this.changed("me");
  }

  applyVisitor(frame) {
    if (frame.visitor) this.visitors.set(frame.visitor_id, frame.visitor);
    else this.visitors.delete(frame.visitor_id);
    this.changed("visitors");
  }

  applyVisitors(rows) {
    this.visitors = new Map(rows.map((v) => [v.visitor_id, v]));
    this.changed("visitors");
  }

  /**
   * `left_message`: one left message was left, assigned or done. Listed while open and this agent's or
   * nobody's, as in `state` (server: pending_left_messages); anything else drops out of the list.
   */
  applyLeftMessage(m) {
    const listed = m.status === "open" && (!m.agent || m.agent.id === this.myId);
    const before = this.leftMessages.get(m.id) || null;
    if (listed) this.leftMessages.set(m.id, m);
    else this.leftMessages.delete(m.id);
    this.changed("followups");
    return before;
  }

  // --- local UI state -------------------------------------------------------------------

  setFilter(filter) {
    this.filter = filter;
    this.changed("queue", "filter");
  }

  select(id) {
    this.selectedId = id;
    this.changed("queue", "selection");
  }

  /** Show a conversation we hold only a summary of (a missed one) before its `detail` arrives. */
  adopt(summary) {
    if (!this.conversations.has(summary.id)) this.conversations.set(summary.id, summary);
  }

  open(id) {
    this.openId = id;
    this.selectedId = id;
    const thread = id ? this.thread(id) : null;
    if (thread && thread.lastSeq) this.markSeen(id, thread.lastSeq);
    this.changed("open", "queue", "context", "selection", "conversations");
  }

  setConnection(status) {
    this.connection = status;
    this.changed("connection");
  }
}
