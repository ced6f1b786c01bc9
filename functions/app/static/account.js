// Sign-in and sign-up forms, shared by the worker app and the review page.

import { h, uid, announce, busy, errorText } from "./ui.js";

function field(label, attributes) {
  const id = uid("field");
  const input = h("input", { id, required: true, ...attributes });
  return { input, element: h("p", { className: "form-row" }, h("label", { for: id }, label), input) };
}

/** The sign-in form; with `signUp` a worker may create an account first (POST /workers/signup). */
export function signInView(session, { title, signUp, onDone }) {
  const email = field("E-mail", { type: "email", autocomplete: "username", name: "email" });
  const password = field("Password", { type: "password", autocomplete: "current-password", name: "password", minlength: 8 });
  const message = h("p", { className: "form-error", id: uid("form-error"), "aria-live": "assertive" });
  const submit = h("button", { type: "submit", className: "primary" }, "Sign in");
  let mode = "in";
  const heading = h("h1", {}, title);
  const toggle = signUp
    ? h("button", { type: "button", className: "link", onclick: () => switchMode() }, "New here? Create a worker account")
    : null;
  const form = h("form", { className: "card", novalidate: true }, email.element, password.element, message, submit);

  function switchMode() {
    mode = mode === "in" ? "up" : "in";
    heading.textContent = mode === "in" ? title : "Create a worker account";
    submit.textContent = mode === "in" ? "Sign in" : "Sign up";
    password.input.autocomplete = mode === "in" ? "current-password" : "new-password";
    toggle.textContent = mode === "in" ? "New here? Create a worker account" : "Have an account? Sign in";
    message.textContent = "";
    heading.focus();
  }

  function problem() {
    if (!email.input.value.trim()) return [email.input, "Enter your e-mail."];
    if (!email.input.checkValidity()) return [email.input, "Enter an e-mail such as name@example.com."];
    if (!password.input.value) return [password.input, "Enter your password."];
    if (mode === "up" && password.input.value.length < 8) return [password.input, "Choose a password of at least 8 characters."];
    return null;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const input of [email.input, password.input]) input.removeAttribute("aria-invalid");
    const found = problem();
    if (found) {
      found[0].setAttribute("aria-invalid", "true");
      found[0].setAttribute("aria-describedby", message.id);
      message.textContent = found[1];
      found[0].focus();
      return;
    }
    message.textContent = "";
    await busy(submit, async () => {
      try {
        if (mode === "up") await session.call("POST", "/workers/signup", { email: email.input.value.trim(), password: password.input.value });
        await session.signIn(email.input.value.trim(), password.input.value);
        announce(mode === "up" ? "Account created; you are signed in." : "Signed in.");
        onDone();
      } catch (error) {
        message.textContent = error.status === 401 ? "Wrong e-mail or password." : errorText(error);
      }
    });
  });
  return h("section", { className: "screen" }, heading, form, toggle);
}
