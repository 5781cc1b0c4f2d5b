"""dpsynth.data."""
