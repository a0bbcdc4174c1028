"""Datasets: built-ins and imports stored as Arrow, paging, statistics, splits and reports.

service.py is what other domains call; handlers.py maps the wire calls onto it. Nothing here
imports torch.
"""
