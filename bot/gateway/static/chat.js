// Minimal web chat: sends the person's messages to /api/chat and shows the bot's answers.
// Text is always inserted with textContent, never as HTML.
(() => {
  const root = document.getElementById("chat");
  const log = document.getElementById("log");
  const form = document.getElementById("form");
  const input = document.getElementById("input");
  const lang = root.dataset.lang;
  const key = "relais-sender-id";
  let senderId = localStorage.getItem(key);
  if (!senderId) {
    senderId = crypto.randomUUID().replace(/-/g, "");
    localStorage.setItem(key, senderId);
  }

  function show(who, text, buttons) {
    const item = document.createElement("li");
    item.className = `msg msg--${who}`;
    item.textContent = text;
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

  async function send(text, shown) {
    show("user", shown ?? text);
    try {
      const response = await fetch("/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender_id: senderId, text, language: lang }),
      });
      const data = await response.json();
      if (data.messages) data.messages.forEach((m) => show("bot", m.text, m.buttons));
      else if (data.message) show("bot", typeof data.message === "string" ? data.message : Object.values(data.message).join("\n"));
      return true;
    } catch (error) {
      show("bot", root.dataset.networkError);
      return false;
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
})();
