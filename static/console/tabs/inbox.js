/* The inbox: the conversation list, the open conversation and its context, side by side. */

import { h } from "../util/dom.js";
import { mountQueue } from "../queue.js";
import { mountConversation } from "../conversation.js";
import { mountContext } from "../context.js";

export default {
  id: "inbox",
  label: "Inbox",
  icon: "inbox",
  mount(el, ctx) {
    const list = h("aside", { class: "col col-list", "aria-label": "Conversations" });
    const pane = h("section", { class: "col col-pane", "aria-label": "Conversation" });
    const context = h("aside", { class: "col col-context", "aria-label": "Shopper context", "data-testid": "context" });
    el.classList.add("inbox");
    el.append(list, pane, context);
    mountQueue(list, ctx);
    mountConversation(pane, ctx);
    mountContext(context, ctx);
    return {
      badge: () => ctx.store.queue().length,
    };
  },
};
