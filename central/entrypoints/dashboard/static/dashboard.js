// speedledger dashboard: live sections, sortable tables, confirmations. No framework, no other origin.
"use strict";

(function () {
  const live = Array.from(document.querySelectorAll("[data-live]"));

  async function refresh(section) {
    const response = await fetch(section.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (response.redirected || response.status === 401 || response.status === 403) {
      window.location.reload(); // the session ended: the page itself shows why
      return;
    }
    if (response.ok) {
      section.innerHTML = await response.text(); // server-rendered and escaped, like the page
      section.dataset.refreshedAt = String(Date.now());
    }
  }

  const pending = new Map();
  function soon(section) {
    if (!pending.has(section)) {
      pending.set(section, setTimeout(() => { pending.delete(section); refresh(section).catch(() => {}); }, 150));
    }
  }

  for (const section of live) {
    const seconds = Number(section.dataset.pollS || 0);
    if (seconds > 0) setInterval(() => soon(section), seconds * 1000);
  }

  const onEvents = live.filter((section) => "events" in section.dataset);
  if (onEvents.length && "EventSource" in window) {
    // Start from the head: the page was rendered with everything up to now.
    const source = new EventSource("/live/events?after=" + encodeURIComponent(document.body.dataset.head || "0"));
    source.onmessage = () => onEvents.forEach(soon);
  }

  // Sortable tables: each header's button sorts the rows by that column (again: the other way).
  for (const table of document.querySelectorAll("table.sortable")) {
    const headers = Array.from(table.tHead.rows[0].cells);
    headers.forEach((header, index) => {
      const button = header.querySelector("button");
      if (!button) return;
      button.addEventListener("click", () => {
        const ascending = header.getAttribute("aria-sort") !== "ascending";
        headers.forEach((other) => other.removeAttribute("aria-sort"));
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const numeric = header.dataset.sortType === "number";
        const body = table.tBodies[0];
        const key = (row) => {
          const cell = row.cells[index];
          const text = cell.dataset.sort ?? cell.textContent.trim();
          return numeric ? Number(text) : text.toLowerCase();
        };
        const rows = Array.from(body.rows).sort((a, b) => {
          const [x, y] = [key(a), key(b)];
          return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
        });
        rows.forEach((row) => body.appendChild(row));
      });
    });
  }

  // Forms that destroy or end something ask first.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
})();
