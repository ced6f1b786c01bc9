// Recording with MediaRecorder, the image marker and the photo picker; uploads go straight to storage.

import { h, uid } from "./ui.js";

const AUDIO_TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/mp4", "audio/ogg"];
const VIDEO_TYPES = ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"];
const EXTENSIONS = { "audio/webm": "webm", "audio/mp4": "m4a", "audio/ogg": "ogg", "video/webm": "webm", "video/mp4": "mp4" };

function supported(types) {
  if (typeof MediaRecorder === "undefined") return null;
  return types.find((type) => MediaRecorder.isTypeSupported(type)) || "";
}

export class Recorder {
  constructor({ video, minSeconds, maxSeconds, upload, onChange }) {
    this.video = video;
    this.minSeconds = typeof minSeconds === "number" ? minSeconds : null;
    this.maxSeconds = typeof maxSeconds === "number" && maxSeconds > 0 ? maxSeconds : null;
    this.upload = upload;
    this.onChange = onChange;
    this.seconds = 0;
    this.pending = null; // the upload of the last recording
    this.failed = null;
    const what = video ? "video" : "audio";
    this.start = h("button", { type: "button", className: "record", onclick: () => this.begin() }, `Start ${what} recording`);
    this.stopButton = h("button", { type: "button", className: "stop", disabled: true, onclick: () => this.finish() }, "Stop recording");
    this.state = h("p", { className: "recording-state", role: "status", id: uid("rec") }, "Not recorded yet.");
    this.preview = h(video ? "video" : "audio", { controls: true, hidden: true, playsinline: video, "aria-label": `Your ${what} recording` });
    this.live = video ? h("video", { muted: true, playsinline: true, hidden: true, "aria-hidden": "true", className: "live" }) : null;
    this.element = h("div", { className: "recorder" }, h("div", { className: "buttons" }, this.start, this.stopButton), this.state, this.live, this.preview);
  }

  async begin() {
    const type = supported(this.video ? VIDEO_TYPES : AUDIO_TYPES);
    if (type === null || !navigator.mediaDevices) {
      this.say("This browser cannot record here.");
      return;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia(this.video ? { video: true, audio: true } : { audio: true });
    } catch (error) {
      this.say(`No access to the ${this.video ? "camera" : "microphone"}: ${error.message}`);
      return;
    }
    this.chunks = [];
    this.media = new MediaRecorder(this.stream, type ? { mimeType: type } : undefined);
    this.media.addEventListener("dataavailable", (event) => event.data.size && this.chunks.push(event.data));
    this.media.addEventListener("stop", () => this.stopped());
    if (this.live) {
      this.live.srcObject = this.stream;
      this.live.hidden = false;
      this.live.play().catch(() => {});
    }
    this.began = performance.now();
    this.media.start(250);
    this.start.disabled = true;
    this.stopButton.disabled = false;
    this.stopButton.focus();
    this.say("Recording… 0 s");
    this.timer = setInterval(() => {
      const seconds = (performance.now() - this.began) / 1000;
      this.state.textContent = `Recording… ${Math.floor(seconds)} s`;
      if (this.maxSeconds !== null && seconds >= this.maxSeconds) this.finish();
    }, 250);
  }

  finish() {
    if (!this.media || this.media.state === "inactive") return;
    clearInterval(this.timer);
    this.seconds = (performance.now() - this.began) / 1000;
    this.media.stop();
    for (const track of this.stream.getTracks()) track.stop();
  }

  stopped() {
    const type = (this.media.mimeType || (this.video ? "video/webm" : "audio/webm")).split(";")[0];
    const blob = new Blob(this.chunks, { type });
    if (this.live) {
      this.live.srcObject = null;
      this.live.hidden = true;
    }
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
    this.preview.removeAttribute("src");
    this.preview.hidden = true;
    if (blob.size > 0) {
      // an empty recording (stopped at once) has nothing to play
      this.url = URL.createObjectURL(blob);
      this.preview.src = this.url;
      this.preview.hidden = false;
    }
    this.start.disabled = false;
    this.start.textContent = "Record again";
    this.stopButton.disabled = true;
    this.start.focus();
    this.blob = blob;
    this.failed = null;
    const problem = this.durationProblem();
    if (problem) {
      this.pending = null;
      this.say(`Recorded ${this.seconds.toFixed(1)} s. ${problem}`);
    } else {
      this.say(`Recorded ${this.seconds.toFixed(1)} s. Uploading…`);
      const name = `recording.${EXTENSIONS[type] || "bin"}`;
      this.pending = this.upload(blob, type, name).then(
        (url) => {
          this.say(`Recorded ${this.seconds.toFixed(1)} s. Uploaded.`);
          return url;
        },
        (error) => {
          this.failed = error;
          this.say(`Recorded ${this.seconds.toFixed(1)} s. The upload failed: ${error.message}`);
          return null;
        },
      );
    }
    this.onChange();
  }

  durationProblem() {
    if (this.minSeconds !== null && this.seconds < this.minSeconds) return `Record at least ${this.minSeconds} s.`;
    // a recording stopped by the timer runs a little past the limit: only a clearly longer one is refused
    if (this.maxSeconds !== null && this.seconds > this.maxSeconds + 1) return `Record at most ${this.maxSeconds} s.`;
    return null;
  }

  say(text) {
    this.state.textContent = text;
  }

  recording() {
    return this.media && this.media.state === "recording";
  }

  problem(required) {
    if (this.recording()) return "Stop the recording first.";
    if (!this.blob) return required ? "Make a recording." : null;
    if (this.failed) return `The upload failed: ${this.failed.message}`;
    return this.durationProblem();
  }

