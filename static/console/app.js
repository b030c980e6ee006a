/* The agent console: wires the socket to the store, mounts the top bar and the sections, keeps time ticking.

Every module gets one `ctx`: {socket, store, actions, notifier, shortcuts, toast, showTab, activeTab,
openOffer, openClose, openTransfer}. Sections live in tabs/ (see tabs/index.js to add one).
*/

import { ConsoleSocket } from "./socket.js";
import { Store } from "./store/state.js";
import { Actions } from "./actions.js";
import { Notifier } from "./notify.js";
import { Shortcuts } from "./shortcuts.js";
import { toast } from "./dialogs.js";
import { mountHeader } from "./header.js";
import { mountOffers } from "./offers.js";
import { mountWrapup } from "./wrapup.js";
import { h } from "./util/dom.js";
import { ago, clockDuration, duration, money, since, stepLabel } from "./util/format.js";
import tabModules from "./tabs/index.js";

const root = document.getElementById("app");
const socket = new ConsoleSocket(root.dataset.wsPath || "/ws/console/");
const store = new Store();
const actions = new Actions(socket, store, toast);
const notifier = new Notifier();
const shortcuts = new Shortcuts();

const ctx = {
  socket, store, actions, notifier, shortcuts, toast,
  activeTab: null,
  errorHandlers: [],
  showTab: () => {},
  openOffer: () => {},
  openClose: () => {},
  openTransfer: () => {},
};

// --- sections -----------------------------------------------------------------------------

const viewRoot = document.getElementById("views");
const tabs = tabModules.map((mod) => {
  const el = h("div", { class: "view", dataset: { view: mod.id }, hidden: true });
  viewRoot.appendChild(el);
  const instance = mod.mount(el, ctx) || {};
  return { ...mod, el, instance, badge: () => (instance.badge ? instance.badge() : 0) };
});

ctx.showTab = (id) => {
  const next = tabs.find((t) => t.id === id) || tabs[0];
  for (const tab of tabs) {
    const visible = tab === next;
    if (tab.el.hidden === !visible) continue;
    tab.el.hidden = !visible;
    if (visible && tab.instance.show) tab.instance.show();
    if (!visible && tab.instance.hide) tab.instance.hide();
  }
  ctx.activeTab = next.id;
  if (window.location.hash.slice(1) !== next.id) history.replaceState(null, "", `#${next.id}`);
  store.changed("tabs");
};
tabs.forEach((tab, i) => shortcuts.register({
  keys: [String(i + 1)], group: "General", description: `Go to ${tab.label}`, run: () => ctx.showTab(tab.id),
}));

mountHeader(document.getElementById("topbar"), ctx, tabs);
const offers = mountOffers(ctx);
const wrapup = mountWrapup(ctx);
ctx.openOffer = offers.open;
ctx.openClose = wrapup.openClose;
ctx.openTransfer = wrapup.openTransfer;
ctx.showTab(window.location.hash.slice(1) || "inbox");

// --- frames -> store ------------------------------------------------------------------------

function announceNew(conversations) {
  for (const c of conversations) {
    const value = c.cart_total ? money(c.cart_total, c.currency) : "no cart";
    const step = c.checkout_step ? ` at ${stepLabel(c.checkout_step).toLowerCase()}` : "";
    notifier.alert(`New conversation: ${value}${step}`, `${c.visitor_name} is waiting${c.returning ? " (returning customer)" : ""}.`, () => {
      ctx.showTab("inbox");
      actions.open(c.id);
    });
  }
}

socket.on("state", (frame) => {
  const fresh = store.applyState(frame);
  announceNew(fresh);
  const id = store.openId;
  if (id) {
    const thread = store.thread(id);
    // After a reconnect: replay what the open conversation missed, from the last seq we hold.
    if (thread.loaded) {
      socket.send({ type: "sync", conversation_id: id, last_seq: thread.lastSeq });
      socket.send({ type: "context", conversation_id: id });
    } else {
      socket.send({ type: "open", conversation_id: id });
    }
  }
  actions.resendPending();
});

socket.on("queue", (frame) => announceNew(store.applyQueue(frame)));

socket.on("conversation", (frame) => {
  const { before, after } = store.applyConversation(frame.conversation);
  const mine = store.isMine(after);
  if (mine && before && !store.isMine(before) && before.status === "active") {
    notifier.alert(`${after.visitor_name} was transferred to you`, "Open the console to answer.", () => actions.open(after.id));
    toast(`${after.visitor_name} was transferred to you.`, "info");
  }
  if (after.id === store.openId && before && before.status === "queued" && after.status === "active" && !mine && after.agent) {
    toast(`${after.agent.name} took this conversation.`, "info");
  }
});

