// A poll never redraws a live region while a form inside it waits for its answer: the
// redraw would bring back, enabled, the button that request disabled (hx-disabled-elt),
// and a second click would send it again. The poll's answer is dropped, not its request:
// each form keeps its own request slot, so no click waits behind a poll, or is dropped
// with a form a poll redrew. Polling goes on, and the region is redrawn once the answer
// is in. A last answer (HTTP 286: the job has ended, polling stops) is always drawn: htmx
// stops polling only when it swaps one, and the ended job's region has no cancel to bring
// back.
document.addEventListener("htmx:beforeSwap", (event) => {
  const region = event.detail.elt;
  if (
    region.id === "live" &&
    event.detail.xhr.status !== 286 &&
    region.querySelector("form.htmx-request")
  ) {
    event.detail.shouldSwap = false;
  }
});

// An answer whose target was replaced while it was on its way (two cancels at once: the
// second's message replaced #flash, which the first had taken as its target) goes to the
// element that has the target's id now, not to one no longer on the page. htmx takes the
// target from this event's detail when it swaps; it fires htmx:beforeSwap on the old one.
document.addEventListener("htmx:beforeOnLoad", (event) => {
  const target = event.detail.target;
  if (target && !target.isConnected && target.id) {
    const now = document.getElementById(target.id);
    if (now) event.detail.target = now;
  }
});
