/* The console's one websocket to /ws/console/: reconnects with backoff, heartbeats, dispatches frames by type. */

const PING_EVERY_MS = 20000;
const PONG_WITHIN_MS = 8000;

export class ConsoleSocket {
  constructor(path = "/ws/console/") {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    this.url = `${scheme}//${window.location.host}${path}`;
    this.ws = null;
    this.handlers = new Map();
    this.statusHandlers = new Set();
    this.status = "connecting";
    this.opened = 0; // how many times a socket opened: above 1 means this is a reconnect
    this.attempt = 0;
    this.holdUntil = 0;
    this.pingTimer = null;
    this.pongTimer = null;
    this.retryTimer = null;
    window.addEventListener("online", () => this.reconnectNow());
  }

  /** Subscribe to frames of one type ("*" for every frame); returns an unsubscribe function. */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type).delete(fn);
  }

  onStatus(fn) {
    this.statusHandlers.add(fn);
    return () => this.statusHandlers.delete(fn);
  }

  setStatus(status) {
    this.status = status;
    for (const fn of this.statusHandlers) fn(status, { reconnect: this.opened > 1 });
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.setStatus(this.opened ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      this.attempt = 0;
      this.opened += 1;
      this.setStatus("open");
      this.startHeartbeat();
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === "pong") clearTimeout(this.pongTimer);
      this.dispatch(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.stopHeartbeat();
      this.ws = null;
      // A handshake refused before it ever opened (signed out, not an agent): go to the login page.
      if (!this.opened && event.code === 1006 && this.attempt > 2) {
        this.setStatus("refused");
      }
      this.scheduleReconnect();
    });
  }

  dispatch(frame) {
    for (const key of [frame.type, "*"]) {
      const set = this.handlers.get(key);
      if (!set) continue;
      for (const fn of Array.from(set)) {
        try {
          fn(frame);
        } catch (err) {
          console.error("console: handler for", frame.type, "failed", err);
        }
      }
    }
  }

  scheduleReconnect() {
    this.setStatus("reconnecting");
    this.attempt += 1;
    const backoff = Math.min(10000, 400 * 2 ** Math.min(this.attempt - 1, 5));
    const wait = Math.max(backoff * (0.75 + Math.random() * 0.5), this.holdUntil - Date.now());
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }

  reconnectNow() {
    if (this.ws || Date.now() < this.holdUntil) return;
    this.attempt = 0;
    this.connect();
  }

  /** Send a frame; false when the socket is not open (callers keep what must survive and resend). */
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: "ping" })) return;
      clearTimeout(this.pongTimer);
      // No pong: the connection is dead without having said so (sleep, network change).
      this.pongTimer = setTimeout(() => this.abandon(), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  stopHeartbeat() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  /**
   * Give up on the current socket now and reconnect. A socket on a dead network can take a long time
   * to report its close, so it is forgotten at once (its late events are ignored) rather than awaited.
   */
  abandon() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    this.stopHeartbeat();
    try {
      ws.close();
    } catch {
      /* already closing */
    }
    this.scheduleReconnect();
  }

  /** Drop the connection as a network failure would, staying down for `holdMs` (used by tests and the demo). */
  drop(holdMs = 0) {
    this.holdUntil = Date.now() + holdMs;
    this.abandon();
  }
}
