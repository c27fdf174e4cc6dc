/* The projected leaderboard: polls api/leaderboard and redraws the table and the plot.
 *
 * Every label comes from the board: the ranking score's label, format, digits and direction
 * (event.metric), what the rows are (event.unit) and the reference's name (reference.name), so
 * that a lower-is-better challenge ranks, colours and draws the right way round.
 *
 * Plain JavaScript and SVG, served by the package itself: the page works on a room's network
 * without internet access. Everything a user typed (team names) goes into the page through
 * textContent, never innerHTML, so it is shown as text whatever it contains.
 */
(function () {
  "use strict";

  // Twelve colours distinct on a projector, none pale on white (same as
  // datathon/leaderboard/plot.py); past twelve teams the dash pattern changes too, and every line
  // carries its team's name at its end, so that no two teams can be mistaken.
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                   "#e377c2", "#17becf", "#7f7f7f", "#b8860b", "#1a237e", "#6b8e23"];
  const DASHES = ["", "12 3 3 3", "3 3"];   // the reference's line is the evenly dashed one
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
  // A score as event.metric says: "41.20 %" for a rate, "0.137" for a number.
  function fmt(metric, x) {
    if (x === null || x === undefined) return "–";
    return metric.format === "percent" ? (100 * x).toFixed(metric.digits) + " %" : x.toFixed(metric.digits);
  }
  // Is score a strictly better than b? No score is worse than any score.
  function better(metric, a, b) {
    if (a === null || a === undefined) return false;
    if (b === null || b === undefined) return true;
    return metric.direction === "lower" ? a < b : a > b;
  }
  function capitalised(text) { return text.charAt(0).toUpperCase() + text.slice(1); }
  // A column header: the label when short ("Success rate"), else its initials ("MAE"), as server.py.
  function short(label) {
    const words = label.split(/\s+/);
    return label.length <= 12 || words.length < 2 ? label : words.map((w) => w.charAt(0).toUpperCase()).join("");
  }

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

  // The cooperative board (as the 2018 event): every team by name with every score type of the
  // part shown and the reference's figures alongside; no rank, no "vs" column, no reordering.
  function renderCooperative(board) {
    const ev = board.event, ref = board.reference, types = ev.score_types;
    document.getElementById("head-row").replaceChildren(
      el("th", { class: "team" }, "Team"),
      ...types.map((t) => el("th", { class: "metric" }, capitalised(t.label))),
      el("th", { class: "count" }, "Subs"));
    const row = (team, reference) => {
      const tr = el("tr", reference ? { class: "reference" } : { class: "team", "data-team-id": String(team.team_id) });
      const name = el("td", { class: "team" });
      if (reference) {
        const s = svg("svg", { width: "28", height: "14", class: "swatch", "aria-hidden": "true" });
        s.appendChild(svg("line", { x1: "1", y1: "7", x2: "27", y2: "7", stroke: "#222", "stroke-width": "3",
                                    "stroke-dasharray": "6 4" }));
        name.append(s, document.createTextNode(ref.name + " (reference)"));
      } else {
        name.append(swatch(team.team_id), el("span", { class: "name" }, team.team));
      }
      tr.append(name);
      const values = team.metrics || {};
      for (const t of types) tr.append(el("td", { class: "metric" }, fmt(t, values[t.key])));
      tr.append(el("td", { class: "count" }, reference ? "" : team.submissions));
      return tr;
    };
    document.getElementById("rows").replaceChildren(...board.teams.map((t) => row(t, false)), row(ref, true));
    document.getElementById("empty").hidden = board.teams.length > 0;
  }

  function renderTable(board) {
    if (board.event.mode === "cooperative") {
      renderCooperative(board);
      renderHeader(board);
      lastPart = board.event.part;
      return;
    }
    const ev = board.event;
    const metric = ev.metric;
    const revealed = ev.revealed;
    const key = revealed ? "private_score" : "public_score";
    const ref = board.reference;
    const refScore = ref[key];
    const label = capitalised(metric.label);
    const shortLabel = short(label);

    const head = document.getElementById("head-row");
    const labels = revealed
      ? [["#", "rank"], ["Team", "team"], ["Private", "score"], ["Public", "score2"], ["Move", "move"], ["Subs", "count"]]
      : [["#", "rank"], ["Team", "team"], [shortLabel, "score"], ["vs " + clip(ref.name, 12), "delta"], ["Subs", "count"],
         ["Last", "time"]];
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
      name.append(s, document.createTextNode(ref.name + " (reference)"));
      tr.append(name, el("td", { class: "score" }, fmt(metric, refScore)));
      if (revealed) tr.append(el("td", { class: "score2" }, fmt(metric, ref.public_score)), el("td", { class: "move" }, ""));
      else tr.append(el("td", { class: "delta" }, ""));
      tr.append(el("td", { class: "count" }, ""));
      if (!revealed) tr.append(el("td", { class: "time" }, ""));
      return tr;
    };
    const newScores = new Map();
    for (const team of board.teams) {
      const score = team[key];
      if (!placed && refScore !== null && refScore !== undefined && better(metric, refScore, score)) {
        rows.push(refRow());
        placed = true;
      }
      const tr = el("tr", { class: "team", "data-team-id": String(team.team_id) });
      const name = el("td", { class: "team" });
      name.append(swatch(team.team_id));
      name.append(el("span", { class: "name" }, team.team));   // textContent: escaped
      tr.append(el("td", { class: "rank" }, team.rank === null ? "–" : team.rank), name,
                el("td", { class: "score" }, fmt(metric, score)));
      if (revealed) {
        let move = "";
        if (team.rank !== null && team.public_rank !== null && team.public_rank !== undefined) {
          const d = team.public_rank - team.rank;
          move = d === 0 ? "=" : d > 0 ? "▲ " + d : "▼ " + (-d);
          tr.classList.add(d > 0 ? "up" : d < 0 ? "down" : "same");
        }
        tr.append(el("td", { class: "score2" }, fmt(metric, team.public_score)), el("td", { class: "move" }, move),
                  el("td", { class: "count" }, team.submissions));
      } else {
        // team − reference, in points of percentage for a rate; green when the team does better
        let delta = "";
        if (score !== null && refScore !== null && refScore !== undefined) {
          const diff = (metric.format === "percent" ? 100 : 1) * (score - refScore);
          delta = (diff >= 0 ? "+" : "") + diff.toFixed(metric.digits);
        }
        const d = el("td", { class: "delta" }, delta);
        if (delta && score !== refScore) d.classList.add(better(metric, refScore, score) ? "below" : "above");
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
    renderHeader(board);
  }

  // The title, badge, subtitle and footer: what is shown, on which part, and how it counts.
  function renderHeader(board) {
    const ev = board.event, metric = ev.metric, revealed = ev.revealed, label = capitalised(metric.label);
    const cooperative = ev.mode === "cooperative";
    body.classList.toggle("cooperative", cooperative);
    body.classList.toggle("revealed", revealed);
    body.classList.toggle("live", !revealed);
    document.getElementById("title").textContent = ev.name;
    document.title = ev.name + " · leaderboard";
    document.getElementById("badge").textContent = cooperative ? (revealed ? "Final results" : "Cooperative board")
      : revealed ? "Final ranking" : "Public leaderboard";
    const total = (ev.n_public + ev.n_private).toLocaleString("en");
    const direction = (metric.direction === "lower" ? "lower" : "higher") + " is better";
    document.getElementById("subtitle").textContent = cooperative
      ? "Every team's figures on the " + ev.part + " part (" + (revealed ? ev.n_private : ev.n_public).toLocaleString("en") +
        " of " + total + " " + ev.unit + "): no ranking, help each other"
      : revealed
      ? "Final ranking: " + metric.label + " on the private part (" + ev.n_private.toLocaleString("en") + " of " +
        total + " " + ev.unit + "), " + direction
      : label + " on the public part (" + ev.n_public.toLocaleString("en") + " of " + total + " " + ev.unit + "), " +
        direction;
    document.getElementById("chart-title").textContent =
      label + " on the " + (revealed ? "private" : "public") + " part, over time";
    document.getElementById("rule").textContent = ruleText(ev);
  }

  // What the footer says of the rule: during the event, which submission counts and the quota;
  // after the reveal, that submissions are closed and what ranks (the same words as server.py).
  function ruleText(ev) {
    const counted = ev.rule === "best" ? "best public submission" : "last submission";
    if (ev.mode === "cooperative") {
      return "cooperative: no ranking · each team's " + counted + " is shown" +
        (ev.revealed ? " with its private figures · submissions closed at " + hhmm(ev.revealed_at)
                     : " · quota " + ev.quota + (ev.quota_per === "event" ? " for the event" : " per day"));
    }
    if (ev.revealed) {
      return "submissions closed at " + hhmm(ev.revealed_at) + " · ranked by the private score of each team's " +
        counted + " · the private part was hidden until the reveal";
    }
    return "each team's " + counted + " counts · quota " + ev.quota + (ev.quota_per === "event" ? " for the event" : " per day");
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
  // A pause of more than this without a submission (a night, a lunch break on a quiet day) is
  // drawn as a narrow break in the time axis, not as hours of flat lines.
  const GAP_MS = 3 * 3600 * 1000;
  const MARGIN_MS = 10 * 60 * 1000;     // room kept on each side of a working period
  const BREAK_SHARE = 0.025;            // the width of one break, as a share of the axis

  // The event's working periods: runs of submission times (and the current time) with no pause
  // longer than GAP_MS. Returns [{a, b}] in time order, each widened by MARGIN_MS.
  function workingPeriods(times) {
    const sorted = times.filter(isFinite).sort((p, q) => p - q);
    const periods = [];
    for (const t of sorted) {
      const lastPeriod = periods[periods.length - 1];
      if (lastPeriod && t - lastPeriod.b <= GAP_MS) lastPeriod.b = t;
      else periods.push({ a: t, b: t });
    }
    for (const p of periods) { p.a -= MARGIN_MS; p.b += MARGIN_MS; }
    return periods;
  }

  // A time → x mapping over the working periods, the breaks between them a fixed narrow width.
  function timeScale(periods, left, right) {
    const active = periods.reduce((sum, p) => sum + (p.b - p.a), 0);
    const breaks = periods.length - 1;
    const breakWidth = breaks ? Math.min(BREAK_SHARE, 0.3 / breaks) * (right - left) : 0;
    const perMs = (right - left - breaks * breakWidth) / active;
    const starts = [];
    let x0 = left;
    for (const p of periods) { starts.push(x0); x0 += (p.b - p.a) * perMs + breakWidth; }
    const x = (ts) => {
      for (let i = periods.length - 1; i >= 0; i--) {
        if (ts >= periods[i].a) return starts[i] + Math.min(ts - periods[i].a, periods[i].b - periods[i].a) * perMs;
      }
      return left;
    };
    return { x, starts, perMs, breakWidth };
  }

  // The value axis: it fits the teams' counted scores and the reference, never a lone bad
  // submission (its dot is drawn at the edge); a rate stays within 0-100 %.
  function valueRange(series, reference, percent) {
    let lo = Infinity, hi = -Infinity;
    for (const t of series) for (const p of t.points) { lo = Math.min(lo, p.counted); hi = Math.max(hi, p.counted); }
    if (reference !== null && reference !== undefined) { lo = Math.min(lo, reference); hi = Math.max(hi, reference); }
    if (!isFinite(lo)) return percent ? [0, 1] : [0, 1];
    const least = percent ? 0.02 : Math.max(Math.abs(hi) * 0.04, 1e-6);
    const pad = Math.max(least / 2, (hi - lo) * 0.08);
    lo -= pad; hi += pad;
    if (percent) { lo = Math.max(0, lo); hi = Math.min(1, hi); }
    return [lo, hi];
  }

  // Labels at the lines' ends, spread so that none overlaps another: sorted by height, each at
  // least `gap` below the one above (a pass down), then pulled back above `bottom` (a pass up).
  function spreadLabels(labels, gap, top, bottom) {
    labels.sort((p, q) => p.y - q.y);
    let previous = -Infinity;
    for (const l of labels) { l.ly = Math.max(l.y, previous + gap, top); previous = l.ly; }
    let next = Infinity;
    for (let i = labels.length - 1; i >= 0; i--) { labels[i].ly = Math.min(labels[i].ly, next - gap, bottom); next = labels[i].ly; }
    return labels;
  }

  function clip(text, n) { return text.length <= n ? text : text.slice(0, n - 1) + "…"; }

  function renderPlot(board) {
    const box = document.getElementById("plot-box");
    const plot = document.getElementById("plot");
    const W = Math.max(320, box.clientWidth), H = Math.max(220, box.clientHeight);
    plot.setAttribute("viewBox", "0 0 " + W + " " + H);
    plot.setAttribute("width", W);
    plot.setAttribute("height", H);
    const fs = Math.max(12, Math.min(22, Math.round(Math.min(H / 30, W / 42))));   // scales with the box
    const data = board.plot;
    const metric = board.event.metric, percent = metric.format === "percent";
    const series = data.teams.filter((t) => t.points.length > 0);
    const labelChars = 14;
    // bold text is about 0.66 em a character; the rank ("12. ") comes before the name
    const labelWidth = series.length ? 0.66 * fs * (4 + Math.min(labelChars, Math.max(...series.map((t) => t.team.length)))) : 0;
    const m = { left: 3.8 * fs, right: 1.2 * fs + labelWidth + 0.8 * fs, top: 1.2 * fs, bottom: 2.6 * fs };
    const nodes = [];

    const now = Date.parse(board.generated_at);
    const times = [now];
    for (const t of series) for (const p of t.points) times.push(Date.parse(p.t));
    if (series.length === 0) times.push(Date.parse(board.event.created));
    const periods = workingPeriods(times);
    const ts = timeScale(periods, m.left, W - m.right);
    const x = ts.x;
    const [yMin, yMax] = valueRange(series, data.reference, percent);
    const yRaw = (v) => H - m.bottom - (v - yMin) / (yMax - yMin) * (H - m.top - m.bottom);
    const y = (v) => Math.max(m.top, Math.min(H - m.bottom, yRaw(v)));   // a dot beyond the axis sits at its edge

    // the value grid
    const unit = percent ? 100 : 1;
    const step = niceStep((yMax - yMin) * unit, 6) / unit;
    const tickDigits = Math.max(0, -Math.floor(Math.log10(step * unit) + 1e-9));
    for (let v = Math.ceil(yMin / step - 1e-9) * step; v <= yMax + 1e-9; v += step) {
      nodes.push(svg("line", { x1: m.left, x2: W - m.right, y1: yRaw(v), y2: yRaw(v), class: "grid" }));
      nodes.push(svg("text", { x: m.left - 0.4 * fs, y: yRaw(v), class: "tick", "text-anchor": "end",
                               "dominant-baseline": "middle", "font-size": fs },
                     (unit * v).toFixed(tickDigits) + (percent ? " %" : "")));
    }
    // the time grid, period by period; a break between periods is a gap in the axis, labelled
    // with the day the next period starts
    const offset = new Date(periods[0].a).getTimezoneOffset() * 60000;   // ticks on local round times
    const multiDay = new Date(periods[0].a).toDateString() !== new Date(periods[periods.length - 1].b).toDateString();
    periods.forEach((p, i) => {
      const width = (p.b - p.a) * ts.perMs;
      const tStep = TIME_STEPS.find((s) => s * ts.perMs >= 4.5 * fs) || TIME_STEPS[TIME_STEPS.length - 1];
      for (let t = Math.ceil((p.a - offset) / tStep) * tStep + offset; t <= p.b; t += tStep) {
        nodes.push(svg("line", { x1: x(t), x2: x(t), y1: m.top, y2: H - m.bottom, class: "grid" }));
        if (width > 3 * fs) {
          nodes.push(svg("text", { x: x(t), y: H - m.bottom + 1.3 * fs, class: "tick", "text-anchor": "middle",
                                   "font-size": fs }, hhmm(new Date(t).toISOString())));
        }
      }
      if (multiDay) {
        nodes.push(svg("text", { x: ts.starts[i] + 0.2 * fs, y: H - m.bottom + 2.4 * fs, class: "tick day",
                                 "font-size": fs }, new Date(p.a + MARGIN_MS).toLocaleDateString([], { weekday: "short", day: "numeric" })));
      }
      if (i > 0) {   // the break: two slanted strokes across the time axis
        const bx = ts.starts[i] - ts.breakWidth / 2;
        nodes.push(svg("rect", { x: bx - ts.breakWidth / 2, y: m.top, width: ts.breakWidth, height: H - m.top - m.bottom,
                                 class: "break", "data-role": "break" }));
        for (const dx of [-0.25, 0.25]) {
          nodes.push(svg("line", { x1: bx + dx * fs - 0.3 * fs, x2: bx + dx * fs + 0.3 * fs, y1: H - m.bottom + 0.5 * fs,
                                   y2: H - m.bottom - 0.5 * fs, class: "axis" }));
        }
      }
    });
    nodes.push(svg("line", { x1: m.left, x2: m.left, y1: m.top, y2: H - m.bottom, class: "axis" }));
    nodes.push(svg("line", { x1: m.left, x2: W - m.right, y1: H - m.bottom, y2: H - m.bottom, class: "axis" }));

    // the reference line every team is measured against
    const hasReference = data.reference !== null && data.reference !== undefined;
    if (hasReference) {
      nodes.push(svg("line", { x1: m.left, x2: W - m.right, y1: y(data.reference), y2: y(data.reference),
                               class: "reference", "data-role": "reference" }));
    }

    // teams: the counted score as a step line up to now, every submission a dot, the name at the end
    const ranks = new Map(board.teams.map((t) => [t.team_id, t.rank]));
    const ordered = series.slice().sort((a, b) => (ranks.get(b.team_id) || 1e9) - (ranks.get(a.team_id) || 1e9));
    const labels = [];
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
        const out = yRaw(p.score) > H - m.bottom || yRaw(p.score) < m.top;
        g.appendChild(svg("circle", { cx: x(Date.parse(p.t)), cy: y(p.score), r: Math.max(2.5, fs / 5),
                                      fill: out ? "#fff" : colour(t.team_id), stroke: colour(t.team_id),
                                      class: out ? "dot off-axis" : "dot" }));
      }
      nodes.push(g);
      labels.push({ team: t, y: y(t.points[t.points.length - 1].counted) });
    }
    spreadLabels(labels, 1.25 * fs, m.top + 0.5 * fs, H - m.bottom);
    for (const l of labels) {
      const ex = x(now);
      const text = (ranks.get(l.team.team_id) ? ranks.get(l.team.team_id) + ". " : "") + clip(l.team.team, labelChars);
      nodes.push(svg("line", { x1: ex, x2: ex + 0.6 * fs, y1: l.y, y2: l.ly, stroke: colour(l.team.team_id),
                               class: "leader" }));
      nodes.push(svg("text", { x: ex + 0.8 * fs, y: l.ly, class: "team-label", fill: colour(l.team.team_id),
                               "dominant-baseline": "middle", "font-size": fs, "data-team-id": String(l.team.team_id) },
                     text));
    }
    if (hasReference) {   // the label last: on top, readable
      nodes.push(svg("text", { x: m.left + 0.5 * fs, y: y(data.reference) - 0.4 * fs, class: "reference-label",
                               "font-size": fs }, board.reference.name + " " + fmt(metric, data.reference)));
    }
    if (series.length === 0) {
      nodes.push(svg("text", { x: W / 2, y: H / 2, class: "tick", "text-anchor": "middle", "font-size": fs * 1.2 },
                     "no submission yet"));
    }
    plot.replaceChildren(...nodes);
  }

  // The table fills its box: the row height (and so the type) is what the box's height allows
  // for this many rows, within readable bounds, then smaller until every column fits the width.
  function fitTable() {
    const section = document.getElementById("ranking");
    const table = document.getElementById("standings");
    const rows = table.rows.length;
    if (!rows) return;
    const nameCell = table.querySelector("#rows td.team");
    // Too wide: a column pushed off the box, or team names cut to a few letters.
    const tooWide = (size) => section.scrollWidth > section.clientWidth + 1 ||
      section.scrollHeight > section.clientHeight + 1 || (nameCell && nameCell.clientWidth < 9.5 * size);
    let size = Math.max(14, Math.min(40, Math.floor(section.clientHeight / rows / 1.75)));
    table.style.fontSize = size + "px";
    while (size > 12 && tooWide(size)) {
      size -= 1;
      table.style.fontSize = size + "px";
    }
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
      fitTable();
      renderPlot(board);
      last = board;
      setStatus("updated " + hhmm(board.generated_at, true));
      body.dataset.loaded = String((Number(body.dataset.loaded) || 0) + 1); // tests wait on this
    } catch (err) {
      setStatus("connection lost (" + err.message + "), retrying…", true);
    }
    timer = setTimeout(refresh, refreshMs);
  }

  window.addEventListener("resize", () => { if (last) { fitTable(); renderPlot(last); } });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  refresh();
})();