socket.on("detail", (frame) => {
  store.applyDetail(frame);
  if (actions.claiming === frame.conversation.id) {
    actions.claiming = null;
    store.setFilter("mine");
    ctx.showTab("inbox");
    actions.open(frame.conversation.id);
  }
});

socket.on("synced", (frame) => store.applySynced(frame));

socket.on("message", (frame) => {
  const m = store.applyMessage(frame.message);
  if (!m || m.sender !== "shopper") return;
  const summary = store.conversations.get(m.conversation_id);
  if (store.isMine(summary) && (document.hidden || m.conversation_id !== store.openId)) {
    notifier.alert(`${summary.visitor_name}`, m.text.slice(0, 140), () => actions.open(m.conversation_id));
  }
});

socket.on("ack", (frame) => {
  actions.acknowledged(frame.client_id);
  store.applyAck(frame);
});

socket.on("note", (frame) => store.applyNote(frame.note));

function onOffer(frame) {
  const before = store.applyOffer(frame.offer);
  const o = frame.offer;
  if (before && before.status !== o.status && o.status !== "proposed") {
    const summary = store.conversations.get(o.conversation_id);
    const who = summary ? summary.visitor_name : "The shopper";
    toast(`${who} ${o.status} the offer “${o.title}”.`, o.status === "accepted" ? "success" : "info");
  }
}
socket.on("offer", onOffer);
socket.on("offer_update", onOffer);

socket.on("typing", (frame) => store.applyTyping(frame));

socket.on("cart", (frame) => {
  const touched = store.applyCart(frame);
  if (store.openId && touched.includes(store.openId)) actions.refreshContext(store.openId);
});

socket.on("page", (frame) => {
  const s = store.openSummary();
  if (s && s.visitor_id === frame.visitor_id) actions.refreshContext(s.id);
});

socket.on("context", (frame) => store.applyContext(frame));
socket.on("agent", (frame) => store.applyAgent(frame.agent));
socket.on("presence", (frame) => store.applyPresence(frame.status));
socket.on("visitor", (frame) => store.applyVisitor(frame));
socket.on("visitors", (frame) => store.applyVisitors(frame.visitors || []));
socket.on("left_message", (frame) => store.applyLeftMessage(frame.left_message));

socket.on("error", (frame) => {
  if (frame.client_id && store.applySendError(frame)) {
    actions.acknowledged(frame.client_id);
    return;
  }
  if (frame.client_id) return; // an offer's error: its dialog shows it
  if (actions.claiming) actions.claiming = null;
  if (ctx.errorHandlers.some((fn) => fn(frame))) return;
  toast(frame.detail || "The server refused that.", "error");
});

document.body.appendChild(h("div", { class: "offline-banner", role: "status" },
  "Connection lost. Reconnecting… nothing is lost: the console catches up when it is back."));

socket.onStatus((status) => {
  store.setConnection(status);
  document.body.classList.toggle("offline", status !== "open");
});

// --- time that ticks without frames ----------------------------------------------------------

function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll("[data-since]")) {
    const seconds = since(el.dataset.since, now);
    el.textContent = el.dataset.format === "clock" ? clockDuration(seconds)
      : el.dataset.idle && seconds < 15 ? "active now" : duration(seconds);
    if (el.dataset.target) {
      const row = el.closest(".conv-row");
      if (row) row.classList.toggle("over-target", seconds > Number(el.dataset.target));
    }
    if (el.dataset.idle) el.classList.toggle("idle-long", seconds >= 120);
  }
  for (const el of document.querySelectorAll("[data-ago]")) el.textContent = ago(el.dataset.ago, now);
  for (const el of document.querySelectorAll("[data-template]")) {
    el.textContent = el.dataset.template.replace("{ago}", ago(el.dataset.at, now));
  }
  const waiting = store.queue().length;
  const unread = store.mine().reduce((n, c) => n + store.unread(c.id), 0);
  const badge = waiting + unread;
  document.title = badge ? `(${badge}) ChatDesk console` : "ChatDesk console";
}
store.subscribe(["queue", "conversations", "open", "context", "visitors", "tabs"], () => setTimeout(tick, 0));
setInterval(tick, 1000);

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && store.openId) store.markSeen(store.openId, store.thread(store.openId).lastSeq);
});

// A handle for debugging in the browser's devtools (and for the end-to-end tests).
window.chatdesk = { socket, store, actions, notifier };
socket.connect();
