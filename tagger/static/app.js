// tagger: front-end of the part-of-speech tagger's HTTP service.
// POSTs the textarea to /tag and renders each sentence's tokens with their tags (Penn Treebank's,
// or NLTK's universal ones), each token's meaning, probability and character span on hover.
// Then POSTs it to /explain and shows, under the tags, what the sentence LSTM computed inside:
// a heatmap per gate or state (tokens by unit mean or every unit, per direction, on <canvas>),
// the cell state's norm along the sentence (SVG) and each token's three most probable tags.
"use strict";

(function () {
  // Penn Treebank tag set (45 tags, plus the -LRB-/-RRB- bracket tags).
  const GLOSSARY = {
    CC: "coordinating conjunction",
    CD: "cardinal number",
    DT: "determiner",
    EX: "existential there",
    FW: "foreign word",
    IN: "preposition or subordinating conjunction",
    JJ: "adjective",
    JJR: "adjective, comparative",
    JJS: "adjective, superlative",
    LS: "list item marker",
    MD: "modal",
    NN: "noun, singular or mass",
    NNS: "noun, plural",
    NNP: "proper noun, singular",
    NNPS: "proper noun, plural",
    PDT: "predeterminer",
    POS: "possessive ending",
    PRP: "personal pronoun",
    "PRP$": "possessive pronoun",
    RB: "adverb",
    RBR: "adverb, comparative",
    RBS: "adverb, superlative",
    RP: "particle",
    SYM: "symbol",
    TO: "to",
    UH: "interjection",
    VB: "verb, base form",
    VBD: "verb, past tense",
    VBG: "verb, gerund or present participle",
    VBN: "verb, past participle",
    VBP: "verb, non-3rd person singular present",
    VBZ: "verb, 3rd person singular present",
    WDT: "wh-determiner",
    WP: "wh-pronoun",
    "WP$": "possessive wh-pronoun",
    WRB: "wh-adverb",
    $: "dollar sign",
    "#": "pound sign",
    "``": "opening quotation mark",
    "''": "closing quotation mark",
    "-LRB-": "opening bracket",
    "-RRB-": "closing bracket",
    ",": "comma",
    ".": "sentence-final punctuation",
    ":": "colon, semicolon, dash or ellipsis",
    // NLTK's universal tags
    NOUN: "noun", VERB: "verb", ADJ: "adjective", ADV: "adverb", PRON: "pronoun",
    DET: "determiner or article", ADP: "adposition (preposition or postposition)",
    NUM: "numeral", CONJ: "conjunction", PRT: "particle", X: "other",
  };

  // Word class (CSS class) of each tag; anything missing is "other".
  const CLASS_TAGS = {
    noun: ["NN", "NNS", "NNP", "NNPS", "NOUN"],
    verb: ["VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "MD", "VERB"],
    adjective: ["JJ", "JJR", "JJS", "ADJ"],
    adverb: ["RB", "RBR", "RBS", "WRB", "ADV"],
    pronoun: ["PRP", "PRP$", "WP", "WP$", "EX", "PRON"],
    determiner: ["DT", "PDT", "WDT", "DET"],
    function: ["IN", "CC", "TO", "RP", "ADP", "CONJ", "PRT"],
    number: ["CD", "NUM"],
  };
  const WORD_CLASS = new Map();
  for (const [cls, tags] of Object.entries(CLASS_TAGS)) {
    for (const tag of tags) WORD_CLASS.set(tag, cls);
  }

  const LOW_CONFIDENCE = 0.6;

  const textEl = document.getElementById("text");
  const button = document.getElementById("tag");
  const errorEl = document.getElementById("error");
  const resultEl = document.getElementById("result");
  const modelEl = document.getElementById("model");
  const tagsetEl = document.getElementById("tagset");

  function wordClass(tag) {
    return WORD_CLASS.get(tag) || "other";
  }

  function describe(tag) {
    return Object.prototype.hasOwnProperty.call(GLOSSARY, tag)
      ? tag + " — " + GLOSSARY[tag]
      : "tag " + tag;
  }

  function showError(message) {
    errorEl.textContent = message;
    errorEl.hidden = !message;
  }

  function renderToken(word, tag, probability, span) {
    const p = Number(probability);
    const low = Number.isFinite(p) && p < LOW_CONFIDENCE;
    const el = document.createElement("span");
    el.className = "token " + wordClass(tag) + (low ? " low" : "");
    el.dataset.tag = tag;
    el.dataset.probability = Number.isFinite(p) ? p.toFixed(3) : "";
    const where = Array.isArray(span) && span.length === 2;
    if (where) el.dataset.span = span[0] + "-" + span[1];
    el.title =
      describe(tag) +
      (Number.isFinite(p) ? " — probability " + p.toFixed(3).replace(/\.?0+$/, "") : "") +
      (low ? " (low confidence)" : "") +
      (where ? " — characters " + span[0] + "–" + span[1] : "");

    const wordEl = document.createElement("span");
    wordEl.className = "word";
    wordEl.textContent = word;
    const tagEl = document.createElement("span");
    tagEl.className = "tag";
    tagEl.textContent = tag;
    el.append(wordEl, tagEl);
    return el;
  }

  function render(sentences) {
    const fragment = document.createDocumentFragment();
    for (const sentence of sentences || []) {
      const row = document.createElement("div");
      row.className = "sentence";
      const tokens = sentence.tokens || [];
      const tags = sentence.tags || [];
      const probs = sentence.probabilities || [];
      const spans = sentence.spans || [];
      tokens.forEach((token, i) => {
        const tag = String(tags[i] == null ? "" : tags[i]);
        row.appendChild(renderToken(String(token), tag, probs[i], spans[i]));
      });
      fragment.appendChild(row);
    }
    resultEl.textContent = "";
    resultEl.appendChild(fragment);
  }

  // POSTs `payload` as JSON; the response and its body (null where the body is not JSON).
  async function postJSON(url, payload) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    return { response: response, body: body };
  }

  // The error a failed request reports: the service's own message where it sent one.
  function failure(response, body) {
    return new Error(body && typeof body.error === "string" && body.error
      ? body.error : "HTTP " + response.status);
  }

  async function tag() {
    if (button.disabled) return;
    button.disabled = true;
    showError("");
    const text = textEl.value;
    try {
      const { response, body } = await postJSON("/tag", { text: textEl.value, tagset: tagsetEl.value });
      if (!response.ok) throw failure(response, body);
      if (!body || !Array.isArray(body.sentences)) {
        throw new Error("HTTP " + response.status + ": unexpected response");
      }
      render(body.sentences);
      explain(text, body.sentences);
    } catch (err) {
      resultEl.textContent = "";
      hideInside();
      showError((err && err.message) || String(err));
    } finally {
      button.disabled = false;
    }
  }

  async function loadModel() {
    try {
      const response = await fetch("/model");
      if (!response.ok) return;
      const info = await response.json();
      const models = Array.isArray(info.models) ? info.models : [];
      if (models.length) modelEl.textContent = "model: " + models.join(", ");
    } catch (_) {
      // The footer is informative only; ignore failures.
    }
  }

  // --- Inside the LSTM: /explain ---------------------------------------------------------

  const EXPLAIN_TOKENS = 200; // the most tokens /explain takes in one request (tagger.serve)
  const SVG = "http://www.w3.org/2000/svg";
  const ORDER = ["i", "f", "g", "o", "c", "h"];
  const INTERNALS = {
    i: { title: "input gate", what: "how much new is written", range: "gate" },
    f: { title: "forget gate", what: "how much of the old cell is kept", range: "gate" },
    g: { title: "cell candidate", what: "what would be written", range: "tanh" },
    o: { title: "output gate", what: "how much of the cell is shown as h", range: "gate" },
    c: { title: "cell state", what: "the memory carried along", range: "free" },
    h: { title: "hidden state", what: "what the tagger reads", range: "tanh" },
  };
  const ENCODERS = {
    hand: "a hand-made LSTM (tagger.lstm)",
    torch: "torch's nn.LSTM, read through a hand-made LSTM with the same weights",
    rnn: "a plain RNN (tagger.rnn)",
  };
  const ARROWS = { forward: "forward →", backward: "← backward" };

  const insideEl = document.getElementById("inside");
  const insideNote = document.getElementById("inside-note");
  const insideError = document.getElementById("inside-error");
  const insideBody = document.getElementById("inside-body");
  const sentencePick = document.getElementById("inside-sentence");
  const layerPick = document.getElementById("inside-layer");
  const directionPick = document.getElementById("direction-pick");
  const unitsBox = document.getElementById("inside-units");
  const unitsCount = document.getElementById("units-count");
  const heatmapsEl = document.getElementById("heatmaps");
  const heatmapsHint = document.getElementById("heatmaps-hint");
  const normTitle = document.getElementById("norm-title");
  const normChart = document.getElementById("norm-chart");
  const normLegend = document.getElementById("norm-legend");
  const topBody = document.querySelector("#top tbody");
  const tip = document.getElementById("inside-tip");

  // What is shown: the /explain answer for `text`, and the pickers' choices.
  const inside = { text: null, sentences: null, sentence: 0, layer: 0, asked: 0 };

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attributes || {})) {
      if (v != null) node.setAttribute(k, v);
    }
    node.append(...children);
    return node;
  }

  function svg(tag, attributes, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attributes || {})) node.setAttribute(k, v);
    node.append(...children);
    return node;
  }

  function hideInside() {
    inside.asked += 1; // an answer still on its way is dropped
    inside.text = null;
    inside.sentences = null;
    insideEl.hidden = true;
    hideTip();
  }

  function setNote(message) {
    insideNote.textContent = message;
    insideNote.hidden = !message;
  }

  function universalNote() {
    return tagsetEl.value === "model" ? "" : "The tags in this panel are the model's own: " +
      "the universal tags above are mapped from them.";
  }

  async function explain(text, tagged) {
    const count = tagged.reduce((n, s) => n + ((s.tokens || []).length), 0);
    insideEl.hidden = false;
    insideError.hidden = true;
    if (count > EXPLAIN_TOKENS) return tooLong(count);
    if (text === inside.text && inside.sentences) { // the tag set changed, not the text
      setNote(universalNote());
      return;
    }
    const asked = ++inside.asked;
    insideEl.setAttribute("aria-busy", "true");
    setNote("Looking inside the LSTM…");
    try {
      const { response, body } = await postJSON("/explain", { text: text });
      if (asked !== inside.asked) return; // a newer text was tagged meanwhile
      if (!response.ok) throw failure(response, body);
      if (!body || !Array.isArray(body.sentences) || !body.sentences.length) {
        throw new Error("HTTP " + response.status + ": unexpected response");
      }
      inside.text = text;
      inside.sentences = body.sentences;
      inside.sentence = 0;
      inside.layer = 0;
      setNote(universalNote());
      showInside();
    } catch (err) {
      if (asked !== inside.asked) return;
      insideFailed(err);
    } finally {
      if (asked === inside.asked) insideEl.removeAttribute("aria-busy");
    }
  }

  // /explain is not asked about a text longer than it takes; the panel says why it is empty.
  function tooLong(count) {
    hideInside();
    insideEl.hidden = false;
    insideBody.hidden = true;
    setNote("This text has " + count + " words and punctuation marks; the view inside the " +
      "LSTM takes at most " + EXPLAIN_TOKENS + ". Tag a sentence or a few to look inside.");
  }

  function insideFailed(err) {
    inside.text = null;
    inside.sentences = null;
    insideBody.hidden = true;
    setNote("");
    insideError.textContent = "Could not look inside the LSTM: " +
      ((err && err.message) || String(err));
    insideError.hidden = false;
  }

  function shorten(words, length) {
    const text = words.join(" ");
    return text.length > length ? text.slice(0, length - 1) + "…" : text;
  }

  // Fills the pickers for the answer just received, then draws it.
  function showInside() {
    const sentences = inside.sentences;
    sentencePick.replaceChildren(...sentences.map((s, k) =>
      el("option", { value: k }, (k + 1) + ": " + shorten(s.tokens || [], 48))));
    sentencePick.value = String(inside.sentence);
    document.getElementById("sentence-pick").hidden = sentences.length < 2;
    insideBody.hidden = false;
    insideError.hidden = true;
    fillLayers();
    draw();
  }

  function fillLayers() {
    const layers = inside.sentences[inside.sentence].layers || [];
    inside.layer = Math.min(inside.layer, Math.max(0, layers.length - 1));
    layerPick.replaceChildren(...layers.map((_, k) => el("option", { value: k },
      (k + 1) + (k === 0 ? " (nearest the words)" : k === layers.length - 1 ? " (nearest the tags)" : ""))));
    layerPick.value = String(inside.layer);
    document.getElementById("layer-pick").hidden = layers.length < 2;
  }

  function chosenDirection() {
    const checked = directionPick.querySelector("input:checked");
    return checked ? checked.value : "both";
  }

  // Draws the chosen sentence, layer, direction(s) and columns.
  function draw() {
    if (!inside.sentences) return;
    hideTip();
    const sentence = inside.sentences[inside.sentence];
    const layer = (sentence.layers || [])[inside.layer] || {};
    const directions = Array.isArray(sentence.directions) && sentence.directions.length
      ? sentence.directions : ["forward"];
    const rnn = sentence.encoder === "rnn" || !("c" in layer);
    insideEl.classList.toggle("rnn", rnn);
    insideEl.classList.toggle("one-way", directions.length < 2);
    directionPick.hidden = directions.length < 2;
    const choice = chosenDirection();
    const shown = directions.length < 2 || choice === "both" ? directions.map((_, d) => d)
      : [Math.max(0, directions.indexOf(choice))];
    const names = ORDER.filter((name) => Array.isArray(layer[name]));
    const first = names.length ? layer[names[0]] : [];
    const H = first.length && first[0].length ? first[0][0].length : 0;
    unitsCount.textContent = "(" + H + " per direction)";
    insideEl.querySelectorAll(".units-word").forEach((node) => {
      node.textContent = H + " units";
    });
    insideEl.dataset.encoder = sentence.encoder || "";
    document.getElementById("heatmaps-title").textContent = (rnn ? "The hidden state" :
      "Gates and states") + ", word by word — layer " + (inside.layer + 1) + " of " +
      (sentence.layers || []).length + ", " + (ENCODERS[sentence.encoder] || "the model's LSTM");

    const tokens = (sentence.tokens || []).map(String);
    const width = heatmapsEl.clientWidth || 800;
    heatmapsEl.classList.toggle("units", unitsBox.checked);
    heatmapsHint.textContent = "A row per word; " + (unitsBox.checked
      ? "a column per unit (" + H + " per direction)" : "per direction, the mean of its " + H +
        " units") + (shown.length > 1 ? ", forward then backward." : ", " + directions[shown[0]] + ".") +
      (rnn ? " Blue below 0, red above." : " Gates: dark = closed (0), yellow = open (1); " +
        "g, c and h: blue below 0, red above.");
    heatmapsEl.replaceChildren(...names.map((name) => heatmap(name, layer[name], tokens,
      directions, shown, unitsBox.checked, width)));

    const state = rnn ? "h" : "c";
    normTitle.textContent = rnn ? "How much the hidden state carries" : "How much the cell carries";
    const norms = (layer.norm || {})[state] || [];
    normChart.replaceChildren(normPlot(norms, tokens, directions, shown, state));
    normLegend.replaceChildren(...shown.map((d) => el("span", { class: "key " + directions[d] },
      lineSwatch(directions[d]), directions[d] + (directions[d] === "backward"
        ? " (reads right to left)" : " (reads left to right)"))),
      el("span", { class: "muted" }, "‖" + state + "‖: the length of the " +
        (rnn ? "hidden state" : "cell state") + " vector, the square root of the sum of its " +
        "units' squares"));

    renderTop(sentence, tokens);
  }

  // --- heatmaps ---

  const VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962",
    "#addc30", "#fde725"].map(rgb);
  const RDBU = ["#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582",
    "#d6604d", "#b2182b"].map(rgb);

  function rgb(hex) {
    return [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  }

  function interpolate(stops, x) {
    const t = Math.min(1, Math.max(0, Number.isFinite(x) ? x : 0)) * (stops.length - 1);
    const k = Math.min(stops.length - 2, Math.floor(t));
    const a = stops[k], b = stops[k + 1], u = t - k;
    return [0, 1, 2].map((j) => Math.round(a[j] + (b[j] - a[j]) * u));
  }

  function nice(x) { // a round number at least x
    if (!(x > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(x)));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (step * power >= x - 1e-12) return step * power;
    }
    return 10 * power;
  }

  // The colour scale of an internal over the values shown: sequential over [0, 1] for a gate,
  // diverging around 0 for the rest (over [-1, 1] for tanh's outputs, else their largest size).
  function scaleFor(name, grid) {
    let largest = 0;
    for (const row of grid) for (const v of row) largest = Math.max(largest, Math.abs(v));
    const kind = INTERNALS[name] ? INTERNALS[name].range : "free";
    if (kind === "gate") return { low: 0, high: 1, color: (v) => interpolate(VIRIDIS, v), stops: VIRIDIS };
    const high = kind === "tanh" && largest <= 1 ? 1 : nice(largest);
    return { low: -high, high: high, color: (v) => interpolate(RDBU, (v / high + 1) / 2), stops: RDBU };
  }

  function mean(values) {
    let sum = 0;
    for (const v of values) sum += v;
    return values.length ? sum / values.length : 0;
  }

  function format(v) { // a scale's end: -0.5 as −0.5
    const x = Number(v.toPrecision(3));
    return (x < 0 ? "−" : "") + Math.abs(x);
  }

  function cellText(v) { // a mean in its cell: two decimals
    const x = v.toFixed(2);
    return x.startsWith("-") ? (x === "-0.00" ? "0.00" : "−" + x.slice(1)) : x;
  }

  // A heatmap of one gate or state: a row per token, a column per direction shown (its units'
  // mean) or per unit; a <figure> with the token labels, the direction heads, the canvas and its scale.
  function heatmap(name, values, tokens, directions, shown, units, width) {
    const T = values.length;
    const H = T && values[0][0] ? values[0][0].length : 0;
    const perDirection = units ? H : 1;
    // grid[t] = the columns shown: per direction shown, the mean or every unit
    const grid = values.map((row) => shown.flatMap((d) => units ? row[d].map(Number)
      : [mean(row[d].map(Number))]));
    const scale = scaleFor(name, grid);
    const info = INTERNALS[name] || { title: name, what: "" };
    const box = heatLayout(T, tokens, perDirection, shown.length, units, width);

    const figure = el("figure", {
      class: "heatmap" + (units ? " units" : ""), "data-name": name, "data-rows": T,
      "data-cols": perDirection, "data-directions": shown.map((d) => directions[d]).join(" "),
    });
    figure.style.setProperty("--row", box.rowHeight + "px");
    figure.style.setProperty("--label", box.labelWidth + "px");
    figure.append(el("figcaption", null, el("span", { class: "symbol" }, name),
      el("span", null, el("strong", null, info.title), el("span", { class: "what" }, info.what))));

    const heads = heatHeads(box, directions, shown, units);
    const rows = el("ol", { class: "rows", "aria-hidden": "true" },
      ...tokens.map((t) => el("li", { title: t }, t)));
    const canvas = el("canvas", {
      role: "img", tabindex: "0",
      "aria-label": name + ", the " + info.title + " (" + info.what + "): " + T + " words by " +
        (units ? H + " units" : "the mean of " + H + " units") + ", " +
        shown.map((d) => directions[d]).join(" and ") + "; from " + format(scale.low) + " to " +
        format(scale.high) + ". Hover, or use the arrow keys, for values.",
    });
    paintCells(canvas, box, grid, scale, units);
    inspectCells(canvas, rows, box, (cell) => {
      const d = shown[Math.floor(cell.k / perDirection)], unit = cell.k % perDirection;
      return [tokens[cell.t], directions[d] + " · " + (units
        ? "unit " + (unit + 1) + " of " + H : "mean of " + H + " units"),
      name + " = " + grid[cell.t][cell.k].toFixed(3)];
    });

    const plot = el("div", { class: "plot" }, el("span"), heads, rows, canvas);
    figure.append(plot, colorScale(scale, name));
    return figure;
  }

  // A heatmap's geometry in CSS pixels: its rows, its columns in a block per direction shown
  // (`gap` apart), the token labels' width and the canvas's size.
  function heatLayout(T, tokens, perDirection, blocks, units, width) {
    const dense = T > 40;
    const rowHeight = dense ? 14 : 22;
    const gap = 6;
    const labelWidth = Math.min(110, 16 + 7.5 * Math.max(3, ...tokens.map((t) => Math.min(14, t.length))));
    const columns = perDirection * blocks;
    let colWidth;
    if (!units) {
      colWidth = dense ? 34 : 48;
    } else {
      // two heatmaps a row where that leaves them a few pixels a unit, else one
      const room = (share) => Math.floor((width / share - labelWidth - 24 - gap * (blocks - 1)) / columns);
      colWidth = Math.min(16, width >= 600 && room(2) >= 5 ? room(2) : Math.max(2, room(1)));
    }
    const blockWidth = colWidth * perDirection;
    return {
      rows: T, columns: columns, blocks: blocks, perDirection: perDirection, dense: dense, gap: gap,
      rowHeight: rowHeight, colWidth: colWidth, blockWidth: blockWidth, labelWidth: labelWidth,
      width: blockWidth * blocks + gap * (blocks - 1), height: rowHeight * T,
    };
  }

  function heatHeads(box, directions, shown, units) {
    const heads = el("div", { class: "heads", "aria-hidden": "true" });
    heads.style.width = box.width + "px";
    shown.forEach((d, k) => {
      const head = el("span", { title: directions[d] }, units ? ARROWS[directions[d]] || directions[d]
        : (directions[d] === "backward" ? "← bwd" : directions[d] === "forward" ? "fwd →" : directions[d]));
      head.style.left = k * (box.blockWidth + box.gap) + "px";
      head.style.width = box.blockWidth + "px";
      heads.append(head);
    });
    return heads;
  }

  // Sizes the canvas for the screen's pixel ratio and fills each cell with its value's colour
  // (and, for the means, the value itself, in black or white for contrast).
  function paintCells(canvas, box, grid, scale, units) {
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(box.width * ratio));
    canvas.height = Math.max(1, Math.round(box.height * ratio));
    canvas.style.width = box.width + "px";
    canvas.style.height = box.height + "px";
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.scale(ratio, ratio);
    const inset = units ? 0 : 1;
    const { rowHeight, colWidth } = box;
    ctx.font = (box.dense ? "10px" : "11px") + " ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let t = 0; t < box.rows; t++) {
      for (let k = 0; k < grid[t].length; k++) {
        const x = cellLeft(box, k);
        const [r, g, b] = scale.color(grid[t][k]);
        ctx.fillStyle = "rgb(" + r + "," + g + "," + b + ")";
        ctx.fillRect(x, t * rowHeight + inset / 2, colWidth - inset, rowHeight - inset);
        if (!units) {
          ctx.fillStyle = 0.299 * r + 0.587 * g + 0.114 * b > 140 ? "#1f2328" : "#ffffff";
          ctx.fillText(cellText(grid[t][k]), x + colWidth / 2, t * rowHeight + rowHeight / 2 + 0.5);
        }
      }
    }
  }

  function cellLeft(box, k) { // column k's left edge on the canvas
    const block = Math.floor(k / box.perDirection);
    return block * (box.blockWidth + box.gap) + (k % box.perDirection) * box.colWidth;
  }

  // The cell, { t: row, k: column over the directions shown }, under the pointer; null in a gap.
  function cellAt(canvas, box, event) {
    const bounds = canvas.getBoundingClientRect();
    const x = event.clientX - bounds.left, y = event.clientY - bounds.top;
    const { blockWidth, gap, perDirection } = box;
    const t = Math.floor(y / box.rowHeight);
    const block = Math.floor(x / (blockWidth + gap));
    const within = x - block * (blockWidth + gap);
    if (t < 0 || t >= box.rows || block < 0 || block >= box.blocks || within >= blockWidth) return null;
    return { t: t, k: block * perDirection + Math.min(perDirection - 1, Math.floor(within / box.colWidth)) };
  }

  function cellPoint(canvas, box, cell) { // where a cell is on the screen, for the tooltip
    const bounds = canvas.getBoundingClientRect();
    return { clientX: bounds.left + cellLeft(box, cell.k) + box.colWidth,
      clientY: bounds.top + (cell.t + 1) * box.rowHeight - 12 };
  }

  // Hover, or focus the canvas and move with the arrow keys, for a cell's tooltip (the lines
  // that `tipOf(cell)` gives) and its token's label marked in `rows`.
  function inspectCells(canvas, rows, box, tipOf) {
    const unmark = () => rows.querySelectorAll(".hot").forEach((li) => li.classList.remove("hot"));
    const leave = () => {
      unmark();
      hideTip();
    };
    const show = (cell, at) => {
      unmark();
      if (!cell) return hideTip();
      rows.children[cell.t].classList.add("hot");
      showTip(at, ...tipOf(cell));
    };
    let cursor = { t: 0, k: 0 };
    canvas.addEventListener("pointermove", (event) => show(cellAt(canvas, box, event), event));
    canvas.addEventListener("pointerleave", leave);
    canvas.addEventListener("focus", () => show(cursor, cellPoint(canvas, box, cursor)));
    canvas.addEventListener("blur", leave);
    canvas.addEventListener("keydown", (event) => {
      const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1],
        Home: [0, -box.columns], End: [0, box.columns] };
      if (event.key === "Escape") return hideTip();
      if (!moves[event.key] || !box.rows) return;
      event.preventDefault();
      const [dt, dk] = moves[event.key];
      cursor = { t: Math.max(0, Math.min(box.rows - 1, cursor.t + dt)),
        k: Math.max(0, Math.min(box.columns - 1, cursor.k + dk)) };
      show(cursor, cellPoint(canvas, box, cursor));
    });
  }

  function colorScale(scale, name) {
    const stops = scale.stops.map((c, k) => "rgb(" + c.join(",") + ") " +
      (100 * k / (scale.stops.length - 1)).toFixed(1) + "%");
    const bar = el("span", { class: "bar" });
    bar.style.background = "linear-gradient(to right, " + stops.join(", ") + ")";
    const middle = (scale.low + scale.high) / 2;
    return el("div", { class: "scale", "aria-hidden": "true", title: "colour scale of " + name },
      el("span", null, format(scale.low)), bar, el("span", null, format(scale.high)),
      el("span", { class: "mid" }, format(middle)));
  }

  function showTip(event, token, where, value) {
    tip.replaceChildren(el("strong", null, token), el("span", null, where),
      el("span", { class: "value" }, value));
    tip.hidden = false;
    // in the page's coordinates, so that it stays by its cell as the page scrolls
    const x = Math.min(event.clientX + 14, document.documentElement.clientWidth - tip.offsetWidth - 8);
    const y = event.clientY + 18 + tip.offsetHeight > window.innerHeight
      ? event.clientY - tip.offsetHeight - 10 : event.clientY + 18;
    tip.style.left = Math.max(4, x) + window.scrollX + "px";
    tip.style.top = Math.max(4, y) + window.scrollY + "px";
  }

  function hideTip() {
    tip.hidden = true;
  }

  // --- the norm's line chart ---

  function lineSwatch(direction) {
    return svg("svg", { class: "swatch-line " + direction, width: 28, height: 10, "aria-hidden": "true" },
      svg("line", { x1: 1, y1: 5, x2: 27, y2: 5 }), marker(direction, 14, 5));
  }

  function marker(direction, x, y, size = 3.5) { // a circle forward, a square backward
    return direction === "backward"
      ? svg("rect", { x: x - size, y: y - size, width: 2 * size, height: 2 * size })
      : svg("circle", { cx: x, cy: y, r: size });
  }

  function normPlot(norms, tokens, directions, shown, state) {
    const box = normLayout(norms, tokens, shown);
    const chart = svg("svg", {
      id: "norm", width: box.width, height: box.height, viewBox: "0 0 " + box.width + " " + box.height,
      role: "img", "aria-labelledby": "norm-desc",
    });
    chart.append(svg("title", { id: "norm-desc" }, "Line chart of ‖" + state + "‖ at each word, " +
      shown.map((d) => directions[d]).join(" and ")));
    chart.append(normAxis(box, tokens, state));
    for (const d of shown) chart.append(normSeries(box, norms, tokens, d, directions[d], state));
    return chart;
  }

  // The chart's geometry: its size, margins, a column per token (turned labels where they are
  // narrow), round ticks up to the largest norm shown, and x(t), y(norm) in pixels.
  function normLayout(norms, tokens, shown) {
    const T = tokens.length;
    const width = Math.max(280, normChart.clientWidth || 800);
    const step = (width - 56) / Math.max(1, T);
    const rotate = step < 64;
    const longest = Math.max(1, ...tokens.map((t) => Math.min(12, t.length)));
    const bottom = rotate ? 18 + longest * 5.5 : 30;
    const height = 200 + bottom;
    const margin = { left: 46, right: 10, top: 26, bottom: bottom };
    const plotHeight = height - margin.top - margin.bottom;
    let largest = 0;
    for (const row of norms) for (const d of shown) largest = Math.max(largest, Number(row[d]) || 0);
    const tick = nice(Math.max(largest, 1e-6) / 4);
    const ticks = Math.max(1, Math.ceil(largest / tick - 1e-9));
    const top = tick * ticks;
    return {
      width: width, height: height, margin: margin, step: step, rotate: rotate, tick: tick, ticks: ticks,
      x: (t) => margin.left + (t + 0.5) * step,
      y: (v) => margin.top + plotHeight * (1 - v / top),
    };
  }

  // Grid lines and their values, the axis's name, and the tokens under the chart.
  function normAxis(box, tokens, state) {
    const { margin, x, y } = box;
    const axis = svg("g", { class: "axis" });
    for (let k = 0; k <= box.ticks; k++) {
      const v = box.tick * k;
      const right = box.width - margin.right;
      axis.append(svg("line", { class: "grid", x1: margin.left, x2: right, y1: y(v), y2: y(v) }),
        svg("text", { x: margin.left - 6, y: y(v), "text-anchor": "end", "dominant-baseline": "middle" },
          Number(v.toPrecision(3)).toString()));
    }
    axis.append(svg("text", { class: "axis-name", x: margin.left + 4, y: 11 }, "‖" + state +
      "‖, the norm of the " + (state === "h" ? "hidden" : "cell") + " state"));
    const every = Math.max(1, Math.ceil((box.rotate ? 18 : 11) / box.step)); // labels that do not overlap
    tokens.forEach((token, t) => {
      if (t % every) return;
      const label = token.length > 12 ? token.slice(0, 11) + "…" : token;
      const at = "translate(" + x(t) + " " + (box.height - margin.bottom + 14) + ")";
      axis.append(svg("text", box.rotate ? { transform: at + " rotate(-40)", "text-anchor": "end" }
        : { transform: at, "text-anchor": "middle" }, label));
    });
    return axis;
  }

  // One direction's line, with a marker at each token that names its value on hover.
  function normSeries(box, norms, tokens, d, direction, state) {
    const { x, y } = box;
    const points = norms.map((row, t) => x(t).toFixed(1) + "," + y(Number(row[d]) || 0).toFixed(1));
    const size = Math.max(1.5, Math.min(3.5, box.step / 4));
    const group = svg("g", { class: "series " + direction });
    group.append(svg("polyline", { class: direction, points: points.join(" ") }));
    norms.forEach((row, t) => {
      const point = marker(direction, x(t), y(Number(row[d]) || 0), size);
      point.append(svg("title", null, tokens[t] + " · " + direction + " · ‖" + state + "‖ = " +
        (Number(row[d]) || 0).toFixed(3)));
      group.append(point);
    });
    return group;
  }

  // --- the three most probable tags ---

  function renderTop(sentence, tokens) {
    const top = sentence.top || [];
    topBody.replaceChildren(...tokens.map((token, t) => {
      const row = el("tr", null, el("th", { scope: "row" }, token));
      for (const guess of top[t] || []) {
        const p = Number(guess.probability);
        const tagName = String(guess.tag);
        const bar = el("span", { class: "bar " + wordClass(tagName) });
        bar.style.width = (Math.max(0, Math.min(1, p)) * 100).toFixed(1) + "%";
        row.append(el("td", {
          "data-tag": tagName, "data-probability": p.toFixed(3),
          title: describe(tagName) + " — probability " + p.toFixed(3),
        }, el("span", { class: "tag-name" }, tagName), el("span", { class: "p" }, p.toFixed(3)),
        el("span", { class: "track", "aria-hidden": "true" }, bar)));
      }
      return row;
    }));
  }

  sentencePick.addEventListener("change", () => {
    inside.sentence = Number(sentencePick.value) || 0;
    fillLayers();
    draw();
  });
  layerPick.addEventListener("change", () => {
    inside.layer = Number(layerPick.value) || 0;
    draw();
  });
  directionPick.addEventListener("change", draw);
  unitsBox.addEventListener("change", draw);
  let resizing = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(draw, 150);
  });

  button.addEventListener("click", tag);
  tagsetEl.addEventListener("change", () => {
    if (resultEl.childElementCount) tag();
  });
  textEl.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      tag();
    }
  });

  loadModel();
})();
