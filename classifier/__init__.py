"""complaint-triage: route a customer complaint to the departments that must act on it."""

__version__ = "0.1.0"
