// The worker app: sign in or up, the market, claims, the task view, submit, assignments and earnings.

import { Session, uploadPresigned } from "./api.js";
import { h, sanitisedHtml, show, announce, busy, errorText, timeElement } from "./ui.js";
import { signInView } from "./account.js";
import { renderComponent, errorPlace } from "./components.js";

const session = new Session("worker");
let position = null; // {lat, lng} once the worker shares it

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  const signedIn = Boolean(session.token);
  document.getElementById("nav").hidden = !signedIn;
  if (!signedIn) {
    show(signInView(session, { title: "Sign in to find work", signUp: true, onDone: () => navigate("#/market") }));
    return;
  }
  const [, screen, id] = (location.hash || "#/market").split("/");
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === `#/${screen}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    if (screen === "assignment" && id) await taskView(decodeURIComponent(id));
    else if (screen === "assignments") await assignmentsView();
    else if (screen === "me") await meView();
    else await marketView();
  } catch (error) {
    if (error.status === 401) {
      announce("Your session ended; sign in again.", true);
      route();
      return;
    }
    show(h("section", { className: "screen" }, h("h1", {}, "Something went wrong"), h("p", {}, errorText(error))));
  }
}

// ------------------------------------------------------------------ market

async function marketView() {
  const page = await session.call("GET", "/market/jobs", undefined, { limit: 50, ...(position || {}) });
  const locate = h("button", { type: "button", onclick: () => shareLocation(locate) }, position ? "Update my location" : "Use my location for nearby jobs");
  const list = page.jobs.length
    ? h("ul", { className: "cards" }, page.jobs.map(jobCard))
    : h("p", {}, position ? "No job for you right now. Try again later." : "No job for you right now. Jobs tied to a place show once you share your location.");
  show(
    h(
      "section",
      { className: "screen" },
      h("h1", {}, "Jobs"),
      h("p", { className: "hint" }, position ? `Showing jobs near ${position.lat.toFixed(3)}, ${position.lng.toFixed(3)} too.` : "Your location is only asked for when you press the button."),
      locate,
      list,
    ),
  );
}

function shareLocation(button) {
  if (!navigator.geolocation) {
    announce("This browser cannot tell your location.", true);
    return;
  }
  busy(button, () =>
    new Promise((resolve) =>
      navigator.geolocation.getCurrentPosition(
        (found) => {
          position = { lat: found.coords.latitude, lng: found.coords.longitude };
          announce("Location shared; showing nearby jobs too.");
          resolve();
          route();
        },
        (error) => {
          announce(`No location: ${error.message}`, true);
          resolve();
        },
        { enableHighAccuracy: false, timeout: 15000, maximumAge: 300000 },
      ),
    ),
  );
}

function jobCard(job) {
  const claim = h("button", { type: "button", className: "primary", "aria-label": `Claim ${job.title || job.name}` }, "Claim");
  claim.addEventListener("click", () =>
    busy(claim, async () => {
      try {
        const assignment = await session.call("POST", `/market/jobs/${encodeURIComponent(job.id)}/claim`, undefined, {
          campaign: job.campaign,
          ...(position || {}),
        });
        announce("Job claimed.");
        navigate(`#/assignment/${encodeURIComponent(assignment.id)}`);
      } catch (error) {
        announce(`Could not claim: ${errorText(error)}`, true);
      }
    }),
  );
  return h(
    "li",
    { className: "card job" },
    h("h2", {}, job.title || job.name),
    job.campaignDescription || job.description ? h("p", {}, job.campaignDescription || job.description) : null,
    h(
      "dl",
      { className: "facts" },
      h("dt", {}, "Pays"),
      h("dd", {}, `${job.workerPayment} USD`),
      h("dt", {}, "Points"),
      h("dd", {}, String(job.points)),
      h("dt", {}, "Tasks"),
      h("dd", {}, String(job.taskCount)),
      h("dt", {}, "Time to work"),
      h("dd", {}, minutes(job.workTime)),
      job.distance != null ? [h("dt", {}, "Distance"), h("dd", {}, `${Math.round(job.distance)} m`)] : null,
    ),
    job.terms ? h("p", { className: "hint" }, `By claiming you agree: ${job.terms}`) : null,
    claim,
  );
}

function minutes(seconds) {
  if (typeof seconds !== "number") return "";
  return seconds >= 3600 ? `${Math.round(seconds / 360) / 10} h` : `${Math.max(1, Math.round(seconds / 60))} min`;
}

// ------------------------------------------------------------------ assignments

async function assignmentsView() {
  const page = await session.call("GET", "/assignments", undefined, { state: "open", limit: 50 });
  const items = page.assignments.map((a) =>
    h(
      "li",
      { className: "card" },
      h("h2", {}, `Assignment ${a.id}`),
      h("p", {}, "Work by ", timeElement(a.deadline), " · results accepted until ", timeElement(a.submitBy)),
      a.reason ? h("p", {}, `Redo asked for: ${a.reason}`) : null,
      h("a", { className: "button primary", href: `#/assignment/${encodeURIComponent(a.id)}` }, "Continue"),
    ),
  );
  show(
    h(
      "section",
      { className: "screen" },
      h("h1", {}, "My open assignments"),
      items.length ? h("ul", { className: "cards" }, items) : h("p", {}, "No open assignment. Claim a job from the Jobs list."),
    ),
  );
}

