// Web chat: sends the person's messages to /api/chat and shows the answers; fetches what a
// counsellor writes, and the whole conversation again after a reload (/api/chat/messages).
// Text is always inserted with textContent, never as HTML.
(() => {
  const root = document.getElementById("chat");
  const log = document.getElementById("log");
  const form = document.getElementById("form");
  const input = document.getElementById("input");
  const banner = document.getElementById("human-banner");
  const lang = root.dataset.lang;
  const key = "relais-sender-id";
  const POLL_MS = 3000;
  let senderId = localStorage.getItem(key);
  if (!senderId) {
    senderId = crypto.randomUUID().replace(/-/g, "");
    localStorage.setItem(key, senderId);
  }
  let lastId = 0;
  let sending = 0;  // no polling while a message is on its way: its answers come with it

  function show(who, text, buttons) {
    const item = document.createElement("li");
    item.className = `msg msg--${who}`;
    if (who === "counsellor") {
      const label = document.createElement("span");
      label.className = "msg__author";
      label.textContent = root.dataset.counsellor;
      item.appendChild(label);
    }
    item.appendChild(document.createTextNode(text));
    if (buttons && buttons.length) {
      const row = document.createElement("div");
      row.className = "msg__buttons";
      for (const b of buttons) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = b.title;
        button.addEventListener("click", () => send(b.payload, b.title));
        row.appendChild(button);
      }
      item.appendChild(row);
    }
    log.appendChild(item);
    item.scrollIntoView({ block: "end" });
  }

  function setMode(mode) {
    banner.hidden = mode !== "human";
  }

  const WHO = { person: "user", bot: "bot", counsellor: "counsellor", system: "system" };

  async function fetchMessages(everything) {
    if (sending) return;
    try {
      const url = `/api/chat/messages?sender_id=${senderId}&after=${lastId}`;
      const data = await (await fetch(url)).json();
      for (const m of data.messages) {
        // This page already shows what it sent; answers that came later (a counsellor, the bot
        // answering once the engine is back) are new.
        if (everything || m.author !== "person") {
          show(WHO[m.author], m.text, everything && m === data.messages.at(-1) ? m.buttons : null);
        }
        lastId = Math.max(lastId, m.id);
      }
      setMode(data.mode);
    } catch (error) {
      // offline for a moment: the next poll catches up, nothing is lost on the server
    }
  }

  async function send(text, shown) {
    show("user", shown ?? text);
    const clientId = crypto.randomUUID().replace(/-/g, "");
    sending += 1;
    try {
      const response = await fetch("/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender_id: senderId, text, language: lang, client_id: clientId }),
      });
      const data = await response.json();
      if (data.messages) data.messages.forEach((m) => show("bot", m.text, m.buttons));
      else if (data.message) show("bot", typeof data.message === "string" ? data.message : Object.values(data.message).join("\n"));
      if (data.last_id) lastId = Math.max(lastId, data.last_id);
      if (data.mode) setMode(data.mode);
      return true;
    } catch (error) {
      show("bot", root.dataset.networkError);
      return false;
    } finally {
      sending -= 1;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const value = input.value;
    input.value = "";
    if (!(await send(text))) input.value = value;  // keep what was typed when sending failed
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  document.getElementById("switch").addEventListener("click", () => {
    // Tell the bot too, so its answers follow the page's language.
    navigator.sendBeacon?.("/api/chat", new Blob([JSON.stringify({
      sender_id: senderId, text: `/switch_language{"language_choice":"${document.getElementById("switch").dataset.target}"}`,
      language: document.getElementById("switch").dataset.target,
    })], { type: "application/json" }));
  });

  fetchMessages(true).then(() => setInterval(() => fetchMessages(false), POLL_MS));
})();
