/* Small DOM helpers: build elements from data (text is always set as text, never parsed as HTML). */

/**
 * h("div", {class: "x", dataset: {id: 1}, onclick: fn, title: "t"}, child, "text", [more])
 * Children may be nodes, strings, numbers, arrays, or null/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (key === "value") el.value = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replace an element's children with `children`. */
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

/** Only http(s) and same-site paths may become an image or link address. */
export function safeUrl(url) {
  if (typeof url !== "string" || !url) return null;
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/**
 * Keep `container`'s children in step with `items` by key: unchanged items keep their node
 * (so selection, focus and scroll survive), changed ones are rebuilt, gone ones removed.
 */
export function reconcile(container, items, { key, version, render }) {
  const existing = new Map();
  for (const node of Array.from(container.children)) {
    if (node.dataset.key !== undefined) existing.set(node.dataset.key, node);
  }
  let cursor = container.firstChild;
  const keep = new Set();
  for (const item of items) {
    const k = String(key(item));
    const v = String(version(item));
    keep.add(k);
    let node = existing.get(k);
    if (!node || node.dataset.version !== v) {
      const fresh = render(item);
      fresh.dataset.key = k;
      fresh.dataset.version = v;
      if (node) {
        if (node === cursor) cursor = fresh;
        node.replaceWith(fresh);
      }
      node = fresh;
    }
    if (node !== cursor) container.insertBefore(node, cursor);
    cursor = node.nextSibling;
  }
  for (const [k, node] of existing) if (!keep.has(k)) node.remove();
  // Nodes without a key (e.g. a stray placeholder) do not belong in a keyed list.
  for (const node of Array.from(container.children)) if (node.dataset.key === undefined) node.remove();
}

export function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/).filter(Boolean);
  return ((parts[0] || "?")[0] + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

/** A stable pleasant colour per name, for avatars. */
export function avatarHue(seed) {
  let hash = 0;
  for (const ch of String(seed || "")) hash = (hash * 31 + ch.charCodeAt(0)) % 360;
  return hash;
}

export function avatar(name, seed, size = "md") {
  const el = h("span", { class: `avatar avatar-${size}`, "aria-hidden": "true" }, initials(name));
  el.style.setProperty("--hue", avatarHue(seed || name));
  return el;
}

/** A product picture that falls back to a neutral box when the address does not load. */
export function thumb(url, size, fallback) {
  const src = safeUrl(url);
  const box = () => {
    const el = h("span", { class: "thumb thumb-empty", style: { width: `${size}px`, height: `${size}px` } });
    if (fallback) el.append(fallback());
    return el;
  };
  if (!src) return box();
  const img = h("img", { class: "thumb", src, alt: "", loading: "lazy", width: String(size), height: String(size) });
  img.addEventListener("error", () => img.replaceWith(box()));
  return img;
}
