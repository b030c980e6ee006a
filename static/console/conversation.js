/* The conversation pane: header with actions, the history (messages, notes, offers, delivery state), typing, composer. */

import { avatar, fill, h, reconcile } from "./util/dom.js";
import { svgIcon } from "./util/icons.js";
import { clockTime, dayLabel, kindLabel, money, parseTime } from "./util/format.js";
import { createComposer } from "./composer.js";

const STATUS_TEXT = { queued: "Waiting", active: "Active", closed: "Closed", missed: "Missed" };
const OFFER_STATUS = { proposed: "Waiting for the shopper", accepted: "Accepted", declined: "Declined", expired: "Expired" };
const GROUP_WITHIN_MS = 3 * 60 * 1000;

function when(iso) {
  return parseTime(iso) || 0;
}

/** The history as one list in time order: messages by seq, notes and offers by time, pending sends last. */
export function timeline(thread) {
  const items = [];
  for (const m of thread.messages.values()) items.push({ kind: "message", key: `m${m.seq}`, at: when(m.created_at), seq: m.seq, m });
  for (const n of thread.notes.values()) items.push({ kind: "note", key: `n${n.id}`, at: when(n.created_at), n });
  for (const o of thread.offers.values()) items.push({ kind: "offer", key: `o${o.id}`, at: when(o.created_at), o });
  items.sort((a, b) => (a.kind === "message" && b.kind === "message" ? a.seq - b.seq : a.at - b.at || a.key.localeCompare(b.key)));
  for (const p of thread.pending.values()) items.push({ kind: "pending", key: `p${p.client_id}`, at: when(p.at), p });
  return items;
}

