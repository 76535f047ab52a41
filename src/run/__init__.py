"""What a run folder holds and how a run continues: its status markers, its settings, resume."""
