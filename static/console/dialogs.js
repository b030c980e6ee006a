/* Modal dialogs and toasts, shared by every view. */

import { h } from "./util/dom.js";
import { svgIcon } from "./util/icons.js";

/**
 * openModal({title, body, footer, className, onClose, initialFocus}) -> {el, close()}
 * Escape and a click on the backdrop close it; focus returns where it was.
 */
export function openModal({ title, subtitle, body, footer, className = "", onClose, initialFocus }) {
  const previous = document.activeElement;
  const closeButton = h("button", { class: "icon-button modal-close", type: "button", title: "Close (Esc)", "aria-label": "Close" },
    svgIcon("x"));
  const dialog = h("div", { class: `modal ${className}`, role: "dialog", "aria-modal": "true", "aria-label": title },
    h("header", { class: "modal-header" },
      h("div", {}, h("h2", {}, title), subtitle ? h("p", { class: "modal-subtitle" }, subtitle) : null),
      closeButton),
    h("div", { class: "modal-body" }, body),
    footer ? h("footer", { class: "modal-footer" }, footer) : null,
  );
  const backdrop = h("div", { class: "modal-backdrop" }, dialog);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    document.removeEventListener("keydown", onKey, true);
    backdrop.remove();
    if (onClose) onClose();
    if (previous && previous.focus) previous.focus();
  };
  const onKey = (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
    } else if (event.key === "Tab") {
      // Keep Tab inside the dialog.
      const focusable = dialog.querySelectorAll("button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])");
      const list = Array.from(focusable).filter((el) => !el.disabled && el.offsetParent !== null);
      if (!list.length) return;
      const first = list[0];
      const last = list[list.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  };
  closeButton.addEventListener("click", close);
  backdrop.addEventListener("mousedown", (event) => {
    if (event.target === backdrop) close();
  });
  document.addEventListener("keydown", onKey, true);
  document.body.appendChild(backdrop);
  // "dialog": focus the dialog itself (nothing to type in, and no focus ring on a button).
  if (initialFocus === "dialog") dialog.setAttribute("tabindex", "-1");
  const focusTarget = initialFocus === "dialog" ? dialog
    : initialFocus || dialog.querySelector("input, textarea, select, button:not(.modal-close)") || closeButton;
  setTimeout(() => focusTarget.focus(), 0);
  return { el: dialog, close };
}

let toastRoot = null;

/** A short message in the corner; tone is info, success, warning or error. */
export function toast(text, tone = "info", ms = 4000) {
  if (!toastRoot) {
    toastRoot = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.appendChild(toastRoot);
  }
  const iconName = { success: "check", warning: "alert", error: "alert" }[tone] || "info";
  const el = h("div", { class: `toast toast-${tone}` }, svgIcon(iconName), h("span", {}, text));
  toastRoot.appendChild(el);
  setTimeout(() => {
    el.classList.add("leaving");
    setTimeout(() => el.remove(), 250);
  }, ms);
  return el;
}
