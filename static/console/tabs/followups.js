/* Follow-ups: shoppers to call back (issue 7), chats nobody answered and messages shoppers left (issue 5).

Call list: GET /console/api/call-tasks/ (session, the agent's sites), loaded on every `state` (connect and
reconnect), when the section is shown, and after a `call_task` frame says one was added or done elsewhere; an
outcome is POSTed to /console/api/call-tasks/<id>/ with the page's CSRF token (util/http.js).
Missed chats and left messages are the store's (`state.missed` and `state.left_messages`, then `conversation`
and `left_message` frames). Marking a left message done sends `left_message_done`; the server's `left_message`
broadcast then takes it off the list of every agent of the site, this one included.
*/

import { avatar, fill, h, reconcile } from "../util/dom.js";
import { svgIcon } from "../util/icons.js";
import { requestJSON } from "../util/http.js";
import { STEPS, ago, clockTime, money, pathOf, shortDate, stepIndex, stepLabel } from "../util/format.js";

const API = "/console/api/call-tasks/";
// The codes the server accepts (CallTask.OUTCOME_CHOICES), in the order a call usually goes.
const OUTCOMES = [
  { code: "reached", label: "Reached", icon: "check" },
  { code: "voicemail", label: "Voicemail", icon: "mail" },
  { code: "no_answer", label: "No answer", icon: "phoneMissed" },
  { code: "wrong_number", label: "Wrong number", icon: "x" },
  { code: "recovered", label: "Recovered", icon: "cart" },
];
const PARTS = [
  { id: "calls", label: "Call list", icon: "phone", key: "c" },
  { id: "missed", label: "Missed chats", icon: "chat", key: "m" },
  { id: "left", label: "Left messages", icon: "mail", key: "l" },
];
const REASONS = { closed: "Outside business hours", no_agents: "Nobody was online" };
const SEEN_KEY = "chatdesk.console.missedSeen";
const JOURNEY_SHOWN = 3;
const LINES_SHOWN = 3;

function telHref(phone) {
  return `tel:${String(phone).replace(/[^+\d]/g, "")}`;
}

function miniSteps(step) {
  const at = stepIndex(step);
  return h("span", { class: "mini-steps", title: `Reached ${stepLabel(step).toLowerCase()}` },
    STEPS.slice(0, 5).map((s, i) => h("i", { class: [i <= at && "on", i === at && "now"] })),
    h("span", { class: "mini-steps-label" }, stepLabel(step)));
}

/** One line of the shopper's journey, in words (cart events and pages, as chatdesk.actions.calls.journey sends). */
function journeyText(j, currency) {
  const d = j.data || {};
  switch (j.kind) {
    case "page": return `Viewed ${d.title || pathOf(d.url || "") || "a page"}`;
    case "step_changed":
      return stepIndex(d.to) < stepIndex(d.from) ? `Went back to ${stepLabel(d.to).toLowerCase()}` : `Reached ${stepLabel(d.to).toLowerCase()}`;
    case "item_added": return `Added ${d.quantity || 1} × ${d.name || d.sku}`;
    case "item_removed": return `Removed ${d.name || d.sku}`;
    case "quantity_changed": return `${d.sku}: quantity ${d.from} → ${d.to}`;
    case "shipping_shown": return `Saw shipping ${money(d.shipping, currency)}`;
    case "discount_applied": return `Discount ${money(d.discount, currency)}`;
    case "abandoned": return "Left the checkout";
    case "ordered": return "Ordered";
    default: return String(j.kind || "").replace(/_/g, " ");
  }
}

function loadSeen() {
  try {
    return new Set(JSON.parse(window.localStorage.getItem(SEEN_KEY) || "[]"));
  } catch {
    return new Set();
  }
}

function emptyNote(icon, title, text) {
  return h("div", { class: "empty-list wide" }, h("div", { class: "empty-icon" }, svgIcon(icon, { size: 22 })), h("h3", {}, title), h("p", {}, text));
}

