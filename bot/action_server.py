"""The action server as the launcher starts it: rasa_sdk's own, with what the actions load left
out of Python's full garbage collections.

The `actions` package reads what the actions need when it is imported (actions/__init__.py),
and all of it lives as long as the server. Under `make bench` each full collection went through
it, 50–103 ms every ~10 s at full load, and found nothing to collect, while every message waited
for three or four action calls. `gc.freeze` moves it to a generation the collector skips, as
bot/rasa_server.py does for Rasa's model.
"""

from __future__ import annotations

import gc

from rasa_sdk.__main__ import main as rasa_sdk_main


def load_and_freeze_the_actions() -> None:
    import actions  # noqa: F401 (reads the catalogue, the wordings, the domain's responses)

    gc.collect()  # the loading's garbage is not kept
    gc.freeze()


def main() -> None:
    load_and_freeze_the_actions()
    rasa_sdk_main()  # its arguments: --actions actions --port ...


if __name__ == "__main__":
    main()
