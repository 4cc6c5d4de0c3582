"""Model actors and the supervisor: who runs which model-day, and when."""
