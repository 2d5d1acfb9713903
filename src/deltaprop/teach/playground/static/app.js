// deltaprop playground: draws what the server's engine computed; it computes no number of its own.
"use strict";
const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const SVG = "http://www.w3.org/2000/svg";
const POS = [31, 111, 209], NEG = [232, 113, 10], MID = [246, 246, 246];
const PALETTE = [[232, 113, 10], [31, 111, 209], [46, 160, 67], [155, 89, 182], [214, 39, 40], [23, 190, 207],
                 [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34]];
let state = null, playing = false, selected = null, sample = 0, busy = Promise.resolve();

// -- talking to the server -----------------------------------------------------------------------
async function call(path, body, raw) {
  const init = body === undefined ? {} : raw ? { method: "POST", body }
    : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, init);
  const j = await r.json();
  $("message").textContent = r.ok ? (j.error || "") : (j.message || j.error || `error ${r.status}`);
  return j;
}
// one request at a time, in order: the controls and the play loop share this queue
function queue(fn) { busy = busy.then(fn, fn); return busy; }
async function update(path, body, raw) {
  const j = await call(path, body, raw);
  if (j.settings) { render(j); if (selected) await explain(selected); }
  return j;
}

// -- colours -------------------------------------------------------------------------------------
function mix(t) {  // t in [-1, 1]: orange ... light grey ... blue
  const c = t < 0 ? NEG : POS, a = Math.min(1, Math.abs(t));
  return MID.map((m, k) => Math.round(m + (c[k] - m) * a));
}
const css = (rgb, alpha = 1) => `rgba(${rgb[0]},${rgb[1]},${rgb[2]},${alpha})`;
function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e5 ? v.toFixed(4).replace(/\.?0+$/, "") || "0" : v.toExponential(3);
}

