"""The files a run leaves in its folder, written by the run and read by the report and the next run:
status markers, provenance, settings, figure data."""
