// Small DOM helpers: elements built from data (text is never parsed as HTML), announcements, focus.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === "className") element.className = value;
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Requester HTML the API sanitised when it was saved: the only text ever inserted as HTML. */
export function sanitisedHtml(tag, html, attributes = {}) {
  const element = h(tag, attributes);
  element.innerHTML = html;
  return element;
}

let counter = 0;
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

export function announce(message, urgent = false) {
  const region = document.getElementById(urgent ? "alert" : "status");
  region.textContent = "";
  // a fresh text node so screen readers read a repeated message again
  setTimeout(() => {
    region.textContent = message;
  }, 30);
  // the toast leaves once read; the next message starts it again
  clearTimeout(region.clearing);
  region.clearing = setTimeout(() => {
    region.textContent = "";
  }, 6000);
}

/** Replace the main view and move focus to its heading, as a page load would. */
export function show(view) {
  const main = document.getElementById("main");
  main.replaceChildren(view);
  const heading = main.querySelector("h1, h2");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
  window.scrollTo(0, 0);
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function timeElement(iso) {
  return h("time", { datetime: iso }, when(iso));
}

export function errorText(error) {
  if (error && error.fieldErrors && error.fieldErrors.length) {
    return error.fieldErrors.map((e) => `${e.field}: ${e.message}`).join("; ");
  }
  return (error && error.message) || String(error);
}

/** A form's busy state: its submit button disabled while the request runs. */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
