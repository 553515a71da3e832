"""The difficulty model: prompt text -> per-profile success probability and token cost."""
