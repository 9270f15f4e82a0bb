"""Distress detection (levels none / moderate / high / critical) for every user message.

Plain Python plus spaCy and scikit-learn, both in the engine environment; the lexicons are
reviewed data files (lexicon.yml, sms.yml). See docs/safety.md.
"""

LEVELS = ("none", "moderate", "high", "critical")  # FORMAT.md's distress levels, in order
