/* The top bar: tabs, connection, presence (online/away), load against capacity, notifications, help, sign out. */

import { avatar, fill, h } from "./util/dom.js";
import { svgIcon } from "./util/icons.js";

const CONNECTION_TEXT = {
  connecting: "Connecting…",
  open: "Live",
  reconnecting: "Reconnecting…",
  refused: "Signed out",
};

export function mountHeader(root, ctx, tabs) {
  const { store, actions, notifier, shortcuts } = ctx;
  const nav = h("nav", { class: "tabs", "aria-label": "Console sections" });
  const connection = h("span", { class: "connection", "data-testid": "connection" });
  const presence = h("button", { class: "presence", type: "button", "data-testid": "presence" });
  const load = h("div", { class: "load", "data-testid": "load" });
  const bell = h("button", { class: "icon-button", type: "button", "data-testid": "notifications" });
  const help = h("button", { class: "icon-button", type: "button", title: "Keyboard shortcuts (?)", "aria-label": "Keyboard shortcuts" },
    svgIcon("keyboard", { size: 18 }));
  const me = h("div", { class: "me" });
  const logout = h("button", { class: "icon-button", type: "button", title: "Sign out", "aria-label": "Sign out" },
    svgIcon("logout", { size: 18 }));

  fill(root,
    h("div", { class: "brand" }, h("span", { class: "brand-mark" }, svgIcon("chat", { size: 16 })), h("span", {}, "ChatDesk")),
    nav,
    h("div", { class: "topbar-right" }, connection, load, presence, bell, help, me, logout),
  );

  presence.addEventListener("click", () => togglePresence());
  help.addEventListener("click", () => shortcuts.toggleHelp());
  logout.addEventListener("click", () => document.getElementById("logout-form").submit());
  bell.addEventListener("click", async () => {
    if (notifier.permission === "default") await notifier.requestPermission();
    else notifier.toggleMute();
    renderBell();
  });
  notifier.onChange(renderBell);

  function togglePresence() {
    if (!store.me) return;
    actions.presence(store.me.presence === "online" ? "away" : "online");
  }

  shortcuts.register({ keys: ["p"], group: "General", description: "Switch between online and away", run: togglePresence });

  function renderTabs() {
    fill(nav, tabs.map((tab, i) => {
      const badge = tab.badge ? tab.badge() : 0;
      return h("button", {
        class: ["tab", ctx.activeTab === tab.id && "active"], type: "button", role: "tab",
        "aria-selected": String(ctx.activeTab === tab.id), dataset: { tab: tab.id },
        title: `${tab.label} (${i + 1})`, onclick: () => ctx.showTab(tab.id),
      }, svgIcon(tab.icon || "inbox"), h("span", {}, tab.label), badge ? h("span", { class: "tab-badge" }, badge) : null);
    }));
  }

  function renderConnection() {
    const status = store.connection;
    connection.className = `connection connection-${status}`;
    fill(connection, status === "open" ? h("span", { class: "dot" }) : svgIcon("wifiOff", { size: 14 }),
      CONNECTION_TEXT[status] || status);
    connection.title = status === "open" ? "Connected: updates arrive live" : "Updates paused; nothing is lost, the console catches up on reconnect";
  }

  function renderMe() {
    if (!store.me) return;
    const online = store.me.presence === "online";
    presence.className = `presence presence-${store.me.presence}`;
    presence.title = online ? "You receive new conversations. Click to go away (P)" : "You are away. Click to go online (P)";
    fill(presence, h("span", { class: "dot" }), online ? "Online" : store.me.presence === "away" ? "Away" : "Offline");
    const used = store.myLoad();
    const capacity = store.me.capacity || 1;
    const pct = Math.min(100, Math.round((used / capacity) * 100));
    load.title = `${used} of ${capacity} conversations`;
    load.className = ["load", used >= capacity ? "load-full" : used >= capacity - 1 ? "load-high" : ""].join(" ");
    fill(load,
      h("span", { class: "load-label" }, "Load"),
      h("span", { class: "load-bar" }, h("span", { class: "load-fill", style: { width: `${pct}%` } })),
      h("span", { class: "load-value" }, `${used}/${capacity}`),
    );
    fill(me, avatar(store.me.name, store.me.username, "sm"), h("span", { class: "me-name" }, store.me.name));
  }

  function renderBell() {
    const perm = notifier.permission;
    let title;
    let iconName = "bell";
    if (perm === "default") title = "Turn on desktop notifications";
    else if (notifier.muted) {
      title = "Sound is off. Click to turn it on";
      iconName = "bellOff";
    } else title = perm === "granted" ? "Sound and desktop notifications on. Click to mute" : "Sound on (desktop notifications blocked). Click to mute";
    bell.title = title;
    bell.setAttribute("aria-label", title);
    bell.classList.toggle("attention", perm === "default");
    fill(bell, svgIcon(iconName, { size: 18 }));
  }

  store.subscribe(["connection"], renderConnection);
  store.subscribe(["me", "conversations"], renderMe);
  store.subscribe(["queue", "conversations", "visitors", "tabs", "me"], renderTabs);
  renderConnection();
  renderBell();
  renderTabs();
  return { renderTabs };
}
