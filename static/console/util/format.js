/* Formatting of money, times and checkout steps for the console (one place, so every view reads alike). */

export const STEPS = ["cart", "contact", "shipping", "payment", "review", "complete"];
const STEP_LABELS = {
  cart: "Cart", contact: "Contact", shipping: "Shipping", payment: "Payment", review: "Review", complete: "Complete",
};

export function stepLabel(step) {
  return STEP_LABELS[step] || (step ? step[0].toUpperCase() + step.slice(1) : "Browsing");
}

/** For tight places (the stepper): "Complete" becomes "Done". */
export function shortStepLabel(step) {
  return step === "complete" ? "Done" : stepLabel(step);
}

export function stepIndex(step) {
  return STEPS.indexOf(step);
}

const moneyFormats = new Map();

/** "19.99" + "USD" -> "$19.99"; money arrives as decimal strings and is only ever displayed. */
export function money(amount, currency = "USD") {
  if (amount === null || amount === undefined || amount === "") return "—";
  let fmt = moneyFormats.get(currency);
  if (!fmt) {
    try {
      fmt = new Intl.NumberFormat(undefined, { style: "currency", currency });
    } catch {
      fmt = { format: (n) => `${n.toFixed(2)} ${currency}` };
    }
    moneyFormats.set(currency, fmt);
  }
  return fmt.format(Number(amount));
}

export function parseTime(iso) {
  return iso ? new Date(iso).getTime() : null;
}

/** Seconds as a compact clock for waits: 0:42, 3:05, 1:02:10. */
export function clockDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** Seconds in words: 40 s, 3 min, 1 h 5 min, 2 days (the same wording as the server's signals). */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours < 24) return rest ? `${hours} h ${rest} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return days === 1 ? "1 day" : `${days} days`;
}

export function ago(iso, now = Date.now()) {
  const t = parseTime(iso);
  if (t === null) return "";
  const seconds = (now - t) / 1000;
  return seconds < 45 ? "just now" : `${duration(seconds)} ago`;
}

export function since(iso, now = Date.now()) {
  const t = parseTime(iso);
  return t === null ? 0 : Math.max(0, (now - t) / 1000);
}

export function clockTime(iso) {
  const t = parseTime(iso);
  if (t === null) return "";
  return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function shortDate(iso) {
  const t = parseTime(iso);
  if (t === null) return "";
  const d = new Date(t);
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return `Today ${clockTime(iso)}`;
  return d.toLocaleDateString([], { month: "short", day: "numeric", year: d.getFullYear() === today.getFullYear() ? undefined : "numeric" });
}

/** "Today", "Yesterday" or a date, for dividers between days. */
export function dayLabel(ms) {
  const d = new Date(ms);
  const today = new Date();
  const yesterday = new Date(today.getTime() - 86400000);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return d.toLocaleDateString([], { weekday: "short", month: "short", day: "numeric" });
}

export function kindLabel(kind) {
  return { upsell: "Upsell", cross_sell: "Cross-sell", bundle: "Bundle", discount: "Discount", free_shipping: "Free shipping" }[kind] || kind;
}

export function pathOf(url) {
  try {
    const u = new URL(url, window.location.href);
    return u.pathname + u.hash;
  } catch {
    return url || "";
  }
}
