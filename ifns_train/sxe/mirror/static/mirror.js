/* ifns-train Mirror: tables that sort, filter and page in the browser, from data files
 * loaded as scripts (a page opened from disk may not fetch). Every value from the registry
 * reaches the page through textContent or an attribute, never as HTML. */
(function () {
  "use strict";
  const IFNS = (window.IFNS = { data: {}, waiting: {} });

  IFNS.put = function (name, payload) {
    IFNS.data[name] = payload;
    (IFNS.waiting[name] || []).forEach((done) => done(payload));
    delete IFNS.waiting[name];
  };

  const root = () => document.body.dataset.root || "";

  function load(name) {
    if (IFNS.data[name]) return Promise.resolve(IFNS.data[name]);
    return new Promise((resolve, reject) => {
      const first = !IFNS.waiting[name];
      (IFNS.waiting[name] = IFNS.waiting[name] || []).push(resolve);
      if (!first) return;
      const s = document.createElement("script");
      s.src = root() + "data/" + encodeURIComponent(name) + ".js";
      s.onerror = () => reject(new Error("cannot read data/" + name + ".js"));
      document.head.appendChild(s);
    });
  }

  function objects(payload) {
    const cols = payload.columns;
    return payload.rows.map((r) => {
      const o = {};
      cols.forEach((c, i) => (o[c] = r[i]));
      return o;
    });
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v === null || v === undefined || v === false) return;
      if (k === "className") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    });
    children.flat().forEach((c) => {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function fmt(v, digits, signed) {
    if (v === null || v === undefined) return "n/a";
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v !== "number") return String(v);
    const d = digits === undefined ? 4 : digits;
    const s = Number.isInteger(v) && d === 0 ? String(v) : v.toFixed(d);
    return signed && v > 0 ? "+" + s : s;
  }
  const when = (ts) => (ts ? String(ts).slice(0, 19).replace("T", " ") : "n/a");
  const badge = (s) => el("span", { className: "badge " + s, text: s });
  /* A hyperparameter as recorded (a list arrives as its JSON text); missing: "-". */
  const hp = (r, k) => (r.hyperparameters || {})[k];
  const hpText = (v) => (v === null || v === undefined ? "-" : typeof v === "number" ? String(v) : fmt(v));
  const hpLabel = (k) => k.replace(/^model\./, "");
  const modelHref = (id) => root() + "models/" + encodeURIComponent(id) + ".html";

  /* An improvement's evidence word (one convention: positive is better for the model). */
  const EVIDENCE = { "better": ["better", "significantly better"],
                     "worse": ["worse", "significantly worse"],
                     "within noise": ["noise", "within noise"] };
  function evidence(word) {
    const shown = EVIDENCE[word];
    if (!shown) return el("span", { className: "muted", text: "-" });
    return el("span", { className: "tone " + shown[0], "data-evidence": word, text: shown[1] });
  }
  /* The promotion verdict, as it stands at the build; the recorded one beside it if it differs. */
  const VERDICTS = { "eligible": ["better", "eligible"],
                     "eligible_without_controls": ["noise", "eligible, controls not run"],
                     "not_eligible": ["worse", "not eligible"] };
  function verdict(r) {
    const shown = VERDICTS[r.verdict];
    if (!shown) return el("span", { className: "muted", text: "n/a" });
    const why = r.verdict === "not_eligible" ? (r.failed_checks || []) : (r.controls_not_run || []);
    const was = r.verdict_recorded && r.verdict_recorded !== r.verdict ? VERDICTS[r.verdict_recorded] : null;
    return el("span", { className: "tone " + shown[0], "data-verdict": r.verdict, title: why.join(", ") },
              shown[1] + (why.length ? " (" + why.join(", ") + ")" : ""),
              was ? el("div", { className: "sub", text: "recorded: " + was[1] }) : null);
  }

  /* A table over `rows`: columns {key, label, num, cell(row) -> node|string, sort(row)};
   * filters {key, label, options, test(row, value)}; a text query over `search` keys;
   * `group(row)` names the group a row belongs to (rows of a group kept together). */
  function table(host, spec) {
    const state = { key: spec.sort ? spec.sort.key : null, desc: spec.sort ? spec.sort.desc : false,
                    page: 0, query: "", filters: Object.assign({}, spec.initial || {}),
                    grouped: false };
    const size = spec.pageSize || 50;
    const controls = el("div", { className: "controls" });
    const summary = el("span", { className: "summary", "data-role": "summary" });
    const pager = el("div", { className: "pager" });
    const tbl = el("table", { className: "grid", "data-role": "rows" });
    const thead = el("thead");
    const tbody = el("tbody");
    tbl.append(thead, tbody);
    controls.appendChild(el("label", null, "Search",
      el("input", { type: "search", "data-filter": "query", placeholder: spec.searchHint || "",
                    oninput: (e) => { state.query = e.target.value.toLowerCase(); state.page = 0; draw(); } })));
    (spec.filters || []).forEach((f) => {
      if (f.type === "date") {
        controls.appendChild(el("label", null, f.label, el("input", { type: "date", "data-filter": f.key,
          onchange: (e) => { state.filters[f.key] = e.target.value; state.page = 0;
                             (spec.onFilter ? spec.onFilter(state.filters) : Promise.resolve()).then(draw); } })));
        return;
      }
      const sel = el("select", { "data-filter": f.key, onchange: (e) => {
        state.filters[f.key] = e.target.value; state.page = 0; draw(); } },
        el("option", { value: "", text: "any" }),
        f.options.map((o) => el("option", { value: o, text: o })));
      if (state.filters[f.key]) sel.value = state.filters[f.key];
      controls.appendChild(el("label", null, f.label, sel));
    });
    if (spec.group) {
      controls.appendChild(el("label", null, "Sweeps", el("select", { "data-filter": "group",
        onchange: (e) => { state.grouped = e.target.value === "grouped"; draw(); } },
        el("option", { value: "", text: "not grouped" }), el("option", { value: "grouped", text: "grouped" }))));
    }
    (spec.extraControls || []).forEach((c) => controls.appendChild(c));
    host.replaceChildren(controls, summary, tbl, pager);

    const headRow = el("tr");
    spec.columns.forEach((c) => {
      const th = el("th", { className: c.num ? "n" : null, title: c.title || null });
      if (c.sort === false) th.textContent = c.label;
      else th.appendChild(el("button", { "data-key": c.key, type: "button", onclick: () => {
        state.desc = state.key === c.key ? !state.desc : !!c.num;
        state.key = c.key; state.page = 0; draw(); } }, c.label));
      headRow.appendChild(th);
    });
    thead.appendChild(headRow);

    function value(row, c) { return c.value ? c.value(row) : row[c.key]; }
    function compare(a, b) {
      if (a === b) return 0;
      if (a === null || a === undefined) return 1;   // missing last, whatever the order
      if (b === null || b === undefined) return -1;
      return a < b ? -1 : 1;
    }
    function draw() {
      const rows = spec.rows();
      const q = state.query;
      let shown = rows.filter((r) => (spec.filters || []).every((f) =>
        !state.filters[f.key] || (f.test ? f.test(r, state.filters[f.key]) : String(r[f.key]) === state.filters[f.key])) &&
        (!q || (spec.search || []).some((k) => String(r[k] === null ? "" : r[k]).toLowerCase().includes(q))));
      const col = spec.columns.find((c) => c.key === state.key);
      if (col) {
        const sign = state.desc ? -1 : 1;
        shown = shown.slice().sort((a, b) => {
          const va = value(a, col), vb = value(b, col);
          if (va === null || va === undefined || vb === null || vb === undefined) return compare(va, vb);
          return sign * compare(va, vb);
        });
      }
      if (state.grouped && spec.group) {
        const first = new Map();
        shown.forEach((r, i) => { const g = spec.group(r) || ""; if (!first.has(g)) first.set(g, i); });
        shown = shown.map((r, i) => [first.get(spec.group(r) || "") * 1e7 + i, r])
          .sort((a, b) => a[0] - b[0]).map((x) => x[1]);
      }
      thead.querySelectorAll("button[data-key]").forEach((b) => {
        if (b.dataset.key === state.key) b.setAttribute("aria-sort", state.desc ? "descending" : "ascending");
        else b.removeAttribute("aria-sort");
      });
      const pages = Math.max(1, Math.ceil(shown.length / size));
      state.page = Math.min(state.page, pages - 1);
      const start = state.page * size;
      const slice = shown.slice(start, start + size);
      tbody.replaceChildren();
      let group;  // undefined: no group header yet (null is the group of single runs)
      slice.forEach((r) => {
        if (state.grouped && spec.group) {
          const g = spec.group(r) || null;
          if (g !== group) {
            group = g;
            const members = shown.filter((x) => (spec.group(x) || null) === g).length;
            tbody.appendChild(el("tr", { className: "group" }, el("td", { colspan: spec.columns.length,
              text: g ? "Sweep " + g + " · " + members + " run(s)" : "Single runs" })));
          }
        }
        const tr = el("tr", spec.rowAttrs ? spec.rowAttrs(r) : null);
        spec.columns.forEach((c) => {
          const v = c.cell ? c.cell(r) : fmt(r[c.key]);
          tr.appendChild(el("td", { className: c.num ? "n" : null }, v));
        });
        tbody.appendChild(tr);
      });
      summary.textContent = shown.length ? "Showing " + (start + 1) + "–" + (start + slice.length) + " of " +
        shown.length + (shown.length !== rows.length ? " (of " + rows.length + " loaded)" : "") : "Nothing matches.";
      pager.replaceChildren(
        el("button", { type: "button", "data-role": "prev", disabled: state.page === 0 ? "" : null,
                       onclick: () => { state.page -= 1; draw(); } }, "‹ Previous"),
        el("span", { "data-role": "page", text: "Page " + (state.page + 1) + " of " + pages }),
        el("button", { type: "button", "data-role": "next", disabled: state.page >= pages - 1 ? "" : null,
                       onclick: () => { state.page += 1; draw(); } }, "Next ›"));
      if (spec.after) spec.after(shown);
    }
    draw();
    return { draw: draw, state: state };
  }

  function hashParams() {
    const out = {};
    location.hash.replace(/^#/, "").split("&").forEach((p) => {
      const [k, v] = p.split("=");
      if (k && v !== undefined) out[decodeURIComponent(k)] = decodeURIComponent(v);
    });
    return out;
  }

  /* A record that failed validation: marked, with the reason; its figures are absent. */
  function invalidMark(r) {
    return r.invalid ? el("span", { className: "tag invalid", "data-role": "invalid", title: r.invalid,
                                    text: "invalid record" }) : null;
  }

  function failure(host, err) {
    host.replaceChildren(el("p", { className: "warn", text: "Could not load the data: " + err.message }));
  }

  /* --- a family's models ---------------------------------------------------------------- */
  function familyPage() {
    const host = document.getElementById("models");
    const family = document.body.dataset.family;
    load(host.dataset.source).then((payload) => {
      const rows = objects(payload);
      const picked = new Set();
      const compareButton = el("button", { type: "button", "data-role": "compare", onclick: () => {
        const q = Array.from(picked).map((id) => "m=" + encodeURIComponent(family + "~" + id)).join("&");
        location.href = root() + "compare.html?" + q; } }, "Compare selected (0)");
      const columns = [
        { key: "pick", label: "", sort: false, cell: (r) => el("input", { type: "checkbox", "data-pick": r.model_id,
            checked: picked.has(r.model_id) ? "" : null, onchange: (e) => {
              if (e.target.checked) picked.add(r.model_id); else picked.delete(r.model_id);
              compareButton.textContent = "Compare selected (" + picked.size + ")"; } }) },
        { key: "model_id", label: "Model", cell: (r) => el("a", { href: modelHref(r.model_id), text: r.model_id }) },
        { key: "status", label: "Status", cell: (r) => el("span", null, badge(r.status), invalidMark(r)) },
        { key: "created_ts", label: "Created", cell: (r) => when(r.created_ts) },
        { key: "backbone", label: "Backbone", cell: (r) => r.backbone || "-" },
      ].concat((payload.hyperparameters || []).map((k) => ({
        key: "hp:" + k, label: hpLabel(k), title: k, value: (r) => hp(r, k),
        cell: (r) => el("span", { className: "hp", "data-hp": k, text: hpText(hp(r, k)) }) })), [
        { key: "test_value", label: "Test primary", num: true,
          cell: (r) => el("span", { title: r.primary_metric || "", "data-value": r.test_value }, fmt(r.test_value)) },
        { key: "best_baseline", label: "Best baseline", cell: (r) => (r.best_baseline || "-") + " " + fmt(r.baseline_value) },
        { key: "improvement", label: "Improvement (+ better)", num: true, cell: (r) => fmt(r.improvement, 4, true) },
        { key: "improvement_low", label: "95% interval", num: true,
          cell: (r) => (r.improvement_low === null ? "-" : fmt(r.improvement_low, 4, true) + " to " + fmt(r.improvement_high, 4, true)) },
        { key: "evidence", label: "Evidence", value: (r) => ({ "better": 2, "within noise": 1, "worse": 0 })[r.evidence],
          cell: (r) => evidence(r.evidence) },
        { key: "val_value", label: "Val primary", num: true, cell: (r) => fmt(r.val_value) },
        { key: "verdict", label: "Verdict (now)", value: (r) => ({ "eligible": 2, "eligible_without_controls": 1, "not_eligible": 0 })[r.verdict],
          cell: (r) => verdict(r) },
        { key: "sharpe", label: "Excess Sharpe", num: true, cell: (r) => fmt(r.sharpe, 2) },
        { key: "dsr", label: "DSR (now)", num: true, cell: (r) => el("span", { title: r.dsr_recorded === null || r.dsr_recorded === undefined ? "" : "recorded " + fmt(r.dsr_recorded, 3) },
            fmt(r.dsr, 3) + (r.trials ? " / " + r.trials : "")) },
      ]);
      const metric = rows.length ? rows[0].primary_metric : null;
      if (metric) columns.find((c) => c.key === "test_value").label = "Test " + metric;
      const initial = hashParams();
      table(host, {
        rows: () => rows, columns: columns, pageSize: 50, sort: { key: "created_ts", desc: true },
        search: ["model_id", "backbone", "train_dataset_id", "experiment_id", "best_baseline"],
        searchHint: "id, backbone, dataset",
        initial: { status: initial.status || "" },
        filters: [
          { key: "status", label: "Status", options: ["candidate", "canary", "promoted", "retired"] },
          { key: "verdict", label: "Verdict", options: ["eligible", "eligible, controls not run", "not eligible"],
            test: (r, v) => VERDICTS[r.verdict] !== undefined && VERDICTS[r.verdict][1] === v },
          { key: "evidence", label: "Evidence", options: ["significantly better", "significantly worse", "within noise"],
            test: (r, v) => EVIDENCE[r.evidence] !== undefined && EVIDENCE[r.evidence][1] === v },
        ],
        extraControls: [compareButton],
        rowAttrs: (r) => ({ "data-model": r.model_id }),
      });
    }).catch((e) => failure(host, e));
  }

  /* --- the experiment timeline ------------------------------------------------------------ */
  function timelinePage() {
    const host = document.getElementById("experiments");
    load("timeline").then((index) => {
      const shards = index.shards;
      const loaded = new Set();
      let rows = [];
      function take(k) {
        if (loaded.has(k)) return Promise.resolve();
        loaded.add(k);
        return load(shards[k].name).then((p) => { rows = rows.concat(objects(p)); });
      }
      const oldest = () => Math.min.apply(null, Array.from(loaded).concat([shards.length]));
      const more = el("button", { type: "button", "data-role": "older", onclick: () => {
        const k = oldest() - 1;
        if (k >= 0) take(k).then(() => view.draw()); } }, "Load older experiments");
      function needed(filters) {
        // Load every shard that overlaps the dates asked for.
        const from = filters.from || "", to = filters.to ? filters.to + "\uffff" : "\uffff";
        return Promise.all(shards.map((s, k) => (s.last >= from && s.first <= to ? take(k) : null)));
      }
      const hash = location.hash.replace(/^#/, "");
      const wanted = /^EXP_/.test(hash) ? hash : null;
      let view = null;
      const start = shards.length ? take(shards.length - 1) : Promise.resolve();
      const found = wanted ? start.then(function seek() {
        if (rows.some((r) => r.experiment_id === wanted) || oldest() === 0) return null;
        return take(oldest() - 1).then(seek);
      }) : start;
      found.then(() => {
        view = table(host, {
          rows: () => rows, pageSize: 100, sort: { key: "started_ts", desc: true },
          search: ["experiment_id", "experiment_name", "model_id", "error", "tags", "sweep"],
          searchHint: "id, name, error, tag",
          initial: {},
          columns: [
            { key: "started_ts", label: "Started", cell: (r) => when(r.started_ts) },
            { key: "experiment_id", label: "Experiment", cell: (r) => el("span", null,
                el("span", { className: "mono", text: r.experiment_id }), el("div", { className: "sub", text: r.experiment_name }),
                r.tags && r.tags.length ? el("div", { className: "sub", text: "tags: " + r.tags.join(", ") }) : null) },
            { key: "model_family", label: "Family", cell: (r) => r.model_family },
            { key: "kind", label: "Kind", cell: (r) => el("span", null, r.kind,
                r.in_sample ? el("span", { className: "warn", "data-role": "in-sample",
                  title: "evaluated on rows dated inside the model's train or validation window (allow_overlap=true)",
                  text: " in-sample" }) : null,
                r.parent_experiment_id ? el("div", { className: "sub", text: "of " + r.parent_experiment_id }) : null) },
            { key: "status", label: "Outcome", cell: (r) => el("span", null, badge(r.status), invalidMark(r)) },
            { key: "test_value", label: "Test primary", num: true,
              cell: (r) => (r.primary_metric ? r.primary_metric + " " : "") + fmt(r.test_value) },
            { key: "improvement", label: "Improvement (+ better)", num: true, cell: (r) => el("span", null, fmt(r.improvement, 4, true), " ",
                evidence(r.evidence)) },
            { key: "model_id", label: "Model", cell: (r) => (r.model_id ? el("a", { href: modelHref(r.model_id), "data-role": "model-link", text: r.model_id }) : "-") },
            { key: "error", label: "Error", cell: (r) => (r.error ? el("div", { className: "error-text", text: r.error }) : "") },
            { key: "sweep", label: "Sweep", cell: (r) => (!r.sweep ? "-" : r.sweep_page
              ? el("a", { href: "sweeps/" + r.sweep_page + ".html", title: r.sweep + " (its trials and PBO)", "data-role": "sweep-link", text: r.sweep.split("/").slice(-2).join("/") })
              : el("span", { title: r.sweep, text: r.sweep.split("/").slice(-2).join("/") })) },
          ],
          filters: [
            { key: "model_family", label: "Family", options: index.families },
            { key: "status", label: "Outcome", options: index.statuses },
            { key: "kind", label: "Kind", options: ["model", "fold", "seed", "placebo", "reproduction", "evaluation"] },
            { key: "from", label: "From", type: "date", test: (r, v) => String(r.started_ts) >= v },
            { key: "to", label: "To", type: "date", test: (r, v) => String(r.started_ts).slice(0, 10) <= v },
          ],
          onFilter: needed,
          group: (r) => r.sweep,
          extraControls: [more],
          rowAttrs: (r) => ({ "data-experiment": r.experiment_id, className: r.experiment_id === wanted ? "hit" : null }),
          after: () => { more.disabled = oldest() === 0; },
        });
        if (wanted) {
          const box = host.querySelector("input[data-filter=query]");
          box.value = wanted.toLowerCase();
          box.dispatchEvent(new Event("input"));
        }
      });
    }).catch((e) => failure(host, e));
  }

  /* --- models side by side ---------------------------------------------------------------- */
  function comparePage() {
    const host = document.getElementById("compare");
    const picks = new URLSearchParams(location.search).getAll("m").map((m) => m.split("~"));
    if (picks.length === 0) {
      host.replaceChildren(el("p", { className: "muted", text: "No models chosen yet." }));
      return;
    }
    Promise.all(Array.from(new Set(picks.map((p) => p[0]))).map((f) => load("models-" + f).then((p) => [f, objects(p)])))
      .then((loaded) => {
        const byFamily = new Map(loaded);
        const models = picks.map(([f, id]) => (byFamily.get(f) || []).find((r) => r.model_id === id) || { model_id: id, missing: true });
        const regimes = Array.from(new Set(models.flatMap((m) => Object.keys(m.regimes || {})))).sort();
        // The hyperparameters that differ between the models shown (trials of a sweep apart).
        const hpKeys = Array.from(new Set(models.flatMap((m) => Object.keys(m.hyperparameters || {})))).sort()
          .filter((k) => new Set(models.map((m) => JSON.stringify(hp(m, k) === undefined ? null : hp(m, k)))).size > 1);
        const fields = [
          ["Status", (m) => el("span", null, badge(m.status), invalidMark(m))], ["Version", (m) => fmt(m.model_version, 0)],
          ["Created", (m) => when(m.created_ts)], ["Backbone", (m) => m.backbone || "-"],
        ].concat(hpKeys.map((k) => [k, (m) => el("span", { className: "hp", "data-hp": k, text: hpText(hp(m, k)) })]), [
          ["Primary metric", (m) => m.primary_metric || "-"],
          ["Test value", (m) => el("span", { "data-value": m.test_value }, fmt(m.test_value))],
          ["Best baseline", (m) => (m.best_baseline || "-") + " " + fmt(m.baseline_value)],
          ["Improvement (+ better)", (m) => fmt(m.improvement, 4, true)],
          ["95% interval", (m) => (m.improvement_low === null || m.improvement_low === undefined ? "-" :
              fmt(m.improvement_low, 4, true) + " to " + fmt(m.improvement_high, 4, true))],
          ["Evidence", (m) => evidence(m.evidence)],
          ["Val value", (m) => fmt(m.val_value)],
          ["Verdict (now)", (m) => verdict(m)],
          ["Excess Sharpe", (m) => fmt(m.sharpe, 2)], ["Deflated Sharpe (now)", (m) => fmt(m.dsr, 3)],
          ["Training dataset", (m) => m.train_dataset_id || "-"],
        ].concat(regimes.map((g) => ["Regime " + g, (m) => {
          const v = (m.regimes || {})[g];
          if (!v) return "-";
          return el("span", null, fmt(v[0], 4, true) + (v[1] === null ? "" : " (" + fmt(v[1], 4, true) + " to " + fmt(v[2], 4, true) + ") "),
                    evidence(v[3]));
        }])));
        const head = el("tr", null, el("th", { text: "" }), models.map((m) => el("th", { "data-model": m.model_id },
          m.missing ? el("span", { className: "warn", text: m.model_id + " (not in the registry)" }) :
            el("a", { href: modelHref(m.model_id), text: m.model_id }))));
        const body = fields.map(([name, f]) => el("tr", { "data-field": name }, el("th", { text: name }),
          models.map((m) => el("td", null, m.missing ? "-" : f(m)))));
        host.replaceChildren(el("table", { className: "grid", "data-role": "compare" }, el("thead", null, head), el("tbody", null, body)));
      }).catch((e) => failure(host, e));
  }

  document.addEventListener("DOMContentLoaded", () => {
    const page = document.body.dataset.page;
    if (page === "family") familyPage();
    else if (page === "timeline") timelinePage();
    else if (page === "compare") comparePage();
  });
})();
