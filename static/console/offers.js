/* The offer composer: a catalogue product or one typed in, a kind, a price or discount code; sent as an `offer` frame. */

import { fill, h, thumb } from "./util/dom.js";
import { svgIcon } from "./util/icons.js";
import { kindLabel, money } from "./util/format.js";
import { openModal } from "./dialogs.js";

const KIND_HELP = {
  upsell: "A better version of something in the cart",
  cross_sell: "Something that goes with the cart",
  bundle: "Several products together for less",
  discount: "A code taken off the total",
  free_shipping: "Shipping on the house",
};
const NEEDS_SKU = ["upsell", "cross_sell", "bundle"];
const MONEY = /^\d{1,10}(\.\d{1,2})?$/;

/** What the server would refuse, said before sending (the server checks again). */
export function offerProblem(offer) {
  if (!offer.title.trim()) return "Give the offer a title.";
  if (NEEDS_SKU.includes(offer.kind) && !offer.sku.trim()) return `A ${kindLabel(offer.kind).toLowerCase()} offer needs a product: pick one or type its SKU.`;
  if (offer.kind === "discount" && !offer.discount_code.trim()) return "A discount offer needs a discount code.";
  if (offer.price && !MONEY.test(offer.price)) return "The price must be a number such as 19.99.";
  return null;
}

