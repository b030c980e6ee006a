/* JSON over the agent's session for the console's few HTTP endpoints; unsafe methods carry Django's CSRF token. */

/** The token the page was rendered with (<meta name="csrf-token">): Django checks it on POST as X-CSRFToken. */
export function csrfToken() {
  const meta = document.querySelector("meta[name=csrf-token]");
  if (meta && meta.content) return meta.content;
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

/** An HTTP error with the server's own words (`detail`, `field`) when it sent JSON. */
export class HttpError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `The server answered ${status}.`);
    this.status = status;
    this.body = body || {};
  }
}

export async function requestJSON(method, url, body) {
  const headers = { Accept: "application/json" };
  const init = { method, credentials: "same-origin", headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD") headers["X-CSRFToken"] = csrfToken();
  const response = await fetch(url, init);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null; // an HTML error page (a 502 from a proxy, Django's CSRF page)
  }
  if (!response.ok) throw new HttpError(response.status, data);
  return data;
}
