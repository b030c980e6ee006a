/* The demo store's page: catalogue, cart, checkout steps. Prices come from the demo store's server
   (POST /demo/cart/), which also hands ChatDesk the trusted cart; this page feeds the widget
   setCart/checkoutStep/identify and adds accepted offers to the cart. */
(function () {
  "use strict";

  // The documented stub: calls made before widget.js has loaded are queued, then replayed.
  window.ChatDesk = window.ChatDesk || { q: [] };
  ["on", "setCart", "checkoutStep", "identify", "open", "configure"].forEach(function (m) {
    window.ChatDesk[m] = window.ChatDesk[m] || function () {
      window.ChatDesk.q.push([m].concat([].slice.call(arguments)));
      return window.ChatDesk;
    };
  });
  var chat = function () { return window.ChatDesk; };

  var KEY = "demo-store:state";
  var STEPS = ["contact", "shipping", "payment", "review"];
  var catalogue = JSON.parse(document.getElementById("catalogue").textContent);
  var bySku = {};
  catalogue.forEach(function (p) { bySku[p.sku] = p; });
  var currency = document.body.getAttribute("data-currency") || "USD";
  var fmt = new Intl.NumberFormat("en-US", { style: "currency", currency: currency });
  var money = function (v) { return fmt.format(+v); };
  var $ = function (sel, el) { return (el || document).querySelector(sel); };
  var $$ = function (sel, el) { return [].slice.call((el || document).querySelectorAll(sel)); };

  function newToken() {
    var r = window.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now();
    return "demo-" + r.replace(/[^A-Za-z0-9]/g, "").slice(0, 32);
  }
  function load() {
    var s = null;
    try { s = JSON.parse(localStorage.getItem(KEY)); } catch (e) { s = null; }
    s = s || {};
    s.cart_token = s.cart_token || newToken();
    s.items = Array.isArray(s.items) ? s.items : [];
    s.contact = s.contact || {};
    s.address = s.address || {};
    s.shipping_method = s.shipping_method || "standard";
    return s;
  }
  var state = load();
  var priced = null;      // the server's answer for the current state
  function save() { try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode */ } }

  // ---- views ----
  function route() {
    var h = location.hash.replace(/^#\/?/, "");
    if (h === "cart") return { view: "cart", step: "cart" };
    var m = /^checkout\/(\w+)$/.exec(h);
    if (m && STEPS.indexOf(m[1]) >= 0) return { view: "checkout", step: m[1] };
    if (/^order\//.test(h)) return { view: "confirmation", step: "complete" };
    return { view: "shop", step: state.items.length ? "cart" : null };
  }
  var current = route();

  function show() {
    var r = route();
    // Checkout steps must be reached in order; an empty cart has no checkout.
    if (r.view === "checkout") {
      if (!state.items.length) { location.hash = "#/cart"; return; }
      var need = firstMissing();
      if (need && STEPS.indexOf(need) < STEPS.indexOf(r.step)) { location.hash = "#/checkout/" + need; return; }
    }
    if (r.view === "confirmation" && !state.last_order) { location.hash = "#/"; return; }
    var moved = r.view !== current.view || r.step !== current.step;
    current = r;
    $$(".view").forEach(function (v) { v.hidden = v.id !== "view-" + r.view; });
    $$(".step-form").forEach(function (f) { f.hidden = f.getAttribute("data-step") !== r.step; });
    $$("#steps li").forEach(function (li) {
      var i = STEPS.indexOf(li.getAttribute("data-step")), at = STEPS.indexOf(r.step);
      li.className = i < at ? "done" : i === at ? "current" : "";
      if (i === at) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
    });
    if (r.view === "checkout") fillForm(r.step);
    if (r.view === "confirmation") renderConfirmation();
    if (r.step) chat().checkoutStep(r.step);
    document.title = ({ shop: "Shop", cart: "Cart", checkout: "Checkout: " + r.step, confirmation: "Order confirmed" })[r.view] +
      " · Demo Store";
    if (moved) {
      window.scrollTo(0, 0);
      var focus = r.view === "checkout" ? $("#form-" + r.step + " h2") : $("#view-" + r.view + " h1");
      if (focus && r.view !== "shop") { focus.setAttribute("tabindex", "-1"); focus.focus(); }
    }
    reprice();
  }

  function firstMissing() {
    if (!state.contact.email) return "contact";
    if (!state.address.address) return "shipping";
    if (!state.paid) return "payment";
    return null;
  }

  // ---- cart ----
  function add(sku, offerId) {
    if (!bySku[sku]) { toast("That product is not in this store."); return; }
    var line = state.items.filter(function (i) { return i.sku === sku; })[0];
    if (line) {
      if (offerId) line.offer_id = offerId; // the agent's price now applies to this product
      else line.quantity = Math.min(99, line.quantity + 1);
    } else {
      line = { sku: sku, quantity: 1 };
      if (offerId) line.offer_id = offerId;
      state.items.push(line);
    }
    save();
    reprice();
  }
  function setQty(sku, qty) {
    state.items = state.items
      .map(function (i) { return i.sku === sku ? Object.assign({}, i, { quantity: qty }) : i; })
      .filter(function (i) { return i.quantity > 0; });
    save();
    reprice();
  }

  var pricing = 0, repriceTimer = 0;
  function reprice() {
    clearTimeout(repriceTimer);
    repriceTimer = setTimeout(doReprice, 60);
  }
  function csrf() { var m = /(?:^|; )csrftoken=([^;]+)/.exec(document.cookie); return m ? decodeURIComponent(m[1]) : ""; }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var e = new Error(data.detail || "The store could not do that."); e.data = data; throw e; }
        return data;
      });
    });
  }
  function cartBody(step) {
    return {
      cart_token: state.cart_token,
      visitor_id: chat().visitorId ? chat().visitorId() : null,
      items: state.items.map(function (i) { return { sku: i.sku, quantity: i.quantity, offer_id: i.offer_id || null }; }),
      discount_code: state.discount_code || "",
      shipping_method: state.shipping_method,
      free_shipping_offer_id: state.free_shipping_offer_id || null,
      checkout_step: step || current.step || "cart"
    };
  }
  function doReprice() {
    var mine = ++pricing;
    renderCount();
    if (!state.items.length && !priced) { renderCart(); return; }
    post("/demo/cart/", cartBody()).then(function (cart) {
      if (mine !== pricing) return;
      priced = cart;
      if (cart.discount_error) { toast(cart.discount_error); state.discount_code = ""; save(); }
      renderCart();
      chat().setCart(widgetCart(cart));
    }).catch(function (e) {
      if (mine !== pricing) return;
      // A line the store refuses (say an offer for a product it dropped) goes; the rest stays.
      var field = e.data && e.data.field, m = field && /^items\[(\d+)\]/.exec(field);
      if (m) { state.items.splice(+m[1], 1); save(); reprice(); }
      toast(e.message);
    });
  }
  function widgetCart(c) {
    return {
      cart_token: c.cart_token, currency: c.currency, checkout_step: c.checkout_step,
      subtotal: c.subtotal, shipping: c.shipping, tax: c.tax, discount: c.discount, total: c.total,
      items: c.items.map(function (i) {
        return { sku: i.sku, name: i.name, quantity: i.quantity, unit_price: i.unit_price,
                 image_url: new URL(i.image_url, location.href).href, url: new URL(i.url || "#", location.href).href };
      })
    };
  }

  // ---- rendering ----
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] != null && attrs[k] !== false) e.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (k) { if (k) e.appendChild(typeof k === "string" ? document.createTextNode(k) : k); });
    return e;
  }
  function renderCount() {
    var n = state.items.reduce(function (a, i) { return a + i.quantity; }, 0);
    $("#cart-count").textContent = n;
  }
  function renderCart() {
    renderCount();
    var lines = $("#cart-lines");
    lines.textContent = "";
    var items = priced ? priced.items : [];
    $("#cart-empty").hidden = !!state.items.length;
    items.forEach(function (i) {
      lines.appendChild(el("li", { class: "line", "data-sku": i.sku }, [
        el("img", { src: i.image_url, alt: "", width: "72", height: "72" }),
        el("div", { class: "line-main" }, [
          el("p", { class: "line-name", text: i.name }),
          i.offer_id ? el("span", { class: "tag", text: "Chat offer" }) : null,
          el("p", { class: "line-unit", text: money(i.unit_price) + " each" })
        ]),
        el("div", { class: "qty", role: "group", "aria-label": "Quantity of " + i.name }, [
          el("button", { type: "button", "aria-label": "One less", text: "−", onclick: function () { setQty(i.sku, i.quantity - 1); } }),
          el("span", { text: String(i.quantity), "aria-live": "polite" }),
          el("button", { type: "button", "aria-label": "One more", text: "+", onclick: function () { setQty(i.sku, Math.min(99, i.quantity + 1)); } })
        ]),
        el("p", { class: "line-total", text: money(i.line_total) })
      ]));
    });
    $$("[data-summary]").forEach(renderSummary);
    var std = $("#price-standard");
    if (std && priced) std.textContent = +priced.subtotal - +priced.discount >= +priced.free_shipping_from || priced.free_shipping_offer_id ? "Free" : "$7.50";
  }

  function renderSummary(box) {
    box.textContent = "";
    if (!priced || !priced.items.length) { box.hidden = true; return; }
    box.hidden = false;
    box.appendChild(el("h2", { text: "Order summary" }));
    var list = el("ul", { class: "mini" });
    priced.items.forEach(function (i) {
      list.appendChild(el("li", {}, [el("span", { text: i.quantity + " × " + i.name }), el("span", { text: money(i.line_total) })]));
    });
    box.appendChild(list);
    var rows = [["Subtotal", money(priced.subtotal), "subtotal"]];
    if (+priced.discount > 0) rows.push(["Discount (" + priced.discount_codes.join(", ") + ")", "−" + money(priced.discount), "discount"]);
    rows.push(["Shipping", priced.shipping_known ? (+priced.shipping ? money(priced.shipping) : "Free") : "Calculated at next step", "shipping"]);
    if (priced.shipping_known) rows.push(["Tax", money(priced.tax), "tax"]);
    var dl = el("dl", { class: "totals" });
    rows.forEach(function (r) { dl.appendChild(el("div", { "data-row": r[2] }, [el("dt", { text: r[0] }), el("dd", { text: r[1] })])); });
    dl.appendChild(el("div", { class: "grand", "data-row": "total" }, [el("dt", { text: "Total" }), el("dd", { text: money(priced.total) })]));
    box.appendChild(dl);
    var code = el("input", { name: "code", placeholder: "Discount code", "aria-label": "Discount code", value: state.discount_code || "" });
    box.appendChild(el("form", { class: "code-form", onsubmit: function (e) {
      e.preventDefault(); state.discount_code = code.value.trim(); save(); reprice();
    } }, [code, el("button", { class: "btn btn-light", type: "submit", text: "Apply" })]));
    if (current.view === "cart") {
      box.appendChild(el("a", { class: "btn btn-primary wide", href: "#/checkout/" + (firstMissing() || "review"), text: "Checkout" }));
    }
    if (+priced.subtotal < +priced.free_shipping_from && !priced.free_shipping_offer_id) {
      box.appendChild(el("p", { class: "hint", text: "Add " + money(+priced.free_shipping_from - +priced.subtotal) + " more for free standard shipping." }));
    }
  }

  function fillForm(step) {
    var form = $("#form-" + step);
    var data = step === "contact" ? state.contact : step === "shipping" ? state.address : {};
    $$("input,select", form).forEach(function (i) {
      if (i.type === "checkbox") i.checked = !!data[i.name];
      else if (i.type === "radio") i.checked = i.value === state.shipping_method;
      else if (data[i.name] != null) i.value = data[i.name];
    });
    if (step === "review") renderReview();
  }
  function renderReview() {
    var dl = $("#review-facts");
    dl.textContent = "";
    [["Contact", state.contact.name + " · " + state.contact.email],
     ["Ship to", [state.address.address, state.address.city, state.address.zip, state.address.country].join(", ")],
     ["Delivery", state.shipping_method === "express" ? "Express, 1–2 business days" : "Standard, 3–5 business days"],
     ["Payment", "Card ending " + (state.card_last4 || "····")]].forEach(function (r) {
      dl.appendChild(el("div", {}, [el("dt", { text: r[0] }), el("dd", { text: r[1] })]));
    });
  }
  function renderConfirmation() {
    var o = state.last_order || {};
    $("#confirm-id").textContent = o.order_id || "";
    $("#confirm-email").textContent = o.email || "your inbox";
    $("#confirm-total").textContent = o.total ? money(o.total) : "";
  }

  // ---- checkout forms ----
  function values(form) {
    var out = {};
    $$("input,select", form).forEach(function (i) {
      if (i.type === "checkbox") out[i.name] = i.checked;
      else if (i.type === "radio") { if (i.checked) out[i.name] = i.value; }
      else out[i.name] = i.value.trim();
    });
    return out;
  }
  function missing(form) {
    var bad = $$("[required]", form).filter(function (i) { return !i.value.trim() || (i.type === "email" && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(i.value.trim())); });
    $$("[aria-invalid]", form).forEach(function (i) { i.removeAttribute("aria-invalid"); });
    bad.forEach(function (i) { i.setAttribute("aria-invalid", "true"); });
    $(".form-error", form).textContent = bad.length ? "Please fill in the highlighted fields." : "";
    if (bad.length) bad[0].focus();
    return bad.length > 0;
  }
  $("#form-contact").addEventListener("submit", function (e) {
    e.preventDefault();
    if (missing(this)) return;
    var v = values(this);
    state.contact = { email: v.email, name: v.name, phone: v.phone, consent_email: v.consent_email };
    save();
    chat().identify({ email: v.email, name: v.name, phone: v.phone, consent_email: !!v.consent_email });
    location.hash = "#/checkout/shipping";
  });
  $("#form-shipping").addEventListener("submit", function (e) {
    e.preventDefault();
    if (missing(this)) return;
    var v = values(this);
    state.address = { address: v.address, city: v.city, zip: v.zip, country: v.country };
    state.shipping_method = v.method || "standard";
    save();
    location.hash = "#/checkout/payment";
  });
  $$("#form-shipping input[name=method]").forEach(function (r) {
    r.addEventListener("change", function () { state.shipping_method = r.value; save(); reprice(); });
  });
  $("#form-payment").addEventListener("submit", function (e) {
    e.preventDefault();
    if (missing(this)) return;
    // The card stays here: only its last four digits are kept, to show on the review step.
    var digits = this.card_number.value.replace(/\D/g, "");
    state.paid = true;
    state.card_last4 = digits.slice(-4);
    save();
    this.reset();
    location.hash = "#/checkout/review";
  });
  $("#form-review").addEventListener("submit", function (e) {
    e.preventDefault();
    var form = this, button = $("#place-order");
    button.disabled = true;
    var body = cartBody("complete");
    body.email = state.contact.email || "";
    body.name = state.contact.name || "";
    post("/demo/order/", body).then(function (order) {
      state.last_order = { order_id: order.order_id, total: order.total, email: state.contact.email };
      chat().checkoutStep("complete");
      // A new cart for the next visit; contact details stay, as a store's account would keep them.
      state.items = [];
      state.cart_token = newToken();
      state.discount_code = "";
      state.free_shipping_offer_id = null;
      state.paid = false;
      priced = null;
      save();
      renderCount();  // the header's count empties with the cart, not on the next page
      location.hash = "#/order/" + encodeURIComponent(order.order_id);
    }).catch(function (err) {
      $(".form-error", form).textContent = err.message;
    }).then(function () { button.disabled = false; });
  });

  // ---- the widget's side ----
  chat().on("offer:accepted", function (offer) {
    if (offer.kind === "free_shipping") state.free_shipping_offer_id = offer.id;
    if (offer.discount_code) state.discount_code = offer.discount_code;
    save();
    if (offer.sku && bySku[offer.sku]) {
      add(offer.sku, offer.id);
      toast(bySku[offer.sku].name + " added to your cart" + (offer.price ? " at " + money(offer.price) : ""));
    } else {
      reprice();
      toast(offer.discount_code ? "Code " + offer.discount_code + " applied" : "Offer applied");
    }
  });

  var toastTimer = 0;
  function toast(text) {
    var t = $("#toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { t.hidden = true; }, 4000);
  }

  // ---- wiring ----
  $$("#products .add").forEach(function (b) {
    b.addEventListener("click", function () {
      add(b.getAttribute("data-sku"));
      toast(bySku[b.getAttribute("data-sku")].name + " added to your cart");
    });
  });
  $$("[data-money]").forEach(function (e) { e.textContent = money(e.getAttribute("data-money")); });
  window.addEventListener("hashchange", show);
  // Another tab changed the cart: follow it.
  window.addEventListener("storage", function (e) {
    if (e.key !== KEY) return;
    state = load();
    priced = null;
    show();
  });

  // A follow-up's recovery link lands on /demo/?recover=TOKEN: put that cart back, under its own
  // cart token so that the order closes the abandoned cart (docs/offers-and-followups.md).
  function recover(token) {
    history.replaceState(null, "", location.pathname + "#/cart");
    return fetch("/r/" + encodeURIComponent(token) + "/cart.json", { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("This link is not valid any more.");
        return r.json();
      })
      .then(function (data) {
        if (data.ordered) { toast("That cart has already been ordered."); return; }
        var items = data.cart.items.filter(function (i) { return bySku[i.sku]; })
          .map(function (i) { return { sku: i.sku, quantity: i.quantity }; });
        if (!items.length) return;
        if (/^[A-Za-z0-9_-]{8,100}$/.test(data.cart.cart_token)) state.cart_token = data.cart.cart_token;
        state.items = items;
        priced = null;
        save();
        toast("Welcome back! Your cart is as you left it.");
      })
      .catch(function (e) { toast(e.message); });
  }
  var recoverToken = new URLSearchParams(location.search).get("recover");
  if (recoverToken) recover(recoverToken).then(show);
  else show();
})();
