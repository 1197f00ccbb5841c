"""The training archive: storage, commit records, index, views and baselines."""
