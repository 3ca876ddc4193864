// The iostack monitoring page: polls the monitor's JSON (`/stats`) once a second with the bearer
// token given in the form or in the address (`#token=...`), and shows it. No framework, no CDN.
(function () {
  "use strict";
  const statsUrl = document.querySelector('meta[name="iostack-stats"]').content;
  const $ = (id) => document.getElementById(id);
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem("iostack-monitor-token", fromHash);
    history.replaceState(null, "", location.pathname + location.search);
  }
  let token = sessionStorage.getItem("iostack-monitor-token") || "";
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("token").value;
    sessionStorage.setItem("iostack-monitor-token", token);
    refresh();
  });

  function row(cells) {
    const tr = document.createElement("tr");
    for (const cell of cells) {
      const td = document.createElement("td");
      td.textContent = cell;
      tr.appendChild(td);
    }
    return tr;
  }
  function fill(id, rows) {
    const body = $(id);
    body.replaceChildren(...rows.map(row));
  }
  function status(text, error) {
    $("status").textContent = text;
    $("status").className = error ? "error" : "";
  }

  function render(doc) {
    const connections = doc.connections || {};
    const sockets = connections.sockets || [];
    $("connections").textContent = connections.count;
    $("cluster-connections").textContent = connections.cluster_count ?? "?";
    $("dropped").textContent = doc.dropped_messages;
    $("slow-consumers").textContent = doc.slow_consumers_disconnected;
    $("adapter").textContent = doc.adapter;
    const events = doc.events || {};
    $("event-rate").textContent = events.rate_per_second_10s !== undefined ? Number(events.rate_per_second_10s).toFixed(2) : "–";
    $("events-total").textContent = events.total ?? "–";
    fill("sockets", sockets.map((s) => [
      s.connection,
      s.ns,
      s.peer || "",
      s.identity ? (s.identity.username || s.identity.id) : "",
      (s.rooms || []).join(", "),
      new Date(s.connected_at).toLocaleTimeString(),
    ]));
    const rooms = new Map();
    for (const s of sockets) {
      for (const r of s.rooms || []) {
        const key = s.ns + "\u0000" + r;
        rooms.set(key, (rooms.get(key) || 0) + 1);
      }
    }
    $("rooms-count").textContent = rooms.size;
    fill("rooms", [...rooms].sort().map(([key, n]) => [...key.split("\u0000"), n]));
    fill("events", (events.counts || []).map((e) => [e.event, e.count]));
    document.body.dataset.connections = String(connections.count);
  }

  async function refresh() {
    try {
      const res = await fetch(statsUrl, { headers: token ? { Authorization: "Bearer " + token } : {} });
      if (res.status === 401) return status("enter the monitoring token", true);
      if (!res.ok) return status("stats answered " + res.status, true);
      render(await res.json());
      status("updated " + new Date().toLocaleTimeString(), false);
    } catch (e) {
      status("cannot reach " + statsUrl + ": " + e.message, true);
    }
  }
  refresh();
  setInterval(refresh, 1000);
})();