// -- pictures --------------------------------------------------------------------------------------
function image(values, n, colour) {  // a grid of values (row-major, top row first) as an n×n canvas
  const c = document.createElement("canvas"); c.width = n; c.height = n;
  const ctx = c.getContext("2d"), img = ctx.createImageData(n, n);
  values.forEach((v, k) => { const rgb = colour(v, k); img.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * k); });
  ctx.putImageData(img, 0, 0);
  return c;
}
function outputColour(s) {  // the boundary's colour for row k of the outputs
  const out = s.output;
  if (s.task === "regression") {
    const [lo, hi] = s.target_range, mid = (lo + hi) / 2, half = (hi - lo) / 2 || 1;
    return (_, k) => mix((out[k][0] - mid) / half);
  }
  if (out[0].length === 1) return (_, k) => mix(2 * out[k][0] - 1);
  return (_, k) => {
    const row = out[k]; let best = 0;
    row.forEach((v, c) => { if (v > row[best]) best = c; });
    const t = Math.max(0, (row[best] - 1 / row.length) / (1 - 1 / row.length));
    return MID.map((m, q) => Math.round(m + (PALETTE[best % 10][q] - m) * t * 0.85));
  };
}
function pointColour(s, y) {
  if (s.task === "regression") {
    const [lo, hi] = s.target_range, half = (hi - lo) / 2 || 1;
    return mix((y - (lo + hi) / 2) / half);
  }
  return s.classes.length === 2 ? (y ? POS : NEG) : PALETTE[y % 10];
}
function drawBoundary(s) {
  const cv = $("boundary"), ctx = cv.getContext("2d"), n = s.grid;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(image(s.output, n, outputColour(s)), 0, 0, cv.width, cv.height);
  const [lo, hi] = s.range;
  for (const [x, y, label, part] of s.points) {
    const px = (x - lo[0]) / (hi[0] - lo[0]) * cv.width, py = (hi[1] - y) / (hi[1] - lo[1]) * cv.height;
    ctx.beginPath(); ctx.arc(px, py, 3.2, 0, 2 * Math.PI);
    ctx.fillStyle = css(pointColour(s, label)); ctx.fill();
    ctx.lineWidth = part === "test" ? 1.6 : 0.8; ctx.strokeStyle = part === "test" ? "#000" : "#fff"; ctx.stroke();
  }
  const names = s.feature_names;
  $("boundary-legend").textContent = `${names[s.features[0]]} → across, ${names[s.features[1]]} ↑ up` +
    (names.length > 2 ? "; the other features at their mean" : "") +
    (s.task === "regression" ? "; colour: the predicted value" : "; colour: the predicted class") +
    "; points: training (white edge) and test (black edge).";
}
function thumbnail(values, n) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const mid = (lo + hi) / 2, half = (hi - lo) / 2 || 1;
  return image(values, n, (v) => mix((v - mid) / half)).toDataURL();
}
function drawCurves(s) {
  const cv = $("curves"), ctx = cv.getContext("2d"), w = cv.width, h = cv.height;
  ctx.clearRect(0, 0, w, h);
  const pts = s.curve; if (!pts.length) return;
  const xmax = Math.max(1, pts[pts.length - 1][0]);
  const ymax = Math.max(...pts.map((p) => Math.max(p[1] ?? 0, p[2] ?? 0))) * 1.05 || 1;
  for (const [k, colour] of [[1, "#333"], [2, css(NEG)]]) {
    ctx.beginPath(); ctx.strokeStyle = colour; ctx.lineWidth = 1.5;
    pts.forEach((p, q) => { if (p[k] === null) return; const x = 4 + p[0] / xmax * (w - 8), y = h - 4 - p[k] / ymax * (h - 8);
      q ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
    ctx.stroke();
  }
  ctx.fillStyle = "#667"; ctx.font = "11px system-ui";
  ctx.fillText(`max ${fmt(ymax / 1.05)}`, 6, 12); ctx.fillText(`epoch ${fmt(pts[pts.length - 1][0])}`, w - 80, h - 6);
}

// -- the network ---------------------------------------------------------------------------------
function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}
function tip(e, text) {
  e.addEventListener("mousemove", (ev) => { const t = $("tooltip"); t.hidden = false; t.textContent = text;
    t.style.left = `${ev.clientX + 12}px`; t.style.top = `${ev.clientY + 12}px`; });
  e.addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
}
const sub = (k) => String(k + 1).replace(/\d/g, (d) => "₀₁₂₃₄₅₆₇₈₉"[d]);
const sup = (l) => "⁽" + String(l).replace(/\d/g, (d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d]) + "⁾";
function drawNetwork(s) {
  const svg = $("network"); svg.replaceChildren();
  const W = svg.clientWidth || 560, H = svg.clientHeight || 420, L = s.sizes.length;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const shown = s.sizes.map((n) => Math.min(n, s.max_drawn));
  const side = Math.max(12, Math.min(34, (H - 40) / Math.max(...shown) - 6));
  const xs = s.sizes.map((_, l) => 70 + l * (W - 110) / Math.max(1, L - 1));
  const ys = shown.map((n) => Array.from({ length: n }, (_, j) => 24 + (j + 0.5) * (H - 40) / n));
  const weights = el("g", {}, svg), nodes = el("g", {}, svg);
  let wmax = 0;
  for (let l = 1; l < L; l++) for (const row of s.network[l].W) for (const w of row) wmax = Math.max(wmax, Math.abs(w));
  for (let l = 1; l < L; l++) {
    s.network[l].W.forEach((row, j) => row.forEach((w, i) => {
      const x0 = xs[l - 1] + side / 2, y0 = ys[l - 1][i], x1 = xs[l] - side / 2, y1 = ys[l][j], mx = (x0 + x1) / 2;
      const p = el("path", { d: `M${x0},${y0} C${mx},${y0} ${mx},${y1} ${x1},${y1}`, class: "weight",
        "data-weight": `${l}:${j}:${i}`, "data-value": String(w), stroke: css(w >= 0 ? POS : NEG),
        "stroke-opacity": String(0.25 + 0.75 * Math.abs(w) / (wmax || 1)),
        "stroke-width": String(0.5 + 5.5 * Math.abs(w) / (wmax || 1)) }, weights);
      el("title", {}, p).textContent = `w${sub(j)}${sub(i)}${sup(l)} = ${w}`;
      tip(p, `w${sub(j)}${sub(i)}${sup(l)} = ${fmt(w)} (from ${l === 1 ? s.feature_names[i] : "neuron " + (i + 1)} to neuron ${j + 1} of layer ${l})`);
    }));
  }
  const hidden = s.hidden, out = s.output;
  for (let l = 0; l < L; l++) {
    ys[l].forEach((y, j) => {
      const g = el("g", { class: "neuron", "data-neuron": `${l}:${j}`, transform: `translate(${xs[l] - side / 2},${y - side / 2})` }, nodes);
      if (selected === `${l}:${j}`) g.classList.add("selected");
      el("rect", { width: side, height: side, rx: 3 }, g);
      let values = null;
      if (l > 0 && l < L - 1) values = hidden[l - 1][j];
      if (l === L - 1) values = out.map((row) => row[j]);
      if (l === 0 && s.features.includes(j)) {  // a plotted input: its value across the plane, as the axes run
        const n = s.thumb, across = s.features[0] === j;
        values = Array.from({ length: n * n }, (_, k) => (across ? k % n : n - 1 - Math.floor(k / n)));
      }
      if (values) {
        const n = l === L - 1 ? s.grid : s.thumb;  // the inputs' ramps use the thumbnail grid too
        el("image", { href: thumbnail(values, n), width: side - 2, height: side - 2, x: 1, y: 1, preserveAspectRatio: "none" }, g);
      }
      let label;
      if (l === 0) {
        label = s.feature_names[j];
        el("text", { x: -6, y: side / 2 + 4, "text-anchor": "end" }, g).textContent = label.length > 10 ? label.slice(0, 9) + "…" : label;
        tip(g, `input ${j + 1}: ${label}`);
      } else {
        const b = s.network[l].b[j];
        tip(g, `neuron ${j + 1} of layer ${l}${l === L - 1 ? " (output)" : ""}: b = ${fmt(b)}; click to explain`);
      }
      g.addEventListener("click", () => queue(() => explain(`${l}:${j}`)));
    });
    if (s.sizes[l] > shown[l]) el("text", { x: xs[l] - 10, y: H - 4 }, nodes).textContent = `+${s.sizes[l] - shown[l]} more`;
    el("text", { x: xs[l], y: 14, "text-anchor": "middle" }, nodes).textContent =
      l === 0 ? "inputs" : l === L - 1 ? "output" : `hidden ${l} (${s.sizes[l]})`;
  }
}

// -- explain -------------------------------------------------------------------------------------
const esc = (t) => String(t).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (v, term, extra = "") => `<span class="num" data-term="${term}" data-value="${v}"${extra}>${fmt(v)}</span>`;
async function explain(neuron) {
  selected = neuron;
  document.querySelectorAll("svg .neuron").forEach((g) => g.classList.toggle("selected", g.dataset.neuron === neuron));
  const r = await fetch("/api/explain", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ neuron, sample }) });
  const d = await r.json();
  if (!r.ok) { $("message").textContent = d.error; return; }
  $("explain").innerHTML = explainHtml(d);
  const pick = $("explain-sample");
  if (pick) pick.addEventListener("change", () => {
    sample = Math.max(0, Math.min(d.n - 1, Number(pick.value) - 1));
    queue(() => explain(selected));
  });
}
function explainHtml(d) {
  const j = sub(d.j), up = sup(d.l), lo = sup(d.l - 1);
  const where = d.n > 1 ? `example <input data-testid="explain-sample" type="number" min="1" max="${d.n}" value="${d.sample + 1}"> of the ${d.n} in the batch` : "its one example";
  const head = `<p class="label">The next step (epoch ${d.epoch + 1}, step ${d.step + 1}), ${where}, as <code>deltaprop.explain</code> computes it.</p>`;
  if (d.kind === "input") return head + `<p class="eq">a${j}⁽⁰⁾ = x${j} = ${num(d.a, "a")}</p>`;
  const sig = { sigmoid: "σ", tanh: "tanh", relu: "ReLU", identity: "id", softmax: "softmax" }[d.activation] || esc(d.activation);
  const terms = d.terms.map((t) => `(${num(t.w, "w", ` data-i="${t.i}"`)})(${num(t.a, "a_prev", ` data-i="${t.i}"`)})`);
  const lines = [head,
    `<p class="label">Neuron ${d.j + 1} of layer ${d.l} (${esc(d.activation)}${d.kind === "output" ? ", output" : ""})</p>`,
    `<p class="eq">z${j}${up} = Σᵢ w${j}ᵢ${up} aᵢ${lo} + b${j}${up}   <span class="label">(E1)</span>\n     = ${terms.join(" + ")} + ${num(d.b, "b")}\n     = ${num(d.z, "z")}</p>`,
    `<p class="eq">a${j}${up} = σ(z${j}${up})${sig === "σ" ? "" : ` = ${sig}(z${j}${up})`} = ${num(d.a, "a")}   <span class="label">(E2, σ = ${esc(d.activation)})</span></p>`];
  const cited = ["E1", "E2"];
  if (d.fused) {
    lines.push(`<p class="eq">δ${j}${up} = (a${j}${up} − y${j})${d.loss.reduction === "mean" && d.n > 1 ? " / n" : ""} = ${num(d.delta, "delta")}   <span class="label">(E8: σ' cancels against the loss's derivative; y = ${fmt(d.y)})</span></p>`);
    cited.push("E8");
  } else {
    if (d.kind === "output") {
      lines.push(`<p class="eq">∂L/∂a${j}${up} = ${num(d.dL_da, "dL_da")}   <span class="label">(the loss ${esc(d.loss.name)}'s derivative)</span></p>`);
    } else {
      const back = d.back.map((t) => `(${num(t.w, "w_above", ` data-k="${t.k}"`)})(${num(t.delta, "delta_above", ` data-k="${t.k}"`)})`);
      lines.push(`<p class="eq">∂L/∂a${j}${up} = Σₖ wₖ${j}${sup(d.l + 1)} δₖ${sup(d.l + 1)}   <span class="label">(E6)</span>\n        = ${back.join(" + ")}\n        = ${num(d.dL_da, "dL_da")}</p>`);
      cited.push("E6");
    }
    if (d.sigma_prime === null) {
      lines.push(`<p class="eq">δ${j}${up} = ${num(d.delta, "delta")}   <span class="label">(through softmax's Jacobian, E7)</span></p>`);
      cited.push("E7");
    } else {
      lines.push(`<p class="eq">δ${j}${up} = ∂L/∂a${j}${up} · σ'(z${j}${up}) = ${num(d.dL_da, "dL_da2")} · ${num(d.sigma_prime, "sigma_prime")} = ${num(d.delta, "delta")}   <span class="label">(E3, σ' = ${esc(d.activation)}')</span></p>`);
      cited.push("E3");
    }
  }
  const batch = d.n > 1 ? " summed over the batch" : "";
  lines.push(`<p class="eq">∂L/∂w${j}ᵢ${up} = δ${j}${up} aᵢ${lo}${batch}   <span class="label">(E4)</span>\n     = ${d.dW.map((g, i) => num(g, "dW", ` data-i="${i}"`)).join(", ")}</p>`);
  lines.push(`<p class="eq">∂L/∂b${j}${up} = δ${j}${up}${batch} = ${num(d.db, "db")}   <span class="label">(E5)</span></p>`);
  lines.push(`<p class="eq">w ← w − η ∂L/∂w, η = ${num(d.lr, "lr")}   <span class="label">(E9)</span>\n     w${j}ᵢ${up} ← ${d.W_new.map((w, i) => num(w, "W_new", ` data-i="${i}"`)).join(", ")};  b${j}${up} ← ${num(d.b_new, "b_new")}</p>`);
  cited.push("E4", "E5", "E9");
  if (d.optimizer !== "sgd") lines.push(`<p class="label">This run's optimizer is ${esc(d.optimizer)}: its real update rescales ∂L/∂w; shown is plain gradient descent with the same η, the seeds' update.</p>`);
  if (d.dropout > 0) lines.push(`<p class="label">Dropout is off in this view (as in explain); the real step drops a random ${fmt(d.dropout * 100)}% of the hidden units.</p>`);
  lines.push("<dl>" + cited.map((k) => `<dt>${k}</dt><dd>${esc(d.equations[k])}</dd>`).join("") + "</dl>");
  return lines.join("\n");
}

