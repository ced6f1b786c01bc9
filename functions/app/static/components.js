// The task view: every component of the catalogue (13 Swarms components and the task-JSON media,
// tags_collection and text_area), its result in the shape the API validates and checks before submit.

import { h, sanitisedHtml, uid } from "./ui.js";
import { Recorder, ImageMarker, photoPicker } from "./media.js";

const NAMES = {
  AudioRecording: "Audio recording",
  BinaryChoice: "Choose one",
  BinaryImageChoice: "Choose one image",
  ImageMarker: "Mark the image",
  Rating: "Your rating",
  Stepper: "Choose a number",
  TextInput: "Your answer",
  Toggle: "Toggle",
  VideoRecording: "Video recording",
  media: "Photo or recording",
  tags_collection: "Tags",
  text_area: "Your text",
};

export function kindOf(component) {
  return component.component_type || component.type;
}

function required(component) {
  if (component.component_type) return component.required !== "no" && component.required !== false;
  return !component.optionalResult;
}

function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/** Decimal-safe "is value origin + k * step" for steps such as 0.1. */
function onStep(value, origin, step) {
  const scale = 10 ** Math.min(9, Math.max(decimals(value), decimals(origin), decimals(step)));
  const offset = Math.round((value - origin) * scale);
  return offset % Math.round(step * scale) === 0;
}

function decimals(n) {
  const text = String(n);
  return text.includes(".") ? text.split(".")[1].length : 0;
}

/**
 * One component on screen. `field` wraps interactive ones in a fieldset with a legend, an error line
 * (aria-live) and the description every control points at.
 */
class Field {
  constructor(component, context) {
    this.component = component;
    this.context = context;
    this.kind = kindOf(component);
    this.required = required(component);
    this.errorId = uid("error");
    this.error = h("p", { className: "field-error", id: this.errorId, "aria-live": "polite", hidden: true });
  }

  frame(legendText, ...body) {
    const legend = h(
      "legend",
      {},
      legendText,
      h("span", { className: "need" }, this.required ? " (required)" : " (optional)"),
    );
    this.element = h(
      "fieldset",
      { className: `component component-${this.kind}`, "data-kind": this.kind, id: this.context.id },
      legend,
      ...body,
      this.error,
    );
    for (const control of this.element.querySelectorAll("input, textarea, select, button, [tabindex]")) {
      const described = control.getAttribute("aria-describedby");
      control.setAttribute("aria-describedby", described ? `${described} ${this.errorId}` : this.errorId);
    }
    return this.element;
  }

  showError(message) {
    this.error.textContent = message || "";
    this.error.hidden = !message;
    this.element.classList.toggle("invalid", Boolean(message));
    for (const control of this.element.querySelectorAll("input, textarea")) {
      if (message) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
    }
  }

  focus() {
    const target = this.element.querySelector("input, textarea, button, [tabindex='0']") || this.element;
    target.focus();
  }

  /** A message when the result is not acceptable yet, else null. */
  check() {
    return null;
  }

  /** The result to submit (null when left out); may upload first. */
  async result() {
    return null;
  }
}

class Display extends Field {
  constructor(component, context, element, mustFinish) {
    super(component, context);
    this.required = false;
    this.mustFinish = mustFinish;
    this.finished = false;
    this.element = h("div", { className: `component component-${this.kind}`, "data-kind": this.kind, id: context.id }, element, this.error);
    if (mustFinish) {
      element.addEventListener("ended", () => {
        this.finished = true;
        this.showError("");
      });
    }
  }

  check() {
    if (this.mustFinish && !this.finished) {
      return this.kind === "Audio" ? "Listen to the whole clip first." : "Watch the whole video first.";
    }
    return null;
  }

  focus() {
    (this.element.querySelector("audio, video") || this.element).focus();
  }
}

function display(component, context) {
  const c = component;
  switch (c.type) {
    case "Text": {
      const text = c.text || "";
      const style = c.style || "PlainText";
      const element =
        style === "Html"
          ? sanitisedHtml("div", text, { className: "text-html" })
          : style === "H1"
            ? h("h3", { className: "text-h1" }, text)
            : style === "H2"
              ? h("h4", { className: "text-h2" }, text)
              : style === "Quote"
                ? h("blockquote", {}, h("p", {}, text))
                : h("p", { className: `text-${style.toLowerCase()}` }, text);
      return new Display(c, context, element, false);
    }
    case "Image":
      return new Display(c, context, h("img", { src: c.url, alt: (c.properties && c.properties.alt) || "Image of the task", loading: "lazy" }), false);
    case "Audio":
    case "Video": {
      const video = c.type === "Video";
      const player = h(video ? "video" : "audio", {
        src: c.url,
        controls: true,
        preload: "metadata",
        playsinline: video,
        "aria-label": video ? "Video of the task" : "Audio clip of the task",
      });
      player.loop = Boolean(c.repeat);
      player.autoplay = Boolean(c.autoplay);
      if (video && c.playAudio === false) player.muted = true;
      const must = video ? c.mustWatch : c.mustListen;
      const field = new Display(c, context, player, Boolean(must) && !c.repeat);
      if (must) field.element.append(h("p", { className: "hint" }, video ? "Watch the whole video." : "Listen to the whole clip."));
      return field;
    }
    default:
      return null;
  }
}

