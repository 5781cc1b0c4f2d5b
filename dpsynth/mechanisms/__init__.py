"""dpsynth.mechanisms."""
