"""The mask analysis (issue 14). Its registration, ANALYSIS = Analysis(...), is added once the issue-12 registry
(analyzer/core/registry.py) lands; until then use compute.compute(run, params) directly."""
