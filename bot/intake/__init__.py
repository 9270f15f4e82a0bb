"""What the intake understands in free text: sector, workers, commune, needs, urgency.

Plain Python shared by the NLU component (engine) and the actions; the lexicons are data files.
"""

# The key of the custom message in which the actions send the profile to the gateway with the
# bot's answers (actions/profile_slots.py, bot/gateway/profile.py).
PROFILE_MESSAGE = "relais_profile"
