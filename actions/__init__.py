"""Rasa SDK custom actions. Thin: the logic lives in bot/ and is tested there.

The action server imports this package before it listens, so what the actions read on first use
is read here (~0.5 s on this machine): the catalogue with its compiled names, its wording and
the summary's, and the domain's responses. Otherwise the first person's first recommendation
or handoff after each start waited for it.
"""

from actions.profile_slots import domain_responses
from bot.catalog import catalog
from bot.catalog import wording as catalog_wording
from bot.catalog.names import find_named
from bot.summary import t as summary_wording

catalog()
find_named("")
catalog_wording.text.data  # noqa: B018 (a cached property: reading it loads the file)
summary_wording.data  # noqa: B018
domain_responses()
