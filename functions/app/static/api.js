// The crowdtask API from the browser: relative to the app, so the API Gateway stage prefix is kept.

const API_ROOT = new URL("../", document.baseURI);

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.description || body.message)) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.fieldErrors = Array.isArray(this.body.errors) ? this.body.errors : [];
  }
}

/** The token of a signed-in account, kept for this tab only. */
export class Session {
  constructor(role) {
    this.key = `crowdtask.${role}.token`;
  }
  get token() {
    return sessionStorage.getItem(this.key);
  }
  set token(value) {
    if (value) sessionStorage.setItem(this.key, value);
    else sessionStorage.removeItem(this.key);
  }

  async call(method, path, body, query) {
    const url = new URL(path.replace(/^\//, ""), API_ROOT);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const headers = { Accept: "application/json" };
    if (this.token) headers["X-Auth-Token"] = this.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const reply = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await reply.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { description: text };
    }
    if (!reply.ok) {
      if (reply.status === 401 && path !== "/auth/token/request") this.token = null;
      throw new ApiError(reply.status, parsed);
    }
    return parsed;
  }

  async signIn(email, password) {
    const reply = await this.call("POST", "/auth/token/request", { email, password });
    this.token = reply.accessToken;
    return reply;
  }

  async signOut() {
    try {
      if (this.token) await this.call("POST", "/auth/token/discard");
    } finally {
      this.token = null;
    }
  }
}

/** A form POST of a presigned upload: every field, then the file last. */
export async function uploadPresigned(grant, blob, filename) {
  const form = new FormData();
  for (const [name, value] of Object.entries(grant.fields || {})) form.append(name, value);
  form.append("file", blob, filename);
  const reply = await fetch(grant.url, { method: "POST", body: form });
  if (!reply.ok) {
    const text = await reply.text();
    const code = /<Code>([^<]+)<\/Code>/.exec(text);
    throw new Error(`The upload was refused (${reply.status}${code ? ` ${code[1]}` : ""}).`);
  }
  return grant.resultUrl;
}
