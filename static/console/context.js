/* The context panel: who the shopper is, signals, the live cart, the checkout journey, pages, history. */

import { avatar, fill, h, thumb } from "./util/dom.js";
import { svgIcon } from "./util/icons.js";
import { STEPS, ago, duration, money, pathOf, shortDate, stepIndex, stepLabel } from "./util/format.js";

const TONE_ICON = { warning: "alert", info: "info", positive: "trend" };

function section(title, content, { id, extra } = {}) {
  return h("section", { class: "ctx-section", dataset: { section: id || title.toLowerCase() } },
    h("h3", { class: "ctx-title" }, title, extra ? h("span", { class: "ctx-extra" }, extra) : null), content);
}

function signalList(signals) {
  if (!signals || !signals.length) return null;
  return section("Signals", h("ul", { class: "signals", "data-testid": "signals" }, signals.map((s) => h("li", {
    class: `signal signal-${s.tone}`, dataset: { code: s.code },
  }, svgIcon(TONE_ICON[s.tone] || "info", { size: 14 }),
  // The wording stays fresh: {ago} is re-rendered by the ticker from `at`.
  h("span", { dataset: { template: s.template, at: s.at } }, s.text)))), { id: "signals" });
}

function cartSection(cart) {
  if (!cart) {
    return section("Cart", h("p", { class: "ctx-empty" }, "No cart yet."), { id: "cart" });
  }
  const c = cart.currency;
  const lines = (cart.items || []).map((item) => {
    const lineTotal = (Number(item.unit_price) * item.quantity).toFixed(2);
    return h("li", { class: "cart-line", dataset: { sku: item.sku } },
      thumb(item.image_url, 40, () => svgIcon("box", { size: 16 })),
      h("div", { class: "cart-line-main" },
        h("div", { class: "cart-line-name", title: item.name || item.sku }, item.name || item.sku),
        h("div", { class: "cart-line-sub" }, `${item.quantity} × ${money(item.unit_price, c)}`, h("span", { class: "sku" }, item.sku))),
      h("div", { class: "cart-line-total" }, money(lineTotal, c)));
  });
  const row = (label, value, cls = "") => h("div", { class: `total-row ${cls}` }, h("span", {}, label), h("span", {}, value));
  const discount = Number(cart.discount || 0);
  return section("Cart", [
    lines.length ? h("ul", { class: "cart-lines" }, lines) : h("p", { class: "ctx-empty" }, "The cart is empty."),
    h("div", { class: "totals", "data-testid": "cart-totals" },
      row("Subtotal", money(cart.subtotal, c)),
      row("Shipping", Number(cart.shipping) ? money(cart.shipping, c) : "Free"),
      row("Tax", money(cart.tax, c)),
      discount ? row("Discount", `−${money(cart.discount, c)}`, "discount") : null,
      row("Total", money(cart.total, c), "grand")),
  ], { id: "cart", extra: [h("span", { class: `step-chip step-${cart.checkout_step}` }, stepLabel(cart.checkout_step)),
    cart.source === "store" ? h("span", { class: "verified", title: "Sent by the store's server" }, svgIcon("check", { size: 11 }), "Store") : null] });
}

function journeySection(journey, cart) {
  const reached = Math.max(-1, ...journey.map((j) => stepIndex(j.step)), cart ? stepIndex(cart.checkout_step) : -1);
  const current = journey.length ? journey[journey.length - 1].step : cart ? cart.checkout_step : null;
  // One segment per step, filled up to the furthest reached; the words say where the shopper is now.
  const stepper = h("div", { class: "stepper" },
    h("div", { class: "stepper-bar" }, STEPS.map((step, i) => h("span", {
      class: ["stepper-seg", i <= reached && "reached", step === current && "current"], title: stepLabel(step),
    }))),
    h("div", { class: "stepper-text" },
      current ? h("strong", {}, stepLabel(current)) : "Browsing",
      current ? h("span", { class: "muted" }, ` · step ${stepIndex(current) + 1} of ${STEPS.length}`) : null,
      reached > stepIndex(current) ? h("span", { class: "muted" }, ` · reached ${stepLabel(STEPS[reached])}`) : null));
  const visits = journey.length
    ? h("ol", { class: "journey", "data-testid": "journey" }, journey.map((j) => h("li", {
      class: ["journey-step", j.current && "current", j.went_back && "back"], dataset: { step: j.step },
    },
    h("span", { class: "journey-marker" }, j.went_back ? svgIcon("arrowLeft", { size: 11 }) : null),
    h("span", { class: "journey-name" }, stepLabel(j.step), j.went_back ? h("span", { class: "journey-back" }, `back from ${stepLabel(j.from)}`) : null),
    h("span", { class: "journey-time" }, j.current
      ? h("span", { dataset: { since: j.entered_at, format: "words" } }, duration(j.seconds))
      : duration(j.seconds)))))
    : h("p", { class: "ctx-empty" }, "No checkout steps yet.");
  return section("Checkout journey", [stepper, visits], { id: "journey" });
}

