/* Abandoned carts: carts that reached contact or later, have no order and went quiet (METRICS.md).

Data: GET /api/v1/agent/abandoned-carts/ (session login, only the agent's sites), refreshed when the
tab is shown and whenever the server announces one with an `abandoned_cart` frame. Each row shows the
value, how far the checkout got, who the shopper is and what they agreed to be contacted by.
*/

import { avatar, fill, h, safeUrl } from "../util/dom.js";
import { svgIcon } from "../util/icons.js";
import { STEPS, ago, money, stepIndex, stepLabel } from "../util/format.js";

const ENDPOINT = "/api/v1/agent/abandoned-carts/?limit=200";

function miniSteps(step) {
  const at = stepIndex(step);
  return h("span", { class: "mini-steps", title: stepLabel(step) },
    STEPS.slice(0, 5).map((s, i) => h("i", { class: [i <= at && "on", i === at && "now"] })),
    h("span", { class: "mini-steps-label" }, stepLabel(step)));
}

function consentChips(consent) {
  const chip = (on, label) => h("span", { class: ["ac-chip", on ? "yes" : "no"], title: on ? `Agreed to ${label}` : `No ${label} consent` },
    svgIcon(on ? "check" : "x", { size: 11 }), label);
  return h("span", { class: "ac-consent" }, chip(consent.email, "email"), chip(consent.sms, "SMS"));
}

function contactCell(row) {
  const c = row.contact;
  const name = c.name || c.email || "Guest shopper";
  return h("span", { class: "vt-who", role: "cell" }, avatar(name, row.visitor_id || row.cart_token, "sm"),
    h("span", {},
      h("span", { class: "vt-name" }, name),
      h("span", { class: "muted small ac-lines" },
        c.email && c.email !== name ? h("a", { href: `mailto:${c.email}` }, c.email) : null,
        c.phone ? h("a", { href: `tel:${c.phone.replace(/[^+\d]/g, "")}` }, c.phone) : null,
        !c.email && !c.phone ? "No contact details" : null,
        c.email && c.email === name && !c.phone ? "Email only" : null)));
}

export default {
  id: "abandoned",
  label: "Abandoned",
  icon: "archive",
  mount(el, ctx) {
    const { socket, actions } = ctx;
    let rows = [];
    let unseen = 0;
    let loading = false;
    const status = h("p", { class: "muted" }, "Carts left at contact or later without an order.");
    const table = h("div", { class: "visitors-table", role: "table", "data-testid": "abandoned" });
    el.classList.add("visitors-view");
    el.append(h("header", { class: "view-header" }, h("div", {}, h("h1", {}, "Abandoned carts"), status),
      h("button", { type: "button", class: "button button-sm", onclick: () => load() }, svgIcon("repeat", { size: 13 }), "Refresh")),
      table);

    async function load() {
      if (loading) return;
      loading = true;
      try {
        const response = await fetch(ENDPOINT, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        rows = (await response.json()).abandoned_carts || [];
        render();
      } catch (err) {
        fill(table, h("div", { class: "empty-list wide" }, h("h3", {}, "Could not load abandoned carts"), h("p", {}, String(err.message || err))));
      } finally {
        loading = false;
      }
    }

    function render() {
      if (!rows.length) {
        fill(table, h("div", { class: "empty-list wide" }, h("div", { class: "empty-icon" }, svgIcon("cart", { size: 22 })),
          h("h3", {}, "No abandoned carts"),
          h("p", {}, "A cart lands here when it reached the contact step, has no order, and nothing happened for the site's abandonment time.")));
        return;
      }
      fill(table,
        h("div", { class: "vt-row ac-row vt-head", role: "row" },
          ["Shopper", "Cart", "Reached", "Abandoned", "Consent", ""].map((t) => h("span", { role: "columnheader" }, t))),
        rows.map((row) => {
          const action = h("span", { class: "vt-action", role: "cell" });
          if (row.conversation_id) {
            action.append(h("button", { type: "button", class: "button button-sm",
              onclick: () => { ctx.showTab("inbox"); actions.open(row.conversation_id); } }, svgIcon("chat", { size: 13 }), "Last conversation"));
          }
          const link = safeUrl(row.recovery_url || "");
          if (link) action.append(h("a", { class: "button button-sm ac-link", href: link, target: "_blank", rel: "noopener noreferrer" }, "Recovery link"));
          const items = row.items.reduce((n, i) => n + (i.quantity || 0), 0);
          return h("div", { class: "vt-row ac-row", role: "row", dataset: { cartId: row.id } },
            contactCell(row),
            h("span", { class: "vt-value", role: "cell" }, money(row.total, row.currency),
              h("span", { class: "muted small ac-items" }, `${items} item${items === 1 ? "" : "s"}`)),
            h("span", { role: "cell" }, miniSteps(row.checkout_step)),
            h("span", { class: "muted", role: "cell", title: row.abandoned_at }, ago(row.abandoned_at)),
            h("span", { role: "cell" }, consentChips(row.consent)),
            action);
        }));
    }

    socket.on("abandoned_cart", () => {
      unseen += 1;
      if (ctx.activeTab === "abandoned") load();
      else ctx.store.changed("tabs");
    });

    return {
      badge: () => unseen,
      show: () => { unseen = 0; load(); },
    };
  },
};
