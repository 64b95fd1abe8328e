// Scale, baby, scale! - shows how long the page took, so a learner sees the queue build up
window.addEventListener("load", () => {
  const t = performance.getEntriesByType("navigation")[0];
  if (t) document.body.insertAdjacentHTML("beforeend", `<p class="source">page in ${Math.round(t.duration)} ms</p>`);
});
