/* Visitors at checkout: shoppers on the site now with a cart at contact or later; invite one with a prompt. */

import { avatar, fill, h } from "../util/dom.js";
import { svgIcon } from "../util/icons.js";
import { STEPS, money, pathOf, stepIndex, stepLabel } from "../util/format.js";

const DEFAULT_INVITE = "Hi! Can I help you with your order?";

function miniSteps(step) {
  const at = stepIndex(step);
  return h("span", { class: "mini-steps", title: stepLabel(step) }, STEPS.slice(0, 5).map((s, i) => h("i", { class: [i <= at && "on", i === at && "now"] })),
    h("span", { class: "mini-steps-label" }, stepLabel(step)));
}

export default {
  id: "visitors",
  label: "At checkout",
  icon: "cart",
  mount(el, ctx) {
    const { store, actions, socket } = ctx;
    const invited = new Map(); // visitor id -> time of our invite
    let editing = null; // the visitor whose invitation is being written: hold re-renders meanwhile
    const table = h("div", { class: "visitors-table", role: "table", "data-testid": "visitors" });
    el.classList.add("visitors-view");
    el.append(
      h("header", { class: "view-header" },
        h("div", {}, h("h1", {}, "Shoppers at checkout"),
          h("p", { class: "muted" }, "On the site right now with a cart past the cart page. Invite the ones who seem stuck.")),
      ),
      table,
    );

    socket.on("invited", (frame) => {
      invited.set(frame.visitor_id, Date.now());
      ctx.toast("Invitation sent: the shopper sees it in the chat window.", "success");
      render();
    });

    /** The invitation is written on a line of its own under the shopper's row. */
    function openInvite(row, cell) {
      const rowEl = cell.closest(".vt-row");
      const input = h("input", { class: "input", value: DEFAULT_INVITE, maxlength: "500", "aria-label": "Invitation text", "data-testid": "invite-text" });
      const send = h("button", { type: "button", class: "button button-primary button-sm", "data-testid": "send-invite" }, "Send");
      const cancel = h("button", { type: "button", class: "button button-sm" }, "Cancel");
      const form = h("div", { class: "invite-form" },
        h("span", { class: "invite-label" }, svgIcon("chat", { size: 14 }), `Invite ${row.name}:`), input, send, cancel);
      editing = row.visitor_id;
      const go = () => {
        editing = null;
        if (actions.invite(row.visitor_id, input.value.trim() || DEFAULT_INVITE)) {
          form.remove();
          fill(cell, h("span", { class: "muted small" }, "Sending…"));
        }
      };
      send.addEventListener("click", go);
      const stop = () => { editing = null; render(); };
      cancel.addEventListener("click", stop);
      input.addEventListener("keydown", (e) => {
        if (e.key === "Enter") go();
        if (e.key === "Escape") { e.stopPropagation(); stop(); }
      });
      rowEl.querySelectorAll(".invite-form").forEach((f) => f.remove());
      rowEl.append(form);
      input.focus();
      input.select();
    }

    function render() {
      if (editing && store.visitors.has(editing)) return;
      editing = null;
      const rows = Array.from(store.visitors.values())
        .sort((a, b) => Number(b.cart_total) - Number(a.cart_total) || a.idle_seconds - b.idle_seconds);
      if (!rows.length) {
        fill(table, h("div", { class: "empty-list wide" }, h("div", { class: "empty-icon" }, svgIcon("cart", { size: 22 })),
          h("h3", {}, "Nobody is at checkout right now"),
          h("p", {}, "Shoppers appear here the moment their cart reaches the contact step, and leave when they order or go.")));
        return;
      }
      fill(table,
        h("div", { class: "vt-row vt-head", role: "row" },
          ["Shopper", "Cart", "Step", "Idle", "Page", ""].map((t) => h("span", { role: "columnheader" }, t))),
        rows.map((v) => {
          const action = h("span", { class: "vt-action", role: "cell" });
          const conv = v.conversation_id ? store.conversations.get(v.conversation_id) : null;
          if (v.conversation_id) {
            action.append(h("button", { type: "button", class: "button button-sm", onclick: () => { ctx.showTab("inbox"); actions.open(v.conversation_id); } },
              svgIcon("chat", { size: 13 }), conv && conv.status === "active" ? "In conversation" : "Open conversation"));
          } else if (invited.has(v.visitor_id)) {
            action.append(h("span", { class: "invited" }, svgIcon("check", { size: 13 }), "Invited"),
              h("button", { type: "button", class: "link", onclick: () => openInvite(v, action) }, "again"));
          } else {
            action.append(h("button", { type: "button", class: "button button-primary button-sm", "data-testid": "invite", onclick: () => openInvite(v, action) },
              svgIcon("chat", { size: 13 }), "Invite"));
          }
          return h("div", { class: "vt-row", role: "row", dataset: { visitorId: v.visitor_id } },
            h("span", { class: "vt-who", role: "cell" }, avatar(v.name, v.visitor_id, "sm"), h("span", {}, h("span", { class: "vt-name" }, v.name),
              h("span", { class: "muted small" }, `${v.items} item${v.items === 1 ? "" : "s"}${store.sites.length > 1 ? ` · ${v.site}` : ""}`))),
            h("span", { class: "vt-value", role: "cell" }, money(v.cart_total, v.currency)),
            h("span", { role: "cell" }, miniSteps(v.checkout_step)),
            h("span", { class: "vt-idle", role: "cell" }, h("span", { dataset: { since: v.last_activity_at, format: "words", idle: "1" } })),
            h("span", { class: "vt-page muted", role: "cell", title: v.current_url || "" }, v.current_title || pathOf(v.current_url || "") || "—"),
            action);
        }));
    }

    store.subscribe(["visitors", "conversations"], render);
    render();
    return {
      badge: () => store.visitors.size,
      show: () => socket.send({ type: "visitors" }),
    };
  },
};
