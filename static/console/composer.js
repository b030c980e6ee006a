/* The reply box: reply or internal note, saved replies with "/" and search, placeholders filled, typing sent. */

import { fill, h } from "./util/dom.js";
import { svgIcon } from "./util/icons.js";
import { money } from "./util/format.js";

/** Fill {name}, {first_name}, {cart_total}, {agent} in a saved reply for this conversation. */
export function fillPlaceholders(text, { summary, context, me }) {
  const visitorName = (context && context.visitor && context.visitor.name) || (summary && summary.visitor_name) || "";
  // "Visitor 3F2A" is our label for an anonymous shopper, not a name to greet them by.
  const known = visitorName && !/^Visitor [0-9A-F]{4}$/.test(visitorName) && !visitorName.includes("@");
  const cart = context && context.cart;
  const total = cart ? money(cart.total, cart.currency) : summary && summary.cart_total ? money(summary.cart_total, summary.currency) : "";
  const values = {
    name: known ? visitorName : "there",
    first_name: known ? visitorName.split(/\s+/)[0] : "there",
    cart_total: total || "your cart total",
    agent: me ? me.name : "",
  };
  return text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? values[key] : whole));
}

export function createComposer(ctx) {
  const { store, actions } = ctx;
  const drafts = new Map(); // conversation id -> {text, mode}
  let conversationId = null;
  let mode = "message";
  let picks = [];
  let pickIndex = 0;
  let popoverOpen = false;
  let forcedNote = false; // notes only because the conversation was not ours yet

  const textarea = h("textarea", { class: "composer-input", rows: "2", "aria-label": "Message", "data-testid": "composer" });
  const popover = h("div", { class: "canned-popover", hidden: true, role: "listbox", "aria-label": "Saved replies" });
  const modeReply = h("button", { type: "button", class: "mode active", dataset: { mode: "message" } }, svgIcon("chat", { size: 14 }), "Reply");
  const modeNote = h("button", { type: "button", class: "mode", dataset: { mode: "note" }, title: "Internal note: only agents see it (N)" },
    svgIcon("lock", { size: 14 }), "Internal note");
  const cannedButton = h("button", { type: "button", class: "icon-button", title: "Saved replies (/)", "aria-label": "Saved replies" },
    h("span", { class: "slash" }, "/"));
  const offerButton = h("button", { type: "button", class: "icon-button", title: "Make an offer (O)", "aria-label": "Make an offer" },
    svgIcon("gift", { size: 16 }));
  const sendButton = h("button", { type: "button", class: "button button-primary send", "data-testid": "send" },
    h("span", { class: "send-label" }, "Send"), svgIcon("send", { size: 14 }));
  const hint = h("span", { class: "composer-hint" }, "Enter to send · Shift+Enter for a new line");
  const el = h("div", { class: "composer", "data-testid": "composer-box" },
    popover,
    h("div", { class: "composer-modes" }, modeReply, modeNote, h("span", { class: "note-hint" }, "Only agents see notes")),
    textarea,
    h("div", { class: "composer-bar" }, cannedButton, offerButton, hint, sendButton),
  );

  function summary() {
    return conversationId ? store.conversations.get(conversationId) : null;
  }

  function setMode(next) {
    mode = next;
    el.classList.toggle("note-mode", mode === "note");
    modeReply.classList.toggle("active", mode === "message");
    modeNote.classList.toggle("active", mode === "note");
    fill(sendButton.querySelector(".send-label"), mode === "note" ? "Add note" : "Send");
    updatePlaceholder();
    saveDraft();
  }

  function updatePlaceholder() {
    const s = summary();
    textarea.placeholder = mode === "note"
      ? "Write an internal note… only agents see it"
      : `Reply to ${s ? s.visitor_name : "the shopper"}…  Type / for saved replies`;
  }

  function saveDraft() {
    if (conversationId) drafts.set(conversationId, { text: textarea.value, mode });
  }

  function autosize() {
    textarea.style.height = "auto";
    textarea.style.height = `${Math.min(textarea.scrollHeight, 180)}px`;
  }

  function cannedQuery() {
    const v = textarea.value;
    if (!v.startsWith("/") || v.includes("\n")) return null;
    return v.slice(1).toLowerCase();
  }

  function renderPopover(query) {
    const s = summary();
    const all = store.cannedFor(s && s.site);
    picks = all.filter((c) => !query || c.shortcut.toLowerCase().includes(query) || c.title.toLowerCase().includes(query)
      || c.text.toLowerCase().includes(query));
    pickIndex = Math.min(pickIndex, Math.max(picks.length - 1, 0));
    popoverOpen = true;
    popover.hidden = false;
    const context = store.thread(conversationId).context;
    fill(popover,
      h("div", { class: "canned-head" }, svgIcon("search", { size: 13 }), query ? `Saved replies matching “${query}”` : "Saved replies",
        h("span", { class: "canned-keys" }, "↑↓ to choose · Enter to insert · Esc")),
      picks.length
        ? picks.map((c, i) => h("div", {
          class: ["canned-item", i === pickIndex && "active"], role: "option", "aria-selected": String(i === pickIndex),
          dataset: { shortcut: c.shortcut },
          onmousedown: (e) => { e.preventDefault(); insert(c); },
        }, h("div", { class: "canned-title" }, h("span", { class: "canned-shortcut" }, `/${c.shortcut}`), c.title),
        h("div", { class: "canned-text" }, fillPlaceholders(c.text, { summary: s, context, me: store.me }))))
        : h("div", { class: "canned-empty" }, all.length ? "No saved reply matches." : "This site has no saved replies yet (add them in the admin)."),
    );
  }

  function closePopover() {
    popoverOpen = false;
    popover.hidden = true;
    pickIndex = 0;
  }

  function insert(canned) {
    const s = summary();
    textarea.value = fillPlaceholders(canned.text, { summary: s, context: store.thread(conversationId).context, me: store.me });
    closePopover();
    autosize();
    saveDraft();
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  }

  function send() {
    if (!conversationId) return;
    const text = textarea.value;
    if (!text.trim()) return;
    if (mode === "message" && !store.isMine(summary())) return;
    actions.post(conversationId, text, mode);
    textarea.value = "";
    autosize();
    saveDraft();
    closePopover();
  }

  textarea.addEventListener("input", () => {
    autosize();
    saveDraft();
    const q = cannedQuery();
    if (q !== null) renderPopover(q);
    else if (popoverOpen) closePopover();
    if (mode === "message" && textarea.value) actions.typing(conversationId, true);
  });
  textarea.addEventListener("keydown", (event) => {
    if (popoverOpen) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        pickIndex = (pickIndex + (event.key === "ArrowDown" ? 1 : -1) + picks.length) % Math.max(picks.length, 1);
        renderPopover(cannedQuery() || "");
        return;
      }
      if ((event.key === "Enter" || event.key === "Tab") && picks.length) {
        event.preventDefault();
        insert(picks[pickIndex]);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        closePopover();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    } else if (event.key === "Escape") {
      textarea.blur();
    }
  });
  textarea.addEventListener("blur", () => {
    setTimeout(closePopover, 120);
    actions.typing(conversationId, false);
  });
  modeReply.addEventListener("click", () => { forcedNote = false; setMode("message"); textarea.focus(); });
  modeNote.addEventListener("click", () => { forcedNote = false; setMode("note"); textarea.focus(); });
  cannedButton.addEventListener("click", () => {
    if (!textarea.value.startsWith("/")) textarea.value = "/";
    textarea.focus();
    renderPopover(cannedQuery() || "");
  });
  offerButton.addEventListener("click", () => ctx.openOffer && ctx.openOffer());
  sendButton.addEventListener("click", send);

  return {
    el,
    /** Show the composer for a conversation; `canReply` false leaves only notes. */
    attach(id, { canReply }) {
      if (id !== conversationId) {
        saveDraft();
        conversationId = id;
        const draft = drafts.get(id) || { text: "", mode: "message" };
        textarea.value = draft.text;
        forcedNote = false;
        setMode(draft.mode);
        autosize();
        closePopover();
      }
      modeReply.disabled = !canReply;
      modeReply.title = canReply ? "Reply to the shopper (R)" : "Claim the conversation to reply";
      offerButton.hidden = !canReply;
      if (!canReply && mode === "message") {
        setMode("note");
        forcedNote = true;
      } else if (canReply && forcedNote) {
        // Claimed (or transferred to us) while looking at it: back to replying, as the agent expects.
        forcedNote = false;
        setMode("message");
      }
      updatePlaceholder();
    },
    focus(nextMode) {
      if (nextMode && !(nextMode === "message" && modeReply.disabled)) setMode(nextMode);
      textarea.focus();
    },
  };
}
