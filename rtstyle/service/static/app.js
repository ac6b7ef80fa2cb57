"use strict";
// The page at /: plain JS against the HTTP API, no build step. fetch sends the token as a
// header; what the browser loads by URL (EventSource, <img>, <video>) carries it as ?token=.

const $ = (id) => document.getElementById(id);
const FINISHED = ["done", "failed", "cancelled"];
let styles = [];
let live = null; // {pc, stream, session, timer} while the camera runs

function token() {
  return $("token").value.trim();
}

function withToken(url) {
  return token() ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token())}` : url;
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const res = await fetch(path, { ...options, headers });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = (await res.json()).error || message;
    } catch {
      // not JSON: keep the status line
    }
    throw new Error(message);
  }
  return res;
}

function showError(err) {
  $("error").textContent = err ? err.message || String(err) : "";
}

async function run(task, button) {
  showError();
  if (button) button.disabled = true;
  try {
    await task();
  } catch (err) {
    showError(err);
  } finally {
    if (button) button.disabled = false;
  }
}

function chosenStyle() {
  return styles.find((s) => s.name === $("style").value);
}

/** The style options that are set, by API field name (empty fields: the server's defaults). */
function options() {
  const out = {};
  for (const name of ["style", "strength", "stroke", "height"]) {
    const value = $(name).value.trim();
    if (value) out[name] = value;
  }
  return out;
}

/** A form's fields without empty file inputs, plus the style options. A style image with a style
 * that has a look of its own leaves the style out: the server then uses its arbitrary-style model. */
function formWith(formElement) {
  const form = new FormData(formElement);
  for (const [name, value] of [...form]) {
    if (value instanceof File && !value.size) form.delete(name);
  }
  const styleImage = form.has("style_image");
  for (const [name, value] of Object.entries(options())) {
    if (name === "style" && styleImage && !chosenStyle()?.takes_style_image) continue;
    form.append(name, value);
  }
  return form;
}

async function loadStyles() {
  styles = (await (await api("/v1/styles")).json()).filter((s) => !s.error);
  const select = $("style");
  const kept = select.value;
  select.replaceChildren(
    ...styles.map((s) => new Option(s.takes_style_image ? `${s.name} (needs a style image)` : s.name, s.name)));
  select.value = styles.some((s) => s.name === kept) ? kept : (styles.find((s) => s.default)?.name ?? "");
  showStyle();
}

function showStyle() {
  const style = chosenStyle();
  const preview = $("style-preview");
  preview.hidden = !style?.preview;
  if (style?.preview) preview.src = withToken(style.preview);
  $("style-summary").textContent = style ? style.summary : "";
}

async function stylizeImage(formElement) {
  const res = await api("/v1/images", {
    method: "POST", body: formWith(formElement), headers: { Accept: "image/png" },
  });
  const out = $("image-out");
  if (out.src) URL.revokeObjectURL(out.src);
  out.src = URL.createObjectURL(await res.blob());
  out.hidden = false;
}

function describeJob(job) {
  const parts = [job.state];
  if (job.progress != null) parts.push(`${job.progress.toFixed(0)} %`);
  if (job.fps) parts.push(`${job.fps} fps`);
  if (job.eta != null) parts.push(`${Math.ceil(job.eta)} s left`);
  if (job.error) parts.push(job.error);
  return parts.join(" · ");
}

async function convertVideo(formElement) {
  const job = await (await api("/v1/jobs", { method: "POST", body: formWith(formElement) })).json();
  const progress = $("job-progress");
  const status = $("job-status");
  const video = $("job-out");
  progress.hidden = false;
  progress.removeAttribute("value");
  video.hidden = true;
  status.textContent = describeJob(job);
  const events = new EventSource(withToken(`/v1/jobs/${job.id}/events`));
  events.addEventListener("job", (e) => {
    const current = JSON.parse(e.data);
    if (current.progress != null) progress.value = current.progress;
    status.textContent = describeJob(current);
    if (!FINISHED.includes(current.state)) return;
    events.close();
    progress.hidden = true;
    if (current.result) {
      video.src = withToken(current.result);
      video.hidden = false;
    }
  });
  events.addEventListener("deleted", () => {
    events.close();
    status.textContent = "deleted";
  });
  events.addEventListener("error", () => {
    if (events.readyState === EventSource.CLOSED) status.textContent += " (lost contact with the server)";
  });
}

/** Show the decoded frame count of `video` in #live-frames while it plays a stream. */
function countFrames(video) {
  const show = (n) => { $("live-frames").textContent = String(n); };
  if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
    const onFrame = (now, meta) => {
      if (!video.srcObject) return;
      show(meta.presentedFrames);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  } else {
    const poll = setInterval(() => {
      if (!video.srcObject) return clearInterval(poll);
      show(video.getVideoPlaybackQuality().totalVideoFrames);
    }, 250);
  }
}

/** Wait for ICE candidates: the server answers once, it does not trickle. */
function gathered(pc) {
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === "complete") resolve();
    };
    pc.addEventListener("icegatheringstatechange", check);
    check();
    setTimeout(resolve, 3000); // send what was found by then
  });
}

async function showLiveStats() {
  if (!live?.session) return;
  const session = (await (await api("/v1/live/sessions")).json()).find((s) => s.session === live?.session);
  if (session) {
    $("live-stats").textContent = `${session.fps} fps · dropped ${session.frames_dropped}` +
      (session.latency_ms != null ? ` · ${session.latency_ms} ms` : "");
  }
}

async function startLive() {
  $("live-start").disabled = true;
  $("live-frames").textContent = "0";
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  const pc = new RTCPeerConnection();
  live = { pc, stream, session: null, timer: null };
  $("live-in").srcObject = stream;
  for (const track of stream.getVideoTracks()) pc.addTrack(track, stream);
  pc.addEventListener("track", (e) => {
    const out = $("live-out");
    out.srcObject = e.streams[0] || new MediaStream([e.track]);
    countFrames(out);
  });
  pc.addEventListener("connectionstatechange", () => {
    if (["failed", "closed"].includes(pc.connectionState) && live?.pc === pc) {
      showError(new Error(`the live connection ${pc.connectionState === "failed" ? "failed" : "was closed"}`));
      stopLive();
    }
  });
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const body = { sdp: pc.localDescription.sdp, type: "offer", ...options(), temporal: $("live-temporal").value };
  const answer = await (await api("/v1/live/offer", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  })).json();
  live.session = answer.session;
  await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  live.timer = setInterval(() => showLiveStats().catch(showError), 2000);
  $("live-stop").disabled = false;
}

function stopLive() {
  if (live) {
    const { pc, stream, session, timer } = live;
    live = null;
    clearInterval(timer);
    for (const track of stream.getTracks()) track.stop();
    // the session ends first, so the server does not see a dropped connection
    const ended = session ? api(`/v1/live/sessions/${session}`, { method: "DELETE" }) : Promise.resolve();
    ended.catch(() => {}).finally(() => pc.close());
  }
  $("live-in").srcObject = null;
  $("live-out").srcObject = null;
  $("live-start").disabled = false;
  $("live-stop").disabled = true;
}

$("token").value = localStorage.getItem("rtstyle-token") || "";
$("token").addEventListener("change", () => {
  localStorage.setItem("rtstyle-token", token());
  run(loadStyles);
});
$("style").addEventListener("change", showStyle);
$("image-form").addEventListener("submit", (e) => {
  e.preventDefault();
  run(() => stylizeImage(e.target), e.submitter);
});
$("video-form").addEventListener("submit", (e) => {
  e.preventDefault();
  run(() => convertVideo(e.target), e.submitter);
});
$("live-start").addEventListener("click", () => {
  showError();
  startLive().catch((err) => {
    showError(err);
    stopLive();
  });
});
$("live-stop").addEventListener("click", stopLive);
run(loadStyles);
