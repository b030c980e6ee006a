/* The console's sections, in the order of the top bar (keys 1-9 follow this order).

To add a section (say, abandoned carts or a call list), write a module beside these that
exports {id, label, icon, mount(el, ctx) -> {show?, hide?, badge?}} and list it here. `ctx`
gives the socket (`ctx.socket.on(type, fn)`, `ctx.socket.send(frame)`), the store, the
actions, shortcuts, toasts and notifications; see app.js.
*/
import inbox from "./inbox.js";
import visitors from "./visitors.js";
import abandoned from "./abandoned.js";
import followups from "./followups.js";

export default [inbox, visitors, abandoned, followups];
