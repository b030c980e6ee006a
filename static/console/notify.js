/* Telling the agent something arrived: a short chime (WebAudio) and a desktop notification, each by permission. */

const MUTE_KEY = "chatdesk.console.muted";

export class Notifier {
  constructor() {
    this.audio = null;
    this.muted = window.localStorage.getItem(MUTE_KEY) === "1";
    this.listeners = new Set();
    // Browsers only let a page make sound after the user has interacted with it.
    const unlock = () => {
      this.ensureAudio();
      window.removeEventListener("pointerdown", unlock);
      window.removeEventListener("keydown", unlock);
    };
    window.addEventListener("pointerdown", unlock);
    window.addEventListener("keydown", unlock);
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  changed() {
    for (const fn of this.listeners) fn();
  }

  get permission() {
    return "Notification" in window ? Notification.permission : "unsupported";
  }

  async requestPermission() {
    if (!("Notification" in window)) return "unsupported";
    const result = await Notification.requestPermission();
    this.changed();
    return result;
  }

  toggleMute() {
    this.muted = !this.muted;
    window.localStorage.setItem(MUTE_KEY, this.muted ? "1" : "0");
    this.changed();
  }

  ensureAudio() {
    if (this.audio) return this.audio;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    try {
      this.audio = new Ctx();
    } catch {
      this.audio = null;
    }
    return this.audio;
  }

  /** Two soft rising notes, like a doorbell, about 0.35 s long. */
  chime() {
    if (this.muted) return false;
    const ctx = this.ensureAudio();
    if (!ctx) return false;
    if (ctx.state === "suspended") ctx.resume();
    const start = ctx.currentTime + 0.01;
    [[659.25, 0], [987.77, 0.14]].forEach(([freq, offset]) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.18, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.3);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start + offset);
      osc.stop(start + offset + 0.32);
    });
    this.lastChimeAt = Date.now();
    return true;
  }

  /** A desktop notification when allowed and the console is not in front; clicking it focuses the console. */
  desktop(title, body, onClick) {
    if (this.permission !== "granted" || (document.hasFocus() && !document.hidden)) return null;
    try {
      const n = new Notification(title, { body, tag: title, silent: true });
      n.onclick = () => {
        window.focus();
        if (onClick) onClick();
        n.close();
      };
      return n;
    } catch {
      return null; // some platforms only allow notifications from a service worker
    }
  }

  /** Both, for one event worth interrupting the agent for. */
  alert(title, body, onClick) {
    this.chime();
    this.desktop(title, body, onClick);
    this.lastAlert = { title, body, at: Date.now() };
  }
}
