"""The gating core: config, summary, pure gating, verdict text and the run document.

No I/O beyond reading the two input files, and no import of any shell (archive, report,
plugin, cli)."""
