"""What the Lightning Trainer is given beyond its arguments: profiler, checkpoint IO, device placement."""
