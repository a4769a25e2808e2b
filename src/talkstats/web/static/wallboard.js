// The wallboard in the browser: fills the tiles, the chart and the agents table from
// the server's live stream (Server-Sent Events), counts on the times that tick
// between updates, and says plainly when the server cannot be reached and how old
// the numbers are. Every word comes from the catalog in the page's config; nothing
// is loaded from anywhere but this server.
(() => {
  "use strict";

  const config = JSON.parse(document.getElementById("wallboard-config").textContent);
  const T = config.text;
  const fill = (text, values) =>
    text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
  const $ = (selector) => document.querySelector(selector);
  const STALE_AFTER_MS = 12000; // no word from the server for this long: say so
  const RECONNECT_MS = 2000;
  const SESSION_CHECK_MS = 15 * 60 * 1000;

  // --- settings kept by this browser ----------------------------------------------------

  const store = {
    get(key, fallback) {
      try {
        const raw = localStorage.getItem("talkstats.wallboard." + key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch (e) {
        return fallback;
      }
    },
    set(key, value) {
      try {
        localStorage.setItem("talkstats.wallboard." + key, JSON.stringify(value));
      } catch (e) {
        /* private mode: settings last for this page only */
      }
    },
  };

  const target = config.filters.sl_target;
  const defaultColors = {
    longest_wait: { amber: 60, red: 120 },
    calls_waiting: { amber: 5, red: 10 },
    service_level: { amber: target, red: Math.max(0, target - 10) },
  };
  let colors = Object.assign({}, defaultColors, store.get("colors", {}));

  function theme() {
    const asked = new URLSearchParams(location.search).get("theme");
    const chosen = ["light", "dark", "auto"].includes(asked) ? asked : store.get("theme", "auto");
    if (chosen !== "auto") return chosen;
    return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  function applyTheme() {
    document.documentElement.dataset.theme = theme();
  }
  applyTheme();
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    applyTheme();
    drawChart(true);
  });

  // --- time -----------------------------------------------------------------------------

  let offset = 0; // server clock minus this browser's clock, ms
  const serverNow = () => Date.now() + offset;

  function clock(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = String(seconds % 60).padStart(2, "0");
    return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  }
  function age(ms) {
    const seconds = Math.max(0, Math.round(ms / 1000));
    if (seconds < 60) return fill(T["unit.seconds"], { n: seconds });
    if (seconds < 3600) return fill(T["unit.minutes"], { m: Math.floor(seconds / 60), s: seconds % 60 });
    return fill(T["unit.hours"], { h: Math.floor(seconds / 3600), m: Math.floor((seconds % 3600) / 60) });
  }
  const timeOfDay = (ms) =>
    new Date(ms).toLocaleTimeString(config.lang, {
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
      timeZone: config.timezone,
    });

  // --- the live connection ----------------------------------------------------------------

  let board = null; // the latest board frame
  let timeline = null; // the latest timeline frame
  let lastContact = 0; // this browser's clock when the server last said anything
  let connected = false;
  let source = null;
  let retry = null;

  function contact(now) {
    lastContact = Date.now();
    if (typeof now === "number") offset = now - lastContact;
    connected = true;
    showBanner();
  }

  function connect() {
    clearTimeout(retry);
    if (source) source.close();
    source = new EventSource(config.stream, { withCredentials: true });
    source.addEventListener("board", (event) => {
      board = JSON.parse(event.data);
      const columns = board.agents.columns;
      board.agents.table = board.agents.rows.map((values) =>
        Object.fromEntries(columns.map((name, i) => [name, values[i]])),
      );
      contact(board.now);
      render();
    });
    source.addEventListener("timeline", (event) => {
      timeline = JSON.parse(event.data);
      contact();
      drawChart(false);
    });
    source.addEventListener("ping", (event) => contact(JSON.parse(event.data).now));
    source.addEventListener("end", (event) => {
      const reason = JSON.parse(event.data).reason;
      source.close();
      connected = false;
      showBanner();
      if (reason === "restart") reconnectLater();
      else checkSession(true);
    });
    source.addEventListener("error", () => {
      connected = false;
      showBanner();
      if (source.readyState === EventSource.CLOSED) checkSession(true);
      // otherwise the browser tries again by itself (the server asked for 2 s)
    });
  }

  function reconnectLater() {
    clearTimeout(retry);
    retry = setTimeout(connect, RECONNECT_MS);
  }

  function checkSession(thenConnect) {
    fetch("/wallboard/session", { credentials: "same-origin", cache: "no-store" })
      .then((response) => {
        if (response.status === 401) {
          const reason = config.session === "display" ? "revoked" : "expired";
          const next = encodeURIComponent(location.pathname + location.search);
          location.href = `/wallboard/signin?reason=${reason}&next=${next}`;
        } else if (thenConnect) {
          reconnectLater();
        }
      })
      .catch(() => {
        if (thenConnect) reconnectLater();
      });
  }

  function showBanner() {
    const banner = $("#banner");
    const stale = !connected || Date.now() - lastContact > STALE_AFTER_MS;
    if (!stale) {
      banner.hidden = true;
      return;
    }
    banner.hidden = false;
    banner.textContent =
      lastContact === 0
        ? T["live.connecting"]
        : fill(T["live.unreachable"], { since: timeOfDay(lastContact), age: age(Date.now() - lastContact) });
    document.body.classList.toggle("stale", lastContact !== 0);
  }

  // --- tiles ------------------------------------------------------------------------------

  function tile(key, value, text, detail, level, unit) {
    const element = document.querySelector(`[data-tile="${key}"]`);
    const shown = element.querySelector(".value");
    shown.textContent = text;
    if (unit) {
      const small = document.createElement("span");
      small.className = "unit";
      small.textContent = unit;
      shown.appendChild(small);
    }
    shown.dataset.value = value === null ? "" : String(value);
    fit(shown);
    element.querySelector(".detail").textContent = detail || "";
    element.classList.toggle("amber", level === "amber");
    element.classList.toggle("red", level === "red");
  }

  // a long number (an hour's wait: 1:02:05) shrinks to fit its tile rather than spill over
  function fit(element) {
    element.style.fontSize = "";
    let size = parseFloat(getComputedStyle(element).fontSize);
    while (element.scrollWidth > element.clientWidth && size > 16) {
      size *= 0.9;
      element.style.fontSize = `${size}px`;
    }
  }

  function above(value, limits) {
    if (value >= limits.red) return "red";
    if (value >= limits.amber) return "amber";
    return "";
  }
  function below(value, limits) {
    if (value === null) return "";
    if (value < limits.red) return "red";
    if (value < limits.amber) return "amber";
    return "";
  }

  function longestWait() {
    const since = board.queue.waiting_since;
    return since === null ? 0 : Math.round((serverNow() - since) / 1000);
  }

  function renderTiles() {
    const q = board.queue;
    const d = board.today;
    const a = board.agents.counts;
    const sl = d.service_level;
    const wait = longestWait();
    tile("calls_waiting", q.calls_waiting, String(q.calls_waiting), "", above(q.calls_waiting, colors.calls_waiting));
    tile("callbacks_waiting", q.callbacks_waiting, String(q.callbacks_waiting));
    tile("longest_wait", wait, clock(wait), "", above(wait, colors.longest_wait));
    tile(
      "service_level",
      sl.percent,
      sl.percent === null ? "–" : sl.percent.toFixed(1),
      sl.percent === null
        ? T["tile.service_level_none"]
        : fill(T["tile.service_level_goal"], { target, threshold: sl.threshold }),
      below(sl.percent, colors.service_level),
      sl.percent === null ? "" : "%",
    );
    tile("calls_today", d.calls, String(d.calls));
    tile("answered", d.answered, String(d.answered));
    tile("abandoned", d.abandoned, String(d.abandoned));
    tile("average_wait", d.average_queue_wait_time, clock(d.average_queue_wait_time));
    tile("agents_online", a.online, String(a.online));
    tile("agents_available", a.available, String(a.available));
    tile("agents_on_call", a.on_call, String(a.on_call));
    tile("agents_wrap_up", a.wrap_up, String(a.wrap_up));
    tile("agents_away", a.away, String(a.away));
  }

  // --- agents table -----------------------------------------------------------------------

  const STATUS_ORDER = { on_call: 0, wrap_up: 1, online: 2, transfers_only: 3, away: 4, offline: 5 };
  const statusOf = (row) => row.call_status || row.agent_state;
  let sortKey = new URLSearchParams(location.search).get("sort") || "status";
  let sortDescending = sortKey.startsWith("-");
  sortKey = sortKey.replace(/^-/, "");

  function seconds(row) {
    return row.since === null ? null : Math.round((serverNow() - row.since) / 1000);
  }

  function sorted(rows) {
    const value = {
      name: (r) => r.name.toLowerCase(),
      status: (r) => STATUS_ORDER[statusOf(r)] ?? 9,
      time: (r) => -(seconds(r) ?? -1),
      calls_accepted: (r) => -r.calls_accepted,
      calls_missed: (r) => -r.calls_missed,
      total_talk_time: (r) => -r.total_talk_time,
    }[sortKey] || ((r) => STATUS_ORDER[statusOf(r)]);
    const out = rows.slice().sort((x, y) => {
      const a = value(x);
      const b = value(y);
      if (a < b) return -1;
      if (a > b) return 1;
      return x.name.localeCompare(y.name);
    });
    return sortDescending ? out.reverse() : out;
  }

  function renderAgents() {
    const body = $("#agents tbody");
    const rows = sorted(board.agents.table);
    const panel = $(".agents-panel");
    const rowHeight = parseFloat(getComputedStyle(document.documentElement).fontSize) * 2.4;
    const room = Math.max(1, Math.floor((panel.clientHeight - rowHeight * 2.6) / rowHeight));
    const shown = rows.slice(0, room);
    const cells = [];
    for (const row of shown) {
      const tr = document.createElement("tr");
      const status = statusOf(row);
      tr.className = `status-${status}`;
      tr.dataset.agent = String(row.agent_id);
      const time = seconds(row);
      const values = [
        row.name,
        T[`status.${status}`] || status,
        time === null ? "" : clock(time),
        String(row.calls_accepted),
        String(row.calls_missed),
        clock(row.total_talk_time),
      ];
      values.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 1) td.className = "status";
        if (i === 2) td.className = "time";
        tr.appendChild(td);
      });
      cells.push(tr);
    }
    body.replaceChildren(...cells);
    $("#agents-more").textContent = rows.length === 0
      ? T["agents.none"]
      : rows.length > shown.length
        ? fill(T["agents.more"], { count: rows.length - shown.length })
        : "";
    for (const button of document.querySelectorAll("#agents [data-sort]")) {
      const active = button.dataset.sort === sortKey;
      button.parentElement.setAttribute(
        "aria-sort",
        active ? (sortDescending ? "descending" : "ascending") : "none",
      );
    }
  }

  for (const button of document.querySelectorAll("#agents [data-sort]")) {
    button.addEventListener("click", () => {
      if (sortKey === button.dataset.sort) sortDescending = !sortDescending;
      else {
        sortKey = button.dataset.sort;
        sortDescending = false;
      }
      const query = new URLSearchParams(location.search);
      query.set("sort", (sortDescending ? "-" : "") + sortKey);
      history.replaceState(null, "", `${location.pathname}?${query}`);
      if (board) renderAgents();
    });
  }

  // --- chart ------------------------------------------------------------------------------

  let chart = null;
  let chartTheme = null;

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function chartSize() {
    const box = $("#chart");
    return { width: Math.max(200, box.clientWidth), height: Math.max(120, box.clientHeight) };
  }

  function chartData() {
    const x = [];
    const offered = [];
    const answered = [];
    const abandoned = [];
    const waiting = [];
    for (const row of timeline.intervals) {
      x.push(Date.parse(row.start) / 1000 + timeline.interval / 2);
      offered.push(row.offered);
      answered.push(row.answered);
      abandoned.push(row.abandoned);
      waiting.push(row.max_calls_waiting);
    }
    return [x, offered, answered, abandoned, waiting];
  }

  function drawChart(rebuild) {
    if (!timeline || typeof uPlot === "undefined") return;
    const data = chartData();
    const current = document.documentElement.dataset.theme;
    if (chart && !rebuild && chartTheme === current) {
      chart.setData(data);
      return;
    }
    if (chart) chart.destroy();
    chartTheme = current;
    const start = Date.parse(timeline.intervals[0].start) / 1000;
    const zone = timeline.timezone;
    const bars = (factor) => uPlot.paths.bars({ size: [factor, 60], align: 0 });
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
    const counts = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000];
    const axis = {
      stroke: css("--muted"),
      font: `${Math.round(rem)}px system-ui, sans-serif`,
      grid: { stroke: css("--grid"), width: 1 },
      ticks: { show: false },
    };
    const options = Object.assign(chartSize(), {
      legend: { show: false },
      cursor: { show: false },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), zone),
      scales: { x: { time: true, range: [start, start + 86400] }, y: { range: (u, min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] } },
      axes: [
        Object.assign({}, axis, { values: (u, ticks) => ticks.map((t) => uPlot.fmtDate("{HH}:{mm}")(uPlot.tzDate(new Date(t * 1e3), zone))) }),
        Object.assign({}, axis, { scale: "y", size: rem * 3.5, incrs: counts }),
        Object.assign({}, axis, {
          scale: "waiting",
          side: 1,
          grid: { show: false },
          size: rem * 3.5,
          incrs: counts,
        }),
      ],
      series: [
        {},
        { label: T["chart.offered"], fill: css("--offered"), stroke: css("--offered"), paths: bars(0.9), points: { show: false } },
        { label: T["chart.answered"], fill: css("--answered"), stroke: css("--answered"), paths: bars(0.55), points: { show: false } },
        { label: T["chart.abandoned"], fill: css("--abandoned"), stroke: css("--abandoned"), paths: bars(0.25), points: { show: false } },
        { label: T["chart.waiting"], scale: "waiting", stroke: css("--waiting"), width: 3, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } },
      ],
    });
    options.scales.waiting = { range: (u, min, max) => [0, Math.max(4, Math.ceil(max * 1.1))] };
    chart = new uPlot(options, data, $("#chart"));
    const legend = $("#legend");
    legend.replaceChildren(
      ...[
        ["--offered", "chart.offered"],
        ["--answered", "chart.answered"],
        ["--abandoned", "chart.abandoned"],
        ["--waiting", "chart.waiting"],
      ].map(([color, key]) => {
        const li = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = css(color);
        li.append(swatch, document.createTextNode(T[key]));
        return li;
      }),
    );
  }

  // the banner coming and going, or another window size: fit the chart and the table
  new ResizeObserver(() => {
    if (chart) chart.setSize(chartSize());
    if (board) renderAgents();
  }).observe($("#chart"));

  // --- header -----------------------------------------------------------------------------

  function names(list, ids) {
    const byId = new Map(list.map((item) => [item.id, item.name]));
    return ids.map((id) => byId.get(id) || `#${id}`).join(", ");
  }

  function renderFilters() {
    const f = config.filters;
    const parts = [];
    if (f.phone_number_ids) parts.push(fill(T["filter.numbers"], { names: names(config.phone_numbers, f.phone_number_ids) }));
    if (f.group_ids) parts.push(fill(T["filter.groups"], { names: names(config.groups, f.group_ids) }));
    $("#filters").textContent = parts.length ? parts.join(" · ") : T["filter.all"];
  }

  // --- settings dialog ----------------------------------------------------------------------

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === false || value === null || value === undefined) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    node.append(...children);
    return node;
  }

  function checkboxes(name, list, chosen) {
    return list.map((item) =>
      element(
        "label",
        { class: "check" },
        element("input", { type: "checkbox", name, value: item.id, checked: !chosen || chosen.includes(item.id) }),
        item.name,
      ),
    );
  }

  function number(name, value, min, max) {
    return element("input", { type: "number", name, value, min, max, step: 1, required: true });
  }

  function openSettings() {
    const dialog = $("#settings");
    const f = config.filters;
    const form = element(
      "form",
      { method: "dialog" },
      element("h2", {}, T["settings.title"]),
      element(
        "fieldset",
        {},
        element("legend", {}, T["settings.filters"]),
        element("p", {}, T["settings.numbers"]),
        ...checkboxes("number", config.phone_numbers, f.phone_number_ids),
        element("p", {}, T["settings.groups"]),
        ...checkboxes("group", config.groups, f.group_ids),
      ),
      element(
        "fieldset",
        {},
        element("legend", {}, T["settings.goal"]),
        element("label", {}, T["settings.target"], number("sl_target", f.sl_target, 1, 100)),
        element("label", {}, T["settings.threshold"], number("sl_threshold", f.sl_threshold, 0, 86400)),
      ),
      element(
        "fieldset",
        {},
        element("legend", {}, T["settings.colors"]),
        ...["longest_wait", "calls_waiting", "service_level"].map((key) =>
          element(
            "div",
            { class: "color-row" },
            element("span", {}, T[`settings.${key}`]),
            element("label", {}, T["settings.amber"], number(`${key}.amber`, colors[key].amber, 0, 86400)),
            element("label", {}, T["settings.red"], number(`${key}.red`, colors[key].red, 0, 86400)),
          ),
        ),
      ),
      element(
        "fieldset",
        {},
        element("legend", {}, T["settings.theme"]),
        element(
          "select",
          { name: "theme" },
          ...["auto", "light", "dark"].map((t) =>
            element("option", { value: t, selected: store.get("theme", "auto") === t }, T[`settings.theme_${t}`]),
          ),
        ),
      ),
      element(
        "menu",
        {},
        element("button", { value: "cancel", type: "submit" }, T["settings.cancel"]),
        element("button", { value: "apply", type: "submit", class: "primary" }, T["settings.apply"]),
      ),
    );
    dialog.replaceChildren(form);
    dialog.onclose = () => {
      if (dialog.returnValue !== "apply") return;
      const data = new FormData(form);
      const next = {};
      for (const key of Object.keys(defaultColors)) {
        next[key] = { amber: Number(data.get(`${key}.amber`)), red: Number(data.get(`${key}.red`)) };
      }
      colors = next;
      store.set("colors", colors);
      store.set("theme", data.get("theme"));
      const query = new URLSearchParams(location.search);
      query.delete("theme");
      const pick = (field, list, key) => {
        const ids = data.getAll(field).map(Number);
        if (ids.length === 0 || ids.length === list.length) query.delete(key);
        else query.set(key, ids.join(","));
      };
      pick("number", config.phone_numbers, "phone_number_ids");
      pick("group", config.groups, "group_ids");
      query.set("sl_target", data.get("sl_target"));
      query.set("sl_threshold", data.get("sl_threshold"));
      const search = `?${query}`;
      if (search !== location.search) {
        location.search = search; // a new address: bookmarkable, and a new stream
        return;
      }
      applyTheme();
      drawChart(true);
      if (board) render();
    };
    dialog.showModal();
  }
  $("#open-settings").addEventListener("click", openSettings);

  // --- rendering and the one-second tick ----------------------------------------------------

  function render() {
    renderTiles();
    renderAgents();
    $("#updated").textContent = fill(T["live.updated"], { time: timeOfDay(lastContact) });
  }

  setInterval(() => {
    showBanner();
    if (board && connected) {
      // times count on between updates; while the server is away they stand still
      const wait = longestWait();
      tile("longest_wait", wait, clock(wait), "", above(wait, colors.longest_wait));
      for (const tr of document.querySelectorAll("#agents tbody tr")) {
        const row = board.agents.table.find((r) => String(r.agent_id) === tr.dataset.agent);
        const time = row ? seconds(row) : null;
        tr.querySelector(".time").textContent = time === null ? "" : clock(time);
      }
    }
  }, 1000);
  setInterval(() => checkSession(false), SESSION_CHECK_MS);

  renderFilters();
  showBanner();
  connect();
})();
