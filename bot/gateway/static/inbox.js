// Live updates of the counsellor inbox. The server sends events (/inbox/events); this script
// fetches the part of the page that changed again: the queue table or the transcript.
(() => {
  "use strict";
  const queue = document.getElementById("queue");
  const transcript = document.getElementById("transcript");
  const parts = [queue, transcript].filter(Boolean);
  if (!parts.length || !window.EventSource) return;

  async function refresh(part) {
    const response = await fetch(part.dataset.src, { credentials: "same-origin" });
    if (response.status === 401) {
      window.location.reload(); // signed out: the page itself redirects to the login form
    } else if (response.ok) {
      part.innerHTML = await response.text(); // server-rendered and escaped
    }
  }

  const source = new EventSource("/inbox/events");
  let connected = false;
  source.addEventListener("open", () => {
    if (connected) parts.forEach(refresh); // events may have been missed while reconnecting
    connected = true;
  });
  source.addEventListener("queue", () => queue && refresh(queue));
  source.addEventListener("conversation", (event) => {
    const { handoffs } = JSON.parse(event.data);
    if (transcript && handoffs.includes(Number(transcript.dataset.handoff))) refresh(transcript);
  });
  source.addEventListener("error", () => {
    // A refused stream (401 after expiry) is not retried: find out why through a fragment.
    if (source.readyState === EventSource.CLOSED) refresh(parts[0]);
  });
})();
