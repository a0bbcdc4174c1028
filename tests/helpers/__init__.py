"""What several test modules share: a real engine, the CLI, Pilot waits, tiny models and data."""
