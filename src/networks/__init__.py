"""Plain ``nn.Module`` networks, usable and testable without Lightning."""
