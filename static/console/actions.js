/* What an agent can do, as frames to the server: one place that turns intents into frames and pending state. */

const ACK_WITHIN_MS = 10000;

function newClientId(prefix) {
  const random = window.crypto && window.crypto.randomUUID ? window.crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
  return `${prefix}-${random}`.slice(0, 64);
}

export class Actions {
  constructor(socket, store, toast) {
    this.socket = socket;
    this.store = store;
    this.toast = toast;
    this.ackTimers = new Map();
    this.claiming = null;
    this.contextTimers = new Map();
    this.typingSent = new Map(); // conversation id -> time the last "active" went out
    this.typingStop = new Map();
  }

  send(frame) {
    const ok = this.socket.send(frame);
    if (!ok && !["typing", "ping", "context"].includes(frame.type)) {
      this.toast("Not connected: trying again as soon as the connection is back.", "warning");
    }
    return ok;
  }

  open(id) {
    const store = this.store;
    store.open(id);
    if (!id) return;
    const thread = store.thread(id);
    if (thread.loaded && thread.live && !thread.stale) {
      // Already live here; ask for anything missed all the same (cheap, and it makes a gap impossible).
      this.socket.send({ type: "sync", conversation_id: id, last_seq: thread.lastSeq });
    } else {
      this.socket.send({ type: "open", conversation_id: id });
    }
  }

  claim(id) {
    if (!id) return;
    this.claiming = id;
    this.send({ type: "claim", conversation_id: id });
  }

  /** Send a reply or an internal note; it shows at once as "sending" until its ack. */
  post(conversationId, text, kind = "message") {
    const clean = text.trim();
    if (!clean) return null;
    const clientId = newClientId(kind === "note" ? "n" : "m");
    this.store.addPending(conversationId, { client_id: clientId, kind, text: clean });
    this.transmit(conversationId, clientId);
    if (kind === "message") this.typing(conversationId, false);
    return clientId;
  }

  transmit(conversationId, clientId) {
    const item = this.store.thread(conversationId).pending.get(clientId);
    if (!item) return;
    const frame = { type: item.kind, conversation_id: conversationId, client_id: clientId, text: item.text };
    this.store.setPendingStatus(conversationId, clientId, "sending");
    clearTimeout(this.ackTimers.get(clientId));
    if (!this.socket.send(frame)) return; // resent on reconnect (same client_id: stored once)
    this.ackTimers.set(clientId, setTimeout(() => {
      const still = this.store.thread(conversationId).pending.get(clientId);
      if (still && still.status === "sending") {
        this.store.setPendingStatus(conversationId, clientId, "failed", "No answer from the server.");
      }
    }, ACK_WITHIN_MS));
  }

  retry(conversationId, clientId) {
    this.transmit(conversationId, clientId);
  }

  discard(conversationId, clientId) {
    const thread = this.store.thread(conversationId);
    thread.pending.delete(clientId);
    thread.version += 1;
    this.store.changed(`thread:${conversationId}`);
  }

  /** After a reconnect: everything still "sending" goes again with its own client_id. */
  resendPending() {
    for (const thread of this.store.threads.values()) {
      for (const item of thread.pending.values()) {
        if (item.status === "sending") this.transmit(thread.id, item.client_id);
      }
    }
  }

  acknowledged(clientId) {
    clearTimeout(this.ackTimers.get(clientId));
    this.ackTimers.delete(clientId);
  }

  offer(conversationId, offer) {
    const clientId = newClientId("o");
    this.send({ type: "offer", conversation_id: conversationId, client_id: clientId, offer });
    return clientId;
  }

  close(conversationId, reason, note) {
    return this.send({ type: "close", conversation_id: conversationId, reason, note: note || "" });
  }

  transfer(conversationId, target, note) {
    const frame = { type: "transfer", conversation_id: conversationId, note: note || "" };
    if (target.agent !== undefined) frame.to_agent = target.agent;
    else frame.to_queue = target.queue;
    return this.send(frame);
  }

  presence(status) {
    return this.send({ type: "presence", status });
  }

  invite(visitorId, text) {
    return this.send({ type: "invite", visitor_id: visitorId, text });
  }

  searchProducts(q, site) {
    return this.socket.send({ type: "products", q: q || "", site: site || "" });
  }

  /** Ask for a conversation's context again; bursts of cart and page frames make one request. */
  refreshContext(conversationId, delay = 400) {
    clearTimeout(this.contextTimers.get(conversationId));
    this.contextTimers.set(conversationId, setTimeout(() => {
      this.socket.send({ type: "context", conversation_id: conversationId });
    }, delay));
  }

  /** Typing indicator towards the shopper: at most one "active" every 3 s, "inactive" after 4 s quiet. */
  typing(conversationId, active) {
    const summary = this.store.conversations.get(conversationId);
    if (!this.store.isMine(summary)) return;
    clearTimeout(this.typingStop.get(conversationId));
    if (!active) {
      if (this.typingSent.get(conversationId)) {
        this.socket.send({ type: "typing", conversation_id: conversationId, active: false });
        this.typingSent.delete(conversationId);
      }
      return;
    }
    const last = this.typingSent.get(conversationId) || 0;
    if (Date.now() - last > 3000) {
      this.socket.send({ type: "typing", conversation_id: conversationId, active: true });
      this.typingSent.set(conversationId, Date.now());
    }
    this.typingStop.set(conversationId, setTimeout(() => this.typing(conversationId, false), 4000));
  }
}
