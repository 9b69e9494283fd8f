// The review page: no build step, no library, nothing from outside (the CSP allows this origin only).
// Every text from a post goes into the page through textContent / text nodes, never as HTML.
"use strict";

(function () {
  const TOKEN_KEY = "hatespeech-review-token";
  const ABUSIVE = ["hate speech", "offensive language"];
  const LABELS = ["hate speech", "offensive language", "neither"];
  const STRENGTH = [0.1, 0.2, 0.4, 0.7]; // contribution to a class's margin: marks s1 … s5
  const PAGE = 20;

  const $ = (id) => document.getElementById(id);
  const state = {
    model: null,
    next: null,
    filters: {},
    selected: -1,
    trySeq: 0,
    feedbackSeq: 0,
    candidateSeq: 0,
    chosen: {},
    busy: 0, // calls and timers running (data-busy)
    tokenRequired: true, // GET /review/access says
  };
  // The session: the token the page was opened with (kept here, so a call never goes out with a token
  // changed or cleared meanwhile) and the controller that aborts its calls when it ends.
  let session = null;

  // ------------------------------------------------------------------ token and calls

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  function takeTokenFromAddress() {
    // /review?key=TOKEN (links from alerts): keep it like a typed one, and remove it from the address bar
    const url = new URL(window.location.href);
    const key = url.searchParams.get("key");
    if (key !== null) {
      if (key) sessionStorage.setItem(TOKEN_KEY, key);
      url.searchParams.delete("key");
      window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
  }

  class CallError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // A call of a session that has ended (signed out): nothing to show, nothing to retry.
  class Ended extends Error {}

  // Calls and timers still running: data-busy on <body> (the browser tests wait for "0").
  function busy(delta) {
    state.busy += delta;
    document.body.dataset.busy = String(state.busy);
  }

  async function send(method, path, body, auth, signal) {
    const headers = {};
    if (auth) headers.Authorization = "Token " + auth; // none when the server has no token
    if (body !== undefined) headers["Content-Type"] = "application/json";
    busy(1);
    try {
      const response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        signal,
      });
      let data = null;
      try {
        data = await response.json();
      } catch (err) {
        data = null;
      }
      if (!response.ok) {
        const message = data && typeof data.error === "string" ? data.error : "HTTP " + response.status;
        throw new CallError(response.status, message);
      }
      return data;
    } finally {
      busy(-1);
    }
  }

  function begin(auth) {
    end();
    session = { token: auth, controller: new AbortController() };
  }

  function end() {
    if (session) session.controller.abort();
    session = null;
  }

  async function call(method, path, body) {
    const current = session;
    if (!current) throw new Ended("signed out");
    try {
      const data = await send(method, path, body, current.token, current.controller.signal);
      if (current !== session) throw new Ended("signed out");
      return data;
    } catch (err) {
      if (current !== session || (err && err.name === "AbortError")) throw new Ended("signed out");
      throw err;
    }
  }

  function showError(err) {
    if (err instanceof Ended) return;
    $("error").textContent = err ? String(err.message || err) : "";
  }

  // ------------------------------------------------------------------ small helpers

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function percent(p, digits) {
    return (100 * p).toFixed(digits === undefined ? 1 : digits) + "%";
  }

  function when(seconds) {
    return new Date(seconds * 1000).toLocaleString();
  }

  // Non-overlapping pieces of `text` from the explanation's spans ([start, end, class, contribution]),
  // which overlap (a two-word feature covers both words). Each span's contribution is spread over its
  // non-space characters, so the pieces' figures add up to the spans' exactly.
  function pieces(text, spans) {
    const cuts = new Set([0, text.length]);
    for (const s of spans) {
      cuts.add(Math.max(0, Math.min(text.length, s[0])));
      cuts.add(Math.max(0, Math.min(text.length, s[1])));
    }
    const points = Array.from(cuts).sort((a, b) => a - b);
    const index = new Map(points.map((p, i) => [p, i]));
    const solid = new Int32Array(text.length + 1); // non-space characters before each offset
    for (let i = 0; i < text.length; i++) solid[i + 1] = solid[i] + (/\s/.test(text[i]) ? 0 : 1);
    const diff = ABUSIVE.map(() => new Float64Array(points.length));
    for (const [start, end, cls, contribution] of spans) {
      const k = ABUSIVE.indexOf(cls);
      const count = solid[end] - solid[start];
      if (k < 0 || count <= 0 || !(contribution > 0)) continue;
      diff[k][index.get(start)] += contribution / count;
      diff[k][index.get(end)] -= contribution / count;
    }
    const out = [];
    const density = ABUSIVE.map(() => 0);
    for (let i = 0; i + 1 < points.length; i++) {
      const a = points[i];
      const b = points[i + 1];
      const chars = solid[b] - solid[a];
      const by = {};
      let strongest = 0;
      ABUSIVE.forEach((cls, k) => {
        density[k] += diff[k][i];
        const value = density[k] * chars;
        if (value > 1e-9) {
          by[cls] = value;
          strongest = Math.max(strongest, value);
        }
      });
      out.push({ text: text.slice(a, b), strongest, by });
    }
    return out;
  }

  function highlighted(text, spans) {
    const p = el("p", "text");
    for (const piece of pieces(text, spans || [])) {
      if (piece.strongest <= 0) {
        p.appendChild(document.createTextNode(piece.text));
        continue;
      }
      let level = 1;
      for (const step of STRENGTH) if (piece.strongest >= step) level += 1;
      const mark = el("mark", "s" + level, piece.text);
      const figures = Object.entries(piece.by).map(([cls, v]) => cls + " +" + v.toFixed(3));
      mark.title = "pushes toward " + figures.join(", ");
      mark.dataset.contribution = piece.strongest.toFixed(6);
      p.appendChild(mark);
    }
    return p;
  }

  // The strongest pieces in words, for keyboard and screen-reader users (a mark's title needs a mouse).
  function why(text, spans) {
    const strongest = pieces(text, spans || [])
      .filter((piece) => piece.strongest > 0 && piece.text.trim())
      .sort((a, b) => b.strongest - a.strongest)
      .slice(0, 5);
    if (!strongest.length) return null;
    const box = el("details", "why");
    box.appendChild(el("summary", "", "Why (the words that pushed most)"));
    const list = el("ul");
    for (const piece of strongest) {
      const figures = Object.entries(piece.by).map(([cls, v]) => cls + " +" + v.toFixed(3));
      list.appendChild(el("li", "", "\u201c" + piece.text.trim() + "\u201d: " + figures.join(", ")));
    }
    box.appendChild(list);
    return box;
  }

  function scoreList(scores) {
    const list = el("ul", "scores");
    for (const label of LABELS) {
      if (!(label in scores)) continue;
      list.appendChild(el("li", "", label + " " + percent(scores[label])));
    }
    return list;
  }

  // ------------------------------------------------------------------ the queue

  function queuePath(before) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(state.filters)) if (value) params.set(name, value);
    params.set("limit", String(PAGE));
    if (before) params.set("before", String(before));
    return "/review/queue?" + params.toString();
  }

  function renderPost(post) {
    const item = el("li", "post action-" + post.action);
    item.dataset.postId = post.id;
    item.tabIndex = -1;

    const head = el("div", "post-head");
    head.appendChild(el("span", "badge " + post.action, post.action));
    head.appendChild(el("span", "model-label", "model: " + post.label));
    const threat = (post.categories || []).includes("threat");
    if (threat) head.appendChild(el("span", "badge threat", "threat"));
    if (post.language) {
      const language = el("button", "link lang-badge", post.language);
      language.type = "button";
      const supported = post.language_supported;
      language.title =
        (post.language === "und" ? "language not named" : "language " + post.language) +
        (supported === true ? " (judged by its model)" : supported === false ? " (no model for it)" : "") +
        ": show this language only";
      language.addEventListener("click", () => {
        $("filter-language").value = post.language;
        applyFilters();
      });
      head.appendChild(language);
    }
    head.appendChild(el("time", "muted", when(post.time)));
    item.appendChild(head);

    if (post.text === null) {
      item.appendChild(el("p", "text erased", "(text erased after the retention period)"));
    } else {
      item.appendChild(highlighted(post.text, post.spans));
      const reasons = why(post.text, post.spans);
      if (reasons) item.appendChild(reasons);
    }
    if (threat) item.appendChild(threatLine(post.text, post.threat));
    item.appendChild(scoreList(post.scores));

    const meta = el("p", "meta muted");
    if (post.thread) {
      const thread = el("button", "link thread", "thread " + post.thread);
      thread.type = "button";
      thread.title = "Show this thread only";
      thread.addEventListener("click", () => {
        $("filter-thread").value = post.thread;
        applyFilters();
      });
      meta.appendChild(thread);
    }
    if (post.author) meta.appendChild(el("span", "author", "by " + post.author));
    if (post.url && /^https?:\/\//i.test(post.url)) {
      const link = el("a", "", "open the post");
      link.href = post.url;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      meta.appendChild(link);
    }
    meta.appendChild(el("span", "post-id", "id " + post.id));
    item.appendChild(meta);

    const buttons = el("div", "labels");
    buttons.setAttribute("role", "group");
    buttons.setAttribute("aria-label", "Label this post");
    LABELS.forEach((label, i) => {
      const button = el("button", "label", i + 1 + " " + label);
      button.type = "button";
      button.dataset.label = label;
      button.setAttribute("aria-pressed", "false");
      button.disabled = post.text === null;
      button.addEventListener("click", () => label_(item, post, label));
      buttons.appendChild(button);
    });
    item.appendChild(buttons);
    const status = el("p", "label-status");
    status.setAttribute("aria-live", "polite");
    item.appendChild(status);
    if (post.feedback) showLabel(item, post.feedback);
    item.addEventListener("focusin", () => select(posts().indexOf(item), false));
    return item;
  }

  // The threat check's verdict in words: it sends a post to a person whatever the model's scores.
  function threatLine(text, span) {
    const line = el("p", "threat-line");
    line.appendChild(el("strong", "", "Threat check: "));
    if (text !== null && span && span[1] > span[0]) {
      line.appendChild(el("q", "threat-span", text.slice(span[0], span[1])));
      line.appendChild(document.createTextNode(" reads as a threat of violence"));
    } else {
      line.appendChild(document.createTextNode("the text reads as a threat of violence"));
    }
    line.appendChild(document.createTextNode(" (at least review, whatever the scores)."));
    return line;
  }

  function showLabel(item, label) {
    item.dataset.labelled = label;
    for (const button of item.querySelectorAll("button[data-label]")) {
      button.setAttribute("aria-pressed", button.dataset.label === label ? "true" : "false");
    }
    item.querySelector(".label-status").textContent = "Labelled: " + label;
  }

  async function label_(item, post, label) {
    const status = item.querySelector(".label-status");
    status.textContent = "Saving…";
    try {
      // the key the server names (a board's post: its board and its id there, so the board's own
      // decision on it and this label are one feedback row)
      const key = post.feedback_key || { source: "review-page", id: post.id };
      const body = { text: post.text, label, id: key.id, source: key.source };
      // the language the service named; none (or "und"): the server identifies it
      if (post.language && post.language !== "und") body.language = post.language;
      await call("POST", "/feedback", body);
      showLabel(item, label);
      loadFeedback();
    } catch (err) {
      if (!(err instanceof Ended)) status.textContent = "Not saved: " + err.message;
    }
  }

  function posts() {
    return Array.from(document.querySelectorAll("#posts > li.post"));
  }

  function select(i, focus) {
    const all = posts();
    if (!all.length) return;
    const j = Math.max(0, Math.min(all.length - 1, i));
    if (all[state.selected]) all[state.selected].classList.remove("selected");
    state.selected = j;
    all[j].classList.add("selected");
    if (focus) {
      all[j].focus();
      all[j].scrollIntoView({ block: "nearest" });
    }
  }

  async function loadQueue(append) {
    const before = append ? state.next : null;
    const page = await call("GET", queuePath(before));
    const list = $("posts");
    if (!append) {
      list.textContent = "";
      state.selected = -1;
    }
    for (const post of page.posts) list.appendChild(renderPost(post));
    state.next = page.next;
    $("more").hidden = page.next === null;
    const shown = posts().length;
    $("queue-summary").textContent = page.total
      ? shown + " of " + page.total + " posts, newest first"
      : "No posts in the queue" + (Object.values(state.filters).some(Boolean) ? " for these filters." : ".");
  }

  function applyFilters() {
    state.filters = {
      action: $("filter-action").value,
      class: $("filter-class").value,
      threat: $("filter-threat").checked ? "true" : "",
      thread: $("filter-thread").value.trim(),
      language: $("filter-language").value.trim().toLowerCase(),
    };
    loadQueue(false).catch(showError);
  }

  // ------------------------------------------------------------------ try a text

  let tryTimer = null; // the text is scored once typing pauses

  function tryText() {
    if (tryTimer === null) busy(1);
    clearTimeout(tryTimer);
    tryTimer = setTimeout(() => {
      tryTimer = null;
      busy(-1);
      runTry();
    }, 250);
  }

  async function runTry() {
    const text = $("try-text").value;
    const seq = ++state.trySeq;
    const out = $("try-result");
    if (!text.trim()) {
      out.textContent = "";
      return;
    }
    try {
      // record: false, so the text reaches no alert, no queue and no metric: it is not a post
      const answer = await call("POST", "/moderate", { text, explain: true, record: false });
      if (seq !== state.trySeq) return; // a newer text was typed meanwhile
      out.textContent = "";
      const head = el("div", "post-head");
      head.appendChild(el("span", "badge " + answer.action, answer.action));
      head.appendChild(el("span", "model-label", "model: " + answer.label));
      const threat = Boolean(answer.categories && answer.categories.threat);
      if (threat) head.appendChild(el("span", "badge threat", "threat"));
      out.appendChild(head);
      const spans = (answer.explanation ? answer.explanation.spans : []).map((s) => [
        s.start,
        s.end,
        s.class,
        s.contribution,
      ]);
      out.appendChild(highlighted(text, spans));
      const reasons = why(text, spans);
      if (reasons) out.appendChild(reasons);
      if (threat) out.appendChild(threatLine(text, answer.threat ? [answer.threat.start, answer.threat.end] : null));
      out.appendChild(scoreList(answer.scores));
    } catch (err) {
      if (seq === state.trySeq && !(err instanceof Ended)) out.textContent = "Not scored: " + err.message;
    }
  }

  // ------------------------------------------------------------------ thresholds

  function nearest(values, t) {
    let best = 0;
    for (let i = 0; i < values.length; i++) if (Math.abs(values[i] - t) < Math.abs(values[best] - t)) best = i;
    return best;
  }

  function renderThresholds(model) {
    const box = $("sliders");
    box.textContent = "";
    const curves = model.threshold_curves || {};
    const inForce = model.thresholds || {};
    state.chosen = JSON.parse(JSON.stringify(inForce));
    if (!Object.keys(curves).length) {
      $("curves-note").textContent =
        "This model's card has no threshold curves (retrain to add them); the thresholds in force are below.";
    } else {
      $("curves-note").textContent =
        "From the model card's out-of-fold cross-validation: the share of clean posts (annotated neither) " +
        "that reach each threshold, and the share of the class it catches.";
    }
    for (const cls of ABUSIVE) {
      const curve = curves[cls];
      if (!curve || !inForce[cls]) continue;
      const set = el("fieldset", "threshold");
      set.appendChild(el("legend", "", cls));
      if (curve.data) set.appendChild(el("p", "muted", "Measured on " + curve.data + "."));
      set.appendChild(
        el("p", "muted", "In force: review ≥ " + inForce[cls].review + ", block ≥ " + inForce[cls].block),
      );
      const listId = "marks-" + cls.replace(/\W+/g, "-");
      const marks = el("datalist");
      marks.id = listId;
      for (const action of ["review", "block"]) {
        const option = el("option");
        option.value = String(nearest(curve.thresholds, inForce[cls][action]));
        option.label = "current " + action;
        marks.appendChild(option);
      }
      set.appendChild(marks);
      for (const action of ["review", "block"]) {
        const row = el("div", "slider");
        const id = "slider-" + listId + "-" + action;
        const label = el("label", "", action);
        label.htmlFor = id;
        const input = el("input");
        input.type = "range";
        input.id = id;
        input.min = "0";
        input.max = String(curve.thresholds.length - 1);
        input.step = "1";
        input.value = String(nearest(curve.thresholds, inForce[cls][action]));
        input.setAttribute("list", listId);
        input.dataset.class = cls;
        input.dataset.action = action;
        const output = el("output", "");
        output.htmlFor = id;
        const show = (moved) => {
          const i = Number(input.value);
          const t = moved ? curve.thresholds[i] : inForce[cls][action];
          const j = moved ? i : nearest(curve.thresholds, t);
          output.textContent =
            "≥ " + t + ": reached by " + percent(curve.clean_reached[j], 2) + " of clean posts, catches " +
            percent(curve.caught[j], 1) + " of " + cls + (j === nearest(curve.thresholds, inForce[cls][action]) &&
            !moved ? " (in force)" : "");
          input.setAttribute("aria-valuetext", output.textContent);
          if (moved) {
            state.chosen[cls][action] = t;
            // review may not be above block: the other slider follows
            const other = action === "review" ? "block" : "review";
            const otherInput = set.querySelector('input[data-action="' + other + '"]');
            const mustFollow = action === "review" ? t > state.chosen[cls].block : t < state.chosen[cls].review;
            if (mustFollow) {
              otherInput.value = input.value;
              otherInput.dispatchEvent(new Event("input"));
            }
            writeThresholds();
          }
        };
        input.addEventListener("input", () => show(true));
        show(false);
        row.appendChild(label);
        row.appendChild(input);
        row.appendChild(output);
        set.appendChild(row);
      }
      box.appendChild(set);
    }
    writeThresholds();
  }

  function writeThresholds() {
    $("thresholds-json").value = JSON.stringify(state.chosen);
  }

  function copyThresholds() {
    const area = $("thresholds-json");
    area.focus();
    area.select();
    const done = () => {
      $("copy-status").textContent = "Copied.";
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(area.value).then(done, () => {
        $("copy-status").textContent = "Selected: press Ctrl+C to copy.";
      });
    } else {
      $("copy-status").textContent = "Selected: press Ctrl+C to copy.";
    }
  }

  // ------------------------------------------------------------------ feedback counts

  async function loadFeedback() {
    const box = $("feedback-counts");
    const seq = ++state.feedbackSeq;
    try {
      const counts = await call("GET", "/feedback");
      if (seq !== state.feedbackSeq) return; // a newer call (after a newer label) answers instead
      box.textContent = "";
      const list = el("dl", "counts");
      const add = (name, value) => {
        list.appendChild(el("dt", "", name));
        list.appendChild(el("dd", "", value));
      };
      add("labels in all", counts.total);
      const newer = counts.newer_than_model;
      add("newer than the served model", newer === null || newer === undefined ? "unknown" : newer);
      for (const [label, n] of Object.entries(counts.by_label || {})) add("labelled " + label, n);
      for (const [source, n] of Object.entries(counts.by_source || {})) add("from " + source, n);
      box.appendChild(list);
    } catch (err) {
      if (seq === state.feedbackSeq && !(err instanceof Ended)) {
        box.textContent = "Feedback counts are not available: " + err.message;
      }
    }
  }

  // ------------------------------------------------------------------ candidate

  const CANDIDATE_POLL_MS = 1000; // the comparison is computed in the background: asked again until ready

  function candidatePath() {
    const chosen = $("candidate-choice").value;
    return "/review/candidate" + (chosen ? "?sha256=" + encodeURIComponent(chosen) : "");
  }

  function figuresTable(side) {
    const table = el("table", "figures");
    const head = el("tr");
    for (const name of ["class", "precision served → candidate", "recall served → candidate", "support"]) {
      head.appendChild(el("th", "", name));
    }
    table.appendChild(head);
    const rows = (kind) => {
      for (const [label, mine] of Object.entries(side.candidate[kind] || {})) {
        const theirs = side.served[kind][label];
        const row = el("tr");
        row.dataset.kind = kind;
        row.appendChild(el("td", "", label + (kind === "at_thresholds" ? " (reached review)" : "")));
        row.appendChild(el("td", "", theirs.precision.toFixed(3) + " → " + mine.precision.toFixed(3)));
        row.appendChild(el("td", "", theirs.recall.toFixed(3) + " → " + mine.recall.toFixed(3)));
        row.appendChild(el("td", "", mine.support));
        table.appendChild(row);
      }
    };
    rows("per_class");
    rows("at_thresholds");
    return table;
  }

  function renderCandidate(answer) {
    const box = $("candidate-result");
    box.textContent = "";
    const gate = answer.gate;
    const verdict = el("p", "gate " + (gate.passes ? "passes" : "refused"));
    verdict.id = "candidate-gate";
    verdict.textContent = gate.passes
      ? "The gate would let it through (it loses at most " + gate.max_drop + " macro-F1 on each side)."
      : "The gate would refuse it, on the " + gate.refused_on.join(" and on the ") + ".";
    box.appendChild(verdict);
    for (const side of answer.sides) {
      const part = el("div", "side");
      part.dataset.side = side.what;
      part.appendChild(el("h3", "", side.what));
      if (!side.comparable) {
        part.appendChild(el("p", "note", "Not comparable: " + side.note));
      } else if (!side.rows) {
        part.appendChild(el("p", "note", side.note));
      } else {
        let line = side.rows + " rows, the same for both: macro-F1 " + side.served.macro_f1.toFixed(3) + " served, " +
          side.candidate.macro_f1.toFixed(3) + " candidate (drop " + side.drop.toFixed(3) + ")";
        if (side.what === "board's labels" && answer.board_rows < answer.board_total) {
          line += "; the newest " + answer.board_rows + " of " + answer.board_total + " labels (model.py compare scores all)";
        }
        part.appendChild(el("p", "", line));
        part.appendChild(figuresTable(side));
      }
      box.appendChild(part);
    }
    const changes = answer.changes;
    const queue = el("div", "side");
    queue.dataset.side = "queue";
    queue.appendChild(el("h3", "", "The review queue's " + changes.posts + " most recent posts, served action → candidate's"));
    const list = el("ul", "changes");
    for (const [change, count] of Object.entries(changes.counts)) {
      const item = el("li", "", change + ": " + count);
      item.dataset.change = change;
      const samples = changes.samples[change] || [];
      if (samples.length) {
        const texts = el("ul", "samples");
        for (const text of samples) texts.appendChild(el("li", "sample", text));
        item.appendChild(texts);
      }
      list.appendChild(item);
    }
    queue.appendChild(list);
    box.appendChild(queue);
    const promote = el("p", "muted");
    promote.appendChild(document.createTextNode("To serve it (the gate decides again, on all the labels): "));
    promote.appendChild(el("code", "", answer.promote));
    box.appendChild(promote);
  }

  async function loadCandidate() {
    const seq = ++state.candidateSeq;
    const status = $("candidate-status");
    let answer;
    try {
      answer = await call("GET", candidatePath());
    } catch (err) {
      if (seq === state.candidateSeq && !(err instanceof Ended)) status.textContent = "Not available: " + err.message;
      return;
    }
    if (seq !== state.candidateSeq) return;
    const choice = $("candidate-choice");
    choice.parentElement.hidden = !answer.candidates.length; // nothing to choose from
    if (!choice.options.length) {
      for (const c of answer.candidates) {
        const option = el("option", "", c.sha256.slice(0, 12) + " · " + (c.created_at || "?") + " · " + c.where);
        option.value = c.sha256;
        choice.appendChild(option);
      }
    }
    const pinned = answer.pinned ? " MODEL_PATH pins the served model on this server: a promotion would change nothing." : "";
    if (answer.status === "none") {
      $("candidate-result").textContent = "";
      status.textContent = "No candidate: every trained model kept is the one served." + pinned;
      return;
    }
    const names = "Candidate " + answer.chosen.sha256.slice(0, 12) + " beside the served " + answer.served.sha256.slice(0, 12) + ".";
    if (answer.status === "ready") {
      status.textContent = names + pinned;
      renderCandidate(answer);
    } else if (answer.status === "failed") {
      status.textContent = names + " The comparison failed: " + answer.error;
    } else {
      status.textContent = names + " Comparing (in the background)…";
      busy(1);
      setTimeout(() => {
        busy(-1);
        if (seq === state.candidateSeq && session) loadCandidate();
      }, CANDIDATE_POLL_MS);
    }
  }

  // ------------------------------------------------------------------ start

  function describeModel(model) {
    const m = model.model || {};
    $("model-line").textContent =
      "Model " + (m.version || "?") + " · " + String(m.sha256 || "").slice(0, 12) + (m.created_at ? " · trained " + m.created_at : "");
    const hours = model.retention_hours;
    $("retention").textContent =
      model.queue === false
        ? "The queue is off on this server (REVIEW_QUEUE=off)."
        : "Posts that reached review or block with an id. Their texts are erased " +
          (hours % 24 === 0 ? hours / 24 + " days" : hours + " hours") +
          " after they were moderated (REVIEW_TEXT_RETENTION_HOURS).";
    $("retrain").textContent = model.retrain || "python model.py retrain";
  }

  async function open(auth) {
    begin(auth);
    $("login").hidden = true;
    $("app").hidden = false;
    $("logout").hidden = !state.tokenRequired;
    const [model] = await Promise.all([call("GET", "/review/model"), loadQueue(false)]);
    state.model = model;
    describeModel(model);
    renderThresholds(model);
    document.body.dataset.ready = "1"; // the first screen is drawn (the browser tests and bench wait for it)
    window.reviewReadyAt = performance.now();
    loadFeedback();
    loadCandidate();
  }

  function showLogin(message) {
    $("app").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  async function start() {
    takeTokenFromAddress();
    $("login").addEventListener("submit", (event) => {
      event.preventDefault();
      const typed = $("token").value;
      sessionStorage.setItem(TOKEN_KEY, typed);
      $("token").value = "";
      open(typed).catch(failed);
    });
    $("logout").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      end();
      showLogin("");
    });
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      applyFilters();
    });
    $("more").addEventListener("click", () => loadQueue(true).catch(showError));
    $("try-text").addEventListener("input", tryText);
    $("candidate-choice").addEventListener("change", () => loadCandidate());
    $("copy").addEventListener("click", copyThresholds);
    document.addEventListener("keydown", onKey);
    // public: does this server have a token? (never what it is)
    const access = () =>
      send("GET", "/review/access").then((answer) => {
        state.tokenRequired = answer.token_required !== false;
        $("logout").hidden = $("app").hidden || !state.tokenRequired;
      });
    const stored = token();
    if (stored) {
      // a token from this tab (or a link's ?key=) opens the page at once; the answer, asked once the
      // first screen is drawn, only hides "Forget the token" on a server that has none
      open(stored).then(access, failed).catch(showError);
      return;
    }
    try {
      await access();
    } catch (err) {
      showError(err);
      return;
    }
    if (state.tokenRequired) showLogin("");
    else open("").catch(failed);
  }

  function failed(err) {
    if (err instanceof Ended) return;
    if (err instanceof CallError && (err.status === 401 || err.status === 403)) {
      sessionStorage.removeItem(TOKEN_KEY);
      end();
      showLogin("That token was refused.");
    } else {
      showError(err);
    }
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    if ($("app").hidden) return;
    if (event.key === "j") {
      select(state.selected + 1, true);
    } else if (event.key === "k") {
      select(state.selected - 1, true);
    } else if (["1", "2", "3"].includes(event.key)) {
      const item = posts()[state.selected];
      if (!item) return;
      const button = item.querySelector('button[data-label="' + LABELS[Number(event.key) - 1] + '"]');
      if (button && !button.disabled) button.click();
    } else {
      return;
    }
    event.preventDefault();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
