/* The projected leaderboard: polls api/leaderboard and redraws the table and the plot.
 *
 * Plain JavaScript and SVG, served by the package itself: the page works on a room's network
 * without internet access. Everything a user typed (team names) goes into the page through
 * textContent, never innerHTML, so it is shown as text whatever it contains.
 */
(function () {
  "use strict";

  // Twelve colours distinct on a projector (same as datathon/leaderboard/plot.py); past twelve
  // teams the dash pattern changes too, so that no two teams look alike.
  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                   "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#17becf", "#8c564b"];
  const DASHES = ["", "12 3 3 3", "3 3"];   // MCA's reference line is the evenly dashed one
  const SVG_NS = "http://www.w3.org/2000/svg";

  const body = document.body;
  const refreshMs = Math.max(2, Number(body.dataset.refresh) || 10) * 1000;
  const apiUrl = body.dataset.api || "api/leaderboard";

  let last = null;            // the last board received
  let lastScores = new Map(); // team_id -> counted score, to flash rows whose score changed
  let lastPart = null;        // "public" or "private": no flashing when the reveal switches it
  let timer = null;

  function colour(teamId) { return PALETTE[(teamId - 1) % PALETTE.length]; }
  function dash(teamId) { return DASHES[Math.floor((teamId - 1) / PALETTE.length) % DASHES.length]; }
  function pct(x) { return x === null || x === undefined ? "–" : (100 * x).toFixed(2) + " %"; }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function hhmm(iso, seconds) {
    if (!iso) return "";
    const d = new Date(iso);
    const opts = { hour: "2-digit", minute: "2-digit", hour12: false };
    if (seconds) opts.second = "2-digit";
    return d.toLocaleTimeString([], opts);
  }

  // A time of today as 14:03; of another day as "Sat 14:03", so that a two-day event reads right.
  function when(iso, nowIso) {
    if (!iso) return "";
    const d = new Date(iso), now = new Date(nowIso || Date.now());
    if (d.toDateString() === now.toDateString()) return hhmm(iso);
    return d.toLocaleDateString([], { weekday: "short" }) + " " + hhmm(iso);
  }

  // ------------------------------------------------------------------------------------------
  // the table

  function swatch(teamId) {
    const s = svg("svg", { width: "28", height: "14", class: "swatch", "aria-hidden": "true" });
    s.appendChild(svg("line", { x1: "1", y1: "7", x2: "27", y2: "7", stroke: colour(teamId),
                                "stroke-width": "5", "stroke-dasharray": dash(teamId) }));
    return s;
  }

  function renderTable(board) {
    const ev = board.event;
    const revealed = ev.revealed;
    const key = revealed ? "private_score" : "public_score";
    const ref = board.reference;
    const refScore = ref[key];

    const head = document.getElementById("head-row");
    const labels = revealed
      ? [["#", "rank"], ["Team", "team"], ["Private", "score"], ["Public", "score2"], ["Move", "move"], ["Subs", "count"]]
      : [["#", "rank"], ["Team", "team"], ["Success", "score"], ["vs MCA", "delta"], ["Subs", "count"], ["Last", "time"]];
    head.replaceChildren(...labels.map(([label, cls]) => el("th", { class: cls }, label)));

    const rows = [];
    let placed = false;
    const refRow = () => {
      const tr = el("tr", { class: "reference" });
      tr.append(el("td", { class: "rank" }, ""));
      const name = el("td", { class: "team" });
      const s = svg("svg", { width: "28", height: "14", class: "swatch", "aria-hidden": "true" });
      s.appendChild(svg("line", { x1: "1", y1: "7", x2: "27", y2: "7", stroke: "#222", "stroke-width": "3",
                                  "stroke-dasharray": "6 4" }));
      name.append(s, document.createTextNode("MCA (reference)"));
      tr.append(name, el("td", { class: "score" }, pct(refScore)));
      if (revealed) tr.append(el("td", { class: "score2" }, pct(ref.public_score)), el("td", { class: "move" }, ""));
      else tr.append(el("td", { class: "delta" }, ""));
      tr.append(el("td", { class: "count" }, ""));
      if (!revealed) tr.append(el("td", { class: "time" }, ""));
      return tr;
    };
    const newScores = new Map();
    for (const team of board.teams) {
      const score = team[key];
      if (!placed && refScore !== null && refScore !== undefined && (score === null || score < refScore)) {
        rows.push(refRow());
        placed = true;
      }
      const tr = el("tr", { class: "team", "data-team-id": String(team.team_id) });
      const name = el("td", { class: "team" });
      name.append(swatch(team.team_id));
      name.append(el("span", { class: "name" }, team.team));   // textContent: escaped
      tr.append(el("td", { class: "rank" }, team.rank === null ? "–" : team.rank), name,
                el("td", { class: "score" }, pct(score)));
      if (revealed) {
        let move = "";
        if (team.rank !== null && team.public_rank !== null && team.public_rank !== undefined) {
          const d = team.public_rank - team.rank;
          move = d === 0 ? "=" : d > 0 ? "▲ " + d : "▼ " + (-d);
          tr.classList.add(d > 0 ? "up" : d < 0 ? "down" : "same");
        }
        tr.append(el("td", { class: "score2" }, pct(team.public_score)), el("td", { class: "move" }, move),
                  el("td", { class: "count" }, team.submissions));
      } else {
        const delta = score === null || refScore === null || refScore === undefined
          ? "" : (100 * (score - refScore) >= 0 ? "+" : "") + (100 * (score - refScore)).toFixed(2);
        const d = el("td", { class: "delta" }, delta);
        if (delta) d.classList.add(score >= refScore ? "above" : "below");
        tr.append(d, el("td", { class: "count" }, team.submissions),
                  el("td", { class: "time" }, when(team.last_submission, board.generated_at)));
      }
      newScores.set(team.team_id, score);
      if (lastPart === ev.part && lastScores.get(team.team_id) !== score) tr.classList.add("changed");
      rows.push(tr);
    }
    if (!placed && refScore !== null && refScore !== undefined) rows.push(refRow());
    document.getElementById("rows").replaceChildren(...rows);
    document.getElementById("empty").hidden = board.teams.length > 0;
    lastScores = newScores;
    lastPart = ev.part;

    body.classList.toggle("revealed", revealed);
    body.classList.toggle("live", !revealed);
    document.getElementById("title").textContent = ev.name;
    document.title = ev.name + " · leaderboard";
    document.getElementById("badge").textContent = revealed ? "Final ranking" : "Public leaderboard";
    const total = (ev.n_public + ev.n_private).toLocaleString("en");
    document.getElementById("subtitle").textContent = revealed
      ? "Final ranking: success rate on the private part (" + ev.n_private.toLocaleString("en") + " of " + total + " test bulletins)"
      : "Success rate on the public part (" + ev.n_public.toLocaleString("en") + " of " + total + " test bulletins)";
    document.getElementById("chart-title").textContent =
      "Success rate on the " + (revealed ? "private" : "public") + " part, over time";
    document.getElementById("rule").textContent = "each team's " +
      (ev.rule === "best" ? "best public submission" : "last submission") + " counts · quota " + ev.quota +
      (ev.quota_per === "event" ? " for the event" : " per day");
  }

  // ------------------------------------------------------------------------------------------
  // the plot

  function niceStep(span, target) {
    const raw = span / Math.max(1, target);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag;
    return 10 * mag;
  }
  const TIME_STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800]
    .map((s) => s * 1000);

  function renderPlot(board) {
    const box = document.getElementById("plot-box");
    const plot = document.getElementById("plot");
    const W = Math.max(320, box.clientWidth), H = Math.max(220, box.clientHeight);
    plot.setAttribute("viewBox", "0 0 " + W + " " + H);
    plot.setAttribute("width", W);
    plot.setAttribute("height", H);
    const fs = Math.max(12, Math.min(20, Math.round(H / 32)));     // font size that scales with the box
    const m = { left: 3.8 * fs, right: 1.2 * fs, top: 1.2 * fs, bottom: 2.6 * fs };
    const data = board.plot;
    const nodes = [];

    const series = data.teams.filter((t) => t.points.length > 0);
    const now = Date.parse(board.generated_at);
    let tMin = Infinity, tMax = now, yMin = Infinity, yMax = -Infinity;
    for (const t of series) for (const p of t.points) {
      const ts = Date.parse(p.t);
      tMin = Math.min(tMin, ts); tMax = Math.max(tMax, ts);
      yMin = Math.min(yMin, p.score, p.counted); yMax = Math.max(yMax, p.score, p.counted);
    }
    if (data.reference !== null && data.reference !== undefined) {
      yMin = Math.min(yMin, data.reference); yMax = Math.max(yMax, data.reference);
    }
    if (!isFinite(tMin)) tMin = Date.parse(board.event.created);
    if (tMax - tMin < 10 * 60 * 1000) tMin = tMax - 10 * 60 * 1000;  // at least ten minutes wide
    tMax += (tMax - tMin) * 0.02;
    if (!isFinite(yMin)) { yMin = 0; yMax = 1; }
    let pad = Math.max(0.01, (yMax - yMin) * 0.08);
    yMin = Math.max(0, yMin - pad); yMax = Math.min(1, yMax + pad);
    if (yMax - yMin < 0.02) { yMin = Math.max(0, yMin - 0.01); yMax = Math.min(1, yMax + 0.01); }

    const x = (ts) => m.left + (ts - tMin) / (tMax - tMin) * (W - m.left - m.right);
    const y = (v) => H - m.bottom - (v - yMin) / (yMax - yMin) * (H - m.top - m.bottom);

    // grid and axes
    const step = niceStep((yMax - yMin) * 100, 6) / 100;
    for (let v = Math.ceil(yMin / step - 1e-9) * step; v <= yMax + 1e-9; v += step) {
      nodes.push(svg("line", { x1: m.left, x2: W - m.right, y1: y(v), y2: y(v), class: "grid" }));
      const label = (100 * v).toFixed(step * 100 < 1 ? 1 : 0) + " %";
      nodes.push(svg("text", { x: m.left - 0.4 * fs, y: y(v), class: "tick", "text-anchor": "end",
                               "dominant-baseline": "middle", "font-size": fs }, label));
    }
    const tStep = TIME_STEPS.find((s) => (tMax - tMin) / s <= 8) || TIME_STEPS[TIME_STEPS.length - 1];
    const multiDay = new Date(tMin).toDateString() !== new Date(tMax).toDateString();
    const offset = new Date(tMin).getTimezoneOffset() * 60000;   // ticks on local round times
    for (let ts = Math.ceil((tMin - offset) / tStep) * tStep + offset; ts <= tMax; ts += tStep) {
      nodes.push(svg("line", { x1: x(ts), x2: x(ts), y1: m.top, y2: H - m.bottom, class: "grid" }));
      const d = new Date(ts);
      let label = hhmm(d.toISOString());
      if (multiDay && (tStep >= 86400000 || (d.getHours() === 0 && d.getMinutes() === 0)))
        label = d.toLocaleDateString([], { weekday: "short", day: "numeric" });   // a new day
      nodes.push(svg("text", { x: x(ts), y: H - m.bottom + 1.3 * fs, class: "tick", "text-anchor": "middle",
                               "font-size": fs }, label));
    }
    nodes.push(svg("line", { x1: m.left, x2: m.left, y1: m.top, y2: H - m.bottom, class: "axis" }));
    nodes.push(svg("line", { x1: m.left, x2: W - m.right, y1: H - m.bottom, y2: H - m.bottom, class: "axis" }));

    // MCA: the reference line every team is measured against
    if (data.reference !== null && data.reference !== undefined) {
      nodes.push(svg("line", { x1: m.left, x2: W - m.right, y1: y(data.reference), y2: y(data.reference),
                               class: "reference", "data-role": "reference" }));
    }

    // teams: the counted score as a step line up to now, and every submission as a dot
    const ranks = new Map(board.teams.map((t) => [t.team_id, t.rank]));
    const ordered = series.slice().sort((a, b) => (ranks.get(b.team_id) || 1e9) - (ranks.get(a.team_id) || 1e9));
    for (const t of ordered) {   // the leader drawn last, on top
      const g = svg("g", { class: "team", "data-team-id": String(t.team_id) });
      g.appendChild(svg("title", {}, t.team));                     // hover: the name, as text
      let d = "";
      t.points.forEach((p, i) => {
        const px = x(Date.parse(p.t)), py = y(p.counted);
        d += i === 0 ? "M" + px + "," + py : "H" + px + "V" + py;
      });
      d += "H" + x(now);
      g.appendChild(svg("path", { d: d, class: "line", stroke: colour(t.team_id),
                                  "stroke-dasharray": dash(t.team_id) }));
      for (const p of t.points) {
        g.appendChild(svg("circle", { cx: x(Date.parse(p.t)), cy: y(p.score), r: Math.max(2.5, fs / 5),
                                      fill: colour(t.team_id), class: "dot" }));
      }
      nodes.push(g);
    }
    if (data.reference !== null && data.reference !== undefined) {   // the label last: on top, readable
      nodes.push(svg("text", { x: m.left + 0.5 * fs, y: y(data.reference) - 0.4 * fs, class: "reference-label",
                               "font-size": fs }, "MCA " + pct(data.reference)));
    }
    if (series.length === 0) {
      nodes.push(svg("text", { x: W / 2, y: H / 2, class: "tick", "text-anchor": "middle", "font-size": fs * 1.2 },
                     "no submission yet"));
    }
    plot.replaceChildren(...nodes);
  }

  // ------------------------------------------------------------------------------------------
  // polling

  function setStatus(text, bad) {
    const s = document.getElementById("status");
    s.textContent = text;
    s.classList.toggle("bad", !!bad);
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const resp = await fetch(apiUrl, { cache: "no-store", headers: { Accept: "application/json" } });
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      const board = await resp.json();
      renderTable(board);
      renderPlot(board);
      last = board;
      setStatus("updated " + hhmm(board.generated_at, true));
      body.dataset.loaded = String((Number(body.dataset.loaded) || 0) + 1); // tests wait on this
    } catch (err) {
      setStatus("connection lost (" + err.message + "), retrying…", true);
    }
    timer = setTimeout(refresh, refreshMs);
  }

  window.addEventListener("resize", () => { if (last) renderPlot(last); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  refresh();
})();