class Choice extends Field {
  constructor(component, context, options) {
    super(component, context);
    const name = uid("choice");
    this.inputs = options.map((option) =>
      h("input", { type: "radio", name, value: option.value, id: uid("option") }),
    );
    const items = options.map((option, i) =>
      h("label", { className: "choice", for: this.inputs[i].id }, this.inputs[i], option.content),
    );
    this.values = options.map((option) => option.value);
    this.frame(context.legend || NAMES[this.kind], h("div", { className: "choices" }, items));
  }

  selected() {
    return this.inputs.find((input) => input.checked);
  }

  check() {
    return this.required && !this.selected() ? "Choose one of the options." : null;
  }

  async result() {
    const chosen = this.selected();
    return chosen ? { selectedOption: chosen.value } : null;
  }
}

class BinaryChoice extends Choice {
  constructor(c, context) {
    super(c, context, [
      { value: c.option1 ?? "option1", content: h("span", {}, c.option1 ?? "Option 1") },
      { value: c.option2 ?? "option2", content: h("span", {}, c.option2 ?? "Option 2") },
    ]);
  }
}

class BinaryImageChoice extends Choice {
  constructor(c, context) {
    const option = (o, n) => ({
      value: (o && o.id) ?? `option${n}`,
      content: h(
        "span",
        { className: "image-option" },
        o && o.url ? h("img", { src: o.url, alt: (o && o.label) || `Image ${n}` }) : null,
        h("span", {}, (o && o.label) || `Image ${n}`),
      ),
    });
    super(c, context, [option(c.option1, 1), option(c.option2, 2)]);
  }
}

class Rating extends Choice {
  constructor(c, context) {
    const steps = isNumber(c.steps) && c.steps >= 1 ? c.steps : 5;
    const increment = c.halfSteps ? 0.5 : 1;
    const options = [];
    for (let value = c.halfSteps ? 0.5 : 1; value <= steps; value += increment) {
      if (value < 1) continue; // at least one star
      options.push({
        value: String(value),
        content: h("span", { className: "star" }, h("span", { "aria-hidden": "true" }, "★"), ` ${value} ${value === 1 ? "star" : "stars"}`),
      });
    }
    super(c, context, options);
    this.element.classList.add("rating");
  }

  check() {
    return this.required && !this.selected() ? "Choose a number of stars." : null;
  }

  async result() {
    const chosen = this.selected();
    return chosen ? { rating: Number(chosen.value) } : null;
  }
}

class Stepper extends Field {
  constructor(c, context) {
    super(c, context);
    const start = c.start ?? c.min ?? 0;
    const id = uid("stepper");
    this.input = h("input", {
      type: "number",
      id,
      inputmode: "decimal",
      value: String(start),
      min: isNumber(c.min) ? c.min : undefined,
      max: isNumber(c.max) ? c.max : undefined,
      step: isNumber(c.step) ? c.step : "any",
    });
    const step = isNumber(c.step) ? c.step : 1;
    const move = (direction) => {
      let value = Number(this.input.value || start) + direction * step;
      if (isNumber(c.min)) value = Math.max(c.min, value);
      if (isNumber(c.max)) value = Math.min(c.max, value);
      this.input.value = String(Number(value.toFixed(9)));
      this.input.dispatchEvent(new Event("change"));
    };
    const label = h("label", { for: id }, "Value");
    this.frame(
      context.legend || NAMES.Stepper,
      label,
      h(
        "div",
        { className: "stepper" },
        h("button", { type: "button", className: "step", "aria-label": "Decrease", onclick: () => move(-1) }, "−"),
        this.input,
        h("button", { type: "button", className: "step", "aria-label": "Increase", onclick: () => move(1) }, "+"),
      ),
      h("p", { className: "hint" }, this.rangeText()),
    );
  }

  rangeText() {
    const c = this.component;
    const parts = [];
    if (isNumber(c.min)) parts.push(`at least ${c.min}`);
    if (isNumber(c.max)) parts.push(`at most ${c.max}`);
    if (isNumber(c.step)) parts.push(`in steps of ${c.step}`);
    return parts.length ? `A number ${parts.join(", ")}.` : "A number.";
  }

