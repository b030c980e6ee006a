/* Keyboard shortcuts: modules register keys with a description; `?` shows them all in an overlay. */

import { h, fill } from "./util/dom.js";
import { openModal } from "./dialogs.js";

function isTyping(target) {
  if (!target) return false;
  const tag = target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
}

function keyName(event) {
  const parts = [];
  if (event.ctrlKey || event.metaKey) parts.push("Mod");
  if (event.altKey) parts.push("Alt");
  let key = event.key;
  if (key === " ") key = "Space";
  if (key.length === 1) key = key.toLowerCase();
  // Shift is implied by the character itself for "?", "/" and the like.
  if (event.shiftKey && key.length > 1) parts.push("Shift");
  parts.push(key === "?" ? "?" : key);
  return parts.join("+");
}

export class Shortcuts {
  constructor() {
    this.bindings = [];
    this.overlay = null;
    document.addEventListener("keydown", (event) => this.handle(event));
    this.register({ keys: ["?"], group: "General", description: "Show keyboard shortcuts", run: () => this.toggleHelp() });
  }

  /** {keys: ["j", "ArrowDown"], group, description, run(event), when?() -> bool, inInputs?: bool} */
  register(binding) {
    this.bindings.push(binding);
    return () => {
      this.bindings = this.bindings.filter((b) => b !== binding);
    };
  }

  /** A key some other element handles itself (Enter in the reply box), listed in the overlay only. */
  describe({ keys, group, description }) {
    return this.register({ keys, group, description, run: () => {}, when: () => false });
  }

  handle(event) {
    if (event.defaultPrevented || event.isComposing) return;
    const name = keyName(event);
    const typing = isTyping(event.target);
    // A dialog takes the keyboard: only its own keys (Escape) and the help key reach us.
    const modalOpen = document.querySelector(".modal-backdrop") && !this.overlay;
    for (const b of this.bindings) {
      if (!b.keys.includes(name)) continue;
      if (typing && !b.inInputs) continue;
      if (modalOpen && !b.inModals) continue;
      if (b.when && !b.when()) continue;
      event.preventDefault();
      b.run(event);
      return;
    }
  }

  toggleHelp() {
    if (this.overlay) {
      this.overlay.close();
      return;
    }
    const groups = new Map();
    for (const b of this.bindings) {
      if (!b.description) continue;
      if (!groups.has(b.group)) groups.set(b.group, []);
      groups.get(b.group).push(b);
    }
    const body = h("div", { class: "shortcut-groups" },
      Array.from(groups, ([group, list]) => h("section", { class: "shortcut-group" },
        h("h3", {}, group),
        h("dl", {}, list.map((b) => [
          h("dt", {}, b.keys.slice(0, 2).map((k, i) => [i ? h("span", { class: "or" }, "or") : null, renderKey(k)])),
          h("dd", {}, b.description),
        ])),
      )),
    );
    this.overlay = openModal({
      title: "Keyboard shortcuts",
      body,
      className: "modal-shortcuts",
      initialFocus: "dialog",
      onClose: () => {
        this.overlay = null;
      },
    });
  }
}

export function renderKey(k) {
  const pretty = { ArrowDown: "↓", ArrowUp: "↑", Enter: "Enter", Escape: "Esc", Mod: navigator.platform.includes("Mac") ? "⌘" : "Ctrl" };
  return h("span", { class: "keys" }, k.split("+").map((part) => h("kbd", {}, pretty[part] || part)));
}

export { fill };
