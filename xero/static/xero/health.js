// The health page, with script: a select-all box, and queued tests' results shown as they
// finish. Without script the page works the same, one tick and one reload at a time.
(() => {
  const table = document.getElementById("result_list");
  if (!table) return;

  const selectAll = document.getElementById("select-all");
  if (selectAll) {
    const boxes = () => [...table.querySelectorAll("input[name=sites]")];
    selectAll.hidden = false;
    selectAll.addEventListener("change", () => {
      for (const box of boxes()) box.checked = selectAll.checked;
    });
    table.addEventListener("change", (event) => {
      if (event.target.name !== "sites") return;
      const ticked = boxes().filter((box) => box.checked).length;
      selectAll.checked = ticked === boxes().length;
      selectAll.indeterminate = ticked > 0 && ticked < boxes().length;
    });
  }

  const url = table.dataset.statusUrl;
  const every = Number(table.dataset.pollSeconds) * 1000;
  const poll = async () => {
    const queued = [...table.querySelectorAll("tr[data-queued]")];
    if (queued.length === 0) return;
    const query = new URLSearchParams();
    for (const row of queued) query.append("site", row.dataset.site);
    try {
      const response = await fetch(`${url}?${query}`, { headers: { Accept: "application/json" } });
      if (response.ok) {
        for (const site of (await response.json()).sites) {
          const row = table.querySelector(`tr[data-site="${site.id}"]`);
          if (!row) continue;
          // Rendered and escaped by the server, from the template the page itself uses.
          row.querySelector(".xero-last-test").innerHTML = site.last_test_html;
          if (!site.queued) row.removeAttribute("data-queued");
        }
      }
    } catch {
      // Offline for a moment: the next round asks again.
    }
    setTimeout(poll, every);
  };
  setTimeout(poll, every);
})();
