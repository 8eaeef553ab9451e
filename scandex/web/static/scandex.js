// scandex serve, the page view: zoom, and stepping through the hits (buttons and keys).
// Hit boxes are SVG rectangles in the page's own pixels over the image; they scale with it.
"use strict";
(function () {
  const viewer = document.getElementById("viewer");
  const frame = document.getElementById("frame");
  const scroller = document.getElementById("scroller");
  if (!viewer) return;
  const boxes = Array.from(document.querySelectorAll("#frame rect.box"));
  const status = document.getElementById("hit-status");
  const ZOOM_STEP = 1.25, ZOOM_MIN = 0.25, ZOOM_MAX = 8;
  let zoom = 1; // relative to "fit"
  let current = -1;

  function fitWidth() {
    // The widest frame that shows the whole page in the scroller.
    const img = document.getElementById("page-image");
    const ratio = img.getAttribute("width") / img.getAttribute("height");
    const byHeight = (scroller.clientHeight - 4) * ratio;
    return Math.max(50, Math.min(scroller.clientWidth - 4, byHeight));
  }
  function applyZoom(keep) {
    if (!frame) return;
    const centre = keep && current >= 0 ? boxes[current] : null;
    frame.style.width = Math.round(fitWidth() * zoom) + "px";
    if (centre) show(centre);
  }
  function setZoom(value) {
    zoom = Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, value));
    applyZoom(true);
  }
  function show(box) {
    // Centre the hit in the scroller.
    const b = box.getBoundingClientRect(), s = scroller.getBoundingClientRect();
    scroller.scrollLeft += b.left + b.width / 2 - (s.left + s.width / 2);
    scroller.scrollTop += b.top + b.height / 2 - (s.top + s.height / 2);
  }
  function select(index) {
    if (!boxes.length) return;
    document.querySelectorAll(".current").forEach((el) => el.classList.remove("current"));
    current = index;
    const box = boxes[index];
    box.classList.add("current");
    show(box);
    const word = document.querySelector('.text mark[data-hit="' + index + '"]');
    if (word) {
      word.classList.add("current");
      word.scrollIntoView({ block: "nearest" });
    }
    status.textContent = "hit " + (index + 1) + " of " + boxes.length + " on this page";
  }
  function step(delta) {
    const next = current + delta;
    if (next >= 0 && next < boxes.length) return select(next);
    const page = viewer.dataset[delta > 0 ? "nextHitPage" : "previousHitPage"];
    if (page) window.location.href = page;
    else if (boxes.length) select(delta > 0 ? 0 : boxes.length - 1);
  }

  document.getElementById("zoom-in").addEventListener("click", () => setZoom(zoom * ZOOM_STEP));
  document.getElementById("zoom-out").addEventListener("click", () => setZoom(zoom / ZOOM_STEP));
  document.getElementById("zoom-fit").addEventListener("click", () => setZoom(1));
  document.getElementById("next-hit").addEventListener("click", () => step(1));
  document.getElementById("previous-hit").addEventListener("click", () => step(-1));
  document.querySelectorAll(".text mark[data-hit]").forEach((mark) =>
    mark.addEventListener("click", () => select(Number(mark.dataset.hit))));
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.target.closest("input, textarea, select")) return;
    const action = { n: () => step(1), p: () => step(-1), "+": () => setZoom(zoom * ZOOM_STEP),
      "=": () => setZoom(zoom * ZOOM_STEP), "-": () => setZoom(zoom / ZOOM_STEP),
      "0": () => setZoom(1) }[event.key];
    if (action) { action(); event.preventDefault(); }
  });
  window.addEventListener("resize", () => applyZoom(true));
  applyZoom(false);
  if (boxes.length) select(window.location.hash === "#last" ? boxes.length - 1 : 0);
})();
