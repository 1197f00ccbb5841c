"""Reports: view models of a run document rendered as markdown and HTML."""
