"""Fuzzing the command line and the file reader with seeded random inputs.

``CECLI_FUZZ=long`` runs the long profile, ``CECLI_FUZZ_SEED`` fixes the seed (printed with
every failure), and ``python -m tests.fuzz`` runs a campaign that groups failures by class.
"""
