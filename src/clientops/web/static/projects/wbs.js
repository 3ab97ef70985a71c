/* WBS editor: drag a row onto another to put it before that one (same parent). */
(function () {
  "use strict";
  const table = document.querySelector("table.wbs-tree");
  if (!table) return;
  const project = table.dataset.project;
  let dragged = null;
  function token() {
    const field = document.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }
  table.addEventListener("dragstart", (e) => {
    const row = e.target.closest("tr[data-id]");
    if (!row) return;
    dragged = row.dataset.id;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", dragged);
  });
  table.addEventListener("dragover", (e) => {
    if (dragged && e.target.closest("tr[data-id]")) e.preventDefault();
  });
  table.addEventListener("drop", async (e) => {
    const row = e.target.closest("tr[data-id]");
    if (!dragged || !row || row.dataset.id === dragged) return;
    e.preventDefault();
    const body = new URLSearchParams({ csrf_token: token(), before_id: row.dataset.id });
    await fetch(`/projects/${project}/tasks/${dragged}/reorder`, {
      method: "POST", credentials: "same-origin", body, redirect: "follow",
    });
    dragged = null;
    window.location.reload();
  });
})();