  async uploaded() {
    return this.pending ? await this.pending : null;
  }
}

/** Marks placed on an image with a click or a tap, or with the arrow keys and Enter. */
export class ImageMarker {
  constructor({ url, onChange }) {
    this.marks = [];
    this.cursor = { x: 0.5, y: 0.5 };
    this.onChange = onChange;
    const helpId = uid("marker-help");
    this.image = url ? h("img", { src: url, alt: "", draggable: "false" }) : null;
    this.canvas = h("canvas", { width: 640, height: 480, "aria-hidden": "true" });
    this.surface = h(
      "div",
      {
        className: "marker-surface",
        tabindex: "0",
        role: "application",
        "aria-roledescription": "image marker",
        "aria-label": "Image to mark",
        "aria-describedby": helpId,
        onclick: (event) => this.clicked(event),
        onkeydown: (event) => this.key(event),
        onfocus: () => this.draw(),
        onblur: () => this.draw(),
      },
      this.image,
      this.canvas,
    );
    this.list = h("ol", { className: "marks", "aria-live": "polite" });
    this.element = h(
      "div",
      { className: "marker" },
      h("p", { className: "hint", id: helpId }, "Tap or click to place a mark. With the keyboard: arrow keys move the cross, Enter places a mark, Backspace removes the last."),
      this.surface,
      h(
        "div",
        { className: "buttons" },
        h("button", { type: "button", onclick: () => this.undo() }, "Remove last mark"),
        h("button", { type: "button", onclick: () => this.clear() }, "Clear marks"),
      ),
      this.list,
    );
    if (this.image) {
      this.image.addEventListener("load", () => this.resize());
      this.image.addEventListener("error", () => {
        this.image.remove();
        this.image = null;
        this.resize();
      });
    }
    new ResizeObserver(() => this.resize()).observe(this.surface);
  }

  size() {
    if (this.image && this.image.naturalWidth) return { width: this.image.naturalWidth, height: this.image.naturalHeight };
    return { width: 640, height: 480 };
  }

  resize() {
    const { width, height } = this.size();
    this.surface.style.aspectRatio = `${width} / ${height}`;
    const box = this.surface.getBoundingClientRect();
    const scale = window.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.round(box.width * scale));
    this.canvas.height = Math.max(1, Math.round(box.height * scale));
    this.draw();
  }

  clicked(event) {
    const box = this.canvas.getBoundingClientRect();
    this.add((event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height);
  }

  key(event) {
    const step = event.shiftKey ? 0.01 : 0.05;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[event.key]) {
      const [dx, dy] = moves[event.key];
      this.cursor = { x: clamp(this.cursor.x + dx), y: clamp(this.cursor.y + dy) };
      this.draw();
    } else if (event.key === "Enter" || event.key === " ") {
      this.add(this.cursor.x, this.cursor.y);
    } else if (event.key === "Backspace" || event.key === "Delete") {
      this.undo();
    } else {
      return;
    }
    event.preventDefault();
  }

  add(x, y) {
    this.marks.push({ x: clamp(x), y: clamp(y) });
    this.changed();
  }

  undo() {
    this.marks.pop();
    this.changed();
  }

  clear() {
    this.marks = [];
    this.changed();
  }

  changed() {
    this.list.replaceChildren(
      ...this.marks.map((m, i) => h("li", {}, `Mark ${i + 1}: ${Math.round(m.x * 100)}% across, ${Math.round(m.y * 100)}% down`)),
    );
    this.surface.setAttribute("aria-label", `Image to mark, ${this.marks.length} ${this.marks.length === 1 ? "mark" : "marks"} placed`);
    this.draw();
    this.onChange();
  }

  draw() {
    const context = this.canvas.getContext("2d");
    const { width, height } = this.canvas;
    context.clearRect(0, 0, width, height);
    paint(context, this.marks, width, height);
    if (document.activeElement === this.surface) {
      const x = this.cursor.x * width;
      const y = this.cursor.y * height;
      context.strokeStyle = "#0b57d0";
      context.lineWidth = 2;
      context.beginPath();
      context.moveTo(x - 14, y);
      context.lineTo(x + 14, y);
      context.moveTo(x, y - 14);
      context.lineTo(x, y + 14);
      context.stroke();
    }
  }

  /** The drawing as a PNG at the image's own size: the marks on a transparent layer. */
  drawing() {
    const { width, height } = this.size();
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    paint(canvas.getContext("2d"), this.marks, width, height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }
}

function paint(context, marks, width, height) {
  const radius = Math.max(8, Math.round(Math.min(width, height) / 40));
  marks.forEach((mark, i) => {
    const x = mark.x * width;
    const y = mark.y * height;
    context.fillStyle = "rgba(200, 30, 30, 0.85)";
    context.strokeStyle = "#ffffff";
    context.lineWidth = 2;
    context.beginPath();
    context.arc(x, y, radius, 0, 2 * Math.PI);
    context.fill();
    context.stroke();
    context.fillStyle = "#ffffff";
    context.font = `bold ${radius}px system-ui, sans-serif`;
    context.textAlign = "center";
    context.textBaseline = "middle";
    context.fillText(String(i + 1), x, y);
  });
}

function clamp(value) {
  return Math.min(1, Math.max(0, value));
}

export function photoPicker({ onChange }) {
  const id = uid("photo");
  const input = h("input", { type: "file", id, accept: "image/*", capture: "environment" });
  const preview = h("img", { hidden: true, alt: "The photo you chose" });
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    if (file) {
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
      onChange();
    }
  });
  return {
    element: h("div", { className: "photo" }, h("label", { for: id }, "Take or choose a photo"), input, preview),
    file: () => input.files && input.files[0],
  };
}
