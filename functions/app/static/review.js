// The review page: a requester picks a campaign and approves, rejects or soft-rejects its results in review.

import { Session } from "./api.js";
import { h, uid, show, announce, busy, errorText, timeElement } from "./ui.js";
import { signInView } from "./account.js";
import { kindOf } from "./components.js";

const session = new Session("requester");

async function start() {
  const signedIn = Boolean(session.token);
  document.getElementById("nav").hidden = !signedIn;
  if (!signedIn) {
    show(signInView(session, { title: "Sign in to review results", signUp: false, onDone: start }));
    return;
  }
  try {
    await campaignsView();
  } catch (error) {
    if (error.status === 401) return start();
    show(h("section", { className: "screen" }, h("h1", {}, "Something went wrong"), h("p", {}, errorText(error))));
  }
}

async function campaignsView() {
  const page = await session.call("GET", "/campaigns", undefined, { limit: 100 });
  const id = uid("campaign");
  const select = h(
    "select",
    { id },
    h("option", { value: "" }, "Choose a campaign"),
    page.campaigns.map((c) => h("option", { value: c.id }, `${c.title || c.name} (${c.state})`)),
  );
  const results = h("div", { className: "results" });
  select.addEventListener("change", () => select.value && loadResults(select.value, results));
  show(
    h(
      "section",
      { className: "screen" },
      h("h1", {}, "Results in review"),
      h("p", { className: "form-row" }, h("label", { for: id }, "Campaign"), select),
      results,
    ),
  );
}

async function loadResults(campaignId, container) {
  container.replaceChildren(h("p", {}, "Loading…"));
  try {
    const page = await session.call("GET", `/campaigns/${encodeURIComponent(campaignId)}/results`, undefined, { state: "InReview", limit: 50 });
    container.replaceChildren(
      h("h2", { tabindex: "-1" }, page.results.length === 1 ? "1 result in review" : `${page.results.length} results in review`),
      page.results.length ? h("ul", { className: "cards" }, page.results.map((r) => resultCard(r, () => loadResults(campaignId, container)))) : h("p", {}, "Nothing to review."),
    );
    container.querySelector("h2").focus();
  } catch (error) {
    container.replaceChildren(h("p", { role: "alert" }, errorText(error)));
  }
}

function resultCard(result, reload) {
  const tasks = result.taskResults.map((taskResult) =>
    h(
      "section",
      { className: "task" },
      h("h4", {}, taskResult.task.name || taskResult.task.id),
      h("ol", { className: "answers" }, taskResult.components.map(answer).filter(Boolean)),
    ),
  );
  const card = h(
    "li",
    { className: "card result", "data-result": result.id },
    h("h3", {}, `Result ${result.id}`),
    h("p", {}, `By worker ${result.worker}, submitted `, timeElement(result.completedAt), result.reviewBy ? [", approved automatically if not reviewed by ", timeElement(result.reviewBy)] : null),
    tasks,
    decision(result, reload),
  );
  return card;
}

const PLAYERS = { AudioRecording: "audio", VideoRecording: "video", ImageMarker: "img" };

function answer(entry) {
  const component = entry.data || {};
  const kind = kindOf(component);
  if (entry.result === null || entry.result === undefined) return null;
  const result = entry.result;
  const download = entry.downloadUrl;
  const parts = [h("strong", {}, `${kind}: `)];
  if ("url" in result) {
    // the type the submission checked; results stored before it was kept go by the file's extension
    const player = PLAYERS[kind] || playerFor(result.url, entry.upload?.contentType);
    if (download && player === "img") {
      parts.push(
        h(
          "span",
          { className: "drawing" },
          component.url ? h("img", { src: component.url, alt: "" }) : null,
          h("img", { src: download, alt: kind === "ImageMarker" ? "The worker's marks" : "The worker's photo" }),
        ),
      );
    } else if (download && player) {
      parts.push(h(player, { src: download, controls: true, preload: "metadata", "aria-label": `${kind} recording` }));
    }
    parts.push(h("a", { href: download || result.url, rel: "noreferrer" }, "Download"));
  } else if ("selectedOption" in result) parts.push(result.selectedOption);
  else if ("rating" in result) parts.push(`${result.rating} stars`);
  else if ("result" in result) parts.push(String(result.result));
  else if ("checked" in result) parts.push(result.checked ? "on" : "off");
  else if ("values" in result) parts.push(result.values.join(", "));
  else if ("text" in result) parts.push(h("q", {}, result.text));
  else parts.push(JSON.stringify(result));
  return h("li", {}, parts);
}

function playerFor(url, contentType) {
  const type = contentType || "";
  const path = (url || "").split("?")[0].toLowerCase();
  if (type.startsWith("image/") || /\.(png|jpe?g|gif|webp|heic)$/.test(path)) return "img";
  if (type.startsWith("video/") || /\.(mp4|mov)$/.test(path)) return "video";
  if (type.startsWith("audio/") || /\.(webm|m4a|aac|ogg|mp3|wav)$/.test(path)) return "audio";
  return null;
}

function decision(result, reload) {
  const reasonId = uid("reason");
  const untilId = uid("until");
  const messageId = uid("message");
  const reason = h("textarea", { id: reasonId, rows: 2, maxlength: 10000 });
  const until = h("input", { id: untilId, type: "datetime-local" });
  const problem = h("p", { className: "form-error", id: messageId, "aria-live": "assertive" });
  reason.setAttribute("aria-describedby", messageId);
  until.setAttribute("aria-describedby", messageId);
  const act = (action, button) =>
    busy(button, async () => {
      problem.textContent = "";
      const body = {};
      if (action !== "approve" && !reason.value.trim()) {
        problem.textContent = "Give a reason for the worker.";
        reason.focus();
        return;
      }
      if (action === "approve" && reason.value.trim()) body.message = reason.value.trim();
      if (action !== "approve") body.reason = reason.value.trim();
      if (action === "soft-reject") {
        const when = until.value ? new Date(until.value) : null;
        if (!when || Number.isNaN(when.getTime()) || when <= new Date()) {
          problem.textContent = "Choose a time in the future until which the worker may redo the job.";
          until.focus();
          return;
        }
        body.until = when.toISOString();
      }
      try {
        const reviewed = await session.call("POST", `/results/${encodeURIComponent(result.id)}/${action}`, body);
        announce(`Result ${result.id} is now ${reviewed.state}.`);
        reload();
      } catch (error) {
        problem.textContent = errorText(error);
      }
    });
  const approve = h("button", { type: "button", className: "primary" }, "Approve");
  const reject = h("button", { type: "button", className: "danger" }, "Reject");
  const softReject = h("button", { type: "button", className: "secondary" }, "Ask for a redo (soft-reject)");
  approve.addEventListener("click", () => act("approve", approve));
  reject.addEventListener("click", () => act("reject", reject));
  softReject.addEventListener("click", () => act("soft-reject", softReject));
  return h(
    "fieldset",
    { className: "decision" },
    h("legend", {}, `Decision on result ${result.id}`),
    h("p", { className: "form-row" }, h("label", { for: reasonId }, "Message or reason (Markdown; required to reject)"), reason),
    h("p", { className: "form-row" }, h("label", { for: untilId }, "Redo allowed until (soft-reject)"), until),
    problem,
    h("div", { className: "buttons" }, approve, softReject, reject),
  );
}

document.getElementById("sign-out").addEventListener("click", async () => {
  await session.signOut();
  announce("Signed out.");
  start();
});
start();
