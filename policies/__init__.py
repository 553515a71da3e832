"""Decisions and their evaluation: choose a profile, calibrate to a target, simulate offline."""