export function mountConversation(root, ctx) {
  const { store, actions, shortcuts } = ctx;
  const header = h("header", { class: "pane-header" });
  const history = h("div", { class: "history", "data-testid": "history", "aria-live": "polite" });
  const typing = h("div", { class: "typing-row", hidden: true }, h("span", { class: "typing-dots" }, h("i"), h("i"), h("i")), h("span", { class: "typing-text" }));
  const footer = h("div", { class: "pane-footer" });
  const composer = createComposer(ctx);
  const empty = h("div", { class: "pane-empty" });
  const body = h("div", { class: "pane-body" }, history, typing);
  fill(root, header, body, footer, empty);
  let shownId = null;
  let shownVersion = -1;

  function nearBottom() {
    return history.scrollHeight - history.scrollTop - history.clientHeight < 120;
  }

  function renderEmpty() {
    root.classList.add("is-empty");
    const waiting = store.queue().length;
    fill(empty,
      h("div", { class: "empty-illustration" }, svgIcon("chat", { size: 28 })),
      h("h2", {}, waiting ? `${waiting} ${waiting === 1 ? "shopper is" : "shoppers are"} waiting` : "No conversation open"),
      h("p", {}, waiting ? "Claim the highest-priority one to start helping." : "Pick a conversation on the left. New ones arrive with a chime."),
      waiting ? h("button", { type: "button", class: "button button-primary", onclick: () => actions.claim(store.queue()[0].id) },
        "Claim next", h("kbd", {}, "C")) : null,
      h("div", { class: "empty-keys" },
        h("span", {}, h("kbd", {}, "J"), h("kbd", {}, "K"), " move"),
        h("span", {}, h("kbd", {}, "C"), " claim"),
        h("span", {}, h("kbd", {}, "?"), " all shortcuts")),
    );
  }

  function actionButtons(s) {
    if (s.status === "queued") {
      return [h("button", { type: "button", class: "button button-primary", "data-testid": "claim", onclick: () => actions.claim(s.id) },
        "Claim", h("kbd", {}, "C"))];
    }
    if (store.isMine(s)) {
      return [
        h("button", { type: "button", class: "button", "data-testid": "open-offer", title: "Make an offer (O)", onclick: () => ctx.openOffer() },
          svgIcon("gift", { size: 15 }), "Offer"),
        h("button", { type: "button", class: "button", "data-testid": "open-transfer", title: "Transfer (T)", onclick: () => ctx.openTransfer() },
          svgIcon("transfer", { size: 15 }), "Transfer"),
        h("button", { type: "button", class: "button button-dark", "data-testid": "open-close", title: "Close with a reason (E)", onclick: () => ctx.openClose() },
          svgIcon("archive", { size: 15 }), "Close"),
      ];
    }
    if (s.status === "active" && s.agent) return [h("span", { class: "pill pill-muted" }, `With ${s.agent.name}`)];
    return [];
  }

  function renderHeader(s) {
    const status = h("span", { class: `status-pill status-${s.status}`, "data-testid": "status" }, STATUS_TEXT[s.status] || s.status);
    const detail = [];
    if (s.cart_total) detail.push(h("span", {}, money(s.cart_total, s.currency)));
    if (s.status === "queued" && s.waiting_since) detail.push(h("span", {}, "waiting ", h("span", { dataset: { since: s.waiting_since, format: "words" } })));
    if (s.status === "active" && s.agent) detail.push(h("span", {}, store.isMine(s) ? "assigned to you" : `assigned to ${s.agent.name}`));
    if (s.status === "closed" && s.close_reason) {
      const reason = store.closeReasons.find((r) => r.code === s.close_reason);
      detail.push(h("span", {}, `closed: ${reason ? reason.label : s.close_reason}`));
    }
    if (s.team) detail.push(h("span", {}, s.team));
    if (store.sites.length > 1) detail.push(h("span", {}, s.site));
    fill(header,
      h("div", { class: "pane-title" },
        avatar(s.visitor_name, s.visitor_id),
        h("div", {},
          h("div", { class: "pane-name" }, h("span", {}, s.visitor_name || "Visitor"), status,
            s.returning ? h("span", { class: "badge badge-returning" }, svgIcon("repeat", { size: 11 }), "Returning") : null),
          h("div", { class: "pane-sub" }, detail.map((d, i) => [i ? h("span", { class: "sep" }, "·") : null, d])))),
      h("div", { class: "pane-actions" }, actionButtons(s), h("button", {
        type: "button", class: "icon-button context-toggle", title: "Show the shopper's context",
        "aria-label": "Toggle context panel", onclick: () => document.body.classList.toggle("context-open"),
      }, svgIcon("panel", { size: 18 }))),
    );
  }

  function messageNode(item, prev) {
    const m = item.m;
    if (m.sender === "system") {
      return h("div", { class: "msg-system", dataset: { seq: m.seq } }, h("span", {}, m.text), h("time", {}, clockTime(m.created_at)));
    }
    const own = m.sender === "agent";
    const grouped = prev && prev.kind === "message" && prev.m.sender === m.sender && prev.m.author === m.author
      && item.at - prev.at < GROUP_WITHIN_MS;
    const mineByMe = own && store.me && m.author === store.me.name;
    return h("div", {
      class: ["msg", own ? "msg-agent" : "msg-shopper", grouped && "grouped"],
      dataset: { seq: m.seq, sender: m.sender, clientId: m.client_id || "" },
    },
    !grouped ? h("div", { class: "msg-author" }, own ? m.author || "Agent" : store.openSummary()?.visitor_name || "Shopper",
      h("time", { datetime: m.created_at }, clockTime(m.created_at))) : null,
    h("div", { class: "bubble" }, m.text),
    mineByMe ? h("div", { class: "delivery delivery-sent", "data-testid": "delivery" }, svgIcon("check", { size: 12 }), "Sent") : null);
  }

  function pendingNode(item) {
    const p = item.p;
    const failed = p.status === "failed";
    const note = p.kind === "note";
    return h("div", {
      class: [note ? "note" : "msg msg-agent", "pending", failed && "failed"],
      dataset: { clientId: p.client_id, status: p.status },
    },
    note ? h("div", { class: "note-head" }, svgIcon("lock", { size: 12 }), "Internal note") : null,
    h("div", { class: note ? "note-text" : "bubble" }, p.text),
    h("div", { class: `delivery delivery-${p.status}`, "data-testid": "delivery" },
      failed
        ? [svgIcon("alert", { size: 12 }), h("span", {}, `Not sent${p.error ? `: ${p.error}` : ""}`),
          h("button", { type: "button", class: "link", onclick: () => actions.retry(store.openId, p.client_id) }, "Retry"),
          h("button", { type: "button", class: "link muted", onclick: () => actions.discard(store.openId, p.client_id) }, "Discard")]
        : [h("span", { class: "spinner" }), "Sending…"]));
  }

  function noteNode(item) {
    const n = item.n;
    return h("div", { class: "note", dataset: { noteId: n.id } },
      h("div", { class: "note-head" }, svgIcon("lock", { size: 12 }), "Internal note", h("span", { class: "note-author" }, `· ${n.author}`),
        h("time", {}, clockTime(n.created_at))),
      h("div", { class: "note-text" }, n.text));
  }

  function offerNode(item) {
    const o = item.o;
    const value = [];
    if (o.price) value.push(money(o.price, store.openSummary()?.currency || "USD"));
    if (o.discount_code) value.push(h("code", {}, o.discount_code));
    return h("div", { class: "offer-row", dataset: { offerId: o.id } },
      h("div", { class: `offer-card offer-${o.status}` },
        h("div", { class: "offer-top" }, svgIcon("gift", { size: 14 }), h("span", { class: "offer-kind" }, kindLabel(o.kind)),
          h("span", { class: `offer-status status-${o.status}`, "data-testid": "offer-status" },
            o.status === "accepted" ? svgIcon("check", { size: 12 }) : null, OFFER_STATUS[o.status] || o.status)),
        h("div", { class: "offer-title" }, o.title),
        value.length ? h("div", { class: "offer-value" }, value.map((v, i) => [i ? " · " : "", v])) : null,
        h("div", { class: "offer-foot" }, `Offered by ${o.agent || "an agent"} · ${clockTime(o.created_at)}`, o.sku ? ` · ${o.sku}` : "")));
  }

  function dayKey(at) {
    return new Date(at).toDateString();
  }

  function renderHistory(thread) {
    const stick = nearBottom() || shownId !== thread.id;
    const items = timeline(thread);
    const withDays = [];
    let lastDay = null;
    for (const item of items) {
      const day = item.at ? dayKey(item.at) : lastDay;
      if (day && day !== lastDay) {
        withDays.push({ kind: "day", key: `d${day}`, at: item.at });
        lastDay = day;
      }
      withDays.push(item);
    }
    let prev = null;
    reconcile(history, withDays, {
      key: (it) => it.key,
      version: (it) => {
        const v = it.kind === "offer" ? it.o.status : it.kind === "pending" ? `${it.p.status}${it.p.error || ""}` : "";
        const groupedWith = it.kind === "message" ? `${withDays[withDays.indexOf(it) - 1]?.key}` : "";
        return `${v}|${groupedWith}`;
      },
      render: (it) => {
        const idx = withDays.indexOf(it);
        prev = idx > 0 ? withDays[idx - 1] : null;
        if (it.kind === "day") return h("div", { class: "day-divider" }, h("span", {}, dayLabel(it.at)));
        if (it.kind === "message") return messageNode(it, prev);
        if (it.kind === "note") return noteNode(it);
        if (it.kind === "offer") return offerNode(it);
        return pendingNode(it);
      },
    });
    if (!thread.loaded && !items.length) {
      history.appendChild(h("div", { class: "history-loading", dataset: { key: "loading" } }, "Loading conversation…"));
    }
    if (stick) history.scrollTop = history.scrollHeight;
  }

  function renderTyping(thread, s) {
    const active = thread.typing && Date.now() - thread.typingAt < 8000;
    typing.hidden = !active;
    if (active) fill(typing.querySelector(".typing-text"), `${s.visitor_name || "The shopper"} is typing…`);
  }

  const bannerSlot = h("div", { class: "banner-slot" });
  fill(footer, bannerSlot, composer.el);

  function renderFooter(s) {
    // The composer element stays in place (moving it would drop focus mid-sentence); only the banner changes.
    if (s.status === "closed" || s.status === "missed") {
      composer.el.hidden = true;
      fill(bannerSlot, h("div", { class: "footer-banner" }, svgIcon("archive", { size: 15 }),
        s.status === "missed" ? "The shopper left before anyone answered." : "This conversation is closed."));
      return;
    }
    const canReply = store.isMine(s);
    composer.el.hidden = false;
    composer.attach(s.id, { canReply });
    fill(bannerSlot, s.status === "queued"
      ? h("div", { class: "footer-banner footer-claim" }, "Claim this conversation to reply. Notes are open to every agent.",
        h("button", { type: "button", class: "button button-primary button-sm", onclick: () => actions.claim(s.id) }, "Claim"))
      : !canReply && s.agent ? h("div", { class: "footer-banner" }, `${s.agent.name} is answering. You can leave an internal note.`) : null);
  }

  function render(topics) {
    const s = store.openSummary();
    if (!s) {
      shownId = null;
      root.classList.add("is-empty");
      empty.hidden = false;
      header.hidden = body.hidden = footer.hidden = true;
      renderEmpty();
      return;
    }
    root.classList.remove("is-empty");
    empty.hidden = true;
    header.hidden = body.hidden = footer.hidden = false;
    const thread = store.thread(s.id);
    renderHeader(s);
    if (shownId !== s.id || thread.version !== shownVersion || topics.includes(`thread:${s.id}`)) {
      if (shownId !== s.id) fill(history);
      renderHistory(thread);
      shownVersion = thread.version;
    }
    renderTyping(thread, s);
    if (shownId !== s.id || topics.includes("open") || topics.includes("conversations") || topics.includes("me")) renderFooter(s);
    shownId = s.id;
  }

  let unsubscribeThread = null;
  store.subscribe(["open", "conversations", "me", "queue"], (topics) => {
    if (unsubscribeThread) unsubscribeThread();
    if (store.openId) unsubscribeThread = store.subscribe([`thread:${store.openId}`], render);
    render(topics);
  });
  // A typing indicator fades by itself when the "stopped" frame never comes.
  setInterval(() => {
    const s = store.openSummary();
    if (s) renderTyping(store.thread(s.id), s);
  }, 1000);

  const mineOpen = () => ctx.activeTab === "inbox" && store.isMine(store.openSummary());
  const anyOpen = () => {
    const s = store.openSummary();
    return ctx.activeTab === "inbox" && !!s && (s.status === "queued" || s.status === "active");
  };
  shortcuts.register({ keys: ["r"], group: "Conversation", description: "Reply", run: () => composer.focus("message"), when: mineOpen });
  shortcuts.register({ keys: ["n"], group: "Conversation", description: "Write an internal note", run: () => composer.focus("note"), when: anyOpen });
  shortcuts.register({ keys: ["o"], group: "Conversation", description: "Make an offer", run: () => ctx.openOffer(), when: mineOpen });
  shortcuts.register({ keys: ["t"], group: "Conversation", description: "Transfer to an agent or queue", run: () => ctx.openTransfer(), when: mineOpen });
  shortcuts.register({ keys: ["e"], group: "Conversation", description: "Close with a reason", run: () => ctx.openClose(), when: mineOpen });
  shortcuts.register({ keys: ["/"], group: "Conversation", description: "Insert a saved reply (in the reply box)", run: () => {
    composer.focus();
    const ta = root.querySelector(".composer-input");
    if (ta && !ta.value) {
      ta.value = "/";
      ta.dispatchEvent(new Event("input"));
    }
  }, when: anyOpen });
  shortcuts.describe({ keys: ["Escape"], group: "General", description: "Leave the reply box or close a dialog" });
  shortcuts.describe({ keys: ["Enter"], group: "Conversation", description: "Send (Shift+Enter for a new line)" });

  render([]);
  return { composer };
}