export function mountOffers(ctx) {
  const { store, actions, socket } = ctx;
  let productResults = [];
  let pendingClientId = null;
  let dialog = null;

  socket.on("products", (frame) => {
    productResults = frame.products || [];
    if (dialog) dialog.renderResults();
  });
  socket.on("ack", (frame) => {
    if (frame.offer && frame.client_id === pendingClientId && dialog) {
      pendingClientId = null;
      dialog.close();
      ctx.toast("Offer sent to the shopper.", "success");
    }
  });
  socket.on("error", (frame) => {
    if (frame.client_id && frame.client_id === pendingClientId && dialog) {
      pendingClientId = null;
      dialog.showError(frame.detail);
    }
  });

  function open() {
    const s = store.openSummary();
    if (!s || !store.isMine(s) || dialog) return;
    const cart = store.thread(s.id).context?.cart;
    const currency = (cart && cart.currency) || s.currency || "USD";
    const state = { kind: "cross_sell", title: "", sku: "", price: "", discount_code: "", product: null };

    const kinds = h("div", { class: "segmented", role: "radiogroup", "aria-label": "Kind of offer" });
    const search = h("input", { type: "search", class: "input", placeholder: "Search the catalogue by name or SKU", "aria-label": "Search products", "data-testid": "product-search" });
    const results = h("div", { class: "product-results", "data-testid": "product-results" });
    const title = h("input", { class: "input", name: "title", maxlength: "200", placeholder: "e.g. Canvas cap to match your tee", "data-testid": "offer-title" });
    const sku = h("input", { class: "input", name: "sku", maxlength: "100", placeholder: "SKU", "data-testid": "offer-sku" });
    const price = h("input", { class: "input", name: "price", inputmode: "decimal", placeholder: "0.00", "data-testid": "offer-price" });
    const code = h("input", { class: "input", name: "discount_code", maxlength: "64", placeholder: "e.g. SAVE10", "data-testid": "offer-code" });
    const preview = h("div", { class: "offer-preview" });
    const error = h("p", { class: "form-error", role: "alert", hidden: true });
    const send = h("button", { type: "button", class: "button button-primary", "data-testid": "send-offer" }, svgIcon("send", { size: 14 }), "Send offer");
    const cancel = h("button", { type: "button", class: "button" }, "Cancel");

    const field = (label, input, hint) => h("label", { class: "field" }, h("span", { class: "field-label" }, label), input,
      hint ? h("span", { class: "field-hint" }, hint) : null);
    const skuField = field("SKU", sku);
    const priceField = field(`Offer price (${currency})`, price, "Leave empty to keep the catalogue price.");
    const codeField = field("Discount code", code);
    const productField = h("div", { class: "field" }, h("span", { class: "field-label" }, "Product"), search, results);

    function renderKinds() {
      fill(kinds, store.offerKinds.map((k) => h("button", {
        type: "button", role: "radio", class: ["segment", state.kind === k && "active"], "aria-checked": String(state.kind === k),
        dataset: { kind: k }, title: KIND_HELP[k], onclick: () => { state.kind = k; sync(); },
      }, kindLabel(k))));
    }

    function renderResults() {
      const inCart = new Set(((cart && cart.items) || []).map((i) => i.sku));
      fill(results, productResults.length
        ? productResults.map((p) => h("button", {
          type: "button", class: ["product", state.sku === p.sku && "active"], dataset: { sku: p.sku },
          onclick: () => pick(p),
        }, thumb(p.image_url, 32, () => svgIcon("box", { size: 14 })),
        h("span", { class: "product-name" }, p.name, inCart.has(p.sku) ? h("span", { class: "in-cart" }, "in cart") : null),
        h("span", { class: "product-sku" }, p.sku),
        h("span", { class: "product-price" }, money(p.price, p.currency))))
        : h("p", { class: "muted small" }, "No product matches. You can type the offer by hand below."));
    }

    function pick(p) {
      state.product = p;
      state.sku = p.sku;
      sku.value = p.sku;
      if (!title.value || (state.autoTitle && title.value === state.autoTitle)) {
        title.value = p.name;
        state.autoTitle = p.name;
      }
      if (!price.value) price.placeholder = p.price;
      sync();
    }

    function current() {
      return { kind: state.kind, title: title.value, sku: sku.value, price: price.value.trim(), discount_code: code.value.trim() };
    }

    function sync() {
      renderKinds();
      renderResults();
      const needsProduct = NEEDS_SKU.includes(state.kind);
      productField.hidden = !needsProduct;
      skuField.hidden = !needsProduct;
      codeField.hidden = !(state.kind === "discount" || state.kind === "free_shipping");
      priceField.hidden = state.kind === "discount" || state.kind === "free_shipping";
      const o = current();
      const value = [];
      const shownPrice = o.price || (needsProduct && state.product ? state.product.price : "");
      if (shownPrice && !priceField.hidden) value.push(money(shownPrice, currency));
      if (o.discount_code && !codeField.hidden) value.push(h("code", {}, o.discount_code));
      fill(preview,
        h("div", { class: "preview-label" }, "The shopper sees"),
        h("div", { class: "offer-card offer-proposed preview" },
          h("div", { class: "offer-top" }, svgIcon("gift", { size: 14 }), h("span", { class: "offer-kind" }, kindLabel(o.kind))),
          h("div", { class: "offer-title" }, o.title || h("span", { class: "muted" }, "Your offer's title")),
          value.length ? h("div", { class: "offer-value" }, value.map((v, i) => [i ? " · " : "", v])) : null,
          h("div", { class: "offer-buttons" }, h("span", { class: "fake-button primary" }, "Accept"), h("span", { class: "fake-button" }, "No thanks"))));
      error.hidden = true;
    }

    let searchTimer = null;
    search.addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => actions.searchProducts(search.value, s.site), 150);
    });
    for (const input of [title, sku, price, code]) input.addEventListener("input", sync);

    function submit() {
      const o = current();
      if (!o.price && NEEDS_SKU.includes(o.kind) && state.product && state.product.sku === o.sku) o.price = state.product.price;
      if (priceField.hidden) o.price = "";
      if (codeField.hidden) o.discount_code = "";
      if (skuField.hidden) o.sku = "";
      const problem = offerProblem(o);
      if (problem) return showError(problem);
      const offer = { kind: o.kind, title: o.title.trim(), sku: o.sku.trim(), price: o.price || null, discount_code: o.discount_code };
      pendingClientId = actions.offer(s.id, offer);
      send.disabled = true;
      fill(send, h("span", { class: "spinner" }), "Sending…");
    }

    function showError(text) {
      error.hidden = false;
      error.textContent = text;
      send.disabled = false;
      fill(send, svgIcon("send", { size: 14 }), "Send offer");
    }

    send.addEventListener("click", submit);
    const body = h("div", { class: "offer-form" },
      h("div", { class: "offer-form-main" },
        h("div", { class: "field" }, h("span", { class: "field-label" }, "Kind"), kinds),
        productField,
        field("Title", title),
        h("div", { class: "field-row" }, skuField, priceField, codeField),
        error),
      preview);
    body.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) submit();
    });
    const modal = openModal({
      title: "Make an offer",
      subtitle: `To ${s.visitor_name}${cart ? ` · cart ${money(cart.total, cart.currency)}` : ""}`,
      body,
      footer: [h("span", { class: "muted small" }, "Ctrl+Enter to send"), cancel, send],
      className: "modal-offer",
      initialFocus: search,
      onClose: () => { dialog = null; pendingClientId = null; },
    });
    cancel.addEventListener("click", modal.close);
    dialog = { close: modal.close, renderResults, showError };
    actions.searchProducts("", s.site);
    sync();
  }

  return { open };
}
