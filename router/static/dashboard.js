// thinkgate dashboard: reads the savings JSON (embedded, or fetched from /v1/savings) and draws
// inline SVG. No libraries, no network access beyond the gateway's own savings endpoint.
(function () {
  "use strict";

  function readJSON(id) {
    var el = document.getElementById(id);
    if (!el) return null;
    var text = el.textContent.trim();
    if (!text || text === "null") return null;
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  var config = readJSON("thinkgate-config") || {};
  var embedded = readJSON("savings-data");
  var statusEl = document.getElementById("status");

  function lookup(data, path) {
    return path.split("/").reduce(function (obj, key) {
      return obj == null ? undefined : obj[decodeURIComponent(key)];
    }, data);
  }

  function fmt(value, kind) {
    if (value === null || value === undefined) return "–";
    if (kind === "percent") return (value * 100).toFixed(1) + "%";
    // Already a percentage, rounded once by the gateway (policies.savings): shown as it is.
    if (kind === "pct") return value.toFixed(1) + "%";
    if (kind === "ms") return value.toFixed(1) + " ms";
    if (kind === "money") return "$" + value.toLocaleString("en-US", { maximumSignificantDigits: 6 });
    if (kind === "int") return Math.round(value).toLocaleString("en-US");
    return String(value);
  }

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function setStatus(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
  }

  function empty(width, height, message) {
    return '<svg viewBox="0 0 ' + width + " " + height + '"><text class="empty" x="' + width / 2 +
      '" y="' + height / 2 + '" text-anchor="middle">' + esc(message) + "</text></svg>";
  }

  // Horizontal bars, one per [label, value]; every bar carries its label and value as data.
  function bars(id, entries, color) {
    var el = document.getElementById(id);
    var width = 420, row = 26, left = 120, right = 70;
    if (!entries.length) { el.innerHTML = empty(width, 60, "no data yet"); return; }
    var max = Math.max.apply(null, entries.map(function (e) { return e[1]; }).concat([1e-9]));
    var height = entries.length * row + 6;
    var parts = ['<svg viewBox="0 0 ' + width + " " + height + '" role="img">'];
    entries.forEach(function (entry, i) {
      var w = Math.max(0, (width - left - right) * entry[1] / max);
      var y = i * row + 4;
      parts.push('<text x="' + (left - 6) + '" y="' + (y + 15) + '" text-anchor="end">' + esc(entry[0]) + "</text>");
      parts.push('<rect x="' + left + '" y="' + y + '" width="' + w.toFixed(1) + '" height="' + (row - 8) +
        '" fill="' + color + '" data-label="' + esc(entry[0]) + '" data-value="' + entry[1] + '"></rect>');
      parts.push('<text x="' + (left + w + 6).toFixed(1) + '" y="' + (y + 15) + '">' + esc(fmt(entry[1], "int")) + "</text>");
    });
    parts.push("</svg>");
    el.innerHTML = parts.join("");
  }

  // The chosen window: [from, to] in epoch seconds and the bucket width to ask for. "all" is
  // what the ledger keeps, ending at the latest record; the others end now (or at "to").
  var WINDOW_BUCKET = { "3600": 60, "86400": 900, "604800": 3600 };
  function chosenWindow(series) {
    var choice = document.getElementById("window").value;
    var now = Date.now() / 1000;
    if (choice === "range") {
      var from = Date.parse(document.getElementById("range-from").value + "Z") / 1000;
      var to = Date.parse(document.getElementById("range-to").value + "Z") / 1000;
      if (isFinite(from) && isFinite(to) && to > from) {
        var span = to - from;
        return { from: from, to: to, bucket: span <= 7200 ? 60 : span <= 172800 ? 900 : 3600 };
      }
      choice = "all";
    }
    if (choice !== "all") return { from: now - Number(choice), to: now, bucket: WINDOW_BUCKET[choice] };
    var bucket = (lastData && lastData.bucket_seconds) || 60;
    if (!series.length) return { from: now - 3600, to: now, bucket: bucket };
    return { from: series[0].t, to: series[series.length - 1].t + bucket, bucket: bucket };
  }

  function inWindow(series, win) {
    return series.filter(function (b) { return b.t + 1e-9 >= win.from - win.bucket && b.t < win.to; });
  }

  // Time ticks: five evenly spaced instants, labelled to the minute (or the day for long spans).
  function timeLabel(t, span) {
    var iso = new Date(t * 1000).toISOString();
    return span > 172800 ? iso.slice(5, 10) + " " + iso.slice(11, 16) : iso.slice(11, 16);
  }

  // Lines over a real time axis: x is the bucket's start time within the window, not its index.
  var TOKEN_LINES = [
    ["completion_tokens", "var(--spent)"],
    ["reference_estimate", "var(--reference)"],
    ["saved_estimate", "var(--saved)"]
  ];
  var MECHANISM_LINES = [
    ["saved_routing", "var(--saved)"],
    ["saved_early_exit", "var(--spent)"],
    ["saved_sampling", "var(--reference)"]
  ];

  function seriesChart(id, series, win, lines) {
    var el = document.getElementById(id);
    var width = 900, height = 250, left = 64, right = 16, top = 12, bottom = 34;
    if (!series.length) { el.innerHTML = empty(width, 120, "no requests in this window"); return; }
    var max = 1;
    series.forEach(function (b) { lines.forEach(function (l) { max = Math.max(max, b[l[0]] || 0); }); });
    var min = 0;
    series.forEach(function (b) { lines.forEach(function (l) { min = Math.min(min, b[l[0]] || 0); }); });
    var span = Math.max(win.to - win.from, 1);
    function x(t) { return left + (width - left - right) * Math.min(Math.max((t - win.from) / span, 0), 1); }
    // Negative savings (probes that never cut a stream) go below the zero line.
    function y(v) { return top + (height - top - bottom) * (max - v) / (max - min); }
    var parts = ['<svg viewBox="0 0 ' + width + " " + height + '" role="img" data-from="' + win.from +
      '" data-to="' + win.to + '">'];
    [0, 0.5, 1].forEach(function (f) {
      var v = max * f;
      parts.push('<line x1="' + left + '" x2="' + (width - right) + '" y1="' + y(v) + '" y2="' + y(v) + '" stroke="#e3e7ec"></line>');
      parts.push('<text x="' + (left - 6) + '" y="' + (y(v) + 4) + '" text-anchor="end">' + esc(fmt(v, "int")) + "</text>");
    });
    for (var k = 0; k <= 4; k++) {
      var t = win.from + span * k / 4;
      parts.push('<line class="tick" x1="' + x(t) + '" x2="' + x(t) + '" y1="' + (height - bottom) + '" y2="' +
        (height - bottom + 5) + '" stroke="#9aa5b1" data-tick="' + t + '"></line>');
      parts.push('<text x="' + x(t) + '" y="' + (height - 10) + '" text-anchor="' + (k === 0 ? "start" : k === 4 ? "end" : "middle") +
        '">' + esc(timeLabel(t, span)) + (k === 4 ? " UTC" : "") + "</text>");
    }
    lines.forEach(function (line) {
      var pts = series.map(function (b) { return x(b.t).toFixed(1) + "," + y(b[line[0]]).toFixed(1); });
      parts.push('<polyline fill="none" stroke-width="2" stroke="' + line[1] + '" points="' + pts.join(" ") + '"></polyline>');
      series.forEach(function (b) {
        parts.push('<circle r="3" fill="' + line[1] + '" cx="' + x(b.t).toFixed(1) + '" cy="' + y(b[line[0]]).toFixed(1) +
          '" data-series="' + line[0] + '" data-t="' + b.t + '" data-value="' + b[line[0]] + '"></circle>');
      });
    });
    parts.push("</svg>");
    el.innerHTML = parts.join("");
  }

  // The numbers of the chart as CSV (one row per bucket, then the window's total).
  var CSV_COLUMNS = ["requests", "completion_tokens", "reference_estimate", "saved_estimate",
    "saved_routing", "saved_early_exit", "saved_sampling", "cost", "saved_cost"];
  function csv(series) {
    var rows = [["bucket_start_utc"].concat(CSV_COLUMNS).join(",")];
    var total = CSV_COLUMNS.map(function () { return 0; });
    series.forEach(function (b) {
      rows.push([new Date(b.t * 1000).toISOString()].concat(CSV_COLUMNS.map(function (c, i) {
        total[i] += b[c] || 0; return b[c] || 0;
      })).join(","));
    });
    rows.push(["total"].concat(total.map(function (v, i) {
      var digits = CSV_COLUMNS[i].indexOf("cost") >= 0 ? 1e9 : 1e3;
      return Math.round(v * digits) / digits;
    })).join(","));
    return rows.join("\n") + "\n";
  }

  function tables(data) {
    var profiles = Object.keys(data.by_profile || {}).sort();
    document.querySelector("#profiles-table tbody").innerHTML = profiles.map(function (p) {
      var key = "by_profile/" + encodeURIComponent(p) + "/";
      return '<tr data-profile="' + esc(p) + '"><td>' + esc(p) + "</td>" +
        ["requests", "prompt_tokens", "completion_tokens"].map(function (m) {
          return '<td data-metric="' + key + m + '" data-format="int">–</td>';
        }).join("") + "</tr>";
    }).join("");
    var pct = function (v) { return (100 * v).toFixed(2) + "%"; };
    document.querySelector("#calibration-table tbody").innerHTML =
      (data.early_exit_calibration || []).map(function (c) {
        return '<tr data-calibration="' + esc(c.model + "/" + c.family) + '"><td>' + esc(c.model) +
          "</td><td>" + esc(c.family) + "</td><td>" + c.sample_size + " / " + c.streams_needed +
          "</td><td>" + (c.threshold === null ? "none yet" : c.threshold.toFixed(4)) + "</td><td>" +
          pct(c.changed_rate) + "</td><td>" + pct(c.changed_rate_bound) + "</td><td>" +
          pct(c.max_changed_answers) + "</td><td>" + c.shadow_tokens_forgone + "</td></tr>";
      }).join("");
    var levels = Object.keys(data.difficulty || {});
    document.querySelector("#difficulty-table tbody").innerHTML = levels.map(function (d) {
      return '<tr data-difficulty="' + esc(d) + '"><td>' + esc(d) + '</td><td data-metric="difficulty/' +
        encodeURIComponent(d) + '" data-format="int">–</td></tr>';
    }).join("");
  }

  var KEY_COLUMNS = [["requests", "int"], ["prompt_tokens", "int"], ["completion_tokens", "int"],
    ["saved_estimate", "int"], ["saved_percent", "pct"], ["cost", "money"], ["saved_cost", "money"]];

  function keyTable(data) {
    var keys = Object.keys(data.by_key || {}).sort();
    document.querySelector("#keys-table tbody").innerHTML = keys.map(function (k) {
      var path = "by_key/" + encodeURIComponent(k) + "/";
      return '<tr data-key="' + esc(k) + '"><td>' + esc(k) + "</td>" +
        KEY_COLUMNS.map(function (c) {
          return '<td data-metric="' + path + c[0] + '" data-format="' + c[1] + '">–</td>';
        }).join("") + "</tr>";
    }).join("");
    document.getElementById("keys-empty").hidden = keys.length > 0;
  }

  function render(data) {
    tables(data);
    keyTable(data);
    document.querySelectorAll("[data-metric]").forEach(function (el) {
      var value = lookup(data, el.dataset.metric);
      el.dataset.value = value === null || value === undefined ? "" : String(value);
      el.textContent = fmt(value, el.dataset.format);
    });
    var saved = data.saved_by || {};
    bars("chart-saved-by", [["routing", saved.routing || 0], ["early exit", saved.early_exit || 0],
      ["adaptive sampling", saved.sampling || 0]], "var(--saved)");
    bars("chart-profiles", Object.keys(data.by_profile || {}).sort().map(function (p) {
      return [p, data.by_profile[p].requests];
    }), "var(--bar)");
    bars("chart-difficulty", Object.keys(data.difficulty || {}).map(function (d) {
      return [d, data.difficulty[d]];
    }), "var(--bar)");
    lastData = data;
    drawSeries();
    document.body.dataset.loaded = "true";
  }

  var lastData = null;
  function drawSeries() {
    var series = (lastData && lastData.series) || [];
    var win = chosenWindow(series);
    shown = inWindow(series, win);
    seriesChart("chart-series", shown, win, TOKEN_LINES);
    seriesChart("chart-mechanisms", shown, win, MECHANISM_LINES);
  }
  var shown = [];

  // A key may come in the URL fragment (#key=...), which browsers never send to the server.
  function keyFromFragment() {
    var match = /(?:^#|&)key=([^&]+)/.exec(window.location.hash);
    if (!match) return false;
    try { sessionStorage.setItem("thinkgate-key", decodeURIComponent(match[1])); } catch (e) { /* private mode */ }
    history.replaceState(null, "", window.location.pathname + window.location.search);
    return true;
  }
  keyFromFragment();

  function key() { try { return sessionStorage.getItem("thinkgate-key"); } catch (e) { return null; } }

  var timer = null;
  function load() {
    var needsKey = false;
    var headers = { Accept: "application/json" };
    if (key()) headers.Authorization = "Bearer " + key();
    var bucket = chosenWindow([]).bucket;
    var url = (config.savings_url || "v1/savings") + "?bucket_seconds=" + bucket;
    fetch(url, { headers: headers, cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) {
          document.getElementById("auth").hidden = false;
          needsKey = true;
          throw new Error("an API key is needed");
        }
        if (!response.ok) throw new Error("savings endpoint answered " + response.status);
        return response.json();
      })
      .then(function (data) {
        render(data);
        setStatus("ok", "live, refreshed " + new Date().toISOString().slice(11, 19) + " UTC");
      })
      .catch(function (error) { setStatus("error", String(error.message || error)); })
      .then(function () {
        // Waiting for a key: the form's submit starts loading again.
        clearTimeout(timer);
        if (config.refresh_seconds > 0 && !needsKey) timer = setTimeout(load, config.refresh_seconds * 1000);
      });
  }

  document.getElementById("auth").addEventListener("submit", function (event) {
    event.preventDefault();
    try { sessionStorage.setItem("thinkgate-key", document.getElementById("auth-key").value); } catch (e) { /* private mode */ }
    document.getElementById("auth").hidden = true;
    load();
  });

  window.addEventListener("hashchange", function () {
    if (!embedded && keyFromFragment()) {
      document.getElementById("auth").hidden = true;
      load();
    }
  });

  document.getElementById("window").addEventListener("change", function () {
    document.getElementById("range").hidden = this.value !== "range";
    if (embedded) drawSeries(); else load();
  });
  ["range-from", "range-to"].forEach(function (id) {
    document.getElementById(id).addEventListener("change", function () {
      if (embedded) drawSeries(); else load();
    });
  });
  document.getElementById("export-csv").addEventListener("click", function () {
    var link = document.createElement("a");
    link.href = "data:text/csv;charset=utf-8," + encodeURIComponent(csv(shown));
    link.download = "thinkgate-savings.csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
  });
  window.thinkgateCSV = function () { return csv(shown); };

  if (embedded) {
    render(embedded);
    setStatus("ok", "report generated " + (config.generated || ""));
  } else {
    load();
  }
})();