// -- the whole page ----------------------------------------------------------------------------------
function setValue(id, v) { const e = $(id); if (document.activeElement !== e) e.value = v; }
function render(s) {
  state = s;
  const st = s.settings;
  $("epoch").textContent = String(s.epoch);
  $("loss").textContent = fmt(s.loss);
  $("test-loss").textContent = fmt(s.test_loss);
  $("steps").textContent = String(s.steps);
  $("data-name").textContent = `${st.data}: ${s.n_train} training, ${s.n_test} test samples, ${s.task}`;
  const pick = $("data");
  let file = pick.querySelector("option[data-file]");
  if (!st.toy) {  // an uploaded file or --data: shown in the list, not offered again
    if (!file) { file = document.createElement("option"); file.dataset.file = "1"; file.disabled = true; pick.appendChild(file); }
    file.value = file.text = st.data;
  } else if (file) file.remove();
  setValue("data", st.data);
  for (const [id, key] of [["noise", "noise"], ["n-samples", "n_samples"], ["test-split", "test_split"], ["lr", "lr"],
    ["batch-size", "batch_size"], ["l2", "l2"], ["dropout", "dropout"], ["seed", "seed"], ["activation", "activation"],
    ["optimizer", "optimizer"]]) setValue(id, st[key]);
  setValue("layers", st.hidden.join(","));
  for (const [id, k] of [["feature-x", 0], ["feature-y", 1]]) {
    const sel = $(id);
    if (sel.options.length !== s.feature_names.length || [...sel.options].some((o, q) => o.text !== s.feature_names[q]))
      sel.replaceChildren(...s.feature_names.map((n, q) => { const o = document.createElement("option"); o.value = q; o.text = n; return o; }));
    sel.value = String(s.features[k]); sel.disabled = s.feature_names.length <= 2;
  }
  $("command").textContent = s.command;
  drawNetwork(s); drawBoundary(s); drawCurves(s);
  if (s.error) setPlaying(false);
}
function setPlaying(on) {
  playing = on;
  $("play").textContent = on ? "❚❚ Pause" : "▶ Play";
  if (on) queue(loop);
}
async function loop() {
  while (playing) {
    await update("/api/train", { epochs: 1 });
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 30)));
  }
}
function wire() {
  $("play").addEventListener("click", () => setPlaying(!playing));
  $("step").addEventListener("click", () => queue(() => update("/api/train", { steps: 1 })));
  $("one-epoch").addEventListener("click", () => queue(() => update("/api/train", { epochs: 1 })));
  $("reset").addEventListener("click", () => { setPlaying(false); queue(() => update("/api/reset", {})); });
  $("data").addEventListener("change", (e) => { setPlaying(false); queue(() => update("/api/data", { data: e.target.value })); });
  const numbers = { noise: "noise", "n-samples": "n_samples", "test-split": "test_split", lr: "lr", "batch-size": "batch_size",
    l2: "l2", dropout: "dropout", seed: "seed" };
  for (const [id, key] of Object.entries(numbers))
    $(id).addEventListener("change", (e) => { setPlaying(false); queue(() => update("/api/settings", { [key]: Number(e.target.value) })); });
  for (const key of ["activation", "optimizer"])
    $(key).addEventListener("change", (e) => { setPlaying(false); queue(() => update("/api/settings", { [key]: e.target.value })); });
  $("layers").addEventListener("change", (e) => { setPlaying(false); queue(() => update("/api/settings", { hidden: e.target.value })); });
  for (const id of ["feature-x", "feature-y"])
    $(id).addEventListener("change", () => queue(() => update("/api/features", { x: Number($("feature-x").value), y: Number($("feature-y").value) })));
  $("upload").addEventListener("change", (e) => {
    const file = e.target.files[0]; if (!file) return;
    setPlaying(false); selected = null;
    queue(() => update(`/api/upload?name=${encodeURIComponent(file.name)}`, file, true));
  });
  window.addEventListener("resize", () => state && drawNetwork(state));
}
wire();
queue(() => update("/api/state"));
