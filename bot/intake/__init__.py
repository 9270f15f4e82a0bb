"""What the intake understands in free text: sector, workers, commune, needs, urgency.

Plain Python shared by the NLU component (engine) and the actions; the lexicons are data files.
"""
