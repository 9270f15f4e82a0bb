// Relais web chat widget. Embed with one tag on any page:
//   <script src="https://relais.example/widget.js" data-lang="fr" defer></script>
// data-mode="page" fills a <div id="relais-chat"> instead of showing a launcher button.
// Everything lives in a shadow root, so the host page's styles and ours never mix. Text is
// always inserted as text (links are built as elements), never as HTML.
(() => {
  const script = document.currentScript;
  const base = new URL(script.src).origin;
  const mode = script.dataset.mode === "page" ? "page" : "launcher";
  const STORE = "relais-sender-id";
  const OPEN = "relais-open";
  const POLL_MS = 3000;
  const URL_PATTERN = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)])/g;
  let lang = script.dataset.lang === "nl" ? "nl" : "fr";
  let texts = {};
  let lastId = 0;
  let sending = 0;
  let offline = false;

  const senderId = localStorage.getItem(STORE) || crypto.randomUUID().replace(/-/g, "");
  localStorage.setItem(STORE, senderId);

  const host = mode === "page" ? document.getElementById("relais-chat") : document.createElement("div");
  if (mode !== "page") document.body.appendChild(host);
  const root = host.attachShadow({ mode: "open" });

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value !== null && value !== undefined) node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  const style = el("link", { rel: "stylesheet", href: `${base}/widget.css` });
  const launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "relais-panel" });
  const title = el("h2", { class: "title", id: "relais-title" });
  const switcher = el("button", { class: "switch", type: "button" });
  const close = el("button", { class: "close", type: "button" }, "×");
  const banner = el("p", { class: "banner", role: "status", hidden: "" });
  const status = el("p", { class: "status", role: "status", hidden: "" });
  const log = el("ol", { class: "log", role: "log", "aria-live": "polite" });
  const typing = el("li", { class: "typing", hidden: "" }, el("span"), el("span"), el("span"));
  const label = el("label", { for: "relais-input", class: "visually-hidden" });
  const input = el("textarea", { id: "relais-input", rows: "2", required: "" });
  const send = el("button", { type: "submit", class: "send" });
  const form = el("form", { class: "form" }, label, input, send);
  const emergency = el("p", { class: "emergency" });
  const privacyText = el("span");
  const privacyLink = el("a", { href: `${base}/privacy?lang=${lang}`, target: "_blank", rel: "noopener" });
  const privacy = el("p", { class: "privacy" }, privacyText, " ", privacyLink);
  let retentionDays = 90;
  const panel = el(
    "section",
    { class: `panel panel--${mode}`, id: "relais-panel", role: mode === "page" ? "region" : "dialog", "aria-labelledby": "relais-title" },
    el("header", { class: "header" }, title, switcher, mode === "page" ? "" : close),
    privacy, banner, status, log, form, emergency,
  );
  log.append(typing);
  root.append(style, mode === "page" ? "" : launcher, panel);
  panel.hidden = mode !== "page";

  function applyTexts() {
    const t = texts[lang] || {};
    host.setAttribute("lang", lang);
    panel.setAttribute("lang", lang);
    title.textContent = t.heading || "Relais";
    launcher.textContent = t.launcher || "Relais";
    switcher.textContent = t.other_language || "";
    switcher.setAttribute("lang", lang === "fr" ? "nl" : "fr");
    close.setAttribute("aria-label", t.close || "×");
    banner.textContent = t.human_mode || "";
    label.textContent = t.input_label || "";
    input.placeholder = t.placeholder || "";
    send.textContent = t.send || "→";
    emergency.textContent = t.emergency_note || "";
    privacyText.textContent = (t.privacy_short || "").replace("{days}", String(retentionDays));
    privacyLink.textContent = t.privacy_link || "";
    privacyLink.href = `${base}/privacy?lang=${lang}`;
    log.setAttribute("aria-label", t.conversation_label || "");
    typing.setAttribute("aria-label", t.typing || "…");
  }

  function linkified(text) {
    // URLs become links (http and https only); everything else stays plain text.
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(URL_PATTERN)) {
      parts.push(text.slice(last, match.index));
      parts.push(el("a", { href: match[0], target: "_blank", rel: "noopener noreferrer" }, match[0]));
      last = match.index + match[0].length;
    }
    parts.push(text.slice(last));
    return parts;
  }

  function show(who, text, buttons) {
    const item = el("li", { class: `msg msg--${who}` });
    if (who === "counsellor") item.append(el("span", { class: "author" }, (texts[lang] || {}).counsellor_label || ""));
    item.append(...linkified(text));
    if (buttons && buttons.length) {
      const row = el("div", { class: "buttons" });
      for (const b of buttons) {
        const button = el("button", { type: "button" }, b.title);
        button.addEventListener("click", () => submit(b.payload, b.title));
        row.append(button);
      }
      item.append(row);
    }
    log.insertBefore(item, typing);
    item.scrollIntoView({ block: "end" });
  }

  function setMode(conversationMode) {
    banner.hidden = conversationMode !== "human";
  }

  function setOffline(value) {
    offline = value;
    status.hidden = !value;
    status.textContent = value ? (texts[lang] || {}).network_error || "" : "";
  }

  const WHO = { person: "user", bot: "bot", counsellor: "counsellor", system: "system" };

  async function fetchMessages(everything) {
    if (sending) return;
    try {
      const response = await fetch(`${base}/api/chat/messages?sender_id=${senderId}&after=${lastId}`);
      const data = await response.json();
      data.messages.forEach((m, i) => {
        // This page already shows what it sent and the answers that came with it.
        if (everything || m.author !== "person") {
          show(WHO[m.author], m.text, everything && i === data.messages.length - 1 ? m.buttons : null);
        }
        lastId = Math.max(lastId, m.id);
      });
      setMode(data.mode);
      setOffline(false);
    } catch (error) {
      setOffline(true);  // the next poll tries again; nothing is lost on the server
    }
  }

  async function post(text, clientId) {
    const response = await fetch(`${base}/api/chat`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender_id: senderId, text, language: lang, client_id: clientId }),
    });
    return response.json();
  }

  async function submit(text, shown) {
    show("user", shown ?? text);
    const clientId = crypto.randomUUID().replace(/-/g, "");
    sending += 1;
    typing.hidden = false;
    try {
      let data;
      for (let attempt = 0; ; attempt += 1) {
        try {
          data = await post(text, clientId);  // the same client id: a retry is never answered twice
          break;
        } catch (error) {
          setOffline(true);
          if (attempt >= 4) throw error;
          await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
        }
      }
      setOffline(false);
      if (data.messages) data.messages.forEach((m) => show("bot", m.text, m.buttons));
      else if (data.message) show("bot", typeof data.message === "string" ? data.message : Object.values(data.message).join("\n"));
      if (data.last_id) lastId = Math.max(lastId, data.last_id);
      if (data.mode) setMode(data.mode);
      return true;
    } catch (error) {
      return false;
    } finally {
      sending -= 1;
      typing.hidden = sending === 0;
    }
  }

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    sessionStorage.setItem(OPEN, open ? "1" : "");
    if (open) input.focus();
    else launcher.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const value = input.value;
    input.value = "";
    if (!(await submit(text))) input.value = value;  // keep what was typed when sending failed
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  launcher.addEventListener("click", () => setOpen(panel.hidden));
  close.addEventListener("click", () => setOpen(false));
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && mode !== "page") setOpen(false);
  });
  switcher.addEventListener("click", () => {
    lang = lang === "fr" ? "nl" : "fr";
    applyTexts();
    // Tell the bot too, so its answers follow the widget's language.
    fetch(`${base}/api/chat`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender_id: senderId, text: `/switch_language{"language_choice":"${lang}"}`, language: lang }),
    }).then((r) => r.json()).then((data) => {
      (data.messages || []).forEach((m) => show("bot", m.text, m.buttons));
      if (data.last_id) lastId = Math.max(lastId, data.last_id);
    }).catch(() => setOffline(true));
  });

  fetch(`${base}/api/widget/config`)
    .then((r) => r.json())
    .then((config) => {
      texts = config.texts;
      retentionDays = config.retention_days;
      input.setAttribute("maxlength", String(config.max_chars));
      applyTexts();
    })
    .catch(() => setOffline(true))
    .finally(() => {
      if (mode !== "page" && sessionStorage.getItem(OPEN)) setOpen(true);
      fetchMessages(true).then(() => setInterval(() => {
        if (document.visibilityState === "visible") fetchMessages(false);
      }, POLL_MS));
    });
})();
