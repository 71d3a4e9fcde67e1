// A poll never redraws a live region while a form inside it waits for its answer: the
// redraw would bring back, enabled, the button that request disabled (hx-disabled-elt),
// and a second click would send it again. The poll's answer is dropped, not its request:
// each form keeps its own request slot, so no click waits behind a poll, or is dropped
// with a form a poll redrew. Polling goes on; the form's answer triggers
// `swapadmin:changed`, and the next poll redraws the region as it is then. A last answer
// (HTTP 286: the job has ended, polling stops) is always drawn: htmx stops polling only
// when it swaps one, and the ended job's region has no cancel to bring back.
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