  check() {
    const c = this.component;
    const text = this.input.value.trim();
    if (text === "") return this.required ? "Enter a number." : null;
    const value = Number(text);
    if (!Number.isFinite(value)) return "Enter a number.";
    if (isNumber(c.min) && value < c.min) return `The number must be at least ${c.min}.`;
    if (isNumber(c.max) && value > c.max) return `The number must be at most ${c.max}.`;
    const origin = [c.min, c.start].find(isNumber) ?? 0;
    if (isNumber(c.step) && !onStep(value, origin, c.step)) return `The number must be ${origin} plus a multiple of ${c.step}.`;
    return null;
  }

  async result() {
    const text = this.input.value.trim();
    return text === "" ? null : { result: Number(text) };
  }
}

class TextLike extends Field {
  constructor(c, context, { multiline, hint, limit, instructions, label }) {
    super(c, context);
    const id = uid("text");
    this.limit = limit;
    this.input = multiline
      ? h("textarea", { id, rows: 4, maxlength: limit || undefined, placeholder: hint || undefined })
      : h("input", { type: "text", id, placeholder: hint || undefined, autocomplete: "off" });
    const body = [h("label", { for: id }, label)];
    if (instructions) body.push(h("p", { className: "hint", id: `${id}-help` }, instructions));
    if (instructions) this.input.setAttribute("aria-describedby", `${id}-help`);
    body.push(this.input);
    if (limit) {
      this.counter = h("p", { className: "hint counter", id: `${id}-count` }, `0 of ${limit} characters`);
      this.input.addEventListener("input", () => {
        this.counter.textContent = `${this.input.value.length} of ${limit} characters`;
      });
      body.push(this.counter);
    }
    this.frame(context.legend || NAMES[this.kind], ...body);
  }

  check() {
    const text = this.input.value;
    if (this.required && text.trim() === "") return "Enter some text.";
    if (this.limit && text.length > this.limit) return `At most ${this.limit} characters (now ${text.length}).`;
    return null;
  }

  async result() {
    const text = this.input.value;
    return text.trim() === "" && !this.required ? null : { text };
  }
}

class Toggle extends Field {
  constructor(c, context) {
    super(c, context);
    const id = uid("toggle");
    this.input = h("input", { type: "checkbox", role: "switch", id, checked: Boolean(c.checkedByDefault) });
    const body = [h("label", { className: "switch", for: id }, this.input, h("span", {}, c.label || "On"))];
    if (c.explanation) {
      body.push(h("p", { className: "hint", id: `${id}-help` }, c.explanation));
      this.input.setAttribute("aria-describedby", `${id}-help`);
    }
    this.frame(context.legend || c.label || NAMES.Toggle, ...body);
  }

  async result() {
    return { checked: this.input.checked };
  }
}

class Tags extends Field {
  constructor(c, context) {
    super(c, context);
    const extra = c.extra || {};
    this.options = (extra.values || []).map((tag) => {
      const input = h("input", { type: "checkbox", id: uid("tag") });
      return { tag, input };
    });
    const body = [];
    if (extra.instructions) body.push(h("p", { className: "hint" }, extra.instructions));
    body.push(
      h(
        "div",
        { className: "tags" },
        this.options.map(({ tag, input }) => h("label", { className: "tag", for: input.id }, input, h("span", {}, tag.text))),
      ),
    );
    this.frame(c.label || c.name || NAMES.tags_collection, ...body);
  }

  values() {
    return this.options.filter(({ input }) => input.checked).map(({ tag }) => tag.value);
  }

  check() {
    return this.required && this.values().length === 0 ? "Select at least one tag." : null;
  }

  async result() {
    const values = this.values();
    return values.length === 0 && !this.required ? null : { values };
  }
}

/** AudioRecording and VideoRecording: MediaRecorder, then a presigned upload. */
class Recording extends Field {
  constructor(c, context) {
    super(c, context);
    const video = c.type === "VideoRecording";
    this.recorder = new Recorder({
      video,
      minSeconds: c.minDurationInSeconds,
      maxSeconds: c.maxDurationInSeconds,
      upload: (blob, type, filename) => context.upload(blob, type, filename),
      onChange: () => this.showError(""),
    });
    const limits = [];
    if (isNumber(c.minDurationInSeconds)) limits.push(`at least ${c.minDurationInSeconds} s`);
    if (isNumber(c.maxDurationInSeconds)) limits.push(`at most ${c.maxDurationInSeconds} s`);
    const body = [this.recorder.element];
    if (limits.length) body.unshift(h("p", { className: "hint" }, `Record ${limits.join(" and ")}.`));
    this.frame(context.legend || NAMES[c.type], ...body);
  }