export default {
  id: "followups",
  label: "Follow-ups",
  icon: "clipboard",
  mount(el, ctx) {
    const { socket, store, actions, shortcuts, toast } = ctx;
    let part = null; // chosen on first show: the first part with something to do
    let calls = [];
    let callsState = "loading"; // loading, ready, failed
    let callsError = "";
    let loading = null;
    let reloadTimer = null;
    const recording = new Map(); // task id -> outcome being sent
    const callErrors = new Map(); // task id -> what the server said
    const callNotes = new Map(); // task id -> note typed so far
    const journeyOpen = new Set();
    const leftNotes = new Map(); // left message id -> note typed so far
    const leftPending = new Map(); // client_id -> left message id, until its broadcast (or an error) comes back
    const leftErrors = new Map();
    const seen = loadSeen();
    let fresh = new Set(); // missed chats that were new when the list was last looked at

    const segments = h("div", { class: "segmented fu-parts", role: "tablist", "aria-label": "Follow-ups" });
    const lists = {
      calls: h("div", { class: "fu-list", "data-testid": "call-list", "aria-label": "Call list" }),
      missed: h("div", { class: "visitors-table fu-table", role: "table", "data-testid": "missed-list", "aria-label": "Missed chats" }),
      left: h("div", { class: "fu-list", "data-testid": "left-list", "aria-label": "Left messages" }),
    };
    const empties = { calls: h("div", { class: "fu-empty" }), missed: h("div", { class: "fu-empty" }), left: h("div", { class: "fu-empty" }) };
    const intro = h("p", { class: "muted" });
    const refresh = h("button", { type: "button", class: "button button-sm", title: "Load the call list again (missed chats and left messages are live)",
      onclick: () => loadCalls() }, svgIcon("repeat", { size: 13 }), "Refresh");
    el.classList.add("visitors-view", "followups-view");
    el.append(
      h("header", { class: "view-header" }, h("div", {}, h("h1", {}, "Follow-ups"), intro), refresh),
      h("div", { class: "fu-bar" }, segments),
      ...PARTS.map((p) => h("section", { class: "fu-part", dataset: { part: p.id }, hidden: true }, lists[p.id], empties[p.id])),
    );

    // --- data -----------------------------------------------------------------------------

    function missedRows() {
      return Array.from(store.missed.values());
    }

    function leftRows() {
      return Array.from(store.leftMessages.values()).sort((a, b) => (a.created_at || "").localeCompare(b.created_at || ""));
    }

    function unseenMissed() {
      return missedRows().filter((c) => !seen.has(c.id)).length;
    }

    function counts() {
      return { calls: calls.length, missed: store.missed.size, left: store.leftMessages.size };
    }

    /** The missed list is on screen: what was unseen keeps a "New" mark until the list is next entered. */
    function markMissedSeen(entering = false) {
      if (entering) fresh = new Set();
      const rows = missedRows();
      for (const c of rows) {
        if (!seen.has(c.id)) fresh.add(c.id);
        seen.add(c.id);
      }
      try {
        window.localStorage.setItem(SEEN_KEY, JSON.stringify(Array.from(seen).slice(-500)));
      } catch {
        /* storage blocked: the badge just counts them again next time */
      }
    }

    async function loadCalls() {
      if (loading) return loading;
      loading = (async () => {
        try {
          const data = await requestJSON("GET", `${API}?status=open`);
          calls = data.call_tasks || [];
          callsState = "ready";
          const open = new Set(calls.map((t) => t.id));
          for (const map of [callNotes, callErrors]) for (const id of map.keys()) if (!open.has(id)) map.delete(id);
        } catch (err) {
          callsState = "failed";
          callsError = err.message || String(err);
        } finally {
          loading = null;
          changed();
        }
      })();
      return loading;
    }

    function reloadSoon() {
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(loadCalls, 300); // a burst of new tasks (the follow-up sweep) makes one request
    }

    async function record(task, outcome) {
      if (recording.has(task.id)) return;
      recording.set(task.id, outcome.code);
      callErrors.delete(task.id);
      renderCalls();
      try {
        await requestJSON("POST", `${API}${task.id}/`, { outcome: outcome.code, note: (callNotes.get(task.id) || "").trim() });
        calls = calls.filter((t) => t.id !== task.id);
        callNotes.delete(task.id);
        journeyOpen.delete(task.id);
        toast(`Call to ${task.contact.name || task.contact.phone || "the shopper"} recorded: ${outcome.label.toLowerCase()}.`, "success");
      } catch (err) {
        if (err.status === 404) {
          calls = calls.filter((t) => t.id !== task.id);
          toast("That call task is gone (another site's, or deleted).", "warning");
        } else {
          callErrors.set(task.id, err.message || String(err));
        }
      } finally {
        recording.delete(task.id);
        changed();
      }
    }

    function markDone(m) {
      if (Array.from(leftPending.values()).includes(m.id)) return;
      const clientId = `lm-${m.id}-${Date.now().toString(36)}`;
      const sent = socket.send({ type: "left_message_done", left_message_id: m.id, note: (leftNotes.get(m.id) || "").trim(), client_id: clientId });
      if (!sent) {
        toast("Not connected: try again when the console is back online.", "warning");
        return;
      }
      leftPending.set(clientId, m.id);
      leftErrors.delete(m.id);
      renderLeft();
    }

    /** Into the inbox with this conversation open; a missed one's summary is shown at once, before its `detail`. */
    function openConversation(id, summary = null) {
      if (summary) store.adopt(summary);
      ctx.showTab("inbox");
      actions.open(id);
    }

    // --- rendering ------------------------------------------------------------------------

    function renderSegments() {
      const n = counts();
      const unseen = unseenMissed();
      fill(segments, PARTS.map((p) => h("button", {
        type: "button", role: "tab", class: ["segment", part === p.id && "active"], "aria-selected": String(part === p.id),
        dataset: { part: p.id }, title: `${p.label} (${p.key.toUpperCase()})`, onclick: () => choose(p.id),
      }, svgIcon(p.icon, { size: 14 }), p.label,
      h("span", { class: ["fu-count", (p.id === "missed" ? unseen : n[p.id]) && "fu-count-on"], "data-testid": `count-${p.id}` }, n[p.id]))));
      intro.textContent = {
        calls: "Shoppers who left a valuable cart and agreed to a call. Record how each call went.",
        missed: "Chats the shopper left before anyone answered (last 7 days). Open one to see what they wrote.",
        left: "Messages left outside business hours or while nobody was online. Answer, then mark done.",
      }[part || "calls"];
    }

    function callCard(t) {
      const c = t.contact || {};
      const cart = t.cart || { items: [], currency: "USD" };
      const name = c.name || "Guest shopper";
      const busy = recording.get(t.id);
      const items = cart.items || [];
      const journey = t.journey || [];
      const open = journeyOpen.has(t.id);
      const shown = open ? journey.slice().reverse() : journey.slice(-JOURNEY_SHOWN).reverse();
      const note = h("input", { class: "input fu-note", type: "text", maxlength: "2000", placeholder: "Note (optional)",
        "aria-label": `Note on the call to ${name}`, "data-testid": "call-note", value: callNotes.get(t.id) || "", disabled: !!busy });
      note.addEventListener("input", () => callNotes.set(t.id, note.value));
      note.addEventListener("keydown", (e) => {
        if (e.key === "Escape") { e.stopPropagation(); note.blur(); }
      });
      const flags = [];
      if (t.ordered) flags.push(h("span", { class: "fu-flag fu-flag-ok" }, svgIcon("check", { size: 11 }), "Has ordered since"));
      if (t.opted_out) flags.push(h("span", { class: "fu-flag fu-flag-stop" }, svgIcon("alert", { size: 11 }), "Asked not to be called"));
      const error = callErrors.get(t.id);
      return h("article", { class: "fu-card", tabindex: "0", "data-testid": "call-task", dataset: { taskId: t.id } },
        h("div", { class: "fu-who" }, avatar(name, t.visitor_id || `task-${t.id}`, "md"),
          h("div", { class: "fu-who-main" },
            h("div", { class: "fu-name", "data-testid": "call-name", title: name }, name),
            c.phone ? h("a", { class: "fu-phone", href: telHref(c.phone), "data-testid": "call-phone" }, svgIcon("phone", { size: 13 }), c.phone)
              : h("span", { class: "muted small" }, "No phone number"),
            c.email ? h("a", { class: "fu-email", href: `mailto:${c.email}` }, c.email) : null,
            h("div", { class: "fu-when", title: t.due_at || "" }, svgIcon("clock", { size: 12 }),
              h("span", { dataset: { template: "Due {ago}", at: t.due_at } }, `Due ${ago(t.due_at)}`),
              store.sites.length > 1 ? h("span", { class: "fu-site" }, t.site) : null),
            flags.length ? h("div", { class: "fu-flags" }, flags) : null)),
        h("div", { class: "fu-cart", "data-testid": "call-cart" },
          h("div", { class: "fu-cart-head" },
            h("span", { class: "fu-total" }, money(cart.total, cart.currency)),
            h("span", { class: "fu-currency" }, cart.currency),
            miniSteps(t.reached_step || cart.checkout_step)),
          items.length ? h("ul", { class: "fu-lines" }, items.slice(0, LINES_SHOWN).map((i) => h("li", { dataset: { sku: i.sku } },
            h("span", { class: "fu-qty" }, `${i.quantity} ×`),
            h("span", { class: "fu-item", title: i.name || i.sku }, i.name || i.sku),
            h("span", { class: "fu-price" }, money(Number(i.unit_price) * i.quantity, cart.currency)))),
          items.length > LINES_SHOWN ? h("li", { class: "muted" }, `+ ${items.length - LINES_SHOWN} more`) : null)
            : h("p", { class: "muted small" }, "The cart is empty.")),
        h("div", { class: "fu-journey", "data-testid": "call-journey" },
          h("div", { class: "fu-label" }, "Journey", journey.length > JOURNEY_SHOWN ? h("button", {
            type: "button", class: "link", onclick: () => { if (open) journeyOpen.delete(t.id); else journeyOpen.add(t.id); renderCalls(); },
          }, open ? "Less" : `All ${journey.length}`) : null),
          journey.length ? h("ol", { class: ["fu-steps", open && "open"] }, shown.map((j, i) => h("li", { class: i === 0 && "fu-last" },
            h("time", { datetime: j.at, title: j.at }, shortDate(j.at).startsWith("Today") ? clockTime(j.at) : shortDate(j.at)),
            h("span", {}, journeyText(j, cart.currency)))))
            : h("p", { class: "muted small" }, "Nothing recorded.")),
        h("div", { class: "fu-act" }, note,
          h("div", { class: "fu-outcomes", role: "group", "aria-label": "Outcome of the call" }, OUTCOMES.map((o) => h("button", {
            type: "button", class: ["button button-sm fu-outcome", `fu-${o.code}`, busy === o.code && "busy"],
            dataset: { outcome: o.code }, disabled: !!busy, onclick: () => record(t, o),
          }, busy === o.code ? h("span", { class: "spinner" }) : svgIcon(o.icon, { size: 13 }), o.label))),
          error ? h("p", { class: "form-error", role: "alert" }, error) : null));
    }

    function renderCalls() {
      const empty = empties.calls;
      if (callsState !== "ready" && !calls.length) {
        lists.calls.hidden = true;
        empty.hidden = false;
        fill(empty, callsState === "failed" ? emptyNote("alert", "Could not load the call list", callsError)
          : h("div", { class: "empty-list wide muted" }, h("span", { class: "spinner" }), " Loading the call list…"));
        return;
      }
      lists.calls.hidden = !calls.length;
      empty.hidden = !!calls.length;
      fill(empty, emptyNote("phone", "No calls to make",
        "A call lands here when a follow-up step says to phone a shopper who left a cart and gave a number they may be called on."));
      reconcile(lists.calls, calls, {
        key: (t) => t.id,
        version: (t) => [recording.get(t.id) || "", callErrors.get(t.id) || "", journeyOpen.has(t.id), store.sites.length].join("|"),
        render: callCard,
      });
    }

    function missedRow(c) {
      const isNew = fresh.has(c.id) || !seen.has(c.id);
      const go = () => openConversation(c.id, c);
      return h("div", {
        class: "vt-row fu-missed-row", role: "row", tabindex: "0", "data-testid": "missed-chat", dataset: { conversationId: c.id },
        title: "Open the conversation", onclick: go,
        onkeydown: (e) => { if (e.key === "Enter" && e.target === e.currentTarget) { e.preventDefault(); go(); } },
      },
      h("span", { class: "vt-who", role: "cell" }, avatar(c.visitor_name, c.visitor_id, "sm"),
        h("span", {}, h("span", { class: "vt-name" }, c.visitor_name || "Visitor", isNew ? h("span", { class: "fu-new" }, "New") : null),
          h("span", { class: "muted small" }, [c.team, store.sites.length > 1 ? c.site : null].filter(Boolean).join(" · ") || "General queue"))),
      h("span", { class: "fu-preview", role: "cell", title: c.last_text || "" }, c.last_text || h("span", { class: "muted" }, "No message")),
      h("span", { class: "vt-value", role: "cell" }, c.cart_total ? money(c.cart_total, c.currency) : h("span", { class: "muted" }, "No cart"),
        c.checkout_step ? h("span", { class: `step-chip step-chip-sm step-${c.checkout_step}` }, stepLabel(c.checkout_step)) : null),
      h("span", { class: "muted", role: "cell", title: c.missed_at || "", dataset: { ago: c.missed_at || "" } }, ago(c.missed_at)),
      h("span", { class: "vt-action", role: "cell" }, h("button", { type: "button", class: "button button-sm", tabindex: "-1", "data-testid": "open-missed",
        onclick: (e) => { e.stopPropagation(); go(); } }, svgIcon("chat", { size: 13 }), "Open chat")));
    }

    function renderMissed() {
      const rows = missedRows();
      lists.missed.hidden = !rows.length;
      empties.missed.hidden = !!rows.length;
      fill(empties.missed, emptyNote("check", "No missed chats",
        "When a shopper leaves before anyone answers, the chat stays here for a week so that someone can follow up."));
      if (!rows.length) return;
      let head = lists.missed.querySelector(".vt-head");
      if (!head) {
        head = h("div", { class: "vt-row fu-missed-row vt-head", role: "row" },
          ["Shopper", "Last message", "Cart", "Missed", ""].map((t) => h("span", { role: "columnheader" }, t)));
      }
      const body = lists.missed.querySelector(".fu-rows") || h("div", { class: "fu-rows", role: "rowgroup" });
      if (!head.parentNode || !body.parentNode) fill(lists.missed, head, body);
      reconcile(body, rows, {
        key: (c) => c.id,
        version: (c) => [c.visitor_name, c.cart_total, c.checkout_step, c.last_text, c.missed_at, fresh.has(c.id) || !seen.has(c.id), store.sites.length].join("|"),
        render: missedRow,
      });
    }

    function leftCard(m) {
      const pending = Array.from(leftPending.values()).includes(m.id);
      const error = leftErrors.get(m.id);
      const note = h("input", { class: "input fu-note", type: "text", maxlength: "4000", placeholder: "What did you do? (optional)",
        "aria-label": `Note on the message from ${m.visitor_name}`, "data-testid": "left-note", value: leftNotes.get(m.id) || "", disabled: pending });
      note.addEventListener("input", () => leftNotes.set(m.id, note.value));
      note.addEventListener("keydown", (e) => {
        if (e.key === "Enter") { e.preventDefault(); markDone(m); }
        if (e.key === "Escape") { e.stopPropagation(); note.blur(); }
      });
      const mine = m.agent && m.agent.id === store.myId;
      return h("article", { class: "fu-card fu-left", tabindex: "0", "data-testid": "left-message", dataset: { leftMessageId: m.id } },
        h("div", { class: "fu-who" }, avatar(m.visitor_name, m.visitor_id, "md"),
          h("div", { class: "fu-who-main" },
            h("div", { class: "fu-name", title: m.visitor_name || "" }, m.visitor_name || "Visitor"),
            m.email ? h("a", { class: "fu-phone", href: `mailto:${m.email}`, "data-testid": "left-email" }, svgIcon("mail", { size: 13 }), m.email) : null,
            m.phone ? h("a", { class: "fu-phone", href: telHref(m.phone), "data-testid": "left-phone" }, svgIcon("phone", { size: 13 }), m.phone) : null,
            h("div", { class: "fu-when", title: m.created_at || "" }, svgIcon("clock", { size: 12 }),
              h("span", { dataset: { template: "Left {ago}", at: m.created_at } }, `Left ${ago(m.created_at)}`),
              store.sites.length > 1 ? h("span", { class: "fu-site" }, m.site) : null),
            h("div", { class: "fu-flags" },
              m.reason ? h("span", { class: "fu-flag" }, REASONS[m.reason] || m.reason) : null,
              h("span", { class: ["fu-flag", mine && "fu-flag-mine"] }, mine ? "Yours" : "Not assigned yet")))),
        // Shown exactly as typed: text nodes only, line breaks kept by CSS.
        h("blockquote", { class: "fu-text", "data-testid": "left-text" }, m.text),
        h("div", { class: "fu-act" }, note,
          h("div", { class: "fu-done-row" },
            m.conversation_id ? h("button", { type: "button", class: "button button-sm", title: "The shopper's last conversation",
              onclick: () => openConversation(m.conversation_id) },
            svgIcon("chat", { size: 13 }), "Last chat") : null,
            h("button", { type: "button", class: "button button-primary button-sm", "data-testid": "left-done", disabled: pending, onclick: () => markDone(m) },
              pending ? h("span", { class: "spinner" }) : svgIcon("check", { size: 13 }), pending ? "Saving…" : "Mark done")),
          error ? h("p", { class: "form-error", role: "alert" }, error) : null));
    }

    function renderLeft() {
      const rows = leftRows();
      lists.left.hidden = !rows.length;
      empties.left.hidden = !!rows.length;
      fill(empties.left, emptyNote("mail", "No messages waiting",
        "Outside business hours, or when nobody is online, shoppers can leave a message with an email or phone number. It waits here until someone marks it done."));
      reconcile(lists.left, rows, {
        key: (m) => m.id,
        version: (m) => [m.status, m.agent && m.agent.id, Array.from(leftPending.values()).includes(m.id), leftErrors.get(m.id) || "", store.sites.length].join("|"),
        render: leftCard,
      });
    }

    function render() {
      if (!part) return;
      for (const section of el.querySelectorAll(".fu-part")) section.hidden = section.dataset.part !== part;
      renderSegments();
      renderCalls();
      renderMissed();
      renderLeft();
    }

    function changed() {
      if (ctx.activeTab === "followups") {
        if (part === "missed") markMissedSeen();
        render();
      }
      store.changed("tabs"); // the badge in the top bar
    }

    function choose(id) {
      if (part !== id && id === "missed") markMissedSeen(true);
      part = id;
      render();
      store.changed("tabs");
    }

    function move(delta) {
      const cards = Array.from(el.querySelectorAll(`.fu-part[data-part="${part}"] [tabindex="0"]`));
      if (!cards.length) return;
      const at = cards.indexOf(document.activeElement.closest("[tabindex='0']"));
      const next = cards[Math.max(0, Math.min(cards.length - 1, at < 0 ? 0 : at + delta))];
      next.focus();
      next.scrollIntoView({ block: "nearest" });
    }

    // --- wiring ---------------------------------------------------------------------------

    let resynced = false;
    socket.on("state", () => {
      resynced = true;
      loadCalls();
    });
    socket.on("call_task", (frame) => {
      const t = frame.call_task || {};
      if (t.status === "done") {
        // Recorded by someone (or by us in another tab): off the open list at once.
        calls = calls.filter((c) => c.id !== t.id);
        changed();
      } else {
        reloadSoon();
      }
    });
    socket.on("error", (frame) => {
      const id = frame.client_id && leftPending.get(frame.client_id);
      if (!id) return;
      leftPending.delete(frame.client_id);
      leftErrors.set(id, frame.detail || "The server refused that.");
      changed();
    });

    store.subscribe(["followups"], () => {
      // A pending "done" is confirmed by the broadcast taking the message off the list.
      for (const [clientId, id] of leftPending) {
        if (!store.leftMessages.has(id)) {
          leftPending.delete(clientId);
          leftNotes.delete(id);
          toast("Left message marked done.", "success");
        }
      }
      if (resynced) {
        // A fresh `state` after a reconnect: a "done" still listed never reached the server; let it be sent again.
        resynced = false;
        for (const [clientId, id] of leftPending) if (store.leftMessages.has(id)) leftPending.delete(clientId);
      }
      for (const id of leftErrors.keys()) if (!store.leftMessages.has(id)) leftErrors.delete(id);
      changed();
    });
    store.subscribe(["me"], () => { if (ctx.activeTab === "followups") render(); });

    const here = () => ctx.activeTab === "followups";
    for (const p of PARTS) {
      shortcuts.register({ keys: [p.key], group: "Follow-ups", description: `Show ${p.label.toLowerCase()}`, run: () => choose(p.id), when: here });
    }
    shortcuts.register({ keys: ["j", "ArrowDown"], group: "Follow-ups", description: "Next item", run: () => move(1), when: here });
    shortcuts.register({ keys: ["k", "ArrowUp"], group: "Follow-ups", description: "Previous item", run: () => move(-1), when: here });

    return {
      badge: () => calls.length + store.leftMessages.size + unseenMissed(),
      show: () => {
        if (!part) part = calls.length ? "calls" : store.leftMessages.size ? "left" : unseenMissed() ? "missed" : "calls";
        if (part === "missed") markMissedSeen(true);
        render();
        loadCalls();
      },
    };
  },
};