async function meView() {
  const me = await session.call("GET", "/workers/me");
  const row = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
  show(
    h(
      "section",
      { className: "screen" },
      h("h1", {}, "Points and earnings"),
      h(
        "dl",
        { className: "facts card" },
        row("Points", String(me.points)),
        row("Paid", me.earnings.paid),
        row("Pending review", me.earnings.pending),
        row("Bonuses", me.earnings.bonuses),
        row("Total earned", me.earnings.total),
        row("Reputation", String(me.reputation)),
        row("Approved results", String(me.experience)),
      ),
      h("p", {}, `Signed in as ${me.email}`),
    ),
  );
}

// ------------------------------------------------------------------ the task view

async function taskView(id) {
  const assignment = await session.call("GET", `/assignments/${encodeURIComponent(id)}`);
  if (assignment.state !== "open") {
    show(h("section", { className: "screen" }, h("h1", {}, "This assignment is closed"), h("p", {}, `It is ${assignment.state}.`), h("a", { href: "#/market" }, "Back to jobs")));
    return;
  }
  const startedAt = new Date().toISOString();
  const upload = (task, index) => async (blob, contentType, filename) => {
    const grant = await session.call("POST", `/assignments/${encodeURIComponent(id)}/uploads`, {
      task: task.id,
      component: index,
      contentType,
      size: blob.size,
    });
    return uploadPresigned(grant, blob, filename);
  };
  const tasks = assignment.tasks.map((task, t) => {
    const components = [...(task.components || []), ...(task.components_attributes || [])];
    const fields = components.map((component, c) =>
      renderComponent(component, { id: `task-${t}-component-${c}`, upload: upload(task, c) }),
    );
    const section = h(
      "section",
      { className: "task card", "aria-labelledby": `task-${t}-name` },
      h("h2", { id: `task-${t}-name` }, task.show_name === false ? `Task ${t + 1}` : task.name),
      task.details ? sanitisedHtml("div", task.details, { className: "details" }) : null,
      fields.map((field) => field.element),
    );
    return { task, fields, section };
  });
  const summary = h("div", { className: "summary", hidden: true, tabindex: "-1" });
  const submit = h("button", { type: "submit", className: "primary" }, "Submit");
  const release = h("button", { type: "button", className: "secondary" }, "Release this job");
  const form = h(
    "form",
    { novalidate: true },
    tasks.map((t) => t.section),
    summary,
    h("div", { className: "buttons actions" }, submit, release),
  );
  release.addEventListener("click", () =>
    busy(release, async () => {
      try {
        await session.call("POST", `/assignments/${encodeURIComponent(id)}/release`);
        announce("Job released.");
        navigate("#/market");
      } catch (error) {
        announce(`Could not release: ${errorText(error)}`, true);
      }
    }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, () => send(id, tasks, summary, startedAt));
  });
  show(
    h(
      "section",
      { className: "screen" },
      h("h1", {}, "Your task"),
      h("p", { className: "deadline" }, "Submit by ", timeElement(assignment.deadline), "."),
      form,
    ),
  );
}

function listProblems(summary, problems) {
  summary.replaceChildren(
    h("h2", {}, problems.length === 1 ? "1 answer needs attention" : `${problems.length} answers need attention`),
    h("ul", {}, problems.map(({ field, message }) => h("li", {}, h("a", { href: `#${field.element.id}`, onclick: (e) => { e.preventDefault(); field.focus(); } }, message)))),
  );
  summary.hidden = false;
  summary.focus();
}

async function send(id, tasks, summary, startedAt) {
  summary.hidden = true;
  const problems = [];
  for (const { fields } of tasks) {
    for (const field of fields) {
      const message = field.check();
      field.showError(message);
      if (message) problems.push({ field, message });
    }
  }
  if (problems.length) {
    listProblems(summary, problems);
    return;
  }
  announce("Submitting…");
  let body;
  try {
    body = {
      taskResults: await Promise.all(
        tasks.map(async ({ task, fields }) => ({
          task: task.id,
          startedAt,
          completedAt: new Date().toISOString(),
          components: await Promise.all(fields.map(async (field) => ({ result: await field.result() }))),
        })),
      ),
    };
  } catch (error) {
    announce(`An upload failed: ${errorText(error)}`, true);
    return;
  }
  try {
    const result = await session.call("POST", `/assignments/${encodeURIComponent(id)}/submit`, body);
    show(
      h(
        "section",
        { className: "screen" },
        h("h1", {}, "Submitted, thank you"),
        h("p", {}, `Your result ${result.id} is ${result.state === "InReview" ? "in review" : result.state}.`),
        result.reviewBy ? h("p", {}, "It is reviewed by ", timeElement(result.reviewBy), ".") : null,
        h("a", { className: "button primary", href: "#/market" }, "Find more work"),
      ),
    );
  } catch (error) {
    if (error.status === 422 && error.fieldErrors.length) {
      const shown = [];
      for (const problem of error.fieldErrors) {
        const place = errorPlace(problem.field);
        const field = place && tasks[place.task] && tasks[place.task].fields[place.component];
        if (field) {
          field.showError(problem.message);
          shown.push({ field, message: problem.message });
        }
      }
      if (shown.length) {
        listProblems(summary, shown);
        return;
      }
    }
    announce(`Not submitted: ${errorText(error)}`, true);
  }
}

// ------------------------------------------------------------------ start

document.getElementById("sign-out").addEventListener("click", async () => {
  await session.signOut();
  announce("Signed out.");
  navigate("#/market");
});
window.addEventListener("hashchange", route);
route();
