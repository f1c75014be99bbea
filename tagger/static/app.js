// tagger: front-end of the part-of-speech tagger's HTTP service.
// POSTs the textarea to /tag and renders each sentence's tokens with their tags (Penn Treebank's,
// or NLTK's universal ones), each token's meaning, probability and character span on hover.
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

  async function tag() {
    if (button.disabled) return;
    button.disabled = true;
    showError("");
    try {
      const response = await fetch("/tag", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text: textEl.value, tagset: tagsetEl.value }),
      });
      let body = null;
      try {
        body = await response.json();
      } catch (_) {
        body = null;
      }
      if (!response.ok) {
        const message = body && typeof body.error === "string" && body.error
          ? body.error
          : "HTTP " + response.status;
        throw new Error(message);
      }
      if (!body || !Array.isArray(body.sentences)) {
        throw new Error("HTTP " + response.status + ": unexpected response");
      }
      render(body.sentences);
    } catch (err) {
      resultEl.textContent = "";
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
