"""The web chat widget: one script any partner site embeds with one tag, also used full-page
by the gateway's own chat page. Served by the gateway (/widget.js, /widget.css, /demo); it talks
to /api/chat and /api/chat/messages, so it needs no adapter of its own."""

from pathlib import Path

ASSETS = Path(__file__).parent / "static"