function pagesSection(pages) {
  if (!pages || !pages.length) return null;
  return section("Pages visited", h("ol", { class: "pages" }, pages.slice(0, 12).map((p) => h("li", { class: "page" },
    h("div", { class: "page-title", title: p.url }, p.title && p.title !== p.url ? p.title : pathOf(p.url)),
    h("div", { class: "page-meta" }, h("span", { dataset: { ago: p.at } }, ago(p.at)),
      p.seconds ? h("span", {}, `· ${duration(p.seconds)}`) : null,
      p.checkout_step ? h("span", { class: `step-chip step-chip-sm step-${p.checkout_step}` }, stepLabel(p.checkout_step)) : null)))),
  { id: "pages", extra: pages.length > 12 ? `latest 12 of ${pages.length}` : null });
}

let openConversation = () => {};

function historySection(ctx) {
  const convs = ctx.previous_conversations || [];
  const orders = ctx.orders || [];
  if (!convs.length && !orders.length) {
    return section("History", h("p", { class: "ctx-empty" }, "First visit: no earlier conversations or orders."), { id: "history" });
  }
  return section("History", [
    orders.length ? h("ul", { class: "history-list" }, orders.map((o) => h("li", { class: "history-item" },
      h("span", { class: "history-icon order" }, svgIcon("cart", { size: 13 })),
      h("div", {}, h("div", {}, `Order ${o.order_id}`, h("strong", {}, ` ${money(o.total, o.currency)}`)),
        h("div", { class: "muted" }, `${shortDate(o.created_at)} · ${o.items} item${o.items === 1 ? "" : "s"}${o.attributed ? " · after a chat" : ""}`))))) : null,
    convs.length ? h("ul", { class: "history-list" }, convs.map((c) => h("li", {
      class: "history-item clickable", title: "Open this conversation", tabindex: "0",
      onclick: () => openConversation(c.id), onkeydown: (e) => { if (e.key === "Enter") openConversation(c.id); },
    },
      h("span", { class: "history-icon" }, svgIcon("chat", { size: 13 })),
      h("div", {}, h("div", {}, c.close_reason_label || (c.status === "missed" ? "Missed" : c.status[0].toUpperCase() + c.status.slice(1)),
        c.rating ? h("span", { class: "stars", title: `Rated ${c.rating} of 5` }, ` ${"★".repeat(c.rating)}${"☆".repeat(5 - c.rating)}`) : null),
      h("div", { class: "muted" }, `${shortDate(c.created_at)}${c.agent ? ` · ${c.agent.name}` : ""} · ${c.messages} messages`))))) : null,
  ], { id: "history" });
}

function firstSeen(iso) {
  const label = shortDate(iso);
  return label.startsWith("Today ") ? `at ${label.slice(6)}` : label;
}

function visitorSection(v, summary) {
  const lines = [];
  if (v.email) lines.push(h("div", { class: "visitor-line" }, svgIcon("mail", { size: 13 }), h("span", {}, v.email)));
  if (v.current_url) {
    lines.push(h("div", { class: "visitor-line", title: v.current_url }, svgIcon("eye", { size: 13 }),
      h("span", {}, v.current_title || pathOf(v.current_url))));
  }
  return h("section", { class: "ctx-visitor" },
    avatar(v.name, v.id, "lg"),
    h("div", { class: "visitor-main" },
      h("div", { class: "visitor-name" }, h("span", {}, v.name),
        summary && summary.returning ? h("span", { class: "badge badge-returning", title: "Returning customer" }, svgIcon("repeat", { size: 11 }), "Returning") : null),
      h("div", { class: "visitor-status", title: `First seen ${firstSeen(v.first_seen_at)}` },
        h("span", { class: ["online-dot", v.online && "on"] }), v.online ? "On the site now" : "Left the site"),
      lines));
}

export function mountContext(root, ctx) {
  const { store } = ctx;
  openConversation = (id) => ctx.actions.open(id);
  let shown = null; // [conversation id, context object]: re-render only when either changes

  function render() {
    const s = store.openSummary();
    const c0 = s ? store.thread(s.id).context : null;
    if (shown && s && shown[0] === s.id && shown[1] === c0 && c0) return;
    shown = s ? [s.id, c0] : null;
    if (!s) {
      fill(root, h("div", { class: "ctx-placeholder" }, svgIcon("cart", { size: 22 }),
        h("p", {}, "The shopper's cart, checkout journey and history show here.")));
      return;
    }
    const thread = store.thread(s.id);
    const c = thread.context;
    if (!c) {
      fill(root, h("div", { class: "ctx-placeholder" }, h("p", {}, "Loading context…")));
      return;
    }
    const scroll = root.scrollTop;
    fill(root,
      visitorSection(c.visitor, s),
      signalList(c.signals),
      cartSection(c.cart),
      journeySection(c.journey || [], c.cart),
      pagesSection(c.pages),
      historySection(c));
    root.scrollTop = scroll;
  }

  let unsubscribe = null;
  store.subscribe(["open", "context"], () => {
    if (unsubscribe) unsubscribe();
    if (store.openId) unsubscribe = store.subscribe([`thread:${store.openId}`], render);
    render();
  });
  render();
}
