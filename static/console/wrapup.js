/* Ending or handing over a conversation: close with a reason code and a note; transfer to an agent or a queue. */

import { avatar, fill, h } from "./util/dom.js";
import { svgIcon } from "./util/icons.js";
import { openModal } from "./dialogs.js";

export function mountWrapup(ctx) {
  const { store, actions, socket } = ctx;
  let closing = null; // {id, modal}
  let transferring = null;

  // The dialog closes once the server says the conversation changed (or shows the refusal).
  socket.on("conversation", (frame) => {
    const c = frame.conversation;
    if (closing && c.id === closing.id && c.status === "closed") {
      closing.modal.close();
      ctx.toast("Conversation closed. The shopper was asked to rate it.", "success");
    }
    if (transferring && c.id === transferring.id && !(c.agent && store.me && c.agent.id === store.me.id && c.status === "active")) {
      transferring.modal.close();
      ctx.toast(c.status === "queued" ? "Back in the queue." : `Transferred to ${c.agent ? c.agent.name : "another agent"}.`, "success");
    }
  });
  // A refusal while one of these dialogs waits for its answer is shown in the dialog, not as a toast.
  ctx.errorHandlers.push((frame) => {
    const open = closing || transferring;
    if (!open || !open.waiting) return false;
    open.waiting = false;
    open.showError(frame.detail);
    return true;
  });

  function openClose() {
    const s = store.openSummary();
    if (!s || !store.isMine(s) || closing) return;
    let reason = null;
    const note = h("textarea", { class: "input", rows: "2", maxlength: "4000", placeholder: "Optional: what happened, for the report and whoever talks to them next", "data-testid": "close-note" });
    const error = h("p", { class: "form-error", role: "alert", hidden: true });
    const confirm = h("button", { type: "button", class: "button button-primary", disabled: true, "data-testid": "confirm-close" }, "Close conversation");
    const cancel = h("button", { type: "button", class: "button" }, "Cancel");
    const reasons = h("div", { class: "reasons", role: "radiogroup", "aria-label": "Reason" });
    function renderReasons() {
      fill(reasons, store.closeReasons.map((r, i) => h("button", {
        type: "button", role: "radio", class: ["reason", reason === r.code && "active"], "aria-checked": String(reason === r.code),
        dataset: { reason: r.code }, onclick: () => { reason = r.code; confirm.disabled = false; renderReasons(); },
      }, h("span", { class: "radio" }), h("span", {}, r.label), i < 9 ? h("kbd", {}, String(i + 1)) : null)));
    }
    renderReasons();
    const body = h("div", { class: "close-form" },
      h("p", { class: "muted" }, "Why did this shopper get stuck? The reason feeds the abandonment report."),
      reasons,
      h("label", { class: "field" }, h("span", { class: "field-label" }, "Note"), note),
      error);
    body.addEventListener("keydown", (e) => {
      if (e.target === note) {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && reason) submit();
        return;
      }
      const n = Number(e.key);
      if (n >= 1 && n <= 9 && store.closeReasons[n - 1]) {
        reason = store.closeReasons[n - 1].code;
        confirm.disabled = false;
        renderReasons();
      } else if (e.key === "Enter" && reason && e.target.tagName !== "BUTTON") submit();
    });
    function submit() {
      if (!reason) return;
      error.hidden = true;
      confirm.disabled = true;
      closing.waiting = actions.close(s.id, reason, note.value.trim());
    }
    confirm.addEventListener("click", submit);
    const modal = openModal({
      title: "Close conversation",
      subtitle: `with ${s.visitor_name}`,
      body,
      footer: [cancel, confirm],
      className: "modal-close-conv",
      initialFocus: reasons.querySelector("button"),
      onClose: () => { closing = null; },
    });
    cancel.addEventListener("click", modal.close);
    closing = { id: s.id, modal, showError: (t) => { error.hidden = false; error.textContent = t; confirm.disabled = false; } };
  }

  function openTransfer() {
    const s = store.openSummary();
    if (!s || !store.isMine(s) || transferring) return;
    let target = null;
    const note = h("textarea", { class: "input", rows: "2", maxlength: "4000", placeholder: "Optional: what the next person should know (kept as an internal note)", "data-testid": "transfer-note" });
    const error = h("p", { class: "form-error", role: "alert", hidden: true });
    const confirm = h("button", { type: "button", class: "button button-primary", disabled: true, "data-testid": "confirm-transfer" }, "Transfer");
    const cancel = h("button", { type: "button", class: "button" }, "Cancel");
    const list = h("div", { class: "targets" });
    function choose(t) {
      target = t;
      confirm.disabled = false;
      render();
    }
    function render() {
      const agents = Array.from(store.agents.values())
        .filter((a) => a.id !== store.me.id && (!a.sites || a.sites.includes(s.site)))
        .sort((a, b) => (a.presence === "online" ? 0 : 1) - (b.presence === "online" ? 0 : 1) || a.name.localeCompare(b.name));
      const queues = [{ id: "general", name: "General queue" }, ...store.teams.filter((t) => t.site === s.site)];
      fill(list,
        h("h4", {}, "Agents"),
        agents.length ? agents.map((a) => {
          const load = store.agentLoad(a.id);
          const full = load >= a.capacity;
          const active = target && target.agent === a.id;
          return h("button", {
            type: "button", class: ["target", active && "active"], disabled: full, dataset: { agent: a.username },
            onclick: () => choose({ agent: a.id }),
          }, avatar(a.name, a.username, "sm"), h("span", { class: "target-name" }, a.name),
          h("span", { class: `presence-tag presence-${a.presence}` }, a.presence),
          h("span", { class: "target-load" }, full ? "at capacity" : `${load}/${a.capacity}`));
        }) : h("p", { class: "muted small" }, "No other agent serves this site."),
        h("h4", {}, "Queues"),
        queues.map((q) => h("button", {
          type: "button", class: ["target", target && target.queue === (q.id === "general" ? "general" : q.name) && "active"],
          dataset: { queue: q.name }, onclick: () => choose({ queue: q.id === "general" ? "general" : q.name }),
        }, h("span", { class: "target-icon" }, svgIcon("users", { size: 14 })), h("span", { class: "target-name" }, q.name),
        h("span", { class: "target-load" }, "back to waiting"))));
    }
    render();
    function submit() {
      if (!target) return;
      error.hidden = true;
      confirm.disabled = true;
      transferring.waiting = actions.transfer(s.id, target, note.value.trim());
    }
    confirm.addEventListener("click", submit);
    const modal = openModal({
      title: "Transfer conversation",
      subtitle: `${s.visitor_name}: history, cart and notes go along`,
      body: h("div", { class: "transfer-form" }, list, h("label", { class: "field" }, h("span", { class: "field-label" }, "Note for the next agent"), note), error),
      footer: [cancel, confirm],
      className: "modal-transfer",
      onClose: () => { transferring = null; },
    });
    cancel.addEventListener("click", modal.close);
    transferring = { id: s.id, modal, showError: (t) => { error.hidden = false; error.textContent = t; confirm.disabled = false; } };
  }

  return { openClose, openTransfer };
}
