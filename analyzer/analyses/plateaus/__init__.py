"""Loss plateaus: change points of log10(loss) on a log-step axis, and Alvarez & Choe's slope-threshold method."""

from analyzer.analyses.plateaus.compare import tables
from analyzer.analyses.plateaus.compute import compute, detect_plateaus, edge_agreement
from analyzer.analyses.plateaus.params import PlateauParams
from analyzer.analyses.plateaus.result import PlateauResult
from analyzer.analyses.plateaus.section import section
from analyzer.core.registry import Analysis, Compare, Hooks, Tags

ANALYSIS = Analysis(
    name="plateaus", params=PlateauParams, result=PlateauResult, compute=compute, version="6",
    summary="plateaus and change points of log10(loss) on a log-step axis",
    section=section, tags=Tags(reads="log"),
    hooks=Hooks(in_report=True, report_aliases=(("penalty", "penalty"),), compare=Compare(tables=tables, order=2)),
)

__all__ = ["ANALYSIS", "PlateauParams", "PlateauResult", "detect_plateaus", "edge_agreement"]
