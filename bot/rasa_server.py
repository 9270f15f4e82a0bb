"""`python -m bot.rasa_server run ...`: Rasa's own command line, with one measured fix.

Rasa 3.6 validates every action server response with `jsonschema.validate`, which checks the
schema itself again on every call; under load that was 65 % of the Rasa server's CPU (py-spy,
`make bench`). Here the same validation runs with a validator built once per schema. The
responses are checked against the same schema, with the same errors raised.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import jsonschema


def _cached_validate(instance: Any, schema: dict, cls: Any = None, *args: Any, **kwargs: Any):
    key = json.dumps(schema, sort_keys=True, default=str)
    validator = _VALIDATORS.get(key)
    if validator is None:
        cls = cls or jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = _VALIDATORS[key] = cls(schema, *args, **kwargs)
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


_VALIDATORS: dict[str, Any] = {}


def main() -> None:
    jsonschema.validate = _cached_validate
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
