/* The list of conversations beside the inbox: waiting (by priority), mine, all open; unread counts; claim. */

import { avatar, fill, h, reconcile } from "./util/dom.js";
import { svgIcon } from "./util/icons.js";
import { money, stepLabel } from "./util/format.js";

const FILTERS = [
  { id: "waiting", label: "Waiting", key: "w" },
  { id: "mine", label: "Mine", key: "m" },
  { id: "all", label: "All open", key: "a" },
];

const EMPTY = {
  waiting: ["All caught up", "Nobody is waiting. New conversations appear here, highest priority first."],
  mine: ["No conversations yet", "Claim one from Waiting (press C) and it will stay here until you close it."],
  all: ["No open conversations", "When shoppers write in, every open conversation of your sites shows here."],
};

function targetFor(store, summary) {
  const site = store.sites.find((s) => s.key === summary.site);
  return site ? site.target_wait_seconds : 60;
}

export function mountQueue(root, ctx) {
  const { store, actions, shortcuts } = ctx;
  const filterBar = h("div", { class: "filters", role: "tablist", "aria-label": "Filter conversations" });
  const list = h("div", { class: "conv-list", role: "listbox", "aria-label": "Conversations", "data-testid": "conversation-list" });
  const empty = h("div", { class: "empty-list" });
  const more = h("p", { class: "list-more", "data-testid": "queue-more", hidden: true });
  fill(root, filterBar, list, more, empty);

  function counts() {
    const shown = store.queue().length;
    const waiting = Math.max(shown, store.waitingTotal());
    return { waiting, mine: store.mine().length, all: store.allOpen().length + (waiting - shown) };
  }

  function renderFilters() {
    const n = counts();
    const unreadMine = store.mine().reduce((sum, c) => sum + store.unread(c.id), 0);
    fill(filterBar, FILTERS.map((f) => h("button", {
      type: "button", role: "tab", class: ["filter", store.filter === f.id && "active"],
      "aria-selected": String(store.filter === f.id), dataset: { filter: f.id },
      title: `${f.label} (${f.key.toUpperCase()})`, onclick: () => store.setFilter(f.id),
    }, f.label, h("span", { class: ["count", f.id === "mine" && unreadMine && "count-unread"] }, n[f.id]))));
  }

  function row(c) {
    const waiting = c.status === "queued";
    const unread = store.unread(c.id);
    const mine = store.isMine(c);
    const claim = waiting
      ? h("button", { type: "button", class: "button button-primary button-xs claim", title: "Claim (C)",
        onclick: (e) => { e.stopPropagation(); actions.claim(c.id); } }, "Claim")
      : null;
    const meta = [];
    if (c.checkout_step) meta.push(h("span", { class: `step-chip step-${c.checkout_step}` }, stepLabel(c.checkout_step)));
    if (waiting && c.waiting_since) {
      meta.push(h("span", { class: "wait", title: "Waiting time" }, svgIcon("clock", { size: 12 }),
        h("span", { dataset: { since: c.waiting_since, format: "clock", target: targetFor(store, c) } }, "")));
    } else if (c.agent && !mine) {
      meta.push(h("span", { class: "with-agent" }, `with ${c.agent.name}`));
    } else if (c.last_message_at) {
      meta.push(h("span", { class: "muted", dataset: { ago: c.last_message_at } }, ""));
    }
    const preview = c.last_text
      ? h("div", { class: "conv-preview" }, c.last_sender === "agent" ? (c.last_author === (store.me && store.me.name) ? "You: " : `${c.last_author || "Agent"}: `) : "", c.last_text)
      : null;
    return h("div", {
      class: ["conv-row", c.id === store.openId && "open", c.id === store.selectedId && "selected",
        waiting && c.over_target && "over-target", unread && "has-unread"],
      role: "option", tabindex: "-1", "aria-selected": String(c.id === store.openId),
      dataset: { conversationId: c.id, status: c.status },
      onclick: () => actions.open(c.id),
    },
    avatar(c.visitor_name, c.visitor_id),
    h("div", { class: "conv-main" },
      h("div", { class: "conv-top" },
        h("span", { class: "conv-name" }, c.visitor_name || "Visitor"),
        c.returning ? h("span", { class: "badge badge-returning", title: "Returning customer" }, svgIcon("repeat", { size: 11 }), "Returning") : null,
        c.proactive ? h("span", { class: "badge badge-proactive", title: "Started from a proactive invitation" }, "Invited") : null,
        h("span", { class: "conv-value", "data-testid": "cart-total" }, c.cart_total ? money(c.cart_total, c.currency) : "No cart")),
      h("div", { class: "conv-meta" }, meta,
        unread ? h("span", { class: "unread", title: `${unread} unread`, "data-testid": "unread" }, unread) : null),
      preview,
    ),
    claim);
  }

  function render() {
    renderFilters();
    const rows = store.list();
    reconcile(list, rows, {
      key: (c) => c.id,
      version: (c) => [c.status, c.cart_total, c.checkout_step, c.waiting_since, c.over_target, c.returning, c.proactive, c.last_seq,
        c.agent && c.agent.id, c.last_text, store.unread(c.id), c.id === store.openId, c.id === store.selectedId,
        c.visitor_name].join("|"),
      render: row,
    });
    // With thousands waiting the server sends the highest-priority ones; say how many more there are.
    const beyond = store.filter === "waiting" ? store.waitingTotal() - rows.length : 0;
    more.hidden = beyond <= 0;
    more.textContent = beyond > 0 ? `${beyond.toLocaleString()} more waiting below these, by priority.` : "";
    const [title, text] = EMPTY[store.filter];
    empty.hidden = rows.length > 0;
    list.hidden = rows.length === 0; // the empty note sits under the filters, not at the bottom
    fill(empty, h("div", { class: "empty-icon" }, svgIcon(store.filter === "waiting" ? "check" : "inbox", { size: 22 })),
      h("h3", {}, title), h("p", {}, text));
  }

  function move(delta) {
    const rows = store.list();
    if (!rows.length) return;
    const current = rows.findIndex((c) => c.id === (store.selectedId || store.openId));
    const next = rows[Math.max(0, Math.min(rows.length - 1, current + delta))] || rows[0];
    store.select(next.id);
    actions.open(next.id);
    const el = list.querySelector(`[data-conversation-id="${next.id}"]`);
    if (el) el.scrollIntoView({ block: "nearest" });
  }

  function claimSelectedOrNext() {
    const open = store.openSummary();
    if (open && open.status === "queued") return actions.claim(open.id);
    const first = store.queue()[0];
    if (first) actions.claim(first.id);
  }

  const inInbox = () => ctx.activeTab === "inbox";
  shortcuts.register({ keys: ["j", "ArrowDown"], group: "Conversations", description: "Next conversation", run: () => move(1), when: inInbox });
  shortcuts.register({ keys: ["k", "ArrowUp"], group: "Conversations", description: "Previous conversation", run: () => move(-1), when: inInbox });
  shortcuts.register({ keys: ["c"], group: "Conversations", description: "Claim the open one, or the top of the queue", run: claimSelectedOrNext, when: inInbox });
  for (const f of FILTERS) {
    shortcuts.register({ keys: [f.key], group: "Conversations", description: `Show ${f.label.toLowerCase()}`, run: () => store.setFilter(f.id), when: inInbox });
  }

  store.subscribe(["queue", "conversations", "filter", "selection", "open", "me"], render);
  render();
}
