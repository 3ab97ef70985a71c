/* clientops Gantt chart: a virtualised grid (DOM) beside a canvas timeline.
 *
 * Only what is on screen is built or drawn: the grid holds the visible rows (plus a few), the
 * canvas paints the visible rows and days. No library, no build step; CSP "script-src 'self'".
 *
 * Host element: <div data-gantt data-src="…json" [data-move-url="…"] [data-editable="1"]
 *   [data-columns="code,name,duration,start,finish,float"] data-i18n='{…}'>.
 * Data: {tasks: [{id, code, name, parent_id, level, start, finish, duration, milestone, summary,
 *   critical, progress, baseline_start, baseline_finish, total_float}], links: [{from, to, type,
 *   lag}], today, calendar: {weekend: [0, 6], holidays: [iso…], workdays: [iso…]}}.
 * Dates are ISO days; a finish is the last day of work (inclusive).
 * Move: POST move-url {task_id, start} or {task_id, finish} → {tasks: [changed tasks…]}.
 */
(function () {
  "use strict";

  const DAY_MS = 86400000;
  const ZOOMS = { day: 28, week: 9, month: 2.4 };
  const ROW = 28;
  const HEAD = 44;
  const PAD_DAYS = 21;
  const OVERSCAN = 8;
  const EXPORT_ROWS = 600;
  const C = {
    bar: "#4a7fd0", barDone: "#2c5597", crit: "#d0453a", critDone: "#9c2a21",
    summary: "#27313b", milestone: "#27313b", base: "#b9c2cc", link: "#7d8996",
    today: "#1f8a4c", off: "#f1f3f6", line: "#e3e7ec", text: "#1f2933", muted: "#6b7785",
    select: "#e8f0fb", drag: "rgba(23,99,198,0.35)",
  };
  const FONT = '12px -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", sans-serif';
  const LABELS = {
    code: "WBS", name: "Task", duration: "Duration", start: "Start", finish: "Finish",
    float: "Float", day: "Day", week: "Week", month: "Month", today: "Today", png: "PNG",
    pdf: "PDF", days: "d", moved: "Saved: %(n)s tasks re-scheduled.", failed: "Not saved: %(m)s",
    critical: "critical", milestone: "milestone", keys: "",
  };

  /* ---- days as integers (days since 1970-01-01, UTC) ---- */
  function dayOf(iso) {
    if (!iso) return null;
    const p = iso.slice(0, 10).split("-");
    return Math.round(Date.UTC(+p[0], +p[1] - 1, +p[2]) / DAY_MS);
  }
  function isoOf(n) { return new Date(n * DAY_MS).toISOString().slice(0, 10); }
  function weekdayOf(n) { return (((n + 4) % 7) + 7) % 7; } /* 0 = Sunday; 1970-01-01 was a Thursday */
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  }
  function fill(msg, vars) { return msg.replace(/%\((\w+)\)s/g, (_, k) => (k in vars ? vars[k] : "")); }

  class Calendar {
    constructor(cal) {
      cal = cal || {};
      this.weekend = new Set(cal.weekend || [0, 6]);
      this.holidays = new Set((cal.holidays || []).map(dayOf));
      this.workdays = new Set((cal.workdays || []).map(dayOf));
    }
    working(n) {
      if (this.workdays.has(n)) return true;
      return !this.holidays.has(n) && !this.weekend.has(weekdayOf(n));
    }
    /* The nearest working day from n in direction step (+1 or -1), n itself when it works. */
    snap(n, step) {
      for (let i = 0; i < 366 && !this.working(n); i++) n += step;
      return n;
    }
    count(a, b) { let k = 0; for (let n = a; n <= b; n++) if (this.working(n)) k++; return k; }
    /* The day on which ``days`` working days starting at working day a end. */
    finishOf(a, days) {
      let n = a, left = Math.max(days, 1) - 1;
      while (left > 0) { n++; if (this.working(n)) left--; }
      return n;
    }
  }

  class Gantt {
    constructor(host) {
      this.host = host;
      host.gantt = this;
      const ds = host.dataset;
      this.src = ds.src;
      this.moveUrl = ds.moveUrl || "";
      this.editable = ds.editable === "1" && !!this.moveUrl;
      this.columns = (ds.columns || "code,name,duration,start,finish,float").split(",");
      this.L = Object.assign({}, LABELS, ds.i18n ? JSON.parse(ds.i18n) : {});
      this.zoom = ZOOMS[ds.zoom] ? ds.zoom : "day";
      this.dayW = ZOOMS[this.zoom];
      this.tasks = [];
      this.rows = [];
      this.links = [];
      this.byId = new Map();
      this.collapsed = new Set();
      this.selected = -1;
      this.drag = null;
      this.frame = 0;
      this.gridKey = "";
      this.version = 0;
      this.stats = { frames: 0, bars: 0, rows: 0 };
      this.locale = document.documentElement.lang || "en";
      this._build();
      if (this.src) this.load(this.src);
    }

    /* ---- DOM ---- */
    _build() {
      const L = this.L;
      const zooms = Object.keys(ZOOMS).map((z) =>
        `<button type="button" data-zoom="${z}" aria-pressed="${z === this.zoom}">${esc(L[z])}</button>`).join("");
      this.host.classList.add("gantt");
      this.host.innerHTML =
        `<div class="g-tools" role="toolbar">${zooms}` +
        `<button type="button" data-act="today">${esc(L.today)}</button>` +
        `<span class="g-sep"></span><button type="button" data-act="png">${esc(L.png)}</button>` +
        `<button type="button" data-act="pdf">${esc(L.pdf)}</button>` +
        `<span class="g-keys muted small">${esc(L.keys)}</span></div>` +
        `<div class="g-main"><div class="g-grid" role="treegrid" tabindex="0" aria-label="${esc(L.name)}">` +
        `<div class="g-ghead" role="row">${this.columns.map((c) =>
          `<span role="columnheader" class="g-c g-${c}">${esc(L[c] || c)}</span>`).join("")}</div>` +
        `<div class="g-gbody"><div class="g-rows" role="rowgroup"></div></div></div>` +
        `<div class="g-tl"><canvas></canvas><div class="g-scroll"><div class="g-space"></div></div>` +
        `<div class="g-tip" hidden></div></div></div><div class="g-status" role="status" aria-live="polite"></div>`;
      const q = (s) => this.host.querySelector(s);
      this.grid = q(".g-grid");
      this.gbody = q(".g-gbody");
      this.rowsEl = q(".g-rows");
      this.tl = q(".g-tl");
      this.canvas = q("canvas");
      this.ctx = this.canvas.getContext("2d");
      this.scroller = q(".g-scroll");
      this.space = q(".g-space");
      this.tip = q(".g-tip");
      this.status = q(".g-status");
      this._wire();
    }

    _wire() {
      this.scroller.addEventListener("scroll", () => this.request(), { passive: true });
      this.gbody.addEventListener("wheel", (e) => {
        this.scroller.scrollTop += e.deltaY;
        e.preventDefault();
      }, { passive: false });
      this.host.querySelector(".g-tools").addEventListener("click", (e) => this._tool(e));
      this.rowsEl.addEventListener("click", (e) => this._rowClick(e));
      this.rowsEl.addEventListener("dblclick", (e) => {
        const row = e.target.closest("[data-row]");
        if (row) this.open(this.rows[+row.dataset.row]);
      });
      this.grid.addEventListener("keydown", (e) => this._key(e));
      this.scroller.addEventListener("pointerdown", (e) => this._down(e));
      this.scroller.addEventListener("pointermove", (e) => this._move(e));
      this.scroller.addEventListener("pointerup", (e) => this._up(e));
      this.scroller.addEventListener("pointerleave", () => { this.tip.hidden = true; });
      new ResizeObserver(() => this._resize()).observe(this.tl);
    }

    _tool(e) {
      const b = e.target.closest("button");
      if (!b) return;
      if (b.dataset.zoom) this.setZoom(b.dataset.zoom);
      else if (b.dataset.act === "today") this.scrollToDay(dayOf(this.today), 0.3);
      else if (b.dataset.act === "png") this.exportPng();
      else if (b.dataset.act === "pdf") this.exportPdf();
    }

    /* ---- data ---- */
    async load(url) {
      const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!r.ok) { this.say(fill(this.L.failed, { m: r.status })); return; }
      this.setData(await r.json());
    }

    setData(data) {
      this.cal = new Calendar(data.calendar);
      this.today = data.today || isoOf(Math.floor(Date.now() / DAY_MS));
      this.tasks = data.tasks || [];
      this.links = data.links || [];
      this.byId = new Map();
      for (const t of this.tasks) { this._norm(t); this.byId.set(t.id, t); }
      this._range();
      this._flatten();
      this._resize();
      this.scrollToDay(this.first - 2, 0);
      this.draw();
      this.host.dataset.ready = "1";
      performance.mark("gantt-ready");
      this.host.dispatchEvent(new CustomEvent("gantt:ready", { bubbles: true }));
    }

    _norm(t) {
      t._s = dayOf(t.start);
      t._f = dayOf(t.finish);
      if (t._f == null || t._f < t._s) t._f = t._s;
      t._bs = dayOf(t.baseline_start);
      t._bf = dayOf(t.baseline_finish);
      t._p = Math.max(0, Math.min(1, (+t.progress || 0) / 100));
    }

    _range() {
      let lo = Infinity, hi = -Infinity;
      for (const t of this.tasks) {
        if (t._s != null) { lo = Math.min(lo, t._s, t._bs ?? t._s); hi = Math.max(hi, t._f, t._bf ?? t._f); }
      }
      const today = dayOf(this.today);
      if (!isFinite(lo)) { lo = today; hi = today; }
      this.first = lo;
      this.origin = Math.min(lo, today) - PAD_DAYS;
      this.end = Math.max(hi, today) + PAD_DAYS * 3;
    }

    /* The visible rows: tasks in WBS order, skipping descendants of collapsed summaries. */
    _flatten() {
      const rows = [];
      let hideBelow = Infinity;
      for (const t of this.tasks) {
        const lv = t.level || 0;
        if (lv > hideBelow) { t._row = -1; continue; }
        hideBelow = this.collapsed.has(t.id) ? lv : Infinity;
        t._row = rows.length;
        rows.push(t);
      }
      this.rows = rows;
      this.grid.setAttribute("aria-rowcount", String(rows.length + 1));
      this.gridKey = "";
    }

    /* ---- geometry ---- */
    _resize() {
      const w = this.tl.clientWidth, h = this.tl.clientHeight;
      const dpr = window.devicePixelRatio || 1;
      this.vw = w; this.vh = h; this.dpr = dpr;
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
      this.canvas.style.width = w + "px";
      this.canvas.style.height = h + "px";
      this.space.style.width = Math.ceil((this.end - this.origin + 1) * this.dayW) + "px";
      this.space.style.height = this.rows.length * ROW + "px";
      this.draw();
    }

    xOf(n) { return (n - this.origin) * this.dayW; }
    dayAt(x) { return Math.floor(x / this.dayW) + this.origin; }
    barOf(t, s, f) {
      s = s ?? t._s; f = f ?? t._f;
      /* A milestone's date is when it is reached: the end of that day, as in MS Project. */
      if (t.milestone) { const x = this.xOf(s + 1); return [x, x]; }
      return [this.xOf(s), this.xOf(f + 1)];
    }

    setZoom(z) {
      if (!ZOOMS[z] || z === this.zoom) return;
      const mid = this.dayAt(this.scroller.scrollLeft + this.vw / 2);
      this.zoom = z;
      this.dayW = ZOOMS[z];
      for (const b of this.host.querySelectorAll("[data-zoom]")) b.setAttribute("aria-pressed", String(b.dataset.zoom === z));
      this.host.dataset.zoom = z;
      this._resize();
      this.scrollToDay(mid, 0.5);
    }

    scrollToDay(n, at) {
      if (n == null) return;
      this.scroller.scrollLeft = Math.max(0, this.xOf(n) - this.vw * at);
      this.request();
    }

    request() {
      if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
    }

    view() {
      const st = this.scroller.scrollTop, sl = this.scroller.scrollLeft;
      const r0 = Math.max(0, Math.floor(st / ROW));
      const r1 = Math.min(this.rows.length, Math.ceil((st + this.vh - HEAD) / ROW) + 1);
      return { sl, st, r0, r1, w: this.vw, h: this.vh };
    }

    /* ---- drawing ---- */
    draw() {
      if (!this.cal || !this.vw) return;
      const v = this.view();
      const ctx = this.ctx;
      ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
      this.paint(ctx, v);
      this._gridRows(v);
      this.stats.frames++;
      performance.mark("gantt-frame");
      this.host.dispatchEvent(new CustomEvent("gantt:frame"));
    }

    /* Paint the timeline of view v (scroll offsets, rows r0..r1, size w×h) on ctx. */
    paint(ctx, v) {
      const d0 = this.dayAt(v.sl), d1 = this.dayAt(v.sl + v.w) + 1;
      ctx.clearRect(0, 0, v.w, v.h);
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, v.w, v.h);
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, HEAD, v.w, v.h - HEAD);
      ctx.clip();
      ctx.translate(-v.sl, HEAD - v.st);
      this._paintDays(ctx, v, d0, d1);
      if (this.selected >= 0 && this.selected >= v.r0 && this.selected < v.r1) {
        ctx.fillStyle = C.select;
        ctx.fillRect(v.sl, this.selected * ROW, v.w, ROW);
      }
      this._paintLinks(ctx, v);
      this.stats.bars = this._paintBars(ctx, v);
      ctx.restore();
      this._paintHead(ctx, v, d0, d1);
    }

    _paintDays(ctx, v, d0, d1) {
      const dw = this.dayW, top = v.st, h = v.h;
      ctx.fillStyle = C.off;
      if (dw >= 6) {
        for (let n = d0; n <= d1; n++) if (!this.cal.working(n)) ctx.fillRect(this.xOf(n), top, dw, h);
      }
      ctx.fillStyle = C.line;
      for (let n = d0; n <= d1; n++) {
        const date = new Date(n * DAY_MS);
        const edge = dw >= 6 ? weekdayOf(n) === 1 : date.getUTCDate() === 1;
        if (edge) ctx.fillRect(Math.round(this.xOf(n)), top, 1, h);
      }
      const today = dayOf(this.today);
      if (today >= d0 && today <= d1) {
        ctx.fillStyle = C.today;
        ctx.fillRect(Math.round(this.xOf(today) + Math.min(dw, 28) / 2), top, 2, h);
      }
    }

    _paintBars(ctx, v) {
      let count = 0;
      const dw = this.dayW;
      ctx.font = FONT;
      ctx.textBaseline = "middle";
      for (let r = v.r0; r < v.r1; r++) {
        const t = this.rows[r];
        if (t._s == null) continue;
        const y = r * ROW;
        const dragging = this.drag && this.drag.task === t && this.drag.moved;
        if (t._bs != null) this._paintBaseline(ctx, t, y);
        const [x0, x1] = this.barOf(t);
        if (t.summary) this._paintSummary(ctx, x0, x1, y);
        else if (t.milestone) this._paintDiamond(ctx, x0, y, t.critical ? C.crit : C.milestone);
        else this._paintTask(ctx, t, x0, x1, y);
        if (dragging) {
          const [g0, g1] = this.barOf(t, this.drag.s, this.drag.f);
          ctx.fillStyle = C.drag;
          ctx.fillRect(g0 - (t.milestone ? 7 : 0), y + 5, Math.max(g1 - g0, 2) + (t.milestone ? 14 : 0), ROW - 10);
        }
        if (dw >= 6) {
          ctx.fillStyle = C.muted;
          ctx.fillText(t.name || "", x1 + (t.milestone ? 10 : 5), y + ROW / 2);
        }
        count++;
      }
      return count;
    }

    _paintBaseline(ctx, t, y) {
      const x0 = this.xOf(t._bs + (t.milestone ? 1 : 0)), x1 = t.milestone ? x0 + 2 : this.xOf(t._bf + 1);
      ctx.fillStyle = C.base;
      ctx.fillRect(x0, y + ROW - 7, Math.max(x1 - x0, 2), 3);
    }

    _paintSummary(ctx, x0, x1, y) {
      ctx.fillStyle = C.summary;
      ctx.fillRect(x0, y + 8, x1 - x0, 6);
      ctx.beginPath();
      ctx.moveTo(x0, y + 14); ctx.lineTo(x0 + 5, y + 14); ctx.lineTo(x0, y + 19); ctx.closePath();
      ctx.moveTo(x1, y + 14); ctx.lineTo(x1 - 5, y + 14); ctx.lineTo(x1, y + 19); ctx.closePath();
      ctx.fill();
    }

    _paintDiamond(ctx, x, y, color) {
      const cy = y + ROW / 2 - 1;
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.moveTo(x, cy - 7); ctx.lineTo(x + 7, cy); ctx.lineTo(x, cy + 7); ctx.lineTo(x - 7, cy);
      ctx.closePath();
      ctx.fill();
    }

    _paintTask(ctx, t, x0, x1, y) {
      const w = Math.max(x1 - x0, 2);
      ctx.fillStyle = t.critical ? C.crit : C.bar;
      ctx.fillRect(x0, y + 6, w, 14);
      if (t._p > 0) {
        ctx.fillStyle = t.critical ? C.critDone : C.barDone;
        ctx.fillRect(x0, y + 11, w * t._p, 4);
      }
    }

    _paintLinks(ctx, v) {
      const paths = { [C.link]: new Path2D(), [C.crit]: new Path2D() };
      const heads = { [C.link]: new Path2D(), [C.crit]: new Path2D() };
      const lo = v.r0 - 1, hi = v.r1 + 1;
      for (const l of this.links) {
        const a = this.byId.get(l.from), b = this.byId.get(l.to);
        if (!a || !b || a._row < 0 || b._row < 0 || a._s == null || b._s == null) continue;
        if (Math.max(a._row, b._row) < lo || Math.min(a._row, b._row) > hi) continue;
        const color = a.critical && b.critical ? C.crit : C.link;
        this._route(paths[color], heads[color], a, b, l.type || "FS");
      }
      ctx.lineWidth = 1;
      for (const color of [C.link, C.crit]) {
        ctx.strokeStyle = color;
        ctx.fillStyle = color;
        ctx.stroke(paths[color]);
        ctx.fill(heads[color]);
      }
    }

    /* An elbow from the predecessor's start or finish to the successor's start or finish. */
    _route(path, head, a, b, type) {
      const fromFinish = type === "FS" || type === "FF";
      const toStart = type === "FS" || type === "SS";
      const [a0, a1] = this.barOf(a), [b0, b1] = this.barOf(b);
      const xa = fromFinish ? a1 + (a.milestone ? 7 : 0) : a0 - (a.milestone ? 7 : 0);
      const xb = toStart ? b0 - (b.milestone ? 7 : 0) : b1 + (b.milestone ? 7 : 0);
      const ya = a._row * ROW + ROW / 2, yb = b._row * ROW + ROW / 2;
      const out = xa + (fromFinish ? 6 : -6), into = xb + (toStart ? -6 : 6);
      path.moveTo(xa, ya);
      path.lineTo(out, ya);
      if (toStart ? out <= into : out >= into) {
        path.lineTo(out, yb);
      } else {
        const mid = ya + (yb >= ya ? ROW / 2 : -ROW / 2);
        path.lineTo(out, mid);
        path.lineTo(into, mid);
        path.lineTo(into, yb);
      }
      path.lineTo(xb, yb);
      const dir = toStart ? -1 : 1;
      head.moveTo(xb, yb);
      head.lineTo(xb + dir * 5, yb - 3.5);
      head.lineTo(xb + dir * 5, yb + 3.5);
      head.closePath();
    }

    _paintHead(ctx, v, d0, d1) {
      ctx.fillStyle = "#fafbfc";
      ctx.fillRect(0, 0, v.w, HEAD);
      ctx.fillStyle = C.line;
      ctx.fillRect(0, HEAD / 2, v.w, 1);
      ctx.fillRect(0, HEAD - 1, v.w, 1);
      ctx.font = FONT;
      ctx.textBaseline = "middle";
      const top = this.zoom === "month" ? "year" : "month";
      const bottom = { day: "day", week: "week", month: "month" }[this.zoom];
      this._tier(ctx, v, d0, d1, top, 0);
      this._tier(ctx, v, d0, d1, bottom, HEAD / 2);
    }

    /* One header tier: a label at the start of each year, month, ISO week or day. */
    _tier(ctx, v, d0, d1, unit, y) {
      const starts = [];
      const back = { day: 0, week: 7, month: 31, year: 366 }[unit];
      for (let n = d0 - back; n <= d1; n++) {
        const d = new Date(n * DAY_MS);
        const edge = unit === "day" || (unit === "week" && weekdayOf(n) === 1) ||
          (unit === "month" && d.getUTCDate() === 1) ||
          (unit === "year" && d.getUTCDate() === 1 && d.getUTCMonth() === 0);
        if (edge) starts.push(n);
      }
      for (let i = 0; i < starts.length; i++) {
        const n = starts[i], next = starts[i + 1] ?? d1 + 1;
        const x0 = this.xOf(n) - v.sl, x1 = this.xOf(next) - v.sl;
        if (x1 < 0) continue;
        ctx.fillStyle = C.line;
        ctx.fillRect(Math.round(x0), y, 1, HEAD / 2);
        const text = this._label(n, unit);
        ctx.fillStyle = unit === "day" && !this.cal.working(n) ? C.muted : C.text;
        const tx = Math.max(x0, 0) + 4;
        if (ctx.measureText(text).width < x1 - tx - 2 || unit === "day") {
          ctx.fillText(text, unit === "day" ? x0 + 4 : tx, y + HEAD / 4);
        }
      }
    }

    _label(n, unit) {
      const d = new Date(n * DAY_MS);
      if (unit === "day") return String(d.getUTCDate());
      if (unit === "week") return this._fmt({ month: "numeric", day: "numeric" }).format(d);
      if (unit === "month") return this._fmt(this.zoom === "month" ? { month: "short" } : { year: "numeric", month: "long" }).format(d);
      return String(d.getUTCFullYear());
    }

    _fmt(opts) {
      const key = JSON.stringify(opts);
      this._fmts = this._fmts || {};
      if (!this._fmts[key]) this._fmts[key] = new Intl.DateTimeFormat(this.locale, Object.assign({ timeZone: "UTC" }, opts));
      return this._fmts[key];
    }

    /* ---- the grid: only the visible rows exist in the DOM ---- */
    _gridRows(v) {
      const r0 = Math.max(0, v.r0 - OVERSCAN), r1 = Math.min(this.rows.length, v.r1 + OVERSCAN);
      this.rowsEl.style.transform = `translateY(${-v.st}px)`;
      const key = r0 + ":" + r1 + ":" + this.selected + ":" + this.version;
      if (key === this.gridKey) return;
      this.gridKey = key;
      const html = [];
      for (let r = r0; r < r1; r++) html.push(this._rowHtml(this.rows[r], r));
      this.rowsEl.innerHTML = html.join("");
      this.stats.rows = r1 - r0;
      this.host.dataset.rowsInDom = String(r1 - r0);
      if (this.selected >= 0) this.grid.setAttribute("aria-activedescendant", this._rowId(this.selected));
    }

    _rowId(r) { return (this.host.id || "gantt") + "-r" + r; }

    _rowHtml(t, r) {
      const cells = this.columns.map((c) => `<span role="gridcell" class="g-c g-${c}">${this._cell(t, c)}</span>`);
      const cls = "g-row" + (t.critical ? " crit" : "") + (t.summary ? " sum" : "") + (r === this.selected ? " on" : "");
      const exp = t.summary ? ` aria-expanded="${!this.collapsed.has(t.id)}"` : "";
      return `<div role="row" id="${this._rowId(r)}" class="${cls}" style="top:${r * ROW}px" data-row="${r}" ` +
        `data-id="${esc(t.id)}" aria-rowindex="${r + 2}" aria-level="${(t.level || 0) + 1}"${exp}` +
        `${r === this.selected ? ' aria-selected="true"' : ""}>${cells.join("")}</div>`;
    }

    _cell(t, c) {
      const L = this.L;
      if (c === "name") {
        const pad = (t.level || 0) * 14;
        const twisty = t.summary ? `<b class="g-tw" data-toggle="1" aria-hidden="true">${this.collapsed.has(t.id) ? "\u25b8" : "\u25be"}</b>` : "";
        const tags = (t.critical ? ` <i class="g-tag">${esc(L.critical)}</i>` : "") + (t.milestone ? ` <i class="g-tag m">\u25c6</i>` : "");
        return `<span style="padding-left:${pad}px">${twisty}${esc(t.name)}${tags}</span>`;
      }
      if (c === "duration") return t.duration == null ? "" : esc(t.duration) + " " + esc(L.days);
      if (c === "float") return t.total_float == null ? "" : esc(t.total_float);
      if (c === "start" || c === "finish") return esc((t[c] || "").slice(0, 10));
      return esc(t[c]);
    }

    _rowClick(e) {
      const row = e.target.closest("[data-row]");
      if (!row) return;
      const r = +row.dataset.row;
      if (e.target.dataset.toggle) this.toggle(this.rows[r]);
      else this.select(r);
      this.grid.focus({ preventScroll: true });
    }

    /* Enter or double-click: follow data-open ("/projects/{id}") if set, and tell the page. */
    open(t) {
      if (!t) return;
      this.host.dispatchEvent(new CustomEvent("gantt:open", { detail: t, bubbles: true }));
      const url = this.host.dataset.open;
      if (url) window.location.assign(url.replace("{id}", encodeURIComponent(t.id)));
    }

    toggle(t) {
      if (!t || !t.summary) return;
      if (this.collapsed.has(t.id)) this.collapsed.delete(t.id); else this.collapsed.add(t.id);
      const keep = this.rows[this.selected];
      this._flatten();
      this.selected = keep && keep._row >= 0 ? keep._row : t._row;
      this._resize();
    }

    select(r, reveal) {
      if (!this.rows.length) return;
      this.selected = Math.max(0, Math.min(this.rows.length - 1, r));
      const t = this.rows[this.selected];
      if (reveal !== false) this._reveal(t);
      this.gridKey = "";
      this.draw();  /* at once: the active row is announced on this key press, not the next frame */
      this.host.dispatchEvent(new CustomEvent("gantt:select", { detail: t, bubbles: true }));
    }

    /* Scroll so that task t's row (and its bar when off screen) is visible. */
    _reveal(t) {
      const s = this.scroller, y = t._row * ROW, inner = this.vh - HEAD - 16;
      if (y < s.scrollTop) s.scrollTop = y;
      else if (y + ROW > s.scrollTop + inner) s.scrollTop = y + ROW - inner;
      if (t._s == null) return;
      const [x0, x1] = this.barOf(t);
      if (x1 < s.scrollLeft || x0 > s.scrollLeft + this.vw) s.scrollLeft = Math.max(0, x0 - this.vw * 0.3);
    }

    /* ---- keyboard ---- */
    _key(e) {
      const r = this.selected, page = Math.max(1, Math.floor((this.vh - HEAD) / ROW) - 1);
      const t = this.rows[r];
      const step = { ArrowUp: -1, ArrowDown: 1, PageUp: -page, PageDown: page }[e.key];
      if (step && !e.altKey && !e.shiftKey) this.select(r < 0 ? 0 : r + step);
      else if (e.key === "Home") this.select(0);
      else if (e.key === "End") this.select(this.rows.length - 1);
      else if ((e.key === "ArrowLeft" || e.key === "ArrowRight") && t) this._arrow(e, t);
      else if ((e.key === "Enter" || e.key === " ") && t) {
        if (t.summary && e.key === " ") this.toggle(t);
        else this.open(t);
      } else if (e.key === "+" || e.key === "=") this._zoomStep(-1);
      else if (e.key === "-") this._zoomStep(1);
      else return;
      e.preventDefault();
    }

    _zoomStep(dir) {
      const names = Object.keys(ZOOMS);
      const i = Math.max(0, Math.min(names.length - 1, names.indexOf(this.zoom) + dir));
      this.setZoom(names[i]);
    }

    /* Left/Right: collapse/expand a summary; with Shift move, with Alt resize, one working day. */
    _arrow(e, t) {
      const dir = e.key === "ArrowLeft" ? -1 : 1;
      if (!e.shiftKey && !e.altKey) {
        if (t.summary && (dir < 0) !== this.collapsed.has(t.id)) this.toggle(t);
        return;
      }
      if (!this.editable || t.summary) return;
      if (e.shiftKey) {
        const s = this.cal.snap(t._s + dir, dir);
        this.commit(t, "move", s, this.cal.finishOf(s, this.cal.count(t._s, t._f)));
      } else if (!t.milestone) {
        const f = this.cal.snap(t._f + dir, dir);
        if (f >= t._s) this.commit(t, "resize", t._s, f);
      }
    }

    /* ---- pointer: hover, select, drag to move or resize ---- */
    _at(e) {
      const rect = this.scroller.getBoundingClientRect();
      const x = e.clientX - rect.left + this.scroller.scrollLeft;
      const y = e.clientY - rect.top + this.scroller.scrollTop;
      const r = Math.floor(y / ROW);
      const t = this.rows[r];
      if (!t || t._s == null) return { x, r, t: null };
      const [x0, x1] = this.barOf(t);
      const pad = t.milestone ? 8 : 2;
      if (x < x0 - pad || x > x1 + pad) return { x, r, t: null, row: t };
      const mode = !t.milestone && x > x1 - 7 ? "resize" : "move";
      return { x, r, t, mode };
    }

    _down(e) {
      if (e.button !== 0) return;
      const hit = this._at(e);
      if (hit.r < this.rows.length) this.select(hit.r, false);
      if (!hit.t || !this.editable || hit.t.summary) return;
      const t = hit.t;
      this.drag = { task: t, mode: hit.mode, x: hit.x, s: t._s, f: t._f, moved: false,
        wd: this.cal.count(t._s, t._f) };
      this.scroller.setPointerCapture(e.pointerId);
      e.preventDefault();
    }

    _move(e) {
      const d = this.drag;
      if (!d) { this._hover(e); return; }
      const rect = this.scroller.getBoundingClientRect();
      const x = e.clientX - rect.left + this.scroller.scrollLeft;
      const dd = Math.round((x - d.x) / this.dayW);
      const t = d.task;
      if (d.mode === "move") {
        d.s = this.cal.snap(t._s + dd, dd < 0 ? -1 : 1);
        d.f = t.milestone ? d.s : this.cal.finishOf(d.s, d.wd);
      } else {
        d.f = Math.max(t._s, this.cal.snap(t._f + dd, dd < 0 ? -1 : 1));
        if (!this.cal.working(d.f)) d.f = t._f;
      }
      d.moved = d.moved || d.s !== t._s || d.f !== t._f;
      this.scroller.style.cursor = d.mode === "resize" ? "ew-resize" : "grabbing";
      this.tip.hidden = false;
      this.tip.textContent = `${isoOf(d.s)} \u2192 ${isoOf(d.f)}`;
      this._place(e);
      this.request();
    }

    _up(e) {
      const d = this.drag;
      if (!d) return;
      this.drag = null;
      this.scroller.style.cursor = "";
      this.tip.hidden = true;
      if (this.scroller.hasPointerCapture(e.pointerId)) this.scroller.releasePointerCapture(e.pointerId);
      if (d.moved && (d.s !== d.task._s || d.f !== d.task._f)) this.commit(d.task, d.mode, d.s, d.f);
      else this.request();
    }

    _hover(e) {
      const hit = this._at(e);
      this.scroller.style.cursor = hit.t && this.editable && !hit.t.summary ? (hit.mode === "resize" ? "ew-resize" : "grab") : "";
      if (!hit.t) { this.tip.hidden = true; return; }
      const t = hit.t, L = this.L;
      this.tip.hidden = false;
      this.tip.textContent = `${t.code || ""} ${t.name}: ${t.start} \u2192 ${t.finish}` +
        (t.milestone ? ` (${L.milestone})` : "") + (t.critical ? ` (${L.critical})` : "") +
        (t.total_float != null ? ` · ${L.float} ${t.total_float}` : "");
      this._place(e);
    }

    _place(e) {
      const rect = this.tl.getBoundingClientRect();
      this.tip.style.left = Math.min(e.clientX - rect.left + 12, this.vw - 260) + "px";
      this.tip.style.top = e.clientY - rect.top + 16 + "px";
    }

    /* Send a move or resize to the server; apply the tasks it re-scheduled. */
    async commit(t, mode, s, f) {
      const body = mode === "move" ? { task_id: t.id, start: isoOf(s) } : { task_id: t.id, finish: isoOf(f) };
      const old = { _s: t._s, _f: t._f };
      t._s = s; t._f = f;  /* optimistic, undone on refusal */
      this.request();
      this.host.dataset.busy = "1";
      try {
        const r = await fetch(this.moveUrl, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": this._csrf() },
          body: JSON.stringify(body),
        });
        const data = await r.json().catch(() => ({}));
        if (!r.ok) throw new Error(this._reason(data) || String(r.status));
        this.apply(data.tasks || []);
        this.say(fill(this.L.moved, { n: (data.tasks || []).length }));
      } catch (err) {
        Object.assign(t, old);
        this.say(fill(this.L.failed, { m: err.message }), true);
      } finally {
        delete this.host.dataset.busy;
        this.request();
        this.host.dispatchEvent(new CustomEvent("gantt:saved", { detail: t, bubbles: true }));
      }
    }

    _reason(data) {
      const d = data && (data.detail ?? data.error);
      if (!d) return "";
      if (typeof d === "string") return d;
      if (Array.isArray(d)) return d.map((x) => x.msg || JSON.stringify(x)).join("; ");
      return Object.values(d).join("; ");
    }

    _csrf() {
      if (this.host.dataset.csrf) return this.host.dataset.csrf;
      try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || ""; } catch (_) { return ""; }
    }

    /* Merge changed tasks (same ids) into the chart. */
    apply(changed) {
      let structural = false;
      for (const c of changed) {
        const t = this.byId.get(c.id);
        if (!t) { structural = true; continue; }
        Object.assign(t, c);
        this._norm(t);
      }
      if (structural) return this.load(this.src);
      this.version = (this.version || 0) + 1;
      this.request();
    }

    say(msg, bad) {
      this.status.textContent = msg;
      this.status.classList.toggle("bad", !!bad);
    }

    /* ---- export ---- */
    /* The grid and the timeline from the top visible row (up to EXPORT_ROWS rows) on one canvas. */
    snapshot() {
      const v = this.view();
      const rows = Math.min(this.rows.length - v.r0, EXPORT_ROWS);
      const gw = this.grid.clientWidth, h = HEAD + rows * ROW, scale = 1.5;
      const c = document.createElement("canvas");
      c.width = Math.round((gw + v.w) * scale);
      c.height = Math.round(h * scale);
      const ctx = c.getContext("2d");
      ctx.scale(scale, scale);
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, gw + v.w, h);
      this._paintGridText(ctx, v.r0, rows, gw);
      ctx.translate(gw, 0);
      this.paint(ctx, { sl: v.sl, st: v.r0 * ROW, r0: v.r0, r1: v.r0 + rows, w: v.w, h });
      return c;
    }

    _paintGridText(ctx, r0, n, gw) {
      const cols = [...this.grid.querySelectorAll(".g-ghead .g-c")].map((el) => [el.offsetLeft, el.offsetWidth]);
      ctx.font = FONT;
      ctx.textBaseline = "middle";
      ctx.fillStyle = C.muted;
      this.columns.forEach((c, i) => ctx.fillText(this.L[c] || c, cols[i][0] + 6, HEAD / 2));
      for (let k = 0; k < n; k++) {
        const t = this.rows[r0 + k], y = HEAD + k * ROW;
        ctx.fillStyle = C.line;
        ctx.fillRect(0, y + ROW - 1, gw, 1);
        this.columns.forEach((c, i) => {
          const raw = c === "name" ? " ".repeat((t.level || 0) * 3) + t.name : this._plain(t, c);
          ctx.save();
          ctx.beginPath(); ctx.rect(cols[i][0], y, cols[i][1] - 4, ROW); ctx.clip();
          ctx.fillStyle = t.critical && c === "name" ? C.crit : C.text;
          ctx.font = (t.summary ? "600 " : "") + FONT;
          ctx.fillText(raw, cols[i][0] + 6, y + ROW / 2);
          ctx.restore();
        });
      }
    }

    _plain(t, c) {
      if (c === "duration") return t.duration == null ? "" : t.duration + " " + this.L.days;
      if (c === "float") return t.total_float == null ? "" : String(t.total_float);
      return String(t[c] == null ? "" : t[c]).slice(0, c === "start" || c === "finish" ? 10 : 200);
    }

    exportPng() {
      this.snapshot().toBlob((blob) => {
        const a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = (this.host.dataset.name || "gantt") + ".png";
        document.body.appendChild(a);
        a.click();
        setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      }, "image/png");
    }

    /* PDF through the browser's print dialog: the snapshot as one landscape image. */
    exportPdf() {
      const wrap = document.createElement("div");
      wrap.className = "g-print";
      const img = new Image();
      img.alt = this.host.dataset.name || "Gantt";
      img.src = this.snapshot().toDataURL("image/png");
      wrap.appendChild(img);
      document.body.appendChild(wrap);
      document.documentElement.classList.add("g-printing");
      const done = () => { document.documentElement.classList.remove("g-printing"); wrap.remove(); };
      window.addEventListener("afterprint", done, { once: true });
      img.decode().then(() => window.print()).catch(done);
    }
  }

  function init(root) {
    for (const el of (root || document).querySelectorAll("[data-gantt]")) if (!el.gantt) new Gantt(el);
  }
  window.ClientopsGantt = Gantt;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => init());
  else init();
  document.addEventListener("htmx:load", (e) => init(e.target));
})();