  check() {
    return this.recorder.problem(this.required);
  }

  async result() {
    const url = await this.recorder.uploaded();
    return url ? { url } : null;
  }
}

/** An upload kept until what it sent changes: Submit pressed again (after a refusal) sends it once. */
class KeptUpload {
  constructor() {
    this.sent = null;
  }

  forget() {
    this.sent = null;
  }

  /** The result URL of `send()`, called again only once forgotten or failed. */
  url(send) {
    if (!this.sent) {
      const sending = send();
      this.sent = sending;
      sending.catch(() => {
        if (this.sent === sending) this.sent = null;
      });
    }
    return this.sent;
  }
}

class Marker extends Field {
  constructor(c, context) {
    super(c, context);
    this.kept = new KeptUpload();
    this.marker = new ImageMarker({
      url: c.url,
      onChange: () => {
        this.kept.forget();
        this.showError("");
      },
    });
    this.frame(context.legend || NAMES.ImageMarker, this.marker.element);
  }

  check() {
    return this.required && this.marker.marks.length === 0 ? "Place at least one mark on the image." : null;
  }

  showError(message) {
    if (message) this.kept.forget(); // refused, by the server too: the next Submit uploads it again
    super.showError(message);
  }

  async result() {
    if (this.marker.marks.length === 0) return null;
    const drawn = async () => this.context.upload(await this.marker.drawing(), "image/png", "drawing.png");
    return { url: await this.kept.url(drawn) };
  }
}

/** task-JSON media: a photo from the camera or the files, or an audio recording. */
class Media extends Field {
  constructor(c, context) {
    super(c, context);
    const extra = c.extra || {};
    this.picked = null;
    this.recorder = new Recorder({
      video: false,
      maxSeconds: extra.max_length,
      upload: (blob, type, filename) => context.upload(blob, type, filename),
      onChange: () => {
        this.picked = "recording";
        this.showError("");
      },
    });
    this.kept = new KeptUpload(); // the photo's
    this.photo = photoPicker({
      onChange: () => {
        this.picked = "photo";
        this.kept.forget();
        this.showError("");
      },
    });
    const body = [];
    if (extra.instructions) body.push(h("p", { className: "hint" }, extra.instructions));
    body.push(this.photo.element, h("p", { className: "or" }, "or record audio"), this.recorder.element);
    this.frame(c.label || c.name || NAMES.media, ...body);
  }

  showError(message) {
    if (message) this.kept.forget(); // as for a drawing
    super.showError(message);
  }

  check() {
    if (this.picked === "photo") return null;
    if (this.picked === "recording") return this.recorder.problem(this.required);
    return this.required ? "Take a photo or record audio." : null;
  }

  async result() {
    if (this.picked === "photo") {
      const file = this.photo.file();
      const sent = () => this.context.upload(file, file.type || "image/jpeg", file.name || "photo.jpg");
      return { url: await this.kept.url(sent) };
    }
    if (this.picked === "recording") {
      const url = await this.recorder.uploaded();
      return url ? { url } : null;
    }
    return null;
  }
}

const INTERACTIVE = {
  AudioRecording: Recording,
  VideoRecording: Recording,
  BinaryChoice,
  BinaryImageChoice,
  ImageMarker: Marker,
  Rating,
  Stepper,
  Toggle,
  tags_collection: Tags,
  TextInput: class extends TextLike {
    constructor(c, context) {
      super(c, context, { multiline: false, hint: c.hint, label: c.hint || "Answer" });
    }
  },
  text_area: class extends TextLike {
    constructor(c, context) {
      const extra = c.extra || {};
      super(c, context, {
        multiline: true,
        limit: extra.character_limit,
        instructions: extra.instructions,
        label: c.label || c.name || "Text",
      });
    }
  },
  media: Media,
};

/** The field of one component; context = {id, legend, upload(blob, type, filename) -> resultUrl}. */
export function renderComponent(component, context) {
  const kind = kindOf(component);
  const Interactive = INTERACTIVE[kind];
  if (Interactive) return new Interactive(component, context);
  const shown = display(component, context);
  if (shown) return shown;
  const unknown = new Display(component, context, h("p", {}, `This app cannot show a ${kind} component.`), false);
  return unknown;
}

/** The task and component an API error field such as `taskResults[0].components[2].result.text` names. */
export function errorPlace(field) {
  const found = /^taskResults\[(\d+)\]\.components\[(\d+)\]/.exec(field || "");
  return found ? { task: Number(found[1]), component: Number(found[2]) } : null;
}
